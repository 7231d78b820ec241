"""Exercise 07: a one-setting sweep with the experiment runner, and the reading of its plot.

The paper's hyper-parameter study changes one setting at a time; the learner sweeps
dropout the same way and reads the best value and the overlap of the seed bands.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from .common import NOT_WRITTEN, CheckResult, NotYet, run_check, short_error, with_article

RESULT_COLUMNS = ("model", "label", "params", "seed", "auc", "logloss")
TRAINING_COLUMNS = ("epochs", "lr", "batch_size", "weight_decay")


def _shown(value) -> str:
    """A value as a hint shows it: numbers rounded (:g), so 1 - 0.9 reads 0.1, not
    0.09999999999999998; anything else as written."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return repr(value) if isinstance(value, str) else str(value)


def _shown_all(values) -> str:
    return "[" + ", ".join(_shown(v) for v in values) + "]"


def _same_value(a, b) -> bool:
    numbers = (int, float, np.integer, np.floating)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _last_error() -> BaseException | None:
    """The last exception no cell caught: IPython stores it as sys.last_value (and, on Python
    3.12+, sys.last_exc) when it shows the traceback."""
    error = getattr(sys, "last_value", None)
    return error if error is not None else getattr(sys, "last_exc", None)


def _missing_results_hint() -> str:
    error = _last_error()
    if error is None:
        return ("results is None: the sweep cell above has not been run yet, or it did not "
                "assign the table that run_experiments returns to `results`. Run it, then this "
                "check again.")
    if isinstance(error, NotImplementedError):
        return ("results is None: the sweep did not finish, and the last error in this session "
                f"was NotImplementedError, so the sweep cell {NOT_WRITTEN}.")
    message = short_error(error)
    quoted = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return (f"results is None: the sweep did not finish. The last error raised in this session "
            f"was {quoted}, likely the reason: fix it, run the sweep cell again (it must assign "
            "the table that run_experiments returns to `results`), then this check.")


def _check_sweep_table(results, x: str, metric: str) -> None:
    import pandas as pd

    if results is None:
        raise NotYet(_missing_results_hint())
    if not isinstance(results, pd.DataFrame):
        raise NotYet(f"expected the DataFrame that run_experiments returns, got "
                     f"{with_article(type(results).__name__)}.")
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise NotYet(f"results lack the column(s) {missing}: pass the table run_experiments "
                     "returns, unchanged.")
    if x not in results.columns:
        raise NotYet(f"results have no column {x!r}: every configuration must set {x!r} "
                     f"(the columns are {', '.join(map(str, results.columns))}).")
    if metric not in ("auc", "logloss"):
        raise NotYet(f"metric must be 'auc' or 'logloss', got {metric!r}.")
    if results.empty or not np.all(np.isfinite(results[metric].to_numpy(dtype=float))):
        raise NotYet(f"results hold no finite {metric} values; did the runs train?")


def _check_seeds(results, x: str, values: list) -> None:
    seeds = {value: frozenset(results.loc[results[x] == value, "seed"]) for value in values}
    first = seeds[values[0]]
    if any(s != first for s in seeds.values()):
        found = "; ".join(f"{_shown(v)}: {sorted(s)}" for v, s in seeds.items())
        raise NotYet(f"each value of {x} must run with the same seeds, so the runs differ only "
                     f"in {x}; found {found}.")
    if len(first) < 2:
        raise NotYet(f"run each value of {x} with at least 2 seeds (3 is better): one run per "
                     "setting cannot show how much results move between runs.")


def _check_one_change(results, x: str) -> None:
    """An ablation changes one setting: same model, same everything else, same seeds."""
    models = results["model"].unique()
    if len(models) != 1:
        raise NotYet(f"results hold several models ({', '.join(map(str, models))}): sweep ONE "
                     f"model over {x} so that only {x} changes.")
    values = list(dict.fromkeys(results[x].tolist()))
    if len(values) < 3:
        raise NotYet(f"sweep at least three values of {x} to see a trend; found "
                     f"{_shown_all(values)}.")
    _check_seeds(results, x, values)
    reference = None
    for _, row in results.iterrows():
        others = {k: v for k, v in json.loads(row["params"]).items() if k != x}
        others.update({k: row[k] for k in TRAINING_COLUMNS if k in results.columns and k != x})
        if reference is None:
            reference = others
            continue
        changed = sorted(k for k in set(reference) | set(others)
                         if not _same_value(reference.get(k), others.get(k)))
        if changed:
            raise NotYet(f"your configurations differ in more than {x}: {', '.join(changed)} "
                         "also change. An ablation changes one setting at a time, or the plot "
                         "cannot say which change made the difference.")


def _sweep_summary(results, x: str, metric: str):
    stats = results.groupby(x, sort=False)[metric].agg(["mean", "min", "max"])
    higher_is_better = metric == "auc"
    ranked = stats.sort_values("mean", ascending=not higher_is_better)
    return stats, ranked.index[0], ranked.index[1], higher_is_better


def _check_best_is_swept(best, x: str, values: list) -> None:
    if any(_same_value(best, v) for v in values):
        return
    flipped = isinstance(best, (int, float)) and any(_same_value(1 - best, v) for v in values)
    if flipped and x == "dropout":
        raise NotYet(f"{_shown(best)} is not one of the swept {x} values {_shown_all(values)}: "
                     "it looks like a keep probability. The dropout column holds torch's DROP "
                     "probability, 1 - keep_prob.")
    raise NotYet(f"{_shown(best)} is not one of the swept values of {x}: {_shown_all(values)}.")


def _check_best(results, x: str, metric: str, best, stats, top, higher_is_better) -> None:
    if _same_value(best, top):
        return
    single = results.loc[results[metric].idxmax() if higher_is_better
                         else results[metric].idxmin(), x]
    direction = "highest" if higher_is_better else "lowest"
    if _same_value(best, single):
        raise NotYet(f"{x} = {_shown(best)} has the single best run, but the line is the MEAN "
                     f"over seeds: pick the value where the line is {direction}.")
    if not higher_is_better and _same_value(best, stats["mean"].idxmax()):
        raise NotYet("for LogLoss lower is better: you picked the highest point.")
    raise NotYet(f"{x} = {_shown(best)} is not where the mean {metric} (the line) is "
                 f"{direction}; look again, one seed's dot is not the mean.")


def _check_reading(results, x: str, metric: str, best, bands_overlap) -> None:
    stats, top, runner_up, higher_is_better = _sweep_summary(results, x, metric)
    if best is None or bands_overlap is None:
        raise NotYet(f"the sweep itself is sound; now read the plot: set the best value of {x} "
                     "and whether its band overlaps the runner-up's (True or False).")
    _check_best_is_swept(best, x, list(stats.index))
    _check_best(results, x, metric, best, stats, top, higher_is_better)
    if not isinstance(bands_overlap, (bool, np.bool_)):
        raise NotYet(f"bands_overlap must be True or False, got {bands_overlap!r}.")
    overlap = bool(stats.loc[top, "min"] <= stats.loc[runner_up, "max"]
                   and stats.loc[runner_up, "min"] <= stats.loc[top, "max"])
    if bool(bands_overlap) != overlap:
        truth = "do overlap" if overlap else "do not overlap"
        raise NotYet(f"compare the shaded bands (min to max over seeds) of {x} = {_shown(top)} "
                     f"and the runner-up, {x} = {_shown(runner_up)}: they {truth}. Overlapping "
                     "bands mean the ranking of the two could flip with other seeds.")


def check_ablation(results, x: str = "dropout", best=None, bands_overlap=None,
                   metric: str = "auc") -> CheckResult:
    """Check a one-setting sweep from ``run_experiments`` and the learner's reading of its plot.

    The paper's hyper-parameter study changes one setting at a time, as this sweep must.
    ``results`` is the DataFrame :func:`deepfm_lite.experiments.run_experiments` returns, for
    configurations that differ only in the column ``x`` (e.g. ``"dropout"``). It must hold one
    model, at least three values of ``x``, the same seeds (at least two) for every value, and
    no other parameter or training setting that changes between configurations. ``best`` is
    the learner's reading of the plot: the value of ``x`` with the best mean ``metric`` (highest
    AUC, or lowest LogLoss), compared with a relative tolerance of 1e-9, so 0.1 matches the
    0.09999999999999998 that 1 - 0.9 gives; ``bands_overlap`` is True when the min-to-max bands
    over seeds of the best value and of the runner-up overlap (as ``plot_sweep`` draws them).
    Hints show numbers rounded (``:g``).

    Caught mistakes: no results yet (None; the hint quotes the session's last error, which
    usually stopped the sweep), a table that is not the runner's, several models mixed, too
    few values or seeds, seeds that differ between values, a second setting changed along with
    ``x``, the best read from a single run instead of the mean, a keep probability given where
    the table holds torch's dropout, "lower is better" forgotten for LogLoss, a wrong reading
    of the bands.
    """

    def body() -> str:
        _check_sweep_table(results, x, metric)
        _check_one_change(results, x)
        _check_reading(results, x, metric, best, bands_overlap)
        n_values, n_seeds = results[x].nunique(), results["seed"].nunique()
        return (f"a fair sweep of {x} ({n_values} values x {n_seeds} seeds, nothing else "
                "changed), and both readings (best value, overlap of the bands) match it.")

    return run_check("check_ablation", body)
