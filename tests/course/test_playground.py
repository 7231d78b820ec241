"""The playground: ``run`` returns one comparison row, repeats with its seed, refuses bad
settings by name; the panel builds, trains from its Train button and stops cleanly."""

from __future__ import annotations

import math

import pytest

from deepfm_lite import fit
from deepfm_lite.course import playground
from deepfm_lite.course.playground.run import TABLE_COLUMNS
from deepfm_lite.course.playground.widgets import Playground
from deepfm_lite.data import DATASETS
from deepfm_lite.models import MODELS, build_model

# Tiny runs: the tests check the plumbing, not the accuracy (each run takes well under 1 s).
SMALL = {"rows": 4_000, "embed_dim": 4, "hidden": (16,), "epochs": 2, "lr": 1e-2}
WAIT_S = 60  # a small run takes about a second; room for a busy machine


def test_run_returns_one_row_of_settings_and_scores():
    row = playground.run(model="fm", **SMALL)
    assert list(row) == TABLE_COLUMNS[1:]  # every column but the run number
    assert {k: row[k] for k in ("model", "dataset", "rows", "embed_dim", "hidden", "epochs")} \
        == {"model": "fm", "dataset": "appstore", "rows": 4_000, "embed_dim": 4,
            "hidden": "16", "epochs": 2}
    assert 0.5 < row["auc"] < 1 and row["logloss"] > 0 and row["seconds"] > 0
    assert row["gap_to_oracle"] == row["oracle_auc"] - row["auc"]
    assert row["stopped"] is False


def test_the_same_seed_gives_the_same_numbers_and_another_seed_others():
    first, again = (playground.run(model="deepfm", seed=3, **SMALL) for _ in range(2))
    other = playground.run(model="deepfm", seed=4, **SMALL)
    assert (first["auc"], first["logloss"]) == (again["auc"], again["logloss"])
    assert first["auc"] != other["auc"]
    assert first["oracle_auc"] == other["oracle_auc"]  # same rows: only the model's seed moved


def test_fit_gives_the_same_numbers_with_a_passive_epoch_hook():
    data = playground.prepared_data("appstore", SMALL["rows"])

    def train(**hook):
        model = build_model("deepfm", data.field_dims, seed=0, embed_dim=4, hidden=(8,))
        return fit(model, data.train, data.valid, epochs=2, lr=1e-2, progress=False, **hook)

    seen = []
    plain, hooked = train(), train(on_epoch=seen.append)
    columns = ["epoch", "train_loss", "valid_auc", "valid_logloss"]  # not the timings
    assert plain[columns].equals(hooked[columns])
    assert [row["epoch"] for row in seen] == [1, 2]
    assert len(train(on_epoch=lambda row: True)) == 1  # a true return stops after that epoch


def test_should_stop_ends_the_run_after_the_epoch_and_marks_the_row():
    epochs = []
    row = playground.run(model="deepfm", **{**SMALL, "epochs": 4}, on_epoch=epochs.append,
                         should_stop=lambda: len(epochs) >= 1)
    assert row["stopped"] is True and row["epochs"] == 1
    assert len(epochs) == 1 and math.isfinite(epochs[0]["oracle_valid_auc"])
    assert 0.5 < row["auc"] < 1  # tested as it stood


@pytest.mark.parametrize("setting, value", [
    ("model", "deepfn"), ("dataset", "criteo"), ("rows", 100), ("rows", 2.5e4),
    ("embed_dim", 0), ("hidden", "200-x"), ("hidden", ()), ("dropout", 1.0),
    ("dropout", float("nan")), ("epochs", 0), ("lr", -1e-3), ("seed", -1),
])
def test_a_bad_setting_is_refused_by_name_before_any_training(setting, value):
    with pytest.raises(playground.PlaygroundError, match=rf"^{setting} "):
        playground.run(**{**SMALL, setting: value})


def test_the_panel_offers_every_model_and_data_set():
    panel = Playground()
    assert list(panel.inputs["model"].options) == list(MODELS)
    assert list(panel.inputs["dataset"].options) == list(DATASETS)
    assert panel.settings() == playground.check_settings(**playground.DEFAULTS)
    assert panel.table.empty and list(panel.table.columns) == TABLE_COLUMNS[1:]
    assert panel.stop_button.disabled and not panel.train_button.disabled


def _small_panel(**change) -> Playground:
    panel = Playground(**{**SMALL, **change})
    assert panel.inputs["hidden"].value == "16"
    return panel


def test_the_train_button_adds_a_row_and_redraws_the_plot():
    panel = _small_panel(model="fm")
    blank_plot = panel.plot.value
    panel.train_button.click()
    assert panel.wait(WAIT_S), "the run did not finish"
    assert panel.error is None
    assert len(panel.table) == 1 and panel.table.loc[1, "model"] == "fm"
    assert panel.plot.value != blank_plot and len(panel.epochs) == 2
    shown = panel.table_output.outputs[0]["data"]["text/plain"]
    assert "fm" in shown and "gap_to_oracle" in shown
    assert "finished 2 epochs" in panel.status.value
    assert not panel.train_button.disabled and panel.stop_button.disabled

    panel.inputs["model"].value = "lr"  # change a setting, train again: a second row
    panel.train_button.click()
    assert panel.wait(WAIT_S)
    assert list(panel.table["model"]) == ["fm", "lr"]


def test_stop_adds_the_stopped_run_once_marked_and_the_next_run_is_whole():
    panel = _small_panel(epochs=5)
    on_epoch = panel._on_epoch

    def stop_after_the_first_epoch(row):  # Stop pressed while epoch 1 is reported
        on_epoch(row)
        panel.stop_button.click()

    panel._on_epoch = stop_after_the_first_epoch
    panel.train()
    assert panel.wait(WAIT_S)
    table = panel.table
    assert len(table) == 1 and len(panel.rows) == 1
    assert bool(table.loc[1, "stopped"]) and table.loc[1, "epochs"] == 1
    assert "stopped after 1 of 5 epochs" in panel.status.value

    panel._on_epoch = on_epoch
    panel.train()
    assert panel.wait(WAIT_S)
    assert list(panel.table.index) == [1, 2]
    assert list(panel.table["stopped"]) == [True, False] and panel.table.loc[2, "epochs"] == 5


def test_the_panel_names_a_bad_setting_and_starts_nothing():
    panel = _small_panel()
    panel.inputs["hidden"].value = "wide"
    panel.train_button.click()
    assert not panel.running and panel.table.empty
    assert "Not started: hidden must be" in panel.status.value
    with pytest.raises(playground.PlaygroundError, match="^hidden"):
        panel.train()


def test_without_a_kernel_show_prints_how_to_use_run(capsys):
    panel = playground.show(**SMALL)
    shown = capsys.readouterr().out
    assert "playground.run(" in shown and "rows x epochs" in shown
    assert isinstance(panel, Playground) and panel.inputs["rows"].value == 4_000


def test_a_run_that_fails_adds_no_row_and_says_why(monkeypatch):
    import deepfm_lite.course.playground.widgets as panel_module

    def diverges(**settings):
        settings["on_epoch"]({"epoch": 1, "train_loss": 0.5, "valid_auc": 0.6,
                              "oracle_valid_auc": 0.8})
        raise ValueError("training diverged: the loss became nan at epoch 2")

    monkeypatch.setattr(panel_module, "run", diverges)
    panel = _small_panel()
    panel.train()
    assert panel.wait(WAIT_S)
    assert panel.table.empty and panel.table_output.outputs == ()
    assert "failed, nothing added to the table: ValueError: training diverged" \
        in panel.status.value
    assert panel.error.startswith("ValueError") and not panel._curves  # nor in the plot
    assert not panel.train_button.disabled


def test_in_a_kernel_the_panel_comes_with_the_text_fallback(monkeypatch):
    import IPython.display

    import deepfm_lite.course.playground.widgets as panel_module

    shown = []
    monkeypatch.setattr(panel_module, "_in_kernel", lambda: True)
    monkeypatch.setattr(panel_module, "_execution_count", lambda: 7)
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw: shown.append(bundle))
    panel = Playground()
    panel.display()
    panel._ipython_display_()  # the same cell's value: not shown a second time
    assert len(shown) == 1
    bundle = shown[0]
    assert bundle["text/plain"] == playground.usage()  # what a plain-text front end shows
    assert bundle[panel_module.WIDGET_VIEW]["model_id"] == panel.widget.model_id


def test_the_panel_fits_a_half_width_panel():
    panel = Playground()
    settings = panel.widget.children[0]
    assert settings.layout.flex_flow == "row wrap"  # the three columns wrap when narrow
    assert panel.plot.layout.width == "100%" and panel.plot.layout.height == "auto"
    assert panel.table_output.layout.overflow == "auto"  # a wide table scrolls, never cut off
    assert panel.widget.layout.max_width == "100%"
