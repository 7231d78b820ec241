"""Exercise 06: IPNN's inner-product layer (PNN, Qu et al. 2016, one of the paper's baselines)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

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

PACKAGE_INNER_PRODUCT = (
    Forbidden("deepfm_lite.layers.inner_product", "deepfm_lite.layers.inner_product",
              "this exercise asks you to compute the pairs yourself, and the cells after this "
              "check compare your layer with the package's, which would then compare it with "
              "itself."),
)


def _inner_product_reference(e: torch.Tensor) -> np.ndarray:
    """<e_i, e_j> for i < j, row-major: i = 0 with j = 1..f-1, then i = 1, ... (float64)."""
    e = e.double()
    n_fields = e.shape[1]
    columns = [(e[:, i] * e[:, j]).sum(dim=1) for i in range(n_fields)
               for j in range(i + 1, n_fields)]
    return torch.stack(columns, dim=1).numpy()


def _shape_hints(batch: int, n_fields: int, k: int) -> dict[tuple[int, ...], str]:
    pairs = n_fields * (n_fields - 1) // 2
    return {
        (batch, n_fields * (n_fields + 1) // 2): "that includes the i = j pairs: keep only "
                                                 "i < j.",
        (batch, n_fields, n_fields): "that is the full [fields, fields] matrix: keep the pairs "
                                     "i < j, one column each, row-major.",
        (batch, n_fields * n_fields): "that is the full [fields, fields] matrix flattened: keep "
                                      "the pairs i < j only.",
        (batch, 2 * pairs): "that counts every pair twice, as (i, j) and as (j, i): keep i < j "
                            "only.",
        (batch, pairs, k): "sum the element-wise products over k: an inner product is one "
                           "number per pair.",
        (batch,): "that is one number per row (FM sums the pairs); IPNN keeps one column per "
                  "pair.",
        (batch, 1): "one column per pair, not their sum.",
    }


def check_inner_product(fn: Callable) -> CheckResult:
    """Check ``fn(embeddings) -> [batch, fields*(fields-1)/2]``: IPNN's inner-product layer.

    The products FM's order-2 term (the paper's Equation 2) adds up, kept apart as PNN does.
    ``embeddings`` is a float32 tensor ``[batch, fields, k]``; ``fn`` returns ``<e_i, e_j>``
    for every field pair ``i < j``, one column per pair, in row-major order: (0, 1), (0, 2),
    ..., (0, f-1), (1, 2), ... (the order of ``torch.triu_indices(f, f, 1)``), as a float32
    tensor (the notebook compares it with torch functions' float32 results). Loops, index
    pairs, einsum, ``bmm`` with a triangular mask all pass.

    Caught mistakes: pairs in another order, i = j pairs included, every pair counted twice,
    the full [f, f] matrix, products not summed over k, summing all pairs into one number (that
    is FM's term), cosine similarity instead of the inner product, the 1/2 of FM's formula
    carried over, a NumPy array or a float64 tensor returned, and the package's
    ``inner_product`` called instead of writing it.
    """

    def body() -> str:
        expect_callable(fn, "check_inner_product(inner_products)")
        what = f"your function {name_of(fn)}"
        gen = torch.Generator().manual_seed(21)
        for batch, n_fields, k in [(3, 5, 4), (2, 7, 3), (4, 2, 2)]:
            e = torch.randn(batch, n_fields, k, generator=gen)
            pairs = n_fields * (n_fields - 1) // 2
            got = as_tensor_output(
                call_learner(fn, e.clone(), what=what,
                             inputs=f"a tensor of shape {[batch, n_fields, k]}"),
                what, "a tensor [batch, fields*(fields-1)/2]", like=e)
            expect_shape(got, (batch, pairs), what, _shape_hints(batch, n_fields, k))
            right = _inner_product_reference(e)
            # A float32 inner product of k <= 4 numbers of size ~1 is off the float64 one by a
            # few 1e-7, in whatever order it adds; the notebook then compares with the package's
            # layer at rtol = atol = 1e-5, so the check uses that tolerance too.
            if close(got, right, rtol=1e-5, atol=1e-5):
                continue
            norms = e.double().norm(dim=2)
            cosine = right / _inner_product_reference(norms.unsqueeze(-1))
            match_mistake(got, [
                (cosine, "that is the cosine similarity: do not divide by the vector lengths."),
                (0.5 * right, "no 1/2 here: the 1/2 in FM's fast form undoes the double count "
                              "of the square of a sum; a plain inner product has none."),
                (-right, "the sign is flipped."),
            ])
            if pairs > 1 and close(np.sort(got, axis=1), np.sort(right, axis=1)):
                raise NotYet("the values are right but the columns are in another order: "
                             "row-major, i = 0 with j = 1..f-1 first, then i = 1 with "
                             "j = 2..f-1, and so on (torch.triu_indices(f, f, offset=1)).")
            raise NotYet(f"for embeddings of shape {[batch, n_fields, k]} your products differ "
                         f"from <e_i, e_j>: {first_difference(got, right)}.")
        return "one column <e_i, e_j> per field pair i < j, in row-major order."

    return run_check("check_inner_product", body, PACKAGE_INNER_PRODUCT)
