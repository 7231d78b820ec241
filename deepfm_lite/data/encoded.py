"""Encoded rows: the ``ids`` / ``values`` tensors every model reads, and their checks.

Ids that reach a model from elsewhere (an :class:`EncodedData` built by hand) are checked by
:func:`check_ids` where they enter training and prediction: an id outside its field's range
would otherwise read another field's embedding row without any error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

# The column in which the course's generators write each row's true click probability: the
# oracle a model is measured against, never one of its features.
TRUE_PROBABILITY = "p_true"


@dataclass
class EncodedData:
    """Encoded rows: ``ids`` and ``values`` of shape ``[rows, fields]``, ``labels`` ``[rows]``.

    ``p_true`` holds the true click probability when the data came from a generator.
    """

    ids: torch.Tensor
    values: torch.Tensor
    labels: torch.Tensor | None = None
    p_true: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def subset(self, index) -> EncodedData:
        """Rows selected by a slice, boolean mask or integer index."""
        # np.array copies: a read-only mask (pandas' to_numpy) would make torch warn.
        index_t = torch.as_tensor(np.array(index)) if not isinstance(index, slice) else index
        p_true = None if self.p_true is None else self.p_true[
            index if isinstance(index, slice) else np.asarray(index)]
        labels = None if self.labels is None else self.labels[index_t]
        return EncodedData(self.ids[index_t], self.values[index_t], labels, p_true)

    def to(self, device: torch.device | str) -> EncodedData:
        labels = None if self.labels is None else self.labels.to(device)
        return EncodedData(self.ids.to(device), self.values.to(device), labels, self.p_true)


def _field_label(column: int, names: Sequence[str] | None) -> str:
    """``field 'city' (column 2)`` when the names are known, else ``field 2``."""
    return f"field {names[column]!r} (column {column})" if names else f"field {column}"


def check_ids(ids: torch.Tensor, field_dims: Sequence[int], where: str = "data",
              names: Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` unless every id of field ``j`` lies in ``[0, field_dims[j])``.

    ``ids`` is a ``[rows, fields]`` integer tensor of field-local ids (see the module
    docstring). An id past its field's end would silently read the next field's embedding row,
    and a negative one the previous field's, so this is checked where tensors enter training
    and prediction. The message starts with ``where`` and names the field (by ``names`` when
    given, else by column), the bad id, the field's size and the first row holding it.

    Costs one pass over ``ids`` (a per-column min and max); the row is looked up only when an
    id is out of range.
    """
    if ids.dim() != 2 or ids.shape[1] != len(field_dims):
        raise ValueError(f"{where}: ids must have shape [rows, {len(field_dims)}], "
                         f"got {list(ids.shape)}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"{where}: ids must be an integer tensor, got {ids.dtype}")
    if names is not None and len(names) != len(field_dims):
        names = None
    if ids.shape[0] == 0:
        return
    low, high = ids.aminmax(dim=0)
    sizes = torch.as_tensor([int(d) for d in field_dims], device=ids.device)
    bad_columns = ((low < 0) | (high >= sizes)).nonzero().flatten().tolist()
    if not bad_columns:
        return
    column = bad_columns[0]
    size = int(field_dims[column])
    column_ids = ids[:, column]
    row = int(((column_ids < 0) | (column_ids >= size)).nonzero()[0, 0])
    bad = int(column_ids[row])
    rule = "ids are never negative" if bad < 0 else f"the field has {size} ids, 0 to {size - 1}"
    raise ValueError(f"{where}: {_field_label(column, names)} holds id {bad} at row {row}; "
                     f"{rule}")


def check_values(values: torch.Tensor, where: str = "data",
                 names: Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` if ``values`` (``[rows, fields]``) holds a NaN or an infinity.

    One non-finite ``x`` turns the loss and every prediction of its batch into NaN. The message
    names the field and the first row; :meth:`Schema.transform` never produces such a value
    (a missing or infinite number gets the field's missing id).
    """
    if not values.dtype.is_floating_point:
        raise ValueError(f"{where}: values must be a floating-point tensor, got {values.dtype}")
    if values.numel() == 0 or bool(torch.isfinite(values.sum())):
        return  # a NaN or an infinity would make the sum non-finite: the common case is one sum
    low, high = values.aminmax(dim=0)  # a finite column may only have overflowed the sum
    bad_columns = (~(torch.isfinite(low) & torch.isfinite(high))).nonzero().flatten().tolist()
    if not bad_columns:
        return
    column = bad_columns[0]
    if names is not None and len(names) != values.shape[1]:
        names = None
    row = int((~torch.isfinite(values[:, column])).nonzero()[0, 0])
    raise ValueError(f"{where}: {_field_label(column, names)} holds the non-finite value "
                     f"{float(values[row, column])} at row {row}; encode missing or infinite "
                     "numbers with Schema.transform, which gives them the field's missing id")


def concat_encoded(parts: Sequence[EncodedData]) -> EncodedData:
    """Join encoded chunks into one :class:`EncodedData`, rows in order."""
    if not parts:
        raise ValueError("no encoded chunks to join")
    for name in ("labels", "p_true"):
        present = [getattr(part, name) is not None for part in parts]
        if any(present) and not all(present):
            raise ValueError(f"some chunks have {name} and some do not; cannot join them")
    labels = None if parts[0].labels is None else torch.cat([part.labels for part in parts])
    p_true = None if parts[0].p_true is None else np.concatenate([part.p_true for part in parts])
    return EncodedData(torch.cat([part.ids for part in parts]),
                       torch.cat([part.values for part in parts]), labels, p_true)


def split_frame(df: pd.DataFrame, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                seed: int = 0) -> tuple[pd.DataFrame, ...]:
    """Shuffle rows with ``seed`` and cut them into train / validation / test parts."""
    if len(fractions) < 2 or any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1):
        raise ValueError(f"fractions must be >= 2 positive numbers summing to 1, got {fractions}")
    order = np.random.default_rng(seed).permutation(len(df))
    bounds = np.round(np.cumsum(fractions)[:-1] * len(df)).astype(int)
    return tuple(df.iloc[part].reset_index(drop=True) for part in np.split(order, bounds))
