"""check_logloss and check_auc (exercise 01): NumPy answers of any numeric kind pass, the usual
mistakes are named, scikit-learn is refused, and an unknown mistake is located."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checks_helpers import fails_with, passes
from sklearn.metrics import auc as sklearn_auc
from sklearn.metrics import log_loss, roc_auc_score, roc_curve

import deepfm_lite
from deepfm_lite.course import checks

# ---- LogLoss ------------------------------------------------------------------------------------


def logloss_numpy(y_true, y_prob):
    p = np.clip(y_prob, 1e-7, 1 - 1e-7)
    return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


def logloss_loop(y_true, y_prob):
    total = 0.0
    for y, p in zip(y_true, y_prob, strict=True):
        p = min(max(p, 1e-15), 1 - 1e-15)
        total += -math.log(p) if y == 1 else -math.log(1 - p)
    return total / len(y_true)


def logloss_torch(y_true, y_prob):
    return F.binary_cross_entropy(torch.tensor(y_prob), torch.tensor(y_true))


@pytest.mark.parametrize("fn", [
    logloss_numpy, logloss_loop, logloss_torch, deepfm_lite.logloss,
    lambda y, p: float(logloss_numpy(y, p)),  # a float
    lambda y, p: np.float64(logloss_numpy(y, p)),  # a NumPy scalar
    lambda y, p: np.float32(logloss_numpy(y, p)),  # float32 is fine in a NumPy exercise
    lambda y, p: np.array(logloss_numpy(y, p)),  # a 0-d array
    lambda y, p: np.array([logloss_numpy(y, p)]),  # a one-element array
    lambda y, p: torch.tensor([logloss_numpy(y, p)], dtype=torch.float64),  # a one-element tensor
], ids=["numpy", "loop", "torch", "package", "float", "np.float64", "np.float32", "0-d array",
        "one-element array", "one-element tensor"])
def test_logloss_accepts_correct_implementations(fn):
    passes(checks.check_logloss(fn))


def _clip(p):
    return np.clip(p, 1e-7, 1 - 1e-7)


@pytest.mark.parametrize("fn, hint", [
    (lambda y, p: np.mean(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))), "sign"),
    (lambda y, p: -np.sum(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))), "mean"),
    (lambda y, p: -np.mean(y * np.log10(_clip(p)) + (1 - y) * np.log10(1 - _clip(p))),
     "base 10"),
    (lambda y, p: -np.mean(y * np.log(_clip(p))), "non-click term"),
    (lambda y, p: -np.mean(y * np.log(1 - _clip(p)) + (1 - y) * np.log(_clip(p))), "swapped"),
    (lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), "clip"),
    (lambda y, p: -(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))), "one per row"),
    (lambda y, p: logloss_numpy(y, np.clip(p, 0.05, 0.95)), "eps = 0.05"),
])
def test_logloss_names_the_mistake(fn, hint):
    fails_with(checks.check_logloss(fn), hint)


def test_logloss_refuses_scikit_learn():
    fails_with(checks.check_logloss(lambda y, p: log_loss(y, p, labels=[0, 1])),
               "calls scikit-learn's log_loss", "by hand")
    fails_with(checks.check_logloss(log_loss), "scikit-learn")  # the function itself


def test_logloss_refuses_scikit_learn_imported_inside_or_through_a_helper():
    def via_import(y_true, y_prob):
        import sklearn.metrics

        return sklearn.metrics.log_loss(y_true, y_prob, labels=[0, 1])

    def helper(y_true, y_prob):
        return log_loss(y_true, y_prob, labels=[0, 1])

    fails_with(checks.check_logloss(via_import), "scikit-learn")
    fails_with(checks.check_logloss(lambda y, p: helper(y, p)), "scikit-learn")


def test_logloss_names_swapped_arguments_only_when_swapping_reproduces_the_answer():
    fails_with(checks.check_logloss(lambda y_prob, y_true: logloss_numpy(y_true, y_prob)),
               "arguments are swapped", "(y_true, y_prob)")

    def halves_the_non_clicks(y_true, y_prob):  # no usual mistake, no swap: located instead
        p = _clip(y_prob)
        return -np.mean(y_true * np.log(p) + 0.5 * (1 - y_true) * np.log(1 - p))

    result = checks.check_logloss(halves_the_non_clicks)
    fails_with(result, "a single non-click with p = 0.2", "0.2231", "0.1116")
    assert "(y_true, y_prob)" not in result.message


def test_logloss_locates_a_mistake_right_on_small_cases():
    def median_not_mean(y_true, y_prob):
        p = _clip(y_prob)
        return -np.median(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))

    result = checks.check_logloss(median_not_mean)
    fails_with(result, "right on one click, one non-click and the two together")
    assert "(y_true, y_prob)" not in result.message


# ---- AUC ----------------------------------------------------------------------------------------


def auc_pairs(y_true, y_score):
    pos = [s for s, y in zip(y_score, y_true, strict=True) if y == 1]
    neg = [s for s, y in zip(y_score, y_true, strict=True) if y == 0]
    score = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return score / (len(pos) * len(neg))


def auc_ranks(y_true, y_score):
    from scipy.stats import rankdata

    ranks = rankdata(y_score)  # average ranks for ties
    n_pos = int(np.sum(y_true))
    n_neg = len(y_true) - n_pos
    return (ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_trapezoid(y_true, y_score):
    thresholds = np.unique(y_score)[::-1]
    tpr = [0.0] + [np.mean(y_score[y_true == 1] >= t) for t in thresholds]
    fpr = [0.0] + [np.mean(y_score[y_true == 0] >= t) for t in thresholds]
    return float(np.sum(np.diff(fpr) * (np.array(tpr[1:]) + np.array(tpr[:-1])) / 2))


@pytest.mark.parametrize("fn", [
    auc_pairs, auc_ranks, auc_trapezoid, deepfm_lite.auc,
    lambda y, s: torch.tensor(auc_pairs(y, s)),  # a 0-d tensor
    lambda y, s: np.array([auc_pairs(y, s)]),  # a one-element array
])
def test_auc_accepts_correct_implementations(fn):
    passes(checks.check_auc(fn))


def auc_strict(y_true, y_score):
    pos, neg = y_score[y_true == 1][:, None], y_score[y_true == 0][None, :]
    return float((pos > neg).mean())


def auc_ordinal_ranks(y_true, y_score):
    ranks = np.empty(len(y_score))
    ranks[np.argsort(y_score)] = np.arange(1, len(y_score) + 1)
    n_pos = int(y_true.sum())
    return (ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y_true) - n_pos))


@pytest.mark.parametrize("fn, hint", [
    (auc_strict, "tie"),
    (lambda y, s: float((s[y == 1][:, None] >= s[y == 0][None, :]).mean()), "tie"),
    (auc_ordinal_ranks, "tie"),
    (lambda y, s: 1 - auc_pairs(y, s), "non-click scores higher"),
    (lambda y, s: float((s[y == 1][:, None] > s[y == 0][None, :]).sum()), "divide"),
    (lambda y, s: float(((s >= 0.5) == (y == 1)).mean()), "accuracy"),
])
def test_auc_names_the_mistake(fn, hint):
    fails_with(checks.check_auc(fn), hint)


def test_auc_refuses_scikit_learn():
    fails_with(checks.check_auc(roc_auc_score), "calls scikit-learn's roc_auc_score")

    def via_curve(y_true, y_score):
        fpr, tpr, _ = roc_curve(y_true, y_score)
        return sklearn_auc(fpr, tpr)

    fails_with(checks.check_auc(via_curve), "scikit-learn's roc_curve")


def test_auc_names_swapped_arguments_only_when_swapping_reproduces_the_answer():
    fails_with(checks.check_auc(lambda y_score, y_true: auc_pairs(y_true, y_score)),
               "arguments are swapped", "(y_true, y_score)")

    def squares_the_share(y_true, y_score):
        return auc_pairs(y_true, y_score) ** 2

    result = checks.check_auc(squares_the_share)
    fails_with(result, "two clicks and two non-clicks", "0.75", "0.5625")
    assert "(y_true, y_score)" not in result.message
