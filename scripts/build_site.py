"""Build the course's static HTML edition: ``python scripts/build_site.py [--out site]``.

Every notebook of ``notebooks/``, ``exercises/`` and ``solutions/`` becomes a page with its saved
outputs (nothing is executed), the appendices ``notebooks/glossary.md`` and
``notebooks/measuring.md`` become ``glossary.html`` and ``measuring.html``, and ``index.html``
is the course map linking them all. Links are rewritten from ``.ipynb`` and ``.md`` to the
pages. The folder can be copied to any web server or
opened from disk.

Quizzes: a saved quiz cell holds the question as text and HTML, then the answer widget, which
a static page cannot run. The widget's output is replaced by the answer and every option's
explanation from the quiz bank, folded in a ``<details>`` element, so a reader answers first
and then unfolds it.

No network: nbconvert's templates are read from the installed package, and the pages load
nothing from elsewhere when viewed: the template's CDN scripts (require.js, the widget manager,
mermaid, MathJax) are left out, so formulas show as their TeX source. ``--mathjax-url URL``
puts MathJax back from a URL you choose (a copy on your own server, or a CDN).
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from deepfm_lite.course import quiz

REPO = Path(__file__).resolve().parents[1]
# (source folder, folder in the site, heading on the course map)
PARTS = [("notebooks", "", "Chapters"), ("exercises", "exercises", "Exercises"),
         ("solutions", "solutions", "Solutions (open after trying the exercise)")]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
QUIZ_HEADER = re.compile(r"^(Quiz|小测) (\d\d\.[a-z0-9_]+)$")

# The lab template without the scripts it fetches from a CDN when a page is viewed.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{%- if resources.mathjax_url -%}{{ super() }}{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style>
.site-nav { padding: 8px 16px; font-family: var(--jp-ui-font-family); font-size: 14px; }
details.deepfm-quiz-answer { margin: 4px 0 8px; }
details.deepfm-quiz-answer summary { cursor: pointer; font-weight: bold; }
</style>{% endblock extra_css %}
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       line-height: 1.5; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
code {{ background: #f4f4f4; padding: 0 3px; }}
a.anchor-link {{ display: none; }}
</style></head>
<body>
{body}
</body></html>
"""


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


def static_quizzes(notebook: nbformat.NotebookNode) -> int:
    """Replace each quiz's answer widget by its folded answer; returns how many were replaced.

    The question a widget answers is the one shown just before it in the same cell (its plain
    text starts with ``Quiz <id>``, or ``小测 <id>`` in Chinese). Any other widget output is
    dropped, its plain-text stand-in kept.
    """
    replaced = 0
    for cell in notebook.cells:
        asked = None
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            first_line = str(data.get("text/plain", "")).split("\n", 1)[0]
            header = QUIZ_HEADER.match(first_line)
            if header and WIDGET_VIEW not in data:
                asked = (header.group(2), "zh" if header.group(1) == "小测" else "en")
            if WIDGET_VIEW not in data:
                continue
            data.pop(WIDGET_VIEW)
            if asked:
                data["text/html"] = answer_details(*asked)
                replaced += 1
    notebook.metadata.pop("widgets", None)  # no widget state: nothing for a page to load
    return replaced


# --------------------------------------------------------------------------- pages


APPENDICES = {"glossary": "Glossary", "measuring": "How the numbers were measured"}


def rewrite_links(page: str) -> str:
    """Point links at the built pages: ``x.ipynb`` -> ``x.html``, the appendices
    (``glossary.md``, ``measuring.md``) -> ``.html`` (external links are left alone)."""
    def local(match: re.Match) -> str:
        attribute, target = match.group(1), match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return match.group(0)
        target = re.sub(r"\.ipynb(?=$|#)", ".html", target)
        target = re.sub(r"^((?:\.\./)+)notebooks/", r"\1", target)  # chapters sit at the root
        target = re.sub(r"(^|/)(glossary|measuring)\.md(?=$|#)", r"\1\2.html", target)
        return f'{attribute}="{target}"'

    return re.sub(r'(href|src)="([^"]*)"', local, page)


def navigation(depth: int) -> str:
    up = "../" * depth
    return (f'<nav class="site-nav"><a href="{up}index.html">Course map</a> · '
            f'<a href="{up}glossary.html">Glossary</a> · '
            f'<a href="{up}measuring.html">How the numbers were measured</a></nav>')


def notebook_outline(notebook: nbformat.NotebookNode) -> tuple[str, list[str]]:
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


def make_exporter(mathjax_url: str | None) -> HTMLExporter:
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"site": TEMPLATE})],
                            template_file="site", mathjax_url=mathjax_url or "")
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    return exporter


def convert_notebook(source: Path, target: Path, exporter: HTMLExporter,
                     depth: int) -> tuple[str, list[str]]:
    """Write ``source``'s page to ``target``; return its title and sections."""
    notebook = nbformat.read(source, as_version=4)
    static_quizzes(notebook)
    page, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": source.stem}})
    page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + navigation(depth), page, count=1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rewrite_links(page), encoding="utf-8")
    return notebook_outline(notebook)


def markdown_page(title: str, markdown: str, depth: int = 0) -> str:
    return PAGE.format(title=html.escape(title),
                       body=navigation(depth) + rewrite_links(markdown2html_mistune(markdown)))


def course_map(pages: dict[str, list[tuple[str, str, list[str]]]]) -> str:
    """The index page's markdown: every page, by part, chapters with their sections."""
    lines = ["# deepfm-lite: the readable edition", "",
             "The course's notebooks with their saved outputs, to read without running "
             "anything. Quizzes show their question; unfold *Answer and explanations* after you "
             "have chosen. To run the code, answer with buttons and do the exercises, open the "
             "notebooks in JupyterLab (`jupyter lab notebooks/`). Terms in English and Chinese "
             "are in the [glossary](glossary.md); how the numbers were measured is in the "
             "[measuring appendix](measuring.md).", ""]
    for source, _, heading in PARTS:
        if not pages.get(source):
            continue
        lines += [f"## {heading}", ""]
        for link, title, sections in pages[source]:
            lines.append(f"- [{title or link}]({link})")
            if source == "notebooks" and sections:
                lines.append(f"  <br><small>{html.escape(' · '.join(sections))}</small>")
        lines.append("")
    return "\n".join(lines)


def build_site(out: Path, repo: Path = REPO, mathjax_url: str | None = None,
               only: list[str] | None = None) -> list[Path]:
    """Build the edition into ``out`` (emptied first); returns the pages written.

    ``only`` limits the notebooks to those whose names start with one of its prefixes (for
    quick builds); the index and the appendices are always written.
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    exporter = make_exporter(mathjax_url)
    pages: dict[str, list[tuple[str, str, list[str]]]] = {}
    written = []
    for source, folder, _ in PARTS:
        for path in sorted((repo / source).glob("[0-9][0-9]_*.ipynb")):
            if only and not any(path.name.startswith(prefix) for prefix in only):
                continue
            link = f"{folder}/{path.stem}.html" if folder else f"{path.stem}.html"
            title, sections = convert_notebook(path, out / link, exporter, link.count("/"))
            pages.setdefault(source, []).append((link, title, sections))
            written.append(out / link)
    for name, title in APPENDICES.items():
        text = (repo / "notebooks" / f"{name}.md").read_text(encoding="utf-8")
        (out / f"{name}.html").write_text(markdown_page(title, text), encoding="utf-8")
    (out / "index.html").write_text(markdown_page("deepfm-lite course map", course_map(pages)),
                                    encoding="utf-8")
    return written + [out / f"{name}.html" for name in APPENDICES] + [out / "index.html"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "site",
                        help="folder to write (emptied first; default: site/)")
    parser.add_argument("--mathjax-url", default=None,
                        help="load MathJax from this URL to typeset formulas (default: none; "
                             "formulas show as TeX)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="build only notebooks whose names start so (e.g. 00 05)")
    args = parser.parse_args(argv)
    written = build_site(args.out, mathjax_url=args.mathjax_url, only=args.only)
    print(f"wrote {len(written)} pages to {args.out}; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
