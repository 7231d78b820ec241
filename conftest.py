"""Settings for every pytest run (unit tests and nbval alike), set before any kernel starts.

The notebooks were saved with these settings, and nbval compares against those outputs, so
they are forced rather than defaulted: no progress bars, English quizzes, instructor mode off.
Every kernel the suite starts is an ordinary one, from the installed ``python3`` kernelspec,
the kernel a learner's JupyterLab starts.
"""

import os
import re
from pathlib import Path

os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")

# The suite runs on one pytest-xdist worker per core, each running one notebook (or one test
# file) at a time. Every worker and every kernel it starts keeps to one CPU thread, so that two
# workers use two cores instead of four threads fighting over them (OpenMP threads spin while
# they wait, which makes oversubscription many times slower). Set before torch is imported, so
# the kernels inherit it; the notebooks' assertions hold for any thread count.
os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


# pytest-xdist (--dist loadscope) hands out whole scopes, a notebook or a test module, in the
# collection's order (--no-loadscope-reorder in pyproject.toml). The long scopes are the ones
# that start a browser or Jupyter kernels, so they go first and the many short test modules
# fill both workers up to the end: the browser tests, then the notebooks (notebooks/ and
# solutions/) largest file first (a notebook's saved figures and tables grow with what it
# trains), then the test modules marked `kernels` or `slow`, then the rest in collection order.
# The order only balances the workers, never decides a result: every scope runs on its own.
def scope_rank(path: Path, markers: set[str]) -> tuple[int, int]:
    """Where a scope (the file ``path``, its tests carrying ``markers``) goes: lowest first."""
    if "browser" in markers:
        return (0, 0)
    if path.suffix == ".ipynb":
        return (1, -path.stat().st_size)
    if markers & {"kernels", "slow"}:
        return (2, 0)
    return (3, 0)


def pytest_collection_modifyitems(config, items) -> None:
    """Scopes in :func:`scope_rank`'s order; a stable sort, so each keeps its tests' order."""
    markers: dict[Path, set[str]] = {}
    for item in items:
        markers.setdefault(item.path, set()).update(mark.name for mark in item.iter_markers())
    ranks = {path: scope_rank(path, names) for path, names in markers.items()}
    items.sort(key=lambda item: ranks[item.path])


def pytest_xdist_auto_num_workers(config) -> int:
    """Workers for ``-n auto``: one per core, at most four (each holds torch and a kernel)."""
    return max(1, min(os.cpu_count() or 1, 4))

# notebooks/exercises and notebooks/solutions are links to the top-level folders, so that
# `jupyter lab notebooks/` shows them; collect each notebook once, from its own folder.
# notebooks/scratch/ is the learner's folder (README: "Experiment freely").
# The Chinese edition is collected from zh/ (notebooks/zh links to zh/notebooks, whose
# exercises, solutions and glossary link back to the English ones).
collect_ignore = ["notebooks/exercises", "notebooks/solutions", "notebooks/scratch",
                  "notebooks/zh", "zh/notebooks/exercises", "zh/notebooks/solutions",
                  "zh/datasets"]

# The course's notebooks are NN_name.ipynb (deepfm_lite.course.notebooks, which this mirrors so
# that collecting imports no torch); a learner's Untitled.ipynb or 05_deepfm-Copy1.ipynb is not
# compared with anything.
COURSE_NOTEBOOK = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Skip notebooks that are not the course's own; decide nothing about other files."""
    if collection_path.suffix == ".ipynb" and not COURSE_NOTEBOOK.fullmatch(collection_path.name):
        return True
    return None
