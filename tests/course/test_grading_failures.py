"""One notebook's failure is that notebook's grade; verdicts come from the checks' results.

``progress`` over notebooks that loop forever, end their kernel, are empty or not JSON, or
fake a verdict grades each one with its reason (timed out in cell N / the kernel died in cell
N / not a notebook: FILE: why / not yet with the real check's hint), and the notebooks beside
them normally: a correct answer still passes (the positive control). The tests without
kernels pin the verdict channel, the file checks and the terminal table.
"""

from __future__ import annotations

import json

import pytest
from progress_helpers import (
    ANSWERED,
    CHECK,
    FAKE_PASS,
    IMPORTS,
    USE,
    WRONG,
    make_course,
    write_notebook,
)

from deepfm_lite.cli import main
from deepfm_lite.course.checks import NOT_WRITTEN
from deepfm_lite.course.grading.channel import (
    VERDICT_MIME,
    check_verdict,
    reader_source,
    recorded_results,
)
from deepfm_lite.course.grading.report import ExerciseGrade, format_grades
from deepfm_lite.course.progress import NotANotebook, read_notebook

TIMEOUT_S = 8  # per cell; the setup (importing the checks) is outside it
ORIGIN = "deepfm_lite.course.checks.ex06_inner_product:check_inner_product.<locals>.body"

# The check swapped in the kernel: first for one that only prints a pass, then for one that
# goes through run_check with a body of its own.
PRINT_ONLY = (f"checks.check_inner_product = lambda fn: {FAKE_PASS[:-1]})\n" + CHECK)
OWN_BODY = ("from deepfm_lite.course.checks.common import run_check\n"
            "checks.check_inner_product = lambda fn: run_check('check_inner_product', "
            "lambda: 'fine')\n" + CHECK)


@pytest.mark.kernels
def test_each_failure_is_that_notebooks_grade(tmp_path, capsys, monkeypatch):
    course = make_course(tmp_path, "06_pairs", "07_fake", "08_replaced")
    exercises = course / "exercises"
    write_notebook(exercises / "01_loop.ipynb", "x = 1", "while True:\n    pass", "y = 2")
    write_notebook(exercises / "02_exit.ipynb", "import os", "os._exit(1)", "z = 3")
    (exercises / "03_empty.ipynb").write_bytes(b"")
    (exercises / "04_garbage.ipynb").write_text("these are my notes, not a notebook {")
    (exercises / "05_list.ipynb").write_text("[1, 2, 3]")
    write_notebook(exercises / "06_pairs.ipynb", IMPORTS, ANSWERED, CHECK, USE)
    # Prints a pass before its real check, which fails.
    write_notebook(exercises / "07_fake.ipynb", IMPORTS, WRONG, FAKE_PASS + "\n" + CHECK, USE)
    write_notebook(exercises / "08_replaced.ipynb", IMPORTS, WRONG, PRINT_ONLY, OWN_BODY, USE)
    before = {path.name: path.read_bytes() for path in exercises.iterdir()}
    monkeypatch.chdir(course)

    assert main(["progress", "--json", "--timeout", str(TIMEOUT_S)]) == 1
    captured = capsys.readouterr()
    grades = {grade["notebook"]: grade for grade in json.loads(captured.out)}
    reasons = {name: grade["reason"] for name, grade in grades.items()}

    assert reasons["01_loop"].startswith(f"timed out in cell 2 after {TIMEOUT_S} s"), reasons
    assert reasons["02_exit"].startswith("the kernel died in cell 2"), reasons
    assert reasons["03_empty"] == "not a notebook: 03_empty.ipynb: the file is empty (0 bytes)"
    assert reasons["04_garbage"].startswith("not a notebook: 04_garbage.ipynb: it is not JSON")
    assert reasons["05_list"].startswith("not a notebook: 05_list.ipynb: JSON, but not")
    assert grades["06_pairs"]["passed"], reasons["06_pairs"]  # the positive control
    assert not grades["07_fake"]["passed"] and "i = j" in reasons["07_fake"], reasons
    replaced = grades["08_replaced"]["checks"]
    assert [v["passed"] for v in replaced] == [False, False], replaced
    assert "gave no verdict from the course's check" in replaced[0]["message"]
    assert "did not come from the course's check_inner_product" in replaced[1]["message"]
    assert captured.err == ""  # no traceback, no notices from the kernels
    for name, content in before.items():
        assert (exercises / name).read_bytes() == content, f"the grader wrote {name}"
    assert (exercises / "used.txt").exists(), "06_pairs did not run to its end"


# ---- without kernels -------------------------------------------------------------------------


def _published(token: str, results: list) -> dict:
    return {"output_type": "display_data",
            "data": {VERDICT_MIME: {"token": token, "results": results}}}


def test_only_the_graders_token_is_read():
    genuine = ["check_inner_product", False, "keeps i = j", ORIGIN]
    forged = ["check_inner_product", True, "fine", ORIGIN]
    outputs = [{"output_type": "stream", "name": "stdout",
                "text": "✅ check_inner_product passed: fine\n"},
               _published("guessed", [forged]), _published("t0k3n", [genuine])]
    assert recorded_results(outputs, "t0k3n") == [tuple(genuine)]
    assert recorded_results(outputs[:2], "t0k3n") is None
    assert "t0k3n" in reader_source("t0k3n") and VERDICT_MIME in reader_source("t0k3n")


def test_a_verdict_is_the_named_checks_last_genuine_result():
    passed = ("check_inner_product", True, "fine", ORIGIN)
    failed = ("check_inner_product", False, "keeps i = j", ORIGIN)
    verdict = check_verdict([passed, failed], CHECK, 3, None)
    assert (verdict.check, verdict.passed, verdict.message) == ("check_inner_product", False,
                                                                "keeps i = j")
    other = ("check_auc", True, "fine", "deepfm_lite.course.checks.ex01_metrics:check_auc.x")
    assert not check_verdict([other], CHECK, 3, None).passed
    forged = ("check_inner_product", True, "fine", "__main__:<lambda>")
    assert "did not come from" in check_verdict([forged], CHECK, 3, None).message
    raised = check_verdict([], CHECK, 3, "NameError: name 'x' is not defined")
    assert raised.message == "the check in cell 3 raised NameError: name 'x' is not defined"
    assert "could not read its verdict" in check_verdict(None, CHECK, 3, None).message


@pytest.mark.parametrize("content, why", [
    (b"", "the file is empty (0 bytes)"),
    (b"  \n", "the file holds only blank space"),
    (b"\xff\xfe\x00", "it is not text"),
    (b'{"cells": [', "it is not JSON (Expecting value at line 1, column 12)"),
    (b'{"nbformat": 4}', "JSON, but not a Jupyter notebook"),
])
def test_a_file_that_is_not_a_notebook_says_why(tmp_path, content, why):
    path = tmp_path / "01_x.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotANotebook) as error:
        read_notebook(path)
    assert str(error.value).startswith(why)
    good = write_notebook(tmp_path / "02_y.ipynb", "x = 1")  # the positive control
    assert read_notebook(good).cells[1].source == "x = 1"


def test_the_table_is_written_for_a_terminal():
    unwritten = [ExerciseGrade(f"0{n}_exercise", False,
                               f"check_{n}: your function `f{n}` {NOT_WRITTEN}.")
                 for n in range(1, 6)]
    long_hint = ExerciseGrade("06_long", False, "check_6: " + "a very long hint " * 20)
    table = format_grades(unwritten + [long_hint, ExerciseGrade("07_done", True)], width=100)
    lines = table.splitlines()
    assert lines[0] == "01_exercise  not yet  check_1: your function f1 is not written yet."
    assert all(len(line) <= 100 for line in lines[:7]), lines
    assert lines[5].endswith("...") and lines[6] == "07_done      passed"
    assert "`" not in table and table.count("YOUR CODE HERE") == 1
    assert "--json shows them whole" in table
    assert lines[7] == "1 of 7 exercises passed"
