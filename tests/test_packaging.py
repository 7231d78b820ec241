"""The install files agree with each other and with the README."""

import itertools
import re
import sys
from pathlib import Path

import yaml
from repo_scripts import load_script

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    import pytest

    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


LEARNER_INSTALL = 'python -m pip install -c constraints.txt -e ".[course]"'
MAINTAINER_INSTALL = 'python -m pip install -c constraints.txt -e ".[dev,teach]"'


def _freeze():
    return load_script("scripts/freeze_constraints.py")


def test_environment_yml_matches_pyproject_and_the_constraints():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    deps = env["dependencies"]
    assert "python=3.11" in deps  # the Python the constraints were frozen with
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip_section == ["-c constraints.txt", "-e .[course]"]  # the rest from pyproject
    conda_torch = next(d for d in deps if isinstance(d, str) and d.startswith("pytorch"))
    assert conda_torch.split("=")[-1] == _freeze().read_constraints()["torch"]
    assert ".[course,teach]" in (ROOT / "environment.yml").read_text()  # the teaching option


def test_runtime_learner_and_maintainer_dependencies_are_declared():
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.11"

    def names(requirements):
        return {re.split(r"[<>=\[ ]", d)[0] for d in requirements}

    assert {"torch", "numpy", "pandas", "matplotlib", "scikit-learn", "tqdm",
            "ipywidgets"} <= names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert {"pytest", "pytest-xdist", "nbval", "jupyterlab", "ipykernel"} <= names(
        extras["course"])
    # A learner's install brings no maintainer tool; the maintainer's brings the learner's.
    assert not {"ruff", "playwright", "pyarrow", "sphinx"} & names(extras["course"])
    assert "deepfm-lite[course]" in extras["dev"]
    assert {"ruff", "playwright", "pyarrow"} <= names(extras["dev"])


def test_the_installed_versions_are_the_constraints():
    freeze = _freeze()
    pins, installed = freeze.read_constraints(), freeze.installed_closure()
    assert not freeze.mismatches(pins, installed), freeze.mismatches(pins, installed)
    unpinned = sorted(set(installed) - set(pins))
    assert not unpinned, f"installed but not in constraints.txt: {unpinned}"
    assert pins["torch"] == "2.13.0"


def test_freezing_pins_each_version_without_its_local_label():
    freeze = _freeze()
    text = freeze.constraints_text({"numpy": "2.4.6", "torch": "2.13.0+cpu"})
    assert text.endswith("numpy==2.4.6\ntorch==2.13.0\n") and text.startswith("#")
    assert freeze.mismatches({"numpy": "2.4.6"}, {"numpy": "2.5.0"}) == [
        "numpy: installed 2.5.0, constraints.txt says 2.4.6"]
    assert freeze.mismatches({"torch": "2.13.0"}, {"torch": "2.13.0+cpu"}) == []


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test = re.search(r"^(python -m pytest)$", readme, re.M)
    assert test, "README must show the test command"
    assert "torch==2.13.0" in ci and "pip install torch==2.13.0 --index-url" in readme
    for install in (LEARNER_INSTALL, MAINTAINER_INSTALL):
        assert re.search(rf"^\s*{re.escape(install)}$", readme, re.M), install
        assert install.replace("install", "install --quiet") in ci, install
    assert re.search(rf"^{re.escape(test.group(1))}$", ci, re.M)


def _code_blocks(markdown: str) -> list[str]:
    return [block.strip() for block in re.findall(r"^```[a-z]*\n(.*?)^```", markdown, re.M | re.S)]


def test_readme_starts_a_learner():
    readme = (ROOT / "README.md").read_text()
    install = readme.index(LEARNER_INSTALL)
    # Where to start, the exercises and how to grade them come before any install detail ...
    for first in ("00_course_map.ipynb", "exercises/", "python -m deepfm_lite progress"):
        assert readme.index(first) < install, first
    # ... the CPU-only PyTorch note before the install that would pull the CUDA build ...
    assert readme.index("download.pytorch.org/whl/cpu") < install
    # ... and the launch, the grading and the test command each in a block of their own.
    blocks = _code_blocks(readme)
    for command in ("jupyter lab notebooks/", "python -m deepfm_lite progress", "python -m pytest"):
        assert command in blocks, f"{command!r} is not a code block of its own"
    # The check's pass line is quoted as a check prints it.
    assert "✅ check_fm_second_order passed: " in readme


def _scope_items(scopes: list[tuple[str, set[str], int]]) -> list:
    """Stand-ins for collected tests: (file, its markers, how many tests) for each scope."""
    from types import SimpleNamespace

    def item(path: Path, number: int, markers: set[str]):
        marks = [SimpleNamespace(name=name) for name in sorted(markers)]
        return SimpleNamespace(path=path, nodeid=f"{path.relative_to(ROOT)}::{number}",
                               iter_markers=lambda: iter(marks))

    return [item(ROOT / name, number, markers)
            for name, markers, count in scopes for number in range(count)]


def test_the_suite_hands_out_browsers_then_notebooks_largest_first_then_kernels():
    root_conftest = load_script("conftest.py")
    notebooks = [str(path.relative_to(ROOT)) for folder in ("notebooks", "solutions")
                 for path in sorted((ROOT / folder).glob("[0-9]*.ipynb"))]
    assert len(notebooks) >= 10
    scopes = [("tests/test_packaging.py", set(), 3),
              ("tests/course/test_exercises.py", {"kernels"}, 2),
              *[(name, set(), 2) for name in notebooks],
              ("tests/training/test_distributed.py", set(), 1),  # a scope with some tests slow
              ("tests/training/test_distributed.py", {"slow"}, 1),
              ("tests/test_imports.py", set(), 2),
              ("tests/course/test_browser.py", {"browser"}, 2)]
    items = _scope_items(scopes)
    root_conftest.pytest_collection_modifyitems(None, items)

    order = [name for name, _ in itertools.groupby(str(i.path.relative_to(ROOT)) for i in items)]
    by_size = sorted(notebooks, key=lambda name: (ROOT / name).stat().st_size, reverse=True)
    assert order == ["tests/course/test_browser.py", *by_size, "tests/course/test_exercises.py",
                     "tests/training/test_distributed.py", "tests/test_packaging.py",
                     "tests/test_imports.py"]  # each scope in one piece, the rest kept in order
    first = [i.nodeid for i in items if i.path.name == "test_packaging.py"]
    assert first == [f"tests/test_packaging.py::{n}" for n in range(3)]  # its tests in order


def test_this_sessions_collection_is_in_that_order(request):
    """The session's own tests (all of them in a full run) come in the conftest's order, and
    pytest-xdist is told to keep it."""
    root_conftest = load_script("conftest.py")
    markers: dict[Path, set[str]] = {}
    for item in request.session.items:
        markers.setdefault(item.path, set()).update(m.name for m in item.iter_markers())
    paths = [path for path, _ in itertools.groupby(item.path for item in request.session.items)]
    assert len(paths) == len(markers), "a scope comes in more than one piece"
    ranks = [root_conftest.scope_rank(path, markers[path]) for path in paths]
    assert ranks == sorted(ranks)
    addopts = _pyproject()["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "loadscope" in addopts and "--no-loadscope-reorder" in addopts
