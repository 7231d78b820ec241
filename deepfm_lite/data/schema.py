"""Field encoding: from a pandas DataFrame to the ``ids`` / ``values`` tensors the models read.

A :class:`Schema` knows each field's name, kind, vocabulary and reserved ids. It is fitted on
the training split only and then turns any split into :class:`EncodedData`.

Id layout of one field (field-local ids; the models add per-field offsets):

* categorical: ``0`` = out of vocabulary (unseen at fit time, or seen fewer than ``min_count``
  times), ``1`` = missing value, ``2 ...`` = the vocabulary, sorted. The value ``x`` is always 1.
  A hashed field (``hash_buckets = N > 0``, written by ``deepfm_lite.data.prepared`` for a one-pass
  encoding) has no vocabulary: a value goes to id ``2 + h(value) mod N``, ``h`` being pandas'
  SipHash of its text (:func:`hash_category_ids`); ``1`` is still missing, ``0`` goes unused.
* numeric: ``0`` = present, with ``x`` = the number standardised by the training mean and
  standard deviation and clipped to [-5, 5]; ``1`` = missing (NaN), with ``x = 1``, so a missing
  number gets a vector of its own instead of silently becoming the mean. An infinite number
  (``inf``, ``-inf``) is treated exactly like a missing one: it takes no part in the mean and
  standard deviation and is encoded with the missing id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .encoded import TRUE_PROBABILITY, EncodedData, concat_encoded

OOV_ID = 0

MISSING_ID = 1

NUMERIC_CLIP = 5.0


@dataclass
class FieldSpec:
    """One field of the schema."""

    name: str
    kind: str  # "categorical" or "numeric"
    vocabulary: list[str] = field(default_factory=list)  # categorical only
    mean: float = 0.0  # numeric only
    std: float = 1.0  # numeric only
    hash_buckets: int = 0  # categorical only: > 0 hashes values into that many ids

    @property
    def size(self) -> int:
        """Rows this field takes in the shared embedding table."""
        if self.kind != "categorical":
            return 2
        return (self.hash_buckets or len(self.vocabulary)) + 2

    @property
    def oov_id(self) -> int:
        return OOV_ID

    @property
    def missing_id(self) -> int:
        return MISSING_ID


class _Moments:
    """Running count, mean and sum of squared deviations of a numeric field (Chan et al.)."""

    def __init__(self) -> None:
        self.count, self.mean, self.squares = 0, 0.0, 0.0

    def update(self, present: np.ndarray) -> None:
        """Add the (finite) numbers ``present``; an overflow gives ``inf`` (see _scale_of)."""
        if present.size == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            self._merge(present)

    def _merge(self, present: np.ndarray) -> None:
        mean = present.mean()
        squares = ((present - mean) ** 2).sum()
        if self.count == 0:
            self.count, self.mean, self.squares = present.size, float(mean), float(squares)
            return
        total = self.count + present.size
        delta = mean - self.mean
        self.squares += squares + delta**2 * self.count * present.size / total
        self.mean += delta * present.size / total
        self.count = total

    def mean_std(self) -> tuple[float, float]:
        """Mean and (population) standard deviation; 0 and 1 when there are too few values."""
        mean = self.mean if self.count else 0.0
        std = float(np.sqrt(self.squares / self.count)) if self.count > 1 else 1.0
        return mean, std


def _scale_of(name: str, moments: _Moments) -> tuple[float, float]:
    """Mean and standard deviation of numeric field ``name``; a std of 0 becomes 1.

    Raises ``ValueError`` when the numbers are too large for float64 statistics (an overflow
    to ``inf`` would turn every encoded value of the field into NaN).
    """
    mean, std = moments.mean_std()
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise ValueError(f"numeric field {name!r} holds numbers too large to standardise "
                         f"(mean {mean}, std {std}); rescale the column, e.g. with a log")
    return mean, std if std > 0 else 1.0


def category_keys(series: pd.Series) -> pd.Series:
    """Categories as strings; integral floats written without '.0' so 3 and 3.0 agree."""
    if pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if len(present) and np.all(np.mod(present.to_numpy(), 1) == 0):
            series = series.astype("Int64")
    return series.astype("string")


def first_non_number(column: pd.Series) -> int | None:
    """Position of the first value of ``column`` that is present but not a number, or None."""
    if pd.api.types.is_numeric_dtype(column):
        return None
    bad = (pd.to_numeric(column, errors="coerce").isna() & column.notna()).to_numpy()
    return int(bad.argmax()) if bad.any() else None


def _numeric_column(df: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64; NaN where missing. A value that is not a number is an error."""
    column = df[name]
    converted = pd.to_numeric(column, errors="coerce")
    row = first_non_number(column)
    if row is not None:
        raise ValueError(f"numeric field {name!r} holds a non-number {column.iloc[row]!r} "
                         f"at row {row}")
    return converted.to_numpy(dtype=np.float64)


class Schema:
    """The fields of a data set and how to encode them (fitted on training data only)."""

    def __init__(self, fields: Sequence[FieldSpec], label: str | None):
        self.fields = list(fields)
        self.label = label

    # ---- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(cls, df: pd.DataFrame, categorical: Sequence[str] = (), numeric: Sequence[str] = (),
            label: str | None = None, min_count: int = 1) -> Schema:
        """Learn vocabularies (categories seen at least ``min_count`` times) and numeric scales.

        A numeric field's mean and standard deviation come from its finite values only: NaN
        and +-inf are missing values (see the module docstring).
        """
        return cls.fit_stream([df], categorical, numeric, label, min_count)

    @classmethod
    def fit_stream(cls, frames: Iterable[pd.DataFrame], categorical: Sequence[str] = (),
                   numeric: Sequence[str] = (), label: str | None = None,
                   min_count: int = 1) -> Schema:
        """:meth:`fit` over an iterable of DataFrame chunks, read one at a time.

        Category counts and numeric moments are summed over the chunks (means and variances
        merged exactly, Chan et al.'s pairwise update), so a file larger than memory can be
        fitted chunk by chunk, e.g. from ``read_criteo(path, chunksize=...)``. One chunk gives
        exactly what :meth:`fit` gives.
        """
        if isinstance(frames, pd.DataFrame):
            raise TypeError("fit_stream takes an iterable of DataFrames; "
                            "use Schema.fit for a single DataFrame")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        overlap = set(categorical) & set(numeric)
        if overlap:
            raise ValueError(f"fields listed as both categorical and numeric: {sorted(overlap)}")
        if not categorical and not numeric:
            raise ValueError("a schema needs at least one categorical or numeric field")
        counts: dict[str, pd.Series | None] = {name: None for name in categorical}
        moments = {name: _Moments() for name in numeric}
        columns = None
        for df in frames:
            _require_columns(df, [*categorical, *numeric, *([label] if label else [])])
            columns = list(df.columns) if columns is None else columns
            for name in categorical:
                chunk = category_keys(df[name]).value_counts(dropna=True)
                counts[name] = chunk if counts[name] is None else counts[name].add(
                    chunk, fill_value=0)
            for name in numeric:
                column = _numeric_column(df, name)
                moments[name].update(column[np.isfinite(column)])  # inf counts as missing
        if columns is None:
            raise ValueError("no data to fit: the iterable of frames was empty")
        specs = []
        for name in categorical:
            kept = sorted(counts[name].index[counts[name].to_numpy() >= min_count].tolist())
            specs.append(FieldSpec(name, "categorical", vocabulary=[str(v) for v in kept]))
        for name in numeric:
            mean, std = _scale_of(name, moments[name])
            specs.append(FieldSpec(name, "numeric", mean=mean, std=std))
        order = {name: i for i, name in enumerate(columns)}
        specs.sort(key=lambda spec: order[spec.name])  # keep the frame's column order
        return cls(specs, label)

    # ---- facts ---------------------------------------------------------------------------
    @property
    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]

    @property
    def field_dims(self) -> list[int]:
        """Rows of the shared embedding table per field (pass this to a model)."""
        return [spec.size for spec in self.fields]

    def __getitem__(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"no field named {name!r}; fields are {self.field_names}")

    def __repr__(self) -> str:
        parts = [f"{s.name}:{'cat' if s.kind == 'categorical' else 'num'}[{s.size}]"
                 for s in self.fields]
        return f"Schema(label={self.label!r}, fields=[{', '.join(parts)}])"

    # ---- encoding ------------------------------------------------------------------------
    def transform(self, df: pd.DataFrame, require_label: bool = True) -> EncodedData:
        """Encode ``df``; unseen categories become the field's OOV id, never an index error.

        A missing number (NaN) and an infinite one (+-inf) both get the field's missing id,
        with ``x = 1``. Every id is within its field's range by construction.
        """
        needed = self.field_names + ([self.label] if self.label and require_label else [])
        _require_columns(df, needed)
        n = len(df)
        ids = np.zeros((n, len(self.fields)), dtype=np.int64)
        values = np.ones((n, len(self.fields)), dtype=np.float32)
        for j, spec in enumerate(self.fields):
            if spec.kind == "categorical":
                keys = category_keys(df[spec.name])
                if spec.hash_buckets:
                    ids[:, j] = hash_category_ids(keys, spec.hash_buckets)
                else:
                    codes = pd.Index(spec.vocabulary, dtype="string").get_indexer(keys)
                    ids[:, j] = np.where(codes >= 0, codes + 2, OOV_ID)
                ids[keys.isna().to_numpy(), j] = MISSING_ID
            else:
                column = _numeric_column(df, spec.name)
                missing = ~np.isfinite(column)  # NaN and +-inf alike
                with np.errstate(over="ignore", invalid="ignore"):
                    scaled = np.clip((column - spec.mean) / spec.std, -NUMERIC_CLIP,
                                     NUMERIC_CLIP)
                ids[:, j] = np.where(missing, MISSING_ID, 0)
                values[:, j] = np.where(missing, 1.0, scaled)
        labels = None
        if self.label and self.label in df.columns:
            labels = torch.from_numpy(_label_column(df, self.label))
        p_true = (df[TRUE_PROBABILITY].to_numpy(dtype=np.float64)
                  if TRUE_PROBABILITY in df.columns else None)
        return EncodedData(torch.from_numpy(ids), torch.from_numpy(values), labels, p_true)

    def transform_stream(self, frames: Iterable[pd.DataFrame],
                         require_label: bool = True) -> EncodedData:
        """:meth:`transform` each chunk of ``frames`` and join them, rows in order."""
        if isinstance(frames, pd.DataFrame):
            raise TypeError("transform_stream takes an iterable of DataFrames; "
                            "use Schema.transform for a single DataFrame")
        return concat_encoded([self.transform(df, require_label) for df in frames])

    # ---- saving --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"label": self.label,
                "fields": [{"name": s.name, "kind": s.kind, "vocabulary": list(s.vocabulary),
                            "mean": s.mean, "std": s.std,
                            **({"hash_buckets": s.hash_buckets} if s.hash_buckets else {})}
                           for s in self.fields]}

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        """The schema :meth:`to_dict` wrote; ``ValueError`` saying what is wrong otherwise."""
        if not isinstance(data, dict):
            raise ValueError(f"not a deepfm_lite schema: expected a dict, got "
                             f"{type(data).__name__}")
        try:
            fields = [_field_from_dict(f) for f in data["fields"]]
            label = data["label"]
        except KeyError as error:
            raise ValueError(f"not a deepfm_lite schema: missing {error}") from error
        except (TypeError, ValueError) as error:
            raise ValueError(f"not a deepfm_lite schema: {error}") from error
        if not fields:
            raise ValueError("not a deepfm_lite schema: it has no fields")
        names = [spec.name for spec in fields]
        if len(set(names)) != len(names):
            raise ValueError(f"not a deepfm_lite schema: a field name repeats in {names}")
        if label is not None and not isinstance(label, str):
            raise ValueError(f"not a deepfm_lite schema: label must be a name or null, "
                             f"got {label!r}")
        return cls(fields, label)


def _field_from_dict(data: dict) -> FieldSpec:
    """One field of :meth:`Schema.from_dict`, its kind, vocabulary and scale checked."""
    name, kind, vocabulary = data["name"], data["kind"], data["vocabulary"]
    if not isinstance(name, str):
        raise ValueError(f"a field name must be a string, got {name!r}")
    if kind not in ("categorical", "numeric"):
        raise ValueError(f"field {name!r} has kind {kind!r}; expected 'categorical' or 'numeric'")
    if not isinstance(vocabulary, list) or not all(isinstance(v, str) for v in vocabulary):
        raise ValueError(f"field {name!r}: the vocabulary must be a list of strings")
    mean, std = float(data["mean"]), float(data["std"])
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise ValueError(f"field {name!r}: mean and std must be finite and std > 0, "
                         f"got mean {mean}, std {std}")
    buckets = data.get("hash_buckets", 0)
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 0:
        raise ValueError(f"field {name!r}: hash_buckets must be an integer >= 0, got {buckets!r}")
    if buckets and (kind != "categorical" or vocabulary):
        raise ValueError(f"field {name!r}: only a categorical field without a vocabulary can "
                         "be hashed")
    return FieldSpec(name, kind, list(vocabulary), mean, std, buckets)


def hash_category_ids(keys: pd.Series, buckets: int) -> np.ndarray:
    """Field-local ids ``2 + h(key) mod buckets`` of category texts (``MISSING_ID`` for <NA>).

    ``h`` is ``pandas.util.hash_array``: SipHash-2-4 of the UTF-8 text under pandas' fixed key,
    the same on every machine and in every process (Python's own ``hash`` of a string is not).
    """
    present = keys.notna().to_numpy()
    ids = np.full(len(keys), MISSING_ID, dtype=np.int64)
    if present.any():
        hashes = pd.util.hash_array(keys[present].to_numpy(dtype=object), categorize=True)
        ids[present] = 2 + (hashes % np.uint64(buckets)).astype(np.int64)
    return ids


def _require_columns(df: pd.DataFrame, names: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [name for name in names if name not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found in the data; it has {list(df.columns)}")


def _label_column(df: pd.DataFrame, label: str) -> np.ndarray:
    column = pd.to_numeric(df[label], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~((column == 0) | (column == 1))
    if bad.any():
        row = int(bad.nonzero()[0][0])
        raise ValueError(f"label {label!r} must be 0 or 1; row {row} holds {df[label].iloc[row]!r}")
    return column.astype(np.float32)
