"""Self-checks for the exercises in ``exercises/``: one call after each exercise cell.

Every check takes the learner's function, module or result as its first argument, runs it on
small inputs the check makes itself, and compares the answer with a reference written here.
When the answer is wrong it is also compared with the usual wrong answers (the missing 1/2,
offsets not added, ties counted as misses, ...) so the feedback can name the mistake.

A check never raises: an exception from the learner's code, a ``None`` return, a wrong shape
or dtype all come back as a sentence. The feedback is one line that starts with a pass mark or
with "Not yet"; it is shown in the notebook (printed outside Jupyter) and returned as a
:class:`CheckResult` with ``passed`` and ``message``.

Checks keep the notebook's random state as it was: they draw their inputs from their own
generators and build the learner's modules inside :func:`torch.random.fork_rng`.
"""

from __future__ import annotations

import copy
import html
import json
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

PASS_MARK = "✅"
NOT_YET = "Not yet"
NOT_WRITTEN = ("is not written yet (it raises NotImplementedError): replace the "
               "`raise NotImplementedError()` line under `# YOUR CODE HERE` with your code, run "
               "that cell, then run this check again")


# ---- results and how they are shown ---------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed``, and ``message`` (what passed, or the hint)."""

    check: str
    passed: bool
    message: str

    @property
    def line(self) -> str:
        """The one line shown to the learner."""
        if self.passed:
            return f"{PASS_MARK} {self.check} passed: {self.message}"
        return f"{NOT_YET} ({self.check}): {self.message}"

    def __str__(self) -> str:
        return self.line


class NotYet(Exception):
    """Stops a check at the first problem it finds; the text is the feedback."""


def _in_kernel() -> bool:
    ipython_module = sys.modules.get("IPython")
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _show(result: CheckResult) -> None:
    if not _in_kernel():
        print(result.line)
        return
    from IPython.display import display

    colour = "#1a7f37" if result.passed else "#9a6700"
    markup = (f'<div style="border-left: 4px solid {colour}; padding: 2px 8px; margin: 2px 0">'
              f"{html.escape(result.line)}</div>")
    display({"text/plain": result.line, "text/html": markup}, raw=True)


def _run(name: str, body: Callable[[], str]) -> CheckResult:
    """Run a check body; its return is the pass message, a :class:`NotYet` the hint."""
    try:
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = CheckResult(name, True, body())
    except NotYet as not_yet:
        result = CheckResult(name, False, str(not_yet))
    except Exception as error:  # a fault in the check itself still reads as words
        result = CheckResult(name, False, f"the check could not finish ({type(error).__name__}: "
                                          f"{error}); please report this to the course authors.")
    _show(result)
    return result


# ---- calling the learner's code and reading what it returns ----------------------------------


def _name(obj) -> str:
    return f"`{getattr(obj, '__name__', type(obj).__name__)}`"


def _short(error: BaseException, limit: int = 160) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _expect_callable(fn, example: str) -> None:
    if fn is None:
        raise NotYet(f"got None instead of your function: call it as `{example}`.")
    if not callable(fn):
        raise NotYet(f"expected your function or class itself, as in `{example}`, but got "
                     f"{_article(type(fn).__name__)}. Pass it without calling it (no "
                     "parentheses).")


def _call(fn: Callable, *args, what: str, inputs: str = "", hint: str = ""):
    """Call learner code; any exception becomes feedback that names it."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise NotYet(f"{what} {NOT_WRITTEN}.") from None
    except Exception as error:
        where = f" when called with {inputs}" if inputs else ""
        extra = f" {hint}" if hint else ""
        raise NotYet(f"{what} raised {type(error).__name__}{where}: {_short(error)}.{extra}") \
            from None


def _as_array(value, what: str, expected: str) -> np.ndarray:
    """A float64 NumPy copy of a learner's tensor / array / number, or feedback in words."""
    if value is None:
        raise NotYet(f"{what} returned None: did you forget the `return` statement? "
                     f"It should return {expected}.")
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise NotYet(f"{what} returned a tensor of dtype {value.dtype}; expected {expected}.")
        array = value.detach().cpu().double().numpy() if value.is_floating_point() \
            else value.detach().cpu().numpy()
    elif isinstance(value, (np.ndarray, np.generic, int, float, list, tuple)) \
            and not isinstance(value, bool):
        try:
            array = np.asarray(value)
        except Exception as error:
            raise NotYet(f"{what} returned {_article(type(value).__name__)} that is not a numeric "
                         f"array ({_short(error)}); expected {expected}.") from None
    else:
        raise NotYet(f"{what} returned {_article(type(value).__name__)}; expected {expected}.")
    if array.dtype.kind not in "fiu":
        raise NotYet(f"{what} returned values of dtype {array.dtype}; expected {expected}.")
    return array


def _as_float_tensor_output(value, what: str, expected: str) -> np.ndarray:
    array = _as_array(value, what, expected)
    if array.dtype.kind != "f":
        raise NotYet(f"{what} returned integers (dtype {array.dtype}); expected {expected} "
                     "with float values.")
    if not np.all(np.isfinite(array)):
        raise NotYet(f"{what} returned NaN or infinite values; expected {expected}.")
    return array.astype(np.float64)


def _as_scalar(value, what: str, expected: str, n_rows: int, many_hint: str) -> float:
    array = _as_array(value, what, expected)
    if array.size == n_rows and n_rows > 1:
        raise NotYet(f"{what} returned {array.size} values, one per row. {many_hint}")
    if array.size != 1:
        raise NotYet(f"{what} returned an array of shape {list(array.shape)}; expected "
                     f"{expected}.")
    return float(array.reshape(-1)[0])


def _expect_shape(array: np.ndarray, expected: tuple[int, ...], what: str,
                  hints: dict[tuple[int, ...], str]) -> None:
    shape = tuple(array.shape)
    if shape == expected:
        return
    hint = hints.get(shape, "")
    hint = hint[:1].upper() + hint[1:]
    raise NotYet(f"{what} returned shape {list(shape)}, expected {list(expected)}."
                 + (f" {hint}" if hint else ""))


def _close(answer, reference, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    answer, reference = np.asarray(answer, np.float64), np.asarray(reference, np.float64)
    return answer.shape == reference.shape and bool(
        np.allclose(answer, reference, rtol=rtol, atol=atol))


def _match_mistake(answer, mistakes: Sequence[tuple[np.ndarray | float, str]],
                   rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Raise the hint of the first deliberately wrong reference the answer equals."""
    for wrong, hint in mistakes:
        if _close(answer, wrong, rtol, atol):
            raise NotYet(hint)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _first_difference(answer: np.ndarray, reference: np.ndarray) -> str:
    index = np.unravel_index(np.argmax(np.abs(answer - reference)), reference.shape)
    return (f"at index {list(map(int, index))} expected {_fmt(reference[index])}, "
            f"got {_fmt(answer[index])}")


# ---- exercise 1: LogLoss and AUC -------------------------------------------------------------


def _reference_logloss(y: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _logloss_mistakes(y: np.ndarray, p: np.ndarray) -> list[tuple[float, str]]:
    right = _reference_logloss(y, p)
    click_term, skip_term = y * np.log(p), (1 - y) * np.log(1 - p)
    formula = "LogLoss = -mean(y·log(p) + (1 - y)·log(1 - p))"
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
    ]


def check_logloss(fn: Callable) -> CheckResult:
    """Check ``fn(y_true, y_prob) -> float``: LogLoss (binary cross-entropy), by hand.

    ``y_true`` is a NumPy array of 0/1 labels and ``y_prob`` a NumPy array of click
    probabilities of the same length; ``fn`` returns ``-mean(y log p + (1 - y) log(1 - p))``
    as one number (a float, a NumPy scalar or a one-element tensor). Probabilities must be
    clipped to ``[eps, 1 - eps]`` first so that p = 0 or 1 gives a large but finite loss; any
    eps from 1e-15 to 1e-3 (or torch's clamp of the log at -100) is accepted.

    Caught mistakes: flipped sign, sum instead of mean, log base 10 or 2, a missing click or
    non-click term, swapped terms, dividing by the number of clicks, no clipping.
    """

    def body() -> str:
        _expect_callable(fn, "check_logloss(my_logloss)")
        what = f"your function {_name(fn)}"
        rng = np.random.default_rng(7)
        cases = [
            (np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=np.float64),
             np.array([0.9, 0.2, 0.6, 0.35, 0.45, 0.05, 0.75, 0.3])),
            (rng.integers(0, 2, 40).astype(np.float64), rng.uniform(0.02, 0.98, 40)),
        ]
        for y, p in cases:
            got = _as_scalar(_call(fn, y.copy(), p.copy(), what=what,
                                   inputs=f"{y.size} labels and probabilities"),
                             what, "one number", y.size,
                             "LogLoss averages the per-row losses into one number (np.mean).")
            if not math.isfinite(got):
                raise NotYet(f"{what} returned {got} for probabilities between 0.02 and 0.98, "
                             "where the loss is finite.")
            if not _close(got, _reference_logloss(y, p), rtol=1e-5, atol=1e-7):
                _match_mistake(got, _logloss_mistakes(y, p), rtol=1e-5, atol=1e-7)
                raise NotYet(f"for y_true={_preview(y)} and y_prob={_preview(p)} the LogLoss "
                             f"is {_fmt(_reference_logloss(y, p))}, {what} returned "
                             f"{_fmt(got)}. The arguments come in the order (y_true, y_prob).")
        _check_logloss_clipping(fn, what)
        return "matches -mean(y·log p + (1-y)·log(1-p)) and stays finite at p = 0 and p = 1."

    return _run("check_logloss", body)


def _check_logloss_clipping(fn: Callable, what: str) -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 1.0, 0.9, 0.2])
    clip_hint = ("clip the probabilities to [eps, 1 - eps] (eps = 1e-7, np.clip) before the "
                 "log: log(0) is -infinity.")
    got = _as_scalar(_call(fn, y.copy(), p.copy(), what=what,
                           inputs="probabilities that are exactly 0 and 1", hint=clip_hint),
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
                     f"{_fmt(got)}; with eps = 1e-7 the loss is "
                     f"{_fmt(_reference_logloss(y, p))}. Clip with a small eps such as 1e-7.")


def _preview(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return f"[{shown}{', ...' if values.size > limit else ''}]"


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


def check_auc(fn: Callable) -> CheckResult:
    """Check ``fn(y_true, y_score) -> float``: the area under the ROC curve, by hand.

    ``y_true`` is a NumPy array of 0/1 labels, ``y_score`` a NumPy array of scores (higher
    means more likely a click); ``fn`` returns the share of (click, non-click) pairs in which
    the click has the higher score, a tie counting as half. Pair counting, the rank-sum
    (Mann-Whitney) formula with average ranks for ties, or the trapezoid area under the ROC
    curve all pass.

    Caught mistakes: inverted ranking (1 - AUC), ties counted as 0 or 1 (or by sort order),
    no division by the number of pairs, accuracy at a 0.5 threshold instead of a ranking,
    rank-sum without subtracting n_pos(n_pos+1)/2, ranks from 0, dividing by all pairs.
    """

    def body() -> str:
        _expect_callable(fn, "check_auc(my_auc)")
        what = f"your function {_name(fn)}"
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

    return _run("check_auc", body)


def _compare_auc(fn, what: str, y: np.ndarray, s: np.ndarray,
                 mistakes: list[tuple[float, str]], fallback: str = "") -> None:
    got = _as_scalar(_call(fn, y.copy(), s.copy(), what=what,
                           inputs=f"{y.size} labels and scores"),
                     what, "one number between 0 and 1", y.size,
                     "AUC is one number for the whole set: the share of well-ranked pairs.")
    right = _pairwise_auc(y, s)
    if _close(got, right, rtol=1e-6, atol=1e-9):
        return
    _match_mistake(got, mistakes, rtol=1e-6, atol=1e-9)
    raise NotYet(fallback or f"for y_true={_preview(y)} and y_score={_preview(s)} the AUC is "
                             f"{_fmt(right)}, {what} returned {_fmt(got)}. The arguments come "
                             "in the order (y_true, y_score).")


# ---- exercise 2: FM's order-2 term in O(k n) ------------------------------------------------


def _fm_reference(e: torch.Tensor) -> np.ndarray:
    """The pairwise double sum sum_{i<j} <e_i, e_j>, in float64 (the definition)."""
    e = e.double()
    n_fields = e.shape[1]
    total = torch.zeros(e.shape[0], dtype=torch.float64)
    for i in range(n_fields):
        for j in range(i + 1, n_fields):
            total += (e[:, i] * e[:, j]).sum(dim=1)
    return total.numpy()


def _fm_mistakes(e: torch.Tensor) -> list[tuple[np.ndarray, str]]:
    e = e.double()
    right = torch.as_tensor(_fm_reference(e))
    square_of_sum = e.sum(dim=1).pow(2)
    sum_of_squares = e.pow(2).sum(dim=1)
    k = e.shape[2]
    return [(v.numpy(), hint) for v, hint in [
        (2 * right, "your result is twice the right one: the 1/2 is missing. The square of the "
                    "sum counts every pair (i, j) twice, once as (i, j) and once as (j, i)."),
        (torch.zeros_like(right), "your two terms are equal, so they cancel: square AFTER "
                                  "summing over the fields for the first term, (sum_i e_i)^2, "
                                  "and BEFORE summing for the second, sum_i e_i^2."),
        (0.5 * (e.sum(dim=2).pow(2) - e.pow(2).sum(dim=2)).sum(dim=1),
         "you sum over the wrong axis: sum over the FIELDS (dim 1) inside the square, then "
         "sum over the k latent dimensions (dim 2) at the end."),
        (0.5 * square_of_sum.sum(dim=1), "the sum of squares is not subtracted: without it "
                                         "the result also counts each field with itself "
                                         "(i = j)."),
        (right + sum_of_squares.sum(dim=1), "your sum includes the i = j terms <e_i, e_i>; FM "
                                            "only pairs different fields, i < j."),
        (-right, "the sign is flipped: it is (square of the sum) MINUS (sum of the squares)."),
        (right / k, "you average over the k latent dimensions; sum over them instead."),
        (0.5 * (square_of_sum - sum_of_squares).mean(dim=1),
         "you average over the k latent dimensions; sum over them instead."),
    ]]


class _OpCounter(TorchFunctionMode):
    """Counts torch calls and the largest tensor they produce, to tell O(kn) from O(kn^2)."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.calls += 1
        for item in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(item, torch.Tensor):
                self.largest = max(self.largest, item.numel())
        return out


def _count_ops(fn: Callable, embeddings: torch.Tensor, what: str) -> _OpCounter:
    counter = _OpCounter()
    with counter:
        _call(fn, embeddings, what=what)
    return counter


def _check_linear_work(fn: Callable, what: str) -> None:
    """Fail an implementation whose work grows with fields^2 (all pairs built or looped)."""
    batch, k = 4, 3
    gen = torch.Generator().manual_seed(5)
    small = _count_ops(fn, torch.randn(batch, 8, k, generator=gen), what)
    large = _count_ops(fn, torch.randn(batch, 32, k, generator=gen), what)
    pair_loop = large.calls > 8 * max(small.calls, 1)
    pair_tensor = large.largest > 4 * batch * 32 * k
    if pair_loop or pair_tensor:
        how = "loops over the field pairs" if pair_loop else "builds a tensor of all field pairs"
        raise NotYet(f"{what} gives the right numbers, but it {how}, so its work grows with "
                     "fields^2: that is the O(k n^2) double sum. This exercise asks for the "
                     "O(k n) form 0.5 * sum_k[(sum_i e_ik)^2 - sum_i e_ik^2].")


def check_fm_second_order(fn: Callable) -> CheckResult:
    """Check ``fn(embeddings) -> [batch]``: FM's order-2 term in O(k n) (paper, Equation 2).

    ``embeddings`` is a float32 tensor ``[batch, fields, k]`` (the field vectors ``V_i x_i``);
    ``fn`` returns ``sum_{i<j} <e_i, e_j>`` for every row, shape ``[batch]`` (a tensor or
    NumPy array). Any operation order passes as long as the work is linear in the number of
    fields: an implementation that loops over or materialises all field pairs gives the right
    numbers but is reported as the O(k n^2) form the exercise replaces.

    Caught mistakes: the missing 1/2, squaring before summing (the terms cancel), summing
    over the wrong axis, sum of squares not subtracted, i = j pairs included, flipped sign,
    averaging over k, a wrong output shape ([batch, k], [batch, 1], a scalar).
    """

    def body() -> str:
        _expect_callable(fn, "check_fm_second_order(fm_order2_fast)")
        what = f"your function {_name(fn)}"
        gen = torch.Generator().manual_seed(3)
        for shape in [(6, 5, 4), (3, 9, 2), (2, 2, 3)]:
            e = torch.randn(*shape, generator=gen)
            batch, _, k = shape
            got = _as_float_tensor_output(
                _call(fn, e.clone(), what=what, inputs=f"a tensor of shape {list(shape)}"),
                what, "a tensor of shape [batch]")
            _expect_shape(got, (batch,), what, {
                (batch, k): "sum over the k latent dimensions at the end: one number per row.",
                (batch, 1): "return shape [batch]: drop the last dimension (.squeeze(1) or "
                            "sum without keepdim).",
                (): "you summed over the batch too; keep one value per row.",
                (1,): "you summed over the batch too; keep one value per row.",
                (k,): "you summed over the batch; sum over the fields and k, per row.",
            })
            right = _fm_reference(e)
            scale = max(1.0, float(np.abs(right).max()))
            if not _close(got, right, rtol=1e-4, atol=1e-5 * scale):
                _match_mistake(got, _fm_mistakes(e), rtol=1e-4, atol=1e-5 * scale)
                raise NotYet(f"for embeddings of shape {list(shape)} your result differs from "
                             f"the pairwise double sum: {_first_difference(got, right)}.")
        _check_linear_work(fn, what)
        return "equals the pairwise sum over i < j of <e_i, e_j>, with work linear in fields."

    return _run("check_fm_second_order", body)


# ---- exercise 3: embedding lookup with per-field offsets ------------------------------------


def _offsets(field_dims: Sequence[int]) -> torch.Tensor:
    dims = torch.as_tensor(list(field_dims), dtype=torch.long)
    return torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(dims, 0)[:-1]])


def _lookup_case(field_dims: Sequence[int], batch: int, k: int, seed: int):
    """ids [batch, fields] (field-local), values (last field numeric), a table [sum, k]."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randint(0, d, (batch,), generator=gen) for d in field_dims], dim=1)
    values = torch.ones(batch, len(field_dims))
    values[:, -1] = torch.where(ids[:, -1] == 0, torch.randn(batch, generator=gen) * 1.5, 1.0)
    table = torch.randn(sum(field_dims), k, generator=gen)
    return ids, values, table


def check_embedding_lookup(fn: Callable) -> CheckResult:
    """Check ``fn(ids, values, table, field_dims) -> [batch, fields, k]``: the embedding layer.

    ``ids`` is a long tensor ``[batch, fields]`` of field-local ids (0 .. field_dims[f] - 1),
    ``values`` a float tensor ``[batch, fields]`` (1 for a category, the number for a numeric
    field), ``table`` one float tensor ``[sum(field_dims), k]`` shared by all fields, and
    ``field_dims`` a list of ints. Field f's rows start at ``offset_f = field_dims[0] + ... +
    field_dims[f-1]``; the answer is ``table[ids + offsets] * values[..., None]``. Indexing,
    ``torch.nn.functional.embedding``, a one-hot matrix product and loops all pass.

    Caught mistakes: offsets not added, offsets shifted by one field (cumulative sum that
    includes the field itself), values not multiplied in, a flattened ``[batch, fields*k]`` or
    field-summed ``[batch, k]`` result, an out-of-range index.
    """

    def body() -> str:
        _expect_callable(fn, "check_embedding_lookup(embed)")
        what = f"your function {_name(fn)}"
        index_hint = ("Field f's rows start at field_dims[0] + ... + field_dims[f-1]: the "
                      "offsets are [0, d0, d0+d1, ...], so the last field never runs past the "
                      "table's sum(field_dims) rows.")
        for field_dims, batch, k, seed in [([4, 6, 3, 2], 7, 3, 0), ([5, 2, 8, 3, 2], 4, 2, 1)]:
            ids, values, table = _lookup_case(field_dims, batch, k, seed)
            got = _as_float_tensor_output(
                _call(fn, ids.clone(), values.clone(), table.clone(), list(field_dims),
                      what=what, inputs=f"field_dims={field_dims}", hint=index_hint),
                what, "a tensor [batch, fields, k]")
            n_fields = len(field_dims)
            _expect_shape(got, (batch, n_fields, k), what, {
                (batch, n_fields * k): "keep one vector per field: [batch, fields, k], not "
                                       "flattened.",
                (batch, k): "keep one vector per field; do not sum or average over the fields.",
                (n_fields, batch, k): "the batch comes first: [batch, fields, k].",
                (batch, n_fields): "each field's id selects a whole ROW of the table (k "
                                   "numbers).",
            })
            offsets = _offsets(field_dims)
            right = (table[ids + offsets] * values.unsqueeze(-1)).double().numpy()
            if _close(got, right):
                continue
            shifted = (ids + torch.cumsum(torch.as_tensor(field_dims), 0)).clamp(
                max=sum(field_dims) - 1)
            _match_mistake(got, [
                ((table[ids] * values.unsqueeze(-1)).double().numpy(),
                 "the offsets are not added: every field then reads the first rows of the "
                 "table. Add field f's offset (the sizes of fields 0..f-1) to its ids."),
                ((table[shifted] * values.unsqueeze(-1)).double().numpy(),
                 "your offsets are shifted by one field: field 0 starts at row 0, field 1 at "
                 "row field_dims[0] (exclusive cumulative sum)."),
                (table[ids + offsets].double().numpy(),
                 "multiply each field's vector by its value x_i (values[..., None]): numeric "
                 "fields carry a number, not 1."),
            ])
            raise NotYet(f"for field_dims={field_dims} your vectors differ from "
                         f"table[ids + offsets] * values: {_first_difference(got, right)}.")
        return "reads row offset_f + id of the one shared table and scales it by the value."

    return _run("check_embedding_lookup", body)


# ---- exercise 4: the deep tower ---------------------------------------------------------------


def _build(factory: Callable, args: tuple, what: str) -> nn.Module:
    module = _call(factory, *args, what=what, inputs=f"arguments {args}")
    if module is None:
        raise NotYet(f"{what} returned None: did you forget the `return` statement? It must "
                     "return a torch.nn.Module.")
    if not isinstance(module, nn.Module):
        raise NotYet(f"{what} gave {_article(type(module).__name__)}; it must build a "
                     "torch.nn.Module (a class that inherits from nn.Module).")
    return module


def _linear_layers(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _tower_reference(layers: list[nn.Linear], x: torch.Tensor, hidden_act, output_act=None,
                     flatten_fields_first: bool = True) -> np.ndarray:
    h = x.flatten(1) if flatten_fields_first else x.transpose(1, 2).flatten(1)
    for layer in layers[:-1]:
        h = layer(h)
        h = hidden_act(h) if hidden_act is not None else h
    out = layers[-1](h).squeeze(-1)
    out = output_act(out) if output_act is not None else out
    return out.double().detach().numpy()


def _check_tower_layout(tower: nn.Module, num_fields: int, embed_dim: int,
                        hidden: Sequence[int], what: str) -> list[nn.Linear]:
    layers = _linear_layers(tower)
    if not layers:
        raise NotYet(f"{what} has no nn.Linear layers: build the tower from torch.nn.Linear "
                     "layers (hidden layers with ReLU, then one output unit).")
    sizes = [(layer.in_features, layer.out_features) for layer in layers]
    widths = [num_fields * embed_dim, *hidden, 1]
    expected = list(zip(widths[:-1], widths[1:]))
    if sizes == expected:
        missing_bias = [i for i, layer in enumerate(layers) if layer.bias is None]
        if missing_bias:
            raise NotYet(f"linear layer {missing_bias[0]} has no bias (bias=False): each layer "
                         "computes W·a + b (paper, Equation 4); keep the default bias=True.")
        return layers
    if sizes and sizes[0][0] == embed_dim:
        raise NotYet(f"the first layer takes {embed_dim} inputs, one vector's worth: "
                     "concatenate the field vectors (flatten to [batch, fields*k] = "
                     f"{num_fields * embed_dim} inputs) instead of summing or averaging them.")
    if sizes == expected[:-1]:
        raise NotYet(f"the output layer is missing: after the hidden layers add "
                     f"nn.Linear({widths[-2]}, 1), which gives the logit y_DNN.")
    if sizes and sizes[-1][1] != 1:
        raise NotYet(f"the last linear layer has {sizes[-1][1]} outputs; the tower ends in ONE "
                     "unit, the logit y_DNN.")
    raise NotYet(f"for num_fields={num_fields}, embed_dim={embed_dim}, hidden={list(hidden)} the "
                 f"linear layers should be {expected} (in, out), found {sizes}.")


def _check_tower_dropout_rates(tower: nn.Module, keep_prob: float) -> None:
    drops = [m for m in tower.modules() if isinstance(m, nn.Dropout)]
    wanted = 1.0 - keep_prob
    for drop in drops:
        if math.isclose(drop.p, wanted, abs_tol=1e-9):
            continue
        if math.isclose(drop.p, keep_prob, abs_tol=1e-9):
            raise NotYet(f"dropout is given as the keep probability: nn.Dropout(p) takes the "
                         f"probability of DROPPING a unit, so keep_prob={keep_prob} means "
                         f"p = 1 - keep_prob = {wanted:g}.")
        raise NotYet(f"found nn.Dropout(p={drop.p:g}); with keep_prob={keep_prob} it should be "
                     f"p = 1 - keep_prob = {wanted:g}.")


def _check_tower_dropout_applied(tower: nn.Module, keep_prob: float, x: torch.Tensor,
                                 what: str) -> None:
    wanted = 1.0 - keep_prob
    if keep_prob < 1.0:
        tower.train()
        first = _call(tower, x, what=what)
        second = _call(tower, x, what=what)
        if torch.equal(torch.as_tensor(first), torch.as_tensor(second)):
            raise NotYet(f"with keep_prob={keep_prob} two forward passes in training mode give "
                         "the same output, so no dropout is applied: add "
                         f"nn.Dropout(p={wanted:g}) after each hidden activation and use it in "
                         "forward.")


def check_mlp(build: Callable) -> CheckResult:
    """Check ``build(num_fields, embed_dim, hidden, keep_prob) -> nn.Module``: the deep tower.

    ``build`` is usually the learner's ``nn.Module`` class. The module's ``forward`` takes the
    field embeddings ``[batch, fields, k]`` and returns one logit per row, ``[batch]``: flatten
    to ``[batch, fields*k]``, then for each width in ``hidden`` an ``nn.Linear`` with bias, a
    ReLU and dropout, then ``nn.Linear(hidden[-1], 1)`` with no activation (paper, Equations
    3-4). ``keep_prob`` is the paper's convention (probability of KEEPING a unit); torch's
    ``nn.Dropout`` takes ``1 - keep_prob``. The check rebuilds the tower's output from its own
    ``nn.Linear`` layers, so ``nn.Sequential``, a layer list or hand-written forward all pass.

    Caught mistakes: dropout given as keep probability, dropout never applied, a forgotten
    bias, summing the field vectors instead of concatenating, no output layer or a wide one,
    no activation between layers, tanh instead of ReLU, an activation or sigmoid on the output,
    a ``[batch, 1]`` output.
    """

    def body() -> str:
        _expect_callable(build, "check_mlp(DeepTower)")
        what = f"your tower {_name(build)}"
        gen = torch.Generator().manual_seed(4)
        for num_fields, embed_dim, hidden, keep_prob in [(3, 4, (16, 8), 0.8), (5, 2, (6,), 1.0),
                                                         (2, 3, (5, 7, 4), 0.7)]:
            tower = _build(build, (num_fields, embed_dim, hidden, keep_prob), what)
            layers = _check_tower_layout(tower, num_fields, embed_dim, hidden, what)
            x = torch.randn(6, num_fields, embed_dim, generator=gen)
            _check_tower_dropout_rates(tower, keep_prob)
            tower.eval()
            with torch.no_grad():
                got = _as_float_tensor_output(_call(tower, x, what=what), what,
                                              "a tensor of shape [batch]")
                _expect_shape(got, (6,), what, {
                    (6, 1): "return shape [batch]: squeeze the last dimension "
                            "(out.squeeze(-1)).",
                })
                relu = torch.relu
                right = any(_close(got, _tower_reference(layers, x, relu,
                                                         flatten_fields_first=f))
                            for f in (True, False))
            if right:
                _check_tower_dropout_applied(tower, keep_prob, torch.randn(
                    64, num_fields, embed_dim, generator=gen), what)
                continue
            with torch.no_grad():
                _match_mistake(got, [
                    (_tower_reference(layers, x, relu, torch.sigmoid),
                     "the output goes through a sigmoid: return the logit. The sigmoid is "
                     "applied once, by the loss (BCE-with-logits) or predict_proba; applying it "
                     "here too squashes it twice."),
                    (_tower_reference(layers, x, relu, relu),
                     "there is a ReLU after the output layer: the last layer gives a logit, "
                     "which can be negative; no activation after it."),
                    (_tower_reference(layers, x, None),
                     "there is no activation between the layers, so the tower is one linear "
                     "map: put a ReLU after each hidden layer."),
                    (_tower_reference(layers, x, torch.tanh),
                     "use ReLU after each hidden layer (you used tanh; the paper found ReLU "
                     "better)."),
                ])
                raise NotYet(f"{what}'s output differs from Linear -> ReLU (-> Dropout) ... -> "
                             "Linear(…, 1) applied to the flattened embeddings, in the order "
                             "the layers were created.")
        return "flatten, Linear+ReLU+Dropout(1 - keep_prob) per hidden layer, one output logit."

    return _run("check_mlp", body)


# ---- exercise 5: DeepFM with one shared embedding ---------------------------------------------


CHECK_FIELD_DIMS = (5, 3, 4, 2)


def _deepfm_inputs(field_dims: Sequence[int], batch: int = 8):
    ids, values, _ = _lookup_case(field_dims, batch, 1, seed=9)
    return ids, values


def _embedding_tables(model: nn.Module, total: int) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.dim() == 2 and p.shape[0] == total
            and p.shape[1] > 1]


def _forward(model: nn.Module, ids, values, what: str) -> torch.Tensor:
    out = _call(model, ids, values, what=what, inputs="ids and values of shape [batch, fields]")
    if not isinstance(out, torch.Tensor):
        _as_array(out, what, "a tensor of logits, shape [batch]")
        raise NotYet(f"{what} returned {_article(type(out).__name__)}; forward must return a torch "
                     "tensor of logits, shape [batch], so gradients can flow.")
    return out


def _deepfm_model(model, field_dims) -> tuple[nn.Module, tuple[int, ...], str]:
    if isinstance(model, nn.Module):
        dims = field_dims if field_dims is not None else getattr(model, "field_dims", None)
        if dims is None:
            raise NotYet("pass the field sizes too: check_deepfm(model, field_dims=...), or "
                         "store them on the model as self.field_dims.")
        return copy.deepcopy(model), tuple(int(d) for d in dims), "your model"
    _expect_callable(model, "check_deepfm(MyDeepFM)")
    dims = tuple(int(d) for d in (field_dims or CHECK_FIELD_DIMS))
    what = f"your model {_name(model)}"
    return _build(model, (list(dims),), what), dims, what


def _check_logits(model: nn.Module, ids, values, what: str) -> None:
    """Large random weights push a logit far outside [0, 1]; a probability stays inside."""
    probe = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(13)
    with torch.no_grad():
        for param in probe.parameters():
            param.copy_(torch.randn(param.shape, generator=gen))
        out = _forward(probe, ids, values, what)
    if bool(((out >= 0) & (out <= 1)).all()):
        raise NotYet(f"{what} returns probabilities (every output stays in [0, 1] even with "
                     "large random weights): return the logit y_FM + y_DNN. The sigmoid is "
                     "applied once, by the loss or predict_proba; inside the model it would be "
                     "applied twice.")


def _table_gradient(model: nn.Module, table_index: int, ids, values, what: str,
                    keep_only_table: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and gradient on the shared table; optionally with every other weight zeroed."""
    params = list(model.parameters())
    with torch.no_grad():
        if keep_only_table:
            for i, param in enumerate(params):
                if i != table_index:
                    param.zero_()
    model.zero_grad(set_to_none=True)
    out = _forward(model, ids, values, what)
    if not out.requires_grad:
        raise NotYet(f"{what}'s output does not depend on any trainable weight (is forward "
                     "wrapped in torch.no_grad() or detached?).")
    out.sum().backward()
    grad = params[table_index].grad
    return out.detach().double(), torch.zeros_like(params[table_index]) if grad is None \
        else grad.detach().clone()


def _check_fm_term(fm_only: np.ndarray, table: torch.Tensor, field_dims, ids, values) -> None:
    e = table.detach()[ids + _offsets(field_dims)] * values.unsqueeze(-1)
    right = _fm_reference(e)
    if _close(fm_only, right, rtol=1e-4, atol=1e-5):
        return
    _match_mistake(fm_only, [
        (2 * right, "the FM part's order-2 term is twice the right one: the 1/2 is missing."),
        (_fm_reference(table.detach()[ids] * values.unsqueeze(-1)),
         "the shared table is read without per-field offsets: add each field's offset to its "
         "ids (or use deepfm_lite.layers.FeaturesEmbedding)."),
        (_fm_reference(table.detach()[ids + _offsets(field_dims)]),
         "the field vectors are not multiplied by their values x_i."),
    ])
    raise NotYet("with the deep part and the order-1 weights set to zero your output should be "
                 "exactly FM's order-2 term sum_{i<j} <V_i, V_j> x_i x_j over the shared table "
                 "(rows offset_f + id); it is not.")


def check_deepfm(model, field_dims: Sequence[int] | None = None) -> CheckResult:
    """Check a DeepFM module: one shared embedding, gradient from both parts, logits out.

    ``model`` is either the learner's class (or any callable) ``MyDeepFM(field_dims) ->
    nn.Module``, built here with small ``field_dims`` (other constructor arguments keep their
    defaults), or an ``nn.Module`` instance; then ``field_dims`` is taken from the argument or
    from ``model.field_dims``. Its ``forward(ids, values)`` takes ``[batch, fields]`` tensors
    and returns logits ``[batch]`` (paper, Equation 1 without the sigmoid).

    What is checked, on a copy (the learner's weights are not touched): exactly one embedding
    table with ``sum(field_dims)`` rows (more than one means the FM and deep parts do not share
    it, as in FM&DNN); the output is a logit, not a probability; with every weight except that
    table set to zero the output is FM's order-2 term over the table (so the FM part reads it,
    with offsets, values and the 1/2); and the FM part and the deep part both send gradient to
    the table.
    """

    def body() -> str:
        built, dims, what = _deepfm_model(model, field_dims)
        built.eval()  # dropout off: the comparisons below need a deterministic forward
        ids, values = _deepfm_inputs(dims)
        total = sum(dims)
        out = _forward(built, ids, values, what)
        shape = tuple(out.shape)
        if shape != (ids.shape[0],):
            hint = " Squeeze the deep part's [batch, 1] output." if shape == (
                ids.shape[0], 1) else ""
            raise NotYet(f"{what} returned shape {list(shape)} for a batch of {ids.shape[0]}; "
                         f"expected [batch] = [{ids.shape[0]}].{hint}")
        tables = _embedding_tables(built, total)
        if not tables:
            raise NotYet(f"{what} has no embedding table with sum(field_dims) = {total} rows: "
                         "use ONE table for all fields (FeaturesEmbedding(field_dims, k), or "
                         "nn.Embedding(sum(field_dims), k) with per-field offsets).")
        if len(tables) > 1:
            raise NotYet(f"{what} has {len(tables)} embedding tables of {total} rows: the FM "
                         "part and the deep part each use their own. DeepFM's point is ONE "
                         "table read by both (separate tables make it FM&DNN).")
        _check_logits(built, ids, values, what)
        table_index = next(i for i, p in enumerate(built.parameters()) if p is tables[0])
        with torch.no_grad():
            tables[0].copy_(torch.randn(tables[0].shape, generator=torch.Generator()
                                        .manual_seed(17)) * 0.5)
        _, grad_full = _table_gradient(copy.deepcopy(built), table_index, ids, values, what,
                                       keep_only_table=False)
        fm_only, grad_fm = _table_gradient(copy.deepcopy(built), table_index, ids, values, what,
                                           keep_only_table=True)
        if float(grad_fm.abs().max()) == 0.0:
            raise NotYet("the FM part sends no gradient to the shared table: its order-2 term "
                         "sum_{i<j} <V_i, V_j> x_i x_j must be computed from the same embeddings "
                         "the deep part reads (not detached, not left out).")
        _check_fm_term(fm_only.numpy(), tables[0], dims, ids, values)
        deep_share = float((grad_full - grad_fm).abs().max())
        if deep_share <= 1e-7 * max(float(grad_full.abs().max()), 1e-12):
            raise NotYet("the deep part sends no gradient to the shared table: feed the MLP the "
                         "same field embeddings as the FM part (flattened, not detached).")
        k = tables[0].shape[1]
        return (f"one shared table [{total} x {k}], read by the FM part (order-2 term right) and "
                "the deep part, both sending it gradient; the output is a logit.")

    return _run("check_deepfm", body)


# ---- exercise 6: IPNN's inner-product layer ---------------------------------------------------


def _inner_product_reference(e: torch.Tensor) -> np.ndarray:
    """<e_i, e_j> for i < j, row-major: i = 0 with j = 1..f-1, then i = 1, ... (float64)."""
    e = e.double()
    n_fields = e.shape[1]
    columns = [(e[:, i] * e[:, j]).sum(dim=1) for i in range(n_fields)
               for j in range(i + 1, n_fields)]
    return torch.stack(columns, dim=1).numpy()


def check_inner_product(fn: Callable) -> CheckResult:
    """Check ``fn(embeddings) -> [batch, fields*(fields-1)/2]``: IPNN's inner-product layer.

    ``embeddings`` is a float32 tensor ``[batch, fields, k]``; ``fn`` returns ``<e_i, e_j>``
    for every field pair ``i < j``, one column per pair, in row-major order: (0, 1), (0, 2),
    ..., (0, f-1), (1, 2), ... (the order of ``torch.triu_indices(f, f, 1)``). A tensor or
    NumPy array; loops, index pairs, ``bmm`` with a triangular mask all pass.

    Caught mistakes: pairs in another order, i = j pairs included, the full [f, f] matrix,
    products not summed over k, summing all pairs into one number (that is FM's term), cosine
    similarity instead of the inner product, the 1/2 of FM's formula carried over.
    """

    def body() -> str:
        _expect_callable(fn, "check_inner_product(inner_products)")
        what = f"your function {_name(fn)}"
        gen = torch.Generator().manual_seed(21)
        for batch, n_fields, k in [(3, 5, 4), (2, 7, 3), (4, 2, 2)]:
            e = torch.randn(batch, n_fields, k, generator=gen)
            pairs = n_fields * (n_fields - 1) // 2
            got = _as_float_tensor_output(
                _call(fn, e.clone(), what=what, inputs=f"a tensor of shape {[batch, n_fields, k]}"),
                what, "a tensor [batch, fields*(fields-1)/2]")
            _expect_shape(got, (batch, pairs), what, {
                (batch, n_fields * (n_fields + 1) // 2): "that includes the i = j pairs: keep "
                                                         "only i < j.",
                (batch, n_fields, n_fields): "that is the full [fields, fields] matrix: keep "
                                             "the pairs i < j, one column each, row-major.",
                (batch, n_fields * n_fields): "that is the full [fields, fields] matrix "
                                              "flattened: keep the pairs i < j only.",
                (batch, pairs, k): "sum the element-wise products over k: an inner product is "
                                   "one number per pair.",
                (batch,): "that is one number per row (FM sums the pairs); IPNN keeps one "
                          "column per pair.",
                (batch, 1): "one column per pair, not their sum.",
            })
            right = _inner_product_reference(e)
            if _close(got, right):
                continue
            norms = e.double().norm(dim=2)
            cosine = right / _inner_product_reference(norms.unsqueeze(-1))
            _match_mistake(got, [
                (cosine, "that is the cosine similarity: do not divide by the vector lengths."),
                (0.5 * right, "no 1/2 here: the 1/2 in FM's fast form undoes the double count "
                              "of the square of a sum; a plain inner product has none."),
                (-right, "the sign is flipped."),
            ])
            if pairs > 1 and _close(np.sort(got, axis=1), np.sort(right, axis=1)):
                raise NotYet("the values are right but the columns are in another order: "
                             "row-major, i = 0 with j = 1..f-1 first, then i = 1 with "
                             "j = 2..f-1, and so on (torch.triu_indices(f, f, offset=1)).")
            raise NotYet(f"for embeddings of shape {[batch, n_fields, k]} your products differ "
                         f"from <e_i, e_j>: {_first_difference(got, right)}.")
        return "one column <e_i, e_j> per field pair i < j, in row-major order."

    return _run("check_inner_product", body)


# ---- exercise 7: a small ablation -------------------------------------------------------------


RESULT_COLUMNS = ("model", "label", "params", "seed", "auc", "logloss")
TRAINING_COLUMNS = ("epochs", "lr", "batch_size", "weight_decay")


def _same_value(a, b) -> bool:
    numbers = (int, float, np.integer, np.floating)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _check_sweep_table(results, x: str, metric: str) -> None:
    import pandas as pd

    if results is None:
        raise NotYet("results is None: run the sweep cell above (it must assign the table "
                     "that run_experiments returns to `results`).")
    if not isinstance(results, pd.DataFrame):
        raise NotYet(f"expected the DataFrame that run_experiments returns, got "
                     f"{_article(type(results).__name__)}.")
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise NotYet(f"results lack the column(s) {missing}: pass the table run_experiments "
                     "returns, unchanged.")
    if x not in results.columns:
        raise NotYet(f"results have no column {x!r}: every configuration must set {x!r} "
                     f"(the columns are {', '.join(map(str, results.columns))}).")
    if metric not in ("auc", "logloss"):
        raise NotYet(f"metric must be 'auc' or 'logloss', got {metric!r}.")
    if results.empty or not np.all(np.isfinite(results[metric].to_numpy(dtype=float))):
        raise NotYet(f"results hold no finite {metric} values; did the runs train?")


def _check_one_change(results, x: str) -> None:
    """An ablation changes one setting: same model, same everything else, same seeds."""
    models = results["model"].unique()
    if len(models) != 1:
        raise NotYet(f"results hold several models ({', '.join(map(str, models))}): sweep ONE "
                     f"model over {x} so that only {x} changes.")
    values = list(dict.fromkeys(results[x].tolist()))
    if len(values) < 3:
        raise NotYet(f"sweep at least three values of {x} to see a trend; found {values}.")
    seeds = {value: frozenset(results.loc[results[x] == value, "seed"]) for value in values}
    first = seeds[values[0]]
    if any(s != first for s in seeds.values()):
        raise NotYet(f"each value of {x} must run with the same seeds, so the runs differ only "
                     f"in {x}; found {({v: sorted(s) for v, s in seeds.items()})}.")
    if len(first) < 2:
        raise NotYet(f"run each value of {x} with at least 2 seeds (3 is better): one run per "
                     "setting cannot show how much results move between runs.")
    reference = None
    for _, row in results.iterrows():
        others = {k: v for k, v in json.loads(row["params"]).items() if k != x}
        others.update({k: row[k] for k in TRAINING_COLUMNS if k in results.columns and k != x})
        if reference is None:
            reference = others
            continue
        changed = sorted(k for k in set(reference) | set(others)
                         if not _same_value(reference.get(k), others.get(k)))
        if changed:
            raise NotYet(f"your configurations differ in more than {x}: {', '.join(changed)} "
                         "also change. An ablation changes one setting at a time, or the plot "
                         "cannot say which change made the difference.")


def _sweep_summary(results, x: str, metric: str):
    stats = results.groupby(x, sort=False)[metric].agg(["mean", "min", "max"])
    higher_is_better = metric == "auc"
    ranked = stats.sort_values("mean", ascending=not higher_is_better)
    return stats, ranked.index[0], ranked.index[1], higher_is_better


def _check_reading(results, x: str, metric: str, best, bands_overlap) -> None:
    stats, top, runner_up, higher_is_better = _sweep_summary(results, x, metric)
    if best is None or bands_overlap is None:
        raise NotYet(f"the sweep itself is sound; now read the plot: set the best value of {x} "
                     "and whether its band overlaps the runner-up's (True or False).")
    values = list(stats.index)
    if not any(_same_value(best, v) for v in values):
        flipped = isinstance(best, (int, float)) and any(_same_value(1 - best, v)
                                                         for v in values)
        if flipped and x == "dropout":
            raise NotYet(f"{best} is not one of the swept {x} values {values}: it looks like a "
                         "keep probability. The dropout column holds torch's DROP probability, "
                         "1 - keep_prob.")
        raise NotYet(f"{best!r} is not one of the swept values of {x}: {values}.")
    if not _same_value(best, top):
        single = results.loc[results[metric].idxmax() if higher_is_better
                             else results[metric].idxmin(), x]
        direction = "highest" if higher_is_better else "lowest"
        if _same_value(best, single):
            raise NotYet(f"{x} = {best} has the single best run, but the line is the MEAN "
                         f"over seeds: pick the value where the line is {direction}.")
        if not higher_is_better and _same_value(best, stats["mean"].idxmax()):
            raise NotYet("for LogLoss lower is better: you picked the highest point.")
        raise NotYet(f"{x} = {best} is not where the mean {metric} (the line) is {direction}; "
                     "look again, one seed's dot is not the mean.")
    if not isinstance(bands_overlap, (bool, np.bool_)):
        raise NotYet(f"bands_overlap must be True or False, got {bands_overlap!r}.")
    overlap = bool(stats.loc[top, "min"] <= stats.loc[runner_up, "max"]
                   and stats.loc[runner_up, "min"] <= stats.loc[top, "max"])
    if bool(bands_overlap) != overlap:
        truth = "do overlap" if overlap else "do not overlap"
        raise NotYet(f"compare the shaded bands (min to max over seeds) of {x} = {top} and the "
                     f"runner-up, {x} = {runner_up}: they {truth}. Overlapping bands mean the "
                     "ranking of the two could flip with other seeds.")


def check_ablation(results, x: str = "dropout", best=None, bands_overlap=None,
                   metric: str = "auc") -> CheckResult:
    """Check a one-setting sweep from ``run_experiments`` and the learner's reading of its plot.

    ``results`` is the DataFrame :func:`deepfm_lite.experiments.run_experiments` returns, for
    configurations that differ only in the column ``x`` (e.g. ``"dropout"``). It must hold one
    model, at least three values of ``x``, the same seeds (at least two) for every value, and
    no other parameter or training setting that changes between configurations. ``best`` is
    the learner's reading of the plot: the value of ``x`` with the best mean ``metric`` (highest
    AUC, or lowest LogLoss); ``bands_overlap`` is True when the min-to-max bands over seeds of
    the best value and of the runner-up overlap (as ``plot_sweep`` draws them).

    Caught mistakes: no results yet (None), a table that is not the runner's, several models
    mixed, too few values or seeds, seeds that differ between values, a second setting changed
    along with ``x``, the best read from a single run instead of the mean, a keep probability
    given where the table holds torch's dropout, "lower is better" forgotten for LogLoss, a
    wrong reading of the bands.
    """

    def body() -> str:
        _check_sweep_table(results, x, metric)
        _check_one_change(results, x)
        _check_reading(results, x, metric, best, bands_overlap)
        n_values, n_seeds = results[x].nunique(), results["seed"].nunique()
        return (f"a fair sweep of {x} ({n_values} values x {n_seeds} seeds, nothing else "
                "changed), and both readings (best value, overlap of the bands) match it.")

    return _run("check_ablation", body)
