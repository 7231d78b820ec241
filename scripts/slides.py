"""Give every course notebook slide metadata, so it can be presented with RISE (jupyterlab-rise).

Each cell gets ``metadata.slideshow.slide_type`` (``slide``, ``subslide``, ``fragment``,
``skip``, ``notes`` or ``-``, which continues the current slide) by these rules, the first
that applies winning:

1. A cell tag overrides everything: ``slide``, ``subslide``, ``fragment``, ``skip``, ``notes``,
   or ``continue`` (for ``-``). One such tag per cell.
2. The summary in Chinese (a markdown heading ``要点``) is a slide of its own: it and the cell
   after it start slides.
3. A markdown cell with a ``#`` or ``##`` heading line starts a slide; with a ``###`` (or
   deeper) heading, a subslide. One idea a slide.
4. A remark for the teacher (a markdown cell that opens with ``**Instructor``, ``**Teacher``
   or ``**For instructors``, possibly inside a ``>`` quote, or a cell tagged ``instructor``)
   becomes speaker notes.
5. A markdown cell of more than ``LONG_WORDS`` words is a long explanation: speaker notes.
6. A code cell that only sets up (imports, literal settings such as ``SCALE = "ci"``, calls
   with literal arguments such as ``torch.set_num_threads(1)``, but no ``print``, ``display``
   or ``quiz.ask``) or only checks (``assert``
   statements and ``*.assert_*`` calls, like the cell after each ``# NBVAL_IGNORE_OUTPUT``
   cell) is skipped: it still runs when the deck runs, but takes no room.
7. Anything else (short prose, a quiz, code with its output, figures included) continues the
   current slide when the cell before it is shown prose of at most ``LONG_WORDS`` words: code
   stays with the sentence that introduces it. A short remark after code output that does not
   lead into more code is a fragment (it appears on the next key press under the output).
   Otherwise the cell starts a subslide: a question after code, code after code, code whose
   explanation went to the notes.

The script changes cell metadata only: sources, outputs, cell ids and notebook metadata are
untouched, and running it twice changes nothing the second time.

Usage (from the repository root)::

    python scripts/slides.py                  # notebooks/ and solutions/, in place
    python scripts/slides.py notebooks/02_fm_math.ipynb
    python scripts/slides.py --check          # write nothing; exit 1 listing what differs
    python scripts/slides.py --report         # write nothing; list cells worth splitting

exercises/ is generated from solutions/ by ``scripts/make_exercises.py``, which keeps cell
metadata, so run that after this script.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDERS = ("notebooks", "solutions")
LONG_WORDS = 60  # about three sentences: more than that is read aloud, not put on a slide
SLIDE_TAGS = {"slide": "slide", "subslide": "subslide", "fragment": "fragment",
              "skip": "skip", "notes": "notes", "continue": "-"}
INSTRUCTOR_TAG = "instructor"
SUMMARY_HEADING = "要点"

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
INSTRUCTOR_OPENING = re.compile(r"^\s*(>\s*)?\*\*(instructor|teacher|for instructors)\b",
                                re.IGNORECASE)
# Calls whose point is what they show: output, or a question put to the room (quiz.ask).
SHOWING_CALLS = {"print", "display", "ask"}


class SlideTagError(ValueError):
    """A cell with more than one slide tag; the message names the notebook and the cell."""


# --------------------------------------------------------------------------- reading cells


def heading_levels(source: str) -> list[tuple[int, str]]:
    """(level, text) of each Markdown heading line, outside fenced code blocks."""
    headings, fenced = [], False
    for line in source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            headings.append((len(match.group(1)), match.group(2).strip()))
    return headings


def word_count(source: str) -> int:
    """Whitespace-separated words: a rough measure of how long prose takes to read."""
    return len(source.split())


def python_statements(source: str) -> list[ast.stmt] | None:
    """The cell's top-level statements with IPython magics and shell lines blanked; None when
    the cell is not Python."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines)).body
    except SyntaxError:
        return None


def _called_name(call: ast.Call) -> str:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def _shows_something(statements: list[ast.stmt]) -> bool:
    """Whether any statement calls print, display or ask (its output is meant to be seen)."""
    return any(isinstance(node, ast.Call) and _called_name(node) in SHOWING_CALLS
               for statement in statements for node in ast.walk(statement))


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _is_assert_call(statement: ast.stmt) -> bool:
    """``np.testing.assert_allclose(...)``, ``torch.testing.assert_close(...)`` and the like."""
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and _called_name(statement.value).startswith("assert"))


def _only_checks(statements: list[ast.stmt]) -> bool:
    """Statements that only assert: asserts, assert calls, assignments feeding them, and
    loops/conditions/with-blocks made of the same."""
    for statement in statements:
        if isinstance(statement, (ast.Assert, ast.Assign, ast.AugAssign, ast.AnnAssign,
                                  ast.Pass, ast.Import, ast.ImportFrom)):
            continue
        if _is_assert_call(statement):
            continue
        if isinstance(statement, (ast.For, ast.While, ast.If, ast.With)):
            if _only_checks(statement.body) and _only_checks(getattr(statement, "orelse", [])):
                continue
        return False
    return True


def is_assertion_cell(source: str) -> bool:
    """A code cell that only checks results (and prints nothing)."""
    statements = python_statements(source)
    if not statements or _shows_something(statements) or not _only_checks(statements):
        return False
    return any(isinstance(node, ast.Assert) or _is_assert_call(node)
               for statement in statements for node in ast.walk(statement)
               if isinstance(node, ast.stmt))


def _is_setting(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, ast.Assign):
        return _is_literal(statement.value)
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        return (_called_name(call) not in SHOWING_CALLS
                and all(_is_literal(arg) for arg in call.args)
                and all(_is_literal(keyword.value) for keyword in call.keywords))
    return False


def is_setup_cell(source: str) -> bool:
    """A code cell of imports and literal settings only, with at least one import."""
    statements = python_statements(source)
    return (bool(statements) and all(_is_setting(s) for s in statements)
            and any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statements))


def tag_slide_type(cell: nbformat.NotebookNode, where: str) -> str | None:
    """The slide type a cell's tag asks for, or None; two slide tags are an error."""
    tags = cell.get("metadata", {}).get("tags", [])
    chosen = [SLIDE_TAGS[tag] for tag in tags if tag in SLIDE_TAGS]
    if len(chosen) > 1:
        raise SlideTagError(f"{where}: more than one slide tag ({', '.join(tags)}); keep one")
    if chosen:
        return chosen[0]
    return "notes" if INSTRUCTOR_TAG in tags else None


def role(cell: nbformat.NotebookNode) -> str:
    """What a cell is, for the rules: summary, heading, subheading, instructor, long, prose,
    setup, check, or code."""
    source = cell.source
    if cell.cell_type == "markdown":
        levels = heading_levels(source)
        if any(SUMMARY_HEADING in text for _, text in levels):
            return "summary"
        if any(level <= 2 for level, _ in levels):
            return "heading"
        if levels:
            return "subheading"
        if INSTRUCTOR_OPENING.match(source):
            return "instructor"
        return "long" if word_count(source) > LONG_WORDS else "prose"
    if cell.cell_type == "code":
        if is_setup_cell(source):
            return "setup"
        if is_assertion_cell(source):
            return "check"
        return "code"
    return "skip"  # raw cells: not part of the talk


# --------------------------------------------------------------------------- the rules

RULE_TYPES = {"summary": "slide", "heading": "slide", "subheading": "subslide",
              "instructor": "notes", "long": "notes", "setup": "skip", "check": "skip",
              "skip": "skip"}


def _continues_slide(previous: tuple[str, nbformat.NotebookNode] | None) -> bool:
    """The cell before is shown prose short enough to share a slide with what follows."""
    if previous is None:
        return False
    kind, cell = previous
    return (kind in ("heading", "subheading", "prose")
            and word_count(cell.source) <= LONG_WORDS)


def slide_types(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[str]:
    """The slide type of every cell of ``notebook``, by the rules in the module docstring."""
    roles = [role(cell) for cell in notebook.cells]
    tagged = [tag_slide_type(cell, f"{name}, cell {index}")
              for index, cell in enumerate(notebook.cells)]
    types: list[str] = []
    previous: tuple[str, nbformat.NotebookNode] | None = None  # the last cell not skipped
    for index, (cell, kind) in enumerate(zip(notebook.cells, roles)):
        chosen = tagged[index] or RULE_TYPES.get(kind)
        if tagged[index] is None and index > 0 and roles[index - 1] == "summary":
            chosen = "slide"  # the summary is a slide of its own
        if chosen is None:
            chosen = _flowing_type(kind, previous, _code_follows(roles, tagged, index),
                                   first=not any(t not in ("skip", "notes") for t in types))
        types.append(chosen)
        if chosen != "skip":
            previous = (kind if chosen != "notes" else "notes", cell)
    return types


def _code_follows(roles: list[str], tagged: list[str | None], index: int) -> bool:
    """Whether the next cell that is not skipped is code (or a quiz) shown on the slide."""
    for kind, tag in zip(roles[index + 1:], tagged[index + 1:]):
        if tag == "skip" or (tag is None and RULE_TYPES.get(kind) == "skip"):
            continue
        return kind == "code" and tag not in ("notes",)
    return False


def _flowing_type(kind: str, previous: tuple[str, nbformat.NotebookNode] | None,
                  code_follows: bool, first: bool) -> str:
    """Rule 7: short prose, quizzes and code."""
    if first:
        return "slide"
    if _continues_slide(previous):
        return "-"
    if kind == "prose" and previous is not None and previous[0] == "code" and not code_follows:
        return "fragment"
    return "subslide"


# --------------------------------------------------------------------------- files


def apply(notebook: nbformat.NotebookNode, name: str = "notebook") -> int:
    """Set every cell's slide type in place; return how many cells changed."""
    changed = 0
    for cell, slide_type in zip(notebook.cells, slide_types(notebook, name)):
        slideshow = cell.metadata.get("slideshow", {})
        if slideshow.get("slide_type") != slide_type:
            cell.metadata["slideshow"] = {**slideshow, "slide_type": slide_type}
            changed += 1
    return changed


def default_paths() -> list[Path]:
    return sorted(path for folder in DEFAULT_FOLDERS
                  for path in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"))


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def differing(paths: Iterable[Path]) -> list[str]:
    """'path (N cells)' for each notebook whose slide metadata differs from the rules."""
    problems = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        changed = apply(notebook, path.name)
        if changed:
            problems.append(f"{_shown(path)} ({changed} cells differ from the slide rules)")
    return problems


def write(paths: Iterable[Path]) -> list[Path]:
    """Apply the rules to each notebook; write (and return) the ones that changed."""
    written = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if apply(notebook, path.name):
            nbformat.write(notebook, path)
            written.append(path)
            print(f"wrote {_shown(path)}")
    return written


def advice(path: Path) -> list[str]:
    """Cells that make crowded slides, with what to do: the rules never change sources, so
    a heading inside a cell or a long text under a heading can only be fixed by hand."""
    notebook = nbformat.read(path, as_version=4)
    notes = []
    for index, (cell, slide_type) in enumerate(zip(notebook.cells,
                                                   slide_types(notebook, path.name))):
        if cell.cell_type != "markdown" or slide_type in ("skip", "notes"):
            continue
        where = f"{_shown(path)}, cell {index}"
        first_line = cell.source.lstrip().split("\n", 1)[0]
        if heading_levels(cell.source) and not HEADING.match(first_line):
            notes.append(f"{where}: a heading below other text; split the cell at the heading")
        elif word_count(cell.source) > LONG_WORDS:
            notes.append(f"{where}: {word_count(cell.source)} words on a slide; keep a short "
                         "lead and move the rest to a cell tagged notes")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks (default: notebooks/ and solutions/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list notebooks whose slides differ")
    parser.add_argument("--report", action="store_true",
                        help="write nothing; list cells that make crowded slides")
    args = parser.parse_args(argv)
    paths = args.paths or default_paths()
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        if args.report:
            for path in paths:
                print("\n".join(advice(path)) or f"{_shown(path)}: nothing to split")
            return 0
        if args.check:
            problems = differing(paths)
            for problem in problems:
                print(problem)
            if problems:
                print("run: python scripts/slides.py", file=sys.stderr)
            return 1 if problems else 0
        write(paths)
    except SlideTagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
