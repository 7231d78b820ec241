"""The Criteo format: its columns, the Criteo_x4 recipe for its integer fields, and a writer.

The Criteo Display Advertising Challenge data (the paper's Criteo set) has one label, 13 integer
fields ``I1..I13`` (counts, often missing, heavy-tailed) and 26 categorical fields ``C1..C26``
(8-hex-digit hashes). :func:`write_criteo_tsv` writes rows in the Kaggle ``train.txt`` format;
:mod:`deepfm_lite.data.criteo_reader` reads it; :mod:`deepfm_lite.data.criteo_like` generates
rows of this shape with a known click probability.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from .atomic import write_atomically

CRITEO_LABEL = "label"

CRITEO_INTEGER = [f"I{i}" for i in range(1, 14)]

CRITEO_CATEGORICAL = [f"C{i}" for i in range(1, 27)]

CRITEO_COLUMNS = [CRITEO_LABEL, *CRITEO_INTEGER, *CRITEO_CATEGORICAL]

CRITEO_FEATURES = [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]  # test.txt's 39 columns, no label

CRITEO_X4_MIN_COUNT = 10  # Criteo_x4 keeps categories seen >= 10 times in ~36M training rows


def criteo_integer_to_category(values: pd.Series) -> pd.Series:
    """The Criteo_x4 recipe for an integer field: ``v > 2 -> floor(ln(v)^2)``, else ``v``.

    Missing stays missing (it gets the field's own missing id when encoded).
    """
    numbers = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bucketed = np.where(numbers > 2, np.floor(np.log(numbers) ** 2), numbers)
    # Each distinct bucket is written as text once (a column holds a few dozen of them), then
    # spread to the rows by its code; a missing value (code -1) stays missing.
    codes, buckets = pd.factorize(bucketed)
    text = pd.Series(buckets).astype("Int64").astype("string").array
    return pd.Series(text.take(codes, allow_fill=True), index=values.index)


def apply_criteo_recipe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with ``I1..I13`` turned into categories by the Criteo_x4 recipe.

    ``v > 2 -> floor(ln(v)^2)``, other values kept as they are, missing stays missing (see
    :func:`criteo_integer_to_category`). All 39 fields are then categorical.
    """
    missing = [name for name in CRITEO_INTEGER if name not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; a Criteo frame has {CRITEO_COLUMNS}")
    out = df.copy()
    for name in CRITEO_INTEGER:
        try:
            out[name] = criteo_integer_to_category(df[name])
        except (ValueError, TypeError) as error:
            raise ValueError(f"integer field {name!r} holds a non-number: {error}") from error
    return out


def write_criteo_tsv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as Kaggle ``train.txt``: tab-separated, no header, ``""`` for missing.

    Columns written: ``label, I1..I13, C1..C26`` in that order; others (``p_true``) are left
    out. The file appears at once: it is written to a temporary file beside ``path`` and renamed
    (:func:`~deepfm_lite.data.atomic.write_atomically`), with the mode any new file gets
    (``0o666`` less the umask) or that of the file it replaces.
    """
    missing = [name for name in CRITEO_COLUMNS if name not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; write_criteo_tsv needs {CRITEO_COLUMNS}")
    out = pd.DataFrame(index=df.index)
    label = pd.to_numeric(df[CRITEO_LABEL], errors="coerce")
    bad = ~label.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"label must be 0 or 1; row {row} holds {df[CRITEO_LABEL].iloc[row]!r}")
    out[CRITEO_LABEL] = label.astype(np.int64)
    for name in CRITEO_INTEGER:
        out[name] = _as_nullable_integers(df[name], name)
    for name in CRITEO_CATEGORICAL:
        out[name] = _as_tsv_text(df[name], name)
    path = Path(path)

    def write(file: BinaryIO) -> None:
        text = io.TextIOWrapper(file, encoding="utf-8", newline="")
        out.to_csv(text, sep="\t", header=False, index=False, na_rep="",
                   quoting=csv.QUOTE_NONE, lineterminator="\n")
        text.flush()
        text.detach()  # the binary file stays open for write_atomically to sync and close

    write_atomically(path, write)
    return path


def _as_nullable_integers(column: pd.Series, name: str) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()) | (numbers.notna() & (numbers % 1 != 0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"integer field {name!r} holds {column.iloc[row]} at row {row}")
    return numbers.astype("Int64")


def _as_tsv_text(column: pd.Series, name: str) -> pd.Series:
    text = column.astype("string")
    distinct = pd.Series(text.dropna().unique(), dtype="string")  # checked once per value
    if distinct.str.contains(r"[\t\n\r]", regex=True).any():
        bad = text.str.contains(r"[\t\n\r]", regex=True).fillna(False)
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"field {name!r} holds a tab or line break at row {row}: "
                         f"{text.iloc[row]!r}")
    return text
