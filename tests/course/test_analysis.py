"""Tests for deepfm_lite.course.analysis: the three-way effect by cell, the split gradient."""

import numpy as np
import pandas as pd
import pytest
import torch

from deepfm_lite.course import analysis
from deepfm_lite.data import appstore, make_appstore
from deepfm_lite.models import build_model


@pytest.fixture(scope="module")
def frame():
    return make_appstore(30_000, seed=3)


def _logit(p):
    return np.log(p) - np.log1p(-p)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_planted_three_way_top_cell_and_centering(frame):
    grid = pd.DataFrame([(a, t, c) for a in appstore.AGE_GROUPS for t in appstore.TIME_SLOTS
                         for c in appstore.CATEGORIES],
                        columns=["age_group", "time_slot", "category"])
    effect = analysis.planted_three_way(grid)
    cube = effect.reshape(len(appstore.AGE_GROUPS), len(appstore.TIME_SLOTS), -1)
    # Each factor is centred, so the effect averages to zero over any one field.
    for axis in range(3):
        assert np.allclose(cube.mean(axis=axis), 0.0)
    top = analysis.planted_three_way(pd.DataFrame([analysis.TOP_CELL],
                                                  columns=list(analysis.CELL_FIELDS)))[0]
    assert top > 0.5
    rows = analysis.planted_three_way(frame)
    assert rows.shape == (len(frame),)


def test_planted_three_way_names_bad_column_and_values(frame):
    with pytest.raises(ValueError, match="time_slot"):
        analysis.planted_three_way(frame.drop(columns="time_slot"))
    odd = frame.head(3).assign(category=["games", "chess", "games"])
    with pytest.raises(ValueError, match="category.*chess"):
        analysis.planted_three_way(odd)


def test_cell_calibration_counts_and_a_perfect_model(frame):
    cells = analysis.cell_calibration(frame, {"oracle": frame["p_true"].to_numpy()})
    assert cells["rows"].sum() == len(frame)
    assert len(cells) == len(appstore.AGE_GROUPS) * len(appstore.TIME_SLOTS) * len(
        appstore.CATEGORIES)
    assert np.allclose(cells["oracle_gap"], 0.0)
    assert np.allclose(cells["oracle"], cells["p_true"])
    assert analysis.three_way_captured(cells, "oracle") == pytest.approx(1.0)
    one = cells.set_index(list(analysis.CELL_FIELDS)).loc[analysis.TOP_CELL]
    mask = ((frame["age_group"] == "teen") & (frame["time_slot"] == "night")
            & (frame["category"] == "games"))
    assert one["rows"] == mask.sum()
    assert one["clicked"] == pytest.approx(frame.loc[mask, "click"].mean())


def test_a_model_blind_to_the_effect_captures_none_of_it(frame):
    blind = _sigmoid(_logit(frame["p_true"].to_numpy()) - analysis.planted_three_way(frame))
    half = _sigmoid(_logit(frame["p_true"].to_numpy())
                    - 0.5 * analysis.planted_three_way(frame))
    cells = analysis.cell_calibration(frame, {"blind": blind, "half": half})
    assert analysis.three_way_captured(cells, "blind") == pytest.approx(0.0, abs=1e-6)
    assert analysis.three_way_captured(cells, "half") == pytest.approx(0.5, abs=0.02)
    top = cells.set_index(list(analysis.CELL_FIELDS)).loc[analysis.TOP_CELL]
    assert top["blind"] < top["p_true"]  # blind to a positive effect: predicts too low


def test_cell_calibration_rejects_bad_input(frame):
    with pytest.raises(ValueError, match="'short'.*3 values"):
        analysis.cell_calibration(frame, {"short": np.array([0.1, 0.2, 0.3])})
    with pytest.raises(ValueError, match="p_true"):
        analysis.cell_calibration(frame.drop(columns="p_true"), {})
    cells = analysis.cell_calibration(frame, {"a": frame["p_true"].to_numpy()})
    with pytest.raises(ValueError, match="'b_gap'"):
        analysis.three_way_captured(cells, "b")


def test_pairwise_share_separates_order_three_from_order_two(frame):
    cells = analysis.cell_calibration(frame, {})
    assert analysis.pairwise_share(cells) < 0.15
    # A target that IS a pairwise effect is represented completely.
    pairwise = cells.assign(three_way=cells["age_group"].map({"teen": 1.0}).fillna(0.0)
                            * cells["time_slot"].map({"night": 2.0}).fillna(-0.5))
    assert analysis.pairwise_share(pairwise) == pytest.approx(1.0)


def test_embedding_gradient_parts_add_up_to_the_full_gradient(appstore_small):
    model = build_model("deepfm", appstore_small.field_dims, seed=0, embed_dim=4,
                        hidden=(16, 16), dropout=0.5)
    model.train()
    batch = appstore_small.train.subset(slice(0, 256))
    parts = analysis.embedding_gradient_parts(model, batch.ids, batch.values, batch.labels)
    assert model.training  # mode restored
    table = model.embedding.weight
    assert all(part.shape == table.shape for part in parts.values())
    torch.testing.assert_close(parts["fm"] + parts["deep"], parts["total"])
    assert parts["fm"].abs().sum() > 0 and parts["deep"].abs().sum() > 0
    assert not torch.allclose(parts["fm"], parts["deep"])
    active = torch.unique(batch.ids + model.embedding.offsets)
    inactive = torch.ones(table.shape[0], dtype=torch.bool)
    inactive[active] = False
    assert parts["total"][inactive].abs().sum() == 0  # only looked-up rows get gradient


def test_embedding_gradient_parts_needs_a_deepfm(appstore_small):
    fm = build_model("fm", appstore_small.field_dims, seed=0)
    batch = appstore_small.train.subset(slice(0, 8))
    with pytest.raises(TypeError, match="mlp"):
        analysis.embedding_gradient_parts(fm, batch.ids, batch.values, batch.labels)


def test_planted_contrast_is_the_product_of_the_score_differences():
    def centred(scores):
        return np.asarray(scores) - np.mean(scores)

    youth, late, fun = (centred(s) for s in (appstore.YOUTH, appstore.LATENESS, appstore.FUN))
    expected = appstore.THREE_WAY_SCALE * (
        (youth[appstore.AGE_GROUPS.index("teen")] - youth[appstore.AGE_GROUPS.index("50+")])
        * (late[appstore.TIME_SLOTS.index("night")] - late[appstore.TIME_SLOTS.index("morning")])
        * (fun[appstore.CATEGORIES.index("games")] - fun[appstore.CATEGORIES.index("finance")]))
    assert analysis.planted_contrast() == pytest.approx(expected)
    # Swapping high and low in one field flips the sign.
    swapped = analysis.planted_contrast(("50+", "night", "games"), ("teen", "morning", "finance"))
    assert swapped == pytest.approx(-expected)


def test_three_way_contrast_vanishes_for_pairwise_models_only(appstore_small):
    frame = appstore_small.frames[2].head(50)
    schema = appstore_small.schema
    fm = build_model("fm", appstore_small.field_dims, seed=0)
    with torch.no_grad():  # large random vectors: FM's contrast is still zero exactly
        fm.embedding.weight.normal_(0.0, 1.0)
        fm.linear.weight.normal_(0.0, 1.0)
    fm_contrast = analysis.three_way_contrast(fm, schema, frame)
    assert fm_contrast.shape == (50,)
    assert np.abs(fm_contrast).max() < 1e-4
    dnn = build_model("dnn", appstore_small.field_dims, seed=0, embed_dim=8, hidden=(32, 32),
                      dropout=0.0)
    with torch.no_grad():
        dnn.embedding.weight.normal_(0.0, 1.0)
    assert np.abs(analysis.three_way_contrast(dnn, schema, frame)).max() > 1e-3


def test_contrast_cells_must_differ_in_every_field(appstore_small):
    with pytest.raises(ValueError, match="agree on \\['time_slot'\\]"):
        analysis.planted_contrast(("teen", "night", "games"), ("50+", "night", "finance"))
    with pytest.raises(ValueError, match="three entries"):
        analysis.planted_contrast(("teen", "night"), ("50+", "morning"))


def test_rare_id_rows_counts_each_field_in_the_training_rows():
    train = pd.DataFrame({"user_id": ["u1"] * 6 + ["u2"] * 2, "app_id": ["a1"] * 8})
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u1"], "app_id": ["a1", "a1", "a1", "a9"]})
    # u1 seen 6 times (frequent), u2 twice, u3 never; a1 eight times, a9 never.
    assert analysis.rare_id_rows(train, frame).tolist() == [False, True, True, True]
    assert analysis.rare_id_rows(train, frame, fields=["app_id"]).tolist() == [
        False, False, False, True]
    assert analysis.rare_id_rows(train, frame, at_most=1).tolist() == [False, False, True, True]


def test_rare_id_rows_names_a_missing_column():
    with pytest.raises(KeyError, match="'item_id'"):
        analysis.rare_id_rows(pd.DataFrame({"user_id": []}), pd.DataFrame({"user_id": []}),
                              fields=["item_id"])
