"""A data set cut into train / validation / test and encoded by a schema fitted on train.

:func:`encode_splits` refuses, before anything is split, what would silently train on the wrong
thing: a duplicated column name, a label named as a feature, a label other than 0/1.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .encoded import TRUE_PROBABILITY, EncodedData, split_frame
from .schema import Schema

# Columns a generator writes beside the label that are the answer, not an input: a model that
# reads one is handed the click probability it is meant to learn. Kept out of inferred features.
GROUND_TRUTH_COLUMNS: dict[str, str] = {
    TRUE_PROBABILITY: "the generator's true click probability, not a feature",
}


class GroundTruthWarning(UserWarning):
    """A ground-truth column (see :data:`GROUND_TRUTH_COLUMNS`) was named as a feature."""


@dataclass
class SplitData:
    """A data set cut into train / validation / test, encoded by a schema fitted on train."""

    schema: Schema
    train: EncodedData
    valid: EncodedData
    test: EncodedData
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]

    @property
    def field_dims(self) -> list[int]:
        return self.schema.field_dims


def encode_splits(df: pd.DataFrame, categorical, numeric, label: str, seed: int = 0,
            min_count: int = 1, fractions=(0.8, 0.1, 0.1)) -> SplitData:
    """Split ``df`` by ``seed``, fit a :class:`Schema` on the training part, encode all three.

    Refused with ValueError before anything is split: duplicated column names, a label that is
    also named as a feature, and a label other than 0/1 (naming the row by ``df``'s index, not
    its place in a shuffled split). Naming a ground-truth column such as ``p_true`` as a feature
    is allowed but warns (:class:`GroundTruthWarning`).
    """
    check_fields(df, categorical, numeric, label)
    frames = split_frame(df, fractions, seed)
    schema = Schema.fit(frames[0], categorical, numeric, label, min_count=min_count)
    train, valid, test = (schema.transform(frame) for frame in frames)
    return SplitData(schema, train, valid, test, frames)


def check_fields(df: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str],
                 label: str) -> None:
    """Refuse what would silently train on the wrong thing (see :func:`encode_splits`)."""
    duplicated = sorted({str(name) for name in df.columns[df.columns.duplicated()]})
    if duplicated:
        raise ValueError(f"duplicated column name(s) {duplicated}: every column needs its own "
                         "name")
    if label not in df.columns:
        raise ValueError(f"no label column {label!r}; columns: {', '.join(map(str, df.columns))}")
    for kind, names in (("categorical", categorical), ("numeric", numeric)):
        if label in names:
            raise ValueError(f"the label column {label!r} is also named as a {kind} feature; a "
                             "label cannot be a feature (the model would read the answer)")
        for name in names:
            if name in GROUND_TRUTH_COLUMNS:
                warnings.warn(ground_truth_warning(name), GroundTruthWarning, stacklevel=3)
    labels = pd.to_numeric(df[label], errors="coerce")
    bad = ~labels.isin((0, 1)).to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise ValueError(f"label {label!r} must be 0 or 1; row {df.index[row]!r} holds "
                         f"{df[label].iloc[row]!r}")


def ground_truth_warning(name: str) -> str:
    """What to tell someone who uses the ground-truth column ``name`` as a feature."""
    return (f"{name} is {GROUND_TRUTH_COLUMNS[name]}: a model that reads it is handed the "
            "answer, and its test scores measure nothing")


def infer_fields(df: pd.DataFrame, label: str) -> tuple[list[str], list[str], list[str]]:
    """Guess the features of ``df``: float columns numeric, the rest categorical.

    The label and the ground-truth columns (:data:`GROUND_TRUTH_COLUMNS`) are left out. Returns
    ``(categorical, numeric, left_out)``, ``left_out`` being the ground-truth columns found.
    """
    left_out = [name for name in df.columns if name in GROUND_TRUTH_COLUMNS]
    features = [name for name in df.columns if name != label and name not in left_out]
    numeric = [name for name in features if pd.api.types.is_float_dtype(df[name])]
    categorical = [name for name in features if name not in numeric]
    return categorical, numeric, left_out


def split_positives(data: SplitData) -> dict[str, tuple[int, int]]:
    """``{"train": (positives, rows), "valid": ..., "test": ...}`` of prepared data."""
    counts = {}
    for name in ("train", "valid", "test"):
        part = getattr(data, name)
        positives = 0 if part.labels is None else int(part.labels.sum())
        counts[name] = (positives, len(part))
    return counts


def check_both_classes(data: SplitData) -> None:
    """Raise ValueError, before any training, if a split lacks clicks or non-clicks.

    AUC (and early stopping on it) needs both classes in every split; the message names the
    split and gives every split's positives.
    """
    counts = split_positives(data)
    for name, (positives, rows) in counts.items():
        if 0 < positives < rows:
            continue
        what = "no rows" if rows == 0 else "no clicks" if positives == 0 else "only clicks"
        summary = ", ".join(f"{split} {pos}/{n}" for split, (pos, n) in counts.items())
        raise ValueError(f"the {name} split has {what} ({positives} positives in {rows} "
                         f"row{'' if rows == 1 else 's'}): "
                         f"AUC needs both classes. Positives per split: {summary}; "
                         "use more rows or another seed")
