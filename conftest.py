"""Settings for every pytest run (unit tests and nbval alike), set before any kernel starts.

The notebooks were saved with these settings, and nbval compares against those outputs, so
they are forced rather than defaulted: no progress bars, English quizzes, instructor mode off.
"""

import os

os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")

# The suite runs on one pytest-xdist worker per core, each running one notebook (or one test
# file) at a time. Every worker and every kernel it starts keeps to one CPU thread, so that two
# workers use two cores instead of four threads fighting over them (OpenMP threads spin while
# they wait, which makes oversubscription many times slower). Set before torch is imported, so
# the kernels inherit it; the notebooks' assertions hold for any thread count.
os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def pytest_xdist_auto_num_workers(config) -> int:
    """Workers for ``-n auto``: one per core, at most four (each holds torch and a kernel)."""
    return max(1, min(os.cpu_count() or 1, 4))

# notebooks/exercises and notebooks/solutions are links to the top-level folders, so that
# `jupyter lab notebooks/` shows them; collect each notebook once, from its own folder.
collect_ignore = ["notebooks/exercises", "notebooks/solutions"]
