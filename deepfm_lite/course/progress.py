"""Grade the exercise notebooks: ``python -m deepfm_lite progress``.

Each exercise notebook runs top to bottom in a fresh kernel, from its own folder, the way a
learner runs it; the notebook file itself is never written. The verdict of every check cell
(``feedback = checks.check_...(...)``) is read from the line it shows, which starts with
``✅`` or with ``Not yet`` (see :mod:`deepfm_lite.course.checks`).

Cells that come after an unanswered or failing exercise use the learner's code, so they would
only fail again with a knock-on error (an ``IndexError`` three cells later says nothing new).
Once an answer is found not written yet (a cell raises the placeholder's
``NotImplementedError``), a check says "Not yet", or a cell fails, the grader runs only the
cells that hold the learner's answers and the check cells after them; the rest are skipped.
The reason reported is the first check that said "Not yet" or the first cell that failed,
whichever came first; an answer left unwritten is the reason only when no check after it said
so. Which cells hold answers is read from the solution notebook of the same name (the cells
with ``### BEGIN SOLUTION``), found in the ``solutions/`` folder beside ``exercises/``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .checks import NOT_YET, PASS_MARK

CELL_TIMEOUT_S = 600  # the longest cell of an exercise trains a few models: about a minute
SOLUTION_MARKER = "### BEGIN SOLUTION"
CHECK_CALL = "checks.check_"


@dataclass
class CheckVerdict:
    """What one check cell showed: the check's name, pass or not, and its message."""

    check: str
    passed: bool
    message: str


@dataclass
class ExerciseGrade:
    """The grade of one exercise notebook."""

    notebook: str
    passed: bool
    reason: str = ""
    checks: list[CheckVerdict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def answer_cell_ids(exercise: Path) -> set[str]:
    """Ids of the cells that hold the learner's answers, read from the matching solution."""
    solution = exercise.resolve().parent.parent / "solutions" / exercise.name
    if not solution.exists():
        return set()
    notebook = nbformat.read(solution, as_version=4)
    return {cell.get("id", "") for cell in notebook.cells
            if cell.cell_type == "code" and SOLUTION_MARKER in cell.source}


def _shown_lines(cell) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            lines += output.text.splitlines()
        elif output.output_type in ("display_data", "execute_result"):
            lines += output.get("data", {}).get("text/plain", "").splitlines()
    return lines


def _error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            message = " ".join(str(output.evalue).split())
            return f"{output.ename}: {message}" if message else output.ename
    return None


def _verdict(cell, index: int) -> CheckVerdict:
    """The verdict a check cell showed (a check never raises; an edited cell may)."""
    for line in _shown_lines(cell):
        if line.startswith(PASS_MARK):
            name, _, message = line[len(PASS_MARK):].strip().partition(" passed: ")
            return CheckVerdict(name, True, message)
        if line.startswith(NOT_YET):
            head, _, message = line.partition("): ")
            return CheckVerdict(head[len(NOT_YET):].strip(" ("), False, message)
    error = _error(cell)
    where = f"the check in cell {index}"
    if error:
        return CheckVerdict(where, False, f"{where} raised {error}")
    return CheckVerdict(where, False, f"{where} showed no verdict; run it as it was given "
                                      "(`feedback = checks.check_...(...)`)")


def _unwritten(index: int, is_answer: bool) -> str:
    """The reason for a cell that raised the exercise's ``NotImplementedError`` placeholder."""
    if is_answer:
        return f"cell {index} is not written yet (it raises NotImplementedError)"
    return f"cell {index} raised NotImplementedError: an answer it uses is not written yet"


def grade_notebook(path: Path | str, timeout: int = CELL_TIMEOUT_S) -> ExerciseGrade:
    """Run one exercise notebook in a fresh kernel (without saving it) and grade it."""
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    answers = answer_cell_ids(path)
    # shutdown_kernel="immediate": the kernel is stopped at once instead of being asked to
    # finish (about a second per notebook); it holds nothing the grader needs.
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    grade = ExerciseGrade(path.stem, passed=True)
    stopped_by = ""  # the first reason the exercise is not done; later cells are skipped
    unwritten = ""  # the first cell that raised the placeholder's NotImplementedError
    previous = os.environ.get("DEEPFM_LITE_PROGRESS")
    os.environ["DEEPFM_LITE_PROGRESS"] = "0"  # no progress bars in the kernel's output
    try:
        # The kernel's own stderr holds only its start-up notices; cells report through Jupyter.
        with client.setup_kernel(stderr=subprocess.DEVNULL):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                is_check = CHECK_CALL in cell.source
                is_answer = cell.get("id", "") in answers
                if (stopped_by or unwritten) and not (is_check or is_answer):
                    continue
                client.execute_cell(cell, index)
                if is_check:
                    verdict = _verdict(cell, index)
                    grade.checks.append(verdict)
                    if not verdict.passed and not stopped_by:
                        stopped_by = f"{verdict.check}: {verdict.message}"
                    continue
                error = _error(cell)
                if error and error.startswith("NotImplementedError"):  # a placeholder ran
                    unwritten = unwritten or _unwritten(index, is_answer)
                elif error and not stopped_by:
                    stopped_by = f"cell {index} raised {error}"
    finally:
        if previous is None:
            os.environ.pop("DEEPFM_LITE_PROGRESS", None)
        else:
            os.environ["DEEPFM_LITE_PROGRESS"] = previous
    stopped_by = stopped_by or unwritten or ("" if grade.checks else "the notebook calls no check")
    grade.passed = not stopped_by
    grade.reason = stopped_by
    return grade


def exercise_paths(folder: Path | str = "exercises") -> list[Path]:
    """The exercise notebooks of ``folder``, in course order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: run from the top of the repository or "
                                "name the exercise notebooks to grade")
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no exercise notebooks (NN_name.ipynb) in {folder}")
    return paths


def format_grades(grades: list[ExerciseGrade]) -> str:
    """One line per exercise, then the count: what ``progress`` prints."""
    width = max(len(grade.notebook) for grade in grades)
    lines = []
    for grade in grades:
        status = "passed " if grade.passed else "not yet"
        line = f"{grade.notebook:<{width}}  {status}"
        lines.append(line + (f"  {grade.reason}" if grade.reason else ""))
    done = sum(grade.passed for grade in grades)
    lines.append(f"{done} of {len(grades)} exercises passed")
    return "\n".join(lines)


def grades_json(grades: list[ExerciseGrade]) -> str:
    return json.dumps([grade.as_dict() for grade in grades], ensure_ascii=False, indent=1)


__all__ = ["CheckVerdict", "ExerciseGrade", "exercise_paths", "format_grades", "grade_notebook",
           "grades_json"]
