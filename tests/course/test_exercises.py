"""exercises/ is exactly what scripts/make_exercises.py writes from solutions/, and an
unanswered exercise never passes: every check in a freshly generated exercise notebook, graded
in a fresh kernel, reports "Not yet" and lets no error escape."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from repo_scripts import load_script

from deepfm_lite.course.progress import CHECK_CALL, grade_notebook

pytestmark = pytest.mark.kernels  # some of them grade notebooks in Jupyter kernels

ROOT = Path(__file__).resolve().parents[2]
make_exercises = load_script("scripts/make_exercises.py")

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_at_least_seven_exercises():
    assert len(SOLUTIONS) >= 7, [p.name for p in SOLUTIONS]


def test_exercises_are_what_the_script_writes():
    differing = make_exercises.differing_files()
    assert not differing, ("exercises/ is out of date; run `python scripts/make_exercises.py`:\n"
                           + "\n".join(differing))


# ---- the generator itself ---------------------------------------------------------------------

SOURCE = """def f(x):
    y = 1
    ### BEGIN SOLUTION
    return x + y
    ### END SOLUTION

for i in range(2):
        ### BEGIN SOLUTION
        print(i)
        ### END SOLUTION
### BEGIN SOLUTION
z = 3
### END SOLUTION"""


def test_blocks_become_placeholders_at_their_indentation():
    stripped, blocks = make_exercises.strip_solutions(SOURCE, "cell")
    assert blocks == 3
    assert stripped == """def f(x):
    y = 1
    # YOUR CODE HERE
    raise NotImplementedError()

for i in range(2):
        # YOUR CODE HERE
        raise NotImplementedError()
# YOUR CODE HERE
raise NotImplementedError()"""


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside the block"),
])
def test_unpaired_markers_are_named(source, message):
    with pytest.raises(make_exercises.SolutionFormatError, match=message):
        make_exercises.strip_solutions(source, "nb.ipynb, cell 3")


def _solution_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"),
                      nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n"
                                                "    ### END SOLUTION")]
    notebook.cells[0]["id"], notebook.cells[1]["id"] = "title", "answer"
    answer = notebook.cells[1]
    answer.execution_count = 4
    answer.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00"}
    answer.metadata["tags"] = ["keep-me"]
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    return notebook


def test_exercise_keeps_ids_and_metadata_and_clears_outputs():
    solution = _solution_notebook()
    exercise = make_exercises.exercise_notebook(solution, "99_test.ipynb")
    assert [c.id for c in exercise.cells] == ["title", "answer"]
    assert exercise.metadata == solution.metadata
    answer = exercise.cells[1]
    assert answer.outputs == [] and answer.execution_count is None
    assert answer.metadata == {"tags": ["keep-me"]}
    assert "return 1" not in answer.source and "raise NotImplementedError()" in answer.source
    assert solution.cells[1].outputs, "the solution notebook must not be modified"
    first = make_exercises.render(exercise)
    again = make_exercises.render(make_exercises.exercise_notebook(solution, "99_test.ipynb"))
    assert first == again and first.endswith("\n")


def test_markers_outside_code_or_no_blocks_are_refused():
    notebook = _solution_notebook()
    notebook.cells[0].source = "### BEGIN SOLUTION"
    with pytest.raises(make_exercises.SolutionFormatError, match="code cells only"):
        make_exercises.exercise_notebook(notebook, "99_test.ipynb")
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(make_exercises.SolutionFormatError, match="nothing to exercise"):
        make_exercises.exercise_notebook(plain, "99_test.ipynb")


@pytest.fixture
def demo_course(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A course in tmp_path with one solution, 01_demo; make_exercises pointed at it."""
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nbformat.write(_solution_notebook(), solutions / "01_demo.ipynb")
    monkeypatch.setattr(make_exercises, "ROOT", tmp_path)
    monkeypatch.setattr(make_exercises, "SOLUTIONS", solutions)
    monkeypatch.setattr(make_exercises, "EXERCISES", exercises)
    return solutions, exercises


def test_check_mode_reports_a_stale_exercise(demo_course, capsys):
    _, exercises = demo_course
    assert make_exercises.main(["--check"]) == 1
    assert "exercises/01_demo.ipynb (missing)" in capsys.readouterr().out
    assert make_exercises.main([]) == 0
    assert make_exercises.main(["--check"]) == 0
    # A learner's run notebook is kept unless --force.
    ran = nbformat.read(exercises / "01_demo.ipynb", as_version=4)
    ran.cells[1].execution_count = 1
    nbformat.write(ran, exercises / "01_demo.ipynb")
    assert make_exercises.main(["--only", "01"]) == 0
    assert make_exercises.main(["--check"]) == 1
    assert make_exercises.main(["--only", "01", "--force"]) == 0
    assert make_exercises.main(["--check"]) == 0


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_a_learners_saved_answers_never_count_as_out_of_date(demo_course, tmp_path):
    """The up-to-date check reads the committed exercise, so filling one in keeps it green."""
    solutions, exercises = demo_course
    assert make_exercises.main([]) == 0
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "course")
    # The learner answers the exercise, runs it and saves it.
    learner = nbformat.read(exercises / "01_demo.ipynb", as_version=4)
    learner.cells[1].source = "def f():\n    return 1"
    learner.cells[1].execution_count = 3
    nbformat.write(learner, exercises / "01_demo.ipynb")
    assert make_exercises.differing_files() == []
    assert make_exercises.main(["--check"]) == 0
    # Regenerating keeps the learner's work (it has been run) ...
    assert make_exercises.main([]) == 0
    assert "return 1" in (exercises / "01_demo.ipynb").read_text()
    # ... and a solution changed without regenerating is still reported.
    changed = _solution_notebook()
    changed.cells[0].source = "# A new title"
    nbformat.write(changed, solutions / "01_demo.ipynb")
    assert make_exercises.differing_files() == [
        "exercises/01_demo.ipynb (differs from what solutions/ gives)"]


def test_solution_only_cells_are_left_out_of_the_exercise():
    solution = _solution_notebook()
    banner = nbformat.v4.new_markdown_cell("> **Worked solution.**")
    banner["id"], banner.metadata["tags"] = "banner", [make_exercises.SOLUTION_ONLY]
    solution.cells.insert(1, banner)
    exercise = make_exercises.exercise_notebook(solution, "99_test.ipynb")
    assert [c.id for c in exercise.cells] == ["title", "answer"]


def test_every_solution_is_marked_as_the_worked_answer():
    for path in SOLUTIONS:
        notebook = nbformat.read(path, as_version=4)
        banners = [c for c in notebook.cells
                   if make_exercises.SOLUTION_ONLY in c.metadata.get("tags", [])]
        assert banners and "Worked solution" in banners[0].source, path.name


def test_the_test_command_never_runs_a_learners_exercises(pytestconfig):
    assert "exercises" not in pytestconfig.getini("testpaths")


# ---- every generated exercise: its checks say "not yet" ---------------------------------------


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_unanswered_exercise_never_passes_a_check(solution, tmp_path):
    """The freshly generated exercise, graded as ``python -m deepfm_lite progress`` grades a
    learner's notebook (a fresh kernel, from its own folder): every check cell runs and says
    "Not yet" with its own message, no error escapes a check, and the reason the exercise is
    not done is the first check's, so no cell before it failed."""
    exercises, solutions = tmp_path / "exercises", tmp_path / "solutions"
    exercises.mkdir()
    solutions.mkdir()
    shutil.copy(solution, solutions)  # the grader reads which cells hold answers from it
    text = make_exercises.expected_exercises(solution.name[:2])[
        make_exercises.EXERCISES / solution.name]
    (exercises / solution.name).write_text(text, encoding="utf-8")
    check_cells = [c for c in nbformat.reads(text, as_version=4).cells
                   if c.cell_type == "code" and CHECK_CALL in c.source]
    assert check_cells, f"{solution.name} calls no check"

    grade = grade_notebook(exercises / solution.name)

    assert not grade.passed, f"an unanswered exercise passed: {grade}"
    assert len(grade.checks) == len(check_cells), grade.checks  # every check ran
    for verdict in grade.checks:
        # A check that raised, or showed no verdict, is named "the check in cell N".
        assert verdict.check.startswith("check_"), verdict
        assert not verdict.passed and verdict.message, verdict
    first = grade.checks[0]
    assert grade.reason == f"{first.check}: {first.message}", grade.reason
