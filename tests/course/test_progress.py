"""The grading command: ``python -m deepfm_lite progress`` (deepfm_lite.course.progress).

Each test grades small exercise notebooks in a temporary course folder (``exercises/`` and its
``solutions/``), in real kernels: an unanswered exercise is "not yet" with the check's own
hint and no knock-on error from the cells after it; a filled-in one passes; a failing cell
after a passing check is named; the graded notebook is never written. A kernel costs a few
seconds, so each scenario is graded once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from deepfm_lite.cli import main
from deepfm_lite.course.progress import (
    ExerciseGrade,
    exercise_paths,
    format_grades,
    grade_notebook,
)

pytestmark = pytest.mark.kernels  # most of them grade notebooks in Jupyter kernels

ROOT = Path(__file__).resolve().parents[2]

IMPORTS = "import torch\nfrom deepfm_lite.course import checks"
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
MARK = 'open("marked.txt", "w").close()'  # leaves a mark when run


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


def test_the_real_exercise_01_filled_in_passes(tmp_path):
    # Unanswered, every exercise is graded "not yet" in tests/course/test_exercises.py.
    for folder in ("exercises", "solutions"):
        (tmp_path / folder).mkdir()
        shutil.copy(ROOT / "solutions" / "01_logloss_auc.ipynb", tmp_path / folder)
    # A learner who filled it in (here: the worked answers) and saved it.
    answered = grade_notebook(tmp_path / "exercises" / "01_logloss_auc.ipynb")
    assert answered.passed, answered.reason
    assert [v.check for v in answered.checks] == ["check_logloss", "check_auc"]
    unanswered = ExerciseGrade("00_other", passed=False, reason="check_x: not written yet")
    table = format_grades([unanswered, answered])
    assert "00_other        not yet  check_x: not written yet" in table
    assert "01_logloss_auc  passed" in table and "1 of 2 exercises passed" in table


def test_cli_grades_unanswered_then_filled_in(course, capsys, monkeypatch):
    # The answer is used before its check: unanswered, that cell raises NotImplementedError,
    # which is not the reason, and the cell after it is skipped.
    path = _exercise(course, IMPORTS, UNANSWERED, USE, MARK, CHECK)
    before = path.read_bytes()
    assert main(["progress", str(path)]) == 1
    out = capsys.readouterr().out
    assert "09_pairs  not yet  check_inner_product: " in out and "not written yet" in out
    assert out.rstrip().endswith("0 of 1 exercises passed")
    assert (course / "exercises" / "used.txt").exists(), "the cell using the answer did not run"
    assert not (course / "exercises" / "marked.txt").exists(), "a cell after it ran"
    assert path.read_bytes() == before, "the grader wrote the learner's notebook"

    answered = ANSWER.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION", "")
    _exercise(course, IMPORTS, answered, CHECK, USE)
    monkeypatch.chdir(course)  # the default: exercises/ of the current folder
    assert main(["progress", "--json"]) == 0
    [grade] = json.loads(capsys.readouterr().out)
    assert grade["passed"] and grade["checks"][0]["check"] == "check_inner_product"
    assert "row-major" in grade["checks"][0]["message"]
    assert (course / "exercises" / "used.txt").exists(), "the answered notebook ran to its end"


def test_an_unwritten_answer_without_a_check_is_the_reason(course):
    path = _exercise(course, IMPORTS, UNANSWERED, USE)
    grade = grade_notebook(path)
    assert not grade.passed and not grade.checks
    assert grade.reason == ("cell 3 raised NotImplementedError: an answer it uses is not "
                            "written yet")


def test_cli_progress_without_exercises_names_the_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["progress"]) == 2
    assert "no folder exercises" in capsys.readouterr().err
    assert main(["progress", "missing.ipynb"]) == 2
    assert "no notebook missing.ipynb" in capsys.readouterr().err


def test_exercise_paths_lists_the_course_exercises():
    names = [p.name for p in exercise_paths(ROOT / "exercises")]
    assert names == sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
