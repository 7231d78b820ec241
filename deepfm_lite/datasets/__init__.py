"""Data with known truth (generators), readers for real Criteo files, and ready-made splits."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..data import EncodedData, Schema, split_frame
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
    """Split ``df`` by ``seed``, fit a :class:`Schema` on the training part, encode all three."""
    frames = split_frame(df, fractions, seed)
    schema = Schema.fit(frames[0], categorical, numeric, label, min_count=min_count)
    train, valid, test = (schema.transform(frame) for frame in frames)
    return PreparedData(schema, train, valid, test, frames)


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
           "CRITEO_LABEL", "CRITEO_INTEGER", "CRITEO_CATEGORICAL", "CRITEO_COLUMNS",
           "make_criteo_like", "write_criteo_tsv", "read_criteo", "apply_criteo_recipe",
           "criteo_like_min_count", "CRITEO_X4_MIN_COUNT", "prepare_criteo"]
