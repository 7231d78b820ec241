"""A learner's own experiments never turn the tests red: scratch notebooks are not the course's,
and the README's way to read the quizzes in Chinese changes no course notebook."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from repo_scripts import load_script

from deepfm_lite.course.notebooks import COURSE_NOTEBOOK, course_notebooks, is_course_notebook

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["Untitled.ipynb", "Untitled1.ipynb", "05_deepfm-Copy1.ipynb",
                                  "my_try.ipynb", "scratch/05_deepfm.ipynb"])
def test_a_learners_notebook_is_not_the_courses(name):
    assert not is_course_notebook(ROOT / "notebooks" / name)


def test_the_course_notebooks_are_found_by_name():
    assert is_course_notebook(ROOT / "notebooks" / "05_deepfm.ipynb")
    assert [path.name[:2] for path in course_notebooks(ROOT / "notebooks")] == [
        f"{n:02d}" for n in range(10)]
    assert len(course_notebooks(ROOT / "solutions")) == len(course_notebooks(ROOT / "exercises"))


def test_collection_skips_what_is_not_the_courses():
    conftest = load_script("conftest.py")
    assert conftest.COURSE_NOTEBOOK.pattern == COURSE_NOTEBOOK.pattern
    assert "notebooks/scratch" in conftest.collect_ignore
    assert conftest.pytest_ignore_collect(ROOT / "notebooks" / "Untitled.ipynb", None) is True
    assert conftest.pytest_ignore_collect(ROOT / "notebooks" / "05_deepfm.ipynb", None) is None
    assert conftest.pytest_ignore_collect(ROOT / "tests" / "test_imports.py", None) is None


def test_git_keeps_the_scratch_folder_and_ignores_its_contents():
    rules = (ROOT / "notebooks" / "scratch" / ".gitignore").read_text().split()
    assert rules == ["*", "!.gitignore"]


@pytest.mark.kernels
def test_quizzes_switched_to_chinese_by_the_environment_leave_the_tests_green(tmp_path):
    # The README's way: DEEPFM_LITE_LANG=zh when JupyterLab starts. A test run that inherits it
    # still compares the English outputs the notebooks were saved with.
    environment = {**os.environ, "DEEPFM_LITE_LANG": "zh"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0",
         "notebooks/08_review.ipynb"], cwd=ROOT, env=environment, capture_output=True,
        text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:]
