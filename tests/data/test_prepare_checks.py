"""What ``data.encode_splits`` refuses before it splits (issue 12, sections 1 and 4)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from deepfm_lite.data import (
    GROUND_TRUTH_COLUMNS,
    GroundTruthWarning,
    check_both_classes,
    encode_splits,
    infer_fields,
    make_appstore,
)
from deepfm_lite.data.splits import split_positives


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.choice(list("pqr"), 300), "b": rng.normal(size=300),
                         "y": (rng.random(300) < 0.4).astype(int),
                         "p_true": rng.random(300)})


@pytest.mark.parametrize("kind", ["categorical", "numeric"])
def test_label_as_a_feature_is_refused(frame, kind):
    categorical, numeric = (["a", "y"], []) if kind == "categorical" else (["a"], ["y"])
    with pytest.raises(ValueError, match=rf"label column 'y' is also named as a {kind} feature"):
        encode_splits(frame, categorical, numeric, "y")


def test_ground_truth_as_a_feature_warns(frame):
    with pytest.warns(GroundTruthWarning, match="p_true is the generator's true click "
                                                "probability, not a feature"):
        data = encode_splits(frame, ["a"], ["p_true"], "y")
    assert data.schema.field_names == ["a", "p_true"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", GroundTruthWarning)
        encode_splits(frame, ["a"], ["b"], "y")  # no warning without it


def test_inferred_fields_leave_out_the_label_and_the_ground_truth():
    df = make_appstore(200, seed=0)
    categorical, numeric, left_out = infer_fields(df, "click")
    assert left_out == ["p_true"] and set(GROUND_TRUTH_COLUMNS) == {"p_true"}
    assert numeric == ["rating"] and "click" not in categorical and len(categorical) == 9


def test_duplicated_columns_are_refused(frame):
    doubled = pd.concat([frame, frame[["a"]]], axis=1)
    with pytest.raises(ValueError, match=r"duplicated column name\(s\) \['a'\]"):
        encode_splits(doubled, ["a"], ["b"], "y")


@pytest.mark.parametrize("value", [2, -1, "yes", np.nan])
def test_bad_label_is_named_by_the_frame_row_not_the_split_row(frame, value):
    frame = frame.astype({"y": object})
    frame.loc[7, "y"] = value
    with pytest.raises(ValueError, match=rf"label 'y' must be 0 or 1; row 7 holds {value!r}"):
        encode_splits(frame, ["a"], ["b"], "y")


def test_a_split_with_one_class_is_named_with_every_split_count(frame):
    frame["y"] = 0
    frame.loc[[0, 1, 2], "y"] = 1
    data = encode_splits(frame, ["a"], ["b"], "y", seed=0)
    counts = split_positives(data)
    assert sum(pos for pos, _ in counts.values()) == 3
    assert [rows for _, rows in counts.values()] == [240, 30, 30]
    empty = [name for name, (pos, _) in counts.items() if pos == 0]
    assert empty  # with seed 0 the three positives miss at least one split
    summary = ", ".join(f"{name} {pos}/{rows}" for name, (pos, rows) in counts.items())
    with pytest.raises(ValueError, match=rf"the {empty[0]} split has no clicks \(0 positives in "
                                         rf"\d+ rows\): AUC needs both classes\. Positives per "
                                         rf"split: {summary}"):
        check_both_classes(data)


def test_both_classes_everywhere_passes(frame):
    check_both_classes(encode_splits(frame, ["a"], ["b"], "y", seed=0))
