"""scripts/slides.py: the slide rules on small made-up notebooks, the promise to touch nothing
but cell metadata, --check, and (last test) that the course notebooks carry the slides the
rules give."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from repo_scripts import load_script

slides = load_script("scripts/slides.py")

LONG_TEXT = " ".join(["This sentence explains a result at length."] * 12)  # 72 words
assert slides.word_count(LONG_TEXT) > slides.LONG_WORDS


def types_of(*cells) -> list[str]:
    return slides.slide_types(new_notebook(cells=list(cells)))


def tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


# --------------------------------------------------------------------------- the rules


def test_headings_start_slides_and_subslides():
    assert types_of(new_markdown_cell("# Title\n\nOne line."),
                    new_markdown_cell("## 1. A section"),
                    new_markdown_cell("### 1a. A part of it"),
                    new_markdown_cell("#### deeper")) == ["slide", "slide", "subslide",
                                                           "subslide"]


def test_a_heading_below_text_still_starts_the_slide():
    assert types_of(new_markdown_cell("# T"),
                    new_code_cell("x = compute()"),
                    new_markdown_cell("The end of one topic.\n\n## 2. The next topic")
                    )[2] == "slide"


def test_a_heading_inside_a_code_fence_is_not_a_heading():
    fenced = "Run this in a terminal:\n\n```\n## not a heading\n```"
    assert slides.heading_levels(fenced) == []


def test_code_stays_with_its_short_lead_and_code_after_code_gets_its_own_slide():
    assert types_of(new_markdown_cell("## Section"),
                    new_markdown_cell("The next cell draws the curve."),
                    new_code_cell("plot_curve()"),
                    new_code_cell("plot_other_curve()")) == ["slide", "-", "-", "subslide"]


def test_long_prose_becomes_notes_and_the_code_after_it_starts_a_subslide():
    assert types_of(new_markdown_cell("## Section"),
                    new_code_cell("table = summarise()\ntable"),
                    new_markdown_cell(LONG_TEXT),
                    new_code_cell("plot(table)")) == ["slide", "-", "notes", "subslide"]


def test_a_long_heading_cell_stays_a_slide_but_its_code_moves_to_the_next():
    assert types_of(new_markdown_cell("## Section\n\n" + LONG_TEXT),
                    new_code_cell("plot()")) == ["slide", "subslide"]


def test_setup_and_assertion_cells_are_skipped():
    setup = new_code_cell("%matplotlib inline\nimport torch\nfrom x import y\n\n"
                          'SCALE = "ci"\ntorch.set_num_threads(1)')
    shown = new_code_cell("# NBVAL_IGNORE_OUTPUT\nauc = train()\nprint(auc)")
    checks = new_code_cell("import numpy as np\nmargin = 0.01\nassert auc > 0.5 + margin\n"
                           "for value in (auc,):\n    assert value < 1\n"
                           "np.testing.assert_allclose(auc, auc)")
    assert types_of(new_markdown_cell("# T"), setup, shown, checks) == [
        "slide", "skip", "-", "skip"]


def test_cells_that_print_or_ask_are_never_skipped():
    assert not slides.is_assertion_cell("assert ok\nprint('checked')")
    assert not slides.is_setup_cell('from deepfm_lite.course import quiz\n\nquiz.ask("01.x")')
    assert not slides.is_setup_cell("x = 1")  # no import: a plain assignment
    assert not slides.is_assertion_cell("x = 1")  # nothing asserted
    assert not slides.is_assertion_cell("assert (")  # not Python: shown as it is


def test_a_quiz_joins_a_short_heading_and_consecutive_quizzes_get_a_slide_each():
    assert types_of(new_markdown_cell("## 5. A question first"),
                    new_code_cell('quiz.ask("01.a")'),
                    new_code_cell('quiz.ask("01.b")')) == ["slide", "-", "subslide"]


def test_a_short_remark_after_output_is_a_fragment_unless_it_leads_into_code():
    assert types_of(new_markdown_cell("## S"), new_code_cell("plot()"),
                    new_markdown_cell("The lines cross."),
                    new_markdown_cell("## Next")) == ["slide", "-", "fragment", "slide"]
    assert types_of(new_markdown_cell("## S"), new_code_cell("plot()"),
                    new_markdown_cell("Now the same on test rows."),
                    new_code_cell("plot(test)")) == ["slide", "-", "subslide", "-"]


def test_the_summary_is_a_slide_of_its_own():
    assert types_of(new_markdown_cell("# T"),
                    new_markdown_cell("## 要点\n\n- 一点。"),
                    new_markdown_cell("A closing remark.")) == ["slide", "slide", "slide"]


def test_instructor_remarks_go_to_the_notes():
    assert types_of(new_markdown_cell("# T"),
                    new_markdown_cell("**Instructor:** ask the room before running this."),
                    new_markdown_cell("> **For instructors.** Takes 5 minutes."),
                    tagged(new_markdown_cell("Pause here."), "instructor"),
                    ) == ["slide", "notes", "notes", "notes"]


def test_tags_override_the_rules():
    cells = [tagged(new_markdown_cell("# T"), "skip"),
             tagged(new_markdown_cell(LONG_TEXT), "slide"),
             tagged(new_code_cell("import torch"), "subslide"),
             tagged(new_code_cell("assert True"), "fragment"),
             tagged(new_markdown_cell("## S"), "notes"),
             tagged(new_code_cell("plot()"), "continue", "parameters")]
    assert types_of(*cells) == ["skip", "slide", "subslide", "fragment", "notes", "-"]


def test_two_slide_tags_are_an_error_naming_the_cell():
    notebook = new_notebook(cells=[new_markdown_cell("# T"),
                                   tagged(new_markdown_cell("x"), "slide", "notes")])
    with pytest.raises(slides.SlideTagError, match="deck.ipynb, cell 1"):
        slides.slide_types(notebook, "deck.ipynb")


# --------------------------------------------------------------------------- metadata only


def realistic_notebook() -> nbformat.NotebookNode:
    """Every kind of cell, with outputs, execution counts and other metadata."""
    plot = new_code_cell("plot()", execution_count=3,
                         outputs=[new_output("display_data", data={"text/plain": "<Figure>"})])
    plot.metadata["tags"] = ["parameters"]
    plot.metadata["slideshow"] = {"slide_type": "notes", "extra": "kept"}  # wrong type, kept key
    cells = [new_markdown_cell("# Title"), new_code_cell("import torch", execution_count=1),
             new_markdown_cell("A lead."), plot, new_markdown_cell(LONG_TEXT),
             new_code_cell("assert True", execution_count=4), new_markdown_cell("## 要点\n\n- 点")]
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    return notebook


def without_slide_types(notebook: nbformat.NotebookNode) -> dict:
    plain = copy.deepcopy(notebook)
    for cell in plain.cells:
        slideshow = cell.metadata.pop("slideshow", {})
        slideshow.pop("slide_type", None)
        if slideshow:
            cell.metadata["slideshow"] = slideshow
    return plain


def test_only_slide_types_change_and_a_second_run_changes_nothing(tmp_path):
    path = tmp_path / "deck.ipynb"
    nbformat.write(realistic_notebook(), path)
    before = nbformat.read(path, as_version=4)

    assert slides.write([path]) == [path]
    after = nbformat.read(path, as_version=4)
    assert without_slide_types(after) == without_slide_types(before)  # sources, outputs, ids
    assert [c.metadata["slideshow"]["slide_type"] for c in after.cells] == [
        "slide", "skip", "-", "-", "notes", "skip", "slide"]
    assert after.cells[3].metadata["slideshow"]["extra"] == "kept"

    written = path.read_bytes()
    assert slides.write([path]) == []
    assert path.read_bytes() == written


def test_check_lists_what_differs_and_passes_once_applied(tmp_path, capsys):
    path = tmp_path / "deck.ipynb"
    nbformat.write(realistic_notebook(), path)
    assert slides.main(["--check", str(path)]) == 1
    assert "deck.ipynb (7 cells differ" in capsys.readouterr().out
    assert slides.main([str(path)]) == 0
    assert slides.main(["--check", str(path)]) == 0


def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, capsys):
    assert slides.main([str(tmp_path / "missing.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err
    path = tmp_path / "deck.ipynb"
    nbformat.write(new_notebook(cells=[tagged(new_markdown_cell("x"), "slide", "skip")]), path)
    assert slides.main(["--check", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: deck.ipynb, cell 0: more than one slide tag (slide, skip); keep one")


def test_exercises_keep_the_slides_of_their_solutions():
    make_exercises = load_script("scripts/make_exercises.py")
    solution = new_notebook(cells=[
        new_markdown_cell("# Exercise"),
        new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")])
    slides.apply(solution)
    exercise = make_exercises.exercise_notebook(solution, "x.ipynb")
    assert [c.metadata["slideshow"] for c in exercise.cells] == [
        c.metadata["slideshow"] for c in solution.cells]


# --------------------------------------------------------------------------- the course


def test_course_notebooks_carry_the_slides_the_rules_give():
    """Fails until `python scripts/slides.py` has been run on notebooks/ and solutions/ (and
    again whenever a notebook's cells change): it keeps the slides from drifting."""
    paths = slides.default_paths()
    assert len(paths) >= 9, paths
    problems = slides.differing(paths)
    assert not problems, "slides out of date; run `python scripts/slides.py`:\n" + "\n".join(
        problems)
