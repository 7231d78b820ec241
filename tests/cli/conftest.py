"""Fixtures of the command-line tests."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import never

from deepfm_lite.cli import train as train_command


@pytest.fixture
def no_training(monkeypatch):
    """Make any training (or data generation, for table2) fail the test."""
    monkeypatch.setattr(train_command, "fit", never("fit"))
    monkeypatch.setattr(train_command, "build_model", never("build_model"))


@pytest.fixture
def clicks_csv(tmp_path) -> Path:
    """A 400-row CSV: categorical a, numeric b, label y."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.choice(list("pqr"), 400), "b": rng.normal(size=400),
                          "y": (rng.random(400) < 0.3).astype(int)})
    path = tmp_path / "clicks.csv"
    frame.to_csv(path, index=False)
    return path
