"""Exercise 02: FM's order-2 term in O(k n) (the paper's Equation 2, second part, rewritten)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from .common import (
    CheckResult,
    Forbidden,
    NotYet,
    as_tensor_output,
    call_learner,
    close,
    expect_callable,
    expect_shape,
    first_difference,
    match_mistake,
    name_of,
    run_check,
)

PACKAGE_FM = (
    Forbidden("deepfm_lite.layers.fm_second_order", "deepfm_lite.layers.fm_second_order",
              "that is the package's answer to this exercise; write the O(k n) form yourself "
              "(exercise 05 then uses the package's version)."),
    Forbidden("deepfm_lite.layers.fm_second_order_pairwise",
              "deepfm_lite.layers.fm_second_order_pairwise",
              "that is the O(k n^2) double sum this exercise replaces; write the O(k n) form "
              "0.5 * sum_k[(sum_i e_ik)^2 - sum_i e_ik^2]."),
)


def pairwise_reference(e: torch.Tensor) -> np.ndarray:
    """The pairwise double sum sum_{i<j} <e_i, e_j>, in float64 (the definition)."""
    e = e.double()
    n_fields = e.shape[1]
    total = torch.zeros(e.shape[0], dtype=torch.float64)
    for i in range(n_fields):
        for j in range(i + 1, n_fields):
            total += (e[:, i] * e[:, j]).sum(dim=1)
    return total.numpy()


# The usual mistakes, one sentence each. A wrong answer is matched against every combination of
# them (the terms, how they are combined, the 1/2, the reduction over k), and the hint names each
# mistake of the first combination it equals, so two mistakes at once are both named.
HALF_MISSING = ("the 1/2 is missing: the square of the sum counts every pair (i, j) twice, once "
                "as (i, j) and once as (j, i).")
HALF_ON_FIRST = ("the 1/2 multiplies only the square of the sum: it halves the whole difference, "
                 "0.5 * (square_of_sum - sum_of_squares).")
SUMMED_BEFORE_SQUARING = (
    "you summed over the fields AND the k latent dimensions before squaring: (sum_i sum_k "
    "e_ik)^2 also multiplies different latent dimensions with each other (e_ik * e_jl with "
    "k != l), which FM's inner products never do. Sum over the fields only (dim 1), square each "
    "of the k sums, then sum over k at the end.")
WRONG_AXIS = ("you sum over the wrong axis: sum over the FIELDS (dim 1) inside the square, then "
              "sum over the k latent dimensions (dim 2) at the end.")
MEAN_INSIDE = ("you average over the fields inside the square: square the SUM over the fields, "
               "(sum_i e_ik)^2 (.sum(dim=1), not .mean(dim=1)).")
NOT_SUBTRACTED = ("the sum of squares is not subtracted: without it the result also counts each "
                  "field with itself (i = j).")
SUBTRACTS_FIELD_SUMS = ("you subtract the wrong term: sum_i (sum_k e_ik)^2 squares each field's "
                        "sum over k. Subtract the sum of the squares, sum_i e_ik^2: square each "
                        "number e_ik first, then sum over the fields (and over k).")
SUBTRACTS_UNSQUARED = ("you subtract the wrong term: sum_i e_ik is not squared. Subtract the sum "
                       "of the squares, sum_i e_ik^2 (embeddings.pow(2) summed over the fields).")
SUBTRACTS_MEAN = ("you subtract the wrong term: the squares are averaged over the fields. "
                  "Subtract their sum, sum_i e_ik^2 (.sum(dim=1), not .mean(dim=1)).")
ADDED = ("the sum of squares is added, not subtracted: your sum includes the i = j terms "
         "<e_i, e_i>; FM only pairs different fields, i < j.")
FLIPPED = "the sign is flipped: it is (square of the sum) MINUS (sum of the squares)."
AVERAGE_K = "you average over the k latent dimensions; sum over them instead."
CANCEL = ("your two terms are equal, so they cancel: square AFTER summing over the fields for the "
          "first term, (sum_i e_i)^2, and BEFORE summing for the second, sum_i e_i^2.")


def _first_terms(e: torch.Tensor) -> list[tuple[torch.Tensor, str | None]]:
    """The square of the sum, per row, as written right and as the usual mistakes write it."""
    return [(e.sum(dim=1).pow(2).sum(dim=1), None),
            (e.sum(dim=(1, 2)).pow(2), SUMMED_BEFORE_SQUARING),
            (e.sum(dim=2).pow(2).sum(dim=1), WRONG_AXIS),
            (e.mean(dim=1).pow(2).sum(dim=1), MEAN_INSIDE)]


def _second_terms(e: torch.Tensor) -> list[tuple[torch.Tensor, str | None]]:
    """The sum of the squares, per row, right and wrong (None: nothing subtracted)."""
    return [(e.pow(2).sum(dim=(1, 2)), None),
            (torch.zeros(e.shape[0], dtype=e.dtype), NOT_SUBTRACTED),
            (e.sum(dim=2).pow(2).sum(dim=1), SUBTRACTS_FIELD_SUMS),
            (e.sum(dim=(1, 2)), SUBTRACTS_UNSQUARED),
            (e.pow(2).mean(dim=1).sum(dim=1), SUBTRACTS_MEAN)]


def mistake_hint(sentences: list[str]) -> str:
    """One mistake's sentence, or every sentence of several, numbered."""
    if len(sentences) == 1:
        return sentences[0]
    return (f"your result has {len(sentences)} mistakes at once: "
            + " ".join(f"({n}) {s}" for n, s in enumerate(sentences, 1)))


def _fm_mistakes(e: torch.Tensor) -> list[tuple[np.ndarray, str]]:
    """Every combination of the usual mistakes with its hint, fewest mistakes first."""
    e = e.double()
    k = e.shape[2]
    combining = [(lambda a, b: 0.5 * (a - b), None), (lambda a, b: a - b, HALF_MISSING),
                 (lambda a, b: 0.5 * a - b, HALF_ON_FIRST), (lambda a, b: 0.5 * (a + b), ADDED),
                 (lambda a, b: 0.5 * (b - a), FLIPPED)]
    found: list[tuple[int, np.ndarray, list[str]]] = []
    for first, first_hint in _first_terms(e):
        for second, second_hint in _second_terms(e):
            for combine, combine_hint in combining:
                if second_hint == NOT_SUBTRACTED and combine_hint not in (None, HALF_MISSING):
                    continue  # nothing to add, flip or halve apart
                for divisor, k_hint in ((1, None), (k, AVERAGE_K)):
                    hints = [h for h in (combine_hint, first_hint, second_hint, k_hint) if h]
                    if hints:
                        found.append((len(hints), (combine(first, second) / divisor).numpy(),
                                      hints))
    found.sort(key=lambda item: item[0])
    zeros = np.zeros(e.shape[0])
    return [(zeros, CANCEL)] + [(value, mistake_hint(hints)) for _, value, hints in found]


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
        call_learner(fn, embeddings, what=what)
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
    ``fn`` returns ``sum_{i<j} <e_i, e_j>`` for every row as a float32 tensor of shape
    ``[batch]`` (the model back-propagates through it, and the notebook compares it with a
    float32 tensor). Any operation order passes as long as the work is linear in the number of
    fields (einsum, a running sum over the fields, float64 inside and float32 out): an
    implementation that loops over or materialises all field pairs gives the right numbers but
    is reported as the O(k n^2) form the exercise replaces.

    Caught mistakes, each named, and named together when several are made at once: the
    missing 1/2 (or the 1/2 on the first term only), squaring before summing (the terms
    cancel), summing over the fields and k before squaring, summing over the wrong axis, a
    mean over the fields inside the square, the sum of squares not subtracted, the wrong term
    subtracted (each field's sum over k squared, the numbers unsquared, their mean), the sum of
    squares added (i = j pairs included), flipped sign, averaging over k, a sum over the batch,
    a wrong output shape ([batch, k], [batch, 1], [fields], a scalar), a NumPy array
    or a float64 tensor returned, the pairwise O(k n^2) form, and calling the package's
    ``fm_second_order`` or ``fm_second_order_pairwise`` instead of writing it.
    """

    def body() -> str:
        expect_callable(fn, "check_fm_second_order(fm_order2_fast)")
        what = f"your function {name_of(fn)}"
        gen = torch.Generator().manual_seed(3)
        for shape in [(6, 5, 4), (3, 9, 2), (2, 2, 3)]:
            e = torch.randn(*shape, generator=gen)
            batch, n_fields, k = shape
            got = as_tensor_output(
                call_learner(fn, e.clone(), what=what, inputs=f"a tensor of shape {list(shape)}"),
                what, "a tensor of shape [batch]", like=e)
            expect_shape(got, (batch,), what, {
                (batch, k): "sum over the k latent dimensions at the end: one number per row.",
                (batch, 1): "return shape [batch]: drop the last dimension (.squeeze(1) or "
                            "sum without keepdim).",
                (): "you summed over the batch too; keep one value per row.",
                (1,): "you summed over the batch too; keep one value per row.",
                (n_fields,): "you summed over dim 0, the batch: the input is [batch, fields, "
                             "k], so the fields are dim 1.",
                (k,): "you summed over the batch; sum over the fields and k, per row.",
            })
            right = pairwise_reference(e)
            # The fast form subtracts two sums of squares: in float32 its absolute error grows
            # with their size, so the tolerance is relative to the largest value.
            scale = max(1.0, float(np.abs(right).max()))
            if not close(got, right, rtol=1e-4, atol=1e-5 * scale):
                match_mistake(got, _fm_mistakes(e), rtol=1e-4, atol=1e-5 * scale)
                raise NotYet(f"for embeddings of shape {list(shape)} your result differs from "
                             f"the pairwise double sum: {first_difference(got, right)}.")
        _check_linear_work(fn, what)
        return "equals the pairwise sum over i < j of <e_i, e_j>, with work linear in fields."

    return run_check("check_fm_second_order", body, PACKAGE_FM)
