"""Structure of the course notebooks (their outputs are checked by nbval itself)."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["00_course_map", "01_ctr_basics", "02_fm_math", "03_embeddings", "04_deep_part",
            "05_deepfm", "06_experiments", "07_hyperparameters", "08_review"]


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
