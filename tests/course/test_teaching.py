"""TEACHING.md, the instructors' guide: it covers every notebook, and every notebook, quiz,
exercise and command it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepfm_lite.course import quiz

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "TEACHING.md"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
QUIZ_ID = re.compile(r"\b\d\d\.[a-z][a-z0-9_]*\b")  # 05.gradient_sum; not 12.1 or 0.02


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def entries(guide: str) -> dict[str, str]:
    """The guide's notebook entries, ``"05" -> text``, from its ``### NN ·`` headings."""
    parts = re.split(r"^### (\d\d) · ", guide, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n## ", 1)[0] for i in range(1, len(parts), 2)}


def test_every_notebook_has_an_entry_naming_its_file(guide):
    found = entries(guide)
    for notebook in NOTEBOOKS:
        number = notebook.name[:2]
        assert number in found, f"TEACHING.md has no entry '### {number} · ...'"
        assert f"`{notebook.name}`" in found[number], f"the {number} entry names no {notebook.name}"


def test_every_entry_puts_one_of_its_own_quizzes_to_the_room(guide):
    for number, text in entries(guide).items():
        has_bank = number in {name[:2] for name in quiz.NOTEBOOKS}
        own = quiz.questions(number) if has_bank else []
        if not own:
            continue  # a notebook without questions yet (09 while it is written)
        room = re.search(r"\*\*Quiz to the room:\*\*(.*)", text)
        assert room, f"the {number} entry has no 'Quiz to the room'"
        assert set(QUIZ_ID.findall(room.group(1))) & set(own), number
        assert "**Misconceptions addressed:**" in text and "**Demo live:**" in text, number


def test_every_quiz_id_the_guide_names_exists(guide):
    named = set(QUIZ_ID.findall(guide))
    assert len(named) > 40  # the guide names the misconceptions of every notebook
    unknown = sorted(named - set(quiz.questions()))
    assert not unknown, f"TEACHING.md names quiz ids that do not exist: {unknown}"


def test_every_quiz_is_listed_under_its_own_notebook(guide):
    found = entries(guide)
    for question_id in quiz.questions():
        assert question_id in found.get(question_id[:2], ""), \
            f"{question_id} is not among the misconceptions of notebook {question_id[:2]}"


def test_every_notebook_and_exercise_file_it_names_exists(guide):
    named = set(re.findall(r"\b((?:exercises/|solutions/|notebooks/)?\d\d_[a-z0-9_]+\.ipynb)",
                           guide))
    assert any(name.startswith("exercises/") for name in named)
    for name in named:
        path = REPO / name if "/" in name else REPO / "notebooks" / name
        assert path.is_file(), f"TEACHING.md names {name}, which does not exist"


def test_every_exercise_is_assigned_once(guide):
    assigned = re.findall(r"\*\*Exercise:\*\* `(exercises/[^`]+)`", guide)
    exercises = sorted(p.relative_to(REPO).as_posix()
                       for p in (REPO / "exercises").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(assigned) == exercises


def test_the_commands_and_settings_it_names_exist(guide):
    from deepfm_lite import settings
    from deepfm_lite.cli import build_parser
    from deepfm_lite.course import playground

    assert "python -m deepfm_lite progress --json" in guide
    arguments = build_parser().parse_args(["progress", "--json"])
    assert arguments.command == "progress" and arguments.json
    assert "settings.instructor = True" in guide and hasattr(settings, "instructor")
    assert "playground.show()" in guide and callable(playground.show)
    assert (REPO / "scripts" / "build_site.py").is_file() and "scripts/build_site.py" in guide
