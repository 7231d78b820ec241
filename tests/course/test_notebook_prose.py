"""The learner's prose is for the learner: no markdown cell of a notebook, exercise or solution
talks about the test machinery, the machine a notebook was run on, or when it was written."""

import json
import re
from pathlib import Path

import pytest

from deepfm_lite.course.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = [path for folder in ("notebooks", "solutions", "exercises")
             for path in course_notebooks(ROOT / folder)]
MAINTAINER_TALK = re.compile(
    r"nbval|pytest|test suite|the tests\b|not compared by|quiet machine|shared by several|"
    r"when (?:we|this notebook was) wr|was written|written on|this machine", re.IGNORECASE)


def maintainer_talk(text: str) -> list[str]:
    return [match.group(0) for match in MAINTAINER_TALK.finditer(text)]


def test_the_pattern_finds_what_it_is_for():
    assert maintainer_talk("Output not compared by nbval; when we wrote this notebook") == [
        "not compared by", "nbval", "when we wr"]
    assert maintainer_talk("Each test of the model is a check on data with a known truth.") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_markdown_cell_talks_to_maintainers(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = {index: words for index, cell in enumerate(cells) if cell["cell_type"] == "markdown"
             if (words := maintainer_talk("".join(cell["source"])))}
    assert not found, found


# ---- how long the chapters are -------------------------------------------------------------------

CHAPTERS = sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb"))
WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
MAX_WORDS_IN_ALL = 13_000
MAX_WORDS = {"00": 900}
MAX_WORDS_OTHERWISE = 1_800
MAX_MARKDOWN_CHARACTERS = 1_200
MAX_CODE_LINES = 30


def english_words(path: Path) -> int:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return sum(len(WORD.findall("".join(cell["source"])))
               for cell in cells if cell["cell_type"] == "markdown")


def test_words_are_counted_as_a_reader_sees_them():
    assert len(WORD.findall("FM's $O(kn)$ form: one vector per feature, 词向量 x2")) == 9


def test_the_chapters_hold_at_most_so_many_words_in_all():
    words = {path.name[:2]: english_words(path) for path in CHAPTERS}
    assert len(words) == 10, words
    assert sum(words.values()) <= MAX_WORDS_IN_ALL, words


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_a_chapter_holds_at_most_so_many_words(path):
    limit = MAX_WORDS.get(path.name[:2], MAX_WORDS_OTHERWISE)
    assert english_words(path) <= limit, f"{path.name}: {english_words(path)} words > {limit}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_cells_are_short(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    long_markdown = {index: len(text) for index, cell in enumerate(cells)
                     if cell["cell_type"] == "markdown"
                     if len(text := "".join(cell["source"])) > MAX_MARKDOWN_CHARACTERS}
    long_code = {index: lines for index, cell in enumerate(cells) if cell["cell_type"] == "code"
                 if (lines := len("".join(cell["source"]).splitlines())) > MAX_CODE_LINES}
    assert not long_markdown, f"markdown over {MAX_MARKDOWN_CHARACTERS} characters: {long_markdown}"
    assert not long_code, f"code cells over {MAX_CODE_LINES} lines: {long_code}"


# ---- how the ranges were measured lives in one appendix ------------------------------------------

APPENDIX = ROOT / "notebooks" / "measuring.md"
SEED_RANGE = re.compile(r"\bseeds? \d+\s*(?:-|–|to)\s*\d+", re.IGNORECASE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_range_over_seeds_links_to_the_appendix(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    unlinked = {index: match.group(0) for index, cell in enumerate(cells)
                if cell["cell_type"] == "markdown"
                if (match := SEED_RANGE.search(text := "".join(cell["source"])))
                if "measuring.md#" not in text}
    assert not unlinked, f"ranges over seeds without a link to measuring.md: {unlinked}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_cell_tells_how_a_range_was_measured(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [index for index, cell in enumerate(cells)
             if "seed_ranges.py" in "".join(cell["source"])]
    assert not found, f"cells naming the seed-range script (the appendix does): {found}"


def test_every_link_into_the_appendix_finds_its_anchor():
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', APPENDIX.read_text(encoding="utf-8")))
    links = {(path.name, anchor) for path in NOTEBOOKS
             for anchor in re.findall(r"measuring\.md#([\w.-]+)", path.read_text(encoding="utf-8"))}
    assert links, "no chapter links to the appendix"
    assert not {link for link in links if link[1] not in anchors}, anchors
