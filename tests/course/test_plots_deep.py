"""Tests for the plots of notebooks 04-05: cell calibration, cell gaps, distance to the oracle."""

import numpy as np
import pandas as pd
import pytest

from deepfm_lite.course import analysis, plots
from deepfm_lite.data import make_appstore


@pytest.fixture(scope="module")
def cells():
    frame = make_appstore(8_000, seed=1)
    p = frame["p_true"].to_numpy()
    return analysis.cell_calibration(frame, {"fm": np.clip(p * 0.9, 1e-4, 1), "dnn": p})



def _labelled(ax):
    return ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_cell_calibration_plot_draws_the_chosen_cells(cells):
    show = [("teen", "night", "games"), ("50+", "morning", "games")]
    ax = plots.plot_cell_calibration(cells, ["fm", "dnn"], show=show)
    assert _labelled(ax)
    assert len(ax.patches) == 3 * len(show)  # truth + two models per cell
    assert [t.get_text() for t in ax.get_xticklabels()] == ["teen / night / games",
                                                            "50+ / morning / games"]
    heights = [p.get_height() for p in ax.patches]
    top = cells.set_index(["age_group", "time_slot", "category"]).loc[show[0]]
    assert heights[0] == pytest.approx(top["p_true"])


def test_cell_calibration_plot_names_unknown_cells_and_models(cells):
    with pytest.raises(ValueError, match="martian"):
        plots.plot_cell_calibration(cells, ["fm"], show=[("martian", "night", "games")])
    with pytest.raises(ValueError, match="lr"):
        plots.plot_cell_calibration(cells, ["lr"])


def test_cell_gaps_plot_one_series_per_model(cells):
    ax = plots.plot_cell_gaps(cells, ["fm", "dnn"])
    assert _labelled(ax)
    assert len(ax.collections) == 2
    assert len(ax.collections[0].get_offsets()) == len(cells)
    with pytest.raises(ValueError, match="deepfm_gap"):
        plots.plot_cell_gaps(cells, ["deepfm"])


def _results():
    return pd.DataFrame({
        "model": ["fm", "fm", "deepfm", "deepfm"], "seed": [0, 1, 0, 1],
        "auc": [0.72, 0.73, 0.74, 0.75], "oracle_auc": [0.76, 0.77, 0.76, 0.77],
        "logloss": [0.40, 0.41, 0.39, 0.40], "oracle_logloss": [0.38, 0.39, 0.38, 0.39]})


def test_oracle_gap_bars_are_the_mean_distance_to_the_oracle():
    ax = plots.plot_oracle_gap(_results(), "auc", order=["deepfm", "fm"])
    assert _labelled(ax)
    bars = [p.get_height() for p in ax.patches]
    assert bars == pytest.approx([0.02, 0.04])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["deepfm", "fm"]
    assert "2 seeds" in ax.get_title()
    loss = plots.plot_oracle_gap(_results(), "logloss")
    assert [p.get_height() for p in loss.patches] == pytest.approx([0.02, 0.01])


def test_oracle_gap_needs_the_oracle_column_and_known_models():
    with pytest.raises(ValueError, match="oracle_auc"):
        plots.plot_oracle_gap(_results().drop(columns="oracle_auc"))
    with pytest.raises(ValueError, match="fnn"):
        plots.plot_oracle_gap(_results(), order=["fnn"])
