"""Fixtures for the unit tests (the settings every run shares are in the root conftest.py)."""

import sys

import matplotlib
import pytest

# One thread per xdist worker comes from OMP_NUM_THREADS=1 (the root conftest.py, set before
# torch is imported); torch is not imported here, so pytest-xdist's controller, which runs no
# test, starts without it.
matplotlib.use("Agg")  # figures in unit tests are drawn, never shown


@pytest.fixture(scope="session")
def appstore_small():
    """20k app-store rows, split and encoded once for the whole test session."""
    from deepfm_lite.data import load_dataset

    return load_dataset("appstore", 20_000, seed=0)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test drew, so figures never pile up across the session."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
