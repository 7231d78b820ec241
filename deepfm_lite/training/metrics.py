"""The two metrics of the paper's Table 2, written plainly: AUC and LogLoss.

Both take labels in {0, 1} and scores (probabilities for LogLoss). They are the versions
the course derives by hand in notebook 01 and are tested against scikit-learn.
"""

from __future__ import annotations

import numpy as np


def _as_1d(name: str, values) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values,
                       dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_labels(y_true) -> np.ndarray:
    labels = _as_1d("y_true", y_true)
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("y_true must hold only 0 and 1 labels")
    return labels


def auc(y_true, y_score) -> float:
    """Area under the ROC curve: the probability that a random click outranks a random non-click.

    Computed from ranks (the Mann-Whitney U statistic). Tied scores share the average of their
    ranks, so a tie between a click and a non-click counts as half a correct ordering.
    """
    labels = _check_labels(y_true)
    scores = _as_1d("y_score", y_score)
    if labels.shape != scores.shape:
        raise ValueError(f"y_true has {labels.size} values but y_score has {scores.size}")
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes in y_true; it holds only "
                         f"{'clicks' if n_neg == 0 else 'non-clicks'}")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # Average rank (1-based) for each run of equal scores.
    run_starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    run_ends = np.r_[run_starts[1:], scores.size]
    average_ranks = (run_starts + run_ends + 1) / 2.0
    ranks[order] = np.repeat(average_ranks, run_ends - run_starts)
    rank_sum_pos = ranks[labels == 1].sum()
    return float((rank_sum_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def logloss(y_true, y_prob, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy, -mean(y log p + (1 - y) log(1 - p)).

    Probabilities are clipped to [eps, 1 - eps] so that one confident mistake gives a large
    but finite loss.
    """
    labels = _check_labels(y_true)
    probs = _as_1d("y_prob", y_prob)
    if labels.shape != probs.shape:
        raise ValueError(f"y_true has {labels.size} values but y_prob has {probs.size}")
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("y_prob must be probabilities in [0, 1]; did you pass logits?")
    probs = np.clip(probs, eps, 1 - eps)
    return float(-np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs)))
