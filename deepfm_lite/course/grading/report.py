"""The grades, and how ``progress`` shows them: one line per exercise, or JSON.

The terminal table is written for a terminal: one line per exercise, no Markdown backticks,
the long "not written yet" instructions said once under the table instead of once per
exercise, and a hint too long for the line cut at a word (``--json`` keeps every message
whole).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field

from ..checks import NOT_WRITTEN

UNWRITTEN_SHORT = NOT_WRITTEN.split(" (")[0]  # "is not written yet"
HOW_TO_START = ("Not written yet: replace the line raise NotImplementedError() under "
                "# YOUR CODE HERE with your code, run that cell, then grade again.")
FALLBACK_WIDTH = 100  # columns, where the terminal's width is unknown (a pipe, a file)


@dataclass
class CheckVerdict:
    """What one check gave: the check's name, pass or not, and its message."""

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


def terminal_reason(reason: str, room: int) -> tuple[str, bool]:
    """``reason`` for one terminal line of ``room`` characters, and whether it was cut."""
    text = reason.replace(NOT_WRITTEN, UNWRITTEN_SHORT).replace("`", "")
    text = " ".join(text.split())
    if len(text) <= room:
        return text, False
    cut = text[: max(room - 3, 1)].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "...", True


def format_grades(grades: list[ExerciseGrade], width: int | None = None,
                  notes: list[str] | tuple[str, ...] = ()) -> str:
    """One line per exercise, the count, then ``notes`` and any hint said once for all."""
    width = width or shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns
    name_width = max(len(grade.notebook) for grade in grades)
    lines, cut, unwritten = [], False, False
    for grade in grades:
        status = "passed " if grade.passed else "not yet"
        line = f"{grade.notebook:<{name_width}}  {status}"
        if grade.reason:
            unwritten = unwritten or NOT_WRITTEN in grade.reason
            reason, shortened = terminal_reason(grade.reason, max(width - len(line) - 3, 30))
            cut = cut or shortened
            line += f"  {reason}"
        lines.append(line.rstrip())
    done = sum(grade.passed for grade in grades)
    lines.append(f"{done} of {len(grades)} exercises passed")
    if unwritten:
        lines.append(HOW_TO_START)
    if cut:
        lines.append("Hints cut to fit the line: --json shows them whole.")
    return "\n".join(lines + list(notes))


def grades_json(grades: list[ExerciseGrade]) -> str:
    """The grades as a JSON list, every check's message whole."""
    return json.dumps([grade.as_dict() for grade in grades], ensure_ascii=False, indent=1)


__all__ = ["CheckVerdict", "ExerciseGrade", "format_grades", "grades_json", "terminal_reason"]
