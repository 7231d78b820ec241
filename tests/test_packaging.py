"""The install files agree with each other and with the README."""

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


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    assert python.replace("python", "") == project["requires-python"]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip_section == ["-e .[dev]"]  # everything else comes from pyproject
    torch_floor = next(d for d in project["dependencies"] if d.startswith("torch"))
    conda_torch = next(d for d in deps if isinstance(d, str) and d.startswith("pytorch"))
    assert conda_torch.split(">=")[1] == torch_floor.split(">=")[1]


def test_runtime_and_dev_dependencies_are_declared():
    project = _pyproject()["project"]
    names = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert {"torch", "numpy", "pandas", "matplotlib", "scikit-learn", "tqdm",
            "ipywidgets"} <= names
    dev = {re.split(r"[<>=\[ ]", d)[0] for d in project["optional-dependencies"]["dev"]}
    assert {"pytest", "nbval", "jupyterlab", "ipykernel", "ruff"} <= dev


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"^(python -m pip install -e \"\.\[dev\]\")", readme, re.M)
    test = re.search(r"^(python -m pytest)$", readme, re.M)
    assert install and test, "README must show the install and test commands"
    assert "torch==2.13.0" in ci
    assert install.group(1).replace("install", "install --quiet") in ci
    teach = 'python -m pip install -e ".[dev,teach]"'
    assert teach in readme and teach.replace("install", "install --quiet") in ci
    assert re.search(rf"^{re.escape(test.group(1))}$", ci, re.M)


def _code_blocks(markdown: str) -> list[str]:
    return [block.strip() for block in re.findall(r"^```[a-z]*\n(.*?)^```", markdown, re.M | re.S)]


def test_readme_starts_a_learner():
    readme = (ROOT / "README.md").read_text()
    install = readme.index('python -m pip install -e ".[dev]"')
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


def test_the_suites_longest_first_order_names_existing_files():
    root_conftest = load_script("conftest.py")
    missing = [scope for scope in root_conftest.SLOW_SCOPES if not (ROOT / scope).is_file()]
    assert not missing, f"conftest.py SLOW_SCOPES names files that do not exist: {missing}"
    assert "--no-loadscope-reorder" in (ROOT / "pyproject.toml").read_text()
