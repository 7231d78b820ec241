"""The learner's prose is for the learner: no markdown cell of a notebook, exercise or solution
talks about the test machinery, the machine a notebook was run on, or when it was written."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path for folder in ("notebooks", "solutions", "exercises")
                   for path in (ROOT / folder).glob("[0-9]*.ipynb"))
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
