"""Build the course's readable web edition: ``python scripts/build_site.py [--out site]``.

Sphinx with MyST-NB turns every notebook of ``notebooks/``, ``exercises/`` and ``solutions/``
into a page with its saved outputs (``nb_execution_mode = "off"``: nothing is executed), the
appendices ``notebooks/glossary.md`` and ``notebooks/measuring.md`` into ``glossary.html`` and
``measuring.html``, and writes a course map as each edition's ``index.html``. The Furo theme
gives a sidebar, a search box (Sphinx's own index, no server needed) and previous/next links
that walk the chapters 00 -> 09, then the exercises, solutions and appendices. Each notebook
page links to its ``.ipynb`` as shipped, for download.

Editions: each entry of :data:`EDITIONS` (English only for now) is built into ``OUT/<code>/``,
and ``OUT/index.html`` chooses between them. A page links to the same page of every other
edition that has it.

What Sphinx reads is a staging copy of each edition: quiz widgets replaced by their folded
answers (:func:`static_quizzes`), links to ``.ipynb`` and ``.md`` files rewritten to the pages
(:func:`site_target`), and a download link under each notebook's title. Headings keep their
JupyterLab anchors (the heading text with spaces replaced by ``-``) next to Sphinx's own ids,
so links such as ``05_deepfm.ipynb#1.-Two-parts,-one-table`` land on their section.

No network, to build or to read: the theme and search are files of the installed packages, and
MathJax 3 is copied from the ``sphinx-mathjax-offline`` package into ``_static/mathjax``.
Sphinx, MyST-NB, Furo and sphinx-mathjax-offline are maintainer tools, not course
dependencies.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import io
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from deepfm_lite.course import quiz
from deepfm_lite.course.notebooks import course_notebooks

if TYPE_CHECKING:  # Sphinx is a maintainer tool, imported only when the site is built
    from docutils import nodes
    from sphinx.application import Sphinx

REPO = Path(__file__).resolve().parents[1]
SITE_FILES = Path(__file__).resolve().parent / "site"  # templates and CSS for the theme
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
QUIZ_HEADER = re.compile(r"^(Quiz|小测) (\d\d\.[a-z0-9_]+)$")
STAND_INS = {words["widget_stand_in"] for words in quiz.UI.values()}
SHIPPED = "_shipped"  # staging folder of the notebooks as shipped, for the download links


@dataclasses.dataclass(frozen=True)
class Part:
    """A folder of notebooks: where they are, where their pages go, their course-map heading."""

    source: str  # folder of the repository
    folder: str  # folder of the edition ("" for its root)
    heading: str


@dataclasses.dataclass(frozen=True)
class Edition:
    """One language of the site: its sources and the few words the build writes itself."""

    name: str  # the language's own name, on the chooser and the switch links
    language: str  # Sphinx's language code (search stemming, the theme's own words)
    title: str
    intro: str  # the course map's first paragraph (MyST markdown)
    parts: tuple[Part, ...]
    appendices: tuple[str, ...]  # markdown files of the repository, each a page at the root
    download: str  # the download link's text; {name} is the notebook's file name
    appendix_heading: str


EN_INTRO = (
    "The course's notebooks with their saved outputs, to read without running anything. "
    "Quizzes show their question; unfold *Answer and explanations* after you have chosen. "
    "To run the code, answer with buttons and do the exercises, open the notebooks in "
    "JupyterLab (`jupyter lab notebooks/`). Terms in English and Chinese are in the "
    "[glossary](glossary.md); how the numbers were measured is in the "
    "[measuring appendix](measuring.md).")

ZH_INTRO = (
    "课程的全部笔记本及其保存的输出，无需运行即可阅读。小测先显示题目；想好答案后再展开"
    "“Answer and explanations”。要运行代码、用按钮答题和做练习，请在 JupyterLab 中打开笔记本"
    "（`jupyter lab notebooks/`，中文版在 `zh` 文件夹）。中英术语见[术语表](glossary.md)；"
    "数字是怎样测出来的，见[附录](measuring.md)。练习和参考答案目前只有英文版。")

# Each language is one entry, with its own source folders.
EDITIONS: dict[str, Edition] = {
    "en": Edition(
        name="English", language="en", title="deepfm-lite: the readable edition",
        intro=EN_INTRO,
        parts=(Part("notebooks", "", "Chapters"), Part("exercises", "exercises", "Exercises"),
               Part("solutions", "solutions", "Solutions (open after trying the exercise)")),
        appendices=("notebooks/glossary.md", "notebooks/measuring.md"),
        download="Download this notebook ({name})", appendix_heading="Appendices"),
    "zh": Edition(
        name="中文", language="zh_CN", title="deepfm-lite：网页版课程",
        intro=ZH_INTRO,
        parts=(Part("zh/notebooks", "", "章节"),
               Part("exercises", "exercises", "练习（英文）"),
               Part("solutions", "solutions", "参考答案（英文，做完练习再看）")),
        appendices=("zh/notebooks/glossary.md", "zh/notebooks/measuring.md"),
        download="下载这个笔记本（{name}）", appendix_heading="附录"),
}


@dataclasses.dataclass
class Page:
    """A page of an edition: its Sphinx document name, title and ``## `` sections."""

    docname: str  # e.g. "05_deepfm", "exercises/01_logloss_auc", "glossary"
    title: str = ""
    sections: list[str] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- quizzes


def answer_details(question_id: str, lang: str) -> str:
    """The answer and every option's explanation, folded: the quiz's static answer panel."""
    question = quiz.get(question_id)
    words = quiz.UI[lang]
    items = "\n".join(
        f"<li>{'✓' if o.letter == question.answer else '✗'} <b>{o.letter}.</b> "
        f"{html.escape(o.why[lang])}</li>" for o in question.options)
    summary = "答案与解析" if lang == "zh" else "Answer and explanations"
    return (f'<details class="deepfm-quiz-answer"><summary>{summary}</summary>\n'
            f"<p><b>{html.escape(words['answer_is'].format(letter=question.answer))}</b></p>"
            f"\n<ul>\n{items}\n</ul></details>")


def quiz_asked(data: dict) -> tuple[str, str] | None:
    """``(question id, language)`` when an output's data is a quiz question, else None."""
    if WIDGET_VIEW in data:
        return None
    header = QUIZ_HEADER.match(str(data.get("text/plain", "")).split("\n", 1)[0])
    return (header.group(2), "zh" if header.group(1) == "小测" else "en") if header else None


def is_answer_slot(data: dict) -> bool:
    """Whether an output is a quiz's answer widget, or the text it leaves when saved without
    widgets."""
    return WIDGET_VIEW in data or str(data.get("text/plain", "")).strip() in STAND_INS


def fold_answers(outputs: list) -> int:
    """Put each quiz question's folded answer in the answer slot after it, or after the
    question itself when it has none; drop every widget. Returns how many were folded."""
    folded, asked = 0, None
    for output in outputs:
        data = output.get("data", {})
        if asked and is_answer_slot(data):
            data["text/html"] = answer_details(*asked[1])
            folded, asked = folded + 1, None
        elif asked:
            asked[0]["text/html"] += answer_details(*asked[1])
            folded, asked = folded + 1, None
        data.pop(WIDGET_VIEW, None)
        question = quiz_asked(data)
        if question and "text/html" in data:
            asked = (data, question)
    if asked:
        asked[0]["text/html"] += answer_details(*asked[1])
        folded += 1
    return folded


def static_quizzes(notebook: nbformat.NotebookNode) -> int:
    """Show each quiz's answer, folded, in place of its answer widget; returns how many.

    A quiz cell shows the question (its plain text starts with ``Quiz <id>``, or ``小测 <id>``
    in Chinese), then the answer widget, saved as the widget or as its plain-text stand-in.
    That slot gets the answer and every option's explanation in a ``<details>`` element. Any
    other widget output is dropped, its plain-text stand-in kept.
    """
    folded = sum(fold_answers(cell.get("outputs", [])) for cell in notebook.cells)
    notebook.metadata.pop("widgets", None)  # no widget state: nothing for a page to load
    return folded


# --------------------------------------------------------------------------- links


MARKDOWN_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
HTML_LINK = re.compile(r'((?:href|src)=")([^"]*)(")')


def site_target(target: str) -> str:
    """Where a link of a notebook or appendix points in the site (external links unchanged).

    ``x.ipynb`` becomes ``x.html``, the chapters sit at the edition's root (so
    ``../notebooks/x.ipynb`` becomes ``../x.html``), ``zh/x.ipynb`` (the Chinese edition)
    ``../zh/x.html``, and ``glossary.md`` or ``measuring.md`` become their ``.html`` pages;
    anchors are kept.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
        return target
    target = re.sub(r"\.ipynb(?=$|#)", ".html", target)
    target = re.sub(r"^((?:\.\./)+)notebooks/", r"\1", target)
    target = re.sub(r"^zh/", "../zh/", target)  # into the Chinese edition, beside this one
    return re.sub(r"(^|/)(glossary|measuring)\.md(?=$|#)", r"\1\2.html", target)


def rewrite_links(text: str) -> str:
    """``text`` (markdown, HTML in it included) with every link target passed through
    :func:`site_target`."""
    def replace(match: re.Match) -> str:
        return match.group(1) + site_target(match.group(2)) + match.group(3)

    return HTML_LINK.sub(replace, MARKDOWN_LINK.sub(replace, text))


def jupyterlab_anchor(heading: str) -> str:
    """The id JupyterLab gives a heading: its text with every space replaced by ``-``."""
    return heading.replace(" ", "-")


# --------------------------------------------------------------------------- staging


def outline(notebook: nbformat.NotebookNode) -> tuple[str, list[str]]:
    """The notebook's title (its first ``# `` heading) and its ``## `` section headings."""
    title, sections = "", []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# ") and not title:
                title = line[2:].strip()
            elif line.startswith("## "):
                sections.append(line[3:].strip())
    return title, sections


def add_download_link(notebook: nbformat.NotebookNode, shipped: str, text: str) -> None:
    """Put a download link to ``shipped`` (a path from the staging root) under the title."""
    link = f"{{download}}`{text} </{shipped}>`"
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and re.search(r"^# ", cell.source, re.MULTILINE):
            cell.source = re.sub(r"^(# .*)$", lambda m: f"{m.group(1)}\n\n{link}\n",
                                 cell.source, count=1, flags=re.MULTILINE)
            return
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(link))


def stage_notebook(source: Path, staging: Path, docname: str, edition: Edition) -> Page:
    """Write the staging copy of ``source`` (as ``docname``) and the shipped copy beside it."""
    shipped = f"{SHIPPED}/{docname}.ipynb"
    (staging / shipped).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, staging / shipped)
    notebook = nbformat.read(source, as_version=4)
    static_quizzes(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source)
    add_download_link(notebook, shipped, edition.download.format(name=source.name))
    target = staging / f"{docname}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return Page(docname, *outline(notebook))


def stage_appendix(source: Path, staging: Path) -> Page:
    """Copy an appendix into the staging root, its links rewritten."""
    text = rewrite_links(source.read_text(encoding="utf-8"))
    (staging / source.name).write_text(text, encoding="utf-8")
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
    return Page(source.stem, title)


def toctree(caption: str, pages: list[Page]) -> list[str]:
    """A hidden toctree: it orders the sidebar and the previous/next links."""
    return ["```{toctree}", ":hidden:", f":caption: {caption}", "",
            *(page.docname for page in pages), "```", ""]


def course_map(edition: Edition, parts: dict[Part, list[Page]], appendices: list[Page]) -> str:
    """The edition's index page (MyST markdown): every page by part, chapters with sections."""
    lines = [f"# {edition.title}", "", rewrite_links(edition.intro), ""]
    for part, pages in parts.items():
        if not pages:
            continue
        lines += [f"## {part.heading}", ""]
        for page in pages:
            lines.append(f"- [{page.title or page.docname}]({page.docname}.html)")
            if part.folder == "" and page.sections:
                lines.append(f"  <br><small>{html.escape(' · '.join(page.sections))}</small>")
        lines += ["", *toctree(part.heading, pages)]
    return "\n".join(lines + toctree(edition.appendix_heading, appendices))


def stage_edition(edition: Edition, staging: Path, repo: Path,
                  only: list[str] | None) -> list[Page]:
    """Write the edition's Sphinx sources into ``staging``; returns its pages, index last.

    ``only`` keeps the notebooks whose names start with one of its prefixes.
    """
    parts: dict[Part, list[Page]] = {}
    for part in edition.parts:
        parts[part] = [
            stage_notebook(path, staging, f"{part.folder}/{path.stem}".lstrip("/"), edition)
            for path in course_notebooks(repo / part.source)
            if not only or any(path.name.startswith(prefix) for prefix in only)]
    appendices = [stage_appendix(repo / name, staging) for name in edition.appendices]
    (staging / "index.md").write_text(course_map(edition, parts, appendices), encoding="utf-8")
    pages = [page for part_pages in parts.values() for page in part_pages]
    return pages + appendices + [Page("index", edition.title)]


# --------------------------------------------------------------------------- Sphinx


def sphinx_settings(edition: Edition) -> dict:
    """The Sphinx configuration of an edition (there is no ``conf.py``)."""
    return {
        "project": edition.title,
        "language": edition.language,
        "extensions": ["myst_nb", "sphinx-mathjax-offline"],
        "exclude_patterns": [SHIPPED, "_build", "**.ipynb_checkpoints"],
        "html_theme": "furo",
        "html_title": edition.title,
        "templates_path": [str(SITE_FILES / "templates")],
        "html_static_path": [str(SITE_FILES / "static")],
        "html_css_files": ["site.css"],
        "html_sidebars": {"**": [
            "sidebar/brand.html", "sidebar/search.html", "sidebar/scroll-start.html",
            "sidebar/navigation.html", "sidebar/editions.html", "sidebar/scroll-end.html"]},
        "html_copy_source": False,
        "html_show_sourcelink": False,
        "smartquotes": False,  # quotes as written, as JupyterLab shows them (and its anchors)
        "nb_execution_mode": "off",
        "nb_ipywidgets_js": {},  # never the CDN widget manager
        "nb_merge_streams": True,
        "myst_enable_extensions": ["dollarmath", "amsmath"],
        "myst_all_links_external": True,  # staged links already point at the pages
    }


def add_jupyterlab_anchors(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Give every heading its JupyterLab id, beside its section's Sphinx id
    (``doctree-resolved`` handler)."""
    from docutils import nodes

    for section in doctree.findall(nodes.section):
        title = section[0]
        anchor = jupyterlab_anchor(title.astext())
        if anchor not in section["ids"] and not title["ids"]:
            title["ids"].append(anchor)  # the heading's own id, escaped as any attribute


def edition_switch(code: str, pages: dict[str, set[str]],
                   editions: dict[str, Edition]) -> Callable:
    """A ``html-page-context`` handler: the links to this page in the other editions."""
    def handler(app: Sphinx, pagename: str, templatename: str, context: dict,
                doctree: nodes.document | None) -> None:
        up = "../" * (pagename.count("/") + 1)
        context["deepfm_editions"] = [
            {"name": edition.name, "current": other == code,
             "url": f"{up}{other}/{pagename}.html" if pagename in pages[other] else None}
            for other, edition in editions.items()]
        context["deepfm_chooser"] = f"{up}index.html"

    return handler


def run_sphinx(staging: Path, out: Path, settings: dict, page_context: Callable) -> list[str]:
    """Build ``staging`` into ``out`` with Sphinx's HTML builder; returns its warnings.

    Sphinx runs in this process, its docutils roles and directives registered only meanwhile.
    """
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    warnings = io.StringIO()
    with patch_docutils(str(staging)), docutils_namespace():
        app = Sphinx(str(staging), None, str(out), str(staging / "_build" / "doctrees"),
                     "html", confoverrides=settings, status=None, warning=warnings,
                     freshenv=True)
        app.connect("doctree-resolved", add_jupyterlab_anchors)
        app.connect("html-page-context", page_context)
        app.build(force_all=True)
    shutil.rmtree(out.parent / "jupyter_execute", ignore_errors=True)  # MyST-NB's scratch copy
    return [re.sub(r"\x1b\[[0-9;]*m", "", line)
            for line in warnings.getvalue().splitlines() if "WARNING" in line]


# --------------------------------------------------------------------------- the site


def chooser_page(editions: dict[str, Edition]) -> str:
    """``OUT/index.html``: a link to each edition's course map."""
    links = "\n".join(f'<li><a href="{code}/index.html" lang="{edition.language}">'
                      f"{html.escape(edition.name)}: {html.escape(edition.title)}</a></li>"
                      for code, edition in editions.items())
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
            "<title>deepfm-lite</title>\n<style>body { font-family: system-ui, sans-serif; "
            "max-width: 40em; margin: 3em auto; padding: 0 1em; line-height: 1.6; }</style>\n"
            f"</head><body>\n<h1>deepfm-lite</h1>\n<ul>\n{links}\n</ul>\n</body></html>\n")


def build_site(out: Path, repo: Path = REPO, only: list[str] | None = None,
               editions: dict[str, Edition] | None = None) -> list[Path]:
    """Build every edition into ``out/<code>/`` (``out`` emptied first) and the chooser
    ``out/index.html``; returns the pages written (notebooks, appendices, course maps, chooser).

    ``only`` limits the notebooks to those whose names start with one of its prefixes (for
    quick builds); the course maps and appendices are always written. Sphinx's warnings go to
    stderr; a page missing after the build raises RuntimeError.
    """
    editions = editions or EDITIONS
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="deepfm-site-") as tmp:
        staged = {code: stage_edition(edition, Path(tmp) / code, repo, only)
                  for code, edition in editions.items()}
        names = {code: {page.docname for page in pages} for code, pages in staged.items()}
        for code, edition in editions.items():
            warnings = run_sphinx(Path(tmp) / code, out / code, sphinx_settings(edition),
                                  edition_switch(code, names, editions))
            for warning in warnings:
                print(f"{code}: {warning}", file=sys.stderr)
            missing = [p.docname for p in staged[code]
                       if not (out / code / f"{p.docname}.html").is_file()]
            if missing:
                raise RuntimeError(f"{code}: no page for {missing}")
    (out / "index.html").write_text(chooser_page(editions), encoding="utf-8")
    return [out / code / f"{page.docname}.html" for code, pages in staged.items()
            for page in pages] + [out / "index.html"]


def main(argv: list[str] | None = None) -> int:
    """The command line: build the site, say where it is and how long it took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "site",
                        help="folder to write (emptied first; default: site/)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="build only notebooks whose names start so (e.g. 00 05)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = build_site(args.out, only=args.only)
    print(f"wrote {len(written)} pages to {args.out} in {time.perf_counter() - start:.0f} s; "
          f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
