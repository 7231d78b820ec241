"""The course's generated data sets by name: ``load_dataset("appstore", rows, seed)``."""

from __future__ import annotations

from . import appstore
from .appstore import make_appstore
from .criteo_like import criteo_like_min_count, encode_criteo_splits, make_criteo_like
from .splits import SplitData, encode_splits

DATASETS = ("appstore", "criteo-like")

# Memory one generated row takes while it is generated, split, encoded and trained on (the
# frames, the encoded tensors and fit's shuffled copy), measured as the growth of the peak RSS
# from 40k to 80k rows on CPython 3.11 / pandas 2 (about 1.15 KB and 2.2 KB), rounded up.
GENERATED_BYTES_PER_ROW = {"appstore": 1_400, "criteo-like": 3_200}


def estimate_generated_bytes(name: str, n_rows: int) -> int:
    """About how much memory generating, encoding and training on ``n_rows`` rows of ``name``
    takes (see :data:`GENERATED_BYTES_PER_ROW`)."""
    return GENERATED_BYTES_PER_ROW[name] * int(n_rows)


def load_dataset(name: str, n_rows: int, seed: int = 0) -> SplitData:
    """Generate ``n_rows`` of a course data set and prepare its splits (80/10/10 by ``seed``)."""
    if name == "appstore":
        df = make_appstore(n_rows, seed=seed)
        return encode_splits(df, appstore.CATEGORICAL, appstore.NUMERIC, appstore.LABEL, seed=seed)
    if name == "criteo-like":
        n_train = round(n_rows * 0.8)
        return encode_criteo_splits(make_criteo_like(n_rows, seed=seed), seed=seed,
                                    min_count=criteo_like_min_count(n_train))
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
