"""The click-rate and ROC plotting helpers of deepfm_lite.course.plots (notebooks 00-01)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from deepfm_lite.course import plots


@pytest.fixture
def frame():
    return pd.DataFrame({"slot": ["night", "day", "night", "day", "eve"],
                         "click": [1, 0, 1, 1, 0]})


def test_plot_click_rate_by_draws_each_rate(frame):
    ax = plots.plot_click_rate_by(frame, "slot")
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == pytest.approx([1.0, 0.5, 0.0])  # night, day, eve: first-seen order
    assert [t.get_text() for t in ax.get_xticklabels()] == ["night", "day", "eve"]
    assert ax.get_title() and ax.get_xlabel() == "slot" and ax.get_ylabel() == "click rate"


def test_plot_click_rate_by_in_a_given_order(frame):
    ax = plots.plot_click_rate_by(frame, "slot", order=["day", "eve", "night"])
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.5, 0.0, 1.0])
    with pytest.raises(ValueError, match="dawn"):
        plots.plot_click_rate_by(frame, "slot", order=["day", "dawn"])


def test_plot_click_rate_by_names_a_missing_column(frame):
    with pytest.raises(ValueError, match="hour"):
        plots.plot_click_rate_by(frame, "hour")


def test_plot_click_rate_table_one_line_per_row():
    table = pd.DataFrame([[0.1, 0.3], [0.4, 0.2]], index=pd.Index(["f", "m"], name="gender"),
                         columns=pd.Index(["games", "shop"], name="category"))
    ax = plots.plot_click_rate_table(table, title="rates")
    assert len(ax.lines) == 2
    assert list(ax.lines[1].get_ydata()) == [0.4, 0.2]
    assert ax.get_title() == "rates" and ax.get_xlabel() == "category"
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_click_rate_table(pd.DataFrame())


def test_roc_points_match_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * labels, 1)  # rounded: many ties
    fpr, tpr = plots.roc_points(labels, scores)
    ref_fpr, ref_tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # trapezoids
    assert area == pytest.approx(roc_auc_score(labels, scores))


def test_roc_points_bad_input():
    with pytest.raises(ValueError, match="both"):
        plots.roc_points([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="3 values"):
        plots.roc_points([1, 0, 1], [0.2, 0.3])


def test_plot_roc_labels_each_curve_with_its_auc():
    labels = np.array([0, 0, 1, 1])
    ax = plots.plot_roc(labels, {"perfect": [0.1, 0.2, 0.8, 0.9], "flat": [0.5] * 4})
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["perfect (AUC 1.000)", "flat (AUC 0.500)"]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_roc(labels, {})
