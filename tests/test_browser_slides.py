"""A course notebook presented as a RISE slideshow (jupyterlab-rise) in headless Chromium.

A copy of notebook 01 with the slide metadata of scripts/slides.py is opened at
``/rise/<path>``, the page JupyterLab's slideshow button shows in a side panel (and
``RISE:slideshow`` in a tab). The test checks that reveal.js builds more than one slide, runs
the quiz cell on its slide the way a teacher would (select it, Shift+Enter), answers the quiz
through its widget and compares the feedback with ``quiz.check``.

Needs what tests/test_browser.py needs, plus the ``teach`` extra (``pip install -e
".[teach]"``); skipped, with that command, when jupyterlab-rise is not installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import urllib.parse
from pathlib import Path

import nbformat
import pytest
from test_browser import FEEDBACK_TIMEOUT_S, _log_tail, _page, jupyterlab

from deepfm_lite import quiz

pytestmark = pytest.mark.browser

if importlib.util.find_spec("jupyterlab_rise") is None:
    pytest.skip('jupyterlab-rise is not installed: pip install -e ".[teach]"',
                allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
DECK = ROOT / "notebooks" / "01_ctr_basics.ipynb"
SLIDES_TIMEOUT_S = 90  # the presenter page loads JupyterLab's extensions, then the notebook
QUIZ_CELL = re.compile(r"""^from deepfm_lite import quiz\s+quiz\.ask\(["']([^"']+)["']\)\s*$""")

# @jupyter-widgets/jupyterlab-manager from jupyterlab_widgets 3.0.11 on needs
# @jupyterlab/console, which RISE's presenter page does not share, so no widget renders there
# (jupyterlab-contrib/rise issue 119); the teach extra pins the last version without it.
WIDGETS_WITHOUT_CONSOLE = (3, 0, 10)


def _slides_module():
    spec = importlib.util.spec_from_file_location("slides", ROOT / "scripts" / "slides.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_deck(path: Path) -> tuple[int, str]:
    """Notebook 01 with its slide metadata, outputs cleared (the deck runs live); returns the
    index and id of its first quiz cell, which must need nothing from earlier cells."""
    notebook = nbformat.read(DECK, as_version=4)
    _slides_module().apply(notebook, DECK.name)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, path)
    for index, cell in enumerate(notebook.cells):
        match = QUIZ_CELL.match(cell.source) if cell.cell_type == "code" else None
        if match:
            assert cell.metadata["slideshow"]["slide_type"] != "skip", "the quiz is skipped"
            return index, match.group(1)
    raise AssertionError(f"{DECK.name} has no self-contained quiz cell "
                         "(`from deepfm_lite import quiz` then `quiz.ask(...)`)")


def _widgets_version() -> tuple[int, ...]:
    version = importlib.metadata.version("jupyterlab_widgets")
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def test_notebook_01_as_slides_with_a_working_quiz(tmp_path):
    assert _widgets_version() <= WIDGETS_WITHOUT_CONSOLE, (
        f"jupyterlab_widgets {importlib.metadata.version('jupyterlab_widgets')} draws no "
        "widget inside RISE slides (jupyterlab-contrib/rise#119); "
        'pip install -e ".[teach]" installs a version that does')
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    quiz_index, question_id = write_deck(root / "deck.ipynb")
    question = quiz.get(question_id)
    wrong = next(o.letter for o in question.options if o.letter != question.answer)

    with jupyterlab(root, home) as (base, token, log_path), _page(home) as page:
        query = urllib.parse.urlencode({"token": token, "activeCellIndex": quiz_index})
        page.goto(f"{base}/rise/deck.ipynb?{query}", wait_until="domcontentloaded")
        present = page.locator(".reveal .slides section.present")
        try:
            present.locator(".jp-CodeCell").first.wait_for(timeout=SLIDES_TIMEOUT_S * 1000)
        except Exception as error:  # noqa: BLE001 - report the page's state, whatever failed
            raise AssertionError(f"no slide with a code cell ({error}); server log:\n"
                                 f"{_log_tail(log_path)}") from None
        sections = page.locator(".reveal .slides section").count()
        assert sections > 1, f"reveal.js built {sections} slide(s)"

        cell = present.locator(".jp-CodeCell").filter(has_text=question_id).first
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")  # RISE runs the selected cell, as in class
        panel = present.locator(".deepfm-quiz").first
        panel.wait_for(timeout=SLIDES_TIMEOUT_S * 1000)
        # The first click into the freshly run cell only moves the notebook's focus there
        # (measured: an option clicked first stays unchosen, every later click counts), so
        # click the question text first, as a presenter pointing at it would.
        present.locator(".deepfm-quiz-question").first.click()
        for letter in (wrong, question.answer):
            expected = " ".join(quiz.check(question_id, letter).text.split())
            assert answer(panel, letter) == expected


def answer(panel, letter: str) -> str:
    """Choose ``letter`` in a quiz panel (until the radio button shows it chosen), press Check,
    return the new feedback text."""
    feedback = panel.locator(".deepfm-quiz-feedback")
    before = feedback.inner_text()
    option = panel.locator(".deepfm-quiz-choices label").filter(
        has_text=re.compile(rf"^\s*{letter}\s*$"))
    option.click(timeout=FEEDBACK_TIMEOUT_S * 1000)
    option.locator("input").wait_for(state="attached")
    assert option.locator("input").is_checked(), f"option {letter} did not take the click"
    panel.locator("button.deepfm-quiz-check").click(timeout=FEEDBACK_TIMEOUT_S * 1000)
    panel.page.wait_for_function(
        "([node, before]) => node.innerText.trim() && node.innerText !== before",
        arg=[feedback.element_handle(), before], timeout=FEEDBACK_TIMEOUT_S * 1000)
    return " ".join(feedback.inner_text().split())
