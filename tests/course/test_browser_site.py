"""The readable web edition in a real browser, with the network off: headless Chromium, driven
by Playwright, reads the site from a local HTTP server, and every request for anything else is
aborted (and reported).

* chapters 01-05: MathJax, from the site's own copy, typesets every formula, and no raw ``$$``
  is left in the text;
* the sidebar's search box finds "oracle" in the chapters;
* the "next" link walks the chapters from 00 to 09.

Needs Debian's ``chromium`` package and the ``playwright`` Python package (never
``playwright install``), and the maintainer tools that build the site (Sphinx, MyST-NB, Furo,
sphinx-mathjax-offline); skipped with the reason when any is missing.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_scripts import load_script

pytestmark = pytest.mark.browser

CHROMIUMS = (Path("/usr/bin/chromium"), Path("/usr/lib/chromium/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
]
CHAPTERS = ["00_course_map", "01_ctr_basics", "02_fm_math", "03_embeddings", "04_deep_part",
            "05_deepfm", "06_experiments", "07_hyperparameters", "08_review", "09_full_criteo"]
MATH_TIMEOUT_MS = 60_000
MIN_FORMULAS = 10  # each of chapters 01-05 has dozens


def _chromium() -> Path | None:
    return next((path for path in CHROMIUMS if path.exists()), None)


def _missing_tool() -> str | None:
    if _chromium() is None:
        return "Chromium not found at /usr/bin/chromium (Debian package 'chromium')"
    for module in ("playwright", "sphinx", "myst_nb", "furo", "sphinx-mathjax-offline"):
        if importlib.util.find_spec(module) is None:
            return f"the '{module}' Python package is not installed"
    return None


if _missing_tool():
    pytest.skip(_missing_tool(), allow_module_level=True)

from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402

build_site = load_script("scripts/build_site.py")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """``root`` served on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class OfflinePage:
    """A Chromium page that may load from ``base`` only; ``blocked`` lists what it tried
    elsewhere."""

    def __init__(self, page: Page, base: str):
        self.page, self.base, self.blocked = page, base, []
        page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.base):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def open(self, relative: str) -> Page:
        """Load ``relative`` (to the site's root) and wait until it has loaded."""
        self.page.goto(self.base + relative, wait_until="load")
        return self.page


@pytest.fixture(scope="module")
def browser_site(tmp_path_factory) -> Iterator[OfflinePage]:
    """The full site, built once, served locally and open in one offline Chromium page."""
    out = tmp_path_factory.mktemp("site") / "site"
    build_site.build_site(out)
    with serve(out) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(_chromium()), headless=True,
                                             args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(service_workers="block")
            yield OfflinePage(context.new_page(), base)
        finally:
            browser.close()


@pytest.fixture
def site_page(browser_site) -> Iterator[OfflinePage]:
    """The offline page; after the test, nothing may have been asked of the network."""
    browser_site.blocked.clear()
    yield browser_site
    assert browser_site.blocked == [], f"tried to load {browser_site.blocked}"


def typeset(page: Page) -> dict:
    """Wait for MathJax's first typesetting of the page; the counts of formulas and errors."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=MATH_TIMEOUT_MS)
    return page.evaluate("""async () => {
        await MathJax.startup.promise;
        return {formulas: document.querySelectorAll('.math').length,
                rendered: document.querySelectorAll('mjx-container').length,
                errors: document.querySelectorAll('mjx-merror').length,
                text: document.querySelector('article').innerText};
    }""")


@pytest.mark.parametrize("chapter", CHAPTERS[1:6])
def test_mathjax_typesets_every_formula_of_the_chapter(site_page, chapter):
    counts = typeset(site_page.open(f"en/{chapter}.html"))
    assert counts["rendered"] >= MIN_FORMULAS
    assert counts["rendered"] == counts["formulas"]
    assert counts["errors"] == 0
    assert "$$" not in counts["text"] and "\\[" not in counts["text"]


def test_search_box_finds_a_term_in_the_chapters(site_page):
    page = site_page.open("en/index.html")
    page.fill("input.sidebar-search", "oracle")
    page.press("input.sidebar-search", "Enter")
    page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
    found = page.eval_on_selector_all("#search-results ul.search li a",
                                      "links => links.map(a => a.getAttribute('href'))")
    assert any(href.split("/")[-1].startswith(("00_", "01_")) for href in found), found


def test_next_links_walk_the_chapters_from_00_to_09(site_page):
    page = site_page.open(f"en/{CHAPTERS[0]}.html")
    walked = [CHAPTERS[0]]
    while walked[-1] != CHAPTERS[-1] and len(walked) < len(CHAPTERS):
        page.click("a.next-page")
        page.wait_for_load_state("load")
        walked.append(page.url.rsplit("/", 1)[-1].removesuffix(".html"))
    assert walked == CHAPTERS
