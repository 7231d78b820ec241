"""Grade the exercise notebooks: ``python -m deepfm_lite progress``.

Each exercise notebook runs top to bottom in a fresh kernel, from its own folder, the way a
learner runs it; the notebook file itself is never written. Before its first cell the grader
imports the checks in the kernel, so that the cells' time limit is spent on the learner's code.

Verdicts: a check cell (``feedback = checks.check_...(...)``) is graded by the check's recorded
result, which a cell of the grader's own reads from the kernel and sends in a message the
notebook's printed output cannot fake; every check of the exercise must have run. The design
and its limits are in :mod:`deepfm_lite.course.grading.channel`.

Cells that come after an unanswered or failing exercise use the learner's code, so they would
only fail again with a knock-on error (an ``IndexError`` three cells later says nothing new).
Once an answer is found not written yet (a cell raises the placeholder's
``NotImplementedError``), a check says "Not yet", or a cell fails, the grader runs only the
cells that hold the learner's answers and the check cells after them; the rest are skipped.
The reason reported is the first check that said "Not yet" or the first cell that failed,
whichever came first; an answer left unwritten is the reason only when nothing after it
failed. Which cells hold answers, and which checks must run, is read from the solution
notebook of the same name (the cells with ``### BEGIN SOLUTION``), found in the ``solutions/``
folder beside the notebook's folder, or else in ``solutions/`` of the current folder.

One notebook's failure is that notebook's grade, and the others are graded normally: a cell
past the time limit ("timed out in cell N after T s"; its kernel is stopped), a kernel that
dies ("the kernel died in cell N"), a file that is not a notebook ("not a notebook: NAME:
why"), a kernel that does not start. Notebooks that are not the learner's own (``progress
--submissions DIR``, or any notebook outside ``exercises/``) run from a temporary copy under
the limits of :mod:`deepfm_lite.course.grading.sandbox`. The output:
:mod:`deepfm_lite.course.grading.report`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .grading.channel import (
    SETUP_SOURCE,
    check_verdict,
    checks_called,
    new_token,
    reader_source,
    recorded_results,
)
from .grading.report import CheckVerdict, ExerciseGrade, format_grades, grades_json
from .grading.sandbox import Sandbox, SandboxKernelManager, working_folder
from .notebooks import course_notebooks

CELL_TIMEOUT_S = 600  # the longest cell of an exercise trains a few models: about a minute
SETUP_TIMEOUT_S = 300  # starting to import the checks (PyTorch) on a busy machine
SOLUTION_MARKER = "### BEGIN SOLUTION"
CHECK_CALL = "checks.check_"

QUIET = logging.getLogger(__name__)  # nbclient's and jupyter_client's notices, silenced
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


class NotANotebook(ValueError):
    """A file given as a notebook that is not one; the text says why."""


class CouldNotGrade(RuntimeError):
    """The notebook could not be run (its kernel did not start, ...); the text says why."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, or :class:`NotANotebook` saying why it is not one."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise NotANotebook(f"it cannot be read ({error.strerror or error})") from None
    if not data.strip():
        raise NotANotebook("the file is empty (0 bytes)" if not data else
                           "the file holds only blank space")
    try:
        text = data.decode("utf-8")
        json.loads(text)
    except UnicodeDecodeError:
        raise NotANotebook("it is not text (a notebook is a JSON text file)") from None
    except json.JSONDecodeError as error:
        raise NotANotebook(f"it is not JSON ({error.msg} at line {error.lineno}, column "
                           f"{error.colno})") from None
    try:
        notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
        if not all("cell_type" in cell and "source" in cell for cell in notebook.cells):
            raise ValueError("a cell without a type or a source")
    except Exception as error:
        message = " ".join(str(error).split())[:120]
        raise NotANotebook(f"JSON, but not a Jupyter notebook ({message})") from None
    return notebook


def solution_notebook(exercise: Path) -> nbformat.NotebookNode | None:
    """The solution of the same name: in ``solutions/`` beside the exercise's folder, else in
    ``solutions/`` of the current folder; None when there is none."""
    for folder in (exercise.resolve().parent.parent / "solutions", Path("solutions").resolve()):
        if (folder / exercise.name).is_file():
            try:
                return read_notebook(folder / exercise.name)
            except NotANotebook:
                return None
    return None


def answer_cell_ids(solution: nbformat.NotebookNode | None) -> set[str]:
    """Ids of the cells that hold the learner's answers, read from the solution."""
    if solution is None:
        return set()
    return {cell.get("id", "") for cell in solution.cells
            if cell.cell_type == "code" and SOLUTION_MARKER in cell.source}


def expected_checks(solution: nbformat.NotebookNode | None) -> list[str]:
    """The checks the solution calls, in order: each must give a verdict."""
    names: list[str] = []
    for cell in solution.cells if solution is not None else []:
        if cell.cell_type == "code":
            names += [name for name in checks_called(cell.source) if name not in names]
    return names


def cell_error(cell: nbformat.NotebookNode) -> str | None:
    """The exception a cell raised, on one line: ``ValueError: ...``."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            message = " ".join(str(output.evalue).split())
            return f"{output.ename}: {message}" if message else output.ename
    return None


def _unwritten(index: int, is_answer: bool) -> str:
    """The reason for a cell that raised the exercise's ``NotImplementedError`` placeholder."""
    if is_answer:
        return f"cell {index} is not written yet (it raises NotImplementedError)"
    return f"cell {index} raised NotImplementedError: an answer it uses is not written yet"


def _last_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = log.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip() if lines else ""


@contextmanager
def kernel_for(path: Path, notebook: nbformat.NotebookNode, timeout: int,
               sandbox: Sandbox | None) -> Iterator[NotebookClient]:
    """A client with a fresh kernel for ``notebook``: in the notebook's folder, or with
    ``sandbox`` in a working folder of its own; the kernel is stopped (killed) after."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    with ExitStack() as stack:
        log = stack.enter_context(tempfile.TemporaryFile())  # the kernel's own stderr
        if sandbox is None:
            folder = path.resolve().parent
            manager = AsyncKernelManager(kernel_name="python3", log=QUIET)
            env = {**os.environ, "DEEPFM_LITE_PROGRESS": "0"}  # no progress bars in the output
        else:
            folder = stack.enter_context(working_folder(sandbox, path))
            manager = SandboxKernelManager(sandbox, folder, [path.resolve().parent],
                                           kernel_name="python3", log=QUIET)
            env = sandbox.environment(folder)
        client = NotebookClient(notebook, km=manager, timeout=timeout, kernel_name="python3",
                                allow_errors=True, log=QUIET,
                                resources={"metadata": {"path": str(folder)}})
        try:
            try:
                client.start_new_kernel(cwd=str(folder), env=env, stderr=log,
                                        stdout=subprocess.DEVNULL)
                client.start_new_kernel_client()
            except Exception as error:
                said = _last_line(log)
                raise CouldNotGrade(f"the kernel did not start ({type(error).__name__}: {error}"
                                    + (f"; it said: {said}" if said else "") + ")") from None
            yield client
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
            if manager.has_kernel:
                run_sync(manager.shutdown_kernel)(now=True)


class NotebookGrading:
    """Grading one notebook: its cells run in order, its verdicts and the first reason it is not
    done collected (see the module's docstring for which cells run)."""

    def __init__(self, notebook: nbformat.NotebookNode, answers: set[str],
                 timeout: int) -> None:
        self.cells = list(notebook.cells)
        # The grader's own cells run in a place of their own at the end of the (unsaved) copy.
        notebook.cells.append(nbformat.v4.new_code_cell(""))
        self.slot = len(notebook.cells) - 1
        self.answers, self.timeout = answers, timeout
        self.checks: list[CheckVerdict] = []
        self.stopped_by = ""  # the first check not passed, or cell failed
        self.unwritten = ""  # the first cell that raised the placeholder's NotImplementedError
        self.ended = ""  # why the run ended early: a timeout, a dead kernel, no kernel

    def grader_cell(self, client: NotebookClient, source: str) -> nbformat.NotebookNode:
        """Run the grader's own code in the kernel, out of its history; the cell ran."""
        cell = nbformat.v4.new_code_cell(source)
        client.execute_cell(cell, self.slot, store_history=False)
        return cell

    def prepare(self, client: NotebookClient) -> None:
        """Import the checks in the kernel, with a time limit of its own."""
        client.timeout = max(self.timeout, SETUP_TIMEOUT_S)
        try:
            error = cell_error(self.grader_cell(client, SETUP_SOURCE))
        except (CellTimeoutError, DeadKernelError) as problem:
            error = "it timed out" if isinstance(problem, CellTimeoutError) else "it died"
        finally:
            client.timeout = self.timeout
        if error:
            raise CouldNotGrade(f"the kernel could not import the course's checks ({error})")

    def run(self, client: NotebookClient) -> None:
        """Run the cells; a timeout or a dead kernel ends the run, with the cell named."""
        index = -1
        try:
            for index, cell in enumerate(self.cells):
                self.run_cell(client, index, cell)
        except CellTimeoutError:
            self.ended = (f"timed out in cell {index} after {self.timeout} s (stopped there: "
                          "a loop that never ends?)")
        except DeadKernelError:
            self.ended = (f"the kernel died in cell {index} (os._exit, a crash, or out of "
                          "memory)")

    def run_cell(self, client: NotebookClient, index: int,
                 cell: nbformat.NotebookNode) -> None:
        if cell.cell_type != "code" or not cell.source.strip():
            return
        is_check = CHECK_CALL in cell.source
        is_answer = cell.get("id", "") in self.answers
        if (self.stopped_by or self.unwritten) and not (is_check or is_answer):
            return
        client.execute_cell(cell, index)
        error = cell_error(cell)
        if is_check:
            token = new_token()
            reader = self.grader_cell(client, reader_source(token))
            verdict = check_verdict(recorded_results(reader.outputs, token), cell.source,
                                    index, error)
            self.checks.append(verdict)
            if not verdict.passed and not self.stopped_by:
                self.stopped_by = f"{verdict.check}: {verdict.message}"
        elif error and error.startswith("NotImplementedError"):  # a placeholder ran
            self.unwritten = self.unwritten or _unwritten(index, is_answer)
        elif error and not self.stopped_by:
            self.stopped_by = f"cell {index} raised {error}"

    def grade(self, name: str, expected: Sequence[str]) -> ExerciseGrade:
        """The grade: passed when every check passed, every expected one ran, and nothing
        failed."""
        checks, missing = list(self.checks), ""
        if not self.ended:
            ran = {verdict.check for verdict in checks}
            for check in (c for c in expected if c not in ran):
                message = (f"did not run: its check cell is missing or was changed; run it as "
                           f"it was given (`feedback = checks.{check}(...)`)")
                checks.append(CheckVerdict(check, False, message))
                missing = missing or f"{check}: {message}"
        reason = (self.stopped_by or self.ended or self.unwritten or missing
                  or ("" if checks else "the notebook calls no check"))
        return ExerciseGrade(name, not reason, reason, checks)


def grade_notebook(path: Path | str, timeout: int = CELL_TIMEOUT_S,
                   sandbox: Sandbox | None = None) -> ExerciseGrade:
    """Run one exercise notebook in a fresh kernel (without saving it) and grade it; with
    ``sandbox``, from a temporary copy under its limits (someone else's notebook)."""
    path = Path(path)
    try:
        notebook = read_notebook(path)
    except NotANotebook as why:
        return ExerciseGrade(path.stem, False, f"not a notebook: {path.name}: {why}")
    solution = solution_notebook(path)
    grading = NotebookGrading(notebook, answer_cell_ids(solution), timeout)
    try:
        with kernel_for(path, notebook, timeout, sandbox) as client:
            grading.prepare(client)
            grading.run(client)
    except CouldNotGrade as why:
        grading.ended = f"could not be graded: {why}"
    return grading.grade(path.stem, expected_checks(solution))


def grade_notebooks(paths: Sequence[Path], timeout: int = CELL_TIMEOUT_S,
                    sandbox_for: Callable[[Path], Sandbox | None] = lambda path: None,
                    on_start: Callable[[int, Path], None] | None = None,
                    ) -> list[ExerciseGrade]:
    """Grade each notebook (``sandbox_for(path)`` says under which limits); a notebook the
    grader fails on is that notebook's grade, and the others are still graded.
    ``on_start(index, path)``, if given, is called before each notebook (a progress line)."""
    grades = []
    for index, path in enumerate(map(Path, paths)):
        if on_start is not None:
            on_start(index, path)
        try:
            grades.append(grade_notebook(path, timeout, sandbox_for(path)))
        except Exception as error:  # a fault of the grader's own: reported as one, in words
            message = " ".join(str(error).split())[:200]
            grades.append(ExerciseGrade(path.stem, False, f"the grader failed on this notebook "
                                        f"({type(error).__name__}: {message}); please report "
                                        "this to the course authors"))
    return grades


COURSE_EXERCISES = Path(__file__).resolve().parents[2] / "exercises"  # in a clone of the course


def own_exercise(path: Path, folders: Sequence[Path | str] = ("exercises", COURSE_EXERCISES),
                 ) -> bool:
    """Whether ``path`` is the learner's own work: in ``exercises/`` of the current folder or
    of the course's clone. Any other notebook is graded as someone else's, under limits."""
    return any(Path(path).resolve().is_relative_to(Path(folder).resolve()) for folder in folders)


def exercise_paths(folder: Path | str = "exercises") -> list[Path]:
    """The exercise notebooks of ``folder``, in course order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: run from the top of the repository or "
                                "name the exercise notebooks to grade")
    paths = course_notebooks(folder)
    if not paths:
        raise FileNotFoundError(f"no exercise notebooks (NN_name.ipynb) in {folder}")
    return paths


__all__ = ["CHECK_CALL", "CheckVerdict", "CouldNotGrade", "ExerciseGrade", "NotANotebook",
           "exercise_paths", "format_grades", "grade_notebook", "grade_notebooks",
           "grades_json", "own_exercise", "read_notebook"]
