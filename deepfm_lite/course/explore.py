"""Small tools for looking at CTR data before modelling it (notebook 01).

Click-rate tables by two fields, the log-odds contrast that measures an interaction in such a
table, the width of the one-hot view, and counts of the cross features a Wide & Deep model's
wide part would need. Each function works on a pandas DataFrame of raw rows (one impression per
row, one column per field) and checks that the columns it is given exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def _require_columns(frame: pd.DataFrame, names: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"column names must be strings, got {name!r}")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the frame; it has: "
                         f"{', '.join(map(str, frame.columns))}")


def _order(values: pd.Series, order: Sequence | None, argument: str) -> list:
    """``order`` as a list, or the column's own order when it is None."""
    if order is None:
        return _in_frame_order(values)
    if isinstance(order, str):
        raise TypeError(f"{argument} must be a list of values, got the string {order!r}")
    return list(order)


def _in_frame_order(values: pd.Series) -> list:
    """The distinct values of a column: category order for a Categorical, else first seen."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    return list(dict.fromkeys(values))


def click_rate_table(frame: pd.DataFrame, rows: str, columns: str,
                     row_order: Sequence | None = None, column_order: Sequence | None = None,
                     value: str = "click") -> pd.DataFrame:
    """Mean of ``value`` (the click rate, or a model's mean prediction) in every cell of
    ``rows`` x ``columns``. Values appear in the given orders, else as first seen in the
    frame; a cell with no rows is NaN."""
    _require_columns(frame, [rows, columns, value])
    table = frame.pivot_table(index=rows, columns=columns, values=value, aggfunc="mean",
                              observed=True)
    table = table.reindex(index=_order(frame[rows], row_order, "row_order"),
                          columns=_order(frame[columns], column_order, "column_order"))
    table.columns.name = columns
    table.index.name = rows
    return table


def count_table(frame: pd.DataFrame, rows: str, columns: str, row_order: Sequence | None = None,
                column_order: Sequence | None = None) -> pd.DataFrame:
    """Number of rows in every cell of ``rows`` x ``columns`` (0 for an empty cell), in the
    same orders as :func:`click_rate_table`."""
    _require_columns(frame, [rows, columns])
    counts = pd.crosstab(frame[rows], frame[columns])
    return counts.reindex(index=_order(frame[rows], row_order, "row_order"),
                          columns=_order(frame[columns], column_order, "column_order"),
                          fill_value=0)


def log_odds(probability) -> np.ndarray:
    """``log(p / (1 - p))``, the logit: the scale on which logistic regression is additive."""
    p = np.asarray(probability, dtype=np.float64)
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("log odds need probabilities strictly between 0 and 1")
    return np.log(p) - np.log1p(-p)


def interaction_contrast(table: pd.DataFrame, row_pair: Sequence, column_pair: Sequence) -> float:
    """How much the log-odds gap between two columns differs between two rows of ``table``:

        [logit t(r1, c1) - logit t(r1, c2)] - [logit t(r2, c1) - logit t(r2, c2)]

    Any model whose logit is a sum of a row effect and a column effect (logistic regression on
    one-hot fields) gives exactly 0; a non-zero value is an interaction between the two fields.
    """
    (r1, r2), (c1, c2) = row_pair, column_pair
    for label, axis in ((r1, table.index), (r2, table.index), (c1, table.columns),
                        (c2, table.columns)):
        if label not in axis:
            raise KeyError(f"{label!r} is not in the table's {axis.name or 'labels'}: "
                           f"{', '.join(map(str, axis))}")
    z = log_odds(table.loc[[r1, r2], [c1, c2]].to_numpy())
    return float((z[0, 0] - z[0, 1]) - (z[1, 0] - z[1, 1]))


def one_hot_widths(frame: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
    """How many one-hot columns each field becomes: its number of distinct values."""
    _require_columns(frame, fields)
    return pd.Series({field: int(frame[field].nunique()) for field in fields},
                     name="one-hot columns")


def one_hot(frame: pd.DataFrame, fields: Sequence[str]) -> pd.DataFrame:
    """The one-hot view of ``fields``: a 0/1 column named ``field=value`` per distinct value."""
    _require_columns(frame, fields)
    return pd.get_dummies(frame[list(fields)].astype(str), prefix=list(fields), prefix_sep="=",
                          dtype=np.int8)


def _elementary_symmetric(sizes: Sequence[int], order: int) -> int:
    """Sum over every set of ``order`` fields of the product of their sizes (exact integers)."""
    totals = [1] + [0] * order  # totals[j]: sum over j-field sets seen so far
    for size in sizes:
        for j in range(order, 0, -1):
            totals[j] += totals[j - 1] * int(size)
    return totals[order]


def cross_feature_counts(vocab_sizes: Mapping[str, int], orders: Sequence[int] = (2, 3)
                         ) -> pd.DataFrame:
    """For each order: how many field combinations a wide part could cross (C(m, order) for m
    fields) and how many cross features, one per combination of values, those crosses create
    in all (the sum over field sets of the product of their vocabulary sizes)."""
    sizes = [int(size) for size in dict(vocab_sizes).values()]  # a dict or a pandas Series
    if any(size < 1 for size in sizes):
        raise ValueError(f"vocabulary sizes must be positive integers, got {dict(vocab_sizes)}")
    rows = []
    for order in orders:
        if not 1 <= order <= len(sizes):
            raise ValueError(f"order must be between 1 and the number of fields ({len(sizes)}), "
                             f"got {order}")
        rows.append({"order": order, "field combinations": math.comb(len(sizes), order),
                     "cross features": _elementary_symmetric(sizes, order)})
    return pd.DataFrame(rows).set_index("order")


def unseen_combinations(train: pd.DataFrame, test: pd.DataFrame, fields: Sequence[str]
                        ) -> dict[str, float]:
    """How a hand-made cross of ``fields`` fares on new rows: the number of value combinations
    seen in training, and the share of test rows whose combination training never saw (its
    cross feature has no trained weight there)."""
    _require_columns(train, fields)
    _require_columns(test, fields)
    seen = pd.MultiIndex.from_frame(train[list(fields)].astype(str)).unique()
    test_keys = pd.MultiIndex.from_frame(test[list(fields)].astype(str))
    unseen = ~test_keys.isin(seen)
    return {"seen in training": int(len(seen)),
            "test rows": int(len(test)),
            "test rows unseen": int(unseen.sum()),
            "share unseen": float(unseen.mean())}


__all__ = ["click_rate_table", "count_table", "cross_feature_counts", "interaction_contrast",
           "log_odds", "one_hot", "one_hot_widths", "unseen_combinations"]
