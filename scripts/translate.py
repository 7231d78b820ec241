"""The Chinese edition: gettext catalogues in, Chinese notebooks out.

The English notebooks are the source. Their Chinese text lives in one gettext catalogue per
notebook (``locale/zh/notebooks/05_deepfm.po``, the format Poedit and Weblate open): one message
per markdown cell, keyed by the cell's id, and one per code comment. When an English cell
changes, ``extract`` marks its translation fuzzy (out of date) and keeps the old English beside
it, instead of silently keeping a stale text. The appendix ``measuring.md`` has a catalogue too,
one message per paragraph.

    python scripts/translate.py extract   # add new English text to the catalogues, mark changes
    python scripts/translate.py build     # write zh/notebooks/ from the English and catalogues
    python scripts/translate.py check     # untranslated, out-of-date or unbuilt: exit 1

A built notebook has the English notebook's cells, ids and metadata; its markdown and comments
are the translations, and its first code cell starts by switching the course's language to
Chinese, so quizzes and the interview answer in Chinese. ``build`` keeps a Chinese notebook
(and its saved outputs) whose cells it would write the same; any other it writes afresh without
outputs, to be run with ``python scripts/run_notebooks.py zh/notebooks/NAME.ipynb``.
"""

from __future__ import annotations

import argparse
import copy
import html
import io
import re
import sys
import tokenize
from pathlib import Path

import nbformat
import polib

from deepfm_lite.course.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale" / "zh"
EDITION = ROOT / "zh"
FOLDERS = ("notebooks",)  # the exercises and solutions follow
APPENDICES = ("notebooks/measuring.md",)
# Bilingual already: copied, its links into the Chinese edition made local to it.
COPIES = ("notebooks/glossary.md",)
LANGUAGE_LINE = 'import deepfm_lite; deepfm_lite.settings.language = "zh"  # 中文版\n'
MARKERS = re.compile(r"NBVAL_|YOUR CODE HERE|BEGIN SOLUTION|END SOLUTION|noqa|type:")
SUMMARY_CELL = "zh-summary"  # the English edition's Chinese summary: the Recap's translation
MIN_CHINESE_SHARE = 0.7  # of the letters of a notebook's prose (code, formulas, links aside)
MAX_ENGLISH_RUN = 8  # English words in a row that a Chinese text may not hold
HEADING = re.compile(r"^(#{1,6}) +(.+?) *$", re.M)


# ---- what is translated ----------------------------------------------------------------------


def comments(source: str) -> list[tuple[int, int, str]]:
    """The translatable comments of a code cell: (line, column, text after ``#``), in order.

    IPython lines (``%matplotlib``, ``!pip``) are blanked before Python's tokenizer reads the
    cell; markers such as ``# NBVAL_IGNORE_OUTPUT`` and comments without a word stay as they are.
    """
    lines = ["\n" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines(keepends=True)]
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            if token.type == tokenize.COMMENT:
                text = token.string[1:].strip()
                if re.search(r"[A-Za-z]{2}", text) and not MARKERS.search(text):
                    found.append((token.start[0], token.start[1], text))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return found


def notebook_units(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(context, English) for every message of a notebook: markdown cells, then comments."""
    units = []
    for cell in notebook.cells:
        if cell.get("id") == SUMMARY_CELL:
            continue
        if cell.cell_type == "markdown" and cell.source.strip():
            units.append((cell.id, cell.source))
        elif cell.cell_type == "code":
            units += [(f"{cell.id}#{number}", text)
                      for number, (_, _, text) in enumerate(comments(cell.source))]
    return units


def paragraphs(text: str) -> list[str]:
    return [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]


def markdown_units(text: str) -> list[tuple[str, str]]:
    """(context, English) for a markdown file: one message per paragraph."""
    return [(f"p{number}", part) for number, part in enumerate(paragraphs(text))]


# ---- catalogues -----------------------------------------------------------------------------


def new_catalogue() -> polib.POFile:
    catalogue = polib.POFile(wrapwidth=0)
    catalogue.metadata = {"Project-Id-Version": "deepfm-lite", "Language": "zh_CN",
                          "MIME-Version": "1.0", "Content-Type": "text/plain; charset=UTF-8",
                          "Content-Transfer-Encoding": "8bit"}
    return catalogue


def update_catalogue(catalogue: polib.POFile, units: list[tuple[str, str]]) -> dict[str, int]:
    """Bring ``catalogue`` in step with ``units``: new messages added untranslated, changed
    ones marked fuzzy with their previous English kept, vanished ones made obsolete."""
    by_context = {entry.msgctxt: entry for entry in catalogue if not entry.obsolete}
    counts = {"new": 0, "changed": 0, "obsolete": 0}
    wanted = {context for context, _ in units}
    for context, english in units:
        entry = by_context.get(context)
        if entry is None:
            catalogue.append(polib.POEntry(msgctxt=context, msgid=english, msgstr=""))
            counts["new"] += 1
        elif entry.msgid != english:
            entry.previous_msgid, entry.msgid = entry.msgid, english
            if entry.msgstr and "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
            counts["changed"] += 1
    for context, entry in by_context.items():
        if context not in wanted:
            entry.obsolete = True
            counts["obsolete"] += 1
    return counts


def translation(catalogue: polib.POFile, context: str, english: str) -> str | None:
    """The Chinese for ``english`` at ``context``, or None when missing or out of date."""
    for entry in catalogue:
        if entry.msgctxt == context and not entry.obsolete:
            if entry.msgid == english and entry.msgstr and "fuzzy" not in entry.flags:
                return entry.msgstr
            return None
    return None


def catalogue_path(relative: str) -> Path:
    """``notebooks/05_deepfm.ipynb`` -> ``locale/zh/notebooks/05_deepfm.po``."""
    return LOCALE / Path(relative).with_suffix(".po")


def load_catalogue(relative: str) -> polib.POFile:
    path = catalogue_path(relative)
    return polib.pofile(str(path), wrapwidth=0) if path.exists() else new_catalogue()


# ---- building the Chinese edition -------------------------------------------------------------


def jupyterlab_anchor(heading: str) -> str:
    return heading.strip().replace(" ", "-")


def keep_english_anchors(english: str, chinese: str) -> str:
    """Put the English headings' JupyterLab anchors into the translated cell, so that a link
    to ``05_deepfm.ipynb#1.-Two-parts,-one-table`` lands on the section in both editions."""
    anchors = "".join(f'<a id="{html.escape(jupyterlab_anchor(title))}"></a>'
                      for _, title in HEADING.findall(english))
    if not anchors:
        return chinese
    first_heading = HEADING.search(chinese)
    if first_heading is None:
        return anchors + "\n\n" + chinese
    end = first_heading.end()
    return chinese[:end] + "\n" + anchors + chinese[end:]


def translate_comments(source: str, catalogue: polib.POFile, cell_id: str) -> str:
    lines = source.splitlines(keepends=True)
    for number, (line, column, english) in reversed(list(enumerate(comments(source)))):
        chinese = translation(catalogue, f"{cell_id}#{number}", english)
        if chinese is not None:
            text = lines[line - 1]
            ending = "\n" if text.endswith("\n") else ""
            lines[line - 1] = text[:column] + "# " + chinese + ending
    return "".join(lines)


def build_notebook(english: nbformat.NotebookNode, catalogue: polib.POFile,
                   ) -> tuple[nbformat.NotebookNode, int]:
    """The Chinese notebook, without outputs, and how many messages fell back to English."""
    chinese = copy.deepcopy(english)
    chinese.cells = [cell for cell in chinese.cells if cell.get("id") != SUMMARY_CELL]
    missing = 0
    first_code = True
    for cell in chinese.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            text = translation(catalogue, cell.id, cell.source)
            if text is None:
                missing += 1
            else:
                cell.source = keep_english_anchors(cell.source, text)
        elif cell.cell_type == "code":
            wanted = comments(cell.source)
            cell.source = translate_comments(cell.source, catalogue, cell.id)
            missing += len(wanted) - sum(
                translation(catalogue, f"{cell.id}#{n}", text) is not None
                for n, (_, _, text) in enumerate(wanted))
            if first_code:
                cell.source = LANGUAGE_LINE + cell.source
                first_code = False
            cell.outputs, cell.execution_count = [], None
    return chinese, missing


def same_cells(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> bool:
    """Whether two notebooks hold the same cells (type, id, source, metadata), outputs aside."""
    def key(notebook):
        return [(c.cell_type, c.get("id"), c.source, c.metadata) for c in notebook.cells]
    return key(a) == key(b)


def build_markdown(relative: str, catalogue: polib.POFile) -> tuple[str, int]:
    english = (ROOT / relative).read_text(encoding="utf-8")
    parts, missing = [], 0
    for context, part in markdown_units(english):
        chinese = translation(catalogue, context, part)
        missing += chinese is None
        parts.append(part if chinese is None else chinese)
    return "\n\n".join(parts) + "\n", missing


def copied_text(relative: str) -> str:
    """A bilingual file as the Chinese edition holds it: ``zh/x.ipynb`` links become ``x.ipynb``."""
    return (ROOT / relative).read_text(encoding="utf-8").replace("](zh/", "](")


def sources() -> list[str]:
    """Every English file of the edition, relative to the repository."""
    notebooks = [path.relative_to(ROOT).as_posix() for folder in FOLDERS
                 for path in course_notebooks(ROOT / folder)]
    return notebooks + list(APPENDICES)


def english_units(relative: str) -> list[tuple[str, str]]:
    if relative.endswith(".ipynb"):
        return notebook_units(nbformat.read(ROOT / relative, as_version=4))
    return markdown_units((ROOT / relative).read_text(encoding="utf-8"))


# ---- how Chinese the Chinese is ---------------------------------------------------------------


def prose(markdown: str) -> str:
    """``markdown`` without code spans, formulas, link targets, HTML tags and URLs."""
    for pattern in (r"```.*?```", r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$]*\$", r"<[^>]+>",
                    r"https?://\S+"):
        markdown = re.sub(pattern, " ", markdown, flags=re.S)
    return re.sub(r"\]\([^)]*\)", "]", markdown)


def chinese_share(markdown: str) -> tuple[int, int]:
    """(Chinese characters, Latin letters) of the prose of ``markdown``."""
    text = prose(markdown)
    return len(re.findall(r"[\u4e00-\u9fff]", text)), len(re.findall(r"[A-Za-z]", text))


def english_runs(markdown: str) -> list[str]:
    """Runs of ``MAX_ENGLISH_RUN`` or more English words in a row in the prose of ``markdown``."""
    word = r"[A-Za-z][A-Za-z'’-]*"
    run = rf"{word}(?:[ ,;:()/&*.-]+{word}){{{MAX_ENGLISH_RUN - 1},}}"
    return [match.group(0) for match in re.finditer(run, prose(markdown))]


def quality_problems(relative: str, catalogue: polib.POFile) -> list[str]:
    """The Chinese markdown of one file: its share of Chinese letters and its English runs."""
    chinese = latin = 0
    found = []
    for entry in catalogue:
        if entry.obsolete or not entry.msgstr or "#" in (entry.msgctxt or ""):
            continue
        counts = chinese_share(entry.msgstr)
        chinese, latin = chinese + counts[0], latin + counts[1]
        found += [f"{relative} {entry.msgctxt}: English left: {run[:60]!r}"
                  for run in english_runs(entry.msgstr)]
    if chinese + latin and chinese / (chinese + latin) < MIN_CHINESE_SHARE:
        found.append(f"{relative}: {chinese / (chinese + latin):.0%} of the prose's letters are "
                     f"Chinese, under {MIN_CHINESE_SHARE:.0%}")
    return found


# ---- the commands ---------------------------------------------------------------------------


def extract() -> list[str]:
    report = []
    for relative in sources():
        catalogue = load_catalogue(relative)
        counts = update_catalogue(catalogue, english_units(relative))
        path = catalogue_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalogue.save(str(path))
        report.append(f"{path.relative_to(ROOT)}: {counts['new']} new, {counts['changed']} "
                      f"changed (fuzzy), {counts['obsolete']} obsolete")
    return report


def build() -> list[str]:
    report = []
    for relative in COPIES:
        (EDITION / relative).write_text(copied_text(relative), encoding="utf-8")
    for relative in sources():
        catalogue = load_catalogue(relative)
        target = EDITION / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".md"):
            text, missing = build_markdown(relative, catalogue)
            target.write_text(text, encoding="utf-8")
        else:
            built, missing = build_notebook(nbformat.read(ROOT / relative, as_version=4),
                                            catalogue)
            if target.exists() and same_cells(nbformat.read(target, as_version=4), built):
                continue
            nbformat.write(built, target)
            report.append(f"wrote {target.relative_to(ROOT)}: run it with python "
                          f"scripts/run_notebooks.py {target.relative_to(ROOT)}")
        if missing:
            report.append(f"{target.relative_to(ROOT)}: {missing} message(s) still in English")
    return report


def problems() -> list[str]:
    """Everything that keeps the Chinese edition from matching the English one."""
    found = [f"{(EDITION / relative).relative_to(ROOT)}: not what build writes"
             for relative in COPIES if not (EDITION / relative).is_file()
             or (EDITION / relative).read_text(encoding="utf-8") != copied_text(relative)]
    for relative in sources():
        path = catalogue_path(relative)
        if not path.exists():
            found.append(f"{relative}: no catalogue {path.relative_to(ROOT)}")
            continue
        catalogue = load_catalogue(relative)
        units = english_units(relative)
        untranslated = [context for context, english in units
                        if translation(catalogue, context, english) is None]
        if untranslated:
            found.append(f"{path.relative_to(ROOT)}: {len(untranslated)} untranslated or out "
                         f"of date ({', '.join(untranslated[:5])})")
        found += quality_problems(relative, catalogue)
        target = EDITION / relative
        if relative.endswith(".ipynb"):
            built, _ = build_notebook(nbformat.read(ROOT / relative, as_version=4), catalogue)
            saved = nbformat.read(target, as_version=4) if target.exists() else None
            if saved is None or not same_cells(saved, built):
                found.append(f"{target.relative_to(ROOT)}: not what build writes "
                             "(python scripts/translate.py build)")
            elif any(cell.cell_type == "code" and cell.execution_count is None
                     for cell in saved.cells):
                found.append(f"{target.relative_to(ROOT)}: not run (python "
                             f"scripts/run_notebooks.py {target.relative_to(ROOT)})")
        elif not target.exists() or target.read_text(encoding="utf-8") != build_markdown(
                relative, catalogue)[0]:
            found.append(f"{target.relative_to(ROOT)}: not what build writes")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["extract", "build", "check"])
    args = parser.parse_args(argv)
    if args.command == "check":
        found = problems()
        print("\n".join(found) or "the Chinese edition is complete and up to date")
        return 1 if found else 0
    print("\n".join(extract() if args.command == "extract" else build()) or "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
