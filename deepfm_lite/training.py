"""Training and evaluation over pre-encoded tensors.

Batches are cut by slicing tensors shuffled once per epoch: no per-sample ``Dataset`` and no
collate function, which is where per-sample loaders lose much of their time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import settings
from .data import EncodedData
from .fast import make_adam
from .metrics import auc, logloss


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when a GPU is visible, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for CUDA but no GPU is available; "
                         "use device='auto' or 'cpu'")
    return resolved


def _check_data(name: str, data: EncodedData, model: nn.Module, need_labels: bool) -> None:
    if not isinstance(data, EncodedData):
        raise TypeError(f"{name} must be EncodedData (from Schema.transform), "
                        f"got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} has no rows")
    if need_labels and data.labels is None:
        raise ValueError(f"{name} has no labels")
    field_dims = getattr(model, "field_dims", None)
    if field_dims is not None and data.ids.shape[1] != len(field_dims):
        raise ValueError(f"{name} has {data.ids.shape[1]} fields but the model was built "
                         f"for {len(field_dims)}")


def _batches(n_rows: int, batch_size: int):
    for start in range(0, n_rows, batch_size):
        yield slice(start, min(start + batch_size, n_rows))


# Rows per prediction batch. On a CPU, 2048 rows keep a 400-wide layer's activations (3.3 MB)
# closer to the caches than 8192 rows (13 MB): DeepFM's inference ran about 14% faster (8 fresh
# processes timing both sizes, 4 in each order, 2-core AMD EPYC; see benchmarks/README.md).
# A GPU wants large batches. The batch size is a speed choice only: a row's logit is the same in
# any batch, up to a float32 rounding step where the matrix library picks another kernel for
# another number of rows (tests/test_training.py).
PREDICT_BATCH = {"cpu": 2048, "other": 16384}


def _predict_batch(device: torch.device, batch_size: int | None) -> int:
    if batch_size is None:
        return PREDICT_BATCH["cpu" if device.type == "cpu" else "other"]
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


@torch.no_grad()
def predict_logits(model: nn.Module, data: EncodedData,
                   batch_size: int | None = None) -> torch.Tensor:
    """Logits for every row, in evaluation mode (dropout off), returned on the CPU.

    ``batch_size`` rows at a time; by default :data:`PREDICT_BATCH` for the model's device.
    """
    _check_data("data", data, model, need_labels=False)
    device = next(model.parameters()).device
    batch_size = _predict_batch(device, batch_size)
    was_training = model.training
    model.eval()
    try:
        parts = [model(data.ids[part].to(device), data.values[part].to(device)).float().cpu()
                 for part in _batches(len(data), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts)


def predict_proba(model: nn.Module, data: EncodedData,
                  batch_size: int | None = None) -> np.ndarray:
    """Click probabilities ``sigmoid(logit)`` for every row, as a NumPy array."""
    return torch.sigmoid(predict_logits(model, data, batch_size)).numpy().astype(np.float64)


def evaluate(model: nn.Module, data: EncodedData,
             batch_size: int | None = None) -> dict[str, float]:
    """AUC and LogLoss of ``model`` on labelled ``data``."""
    _check_data("data", data, model, need_labels=True)
    probs = predict_proba(model, data, batch_size)
    labels = data.labels.numpy()
    return {"auc": auc(labels, probs), "logloss": logloss(labels, probs)}


def oracle_metrics(data: EncodedData) -> dict[str, float] | None:
    """AUC and LogLoss of the true click probability: the ceiling no model can beat on average."""
    if data.p_true is None or data.labels is None:
        return None
    labels = data.labels.numpy()
    return {"auc": auc(labels, data.p_true), "logloss": logloss(labels, data.p_true)}


def fit(model: nn.Module, train: EncodedData, valid: EncodedData | None = None, *,
        epochs: int = 3, batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0,
        seed: int = 0, device: str | torch.device = "auto", patience: int | None = None,
        progress: bool | None = None) -> pd.DataFrame:
    """Train ``model`` with Adam on BCE-with-logits; return one history row per epoch.

    ``patience`` turns on early stopping on validation AUC: training stops after that many
    epochs without a better AUC, and the best epoch's weights are put back. The history has the
    columns ``epoch, train_loss, valid_auc, valid_logloss, seconds, samples_per_s``.
    """
    _check_data("train", train, model, need_labels=True)
    if valid is not None:
        _check_data("valid", valid, model, need_labels=True)
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0; got epochs={epochs}, "
                         f"batch_size={batch_size}, lr={lr}")
    if patience is not None and (valid is None or patience < 1):
        raise ValueError("patience needs validation data and must be >= 1")
    show = settings.progress if progress is None else progress
    target = resolve_device(device)
    model.to(target)
    seed_everything(seed)
    shuffler = torch.Generator().manual_seed(seed)
    optimizer = make_adam(model.parameters(), lr=lr, weight_decay=weight_decay)  # fused Adam
    ids, values, labels = (t.to(target) for t in (train.ids, train.values, train.labels))
    history, best_auc, best_state, stale = [], -1.0, None, 0
    # A model may need work before its own training (FNN pre-trains an FM): that time is
    # training time too, so it is added to the first epoch's seconds.
    prepare_seconds = 0.0
    if hasattr(model, "prepare_fit"):
        start = time.perf_counter()
        model.prepare_fit(train, batch_size=batch_size, lr=lr, seed=seed, device=target)
        prepare_seconds = time.perf_counter() - start

    from tqdm.auto import tqdm  # imported here: notebooks that never train skip its start-up

    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(train), generator=shuffler).to(target)
        ids_e, values_e, labels_e = ids[order], values[order], labels[order]
        total_loss = torch.zeros((), device=target)
        batches = tqdm(list(_batches(len(train), batch_size)), disable=not show,
                       desc=f"epoch {epoch}/{epochs}", leave=False)
        for part in batches:
            logits = model(ids_e[part], values_e[part])
            loss = F.binary_cross_entropy_with_logits(logits, labels_e[part])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.detach() * (part.stop - part.start)
        if target.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start + (prepare_seconds if epoch == 1 else 0.0)
        row = {"epoch": epoch, "train_loss": float(total_loss) / len(train),
               "valid_auc": np.nan, "valid_logloss": np.nan, "seconds": seconds,
               "samples_per_s": len(train) / seconds}
        if valid is not None:
            scores = evaluate(model, valid)
            row["valid_auc"], row["valid_logloss"] = scores["auc"], scores["logloss"]
        history.append(row)
        if patience is not None:
            if row["valid_auc"] > best_auc:
                best_auc, stale = row["valid_auc"], 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return pd.DataFrame(history)


# ---- the course's training budget ---------------------------------------------------------------
# Tuned on 100k-200k app-store rows for a notebook's minute on 2 CPU cores. LR is convex and moves
# slowly away from its zero start, so it gets a larger step; every other model shares one setting.
COURSE_BUDGET = {"epochs": 4, "batch_size": 1024, "lr": 3e-3, "patience": 1}
COURSE_LEARNING_RATES = {"lr": 1e-2}
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
    """Build model ``name`` for ``data`` (a PreparedData), train it on the course budget, test it.

    ``overrides`` may change any network argument (``hidden=(400, 400, 400)``) or budget entry
    (``epochs=5``, ``lr=1e-3``). Early stopping watches the validation split.
    """
    from .models import build_model, model_arguments

    network_arguments = model_arguments()
    unknown = sorted(set(overrides) - set(COURSE_BUDGET) - network_arguments)
    if unknown:
        raise ValueError(f"train_model got unknown argument(s) {', '.join(unknown)}; it takes "
                         f"the budget's {', '.join(COURSE_BUDGET)} and the models' "
                         f"{', '.join(sorted(network_arguments))}")
    budget = {**COURSE_BUDGET, "lr": COURSE_LEARNING_RATES.get(name, COURSE_BUDGET["lr"])}
    budget.update({k: overrides.pop(k) for k in list(overrides) if k in COURSE_BUDGET})
    network = {**COURSE_NETWORK, **overrides}
    model = build_model(name, data.field_dims, seed=seed, **network)
    history = fit(model, data.train, data.valid, seed=seed, progress=progress, device=device,
                  **budget)
    return TrainedModel(model, history, evaluate(model, data.test))
