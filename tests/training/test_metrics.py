import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from deepfm_lite.training.metrics import auc, logloss


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn_on_random_scores(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    s = rng.random(500)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_auc_handles_ties_like_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    s = rng.integers(0, 5, 400) / 4.0  # five distinct scores: many ties
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auc_of_all_tied_scores_is_one_half():
    assert auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.5


def test_auc_perfect_and_reversed():
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_auc_accepts_tensors():
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    s = torch.tensor([0.1, 0.9, 0.4, 0.5])
    assert auc(y, s) == pytest.approx(roc_auc_score(y.numpy(), s.numpy()))


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 0, 0]])
def test_auc_single_class_is_a_clear_error(labels):
    with pytest.raises(ValueError, match="both classes"):
        auc(labels, [0.1, 0.2, 0.3])


def test_auc_rejects_bad_inputs():
    with pytest.raises(ValueError, match="only 0 and 1"):
        auc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 values but y_score has 2"):
        auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        auc([], [])


@pytest.mark.parametrize("seed", range(5))
def test_logloss_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = rng.uniform(0.01, 0.99, 300)
    assert logloss(y, p) == pytest.approx(log_loss(y, p), rel=1e-12)


def test_logloss_clips_confident_mistakes():
    value = logloss([1, 0], [0.0, 1.0])
    assert np.isfinite(value) and value > 10


def test_logloss_rejects_logits():
    with pytest.raises(ValueError, match="logits"):
        logloss([0, 1], [-2.0, 3.0])
