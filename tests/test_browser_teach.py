"""What an instructor shows, in a real browser (headless Chromium, driven by Playwright).

1. The playground in JupyterLab: a scratch notebook shows the panel; a setting is changed in
   the page, Train pressed, the plot redraws and the comparison table gains a row; a second,
   long run is stopped from the page after its first epoch and joins the table marked as
   stopped, while the kernel keeps answering.
2. The static edition (scripts/build_site.py), opened from disk: the course map links to a
   notebook page, whose quiz answer unfolds, and nothing is fetched from the network.

Reuses the JupyterLab and browser helpers of tests/test_browser.py (skipped, like it, when
Chromium or Playwright is missing).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import nbformat
import pytest
from test_browser import (  # the sibling test module: tests/ is on sys.path under pytest
    FEEDBACK_TIMEOUT_S,
    _open_notebook,
    _page,
    _run_all_and_wait,
    _wait_until,
    jupyterlab,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
TRAIN_TIMEOUT_S = 90  # a tiny run takes a second or two; room for a busy 2-core machine
# Small settings, so the runs in the page take seconds (the stopped run would take ~30 s).
PANEL_CELL = ('from deepfm_lite import playground\n\n'
              'panel = playground.show(rows=4_000, embed_dim=4, hidden="16", epochs=2, lr=0.01)')

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


def test_playground_trains_plots_adds_rows_and_stops_in_jupyterlab(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    _write_playground_notebook(root / "playground.ipynb")
    with jupyterlab(root, tmp_path / "home") as (base, token, log_path), \
            _page(tmp_path / "home") as page:
        _open_notebook(page, base, token, "playground.ipynb", log_path)
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

        # A long run (50 epochs on 40,000 rows), stopped from the page after its first epoch.
        epochs = panel.locator(".deepfm-playground-epochs input")
        epochs.fill("50")
        epochs.press("Enter")
        rows = panel.locator(".deepfm-playground-rows input")
        rows.fill("40000")
        rows.press("Enter")
        panel.locator("button.deepfm-playground-train-button").click()
        status = panel.locator(".deepfm-playground-status")
        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while "Epoch 1:" not in status.inner_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Epoch 1:" in status.inner_text(), status.inner_text()
        assert page.evaluate(KERNEL_EVAL_JS, "panel.running") == "True"  # kernel still answers
        panel.locator("button.deepfm-playground-stop-button").click()
        second = _wait_for_rows(page, 2, log_path)
        cells = second[1].split()
        assert cells[0] == "2" and cells[-1] == "True", second  # run 2, marked stopped
        assert "stopped after" in status.inner_text()
        stored = page.evaluate(KERNEL_EVAL_JS, "panel.table[['epochs', 'stopped']].to_dict()")
        assert "'stopped': {1: False, 2: True}" in stored, stored


def _load_build_site():
    spec = importlib.util.spec_from_file_location("build_site", REPO / "scripts" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_static_edition_index_opens_and_links_to_a_notebook_page(tmp_path):
    site = tmp_path / "site"
    _load_build_site().build_site(site, only=["05"])
    with _page(tmp_path / "home") as page:
        fetched = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto((site / "index.html").as_uri(), wait_until="load")
        assert page.title() == "deepfm-lite course map"
        page.locator("a", has_text="05 · DeepFM").click()
        page.wait_for_url("**/05_deepfm.html", timeout=FEEDBACK_TIMEOUT_S * 1000)
        heading = page.locator("h1").first.inner_text(timeout=FEEDBACK_TIMEOUT_S * 1000)
        assert heading.startswith("05 · DeepFM")
        answer = page.locator("details.deepfm-quiz-answer").first
        assert not answer.locator("ul").is_visible()  # folded until the reader asks
        answer.locator("summary").click()
        assert answer.locator("ul").is_visible() and "Answer:" in answer.inner_text()
        page.locator(".site-nav a", has_text="Course map").click()
        page.wait_for_url("**/index.html", timeout=FEEDBACK_TIMEOUT_S * 1000)
    assert fetched and all(url.startswith("file://") for url in fetched), fetched

