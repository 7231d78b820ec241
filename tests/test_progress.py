"""The grading command: ``python -m deepfm_lite progress`` (deepfm_lite.progress).

Each test grades small exercise notebooks in a temporary course folder (``exercises/`` and its
``solutions/``), in real kernels: an unanswered exercise is "not yet" with the check's own
hint and no knock-on error from the cells after it; a filled-in one passes; a failing cell
after a passing check is named; the graded notebook is never written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from deepfm_lite.cli import main
from deepfm_lite.progress import exercise_paths, format_grades, grade_notebook

ROOT = Path(__file__).resolve().parents[1]

IMPORTS = "import torch\nfrom deepfm_lite import checks"
ANSWER = """def inner_products(embeddings):
    ### BEGIN SOLUTION
    rows, cols = torch.triu_indices(embeddings.shape[1], embeddings.shape[1], offset=1)
    return (embeddings[:, rows] * embeddings[:, cols]).sum(dim=-1)
    ### END SOLUTION"""
UNANSWERED = """def inner_products(embeddings):
    # YOUR CODE HERE
    raise NotImplementedError()"""
CHECK = "feedback = checks.check_inner_product(inner_products)"
# Uses the answer: unanswered, it would fail with a knock-on error. It leaves a mark when run.
USE = """open("used.txt", "w").close()
pairs = inner_products(torch.randn(2, 4, 3))
assert pairs.shape == (2, 6)"""


def _notebook(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# Exercise 9")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # the same ids in the solution and the exercise
    return notebook


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder with the solution of exercise 09; tests write the exercise itself."""
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    solution = _notebook(IMPORTS, ANSWER, CHECK, USE)
    nbformat.write(solution, tmp_path / "solutions" / "09_pairs.ipynb")
    return tmp_path


def _exercise(course: Path, *sources: str) -> Path:
    path = course / "exercises" / "09_pairs.ipynb"
    nbformat.write(_notebook(*sources), path)
    return path


def test_unanswered_exercise_is_not_yet_with_the_checks_hint_and_no_knock_on(course):
    path = _exercise(course, IMPORTS, UNANSWERED, CHECK, USE)
    before = path.read_bytes()
    grade = grade_notebook(path)
    assert not grade.passed
    assert grade.reason.startswith("check_inner_product: ")
    assert "not written yet" in grade.reason
    assert [v.check for v in grade.checks] == ["check_inner_product"]
    assert not (course / "exercises" / "used.txt").exists(), "a cell after the check ran"
    assert path.read_bytes() == before, "the grader wrote the learner's notebook"


def test_filled_in_exercise_passes_and_runs_to_the_end(course):
    answered = ANSWER.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION", "")
    path = _exercise(course, IMPORTS, answered, CHECK, USE)
    grade = grade_notebook(path)
    assert grade.passed, grade.reason
    assert grade.checks[0].passed and "row-major" in grade.checks[0].message
    assert (course / "exercises" / "used.txt").exists()


def test_a_wrong_answer_reports_the_checks_hint(course):
    wrong = ANSWER.replace("offset=1", "offset=0")  # keeps the i = j pairs
    path = _exercise(course, IMPORTS, wrong, CHECK, USE)
    grade = grade_notebook(path)
    assert not grade.passed and "i = j" in grade.reason, grade.reason


def test_a_failing_cell_after_a_passing_check_is_named(course):
    failing_use = USE.replace("(2, 6)", "(2, 7)")
    path = _exercise(course, IMPORTS, ANSWER, CHECK, failing_use)
    grade = grade_notebook(path)
    assert grade.checks[0].passed
    assert not grade.passed and grade.reason.startswith("cell 4 raised AssertionError")


def test_an_error_before_any_check_is_the_reason(course):
    path = _exercise(course, "import no_such_module_anywhere", ANSWER, CHECK, USE)
    grade = grade_notebook(path)
    assert not grade.passed
    assert grade.reason.startswith("cell 1 raised ModuleNotFoundError"), grade.reason


def test_the_real_exercise_01_unanswered_and_answered(tmp_path):
    for folder in ("exercises", "solutions"):
        (tmp_path / folder).mkdir()
        shutil.copy(ROOT / folder / "01_logloss_auc.ipynb", tmp_path / folder)
    unanswered = grade_notebook(tmp_path / "exercises" / "01_logloss_auc.ipynb")
    assert not unanswered.passed and unanswered.reason.startswith("check_logloss: ")
    assert [v.passed for v in unanswered.checks] == [False, False]  # both checks still ran
    # A learner who filled it in (here: the worked answers) and saved it.
    shutil.copy(ROOT / "solutions" / "01_logloss_auc.ipynb", tmp_path / "exercises")
    answered = grade_notebook(tmp_path / "exercises" / "01_logloss_auc.ipynb")
    assert answered.passed, answered.reason
    assert [v.check for v in answered.checks] == ["check_logloss", "check_auc"]
    table = format_grades([unanswered, answered])
    assert "not yet  check_logloss: " in table and "1 of 2 exercises passed" in table


def test_cli_progress_exit_codes_and_lines(course, capsys, monkeypatch):
    path = _exercise(course, IMPORTS, UNANSWERED, CHECK, USE)
    assert main(["progress", str(path)]) == 1
    out = capsys.readouterr().out
    assert "09_pairs  not yet  check_inner_product: " in out
    assert out.rstrip().endswith("0 of 1 exercises passed")
    _exercise(course, IMPORTS, ANSWER, CHECK, USE)
    monkeypatch.chdir(course)  # the default: exercises/ of the current folder
    assert main(["progress", "--json"]) == 0
    assert '"passed": true' in capsys.readouterr().out


def test_cli_progress_without_exercises_names_the_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["progress"]) == 2
    assert "no folder exercises" in capsys.readouterr().err
    assert main(["progress", "missing.ipynb"]) == 2
    assert "no notebook missing.ipynb" in capsys.readouterr().err


def test_exercise_paths_lists_the_course_exercises():
    names = [p.name for p in exercise_paths(ROOT / "exercises")]
    assert names == sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
