"""check_ablation (exercise 07): fair sweeps read right pass (0.1 typed for 1 - 0.9 too); the
usual mistakes are named, numbers shown rounded, and results = None explained."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from checks_helpers import fails_with, passes

from deepfm_lite.course import checks


def sweep_table(aucs: dict, x: str = "dropout", model: str = "deepfm", seeds=(0, 1, 2),
                changes=None) -> pd.DataFrame:
    """A table shaped like run_experiments' output: one row per (value of x, seed)."""
    rows = []
    for i, (value, per_seed) in enumerate(aucs.items()):
        params = {"embed_dim": 8, "hidden": [64, 64], "activation": "relu", "dropout": 0.1,
                  "batch_norm": False, x: value, **((changes or {}).get(i, {}))}
        for seed, auc_value in zip(seeds, per_seed, strict=True):
            rows.append({"model": model, "label": f"{x}={value}", "params": json.dumps(params),
                         "seed": seed, "auc": auc_value, "logloss": 1 - auc_value,
                         "train_seconds": 1.0, "samples_per_s": 1e4, "epochs_run": 2, x: value})
    return pd.DataFrame(rows)


OVERLAPPING = {0.0: [0.700, 0.702, 0.698], 0.1: [0.705, 0.699, 0.707], 0.3: [0.712, 0.690, 0.691]}
SEPARATED = {0.0: [0.700, 0.702, 0.698], 0.1: [0.720, 0.722, 0.721], 0.3: [0.690, 0.691, 0.689]}
# the drop rates of keep probabilities 1.0, 0.9, 0.7, 0.5 as plain `1 - keep` gives them
UNROUNDED = {1 - 1.0: [0.700, 0.702, 0.698], 1 - 0.9: [0.720, 0.722, 0.721],
             1 - 0.7: [0.690, 0.691, 0.689], 1 - 0.5: [0.680, 0.681, 0.679]}


def read_plot(results, x="dropout", metric="auc"):
    """The reading a learner should make, computed from the table."""
    stats = results.groupby(x)[metric].agg(["mean", "min", "max"])
    order = stats["mean"].sort_values(ascending=metric == "logloss").index
    best, runner_up = order[0], order[1]
    overlap = (stats.loc[best, "min"] <= stats.loc[runner_up, "max"]
               and stats.loc[runner_up, "min"] <= stats.loc[best, "max"])
    return best, bool(overlap)


@pytest.fixture(scope="module")
def real_sweep():
    from deepfm_lite.data import load_dataset
    from deepfm_lite.experiments import run_experiments

    data = load_dataset("appstore", 3000, seed=0)
    configs = [{"model": "deepfm", "embed_dim": 4, "hidden": [8], "dropout": p}
               for p in (0.0, 0.2, 0.5)]
    return run_experiments(configs, data, seeds=(0, 1), epochs=1, batch_size=256, lr=1e-2,
                           progress=False)


def test_ablation_accepts_a_real_sweep_read_right(real_sweep):
    best, overlap = read_plot(real_sweep)
    passes(checks.check_ablation(real_sweep, x="dropout", best=best, bands_overlap=overlap))


@pytest.mark.parametrize("table", [OVERLAPPING, SEPARATED])
def test_ablation_accepts_other_sweeps_and_metrics(table):
    results = sweep_table(table)
    best, overlap = read_plot(results)
    passes(checks.check_ablation(results, "dropout", best, overlap))
    best, overlap = read_plot(results, metric="logloss")
    passes(checks.check_ablation(results, "dropout", best, overlap, metric="logloss"))
    width = sweep_table({16: table[0.0], 64: table[0.1], 256: table[0.3]}, x="embed_dim")
    passes(checks.check_ablation(width, "embed_dim", 64, overlap))


def test_ablation_accepts_the_value_as_typed_for_an_unrounded_table():
    results = sweep_table(UNROUNDED)
    assert 0.1 not in set(results["dropout"])  # the table holds 0.09999999999999998
    passes(checks.check_ablation(results, "dropout", best=0.1, bands_overlap=False))


def test_ablation_hints_show_rounded_numbers():
    results = sweep_table(UNROUNDED)
    not_swept = checks.check_ablation(results, "dropout", best=0.2, bands_overlap=False)
    fails_with(not_swept, "0.2 is not one of the swept values of dropout: [0, 0.1, 0.3, 0.5]")
    wrong = checks.check_ablation(results, "dropout", best=0.1, bands_overlap=True)
    fails_with(wrong, "dropout = 0.1 and the runner-up, dropout = 0")
    keep = checks.check_ablation(results, "dropout", best=0.7, bands_overlap=False)
    fails_with(keep, "keep probability")
    single = sweep_table({1 - 1.0: [0.700, 0.702, 0.698], 1 - 0.9: [0.705, 0.699, 0.707],
                          1 - 0.7: [0.712, 0.690, 0.691]})
    fails_with(checks.check_ablation(single, "dropout", best=1 - 0.7, bands_overlap=True),
               "dropout = 0.3 has the single best run")
    seeds = sweep_table(UNROUNDED).drop(index=[3])
    fails_with(checks.check_ablation(seeds, "dropout"), "0.1: [1, 2]")
    for result in (not_swept, wrong, keep):
        assert "0.0999999" not in result.message and "0.3000000" not in result.message


@pytest.mark.parametrize("results, kwargs, hint", [
    ([{"model": "deepfm"}], {}, "expected the DataFrame"),
    (sweep_table(OVERLAPPING).drop(columns="dropout"), {}, "no column 'dropout'"),
    (pd.concat([sweep_table(OVERLAPPING), sweep_table(OVERLAPPING, model="fm")]), {},
     "several models"),
    (sweep_table({0.0: [0.7, 0.7, 0.7], 0.1: [0.7, 0.7, 0.7]}), {}, "at least three values"),
    (sweep_table({0.0: [0.7], 0.1: [0.71], 0.3: [0.69]}, seeds=(0,)), {}, "at least 2 seeds"),
    (sweep_table(OVERLAPPING).drop(index=[0]), {}, "same seeds"),
    (sweep_table(OVERLAPPING, changes={2: {"hidden": [128, 128]}}), {}, "hidden also change"),
    (sweep_table(OVERLAPPING), {"best": 0.1}, "now read the plot"),
    (sweep_table(OVERLAPPING), {"best": 0.3, "bands_overlap": True}, "single best run"),
    (sweep_table(OVERLAPPING), {"best": 0.9, "bands_overlap": True}, "keep probability"),
    (sweep_table(OVERLAPPING), {"best": 0.1, "bands_overlap": False}, "they do overlap"),
    (sweep_table(SEPARATED), {"best": 0.1, "bands_overlap": True}, "do not overlap"),
    (sweep_table(SEPARATED), {"best": 0.3, "bands_overlap": False, "metric": "logloss"},
     "lower is better"),
    (sweep_table(SEPARATED), {"best": 0.1, "bands_overlap": "no"}, "True or False"),
])
def test_ablation_names_the_mistake(results, kwargs, hint):
    fails_with(checks.check_ablation(results, **{"x": "dropout", **kwargs}), hint)


@pytest.fixture
def last_error(monkeypatch):
    """Set (or clear) the error IPython records when a cell raises."""

    def set_to(error):
        for name in ("last_value", "last_exc"):
            monkeypatch.delattr(sys, name, raising=False)
        if error is not None:
            monkeypatch.setattr(sys, "last_value", error, raising=False)

    return set_to


def test_ablation_without_results_when_no_cell_failed(last_error):
    last_error(None)
    fails_with(checks.check_ablation(None), "results is None",
               "the sweep cell above has not been run yet", "did not assign")


def test_ablation_without_results_quotes_the_error_that_stopped_the_sweep(last_error):
    last_error(ValueError("build_model() got an unknown argument 'dropuot'"))
    result = checks.check_ablation(None)
    fails_with(result, "results is None: the sweep did not finish",
               "ValueError: build_model() got an unknown argument 'dropuot'", "likely the reason")
    assert "has not been run" not in result.message


def test_ablation_without_results_after_the_unanswered_sweep_cell(last_error):
    last_error(NotImplementedError())
    fails_with(checks.check_ablation(None), "the sweep did not finish",
               "is not written yet", "# YOUR CODE HERE")
