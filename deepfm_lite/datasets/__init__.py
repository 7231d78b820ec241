"""Data with known truth (generators), readers for real Criteo files, and ready-made splits."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..data import TRUE_PROBABILITY, EncodedData, Schema, split_frame
from . import appstore
from .appstore import make_appstore
from .criteo import (
    CRITEO_CATEGORICAL,
    CRITEO_COLUMNS,
    CRITEO_INTEGER,
    CRITEO_LABEL,
    CRITEO_X4_MIN_COUNT,
    apply_criteo_recipe,
    criteo_like_min_count,
    make_criteo_like,
    prepare_criteo,
    read_criteo,
    write_criteo_tsv,
)

DATASETS = ("appstore", "criteo-like")

# Columns a generator writes beside the label that are the answer, not an input: a model that
# reads one is handed the click probability it is meant to learn. Kept out of inferred features.
GROUND_TRUTH_COLUMNS: dict[str, str] = {
    TRUE_PROBABILITY: "the generator's true click probability, not a feature",
}

# Memory one generated row takes while it is generated, split, encoded and trained on (the
# frames, the encoded tensors and fit's shuffled copy), measured as the growth of the peak RSS
# from 40k to 80k rows on CPython 3.11 / pandas 2 (about 1.15 KB and 2.2 KB), rounded up.
GENERATED_BYTES_PER_ROW = {"appstore": 1_400, "criteo-like": 3_200}


class GroundTruthWarning(UserWarning):
    """A ground-truth column (see :data:`GROUND_TRUTH_COLUMNS`) was named as a feature."""


@dataclass
class PreparedData:
    """A data set cut into train / validation / test, encoded by a schema fitted on train."""

    schema: Schema
    train: EncodedData
    valid: EncodedData
    test: EncodedData
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]

    @property
    def field_dims(self) -> list[int]:
        return self.schema.field_dims


def prepare(df: pd.DataFrame, categorical, numeric, label: str, seed: int = 0,
            min_count: int = 1, fractions=(0.8, 0.1, 0.1)) -> PreparedData:
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
    return PreparedData(schema, train, valid, test, frames)


def check_fields(df: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str],
                 label: str) -> None:
    """Refuse what would silently train on the wrong thing (see :func:`prepare`)."""
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


def split_positives(data: PreparedData) -> dict[str, tuple[int, int]]:
    """``{"train": (positives, rows), "valid": ..., "test": ...}`` of prepared data."""
    counts = {}
    for name in ("train", "valid", "test"):
        part = getattr(data, name)
        positives = 0 if part.labels is None else int(part.labels.sum())
        counts[name] = (positives, len(part))
    return counts


def check_both_classes(data: PreparedData) -> None:
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


def estimate_generated_bytes(name: str, n_rows: int) -> int:
    """About how much memory generating, encoding and training on ``n_rows`` rows of ``name``
    takes (see :data:`GENERATED_BYTES_PER_ROW`)."""
    return GENERATED_BYTES_PER_ROW[name] * int(n_rows)


def load_dataset(name: str, n_rows: int, seed: int = 0) -> PreparedData:
    """Generate ``n_rows`` of a course data set and prepare its splits (80/10/10 by ``seed``)."""
    if name == "appstore":
        df = make_appstore(n_rows, seed=seed)
        return prepare(df, appstore.CATEGORICAL, appstore.NUMERIC, appstore.LABEL, seed=seed)
    if name == "criteo-like":
        n_train = round(n_rows * 0.8)
        return prepare_criteo(make_criteo_like(n_rows, seed=seed), seed=seed,
                              min_count=criteo_like_min_count(n_train))
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


__all__ = ["DATASETS", "PreparedData", "load_dataset", "make_appstore", "prepare",
           "GROUND_TRUTH_COLUMNS", "GENERATED_BYTES_PER_ROW", "GroundTruthWarning",
           "check_fields", "ground_truth_warning", "infer_fields", "split_positives",
           "check_both_classes", "estimate_generated_bytes",
           "CRITEO_LABEL", "CRITEO_INTEGER", "CRITEO_CATEGORICAL", "CRITEO_COLUMNS",
           "make_criteo_like", "write_criteo_tsv", "read_criteo", "apply_criteo_recipe",
           "criteo_like_min_count", "CRITEO_X4_MIN_COUNT", "prepare_criteo"]
