"""Figures for experiment results (tables from :func:`deepfm_lite.experiments.run_experiments`).

Every function draws on a matplotlib ``Axes`` (a new one when ``ax`` is None), titles and
labels it, and returns it; none calls ``plt.show()``. Matplotlib is imported when a figure is
drawn, so importing the package stays quick.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRIC_LABELS = {"auc": "test AUC", "logloss": "test LogLoss",
                 "train_seconds": "training seconds", "samples_per_s": "training samples / s"}


def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4))[1]


def _require(results: pd.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ValueError(f"results have no column(s) {missing}; "
                         f"available: {', '.join(map(str, results.columns))}")


def _is_numeric_axis(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def plot_sweep(results: pd.DataFrame, x: str, metric: str = "auc", ax=None,
               title: str | None = None, hue: str | None = "model", spread: str = "range"):
    """Draw ``metric`` against the swept parameter ``x``: the mean over seeds as a line, the
    spread over seeds as a band (``spread="range"``: min to max; ``"std"``: mean +- one std),
    each run as a dot. A numeric ``x`` gets a numeric axis; anything else (activations, network
    shapes) is categorical, in the order the results list it. One line per ``hue`` value when
    there are several (e.g. several models swept alike). Rows without an ``x`` value are left
    out. Returns the Axes.
    """
    _require(results, [x, metric])
    if spread not in ("range", "std"):
        raise ValueError(f"spread must be 'range' or 'std', got {spread!r}")
    data = results.dropna(subset=[x, metric])
    if data.empty:
        raise ValueError(f"no rows with both {x!r} and {metric!r}")
    ax = _new_axes(ax)
    numeric = _is_numeric_axis(data[x])
    categories = list(dict.fromkeys(data[x])) if not numeric else None
    groups = (list(data.groupby(hue, sort=False)) if hue in data.columns
              and data[hue].nunique() > 1 else [(None, data)])
    for name, group in groups:
        stats = group.groupby(x, sort=numeric)[metric].agg(["mean", "std", "min", "max"])
        if not numeric:
            stats = stats.reindex([c for c in categories if c in stats.index])
        positions = (stats.index.to_numpy(dtype=float) if numeric
                     else np.array([categories.index(c) for c in stats.index], dtype=float))
        low, high = ((stats["min"], stats["max"]) if spread == "range"
                     else (stats["mean"] - stats["std"].fillna(0),
                           stats["mean"] + stats["std"].fillna(0)))
        line, = ax.plot(positions, stats["mean"], marker="o", label=None if name is None
                        else str(name))
        ax.fill_between(positions, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        dots = (group[x].to_numpy(dtype=float) if numeric
                else np.array([categories.index(c) for c in group[x]], dtype=float))
        ax.scatter(dots, group[metric], color=line.get_color(), s=12, alpha=0.6)
    if not numeric:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    if len(groups) > 1:
        ax.legend(title=hue)
    n_seeds = data["seed"].nunique() if "seed" in data.columns else None
    band = "min-max" if spread == "range" else "+-1 std"
    seeds_text = f" over {n_seeds} seeds" if n_seeds else ""
    ax.set_xlabel(x)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_title(title or f"{METRIC_LABELS.get(metric, metric)} against {x} "
                          f"(mean, {band}{seeds_text})")
    ax.grid(alpha=0.3)
    return ax


def relative_time(results: pd.DataFrame, baseline: str = "lr", by: str = "label",
                  time_column: str = "train_seconds") -> pd.Series:
    """Mean training seconds per epoch of each ``by`` group divided by that of model
    ``baseline``: the paper's efficiency measure. ``time_column="cpu_seconds"`` uses processor
    time, steadier on a shared machine. Order: as the results list the groups."""
    _require(results, ["model", by, time_column, "epochs_run"])
    per_epoch = results[time_column] / results["epochs_run"]
    base = per_epoch[results["model"] == baseline]
    if base.empty:
        raise ValueError(f"no runs of the baseline model {baseline!r}; the results hold "
                         f"{', '.join(map(str, results['model'].unique()))}")
    means = per_epoch.groupby(results[by], sort=False).mean()
    return (means / base.mean()).rename(f"time per epoch / {baseline}")


def plot_relative_time(results: pd.DataFrame, baseline: str = "lr", ax=None,
                       title: str | None = None, by: str = "label",
                       time_column: str = "train_seconds"):
    """Bar chart of training time per epoch relative to model ``baseline`` (1.0 = as fast as
    it), the paper's efficiency figure. FNN's pre-training counts in its time. ``time_column``
    as in :func:`relative_time`. Returns the Axes."""
    ratios = relative_time(results, baseline, by, time_column)
    shown = str(results.loc[results["model"] == baseline, by].iloc[0])
    ax = _new_axes(ax)
    bars = ax.bar([str(i) for i in ratios.index], ratios.to_numpy(), color="tab:blue")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("model")
    ax.set_ylabel(f"training time per epoch / {shown}'s")
    ax.set_title(title or f"Training time per epoch relative to {shown}")
    ax.tick_params(axis="x", labelrotation=45)
    return ax


__all__ = ["plot_relative_time", "plot_sweep", "relative_time"]


# ---- notebooks 04-05: the three-way effect by cell, and models against the oracle -------------


def _cell_label(row: pd.Series, fields: Sequence[str]) -> str:
    return " / ".join(str(row[f]) for f in fields)


def plot_cell_calibration(cells: pd.DataFrame, models: Sequence[str],
                          show: Sequence[Sequence[str]] | None = None,
                          fields: Sequence[str] = ("age_group", "time_slot", "category"),
                          ax=None, title: str | None = None):
    """Grouped bars, one group per cell: the mean true click probability and each model's mean
    prediction there, with the observed click rate as a black dash. ``cells`` comes from
    :func:`deepfm_lite.course.analysis.cell_calibration`; ``show`` lists the cells to draw as
    tuples of levels of ``fields`` (default: all, in table order). Returns the Axes."""
    _require(cells, [*fields, "p_true", "clicked", *models])
    table = cells.set_index(list(fields))
    if show is not None:
        missing = [tuple(c) for c in show if tuple(c) not in table.index]
        if missing:
            raise ValueError(f"cells not in the table: {missing}")
        table = table.loc[[tuple(c) for c in show]]
    table = table.reset_index()
    ax = _new_axes(ax)
    series = ["p_true", *models]
    width = 0.8 / len(series)
    positions = np.arange(len(table))
    for i, name in enumerate(series):
        label = "true p (oracle)" if name == "p_true" else str(name)
        ax.bar(positions + (i - (len(series) - 1) / 2) * width, table[name], width,
               label=label, color="grey" if name == "p_true" else None)
    ax.hlines(table["clicked"], positions - 0.42, positions + 0.42, color="black", zorder=3,
              label="observed click rate")
    ax.set_xticks(positions, [_cell_label(row, fields) for _, row in table.iterrows()])
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_xlabel(" x ".join(fields))
    ax.set_ylabel("mean click probability in the cell")
    ax.set_title(title or "Mean prediction against the truth, cell by cell")
    ax.legend(fontsize=8)
    return ax


def plot_cell_gaps(cells: pd.DataFrame, models: Sequence[str], ax=None,
                   title: str | None = None):
    """Each cell's mean logit gap (model minus truth) against the planted three-way effect
    there, one colour per model, dot area by the cell's rows. A model blind to the effect lies
    on the line ``gap = -effect``; a model that reproduces it lies along ``gap = 0``. ``cells``
    comes from :func:`deepfm_lite.course.analysis.cell_calibration`. Returns the Axes."""
    _require(cells, ["rows", "three_way", *[f"{m}_gap" for m in models]])
    ax = _new_axes(ax)
    effect = cells["three_way"].to_numpy(dtype=float)
    sizes = 60 * cells["rows"].to_numpy(dtype=float) / cells["rows"].max()
    for model in models:
        ax.scatter(effect, cells[f"{model}_gap"], s=sizes, alpha=0.6, label=str(model))
    span = np.array([effect.min(), effect.max()])
    ax.plot(span, -span, color="black", linestyle="--", linewidth=1,
            label="blind to the effect (gap = -effect)")
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xlabel("planted three-way effect in the cell (logit)")
    ax.set_ylabel("mean logit(prediction) - logit(p_true)")
    ax.set_title(title or "Where each model misses the three-way effect")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_oracle_gap(results: pd.DataFrame, metric: str = "auc", order: Sequence[str] | None = None,
                    ax=None, title: str | None = None):
    """Bars: how far each model's test ``metric`` is from the oracle's on the same test split
    (``oracle_<metric>`` column), the mean over seeds, with every seed as a dot and the min-max
    range as an error bar. For AUC the gap is oracle - model, for LogLoss model - oracle, so
    shorter is better either way. Returns the Axes."""
    oracle = f"oracle_{metric}"
    _require(results, ["model", metric, oracle])
    gap = (results[oracle] - results[metric]) if metric == "auc" else (
        results[metric] - results[oracle])
    names = list(order) if order is not None else list(dict.fromkeys(results["model"]))
    unknown = [n for n in names if n not in set(results["model"])]
    if unknown:
        raise ValueError(f"no results for model(s) {unknown}")
    ax = _new_axes(ax)
    for i, name in enumerate(names):
        values = gap[results["model"] == name].to_numpy(dtype=float)
        ax.bar(i, values.mean(), color="tab:blue", alpha=0.7)
        ax.errorbar(i, values.mean(), yerr=[[values.mean() - values.min()],
                                            [values.max() - values.mean()]],
                    color="black", capsize=4)
        ax.scatter(np.full(values.size, i), values, color="black", s=14, zorder=3)
    n_seeds = results["seed"].nunique() if "seed" in results.columns else None
    ax.set_xticks(range(len(names)), [str(n) for n in names])
    ax.set_xlabel("model")
    label = METRIC_LABELS.get(metric, metric)
    ax.set_ylabel(f"oracle's {label} - model's" if metric == "auc"
                  else f"model's {label} - oracle's")
    seeds_text = f", {n_seeds} seeds" if n_seeds else ""
    ax.set_title(title or f"Distance to the oracle ({label}; shorter is better{seeds_text})")
    ax.grid(axis="y", alpha=0.3)
    return ax


__all__ += ["plot_cell_calibration", "plot_cell_gaps", "plot_oracle_gap"]


# ---- notebooks 00-01: click rates and ROC curves ---------------------------------------------


def plot_click_rate_by(frame: pd.DataFrame, field: str, order: Sequence | None = None,
                       label: str = "click", ax=None, title: str | None = None):
    """Bars: the observed click rate for each value of ``field`` (in ``order``, else first-seen
    order or the category order of a Categorical), the overall rate as a dashed line. Returns
    the Axes."""
    _require(frame, [field, label])
    if order is not None:
        values = list(order)
        unknown = [v for v in values if v not in set(frame[field])]
        if unknown:
            raise ValueError(f"order names values not in column {field!r}: {unknown}")
    elif isinstance(frame[field].dtype, pd.CategoricalDtype):
        values = list(frame[field].cat.categories)
    else:
        values = list(dict.fromkeys(frame[field]))
    rates = frame.groupby(field, observed=True)[label].mean().reindex(values)
    ax = _new_axes(ax)
    ax.bar([str(v) for v in values], rates.to_numpy(), color="tab:blue")
    ax.axhline(frame[label].mean(), color="grey", linestyle="--", linewidth=1,
               label=f"all rows ({frame[label].mean():.3f})")
    ax.set_xlabel(field)
    ax.set_ylabel("click rate")
    ax.set_title(title or f"Click rate by {field}")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(fontsize=8)
    return ax


def plot_click_rate_table(table: pd.DataFrame, ax=None, title: str | None = None,
                          ylabel: str = "click rate"):
    """One line per row of a click-rate table (e.g. gender), across its columns (e.g. app
    category), as made by :func:`deepfm_lite.course.explore.click_rate_table`. Lines that cross mean
    the row field changes which column is clicked more: an interaction. Returns the Axes."""
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table must be a non-empty DataFrame of rates (rows x columns)")
    ax = _new_axes(ax)
    positions = np.arange(table.shape[1])
    for name, rates in table.iterrows():
        ax.plot(positions, rates.to_numpy(dtype=float), marker="o", label=str(name))
    ax.set_xticks(positions, [str(c) for c in table.columns])
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel(str(table.columns.name or "column"))
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} by {table.index.name} and {table.columns.name}")
    ax.legend(title=table.index.name, fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def roc_points(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1).

    Tied scores move both rates at once (a diagonal step), so the area under these points is
    exactly the AUC with ties counted half."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels has {y.size} values but scores has {s.size}")
    n_pos = y.sum()
    if n_pos == 0 or n_pos == y.size:
        raise ValueError("an ROC curve needs both clicks and non-clicks in labels")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_run = np.r_[s[1:] != s[:-1], True]
    true_pos = np.cumsum(y)[last_of_run]
    false_pos = np.cumsum(1 - y)[last_of_run]
    return (np.r_[0.0, false_pos / (y.size - n_pos)], np.r_[0.0, true_pos / n_pos])


def plot_roc(labels, scores: dict, ax=None, title: str | None = None):
    """ROC curves of several score columns for the same labels, each named with its AUC; the
    diagonal is a random ranking (AUC 0.5). ``scores`` maps a name to scores. Returns the Axes."""
    from ..training.metrics import auc

    if not scores:
        raise ValueError("scores must map at least one name to an array of scores")
    ax = _new_axes(ax)
    for name, values in scores.items():
        fpr, tpr = roc_points(labels, values)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(labels, values):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1,
            label="random order (AUC 0.5)")
    ax.set_xlabel("false-positive rate (share of non-clicks above the threshold)")
    ax.set_ylabel("true-positive rate (share of clicks above the threshold)")
    ax.set_title(title or "ROC curves")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return ax


__all__ += ["plot_click_rate_by", "plot_click_rate_table", "plot_roc", "roc_points"]


# ---- notebooks 02-03: timing of FM's two forms, score tables, 2-D maps of embeddings ---------


def plot_timings(timings: pd.DataFrame, x: str = "fields", by: str = "form", ax=None,
                 title: str | None = None):
    """Seconds against ``x`` on log-log axes, one line per ``by`` value (e.g. the forms of
    FM's order-2 term from :func:`deepfm_lite.course.timing.fm_second_order_timings`). On these
    axes a cost growing like ``x^p`` is a straight line of slope ``p``. Returns the Axes."""
    _require(timings, [x, by, "seconds"])
    if (timings["seconds"] <= 0).any() or (timings[x] <= 0).any():
        raise ValueError(f"log axes need positive {x!r} and 'seconds' values")
    ax = _new_axes(ax)
    for name, group in timings.groupby(by, sort=False):
        group = group.sort_values(x)
        ax.plot(group[x], group["seconds"], marker="o", label=str(name))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(f"number of {x}" if x == "fields" else x)
    ax.set_ylabel("seconds per call (median)")
    ax.set_title(title or f"Time against the number of {x}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_score_table(table: pd.DataFrame, ax=None, title: str | None = None,
                     mark: tuple[str, str] | None = None, label: str = "score",
                     limit: float | None = None):
    """Heat map of a small table (rows x columns, e.g. age group x category) with each value
    written in its cell; a diverging colour scale from ``-limit`` to ``+limit`` (default: the
    largest absolute value; pass the same limit to compare two maps by colour), and a black
    frame around the cell ``mark = (row, column)`` when given. Returns the Axes."""
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table must be a non-empty DataFrame")
    if mark is not None and (mark[0] not in table.index or mark[1] not in table.columns):
        raise ValueError(f"mark {mark} is not a (row, column) of the table")
    from matplotlib.patches import Rectangle

    values = table.to_numpy(dtype=float)
    if limit is None:
        limit = float(np.abs(values).max()) or 1.0
    elif limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    ax = _new_axes(ax)
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7)
    if mark is not None:
        i, j = table.index.get_loc(mark[0]), table.columns.get_loc(mark[1])
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black",
                               linewidth=2.5))
    ax.set_xticks(range(values.shape[1]), [str(c) for c in table.columns], rotation=45)
    ax.set_yticks(range(values.shape[0]), [str(r) for r in table.index])
    ax.set_xlabel(str(table.columns.name or "column"))
    ax.set_ylabel(str(table.index.name or "row"))
    ax.set_title(title or label)
    ax.figure.colorbar(image, ax=ax, label=label)
    return ax


def plot_vectors_2d(coords: np.ndarray, labels: Sequence[str], groups: Sequence[str] | None = None,
                    ax=None, title: str | None = None,
                    axis_labels: tuple[str, str] = ("component 1", "component 2")):
    """Points in a plane (e.g. embeddings projected on two principal components), each named by
    its label; points of one ``groups`` value share a colour and a legend entry. Returns the
    Axes."""
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must have shape [points, 2], got {coords.shape}")
    if len(labels) != len(coords) or (groups is not None and len(groups) != len(coords)):
        raise ValueError(f"labels (and groups) need one entry per point: {len(coords)} points, "
                         f"{len(labels)} labels")
    ax = _new_axes(ax)
    names = list(groups) if groups is not None else [""] * len(coords)
    for group in dict.fromkeys(names):
        rows = [i for i, name in enumerate(names) if name == group]
        ax.scatter(coords[rows, 0], coords[rows, 1], s=40, label=group or None)
    for (x, y), text in zip(coords, labels):
        ax.annotate(str(text), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title or "Vectors in two dimensions")
    if groups is not None:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


__all__ += ["plot_score_table", "plot_timings", "plot_vectors_2d"]
