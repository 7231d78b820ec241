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

import pytest
from progress_helpers import (
    ANSWER,
    ANSWERED,
    CHECK,
    IMPORTS,
    MARK,
    UNANSWERED,
    USE,
    WRONG,
    make_course,
    write_notebook,
)

from deepfm_lite.cli import main
from deepfm_lite.course.progress import (
    ExerciseGrade,
    exercise_paths,
    format_grades,
    grade_notebook,
)

pytestmark = pytest.mark.kernels  # most of them grade notebooks in Jupyter kernels

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder with the solution of exercise 09; tests write the exercise itself."""
    return make_course(tmp_path)


def _exercise(course: Path, *sources: str) -> Path:
    return write_notebook(course / "exercises" / "09_pairs.ipynb", *sources)


def test_a_wrong_answer_reports_the_checks_hint(course):
    path = _exercise(course, IMPORTS, WRONG, CHECK, USE)
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
    monkeypatch.chdir(course)  # the learner's own exercises/: graded in place, no sandbox
    monkeypatch.setenv("COLUMNS", "100")
    path = _exercise(course, IMPORTS, UNANSWERED, USE, MARK, CHECK)
    before = path.read_bytes()
    assert main(["progress", str(path)]) == 1
    out = capsys.readouterr().out
    # For a terminal: one line per exercise, no Markdown backticks, the long "how to start"
    # instructions once under the table rather than in every line.
    assert "09_pairs  not yet  check_inner_product: your function inner_products is not " \
           "written yet.\n" in out
    assert "`" not in out and out.count("YOUR CODE HERE") == 1
    assert "0 of 1 exercises passed" in out and "Submissions" not in out
    assert (course / "exercises" / "used.txt").exists(), "the cell using the answer did not run"
    assert not (course / "exercises" / "marked.txt").exists(), "a cell after it ran"
    assert path.read_bytes() == before, "the grader wrote the learner's notebook"

    _exercise(course, IMPORTS, ANSWERED, CHECK, USE)
    assert main(["progress", "--json"]) == 0  # the default: exercises/ of the current folder
    [grade] = json.loads(capsys.readouterr().out)
    assert grade["passed"] and grade["checks"][0]["check"] == "check_inner_product"
    assert "row-major" in grade["checks"][0]["message"]
    assert (course / "exercises" / "used.txt").exists(), "the answered notebook ran to its end"


def test_an_unwritten_answer_without_a_check_is_the_reason(course):
    # The check cell is gone: the check the solution calls is reported as never run, but the
    # first problem, the answer not written, stays the reason.
    path = _exercise(course, IMPORTS, UNANSWERED, USE)
    grade = grade_notebook(path)
    assert not grade.passed
    assert grade.reason == ("cell 3 raised NotImplementedError: an answer it uses is not "
                            "written yet")
    [missing] = grade.checks
    assert missing.check == "check_inner_product" and not missing.passed
    assert missing.message.startswith("did not run: its check cell is missing or was changed")


def test_cli_progress_without_exercises_names_the_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["progress"]) == 2
    assert "no folder exercises" in capsys.readouterr().err
    assert main(["progress", "missing.ipynb"]) == 2
    assert "no notebook missing.ipynb" in capsys.readouterr().err
    assert main(["progress", "--submissions", "class/alice"]) == 2
    assert "--submissions: no folder class/alice" in capsys.readouterr().err
    assert main(["progress", "--memory-limit", "lots"]) == 2
    assert "--memory-limit: not a size: 'lots'" in capsys.readouterr().err


def test_exercise_paths_lists_the_course_exercises():
    names = [p.name for p in exercise_paths(ROOT / "exercises")]
    assert names == sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
