"""What an instructor shows, in a real browser (headless Chromium, driven by Playwright).

One JupyterLab server for the module, serving a temporary folder with two scratch notebooks,
and one Chromium, each test in a fresh browser context of its own:

1. The playground in JupyterLab: a scratch notebook shows the panel; a setting is changed in
   the page, Train pressed, the plot redraws and the comparison table gains a row; a second,
   long run is stopped from the page after its first epoch and joins the table marked as
   stopped, while the kernel keeps answering.
2. Notebook 01 as a RISE slideshow (jupyterlab-rise): a copy with the slide metadata of
   scripts/slides.py is opened at ``/rise/<path>``, the page JupyterLab's slideshow button
   shows in a side panel (and ``RISE:slideshow`` in a tab). reveal.js must build more than one
   slide; the quiz cell is run on its slide the way a teacher would (select it, Shift+Enter)
   and answered through its widget, the feedback compared with ``quiz.check``. Skipped, with
   the command, when the ``teach`` extra (``pip install -e ".[teach]"``) is not installed.
3. The static edition (scripts/build_site.py), opened from disk: the course map links to a
   notebook page, whose quiz answer unfolds, and nothing is fetched from the network.

Reuses the JupyterLab and browser helpers of tests/course/test_browser.py (skipped, like it,
when Chromium or Playwright is missing).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from repo_scripts import load_script
from test_browser import (  # the sibling test module: its folder is on sys.path under pytest
    CHROMIUM,
    CHROMIUM_FLAGS,
    FEEDBACK_TIMEOUT_S,
    _log_tail,
    _open_notebook,
    _run_all_and_wait,
    _wait_until,
    answer,
    jupyterlab,
)

from deepfm_lite.course import quiz

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
TRAIN_TIMEOUT_S = 90  # a tiny run takes a second or two; room for a busy 2-core machine
# Small settings, so the runs in the page take seconds (the stopped run would take ~30 s).
PANEL_CELL = ('from deepfm_lite.course import playground\n\n'
              'panel = playground.show(rows=4_000, embed_dim=4, hidden="16", epochs=2, lr=0.01)')

EPOCH_RUNNING = re.compile(r"Epoch \d+:")  # the status line while a run trains

TABLE_ROWS_JS = """() => Array.from(document.querySelectorAll(
  '.deepfm-playground-table-output table tbody tr')).map(row => row.innerText)"""

KERNEL_EVAL_JS = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false});
  let result = null;
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'execute_result') { result = msg.content.data['text/plain']; }
  };
  await future.done;
  return result;
}"""


def _write_playground_notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Playground\n\nA what-if, live."),
        nbformat.v4.new_code_cell(PANEL_CELL),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)


def _table_rows(page) -> list[str]:
    return page.evaluate(TABLE_ROWS_JS)


def _wait_for_rows(page, count: int, log_path: Path) -> list[str]:
    _wait_until(page, f"() => ({TABLE_ROWS_JS})().length >= {count}", TRAIN_TIMEOUT_S,
                f"the comparison table did not reach {count} row(s)", log_path)
    return _table_rows(page)


DECK = REPO / "notebooks" / "01_ctr_basics.ipynb"
SLIDES_TIMEOUT_S = 90  # the presenter page loads JupyterLab's extensions, then the notebook
QUIZ_CELL = re.compile(
    r"""^from deepfm_lite\.course import quiz\s+quiz\.ask\(["']([^"']+)["']\)\s*$""")

# @jupyter-widgets/jupyterlab-manager from jupyterlab_widgets 3.0.11 on needs
# @jupyterlab/console, which RISE's presenter page does not share, so no widget renders there
# (jupyterlab-contrib/rise issue 119); the teach extra pins the last version without it.
WIDGETS_WITHOUT_CONSOLE = (3, 0, 10)


def write_deck(path: Path) -> tuple[int, str]:
    """Notebook 01 with its slide metadata, outputs cleared (the deck runs live); returns the
    index and id of its first quiz cell, which must need nothing from earlier cells."""
    notebook = nbformat.read(DECK, as_version=4)
    load_script("scripts/slides.py").apply(notebook, DECK.name)
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
                         "(`from deepfm_lite.course import quiz` then `quiz.ask(...)`)")


def _widgets_version() -> tuple[int, ...]:
    version = importlib.metadata.version("jupyterlab_widgets")
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


PLAYGROUND, DECK_NAME = "playground.ipynb", "deck.ipynb"


@dataclasses.dataclass
class TeachingLab:
    """The module's JupyterLab server, its browser, and where the deck's quiz cell is."""

    base: str
    token: str
    log_path: Path
    browser: Browser
    deck_quiz: tuple[int, str]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[TeachingLab]:
    """One server for a folder holding the scratch playground notebook and the deck, and one
    Chromium."""
    root, home = tmp_path_factory.mktemp("teach-root"), tmp_path_factory.mktemp("teach-home")
    _write_playground_notebook(root / PLAYGROUND)
    deck_quiz = write_deck(root / DECK_NAME)
    with jupyterlab(root, home) as (base, token, log_path), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_FLAGS)
        try:
            yield TeachingLab(base, token, log_path, browser, deck_quiz)
        finally:
            browser.close()


@pytest.fixture
def tab(lab) -> Iterator[Page]:
    """A page for one test in a fresh browser context (its own cookies and storage, as a
    separate browser would have), closed after it."""
    context = lab.browser.new_context()
    yield context.new_page()
    context.close()


def test_playground_trains_plots_adds_rows_and_stops_in_jupyterlab(lab, tab):
    page, log_path = tab, lab.log_path
    _open_notebook(page, lab.base, lab.token, PLAYGROUND, log_path)
    _run_all_and_wait(page, log_path)
    panel = page.locator(".deepfm-playground").first
    panel.wait_for(timeout=FEEDBACK_TIMEOUT_S * 1000)
    plot = panel.locator(".deepfm-playground-plot")
    blank = plot.get_attribute("src")

    # Change a setting in the page, then Train: the plot redraws, the table gains a row.
    panel.locator(".deepfm-playground-model select").select_option("fm")
    panel.locator("button.deepfm-playground-train-button").click()
    first = _wait_for_rows(page, 1, log_path)
    assert len(first) == 1 and "fm" in first[0].split() and "False" in first[0].split()
    assert plot.get_attribute("src") != blank, "the plot was not redrawn"

    # A long run (50 epochs on 40,000 rows, about ten seconds), stopped from the page while an
    # epoch runs (an epoch takes a fraction of a second: whichever the poll sees first).
    epochs = panel.locator(".deepfm-playground-epochs input")
    epochs.fill("50")
    epochs.press("Enter")
    rows = panel.locator(".deepfm-playground-rows input")
    rows.fill("40000")
    rows.press("Enter")
    panel.locator("button.deepfm-playground-train-button").click()
    status = panel.locator(".deepfm-playground-status")
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while not EPOCH_RUNNING.search(status.inner_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert EPOCH_RUNNING.search(status.inner_text()), status.inner_text()
    assert page.evaluate(KERNEL_EVAL_JS, "panel.running") == "True"  # kernel still answers
    panel.locator("button.deepfm-playground-stop-button").click()
    second = _wait_for_rows(page, 2, log_path)
    cells = second[1].split()
    assert cells[0] == "2" and cells[-1] == "True", second  # run 2, marked stopped
    assert "stopped after" in status.inner_text()
    stored = page.evaluate(KERNEL_EVAL_JS, "panel.table[['epochs', 'stopped']].to_dict()")
    assert "'stopped': {1: False, 2: True}" in stored, stored


def test_static_edition_index_opens_and_links_to_a_notebook_page(tab, tmp_path):
    site = tmp_path / "site"
    load_script("scripts/build_site.py").build_site(site, only=["05"])
    page = tab
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto((site / "index.html").as_uri(), wait_until="load")  # the language chooser
    page.locator("a", has_text="English").click()
    page.wait_for_url("**/en/index.html", timeout=FEEDBACK_TIMEOUT_S * 1000)
    page.locator("article a", has_text="05 · DeepFM").click()
    page.wait_for_url("**/05_deepfm.html", timeout=FEEDBACK_TIMEOUT_S * 1000)
    heading = page.locator("h1").first.inner_text(timeout=FEEDBACK_TIMEOUT_S * 1000)
    assert heading.startswith("05 · DeepFM")
    answer = page.locator("details.deepfm-quiz-answer").first
    assert not answer.locator("ul").is_visible()  # folded until the reader asks
    answer.locator("summary").click()
    assert answer.locator("ul").is_visible() and "Answer:" in answer.inner_text()
    page.locator("a.sidebar-brand").first.click()  # back to the course map
    page.wait_for_url("**/en/index.html", timeout=FEEDBACK_TIMEOUT_S * 1000)
    assert fetched and all(url.startswith("file://") for url in fetched), fetched


def test_notebook_01_as_slides_with_a_working_quiz(lab, tab):
    if importlib.util.find_spec("jupyterlab_rise") is None:
        pytest.skip('jupyterlab-rise is not installed: pip install -e ".[teach]"')
    assert _widgets_version() <= WIDGETS_WITHOUT_CONSOLE, (
        f"jupyterlab_widgets {importlib.metadata.version('jupyterlab_widgets')} draws no "
        "widget inside RISE slides (jupyterlab-contrib/rise#119); "
        'pip install -e ".[teach]" installs a version that does')
    _present_and_answer(tab, lab, *lab.deck_quiz)


def _present_and_answer(page: Page, lab: TeachingLab, quiz_index: int, question_id: str) -> None:
    """Open the deck at its quiz slide, run the quiz cell there, answer wrongly then rightly."""
    question = quiz.get(question_id)
    wrong = next(o.letter for o in question.options if o.letter != question.answer)
    base, token, log_path = lab.base, lab.token, lab.log_path
    query = urllib.parse.urlencode({"token": token, "activeCellIndex": quiz_index})
    page.goto(f"{base}/rise/{DECK_NAME}?{query}", wait_until="domcontentloaded")
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
    try:
        panel.wait_for(timeout=SLIDES_TIMEOUT_S * 1000)
    except Exception as error:  # noqa: BLE001 - report the page's state, whatever failed
        raise AssertionError(f"the quiz widget did not appear on its slide ({error}); server "
                             f"log:\n{_log_tail(log_path)}") from None
    # The first click into the freshly run cell only moves the notebook's focus there
    # (measured: an option clicked first stays unchosen, every later click counts), so
    # click the question text first, as a presenter pointing at it would.
    present.locator(".deepfm-quiz-question").first.click()
    for letter in (wrong, question.answer):
        expected = " ".join(quiz.check(question_id, letter).text.split())
        assert answer(panel, letter) == expected
