"""The readable web edition (scripts/build_site.py, Sphinx + MyST-NB + Furo): every internal
link and anchor resolves, every page is on the course map and walks to the next, quizzes show
their answer folded, each notebook page offers its notebook for download, and no page loads
anything from the network.

The full edition is built once for the module (about 5 s on 2 cores). Sphinx, MyST-NB, Furo and
sphinx-mathjax-offline are maintainer tools: the tests are skipped where they are missing.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from repo_scripts import load_script

from deepfm_lite.course import quiz
from deepfm_lite.course.notebooks import course_notebooks

for _tool in ("sphinx", "myst_nb", "furo", "sphinx-mathjax-offline"):
    pytest.importorskip(_tool)

REPO = Path(__file__).resolve().parents[2]
build_site = load_script("scripts/build_site.py")
EDITION = build_site.EDITIONS["en"]

EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # http:, //cdn, data:, ...
LOADING_TAGS = {"script", "link", "img", "iframe", "source", "video", "audio", "embed", "object"}
CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])([^"')\s]+)""")


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the ids it defines."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if values.get("id"):
            self.ids.add(values["id"])


@functools.cache
def parsed(page: Path) -> _Tags:
    """The page's tags and ids, parsed once per page (pages are not changed once built)."""
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def references(page: Path) -> list[tuple[str, str]]:
    """``(tag, value)`` for every href and src of the page."""
    return [(tag, attrs[name]) for tag, attrs in parsed(page).tags
            for name in ("href", "src") if name in attrs]


def links(page: Path, **attributes: str) -> list[str]:
    """The hrefs of the page's tags whose attributes contain all of ``attributes`` (``class_``
    matches one class of the tag)."""
    found = []
    for _, attrs in parsed(page).tags:
        wanted = {name.rstrip("_"): value for name, value in attributes.items()}
        classes = attrs.get("class", "").split()
        if all((value in classes) if name == "class" else attrs.get(name) == value
               for name, value in wanted.items()) and "href" in attrs:
            found.append(attrs["href"])
    return found


def resolve(page: Path, value: str) -> tuple[Path, str]:
    """The file and the (decoded) anchor an internal link of ``page`` points at."""
    path, _, anchor = value.partition("#")
    path = path.split("?", 1)[0]
    target = (page.parent / urllib.parse.unquote(path)).resolve() if path else page
    return target, urllib.parse.unquote(anchor)


def broken_links(site: Path) -> list[str]:
    """``page: link`` for every internal href/src whose file (or #anchor) is missing."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        for _, value in references(page):
            if EXTERNAL.match(value):
                continue
            target, anchor = resolve(page, value)
            if not target.is_file() or not target.is_relative_to(site.resolve()):
                broken.append(f"{page.relative_to(site)}: {value}")
            elif anchor and target.suffix == ".html" and anchor not in parsed(target).ids:
                broken.append(f"{page.relative_to(site)}: {value} (no such anchor)")
    return broken


def notebook_pages() -> dict[str, Path]:
    """Each notebook's page in the English edition (relative to ``en/``) -> its shipped file."""
    pages = {}
    for part in EDITION.parts:
        for notebook in course_notebooks(REPO / part.source):
            pages[f"{part.folder}/{notebook.stem}.html".lstrip("/")] = notebook
    return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The full site, built once for the module."""
    out = tmp_path_factory.mktemp("site") / "site"
    build_site.build_site(out)
    return out


def test_every_internal_link_and_anchor_of_the_site_resolves(site):
    assert broken_links(site) == []


def test_links_between_notebooks_land_on_their_pages_and_sections(site):
    course_map = site / "en" / "00_course_map.html"
    assert {"05_deepfm.html", "exercises/01_logloss_auc.html", "glossary.html"} <= set(
        links(course_map))
    exercise = site / "en" / "exercises" / "05_deepfm_shared_embedding.html"
    assert "../05_deepfm.html#1.-Two-parts,-one-table" in links(exercise)
    assert "measuring.html#05-sharing" in links(site / "en" / "06_experiments.html")
    for page in (site / "en").rglob("*.html"):
        assert not [v for _, v in references(page) if re.search(r"\.(ipynb|md)(#|$)", v)
                    and "_downloads/" not in v], f"{page.name} links a source file"


def test_the_course_map_lists_every_notebook_and_the_appendices(site):
    index = site / "en" / "index.html"
    expected = set(notebook_pages()) | {"glossary.html", "measuring.html"}
    assert expected <= set(links(index)), sorted(expected - set(links(index)))
    assert "08 · Review" in index.read_text(encoding="utf-8")


def test_the_appendices_are_pages_with_their_anchors(site):
    measuring = site / "en" / "measuring.html"
    assert {"seeds", "threads", "05-sharing"} <= parsed(measuring).ids
    glossary = (site / "en" / "glossary.html").read_text(encoding="utf-8")
    assert "术语表" in glossary and "oracle" in glossary


@pytest.mark.parametrize("part", EDITION.parts, ids=lambda part: part.source)
def test_every_quiz_shows_its_question_and_a_folded_answer(site, part):
    for notebook_path in course_notebooks(REPO / part.source):
        notebook = nbformat.read(notebook_path, as_version=4)
        asked = re.findall(r'quiz\.ask\("([^"]+)"\)', "\n".join(c.source for c in notebook.cells
                                                             if c.cell_type == "code"))
        page = (site / "en" / part.folder / f"{notebook_path.stem}.html").read_text("utf-8")
        assert page.count('<details class="deepfm-quiz-answer">') == len(asked), notebook_path
        for question_id in asked:
            after_question = page.split(f"Quiz {question_id}", 1)[1]
            assert f"Answer: {quiz.get(question_id).answer}" in after_question.split(
                "</details>", 1)[0]
        assert "widget-view+json" not in page and "require.min.js" not in page


def test_every_notebook_page_offers_the_shipped_notebook_for_download(site):
    for page, notebook in notebook_pages().items():
        downloads = links(site / "en" / page, class_="download")
        assert len(downloads) == 1, page
        target, _ = resolve(site / "en" / page, downloads[0])
        assert target.name == notebook.name and target.read_bytes() == notebook.read_bytes()


def test_no_page_loads_anything_from_the_network(site):
    for page in site.rglob("*.html"):
        for tag, value in references(page):
            if tag in LOADING_TAGS and EXTERNAL.match(value):
                assert value.startswith("data:"), f"{page.relative_to(site)} loads {value}"
    for stylesheet in site.rglob("*.css"):
        for value in CSS_URL.findall(stylesheet.read_text(encoding="utf-8")):
            assert not EXTERNAL.match(value) or value.startswith("data:"), (stylesheet, value)


def test_formulas_are_typeset_by_the_local_mathjax(site):
    page = site / "en" / "02_fm_math.html"
    scripts = [value for tag, value in references(page) if tag == "script"]
    assert "_static/mathjax/tex-chtml.js" in scripts
    assert (site / "en" / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (site / "en" / "_static" / "mathjax" / "output" / "chtml" / "fonts").is_dir()
    assert len(re.findall(r'class="math notranslate', page.read_text("utf-8"))) > 20


def test_next_links_walk_the_chapters_in_order(site):
    chapters = [name for name in notebook_pages() if "/" not in name]
    walked, page = [], site / "en" / chapters[0]
    while page.name in chapters and len(walked) < 20:
        walked.append(page.name)
        page = resolve(page, links(page, rel="next")[0])[0]
    assert walked == chapters


def test_search_page_and_index_cover_the_chapters(site):
    assert (site / "en" / "search.html").is_file()
    index = (site / "en" / "searchindex.js").read_text(encoding="utf-8")
    assert '"oracl' in index and '"05_deepfm"' in index


def test_the_chooser_links_each_edition(site):
    assert links(site / "index.html") == ["en/index.html", "zh/index.html"]
    assert "../index.html" in links(site / "en" / "05_deepfm.html")


def test_each_chapter_links_to_itself_in_the_other_language(site):
    for chapter in course_notebooks(REPO / "notebooks"):
        page = f"{chapter.stem}.html"
        assert f"../zh/{page}" in links(site / "en" / page), page
        assert f"../en/{page}" in links(site / "zh" / page), page
    assert "中文" in (site / "zh" / "05_deepfm.html").read_text(encoding="utf-8")


def test_a_second_edition_gets_switch_links_to_the_pages_it_shares(tmp_path):
    chapters_only = dataclasses.replace(EDITION, name="Second", parts=EDITION.parts[:1])
    out = tmp_path / "two"
    build_site.build_site(out, only=["01"], editions={"en": EDITION, "xx": chapters_only})
    assert "../xx/01_ctr_basics.html" in links(out / "en" / "01_ctr_basics.html")
    assert "../en/01_ctr_basics.html" in links(out / "xx" / "01_ctr_basics.html")
    exercise = out / "en" / "exercises" / "01_logloss_auc.html"
    assert not [v for v in links(exercise) if "/xx/" in v]  # xx has no exercises
    assert set(links(out / "index.html")) == {"en/index.html", "xx/index.html"}
    assert not [link for link in broken_links(out) if "/xx/" in link or "/en/" in link]


def test_a_quick_build_of_some_notebooks_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "quick"
    (out / "stale.html").parent.mkdir(parents=True)
    (out / "stale.html").write_text("left from an older build")
    assert build_site.main(["--out", str(out), "--only", "07"]) == 0
    printed = capsys.readouterr()
    assert "wrote 13 pages" in printed.out  # per edition: 07, its exercise and solution, 3 more
    assert printed.err == ""  # no warning from Sphinx
    assert not (out / "stale.html").exists()
    pages = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
    per_edition = {"index.html", "07_hyperparameters.html", "exercises/07_ablation.html",
                   "solutions/07_ablation.html", "glossary.html", "measuring.html",
                   "search.html", "genindex.html"}
    assert pages == {"index.html"} | {f"{code}/{page}" for code in ("en", "zh")
                                      for page in per_edition}
