"""The quiz widget and the learner's way in, in a real browser: JupyterLab in headless Chromium,
driven by Playwright.

One JupyterLab server for the module, started the way the README says (``jupyter lab
notebooks/``, so ``notebooks/`` is the root; random free port, random token, every Jupyter
directory in a temporary folder), and one Chromium page:

* notebook 00 opens unmodified, the exercises and solutions are listed in the file browser, and
  a click on 00's link to an exercise opens that exercise in a tab;
* notebook 01's saved outputs are cleared, its first quiz cell is run, and the quiz is answered
  wrongly and rightly through the widget, the feedback text checked each time. (nbval runs
  every cell of 01; here only the widget, which nbval cannot click, is under test.)

Needs Debian's ``chromium`` package and the ``playwright`` Python package (never
``playwright install``); skipped with the reason when either is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from deepfm_lite.course import quiz

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
]
REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "01_ctr_basics.ipynb"
NOTEBOOK_BYTES = NOTEBOOK.read_bytes()
COURSE_MAP = REPO / "notebooks" / "00_course_map.ipynb"
FIRST_EXERCISE = "exercises/01_logloss_auc.ipynb"
FIRST_EXERCISE_LINK = "01 LogLoss and AUC"  # its link text in 00's table of exercises
SETTLE_S = 3  # time for JupyterLab to write kernel metadata into a notebook, if it were to

SERVER_START_TIMEOUT_S = 90
NOTEBOOK_OPEN_TIMEOUT_S = 120
KERNEL_READY_TIMEOUT_S = 120
RUN_ALL_TIMEOUT_S = 420  # a course notebook runs in about a minute; room for a busy box
FEEDBACK_TIMEOUT_S = 30

ASK_CALL = re.compile(r"""quiz\.ask\(\s*["']([^"']+)["'](?:\s*,\s*lang\s*=\s*["'](\w+)["'])?""")

# JupyterLab user settings for the run: no autosave (the notebook under test is never written),
# every cell rendered (no virtual scrolling hiding the first quiz), no news or update checks.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {
        "checkForUpdates": False, "fetchNews": "false",
    },
}


def _missing_tool() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (Debian package 'chromium')"
    if importlib.util.find_spec("playwright") is None:
        return "the 'playwright' Python package is not installed"
    return None


if _missing_tool():
    pytest.skip(_missing_tool(), allow_module_level=True)

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_lab_settings(settings_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


def _isolated_env(home: Path) -> dict[str, str]:
    """The server's (and so the kernel's) environment, with every Jupyter dir under ``home``.

    Its kernels start from the installed kernelspec, as on a learner's machine.
    """
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTERLAB_SETTINGS_DIR": "settings",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython",
    }
    for name, sub in dirs.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env.update(JUPYTER_PLATFORM_DIRS="1", DEEPFM_LITE_PROGRESS="0", MPLBACKEND="Agg",
               DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0", PYTHONUNBUFFERED="1")
    _write_lab_settings(home / "settings")
    return env


def _log_tail(log_path: Path, chars: int = 3000) -> str:
    try:
        return log_path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server log)"


def _wait_for_server(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"JupyterLab exited with code {process.returncode} while "
                                 f"starting; log:\n{_log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer {url.split('?')[0]} within "
                         f"{SERVER_START_TIMEOUT_S} s; log:\n{_log_tail(log_path)}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its kernels: its own process group, which it was started in."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def jupyterlab(root: Path, home: Path) -> Iterator[tuple[str, str, Path]]:
    """A JupyterLab server serving ``root``; yields (base url, token, log path)."""
    port, token = _free_port(), secrets.token_hex(16)
    log_path = home / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
        "--LabApp.extension_manager=readonly",  # no package-registry lookup (node) at start
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",  # absolute: not in root
    ]
    env = _isolated_env(home)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", process, log_path)
        yield base, token, log_path
    finally:
        _stop(process)


# --------------------------------------------------------------------------- the browser

NOTEBOOK_OPEN_JS = """(path) => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  return !!(widget && widget.sessionContext && widget.content && widget.content.widgets
            && widget.context && widget.context.path === path);
}"""

KERNEL_READY_JS = """() => {
  const context = window.jupyterapp.shell.currentWidget.sessionContext;
  const kernel = context.session && context.session.kernel;
  return !!(context.isReady && kernel && kernel.status === 'idle');
}"""

RUN_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
  const errors = [];
  cells.forEach((cell, index) => {
    for (const output of cell.model.outputs.toJSON()) {
      if (output.output_type === 'error') {
        errors.push(`code cell ${index}: ${output.ename}: ${output.evalue}`);
      }
    }
  });
  const pending = cells.filter(cell => cell.model.executionCount === null).length;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {cells: cells.length, pending, errors, status: kernel ? kernel.status : 'none'};
}"""


def _wait_until(page: Page, script: str, timeout_s: float, what: str, log_path: Path,
                arg: object = None) -> None:
    try:
        page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000, polling=250)
    except PlaywrightError as error:
        raise AssertionError(f"{what} within {timeout_s} s ({error.message.splitlines()[0]}); "
                             f"server log:\n{_log_tail(log_path)}") from None


DOCUMENT_STATE_JS = """(path) => {
  for (const widget of window.jupyterapp.shell.widgets('main')) {
    if (widget.context && widget.context.path === path) {
      return {path, dirty: widget.context.model.dirty};
    }
  }
  return null;
}"""


def _run_all_and_wait(page: Page, log_path: Path) -> None:
    """Clear the saved outputs, run every cell, wait until all ran; fail fast on an error."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("window.jupyterapp.commands.execute('runmenu:run-all')")
    deadline, state = time.monotonic() + RUN_ALL_TIMEOUT_S, {}
    while time.monotonic() < deadline:
        state = page.evaluate(RUN_STATE_JS)
        if state["errors"]:
            raise AssertionError(f"a cell raised while running all: {state['errors']}")
        if state["pending"] == 0 and state["status"] == "idle":
            return
        time.sleep(0.5)
    raise AssertionError(f"cells still running after {RUN_ALL_TIMEOUT_S} s: {state}; "
                         f"server log:\n{_log_tail(log_path)}")


def _answer_first_quiz(page: Page, letter: str) -> str:
    """Answer ``letter`` in the first quiz widget of the notebook in view (:func:`answer`)."""
    panel = page.locator(".jp-NotebookPanel:visible .deepfm-quiz").first
    panel.scroll_into_view_if_needed(timeout=FEEDBACK_TIMEOUT_S * 1000)
    return answer(panel, letter)


def answer(panel, letter: str) -> str:
    """Choose ``letter`` in a quiz panel (until the radio button shows it chosen), press Check,
    return the new feedback text."""
    feedback = panel.locator(".deepfm-quiz-feedback")
    before = feedback.inner_text(timeout=FEEDBACK_TIMEOUT_S * 1000)
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


def first_quiz(notebook_path: Path) -> tuple[int, str, str]:
    """The cell index, id and language of the first ``quiz.ask(...)`` in the notebook."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        match = ASK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if match:
            return index, match.group(1), match.group(2) or "en"
    raise AssertionError(f"{notebook_path} has no quiz.ask(...) cell")


def _run_one_cell(page: Page, index: int, log_path: Path) -> None:
    """Clear the saved outputs, run cell ``index`` alone, wait until it ran without an error."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate(f"window.jupyterapp.shell.currentWidget.content.activeCellIndex = {index}")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")
    _wait_until(page, f"""() => {{
      const panel = window.jupyterapp.shell.currentWidget;
      const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
      const cell = panel.content.widgets[{index}];
      return cell.model.executionCount !== null && !!kernel && kernel.status === 'idle';
    }}""", RUN_ALL_TIMEOUT_S, f"cell {index} did not run", log_path)
    errors = [output for output in page.evaluate(f"""() => window.jupyterapp.shell.currentWidget
      .content.widgets[{index}].model.outputs.toJSON()""") if output["output_type"] == "error"]
    assert not errors, f"cell {index} raised: {errors}"


@contextlib.contextmanager
def _page(home: Path) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(home / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            yield browser.pages[0] if browser.pages else browser.new_page()
        finally:
            browser.close()


def _open_notebook(page: Page, base: str, token: str, relative: str, log_path: Path) -> None:
    """Open ``relative`` (a path under the server's root) and wait for its idle kernel.

    In a page that already shows JupyterLab, the notebook opens in a new tab (JupyterLab's
    own open command), as a learner opens a second notebook; otherwise the page loads
    JupyterLab at that notebook."""
    if page.evaluate("() => !!window.jupyterapp"):
        page.evaluate("(path) => { window.jupyterapp.commands.execute('docmanager:open', "
                      "{path}); }", urllib.parse.unquote(relative))
    else:
        page.goto(f"{base}/lab/tree/{relative}?token={token}", wait_until="domcontentloaded",
                  timeout=NOTEBOOK_OPEN_TIMEOUT_S * 1000)
    _wait_until(page, NOTEBOOK_OPEN_JS, NOTEBOOK_OPEN_TIMEOUT_S,
                f"JupyterLab did not open {relative}", log_path, arg=urllib.parse.unquote(relative))
    _wait_until(page, KERNEL_READY_JS, KERNEL_READY_TIMEOUT_S,
                "the kernel was not ready and idle", log_path)


@dataclasses.dataclass
class Lab:
    """The module's JupyterLab server (rooted at notebooks/) and its Chromium page."""

    base: str
    token: str
    log_path: Path
    page: Page


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """``jupyter lab notebooks/``, the README's launch, and one page, shared by the tests below:
    each opens its own notebook in its own tab and kernel."""
    home = tmp_path_factory.mktemp("jupyterlab-home")
    with jupyterlab(REPO / "notebooks", home) as (base, token, log_path), _page(home) as page:
        yield Lab(base, token, log_path, page)


# --------------------------------------------------------------------------- the tests


def test_first_quiz_of_notebook_01_answers_wrongly_then_rightly(lab):
    index, question_id, lang = first_quiz(NOTEBOOK)
    question = quiz.get(question_id)
    wrong = next(o.letter for o in question.options if o.letter != question.answer)
    page = lab.page
    _open_notebook(page, lab.base, lab.token, NOTEBOOK.name, lab.log_path)
    _run_one_cell(page, index, lab.log_path)

    question_text = " ".join(question.question[lang].split())
    shown = " ".join(page.locator(".jp-NotebookPanel:visible .jp-Notebook").inner_text().split())
    assert question_text in shown, "the quiz's question text is not shown"

    expected_wrong = quiz.check(question_id, wrong, lang=lang).text
    assert _answer_first_quiz(page, wrong) == " ".join(expected_wrong.split())
    expected_right = quiz.check(question_id, question.answer, lang=lang).text
    assert _answer_first_quiz(page, question.answer) == " ".join(expected_right.split())
    assert NOTEBOOK.read_bytes() == NOTEBOOK_BYTES, "the browser run wrote notebook 01"


def test_exercise_opens_from_the_course_maps_link_under_jupyter_lab_notebooks(lab):
    relative = COURSE_MAP.relative_to(REPO / "notebooks").as_posix()
    before = COURSE_MAP.read_bytes()
    page, log_path = lab.page, lab.log_path
    _open_notebook(page, lab.base, lab.token, relative, log_path)
    opened_at = time.monotonic()

    page.evaluate("window.jupyterapp.commands.execute('filebrowser:activate')")
    names = page.locator(".jp-FileBrowser .jp-DirListing-itemText")
    for folder in ("exercises", "solutions"):
        names.filter(has_text=re.compile(rf"^\s*{folder}\s*$")).first.wait_for(
            timeout=FEEDBACK_TIMEOUT_S * 1000)

    # JupyterLab rewrites a relative link's href (to a /files/ URL, with a command that
    # opens the document), so the link is found by its text.
    link = page.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown a",
                        has_text=FIRST_EXERCISE_LINK).first
    link.scroll_into_view_if_needed(timeout=FEEDBACK_TIMEOUT_S * 1000)
    link.click(timeout=FEEDBACK_TIMEOUT_S * 1000)
    _wait_until(page, f"""() => {{
      const widget = window.jupyterapp.shell.currentWidget;
      return !!(widget && widget.context && widget.context.path === "{FIRST_EXERCISE}"
                && widget.content && widget.content.widgets
                && widget.content.widgets.length > 0);
    }}""", NOTEBOOK_OPEN_TIMEOUT_S, f"clicking the link did not open {FIRST_EXERCISE}",
                log_path)
    title = page.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown h1").first
    assert "Exercise 1" in title.inner_text(timeout=FEEDBACK_TIMEOUT_S * 1000)
    tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel").all_inner_texts()
    assert {"00_course_map.ipynb", "01_logloss_auc.ipynb"} <= set(tabs), tabs

    # The course map, left open in its tab all along, is still unmodified: in the page (not
    # dirty) and on disk, at least SETTLE_S after it opened.
    time.sleep(max(0.0, SETTLE_S - (time.monotonic() - opened_at)))
    state = page.evaluate(DOCUMENT_STATE_JS, relative)
    assert state == {"path": relative, "dirty": False}, f"opening {relative} modified it: {state}"
    assert COURSE_MAP.read_bytes() == before


def test_a_chinese_notebook_opened_from_the_zh_folder_answers_in_chinese(lab):
    chinese = REPO / "zh" / "notebooks" / NOTEBOOK.name
    before = chinese.read_bytes()
    index, question_id, _ = first_quiz(chinese)
    question = quiz.get(question_id)
    wrong = next(o.letter for o in question.options if o.letter != question.answer)
    page = lab.page
    _open_notebook(page, lab.base, lab.token, f"zh/{NOTEBOOK.name}", lab.log_path)
    _run_one_cell(page, index, lab.log_path)

    shown = " ".join(page.locator(".jp-NotebookPanel:visible .jp-Notebook").inner_text().split())
    assert " ".join(question.question["zh"].split()) in shown, "the question is not in Chinese"
    expected = quiz.check(question_id, wrong, lang="zh").text
    assert _answer_first_quiz(page, wrong) == " ".join(expected.split())
    assert chinese.read_bytes() == before, "the browser run wrote the Chinese notebook"
