"""Tests for deepfm_lite.course.explore: click-rate tables, interaction contrast, crosses."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from deepfm_lite.course import explore


@pytest.fixture
def tiny():
    return pd.DataFrame({
        "gender": ["f", "f", "f", "m", "m", "m", "m", "f"],
        "category": ["games", "shop", "games", "games", "shop", "shop", "games", "shop"],
        "click": [0, 1, 1, 1, 0, 0, 1, 1],
    })


def test_click_rate_table_is_the_cell_mean(tiny):
    table = explore.click_rate_table(tiny, "gender", "category")
    assert list(table.index) == ["f", "m"] and list(table.columns) == ["games", "shop"]
    for (g, c), group in tiny.groupby(["gender", "category"]):
        assert table.loc[g, c] == pytest.approx(group["click"].mean())


def test_click_rate_table_orders_and_empty_cells(tiny):
    table = explore.click_rate_table(tiny, "gender", "category", row_order=["m", "f", "x"],
                                     column_order=["shop", "games"])
    assert list(table.index) == ["m", "f", "x"] and list(table.columns) == ["shop", "games"]
    assert table.loc["x"].isna().all()


def test_click_rate_table_of_another_column(tiny):
    tiny = tiny.assign(pred=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    table = explore.click_rate_table(tiny, "gender", "category", value="pred")
    assert table.loc["m", "shop"] == pytest.approx(0.55)


def test_click_rate_table_names_a_missing_column(tiny):
    with pytest.raises(ValueError, match="age"):
        explore.click_rate_table(tiny, "age", "category")
    with pytest.raises(TypeError, match="row_order"):
        explore.click_rate_table(tiny, "gender", "category", "click")  # an order, not a value
    with pytest.raises(TypeError, match="strings"):
        explore.click_rate_table(tiny, "gender", "category", value=["click"])
    with pytest.raises(TypeError, match="DataFrame"):
        explore.click_rate_table(tiny.to_dict(), "gender", "category")


def test_count_table(tiny):
    counts = explore.count_table(tiny, "gender", "category", column_order=["shop", "games"],
                                 row_order=["m", "f", "x"])
    assert list(counts.columns) == ["shop", "games"] and list(counts.index) == ["m", "f", "x"]
    assert counts.loc["f", "games"] == 2 and counts.to_numpy().sum() == len(tiny)
    assert counts.loc["x"].tolist() == [0, 0]


def test_log_odds_and_its_domain():
    assert explore.log_odds(0.5) == 0.0
    assert explore.log_odds([0.2])[0] == pytest.approx(math.log(0.25))
    with pytest.raises(ValueError, match="strictly between"):
        explore.log_odds([0.0, 0.5])


def test_interaction_contrast_is_zero_for_an_additive_logit():
    rng = np.random.default_rng(0)
    row_effect, column_effect = rng.normal(size=3), rng.normal(size=4)
    logits = row_effect[:, None] + column_effect[None, :] - 2.0
    table = pd.DataFrame(1 / (1 + np.exp(-logits)), index=list("abc"), columns=list("wxyz"))
    for rows, cols in itertools.product(itertools.combinations("abc", 2),
                                        itertools.combinations("wxyz", 2)):
        assert abs(explore.interaction_contrast(table, rows, cols)) < 1e-12


def test_interaction_contrast_measures_a_planted_interaction():
    z = np.array([[0.0, 1.0], [0.0, 1.0]])
    z[1, 1] += 0.7  # interaction on one cell
    table = pd.DataFrame(1 / (1 + np.exp(-z)), index=["r1", "r2"], columns=["c1", "c2"])
    assert explore.interaction_contrast(table, ("r1", "r2"), ("c1", "c2")) == pytest.approx(0.7)
    with pytest.raises(KeyError, match="r3"):
        explore.interaction_contrast(table, ("r1", "r3"), ("c1", "c2"))


def test_one_hot_view(tiny):
    widths = explore.one_hot_widths(tiny, ["gender", "category"])
    assert widths.to_dict() == {"gender": 2, "category": 2}
    view = explore.one_hot(tiny, ["gender", "category"])
    assert list(view.columns) == ["gender=f", "gender=m", "category=games", "category=shop"]
    assert (view.sum(axis=1) == 2).all()  # one active column per field
    assert view.loc[1, "category=shop"] == 1 and view.loc[1, "category=games"] == 0


def test_cross_feature_counts_match_brute_force():
    sizes = {"a": 2, "b": 5, "c": 4, "d": 3}
    table = explore.cross_feature_counts(sizes, orders=(1, 2, 3, 4))
    for order in (1, 2, 3, 4):
        combos = list(itertools.combinations(sizes.values(), order))
        assert table.loc[order, "field combinations"] == len(combos)
        assert table.loc[order, "cross features"] == sum(math.prod(c) for c in combos)


def test_cross_feature_counts_from_one_hot_widths(tiny):
    widths = explore.one_hot_widths(tiny, ["gender", "category"])  # a Series: 2 and 2 values
    table = explore.cross_feature_counts(widths, orders=(2,))
    assert table.loc[2].tolist() == [1, 4]


def test_cross_feature_counts_for_criteo_field_count():
    table = explore.cross_feature_counts({f"f{i}": 1 for i in range(39)})
    assert table.loc[2, "field combinations"] == 741
    assert table.loc[3, "field combinations"] == 9139


def test_cross_feature_counts_bad_input():
    with pytest.raises(ValueError, match="order"):
        explore.cross_feature_counts({"a": 2, "b": 3}, orders=(3,))
    with pytest.raises(ValueError, match="positive"):
        explore.cross_feature_counts({"a": 0, "b": 3})


def test_unseen_combinations():
    train = pd.DataFrame({"u": ["x", "x", "y"], "a": [1, 2, 1]})
    test = pd.DataFrame({"u": ["x", "y", "y", "z"], "a": [1, 2, 1, 1]})
    result = explore.unseen_combinations(train, test, ["u", "a"])
    assert result["seen in training"] == 3
    assert result["test rows unseen"] == 2  # (y, 2) and (z, 1)
    assert result["share unseen"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="'v'"):
        explore.unseen_combinations(train, test, ["u", "v"])
