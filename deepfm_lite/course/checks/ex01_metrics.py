"""Exercise 01: LogLoss and AUC by hand, in NumPy (the two metrics of the paper's Table 2).

This is a NumPy exercise: any numeric answer passes (a float, a NumPy scalar, a 0-d array, a
one-element tensor, float32 or float64). What it may not do is call scikit-learn: the cells
after the checks compare the learner's functions with scikit-learn's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .common import (
    CheckResult,
    Forbidden,
    NotYet,
    as_scalar,
    call_learner,
    close,
    expect_callable,
    fmt,
    match_mistake,
    name_of,
    preview,
    run_check,
)

_BY_HAND = ("this exercise asks for the metric by hand, in NumPy, and the cells after this check "
            "compare your function with scikit-learn's: that comparison would then compare "
            "scikit-learn with itself.")
NO_SCIKIT_LEARN = (
    Forbidden("sklearn.metrics.log_loss", "scikit-learn's log_loss", _BY_HAND),
    Forbidden("sklearn.metrics.roc_auc_score", "scikit-learn's roc_auc_score", _BY_HAND),
    Forbidden("sklearn.metrics.roc_curve", "scikit-learn's roc_curve", _BY_HAND),
    Forbidden("sklearn.metrics.auc", "scikit-learn's auc", _BY_HAND),
    Forbidden("sklearn", "scikit-learn", _BY_HAND, package=True),
)


def _scalar_or_problem(fn: Callable, what: str, y: np.ndarray,
                       p: np.ndarray) -> float | str:
    """The learner's number for one small case, or what went wrong, in words."""
    try:
        return as_scalar(call_learner(fn, y.copy(), p.copy(), what=what), what, "one number",
                         y.size, "Average the per-row values into one number.")
    except NotYet as problem:
        return str(problem)


def _swapped_reproduces(fn: Callable, what: str, y: np.ndarray, p: np.ndarray,
                        right: float) -> bool:
    """True when the learner's function gives the right number for (p, y): its parameters are
    in the order (scores, labels)."""
    swapped = _scalar_or_problem(fn, what, p, y)
    return isinstance(swapped, float) and close(swapped, right, rtol=1e-5, atol=1e-7)


def _swap_hint(fn: Callable, what: str, y: np.ndarray, p: np.ndarray, reference: Callable,
               metric: str, second: str) -> Callable[[Exception], str]:
    """For an exception: say so when the learner's parameters are in the order (scores,
    labels), which often raises on labels that are not 0/1."""

    def hint(_error: Exception) -> str:
        if not _swapped_reproduces(fn, what, y, p, reference(y, p)):
            return ""
        return (f"It gives the right {metric} when its arguments are swapped: the arguments "
                f"come in the order (y_true, {second}), labels first.")

    return hint


def _first_small_case_wrong(fn: Callable, what: str, cases, reference: Callable,
                            metric: str, second: str) -> str:
    """The first small case the learner's function gets wrong, in words ("" when none)."""
    for y, p, description in cases:
        case = f"{description} (y_true={preview(y)}, {second}={preview(p)})"
        got = _scalar_or_problem(fn, what, y, p)
        if isinstance(got, str):
            return f"on {case}: {got}"
        expected = reference(y, p)
        if not close(got, expected, rtol=1e-5, atol=1e-7):
            return f"on {case} the {metric} is {fmt(expected)}, {what} returned {fmt(got)}."
    return ""


# ---- LogLoss --------------------------------------------------------------------------------


def _reference_logloss(y: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _logloss_mistakes(y: np.ndarray, p: np.ndarray) -> list[tuple[float, str]]:
    right = _reference_logloss(y, p)
    click_term, skip_term = y * np.log(p), (1 - y) * np.log(1 - p)
    formula = "LogLoss = -mean(y·log(p) + (1 - y)·log(1 - p))"
    large_eps = [(_reference_logloss(y, p, eps), f"you clip with eps = {eps:g}, which changes "
                  "the loss of ordinary probabilities too: clip with a tiny eps such as 1e-7, "
                  "only to keep log(0) away.") for eps in (0.1, 0.05, 0.01)]
    return [
        (-right, f"the sign is flipped: {formula} is positive (log of a probability is "
                 "negative, so the minus sign makes the loss positive)."),
        (right * y.size, f"you sum over the rows; LogLoss is the mean, so divide by the number "
                         f"of rows ({formula})."),
        (right / math.log(10), "you use log base 10; LogLoss uses the natural log (np.log)."),
        (right / math.log(2), "you use log base 2; LogLoss uses the natural log (np.log)."),
        (float(-np.mean(click_term)), "only the clicks count in your loss: add the "
                                      "non-click term (1 - y)·log(1 - p)."),
        (float(-np.mean(skip_term)), "only the non-clicks count in your loss: add the click "
                                     "term y·log(p)."),
        (float(-np.mean(y * np.log(1 - p) + (1 - y) * np.log(p))),
         "the two terms are swapped: a click (y = 1) must be scored by log(p), a non-click "
         "by log(1 - p)."),
        (float(-np.sum(click_term + skip_term) / max(y.sum(), 1)),
         "you divide by the number of clicks; LogLoss averages over all rows."),
        *large_eps,
    ]


_LOGLOSS_SMALL_CASES = [
    (np.array([1.0]), np.array([0.9]), "a single click with p = 0.9"),
    (np.array([0.0]), np.array([0.2]), "a single non-click with p = 0.2"),
    (np.array([1.0, 0.0]), np.array([0.9, 0.2]), "that click and that non-click together"),
]


def _logloss_diagnosis(fn: Callable, what: str, y: np.ndarray, p: np.ndarray,
                       got: float) -> str:
    """Why the learner's LogLoss differs, for a mistake none of the usual ones explains."""
    right = _reference_logloss(y, p)
    if _swapped_reproduces(fn, what, y, p, right):
        return (f"{what} gives the right LogLoss when its arguments are swapped: the arguments "
                "come in the order (y_true, y_prob), labels first.")
    small = _first_small_case_wrong(fn, what, _LOGLOSS_SMALL_CASES, _reference_logloss,
                                    "LogLoss", "y_prob")
    if small:
        return small
    return (f"for y_true={preview(y)} and y_prob={preview(p)} the LogLoss is {fmt(right)}, "
            f"{what} returned {fmt(got)}, although it is right on one click, one non-click "
            "and the two together: look at how it combines many rows (a mean over all of them).")


def check_logloss(fn: Callable) -> CheckResult:
    """Check ``fn(y_true, y_prob) -> float``: LogLoss (binary cross-entropy), by hand.

    The loss the paper's models are trained on and the second metric of its Table 2.
    ``y_true`` is a NumPy array of 0/1 labels and ``y_prob`` a NumPy array of click
    probabilities of the same length; ``fn`` returns ``-mean(y log p + (1 - y) log(1 - p))``
    as one number (a float, a NumPy scalar, a 0-d array or a one-element tensor). Probabilities
    must be clipped to ``[eps, 1 - eps]`` first so that p = 0 or 1 gives a large but finite
    loss; any eps from 1e-15 to 1e-3 (or torch's clamp of the log at -100) is accepted.

    Caught mistakes: flipped sign, sum instead of mean, log base 10 or 2, a missing click or
    non-click term, swapped terms, dividing by the number of clicks, no clipping, clipping with
    a large eps (0.01 to 0.1), one loss per row instead of their mean, arguments taken in the
    order (y_prob, y_true), scikit-learn's ``log_loss`` called instead of writing it; any other
    difference is located on one-row cases (a click with p = 0.9, a non-click with p = 0.2).
    """

    def body() -> str:
        expect_callable(fn, "check_logloss(my_logloss)")
        what = f"your function {name_of(fn)}"
        rng = np.random.default_rng(7)
        cases = [
            (np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=np.float64),
             np.array([0.9, 0.2, 0.6, 0.35, 0.45, 0.05, 0.75, 0.3])),
            (rng.integers(0, 2, 40).astype(np.float64), rng.uniform(0.02, 0.98, 40)),
        ]
        for y, p in cases:
            got = as_scalar(call_learner(fn, y.copy(), p.copy(), what=what,
                                         inputs=f"{y.size} labels and probabilities",
                                         hint_for=_swap_hint(fn, what, y, p, _reference_logloss,
                                                             "LogLoss", "y_prob")),
                            what, "one number", y.size,
                            "LogLoss averages the per-row losses into one number (np.mean).")
            if not math.isfinite(got):
                raise NotYet(f"{what} returned {got} for probabilities between 0.02 and 0.98, "
                             "where the loss is finite.")
            if not close(got, _reference_logloss(y, p), rtol=1e-5, atol=1e-7):
                match_mistake(got, _logloss_mistakes(y, p), rtol=1e-5, atol=1e-7)
                raise NotYet(_logloss_diagnosis(fn, what, y, p, got))
        _check_logloss_clipping(fn, what)
        return "matches -mean(y·log p + (1-y)·log(1-p)) and stays finite at p = 0 and p = 1."

    return run_check("check_logloss", body, NO_SCIKIT_LEARN)


def _check_logloss_clipping(fn: Callable, what: str) -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 1.0, 0.9, 0.2])
    clip_hint = ("clip the probabilities to [eps, 1 - eps] (eps = 1e-7, np.clip) before the "
                 "log: log(0) is -infinity.")
    got = as_scalar(call_learner(fn, y.copy(), p.copy(), what=what,
                                 inputs="probabilities that are exactly 0 and 1",
                                 hint_for=lambda _error: clip_hint),
                    what, "one number", y.size, "Average the per-row losses (np.mean).")
    if not math.isfinite(got):
        raise NotYet(f"{what} returned {got} when a click has p = 0 or a non-click has p = 1: "
                     f"{clip_hint}")
    # Two certain mistakes out of four rows: each costs -log(eps); accept eps in [1e-15, 1e-3]
    # and torch's convention of clamping the log at -100.
    lowest = _reference_logloss(y, p, eps=1e-3)
    highest = (2 * 100.0 - math.log(0.9) - math.log(0.8)) / 4
    if not lowest * 0.999 <= got <= highest * 1.001:
        raise NotYet(f"with p = 0 for a click and p = 1 for a non-click {what} returned "
                     f"{fmt(got)}; with eps = 1e-7 the loss is "
                     f"{fmt(_reference_logloss(y, p))}. Clip with a small eps such as 1e-7.")


# ---- AUC ------------------------------------------------------------------------------------


def _pairwise_auc(y: np.ndarray, s: np.ndarray, tie_credit: float = 0.5) -> float:
    """AUC as the share of (click, non-click) pairs ranked right; a tie earns ``tie_credit``."""
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    return float(((pos > neg) + tie_credit * (pos == neg)).mean())


def _auc_mistakes(y: np.ndarray, s: np.ndarray) -> list[tuple[float, str]]:
    right = _pairwise_auc(y, s)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    ranks = np.empty(s.size)
    ranks[np.argsort(s, kind="mergesort")] = np.arange(1, s.size + 1)
    rank_sum = ranks[y == 1].sum()
    return [
        (1 - right, "your AUC is 1 minus the right one: it counts pairs where the non-click "
                    "scores higher. A pair is ranked right when the CLICK has the higher score."),
        (right * n_pos * n_neg, "you count the well-ranked pairs but do not divide by the "
                                "number of (click, non-click) pairs, n_clicks * n_non_clicks."),
        (float(((s >= 0.5) == (y == 1)).mean()),
         "that is the accuracy at threshold 0.5; AUC looks at the ranking of every "
         "(click, non-click) pair, no threshold."),
        (rank_sum / (n_pos * n_neg), "with the rank-sum formula, subtract n_pos·(n_pos+1)/2 "
                                     "from the clicks' rank sum before dividing by "
                                     "n_pos·n_neg."),
        ((rank_sum - n_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg),
         "your ranks start at 0; the rank-sum formula uses ranks 1..n (or subtract "
         "n_pos·(n_pos-1)/2 for ranks from 0)."),
        (right * n_pos * n_neg / (s.size * (s.size - 1) / 2),
         "you divide by the number of all pairs of rows; divide by the (click, non-click) "
         "pairs only, n_pos·n_neg."),
    ]


_AUC_SMALL_CASES = [
    (np.array([1.0, 0.0]), np.array([0.8, 0.3]), "one click scored above one non-click"),
    (np.array([0.0, 1.0]), np.array([0.8, 0.3]), "one click scored below one non-click"),
    (np.array([1.0, 0.0, 0.0, 1.0]), np.array([0.9, 0.6, 0.2, 0.4]),
     "two clicks and two non-clicks"),
]


def _auc_diagnosis(fn: Callable, what: str, y: np.ndarray, s: np.ndarray, got: float) -> str:
    """Why the learner's AUC differs, for a mistake none of the usual ones explains."""
    right = _pairwise_auc(y, s)
    if _swapped_reproduces(fn, what, y, s, right):
        return (f"{what} gives the right AUC when its arguments are swapped: the arguments come "
                "in the order (y_true, y_score), labels first.")
    small = _first_small_case_wrong(fn, what, _AUC_SMALL_CASES, _pairwise_auc, "AUC",
                                    "y_score")
    if small:
        return small
    return (f"for y_true={preview(y)} and y_score={preview(s)} the AUC is {fmt(right)}, {what} "
            f"returned {fmt(got)}, although it is right on two- and four-row cases: look at "
            "how it counts the pairs when there are many of them.")


def check_auc(fn: Callable) -> CheckResult:
    """Check ``fn(y_true, y_score) -> float``: the area under the ROC curve, by hand.

    The first metric of the paper's Table 2. ``y_true`` is a NumPy array of 0/1 labels,
    ``y_score`` a NumPy array of scores (higher means more likely a click); ``fn`` returns the
    share of (click, non-click) pairs in which the click has the higher score, a tie counting as
    half. Pair counting, the rank-sum (Mann-Whitney) formula with average ranks for ties, or
    the trapezoid area under the ROC curve all pass, returned as any single number.

    Caught mistakes: inverted ranking (1 - AUC), ties counted as 0 or 1 (or by sort order),
    no division by the number of pairs, accuracy at a 0.5 threshold instead of a ranking,
    rank-sum without subtracting n_pos(n_pos+1)/2, ranks from 0, dividing by all pairs,
    arguments taken in the order (y_score, y_true), scikit-learn's ``roc_auc_score`` (or
    ``roc_curve`` and ``auc``) called instead of writing it; any other difference is located on
    two- and four-row cases.
    """

    def body() -> str:
        expect_callable(fn, "check_auc(my_auc)")
        what = f"your function {name_of(fn)}"
        rng = np.random.default_rng(11)
        no_ties = (rng.integers(0, 2, 30).astype(np.float64), rng.random(30))
        no_ties[0][:2] = [0.0, 1.0]
        with_ties = (rng.integers(0, 2, 60).astype(np.float64), rng.integers(0, 5, 60) / 4.0)
        with_ties[0][:2] = [0.0, 1.0]
        all_tied = (np.array([1.0, 0.0, 0.0, 1.0, 0.0]), np.full(5, 0.3))
        _compare_auc(fn, what, *no_ties, _auc_mistakes(*no_ties))
        tie_hint = ("right when all scores differ, but not with tied scores: a tie between a "
                    "click and a non-click counts as HALF a well-ranked pair (with ranks, give "
                    "tied scores the average of their ranks).")
        for y, s in (with_ties, all_tied):
            _compare_auc(fn, what, y, s, [(_pairwise_auc(y, s, 0.0), tie_hint),
                                          (_pairwise_auc(y, s, 1.0), tie_hint)],
                         fallback=tie_hint)
        return "matches the pairwise definition, ties counting half, on three test sets."

    return run_check("check_auc", body, NO_SCIKIT_LEARN)


def _compare_auc(fn, what: str, y: np.ndarray, s: np.ndarray,
                 mistakes: list[tuple[float, str]], fallback: str = "") -> None:
    got = as_scalar(call_learner(fn, y.copy(), s.copy(), what=what,
                                 inputs=f"{y.size} labels and scores",
                                 hint_for=_swap_hint(fn, what, y, s, _pairwise_auc, "AUC",
                                                     "y_score")),
                    what, "one number between 0 and 1", y.size,
                    "AUC is one number for the whole set: the share of well-ranked pairs.")
    if close(got, _pairwise_auc(y, s), rtol=1e-6, atol=1e-9):
        return
    match_mistake(got, mistakes, rtol=1e-6, atol=1e-9)
    raise NotYet(fallback or _auc_diagnosis(fn, what, y, s, got))
