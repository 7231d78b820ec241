"""Shared test setup: progress bars off (the notebooks' kernels inherit this), few threads."""

import os

# The settings notebooks were saved with (nbval compares against them): forced, not defaulted.
os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def appstore_small():
    """20k app-store rows, split and encoded once for the whole test session."""
    from deepfm_lite.datasets import load_dataset

    return load_dataset("appstore", 20_000, seed=0)
