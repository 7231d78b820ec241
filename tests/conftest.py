"""Fixtures for the unit tests (the settings every run shares are in the root conftest.py)."""

import sys

import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # figures in unit tests are drawn, never shown
torch.set_num_threads(1)  # one thread per xdist worker (see the root conftest.py)


@pytest.fixture(scope="session")
def appstore_small():
    """20k app-store rows, split and encoded once for the whole test session."""
    from deepfm_lite.datasets import load_dataset

    return load_dataset("appstore", 20_000, seed=0)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test drew, so figures never pile up across the session."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
