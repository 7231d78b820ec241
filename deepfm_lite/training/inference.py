"""Prediction and evaluation over pre-encoded tensors, and the checks data passes on its way in.

Data is checked once where it enters (:func:`check_data`): an id outside its field's range would
otherwise read another field's embedding row without any error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..data import EncodedData, check_ids, check_values
from .metrics import auc, logloss


def field_names(model: nn.Module) -> Sequence[str] | None:
    """The field names of a model that carries a schema (from ``checkpoint.load``), else None."""
    schema = getattr(model, "schema", None)
    return None if schema is None else schema.field_names


def check_data(name: str, data: EncodedData, model: nn.Module, need_labels: bool) -> None:
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
    names = field_names(model)
    if field_dims is not None:
        check_ids(data.ids, field_dims, where=name, names=names)
    check_values(data.values, where=name, names=names)
    if need_labels:
        check_labels(name, data.labels, len(data))


def check_labels(name: str, labels: torch.Tensor, rows: int) -> None:
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


def batch_slices(n_rows: int, batch_size: int):
    for start in range(0, n_rows, batch_size):
        yield slice(start, min(start + batch_size, n_rows))


# Rows per prediction batch. On a CPU, 2048 rows keep a 400-wide layer's activations (3.3 MB)
# closer to the caches than 8192 rows (13 MB): DeepFM's inference ran about 14% faster (8 fresh
# processes timing both sizes, 4 in each order, 2-core AMD EPYC; see benchmarks/README.md).
# A GPU wants large batches. The batch size is a speed choice only: a row's logit is the same in
# any batch, up to a float32 rounding step where the matrix library picks another kernel for
# another number of rows (tests/test_training.py).
PREDICT_BATCH = {"cpu": 2048, "other": 16384}


def prediction_batch_size(device: torch.device, batch_size: int | None) -> int:
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
    check_data("data", data, model, need_labels=False)
    return logits_of_checked(model, data, batch_size)


@torch.no_grad()
def logits_of_checked(model: nn.Module, data: EncodedData, batch_size: int | None) -> torch.Tensor:
    """:func:`predict_logits` for data already checked (fit's validation split, every epoch)."""
    device = next(model.parameters()).device
    batch_size = prediction_batch_size(device, batch_size)
    was_training = model.training
    model.eval()
    try:
        parts = [model(data.ids[part].to(device), data.values[part].to(device)).float().cpu()
                 for part in batch_slices(len(data), batch_size)]
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
    check_data("data", data, model, need_labels=True)
    return scores_of_checked(model, data, batch_size)


def scores_of_checked(model: nn.Module, data: EncodedData,
            batch_size: int | None = None) -> dict[str, float]:
    """:func:`evaluate` for data already checked."""
    probs = torch.sigmoid(logits_of_checked(model, data, batch_size)).numpy().astype(np.float64)
    labels = data.labels.numpy()
    return {"auc": auc(labels, probs), "logloss": logloss(labels, probs)}


def oracle_metrics(data: EncodedData) -> dict[str, float] | None:
    """AUC and LogLoss of the true click probability: the ceiling no model can beat on average."""
    if data.p_true is None or data.labels is None:
        return None
    labels = data.labels.numpy()
    return {"auc": auc(labels, data.p_true), "logloss": logloss(labels, data.p_true)}
