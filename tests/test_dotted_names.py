"""Every dotted name the course tells a reader to use resolves: ``deepfm_lite.x.y`` anywhere, and
``quiz.ask``, ``dl.fit``, ``interview.MockInterview`` (a course module's short name) in the
notebooks' markdown, the guides, the package's docstrings and messages, and the content files."""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

import deepfm_lite
from deepfm_lite import checkpoint
from deepfm_lite.course.notebooks import course_notebooks
from deepfm_lite.data import passes

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "deepfm_lite"
GUIDES = ["README.md", "TEACHING.md", "exercises/README.md", "solutions/README.md",
          "notebooks/glossary.md", "benchmarks/README.md", *[
              str(p.relative_to(REPO)) for p in sorted((REPO / "datasets").glob("*.md"))]]
NOTEBOOK_FOLDERS = ["notebooks", "solutions", "exercises"]
# The short names the course imports its aids under (``from deepfm_lite.course import quiz``).
SHORT_NAMES = {"dl": "deepfm_lite", "quiz": "deepfm_lite.course.quiz",
               "interview": "deepfm_lite.course.interview",
               "mock_interview": "deepfm_lite.course.mock_interview",
               "checks": "deepfm_lite.course.checks", "plots": "deepfm_lite.course.plots",
               "playground": "deepfm_lite.course.playground",
               "explore": "deepfm_lite.course.explore", "analysis": "deepfm_lite.course.analysis",
               "timing": "deepfm_lite.course.timing", "budget": "deepfm_lite.course.budget",
               "checkpoint": "deepfm_lite.checkpoint", "experiments": "deepfm_lite.experiments"}
FULL = re.compile(r"(?<![\w./])deepfm_lite(?:\.[A-Za-z_]\w*)+")
SHORT = re.compile(r"(?<![\w./-])(" + "|".join(SHORT_NAMES) + r")((?:\.[A-Za-z_]\w*)+)")
NOT_NAMES = {"py", "json", "md", "ipynb", "csv", "txt", "pt", "html"}  # quiz.py is a file
# File-format tags written into model files and manifests: strings, not names to import.
FORMAT_TAGS = {checkpoint.FORMAT, passes.FORMAT}


def texts() -> list[tuple[str, str]]:
    """(where, text) for every place a reader is told something."""
    found = [(guide, (REPO / guide).read_text(encoding="utf-8")) for guide in GUIDES]
    for folder in NOTEBOOK_FOLDERS:
        for path in course_notebooks(REPO / folder):
            for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
                if cell["cell_type"] == "markdown":
                    found.append((f"{folder}/{path.name} cell {index}", "".join(cell["source"])))
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((f"{path.relative_to(REPO)}:{node.lineno}", node.value))
    for path in sorted(PACKAGE.rglob("*.json")):
        found.append((str(path.relative_to(REPO)), path.read_text(encoding="utf-8")))
    return found


def dotted_names(text: str) -> set[str]:
    names = set(FULL.findall(text))
    for short, rest in SHORT.findall(text):
        parts = rest.strip(".").split(".")
        if parts[0] not in NOT_NAMES and not parts[-1].endswith("_"):
            names.add(".".join([SHORT_NAMES[short], *parts]))
    return {name for name in names
            if name.split(".")[-1] not in NOT_NAMES and name not in FORMAT_TAGS}


def resolves(name: str) -> bool:
    """Import the longest module prefix of ``name``, then look up the rest as attributes.

    The course aids' old top-level names (``deepfm_lite.quiz``) still import, for learners'
    notebooks saved before the move, but the course never tells anyone to use them.
    """
    parts = name.split(".")
    if len(parts) > 1 and parts[0] == "deepfm_lite" and parts[1] in deepfm_lite.MOVED_TO_COURSE:
        return False
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_the_collector_reads_both_forms_and_the_resolver_can_fail():
    text = "Run `quiz.ask(\"01.x\")`, see deepfm_lite.course.plots and course/quiz.py."
    assert dotted_names(text) == {"deepfm_lite.course.quiz.ask", "deepfm_lite.course.plots"}
    assert resolves("deepfm_lite.course.interview.MockInterview")
    assert not resolves("deepfm_lite.interview.MockInterview")
    assert not resolves("deepfm_lite.course.quiz.no_such_name")


@pytest.fixture(scope="module")
def unresolved() -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for where, text in texts():
        for name in sorted(dotted_names(text)):
            if not resolves(name):
                missing.setdefault(name, []).append(where)
    return missing


def test_every_dotted_name_resolves(unresolved):
    assert not unresolved, "\n".join(f"{name}: {', '.join(where[:3])}"
                                     for name, where in sorted(unresolved.items()))
