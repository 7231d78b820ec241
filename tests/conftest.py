"""Fixtures for the unit tests (the settings every run shares are in the root conftest.py)."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # figures in unit tests are drawn, never shown
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def appstore_small():
    """20k app-store rows, split and encoded once for the whole test session."""
    from deepfm_lite.datasets import load_dataset

    return load_dataset("appstore", 20_000, seed=0)
