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


def _fm_mistakes(e: torch.Tensor) -> list[tuple[np.ndarray, str]]:
    e = e.double()
    right = torch.as_tensor(pairwise_reference(e))
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

    Caught mistakes: the missing 1/2, squaring before summing (the terms cancel), summing
    over the wrong axis, sum of squares not subtracted, i = j pairs included, flipped sign,
    averaging over k, a wrong output shape ([batch, k], [batch, 1], a scalar), a NumPy array
    or a float64 tensor returned, the pairwise O(k n^2) form, and calling the package's
    ``fm_second_order`` or ``fm_second_order_pairwise`` instead of writing it.
    """

    def body() -> str:
        expect_callable(fn, "check_fm_second_order(fm_order2_fast)")
        what = f"your function {name_of(fn)}"
        gen = torch.Generator().manual_seed(3)
        for shape in [(6, 5, 4), (3, 9, 2), (2, 2, 3)]:
            e = torch.randn(*shape, generator=gen)
            batch, _, k = shape
            got = as_tensor_output(
                call_learner(fn, e.clone(), what=what, inputs=f"a tensor of shape {list(shape)}"),
                what, "a tensor of shape [batch]", like=e)
            expect_shape(got, (batch,), what, {
                (batch, k): "sum over the k latent dimensions at the end: one number per row.",
                (batch, 1): "return shape [batch]: drop the last dimension (.squeeze(1) or "
                            "sum without keepdim).",
                (): "you summed over the batch too; keep one value per row.",
                (1,): "you summed over the batch too; keep one value per row.",
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
