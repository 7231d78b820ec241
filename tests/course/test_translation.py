"""The Chinese edition: catalogues complete and current, notebooks built from them, same code."""

import io
import tokenize
from pathlib import Path

import nbformat
import polib
import pytest
from repo_scripts import load_script

from deepfm_lite.course.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def translate():
    return load_script("scripts/translate.py")


def test_the_chinese_edition_is_complete_and_up_to_date(translate):
    # Every message translated and current, Chinese enough, every notebook built and run.
    assert translate.problems() == []


def test_every_chapter_has_its_chinese_edition():
    english = [path.name for path in course_notebooks(ROOT / "notebooks")]
    assert [path.name for path in course_notebooks(ROOT / "zh" / "notebooks")] == english
    assert (ROOT / "notebooks" / "zh").resolve() == (ROOT / "zh" / "notebooks").resolve()


def code_without_comments(source: str) -> list[str]:
    lines = ["\n" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines(keepends=True)]
    tokens = tokenize.generate_tokens(io.StringIO("".join(lines)).readline)
    return [token.string for token in tokens
            if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]


@pytest.mark.parametrize("name", [path.name for path in course_notebooks(ROOT / "notebooks")])
def test_a_chinese_notebook_runs_the_english_code_cell_for_cell(translate, name):
    english = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    chinese = nbformat.read(ROOT / "zh" / "notebooks" / name, as_version=4)
    english_code = [c for c in english.cells if c.cell_type == "code"]
    chinese_code = [c for c in chinese.cells if c.cell_type == "code"]
    assert [c.id for c in chinese_code] == [c.id for c in english_code]
    assert chinese_code[0].source.startswith(translate.LANGUAGE_LINE)
    chinese_code[0].source = chinese_code[0].source[len(translate.LANGUAGE_LINE):]
    for en, zh in zip(english_code, chinese_code):
        assert code_without_comments(zh.source) == code_without_comments(en.source), en.id


def test_a_changed_english_text_marks_its_translation_out_of_date(translate):
    catalogue = translate.new_catalogue()
    translate.update_catalogue(catalogue, [("a1", "One table."), ("b2", "Two parts.")])
    for entry in catalogue:
        entry.msgstr = {"a1": "一张表。", "b2": "两个部分。"}[entry.msgctxt]
    counts = translate.update_catalogue(catalogue, [("a1", "One shared table."), ("c3", "New.")])
    assert counts == {"new": 1, "changed": 1, "obsolete": 1}
    changed = next(entry for entry in catalogue if entry.msgctxt == "a1")
    assert "fuzzy" in changed.flags and changed.previous_msgid == "One table."
    assert translate.translation(catalogue, "a1", "One shared table.") is None  # out of date
    assert translate.translation(catalogue, "c3", "New.") is None  # untranslated
    assert [entry.msgctxt for entry in catalogue if entry.obsolete] == ["b2"]
    text = catalogue.__unicode__()
    assert polib.pofile(text).fuzzy_entries()[0].msgctxt == "a1"  # as a PO tool reads it


def test_comments_are_messages_and_markers_are_not(translate):
    source = ("%matplotlib inline\n# NBVAL_IGNORE_OUTPUT\nx = 1  # the ONE shared table\n"
              "# 1.0 / 2\ny = '# not a comment'\n")
    assert translate.comments(source) == [(3, 7, "the ONE shared table")]


def test_links_to_english_headings_still_land_in_the_chinese_cell(translate):
    english = "## 1. Two parts, one table\n\nText."
    chinese = translate.keep_english_anchors(english, "## 1. 两个部分，一张表\n\n正文。")
    assert chinese.startswith('## 1. 两个部分，一张表\n<a id="1.-Two-parts,-one-table"></a>')


def test_the_quality_rules_measure_what_they_say(translate):
    assert translate.english_runs("中文 and then a long English sentence is left here 中文") == [
        "and then a long English sentence is left here"]
    assert translate.english_runs("用 `dl.build_model(\"deepfm\", data.field_dims)` 构建") == []
    assert translate.chinese_share("DeepFM 的 FM 部分 $y_{FM}$ [链接](05_deepfm.ipynb)") == (5, 8)
