"""Structure of the course notebooks (their outputs are checked by nbval itself)."""

import re
from pathlib import Path

import nbformat
import pytest
from repo_scripts import load_script

from deepfm_lite.course.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
EXPECTED = ["00_course_map", "01_ctr_basics", "02_fm_math", "03_embeddings", "04_deep_part",
            "05_deepfm", "06_experiments", "07_hyperparameters", "08_review", "09_full_criteo"]


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_course_notebooks_are_all_there():
    present = [p.stem for p in NOTEBOOKS]
    missing = [name for name in EXPECTED if name not in present]
    assert not missing, f"notebooks missing: {missing}"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", name) for name in present)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_a_quiz(path):
    first = _code_cells(path)[0].source
    assert "quiz.ask(" in first, f"{path.name}: the first code cell must ask a quiz"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asserts_its_claims(path):
    assert any(re.search(r"^\s*assert\b", c.source, re.M) for c in _code_cells(path)), \
        f"{path.name} holds no assertion"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_saved_with_outputs_and_no_errors_or_warnings(path):
    cells = _code_cells(path)
    assert all(c.execution_count is not None for c in cells), f"{path.name} was not executed"
    for cell in cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name} saved an error: {cell.source[:60]}"
            if output.output_type == "stream":
                assert output.name != "stderr", \
                    f"{path.name} saved stderr output: {output.text[:120]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_no_absolute_paths(path):
    for cell in nbformat.read(path, as_version=4).cells:
        assert not re.search(r"['\"](/work|/home|/root|/tmp|[A-Z]:\\\\)", cell.source), \
            f"{path.name} uses an absolute path: {cell.source[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_are_followed_by_an_assertion(path):
    cells = _code_cells(path)
    for index, cell in enumerate(cells):
        if cell.source.lstrip().startswith("# NBVAL_IGNORE_OUTPUT"):
            following = cells[index + 1].source if index + 1 < len(cells) else ""
            assert "assert" in following or "assert" in cell.source, \
                f"{path.name}: ignored cell not followed by an assertion: {cell.source[:60]}"


# ---- opening a notebook must not modify it ------------------------------------------------------
# JupyterLab writes the running kernel's spec and language into a notebook's metadata when it
# opens it; a saved notebook that already carries exactly those opens unmodified (no autosave
# rewriting a tracked file). Every notebook of the course is saved with the same ones.

EVERY_NOTEBOOK = sorted(p for folder in ("notebooks", "solutions", "exercises")
                        for p in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"))


def _kernel_metadata(path: Path) -> tuple[dict, dict]:
    metadata = nbformat.read(path, as_version=4).metadata
    return dict(metadata.get("kernelspec", {})), dict(metadata.get("language_info", {}))


def test_every_notebook_carries_the_same_kernelspec_and_language_info():
    first_spec, first_language = _kernel_metadata(EVERY_NOTEBOOK[0])
    for path in EVERY_NOTEBOOK[1:]:
        spec, language = _kernel_metadata(path)
        where = path.relative_to(ROOT)
        assert spec == first_spec, f"{where}: kernelspec {spec} != {first_spec}"
        assert language == first_language, f"{where}: language_info {language} != {first_language}"


def test_kernelspec_is_the_one_jupyterlab_writes():
    from jupyter_client.kernelspec import KernelSpecManager

    installed = KernelSpecManager().get_kernel_spec("python3")
    spec, language = _kernel_metadata(EVERY_NOTEBOOK[0])
    assert spec == {"name": "python3", "display_name": installed.display_name,
                    "language": installed.language}
    assert language.get("name") == "python"


def test_run_notebooks_time_prints_a_table_and_saves_nothing(tmp_path, capsys):
    run_notebooks = load_script("scripts/run_notebooks.py")
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]),
                   path)
    before = path.read_bytes()
    assert run_notebooks.main(["--time", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| notebook | seconds")
    assert re.fullmatch(r"\| `01_tiny` \| \d+\.\d \|", lines[2]), lines
    assert path.read_bytes() == before


@pytest.mark.parametrize("path", [*NOTEBOOKS, *course_notebooks(ROOT / "solutions")],
                         ids=lambda path: f"{path.parent.name}/{path.name}")
def test_saved_outputs_hold_no_widget_a_reopened_notebook_cannot_draw(path):
    notebook = nbformat.read(path, as_version=4)
    widgets = [index for index, cell in enumerate(notebook.cells)
               for output in cell.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert not widgets and "widgets" not in notebook.metadata, widgets


def test_saving_keeps_a_widgets_plain_text_stand_in():
    run_notebooks = load_script("scripts/run_notebooks.py")
    cell = nbformat.v4.new_code_cell("quiz.ask('00.x')", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/plain": "(Answer buttons appear here.)",
                              run_notebooks.WIDGET_VIEW: {"model_id": "abc"}})])
    notebook = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    assert run_notebooks.drop_widget_views(notebook) == 1
    assert notebook.cells[0].outputs[0].data == {"text/plain": "(Answer buttons appear here.)"}
    assert "widgets" not in notebook.metadata
