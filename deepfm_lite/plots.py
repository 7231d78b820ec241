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
