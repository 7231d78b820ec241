"""Tests for the plotting helpers of notebooks 02-03 in deepfm_lite.course.plots."""

import numpy as np
import pandas as pd
import pytest

from deepfm_lite.course import plots


@pytest.fixture
def timings():
    return pd.DataFrame({"fields": [2, 4, 8, 2, 4, 8],
                         "form": ["fast"] * 3 + ["slow"] * 3,
                         "seconds": [1e-4, 1e-4, 2e-4, 1e-4, 4e-4, 1.6e-3]})


def test_plot_timings_draws_one_log_log_line_per_form(timings):
    ax = plots.plot_timings(timings)
    assert [line.get_label() for line in ax.get_lines()] == ["fast", "slow"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [1e-4, 4e-4, 1.6e-3])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_title() and ax.get_xlabel() == "number of fields" and ax.get_ylabel()


def test_plot_timings_names_missing_columns_and_bad_values(timings):
    with pytest.raises(ValueError, match="seconds"):
        plots.plot_timings(timings.drop(columns="seconds"))
    with pytest.raises(ValueError, match="positive"):
        plots.plot_timings(timings.assign(seconds=0.0))


@pytest.fixture
def table():
    return pd.DataFrame([[0.5, -1.0], [0.25, 0.0]],
                        index=pd.Index(["teen", "50+"], name="age_group"),
                        columns=pd.Index(["games", "finance"], name="category"))


def test_plot_score_table_writes_every_value_and_frames_the_marked_cell(table):
    ax = plots.plot_score_table(table, mark=("teen", "finance"), title="scores")
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["+0.50", "-1.00", "+0.25", "+0.00"])
    frame, = [p for p in ax.patches if p.get_linewidth() > 2]
    assert frame.get_xy() == (0.5, -0.5)  # column 1, row 0
    assert ax.get_title() == "scores"
    assert ax.get_xlabel() == "category" and ax.get_ylabel() == "age_group"
    image = ax.get_images()[0]
    assert image.get_clim() == (-1.0, 1.0)  # centred on zero


def test_plot_score_table_shares_a_given_colour_limit(table):
    ax = plots.plot_score_table(table, limit=2.0)
    assert ax.get_images()[0].get_clim() == (-2.0, 2.0)


def test_plot_score_table_rejects_an_unknown_mark_and_a_bad_limit(table):
    with pytest.raises(ValueError, match="mark"):
        plots.plot_score_table(table, mark=("teen", "tools"))
    with pytest.raises(ValueError, match="limit"):
        plots.plot_score_table(table, limit=0.0)


def test_plot_vectors_2d_labels_points_and_colours_groups():
    coords = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])
    ax = plots.plot_vectors_2d(coords, ["games", "finance", "teen"],
                               groups=["category", "category", "age group"], title="map")
    assert [t.get_text() for t in ax.texts] == ["games", "finance", "teen"]
    collections = ax.collections
    assert len(collections) == 2
    np.testing.assert_allclose(collections[0].get_offsets(), coords[:2])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["category", "age group"]
    assert ax.get_title() == "map" and ax.get_xlabel() == "component 1"


def test_plot_vectors_2d_checks_shapes():
    with pytest.raises(ValueError, match="shape"):
        plots.plot_vectors_2d(np.zeros((3, 3)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="labels"):
        plots.plot_vectors_2d(np.zeros((3, 2)), ["a", "b"])
