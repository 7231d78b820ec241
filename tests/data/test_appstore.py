import numpy as np
import pandas as pd
import pytest

import deepfm_lite as dl
from deepfm_lite.data import appstore, load_dataset, make_appstore


@pytest.fixture(scope="module")
def rows():
    return make_appstore(100_000, seed=0)


def test_columns_kinds_and_label(rows):
    assert list(rows.columns) == [*appstore.CATEGORICAL[:5], "category", "rating",
                                  "time_slot", "day_type", "device_os", "click", "p_true"]
    assert set(rows["click"].unique()) == {0, 1}
    assert rows["rating"].between(1, 5).all()
    assert rows["p_true"].between(0, 1).all()
    assert set(rows["category"]) == set(appstore.CATEGORIES)


def test_deterministic_per_seed_and_different_across_seeds():
    a, b, c = make_appstore(2000, seed=3), make_appstore(2000, seed=3), make_appstore(2000, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a["click"].equals(c["click"])


def test_long_tail_users_and_apps(rows):
    users = rows["user_id"].value_counts()
    apps = rows["app_id"].value_counts()
    assert users.iloc[0] > 20 * users.median()  # a few very active users, many occasional ones
    assert apps.iloc[0] > 50 * apps.median()


def test_oracle_in_realistic_range_and_clicks_follow_p_true(rows):
    oracle = dl.auc(rows["click"], rows["p_true"])
    assert 0.75 <= oracle <= 0.88
    assert rows["click"].mean() == pytest.approx(rows["p_true"].mean(), abs=0.005)
    # calibration: within deciles of p_true, the click rate matches the mean p_true
    deciles = pd.qcut(rows["p_true"], 10)
    table = rows.groupby(deciles, observed=True)[["click", "p_true"]].mean()
    assert np.allclose(table["click"], table["p_true"], atol=0.015)


def test_three_way_effect_has_no_pairwise_part():
    youth, late, fun = (appstore.centered(s) for s in (appstore.YOUTH, appstore.LATENESS,
                                                         appstore.FUN))
    effect = np.einsum("a,t,c->atc", youth, late, fun)
    for axis in range(3):  # averaging over any one field leaves nothing for a pair to fit
        assert np.allclose(effect.mean(axis=axis), 0)
    top = np.unravel_index(effect.argmax(), effect.shape)
    names = (appstore.AGE_GROUPS[top[0]], appstore.TIME_SLOTS[top[1]],
             appstore.CATEGORIES[top[2]])
    assert names == ("teen", "night", "games")


def test_rejects_bad_row_count():
    with pytest.raises(ValueError, match="n_rows"):
        make_appstore(0)
    with pytest.raises(ValueError, match="n_rows"):
        make_appstore(10.5)


def test_load_dataset_splits_and_encodes():
    data = load_dataset("appstore", 5000, seed=1)
    assert (len(data.train), len(data.valid), len(data.test)) == (4000, 500, 500)
    assert data.schema.field_names == [c for c in make_appstore(5, 0).columns
                                       if c not in ("click", "p_true")]
    assert data.schema["rating"].kind == "numeric"
    assert data.test.p_true is not None
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("movielens", 100)


# The ladder LR < FM < DeepFM < oracle at the course budget is asserted in notebook 08 (seed 0)
# and measured over five seeds by `python scripts/seed_ranges.py 08-ladder`; not repeated here.
