"""The course's training budget: what every chapter trains with, and :func:`train_model`.

Tuned on 100k-200k app-store rows for a notebook's minute on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from ..models import build_model, model_arguments
from ..training import evaluate, fit

# Every model but LR shares one setting. LR (the model) is convex and moves slowly away from its
# zero start, so it gets a larger learning rate.
COURSE_BUDGET = {"epochs": 4, "batch_size": 1024, "lr": 3e-3, "patience": 1}
LOGISTIC_REGRESSION_LR = 1e-2
COURSE_NETWORK = {"embed_dim": 10, "hidden": (200, 200, 200), "dropout": 0.2}


@dataclass
class TrainedModel:
    """What :func:`train_model` returns: the model, its history and its test metrics."""

    model: nn.Module
    history: pd.DataFrame
    test: dict[str, float]

    @property
    def train_seconds(self) -> float:
        return float(self.history["seconds"].sum())


def train_model(name: str, data, *, seed: int = 0, progress: bool | None = None,
                device: str | torch.device = "auto", **overrides) -> TrainedModel:
    """Build model ``name`` for ``data`` (a SplitData), train it on the course budget, test it.

    ``overrides`` may change any network argument (``hidden=(400, 400, 400)``) or budget entry
    (``epochs=5``, ``lr=1e-3``). Early stopping watches the validation split.
    """
    network_arguments = model_arguments()
    unknown = sorted(set(overrides) - set(COURSE_BUDGET) - network_arguments)
    if unknown:
        raise ValueError(f"train_model got unknown argument(s) {', '.join(unknown)}; it takes "
                         f"the budget's {', '.join(COURSE_BUDGET)} and the models' "
                         f"{', '.join(sorted(network_arguments))}")
    budget = dict(COURSE_BUDGET)
    if name == "lr":
        budget["lr"] = LOGISTIC_REGRESSION_LR
    budget.update({k: overrides.pop(k) for k in list(overrides) if k in COURSE_BUDGET})
    network = {**COURSE_NETWORK, **overrides}
    model = build_model(name, data.field_dims, seed=seed, **network)
    history = fit(model, data.train, data.valid, seed=seed, progress=progress, device=device,
                  **budget)
    return TrainedModel(model, history, evaluate(model, data.test))
