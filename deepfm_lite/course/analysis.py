"""Looking inside trained models: where their predictions go wrong, and where gradients come from.

Two questions of the course are answered here with small functions:

* Does a model reproduce the app-store data's planted three-way effect (youth x lateness x fun,
  see :mod:`deepfm_lite.data.appstore`)? :func:`cell_calibration` compares each model's
  mean prediction with the true click probability in every age x time x category cell, and
  :func:`three_way_captured` turns that into one number per model.
  :func:`pairwise_share` says how much of the effect ANY sum of pairwise terms could represent.
* How does DeepFM's one embedding table learn from both parts (paper, Eq. 1)?
  :func:`embedding_gradient_parts` splits the gradient of the loss with respect to the shared
  table into the part that flows through the FM term and the part that flows through the MLP.
* Where should one shared table matter most? On rows whose ids are rare in training:
  :func:`rare_id_rows` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..data import appstore
from ..layers import fm_second_order

CELL_FIELDS = ("age_group", "time_slot", "category")
TOP_CELL = ("teen", "night", "games")
OPPOSITE_CELL = ("50+", "morning", "finance")
_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def _centered(scores: Sequence[float]) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64)
    return values - values.mean()


def _level_index(frame: pd.DataFrame, column: str, levels: Sequence[str]) -> np.ndarray:
    if column not in frame.columns:
        raise ValueError(f"frame has no column {column!r}; an app-store frame is needed "
                         f"(deepfm_lite.data.make_appstore)")
    index = pd.Index(levels).get_indexer(frame[column])
    if (index < 0).any():
        unknown = sorted(set(frame[column][index < 0].astype(str)))[:5]
        raise ValueError(f"column {column!r} holds values outside the app-store levels: {unknown}")
    return index


def planted_three_way(frame: pd.DataFrame) -> np.ndarray:
    """The order-3 term of the app-store's true logit for each row of ``frame``.

    ``THREE_WAY_SCALE * youth(age_group) * lateness(time_slot) * fun(category)``, each score
    centred to mean zero over its levels, exactly as :func:`~deepfm_lite.make_appstore` plants
    it. Largest in the cell teen x night x games.
    """
    age = _level_index(frame, "age_group", appstore.AGE_GROUPS)
    slot = _level_index(frame, "time_slot", appstore.TIME_SLOTS)
    category = _level_index(frame, "category", appstore.CATEGORIES)
    return appstore.THREE_WAY_SCALE * (_centered(appstore.YOUTH)[age]
                                       * _centered(appstore.LATENESS)[slot]
                                       * _centered(appstore.FUN)[category])


def cell_calibration(frame: pd.DataFrame, predictions: Mapping[str, np.ndarray],
                     by: Sequence[str] = CELL_FIELDS) -> pd.DataFrame:
    """Mean prediction against the truth in every cell of the fields ``by``.

    ``frame`` is an app-store frame (with ``click`` and ``p_true``); ``predictions`` maps a
    model name to its click probabilities for the same rows. One row per cell with ``rows``,
    ``clicked`` (the observed click rate), ``p_true`` (mean true probability), ``three_way``
    (the planted order-3 logit of the cell), and for each model ``<name>`` (its mean predicted
    probability) and ``<name>_gap`` (mean of logit(prediction) - logit(p_true): positive = the
    model predicts too high there, in logit units).
    """
    for column in ("click", "p_true"):
        if column not in frame.columns:
            raise ValueError(f"frame has no column {column!r}")
    table = frame[list(by)].copy()
    table["clicked"] = frame["click"].to_numpy(dtype=np.float64)
    table["p_true"] = frame["p_true"].to_numpy(dtype=np.float64)
    table["three_way"] = planted_three_way(frame)
    true_logit = _logit(table["p_true"].to_numpy())
    for name, probs in predictions.items():
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if probs.shape[0] != len(frame):
            raise ValueError(f"predictions[{name!r}] has {probs.shape[0]} values for "
                             f"{len(frame)} rows")
        table[name] = probs
        table[f"{name}_gap"] = _logit(probs) - true_logit
    grouped = table.groupby(list(by), observed=True, sort=False)
    cells = grouped.mean()
    cells.insert(0, "rows", grouped.size())
    return cells.reset_index()


def three_way_captured(cells: pd.DataFrame, model: str) -> float:
    """Share of the planted three-way effect that ``model`` reproduces, across cells.

    The row-weighted least-squares slope of the cells' ``<model>_gap`` on ``three_way``, plus
    one: a model that ignores the effect has gaps of ``-three_way`` (slope -1, share 0); a model
    that reproduces it has gaps that do not follow it (slope 0, share 1).
    """
    column = f"{model}_gap"
    if column not in cells.columns:
        raise ValueError(f"cells have no column {column!r}; models present: "
                         f"{[c[:-4] for c in cells.columns if c.endswith('_gap')]}")
    weights = cells["rows"].to_numpy(dtype=np.float64)
    effect = cells["three_way"].to_numpy(dtype=np.float64)
    gap = cells[column].to_numpy(dtype=np.float64)
    effect_c = effect - np.average(effect, weights=weights)
    gap_c = gap - np.average(gap, weights=weights)
    slope = np.sum(weights * effect_c * gap_c) / np.sum(weights * effect_c**2)
    return float(1.0 + slope)


def pairwise_share(cells: pd.DataFrame, by: Sequence[str] = CELL_FIELDS) -> float:
    """Largest share of the planted effect's variance a sum of order-1 and pairwise terms of the
    fields ``by`` can represent, with cells weighted by their row counts.

    Least squares of ``three_way`` on one indicator per level of each field and per level pair
    of each field pair; returns the weighted R^2. Near zero means the effect is genuinely of
    order three: no FM, whatever its embedding size, can fit it.
    """
    weights = cells["rows"].to_numpy(dtype=np.float64)
    target = cells["three_way"].to_numpy(dtype=np.float64)
    columns = [np.ones(len(cells))]
    names = list(by)
    for i, first in enumerate(names):
        columns.extend(pd.get_dummies(cells[first]).to_numpy(dtype=np.float64).T)
        for second in names[i + 1:]:
            pair = cells[first].astype(str) + "|" + cells[second].astype(str)
            columns.extend(pd.get_dummies(pair).to_numpy(dtype=np.float64).T)
    design = np.column_stack(columns)
    root = np.sqrt(weights)
    coef, *_ = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)
    residual = target - design @ coef
    mean = np.average(target, weights=weights)
    total = np.sum(weights * (target - mean) ** 2)
    return float(1.0 - np.sum(weights * residual**2) / total)


def _corners(high: Sequence[str], low: Sequence[str]) -> list[tuple[tuple[str, ...], int]]:
    """The 8 corners of the high/low box with their signs: + for an even number of lows."""
    corners = []
    for mask in range(8):
        picks = [low[i] if mask >> i & 1 else high[i] for i in range(3)]
        corners.append((tuple(picks), -1 if bin(mask).count("1") % 2 else 1))
    return corners


def _check_cells(high: Sequence[str], low: Sequence[str], fields: Sequence[str]) -> None:
    if not len(high) == len(low) == len(fields) == 3:
        raise ValueError(f"high, low and fields need three entries each, got {high}, {low}, "
                         f"{fields}")
    same = [f for f, h, lo in zip(fields, high, low) if h == lo]
    if same:
        raise ValueError(f"high and low must differ in every field; they agree on {same}")


def three_way_contrast(model: torch.nn.Module, schema, frame: pd.DataFrame,
                       high: Sequence[str] = TOP_CELL, low: Sequence[str] = OPPOSITE_CELL,
                       fields: Sequence[str] = CELL_FIELDS) -> np.ndarray:
    """The order-3 finite difference of ``model``'s logit over three fields, for each row.

    Each row of ``frame`` is scored 8 times, its three ``fields`` set to every mix of the
    ``high`` and ``low`` levels, and the scores are added with sign ``(-1)^(number of lows)``:
    ``f(hhh) - f(hhl) - f(hlh) - f(lhh) + f(hll) + f(lhl) + f(llh) - f(lll)``. Every order-1 and
    pairwise term cancels in this sum, so it is exactly zero for LR and for any FM (paper, Eq. 2),
    and for the app-store truth it equals :func:`planted_contrast`. ``schema`` encodes the rows.
    """
    from ..training import predict_logits

    _check_cells(high, low, fields)
    total = np.zeros(len(frame))
    for levels, sign in _corners(high, low):
        variant = frame.assign(**dict(zip(fields, levels)))
        logits = predict_logits(model, schema.transform(variant, require_label=False))
        total += sign * logits.numpy().astype(np.float64)
    return total


def planted_contrast(high: Sequence[str] = TOP_CELL, low: Sequence[str] = OPPOSITE_CELL,
                     fields: Sequence[str] = CELL_FIELDS) -> float:
    """The same order-3 difference taken over the app-store's true logit: only its planted
    three-way term survives, ``THREE_WAY_SCALE * dYouth * dLateness * dFun``."""
    _check_cells(high, low, fields)
    corners = _corners(high, low)
    grid = pd.DataFrame([levels for levels, _ in corners], columns=list(fields))
    signs = np.array([sign for _, sign in corners], dtype=np.float64)
    return float(signs @ planted_three_way(grid))


def embedding_gradient_parts(model: torch.nn.Module, ids: torch.Tensor, values: torch.Tensor,
                             labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split the gradient of DeepFM's log loss w.r.t. its one embedding table by path.

    With ``z = y_FM + y_DNN`` (paper, Eq. 1) and loss ``L(z)``, the chain rule gives
    ``dL/dV = dL/dz * (dy_FM/dV + dy_DNN/dV)``. Returns ``{"fm", "deep", "total"}``: the first
    two from :func:`torch.autograd.grad` of each part's output (weighted by ``dL/dz``), the
    third from the model's own forward pass, all of the shape of ``model.embedding.weight``.
    Run in evaluation mode (dropout off) so both passes see the same network.
    """
    for part in ("embedding", "linear", "mlp"):
        if not hasattr(model, part):
            raise TypeError(f"model needs .{part} (a DeepFM); got {type(model).__name__}")
    was_training = model.training
    model.eval()
    try:
        table = model.embedding.weight
        embeddings = model.embedding(ids, values)
        y_fm = model.linear(ids, values) + fm_second_order(embeddings)
        y_deep = model.mlp(embeddings.flatten(1)).squeeze(1)
        logits = y_fm + y_deep
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        (dloss_dlogit,) = torch.autograd.grad(loss, logits, retain_graph=True)
        (fm_part,) = torch.autograd.grad(y_fm, table, grad_outputs=dloss_dlogit,
                                         retain_graph=True)
        (deep_part,) = torch.autograd.grad(y_deep, table, grad_outputs=dloss_dlogit)
        full_loss = F.binary_cross_entropy_with_logits(model(ids, values), labels)
        (total,) = torch.autograd.grad(full_loss, table)
    finally:
        model.train(was_training)
    return {"fm": fm_part, "deep": deep_part, "total": total}


def rare_id_rows(train: pd.DataFrame, frame: pd.DataFrame,
                 fields: Sequence[str] = ("user_id", "app_id"), at_most: int = 5) -> np.ndarray:
    """Which rows of ``frame`` carry a rare id: in any of ``fields``, a value that appears at most
    ``at_most`` times in ``train`` (a value never seen counts as rare). A boolean array."""
    missing = [field for field in fields if field not in train or field not in frame]
    if missing:
        raise KeyError(f"rare_id_rows: no column {missing[0]!r} in both frames")
    if at_most < 0:
        raise ValueError(f"at_most must be 0 or more, got {at_most}")
    rare = np.zeros(len(frame), dtype=bool)
    for field in fields:
        seen = frame[field].map(train[field].value_counts()).fillna(0).to_numpy()
        rare |= seen <= at_most
    return rare


__all__ = ["CELL_FIELDS", "OPPOSITE_CELL", "TOP_CELL", "cell_calibration",
           "embedding_gradient_parts", "pairwise_share", "planted_contrast", "planted_three_way",
           "rare_id_rows", "three_way_captured", "three_way_contrast"]
