"""Settings for every pytest run (unit tests and nbval alike), set before any kernel starts.

The notebooks were saved with these settings, and nbval compares against those outputs, so
they are forced rather than defaulted: no progress bars, English quizzes, instructor mode off.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")

# The suite runs on one pytest-xdist worker per core, each running one notebook (or one test
# file) at a time. Every worker and every kernel it starts keeps to one CPU thread, so that two
# workers use two cores instead of four threads fighting over them (OpenMP threads spin while
# they wait, which makes oversubscription many times slower). Set before torch is imported, so
# the kernels inherit it; the notebooks' assertions hold for any thread count.
os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


# pytest-xdist (--dist loadscope) hands out whole scopes: a notebook, or a test module. It is
# told to keep the collection's order (--no-loadscope-reorder in pyproject.toml; by default it
# orders scopes by their number of tests, which put the few long browser tests last and left
# one core idle at the end). The collection is sorted here longest first, so the short scopes
# fill the gaps at the end. The figures are seconds per scope, the sum of its tests' times in
# `python -m pytest --junitxml=FILE` on a quiet 2-core machine, median of three runs (scopes
# not listed take a few seconds or less); a stale figure only costs some balance, never a
# result: every scope runs alone, in any order. tests/test_packaging.py checks that each one
# names an existing file.
SLOW_SCOPES = {
    "notebooks/07_hyperparameters.ipynb": 50, "notebooks/06_experiments.ipynb": 39,
    "tests/test_browser_teach.py": 33, "notebooks/09_full_criteo.ipynb": 29,
    "notebooks/05_deepfm.ipynb": 24, "tests/test_browser.py": 24,
    "notebooks/04_deep_part.ipynb": 14, "tests/test_exercises.py": 12,
    "notebooks/00_course_map.ipynb": 11, "tests/test_distributed.py": 11,
    "notebooks/08_review.ipynb": 11, "tests/test_site.py": 10,
    "notebooks/02_fm_math.ipynb": 10, "solutions/07_ablation.ipynb": 9,
    "tests/test_progress.py": 9, "tests/test_speedups.py": 9,
    "notebooks/03_embeddings.ipynb": 8, "notebooks/01_ctr_basics.ipynb": 8,
    "tests/test_kernel_zygote.py": 7, "solutions/05_deepfm_shared_embedding.ipynb": 5,
    "tests/test_checks_common.py": 5, "tests/test_criteo.py": 5, "tests/test_prepare.py": 4,
}


def pytest_collection_modifyitems(config, items) -> None:
    """Longest scopes first; a stable sort, so each scope keeps its own order (nbval's cells)."""
    items.sort(key=lambda item: SLOW_SCOPES.get(item.nodeid.split("::")[0], 0), reverse=True)


def pytest_xdist_auto_num_workers(config) -> int:
    """Workers for ``-n auto``: one per core, at most four (each holds torch and a kernel)."""
    return max(1, min(os.cpu_count() or 1, 4))

# notebooks/exercises and notebooks/solutions are links to the top-level folders, so that
# `jupyter lab notebooks/` shows them; collect each notebook once, from its own folder.
collect_ignore = ["notebooks/exercises", "notebooks/solutions"]


# Kernels forked from a process that has already imported torch (tests/kernel_zygote.py says
# why and how): started once per pytest process that runs tests which start kernels.
_zygote: dict = {}


def _starts_kernels(session) -> bool:
    """Whether this process will run a notebook or a test marked ``kernels`` (and can fork)."""
    config = session.config
    xdist_controller = not hasattr(config, "workerinput") and config.getoption("numprocesses", 0)
    if xdist_controller or config.option.collectonly or not sys.platform.startswith("linux") \
            or os.environ.get("DEEPFM_LITE_FORK_KERNELS", "1") == "0":
        return False  # the zygote needs fork() and /proc (Linux): elsewhere kernels are ordinary
    return any(item.path.suffix == ".ipynb" or item.get_closest_marker("kernels")
               for item in session.items)


def pytest_collection_finish(session) -> None:
    """Start the kernel zygote, and point the ``python3`` kernelspec at it, if kernels will run."""
    if not _starts_kernels(session):
        return
    spec = importlib.util.spec_from_file_location(
        "kernel_zygote", Path(__file__).parent / "tests" / "kernel_zygote.py")
    kernel_zygote = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernel_zygote)
    folder = tempfile.mkdtemp(prefix="deepfm-lite-kernels-")
    address = os.path.join(folder, "zygote.sock")
    kernel_zygote.write_kernelspec(folder)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [folder, os.environ.get("JUPYTER_PATH")]))
    os.environ["DEEPFM_LITE_KERNEL_ZYGOTE"] = address
    _zygote.update(folder=folder, process=subprocess.Popen(
        [sys.executable, kernel_zygote.__file__, address], stdin=subprocess.DEVNULL))


def pytest_unconfigure(config) -> None:
    """Stop the zygote (its kernels have all been shut down by the tests that started them)."""
    if _zygote:
        _zygote["process"].terminate()
        _zygote["process"].wait(timeout=30)
        shutil.rmtree(_zygote["folder"], ignore_errors=True)
