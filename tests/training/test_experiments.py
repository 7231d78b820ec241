"""The experiment runner, its CSV round-trip, summaries, Table 2 data and the plot helpers."""

import io
import json
import os

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from fakes import FullDisk

from deepfm_lite.course.plots import plot_relative_time, plot_sweep, relative_time
from deepfm_lite.data import load_dataset
from deepfm_lite.experiments import (
    RESULT_COLUMNS,
    SCALES,
    TABLE2_MODELS,
    load_results,
    model_parameters,
    paper_table2,
    run_experiments,
    run_table2,
    save_results,
    summarize,
    table2_configs,
    table2_summary,
)
from deepfm_lite.models import MODELS

matplotlib.use("Agg")
torch.set_num_threads(1)

CONFIGS = [
    {"model": "deepfm", "embed_dim": 4, "hidden": [16], "dropout": 0.2, "label": "keep 0.8"},
    {"model": "lr", "lr": 0.01},
]


@pytest.fixture(scope="module")
def data():
    return load_dataset("appstore", 3000, seed=0)


@pytest.fixture(scope="module")
def results(data):
    return run_experiments(CONFIGS, data, seeds=(0, 1), epochs=1, batch_size=256,
                           progress=False)


def test_runner_gives_one_tidy_row_per_config_and_seed(results):
    assert list(results.columns) == [*RESULT_COLUMNS, "embed_dim", "hidden", "dropout", "lr"]
    assert len(results) == 4
    assert list(results["label"]) == ["keep 0.8", "keep 0.8", "lr(lr=0.01)", "lr(lr=0.01)"]
    assert list(results["seed"]) == [0, 1, 0, 1]
    assert results["auc"].between(0.3, 1.0).all() and (results["logloss"] > 0).all()
    assert (results["train_seconds"] > 0).all() and (results["epochs_run"] == 1).all()
    assert (results["cpu_seconds"] > 0).all()
    assert np.allclose(results["samples_per_s"], 2400 / results["train_seconds"])
    deepfm = results.iloc[0]
    assert json.loads(deepfm["params"]) == {"activation": "relu", "batch_norm": False,
                                            "dropout": 0.2, "embed_dim": 4, "hidden": [16]}
    assert deepfm["hidden"] == "16" and deepfm["dropout"] == 0.2
    # swept columns: the effective value, empty where a model has no such parameter
    assert np.isnan(results["dropout"].iloc[2]) and results["hidden"].iloc[2] is None
    assert list(results["lr"]) == [1e-3, 1e-3, 0.01, 0.01]


def test_runner_repeats_exactly_with_the_same_seed(data, results):
    again = run_experiments(CONFIGS[:1], data, seeds=(1, 0), epochs=1, batch_size=256,
                            progress=False)
    first = results[results["model"] == "deepfm"].set_index("seed")
    again = again.set_index("seed")
    assert again.loc[0, "auc"] == first.loc[0, "auc"]
    assert again.loc[1, "logloss"] == first.loc[1, "logloss"]
    assert first.loc[0, "auc"] != first.loc[1, "auc"]  # the seed does change the run


def test_default_settings_of_a_model_fill_its_swept_column(data):
    configs = [{"model": "deepfm", "hidden": [8]}, {"model": "deepfm", "hidden": [8],
                                                   "activation": "tanh"}]
    results = run_experiments(configs, data, seeds=(0,), epochs=1, batch_size=512,
                              progress=False)
    assert list(results["activation"]) == ["relu", "tanh"]


def test_save_and_load_round_trip_exactly(tmp_path, results):
    extended = results.assign(batch_norm=pd.Series([True, False, None, None], dtype="boolean"),
                              flag=[True, False, True, True], label_num=["1.0", "2", "x", "y"])
    path = save_results(extended, tmp_path / "runs.csv")
    loaded = load_results(path)
    pd.testing.assert_frame_equal(loaded, extended)
    assert loaded["auc"].tolist() == extended["auc"].tolist()  # bit for bit


def test_load_results_reads_a_plain_csv(tmp_path, results):
    path = tmp_path / "plain.csv"
    results.to_csv(path, index=False)
    assert load_results(path)["auc"].tolist() == results["auc"].tolist()


def test_summarize_gives_mean_std_min_max_per_config(results):
    table = summarize(results)
    assert list(table["label"]) == ["keep 0.8", "lr(lr=0.01)"]
    deepfm = results[results["model"] == "deepfm"]["auc"]
    row = table.iloc[0]
    assert row["auc_mean"] == pytest.approx(deepfm.mean())
    assert row["auc_std"] == pytest.approx(deepfm.std())
    assert (row["auc_min"], row["auc_max"]) == (deepfm.min(), deepfm.max())
    assert list(table["runs"]) == [2, 2]
    with pytest.raises(ValueError, match="no column"):
        summarize(results, by="missing")


@pytest.mark.parametrize("config, index, pattern", [
    ([{"model": "deepfm"}, {"model": "nope"}], 1, "unknown model 'nope'"),
    ([{"model": "deepfm", "dropuot": 0.2}], 0, "unknown parameter.*dropuot"),
    ([{"model": "lr", "hidden": [8]}], 0, "unknown parameter.*hidden"),
    ([{"model": "lr"}, {"model": "deepfm", "dropout": 1.5}], 1, "dropout"),
    ([{"model": "deepfm"}, {"dropout": 0.1}], 1, "no 'model' key"),
])
def test_bad_configs_fail_early_naming_the_config(data, config, index, pattern):
    with pytest.raises(ValueError, match=f"config {index}.*{pattern}"):
        run_experiments(config, data, seeds=(0,), epochs=1, progress=False)


def test_num_threads_is_set_for_the_run_and_restored(data):
    torch.set_num_threads(2)
    try:
        run_experiments([{"model": "lr"}], data, seeds=(0,), epochs=1, progress=False,
                        num_threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    with pytest.raises(ValueError, match="num_threads"):
        run_experiments([{"model": "lr"}], data, seeds=(0,), progress=False, num_threads=0)


def test_bad_arguments_are_named(data):
    with pytest.raises(TypeError, match="config 0 must be a dict"):
        run_experiments(["deepfm"], data, progress=False)
    with pytest.raises(TypeError, match="SplitData"):
        run_experiments(CONFIGS, data.train, progress=False)
    with pytest.raises(ValueError, match="seeds"):
        run_experiments(CONFIGS, data, seeds=(), progress=False)


def test_model_parameters_lists_the_constructor_arguments():
    assert model_parameters("lr") == {}
    assert model_parameters("fm") == {"embed_dim": 10}
    assert set(model_parameters("fnn")) == {"embed_dim", "hidden", "activation", "dropout",
                                            "batch_norm", "pretrain_epochs"}


def test_paper_table2_holds_the_arxiv_numbers():
    table = paper_table2()
    assert list(table["model"]) == list(TABLE2_MODELS) and set(TABLE2_MODELS) <= set(MODELS)
    assert (table["version"] == "arXiv 1703.04247").all()
    best = table.set_index("paper_name")
    assert best["company_auc"].idxmax() == "DeepFM" and best["criteo_auc"].idxmax() == "DeepFM"
    assert best.loc["LR", "criteo_logloss"] == 0.47762
    assert best.loc["FM&DNN", "company_auc"] == 0.8661


def test_scales_and_table2_configs():
    assert set(SCALES) == {"ci", "class", "paper"}
    paper = SCALES["paper"]
    assert (tuple(paper["hidden"]), paper["dropout"], paper["embed_dim"]) == ((400,) * 3, 0.5, 10)
    for scale in SCALES:
        assert len(SCALES[scale]["sweep_seeds"]) >= 3
        configs = table2_configs(scale)
        assert [c["model"] for c in configs] == list(TABLE2_MODELS)
        by_model = {c["model"]: c for c in configs}
        assert by_model["lr"] == {"model": "lr", "label": "LR"}
        assert by_model["ipnn"]["activation"] == "tanh"  # as the paper ran IPNN
        assert by_model["fnn"]["pretrain_epochs"] == SCALES[scale]["epochs"]
        assert by_model["deepfm"]["hidden"] == list(SCALES[scale]["hidden"])
    with pytest.raises(ValueError, match="unknown scale"):
        table2_configs("huge")


def test_run_table2_on_given_data_and_its_summary(data):
    results = run_table2(scale="ci", seeds=(0,), data=data, progress=False)
    assert list(results["label"]) == list(TABLE2_MODELS.values())
    assert results.attrs["scale"] == "ci" and results.attrs["oracle"]["auc"] > 0.5
    table = table2_summary(results)
    assert len(table) == 9
    lr_row = table.set_index("model").loc["lr"]
    assert lr_row["time_vs_lr"] == pytest.approx(1.0) == lr_row["cpu_vs_lr"]
    assert table["criteo_auc"].notna().all()


def test_plot_sweep_numeric_and_categorical(results):
    ax = plot_sweep(results, "dropout")  # the lr rows have no dropout and are left out
    assert "dropout" in ax.get_title() and ax.get_xlabel() == "dropout"
    assert ax.get_ylabel() == "test AUC"
    assert len(ax.lines) == 1 and ax.lines[0].get_xdata().tolist() == [0.2]
    ax = plot_sweep(results, "label", metric="logloss", title="by config", spread="std")
    assert ax.get_title() == "by config" and ax.get_ylabel() == "test LogLoss"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["keep 0.8", "lr(lr=0.01)"]
    with pytest.raises(ValueError, match="no column"):
        plot_sweep(results, "neurons")


def test_plot_sweep_draws_one_line_per_model(results):
    both = pd.concat([results.assign(x=[1, 2, 1, 2]), results.assign(x=[3, 3, 3, 3])])
    ax = plot_sweep(both, "x")
    assert len(ax.lines) == 2 and ax.get_legend() is not None


def test_plot_relative_time(results):
    ratios = relative_time(results)
    assert ratios["lr(lr=0.01)"] == pytest.approx(1.0)
    ax = plot_relative_time(results)
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == pytest.approx(ratios.tolist())
    assert ax.get_title() and "lr" in ax.get_ylabel()
    cpu = relative_time(results, time_column="cpu_seconds")
    assert cpu["lr(lr=0.01)"] == pytest.approx(1.0) and cpu["keep 0.8"] > 0
    with pytest.raises(ValueError, match="baseline model 'fm'"):
        plot_relative_time(results, baseline="fm")


# ---- issue 25: results written whole or not at all; seeds numpy and torch accept ---------------


def test_a_save_that_fails_midway_keeps_the_previous_results(tmp_path, results, monkeypatch):
    path = save_results(results.head(1), tmp_path / "runs.csv")
    before = path.read_bytes()
    real_fdopen = os.fdopen
    opened = []

    def full_disk(fd, mode="r", *args, **kwargs):
        opened.append(mode)
        return io.BufferedWriter(FullDisk(fd, room=len(before) // 2), buffer_size=64)

    monkeypatch.setattr(os, "fdopen", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        save_results(results, path)
    assert opened == ["wb"]  # the write did start, and stopped halfway
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["runs.csv"]  # no temporary file left
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    pd.testing.assert_frame_equal(load_results(save_results(results, path)), results)


def test_seeds_outside_what_numpy_and_torch_take_are_named(data):
    for seeds, shown in (((0, -1), "-1"), ((2**32,), "4294967296")):
        with pytest.raises(ValueError, match=f"seeds must be integers from 0 to 4294967295 "
                                             rf"\(2\*\*32 - 1\), got {shown}"):
            run_experiments([{"model": "lr"}], data, seeds=seeds, progress=False)
    one = run_experiments([{"model": "lr"}], data, seeds=(2**32 - 1,), epochs=1,
                          progress=False)  # positive control: the largest seed runs
    assert one["seed"].tolist() == [2**32 - 1]
