import numpy as np
import pandas as pd
import pytest

from deepfm_lite.data import Schema, criteo_integer_to_category, split_frame
from deepfm_lite.data.schema import MISSING_ID, OOV_ID


@pytest.fixture
def frame():
    return pd.DataFrame({
        "city": ["a", "b", "a", "c", "a", None],
        "price": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
        "clicked": [0, 1, 0, 1, 1, 0],
    })


def test_fit_and_transform_ids_values_labels(frame):
    schema = Schema.fit(frame, categorical=["city"], numeric=["price"], label="clicked")
    assert schema.field_names == ["city", "price"]
    assert schema.field_dims == [3 + 2, 2]
    enc = schema.transform(frame)
    vocab = schema["city"].vocabulary
    assert vocab == ["a", "b", "c"]
    assert enc.ids[:, 0].tolist() == [2, 3, 2, 4, 2, MISSING_ID]
    assert enc.ids[:, 1].tolist() == [0, 0, MISSING_ID, 0, 0, 0]
    assert enc.values[2, 1].item() == 1.0  # a missing number: its own id, value 1
    present = np.array([1.0, 2.0, 4.0, 5.0, 6.0])
    expected = (4.0 - present.mean()) / present.std()
    assert enc.values[3, 1].item() == pytest.approx(expected, rel=1e-6)
    assert enc.labels.tolist() == [0, 1, 0, 1, 1, 0]


def test_unseen_category_maps_to_oov_not_index_error(frame):
    schema = Schema.fit(frame, categorical=["city"], label="clicked")
    new = pd.DataFrame({"city": ["zzz", "a"], "clicked": [0, 1]})
    assert schema.transform(new).ids[:, 0].tolist() == [OOV_ID, 2]


def test_min_count_sends_rare_categories_to_oov(frame):
    schema = Schema.fit(frame, categorical=["city"], label="clicked", min_count=2)
    assert schema["city"].vocabulary == ["a"]
    assert schema.transform(frame).ids[:, 0].tolist() == [2, OOV_ID, 2, OOV_ID, 2, MISSING_ID]


def test_integral_floats_and_ints_are_the_same_category():
    train = pd.DataFrame({"x": [3, 4], "y": [0, 1]})
    test = pd.DataFrame({"x": [3.0, 4.0], "y": [0, 1]})
    schema = Schema.fit(train, categorical=["x"], label="y")
    assert schema.transform(test).ids[:, 0].tolist() == [2, 3]


def test_missing_column_is_named(frame):
    schema = Schema.fit(frame, categorical=["city"], numeric=["price"], label="clicked")
    with pytest.raises(ValueError, match=r"\['price'\] not found"):
        schema.transform(frame.drop(columns=["price"]))
    with pytest.raises(ValueError, match="'nope'"):
        Schema.fit(frame, categorical=["nope"])


def test_bad_numeric_value_names_field_and_row(frame):
    bad = frame.astype({"price": object})
    bad.loc[3, "price"] = "cheap"
    with pytest.raises(ValueError, match=r"'price'.*'cheap'.*row 3"):
        Schema.fit(bad, numeric=["price"], label="clicked")


def test_bad_label_names_row(frame):
    bad = frame.copy()
    bad.loc[4, "clicked"] = 2
    with pytest.raises(ValueError, match="row 4"):
        Schema.fit(frame, categorical=["city"], label="clicked").transform(bad)


def test_schema_arguments_are_checked(frame):
    with pytest.raises(ValueError, match="both categorical and numeric"):
        Schema.fit(frame, categorical=["price"], numeric=["price"])
    with pytest.raises(ValueError, match="at least one"):
        Schema.fit(frame)
    with pytest.raises(ValueError, match="min_count"):
        Schema.fit(frame, categorical=["city"], min_count=0)


def test_transform_without_label_for_prediction(frame):
    schema = Schema.fit(frame, categorical=["city"], label="clicked")
    enc = schema.transform(frame.drop(columns=["clicked"]), require_label=False)
    assert enc.labels is None and len(enc) == 6


def test_schema_round_trips_through_dict(frame):
    schema = Schema.fit(frame, categorical=["city"], numeric=["price"], label="clicked")
    again = Schema.from_dict(schema.to_dict())
    assert again.to_dict() == schema.to_dict()
    assert np.array_equal(again.transform(frame).ids, schema.transform(frame).ids)


def test_criteo_integer_recipe():
    series = pd.Series([0, 1, 2, 3, 10, 100, None, -1], dtype="Int64")
    out = criteo_integer_to_category(series)
    expected = ["0", "1", "2", str(int(np.log(3) ** 2)), str(int(np.log(10) ** 2)),
                str(int(np.log(100) ** 2)), None, "-1"]
    assert [None if pd.isna(v) else v for v in out] == expected


def test_split_frame_is_deterministic_and_complete():
    df = pd.DataFrame({"x": range(100)})
    a = split_frame(df, seed=1)
    b = split_frame(df, seed=1)
    assert [len(p) for p in a] == [80, 10, 10]
    assert all(p.equals(q) for p, q in zip(a, b))
    assert sorted(pd.concat(a)["x"]) == list(range(100))
    with pytest.raises(ValueError, match="fractions"):
        split_frame(df, fractions=(0.5, 0.6))
