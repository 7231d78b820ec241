"""Training and evaluation over pre-encoded tensors.

Batches are gathered by slices of a permutation drawn once per epoch: no per-sample ``Dataset``
and no collate function, which is where per-sample loaders lose much of their time.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import settings
from .data import EncodedData, check_ids, check_values
from .fast import make_adam
from .gpu import amp_dtype, autocast, grad_scaler, to_device
from .metrics import auc, logloss
from .models import build_model, model_arguments


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite: the weights are ruined and training stopped.

    Raised by :func:`fit` with the first non-finite step: ``epoch`` (from 1), ``step`` (the
    batch within that epoch, from 1, out of ``steps``), the learning rate ``lr`` and the
    ``loss`` of that step. The message names all of them on one line. The model's weights are
    left as they were when the run stopped (non-finite); rebuild it to train again.
    """

    def __init__(self, epoch: int, step: int, steps: int, lr: float, loss: float):
        self.epoch, self.step, self.steps, self.lr, self.loss = epoch, step, steps, lr, loss
        super().__init__(f"training diverged: the loss became {loss} at epoch {epoch}, step "
                         f"{step} of {steps}, with learning rate lr={lr:g}; "
                         "try a smaller learning rate")

    def __reduce__(self):  # keep the fields when pickled (e.g. across processes)
        return type(self), (self.epoch, self.step, self.steps, self.lr, self.loss)


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


def _field_names(model: nn.Module) -> Sequence[str] | None:
    """The model's field names when it carries a schema (a model from ``io.load``), else None."""
    schema = getattr(model, "schema", None)
    return None if schema is None else schema.field_names


def _check_data(name: str, data: EncodedData, model: nn.Module, need_labels: bool) -> None:
    """Check ``data`` once where it enters: types, shapes, every id in its field's range, finite
    values and labels in [0, 1]. One pass over the tensors; never repeated per batch."""
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
    if data.values.shape != data.ids.shape:
        raise ValueError(f"{name}: values have shape {list(data.values.shape)} but ids "
                         f"{list(data.ids.shape)}; they must match")
    names = _field_names(model)
    if field_dims is not None:
        check_ids(data.ids, field_dims, where=name, names=names)
    check_values(data.values, where=name, names=names)
    if need_labels:
        _check_labels(name, data.labels, len(data))


def _check_labels(name: str, labels: torch.Tensor, rows: int) -> None:
    """Labels must be one number in [0, 1] per row: BCE of a NaN label is NaN."""
    if labels.shape != (rows,):
        raise ValueError(f"{name}: labels must have shape [{rows}], got {list(labels.shape)}")
    if not labels.dtype.is_floating_point:
        labels = labels.float()
    low, high = labels.aminmax()
    if not (0.0 <= float(low) and float(high) <= 1.0):  # also false for NaN
        bad = ~((labels >= 0) & (labels <= 1))
        row = int(bad.nonzero()[0, 0])
        raise ValueError(f"{name}: labels must lie in [0, 1]; row {row} holds "
                         f"{float(labels[row])}")


def _check_budget(epochs: int, batch_size: int, lr: float, weight_decay: float) -> None:
    """Refuse a training budget that cannot work, naming the argument."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not _is_finite_number(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not _is_finite_number(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")


def _is_finite_number(value) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False


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


def predict_logits(model: nn.Module, data: EncodedData,
                   batch_size: int | None = None) -> torch.Tensor:
    """Logits for every row, in evaluation mode (dropout off), returned on the CPU.

    ``batch_size`` rows at a time; by default :data:`PREDICT_BATCH` for the model's device.
    ``data`` is checked first: an id outside its field's range, or a non-finite value, raises
    ``ValueError`` naming the field and the row.
    """
    _check_data("data", data, model, need_labels=False)
    return _logits(model, data, batch_size)


@torch.no_grad()
def _logits(model: nn.Module, data: EncodedData, batch_size: int | None) -> torch.Tensor:
    """:func:`predict_logits` for data already checked (fit's validation split, every epoch)."""
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
    """Click probabilities ``sigmoid(logit)`` for every row, as a NumPy array (data checked as
    by :func:`predict_logits`)."""
    return torch.sigmoid(predict_logits(model, data, batch_size)).numpy().astype(np.float64)


def evaluate(model: nn.Module, data: EncodedData,
             batch_size: int | None = None) -> dict[str, float]:
    """AUC and LogLoss of ``model`` on labelled ``data`` (checked as by :func:`predict_logits`)."""
    _check_data("data", data, model, need_labels=True)
    return _scores(model, data, batch_size)


def _scores(model: nn.Module, data: EncodedData,
            batch_size: int | None = None) -> dict[str, float]:
    """:func:`evaluate` for data already checked."""
    probs = torch.sigmoid(_logits(model, data, batch_size)).numpy().astype(np.float64)
    labels = data.labels.numpy()
    return {"auc": auc(labels, probs), "logloss": logloss(labels, probs)}


def oracle_metrics(data: EncodedData) -> dict[str, float] | None:
    """AUC and LogLoss of the true click probability: the ceiling no model can beat on average."""
    if data.p_true is None or data.labels is None:
        return None
    labels = data.labels.numpy()
    return {"auc": auc(labels, data.p_true), "logloss": logloss(labels, data.p_true)}


def check_fit_arguments(model: nn.Module, train: EncodedData, valid: EncodedData | None,
                        epochs: int, batch_size: int, lr: float, weight_decay: float,
                        patience: int | None) -> None:
    """Everything :func:`fit` (and ``distributed.fit_distributed``) refuses before training:
    the data (ids in range, finite values, labels in [0, 1]), the budget and ``patience``."""
    _check_data("train", train, model, need_labels=True)
    if valid is not None:
        _check_data("valid", valid, model, need_labels=True)
    _check_budget(epochs, batch_size, lr, weight_decay)
    if patience is not None and (valid is None or patience < 1):
        raise ValueError("patience needs validation data and must be >= 1")


class EarlyStopping:
    """Early stopping on validation AUC: remembers the best epoch's weights and says when
    ``patience`` epochs in a row have not beaten it (``patience=None``: never stops)."""

    def __init__(self, patience: int | None):
        self.patience, self.best_auc, self.best_state, self.stale = patience, -1.0, None, 0

    def should_stop(self, model: nn.Module, valid_auc: float) -> bool:
        """Record one epoch's validation AUC; True when training should stop."""
        if self.patience is None:
            return False
        if valid_auc > self.best_auc:
            self.best_auc, self.stale = valid_auc, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        """Put the best epoch's weights back (nothing to do without early stopping)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def fit(model: nn.Module, train: EncodedData, valid: EncodedData | None = None, *,
        epochs: int = 3, batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0,
        seed: int = 0, device: str | torch.device = "auto", patience: int | None = None,
        progress: bool | None = None, amp: str | None = None,
        on_epoch: Callable[[dict], bool | None] | None = None) -> pd.DataFrame:
    """Train ``model`` with Adam on BCE-with-logits; return one history row per epoch.

    ``patience`` turns on early stopping on validation AUC: training stops after that many
    epochs without a better AUC, and the best epoch's weights are put back. The history has the
    columns ``epoch, train_loss, valid_auc, valid_logloss, seconds, samples_per_s``.

    ``train`` and ``valid`` are checked once, before training (ids within their fields' ranges,
    finite values, labels in [0, 1]): ``ValueError`` names the field and the row. A learning
    rate that is not a finite number > 0 raises ``ValueError`` naming ``lr``.

    ``amp`` (``"bf16"`` or ``"fp16"``, CUDA only; see :mod:`deepfm_lite.gpu`) runs the forward
    pass under ``torch.autocast``, with a loss scaler for fp16; the loss, the weights and the
    evaluation stay in float32. Without it (the default) the numbers are those of float32.

    ``on_epoch`` is called with a copy of each epoch's history row once the epoch is done and
    validated (a live plot draws from it); a true return value stops training there, that
    epoch kept (the playground's Stop button). It changes no number: without it, or with one
    that returns None, training is the same as before.

    If the training loss becomes NaN or infinite, :class:`TrainingDiverged` (a ``ValueError``)
    names the epoch, the first non-finite step and the learning rate. The loss is checked at
    the end of each epoch, from the sum the loop keeps anyway (no extra device sync per step);
    the step is then found among the epoch's step losses, which are kept on the device.
    """
    check_fit_arguments(model, train, valid, epochs, batch_size, lr, weight_decay, patience)
    show = settings.progress if progress is None else progress
    target = resolve_device(device)
    precision = amp_dtype(amp, target)  # None (float32): autocast and scaler then do nothing
    scaler = grad_scaler(precision, target)
    model.to(target)
    seed_everything(seed)
    shuffler = torch.Generator().manual_seed(seed)
    optimizer = make_adam(model.parameters(), lr=lr, weight_decay=weight_decay)  # fused Adam
    # The rows stay where they are (a GPU run streams each batch from host memory; put the data
    # on the GPU first, data.to("cuda"), to gather there instead).
    ids, values, labels = train.ids, train.values, train.labels
    history, stopping = [], EarlyStopping(patience)
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
        order = torch.randperm(len(train), generator=shuffler).to(ids.device)
        # Each batch is gathered by its slice of the permutation, never the whole shuffled
        # split: the same rows as slicing a shuffled copy (so the same numbers for a seed), but
        # arrays memory-mapped from disk (deepfm_lite.prepared) are never copied whole to RAM.
        total_loss = torch.zeros((), device=target)
        parts = list(_batches(len(train), batch_size))
        step_losses = []  # on the device: read only if the epoch's loss is not finite
        for part in tqdm(parts, disable=not show, desc=f"epoch {epoch}/{epochs}", leave=False):
            rows = order[part]
            # to_device: on a GPU, from pinned memory without blocking; on the CPU, nothing
            batch_ids, batch_values, batch_labels = (to_device(t[rows], target)
                                                     for t in (ids, values, labels))
            with autocast(precision, target):
                logits = model(batch_ids, batch_values)
            loss = F.binary_cross_entropy_with_logits(logits.float(), batch_labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # scale() returns loss itself unless fp16
            scaler.step(optimizer)  # optimizer.step(); skipped if fp16 gradients overflowed
            scaler.update()
            step_loss = loss.detach()
            step_losses.append(step_loss)
            total_loss += step_loss * (part.stop - part.start)
        if target.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start + (prepare_seconds if epoch == 1 else 0.0)
        train_loss = float(total_loss) / len(train)
        if not math.isfinite(train_loss):
            raise _diverged(epoch, step_losses, parts, lr)
        row = {"epoch": epoch, "train_loss": train_loss,
               "valid_auc": np.nan, "valid_logloss": np.nan, "seconds": seconds,
               "samples_per_s": len(train) / seconds}
        if valid is not None:
            scores = _scores(model, valid)
            row["valid_auc"], row["valid_logloss"] = scores["auc"], scores["logloss"]
        history.append(row)
        stop_asked = on_epoch is not None and bool(on_epoch(dict(row)))
        if stopping.should_stop(model, row["valid_auc"]) or stop_asked:
            break
    stopping.restore_best(model)
    return pd.DataFrame(history)


def _diverged(epoch: int, step_losses: list[torch.Tensor], parts: list[slice],
              lr: float) -> TrainingDiverged:
    """The :class:`TrainingDiverged` for an epoch whose summed loss is not finite.

    The first bad step is the first whose loss is NaN or infinite, or, if every step's loss is
    finite but huge, the one at which the epoch's float32 sum overflowed to ``inf``.
    """
    losses = torch.stack(step_losses).double().cpu()
    sizes = torch.tensor([part.stop - part.start for part in parts], dtype=torch.float64)
    running = torch.cumsum(losses.nan_to_num(0.0) * sizes, 0)
    bad = ~torch.isfinite(losses) | (running > torch.finfo(torch.float32).max)
    index = int(bad.nonzero()[0, 0]) if bool(bad.any()) else len(parts) - 1
    loss = float(losses[index])
    return TrainingDiverged(epoch, index + 1, len(parts), lr,
                            loss if not math.isfinite(loss) else math.inf)


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
