"""The static HTML edition (scripts/build_site.py): every internal link resolves, every page
is on the course map, quizzes show their answer in text, and no page loads a script from the
network."""

from __future__ import annotations

import functools
import re
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from repo_scripts import load_script

from deepfm_lite.course import quiz

REPO = Path(__file__).resolve().parents[2]
build_site = load_script("scripts/build_site.py")

EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, mailto:, data:, ...


class _References(HTMLParser):
    """Every href and src of a page, with the tag and the ids it defines."""

    def __init__(self):
        super().__init__()
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.references.append((tag, name, value))
            elif name == "id" and value:
                self.ids.add(value)


@functools.cache
def references(page: Path) -> _References:
    """The page's references and ids, parsed once per page (pages are not changed once built)."""
    parser = _References()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def broken_links(site: Path) -> list[str]:
    """``page: link`` for every internal href/src whose file (or #anchor) is missing."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        for _, _, value in references(page).references:
            if EXTERNAL.match(value):
                continue
            path, _, anchor = value.partition("#")
            target = (page.parent / urllib.parse.unquote(path)).resolve() if path else page
            if not target.is_file() or not target.is_relative_to(site.resolve()):
                broken.append(f"{page.relative_to(site)}: {value}")
            elif anchor and target.suffix == ".html" and anchor not in references(target).ids:
                broken.append(f"{page.relative_to(site)}: {value} (no such anchor)")
    return broken


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The full edition, built once (about 15 s on 2 cores: nbconvert renders every cell)."""
    out = tmp_path_factory.mktemp("site") / "site"
    build_site.build_site(out)
    return out


def test_every_internal_link_of_the_full_edition_resolves(site):
    assert broken_links(site) == []


def test_the_course_map_links_every_notebook_and_the_appendices(site):
    linked = {value for _, name, value in references(site / "index.html").references
              if name == "href"}
    expected = {"glossary.html", "measuring.html"}
    for source, folder, _ in build_site.PARTS:
        for notebook in (REPO / source).glob("[0-9][0-9]_*.ipynb"):
            expected.add(f"{folder}/{notebook.stem}.html" if folder else f"{notebook.stem}.html")
    assert expected <= linked, sorted(expected - linked)
    assert "08 · Review" in (site / "index.html").read_text(encoding="utf-8")


def test_links_between_notebooks_point_at_pages(site):
    course_map = (site / "00_course_map.html").read_text(encoding="utf-8")
    assert 'href="05_deepfm.html"' in course_map
    assert 'href="exercises/01_logloss_auc.html"' in course_map
    assert ".ipynb\"" not in course_map


def test_every_quiz_shows_its_question_and_a_folded_answer(site):
    notebook = nbformat.read(REPO / "notebooks" / "05_deepfm.ipynb", as_version=4)
    asked = re.findall(r'quiz\.ask\("([^"]+)"\)', "\n".join(c.source for c in notebook.cells))
    page = (site / "05_deepfm.html").read_text(encoding="utf-8")
    assert asked and page.count('<details class="deepfm-quiz-answer">') == len(asked)
    for question_id in asked:
        question = quiz.get(question_id)
        assert f"Quiz {question_id}" in page
        answer = f"Answer: {question.answer}"
        assert answer in page.split(f"Quiz {question_id}", 1)[1]  # after its own question
    assert "widget-view+json" not in page


def test_no_page_loads_anything_from_the_network(site):
    for page in site.rglob("*.html"):
        for tag, _, value in references(page).references:
            if tag in ("script", "link", "img", "iframe") and EXTERNAL.match(value):
                assert value.startswith("data:"), f"{page.name} loads {value}"


def test_a_quick_build_of_some_notebooks_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "quick"
    (out / "stale.html").parent.mkdir(parents=True)
    (out / "stale.html").write_text("left from an older build")
    assert build_site.main(["--out", str(out), "--only", "07",
                            "--mathjax-url", "mathjax/tex-chtml.js"]) == 0
    assert "wrote 6 pages" in capsys.readouterr().out  # 07, its exercise and solution, 3 more
    assert not (out / "stale.html").exists()
    page = (out / "07_hyperparameters.html").read_text(encoding="utf-8")
    assert 'src="mathjax/tex-chtml.js' in page  # MathJax only when asked for
    assert {p.name for p in out.rglob("*.html")} == {
        "07_hyperparameters.html", "07_ablation.html", "index.html", "glossary.html",
        "measuring.html"}
