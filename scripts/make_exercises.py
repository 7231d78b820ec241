"""Write exercises/ from solutions/: the one source of the course's exercises.

In every code cell of ``solutions/NN_topic.ipynb`` the learner's part sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers). The exercise notebook is
the same notebook with each such block replaced by::

    # YOUR CODE HERE
    raise NotImplementedError()

at the indentation of the ``### BEGIN SOLUTION`` line, with outputs, execution counts and
execution timings cleared, and without the cells tagged ``solution-only`` (the banner that marks
a solution notebook as the worked answer). Everything else (cell ids, notebook and cell
metadata, markdown) is kept, and the output is byte-for-byte the same on every run.

Usage (from the repository root)::

    python scripts/make_exercises.py                   # write every exercise notebook
    python scripts/make_exercises.py --check           # exit 1 and list files that differ
    python scripts/make_exercises.py --only 03 --force # reset exercise 03 (discards your work)

An exercise notebook that has been run (it holds outputs) is not overwritten without
``--force``, so running the script never wipes a learner's answers by surprise. For the same
reason the up-to-date check accepts an exercise whose COMMITTED version (git's HEAD) is what
the solutions give, whatever the working copy holds: a learner's saved answers are never
reported as out of date.
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path

import nbformat

from deepfm_lite.course.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
PLACEHOLDER = ("# YOUR CODE HERE", "raise NotImplementedError()")
SOLUTION_ONLY = "solution-only"  # cell tag: kept in solutions/, left out of exercises/


class SolutionFormatError(ValueError):
    """A solution notebook whose markers do not pair up; the message names file and cell."""


def strip_solutions(source: str, where: str) -> tuple[str, int]:
    """Replace each BEGIN/END block of ``source`` by the placeholder; return it and the count."""
    out: list[str] = []
    inside_since: int | None = None
    blocks = 0
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside_since is not None:
                raise SolutionFormatError(f"{where}, line {number}: {BEGIN} inside the block "
                                          f"opened on line {inside_since}")
            inside_since = number
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + text for text in PLACEHOLDER)
            blocks += 1
        elif marker == END:
            if inside_since is None:
                raise SolutionFormatError(f"{where}, line {number}: {END} without {BEGIN}")
            inside_since = None
        elif inside_since is None:
            out.append(line)
    if inside_since is not None:
        raise SolutionFormatError(f"{where}: the {BEGIN} on line {inside_since} is never closed")
    return "\n".join(out), blocks


def _is_python(source: str) -> bool:
    """Whether a cell compiles once IPython's magics and shell lines are left out."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        compile("\n".join(lines), "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def exercise_notebook(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The exercise version of one solution notebook (a new object; the input is untouched)."""
    notebook = copy.deepcopy(solution)
    notebook.cells = [cell for cell in notebook.cells
                      if SOLUTION_ONLY not in cell.metadata.get("tags", [])]
    blocks = 0
    for index, cell in enumerate(notebook.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type != "code":
            if BEGIN in cell.source or END in cell.source:
                raise SolutionFormatError(f"{where}: solution markers belong in code cells only")
            continue
        cell.source, found = strip_solutions(cell.source, where)
        if found and not _is_python(cell.source):
            raise SolutionFormatError(f"{where}: the cell is not valid Python once its solution "
                                      "is replaced; put the markers around whole statements")
        blocks += found
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    if blocks == 0:
        raise SolutionFormatError(f"{name}: no {BEGIN} block, so there is nothing to exercise")
    return notebook


def render(notebook: nbformat.NotebookNode) -> str:
    """The notebook as nbformat writes it (sorted keys, one-space indent), ending in a newline."""
    text = nbformat.writes(notebook, version=4)
    return text if text.endswith("\n") else text + "\n"


def solution_paths(only: str | None = None) -> list[Path]:
    paths = sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    if only is not None:
        paths = [p for p in paths if p.name.startswith(f"{only}_") or p.stem == only]
        if not paths:
            raise SystemExit(f"no solution notebook matches --only {only!r} in {SOLUTIONS}")
    return paths


def expected_exercises(only: str | None = None) -> dict[Path, str]:
    """Every exercise file this script would write, as path -> exact text."""
    expected = {}
    for path in solution_paths(only):
        solution = nbformat.read(path, as_version=4)
        expected[EXERCISES / path.name] = render(exercise_notebook(solution, path.name))
    return expected


def committed_text(path: Path) -> str | None:
    """The text of ``path`` as committed (git's HEAD), or None outside git or if untracked."""
    relative = path.relative_to(ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"HEAD:{relative}"],
                               capture_output=True, check=False)
    except OSError:  # no git on this machine
        return None
    if shown.returncode != 0:
        return None
    return shown.stdout.decode("utf-8").replace("\r\n", "\n")


def _is_current(path: Path, text: str) -> bool:
    """The working copy or the committed version of an exercise is what solutions/ gives.

    A learner's saved answers change only the working copy; the committed version still
    matches, so their work never counts as out of date.
    """
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return True
    return committed_text(path) == text


def differing_files(only: str | None = None) -> list[str]:
    """Exercise files that are missing, out of date, or left over from a removed solution."""
    expected = expected_exercises(only)
    problems = []
    for path, text in expected.items():
        if _is_current(path, text):
            continue
        if not path.exists() and committed_text(path) is None:
            problems.append(f"{path.relative_to(ROOT)} (missing)")
        else:
            problems.append(f"{path.relative_to(ROOT)} (differs from what solutions/ gives)")
    if only is None:
        for path in course_notebooks(EXERCISES):
            if path not in expected:
                problems.append(f"{path.relative_to(ROOT)} (no solutions/{path.name})")
    return problems


def _has_been_run(path: Path) -> bool:
    notebook = nbformat.read(path, as_version=4)
    return any(cell.cell_type == "code" and (cell.outputs or cell.execution_count)
               for cell in notebook.cells)


def write_exercises(only: str | None = None, force: bool = False) -> list[Path]:
    """Write the exercise notebooks; skip (and report) run ones unless ``force``."""
    EXERCISES.mkdir(exist_ok=True)
    written = []
    for path, text in expected_exercises(only).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if path.exists() and not force and _has_been_run(path):
            print(f"kept {path.relative_to(ROOT)}: it has been run and may hold your answers; "
                  f"reset it with --only {path.name[:2]} --force", file=sys.stderr)
            continue
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
        print(f"wrote {path.relative_to(ROOT)}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the exercise files that differ")
    parser.add_argument("--only", metavar="NN",
                        help="only the notebook numbered NN (e.g. 03), or named by its stem")
    parser.add_argument("--force", action="store_true",
                        help="overwrite exercise notebooks even if they have been run")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = differing_files(args.only)
            for problem in problems:
                print(problem)
            if problems:
                print("run: python scripts/make_exercises.py", file=sys.stderr)
            return 1 if problems else 0
        write_exercises(args.only, args.force)
    except SolutionFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
