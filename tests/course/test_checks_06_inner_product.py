"""check_inner_product (exercise 06): pairs by hand pass in any style; order, shape, NumPy or
float64 answers and the package's own layer are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checks_helpers import fails_with, ip_triu, passes

from deepfm_lite.course import checks
from deepfm_lite.layers import inner_product


def ip_loops(embeddings):
    f = embeddings.shape[1]
    return torch.stack([(embeddings[:, i] * embeddings[:, j]).sum(1)
                        for i in range(f) for j in range(i + 1, f)], dim=1)


def ip_bmm_mask(embeddings):
    f = embeddings.shape[1]
    gram = torch.bmm(embeddings, embeddings.transpose(1, 2))
    mask = torch.ones(f, f, dtype=torch.bool).triu(1)
    return gram[:, mask]


def ip_einsum(embeddings):
    rows, cols = torch.triu_indices(embeddings.shape[1], embeddings.shape[1], offset=1)
    return torch.einsum("bpk,bpk->bp", embeddings[:, rows], embeddings[:, cols])


@pytest.mark.parametrize("fn", [ip_triu, ip_loops, ip_bmm_mask, ip_einsum])
def test_inner_product_accepts_correct_implementations(fn):
    passes(checks.check_inner_product(fn))


def ip_column_major(embeddings):
    f = embeddings.shape[1]
    return torch.stack([(embeddings[:, i] * embeddings[:, j]).sum(1)
                        for j in range(f) for i in range(j)], dim=1)


def ip_both_orders(embeddings):
    f = embeddings.shape[1]
    return torch.stack([(embeddings[:, i] * embeddings[:, j]).sum(1)
                        for i in range(f) for j in range(f) if i != j], dim=1)


@pytest.mark.parametrize("fn, hint", [
    (ip_column_major, "another order"),
    (lambda e: (e[:, torch.triu_indices(e.shape[1], e.shape[1])[0]]
                * e[:, torch.triu_indices(e.shape[1], e.shape[1])[1]]).sum(-1), "i = j"),
    (lambda e: e @ e.transpose(1, 2), "full [fields, fields]"),
    (lambda e: e[:, torch.triu_indices(e.shape[1], e.shape[1], 1)[0]]
     * e[:, torch.triu_indices(e.shape[1], e.shape[1], 1)[1]], "sum the element-wise"),
    (lambda e: ip_triu(F.normalize(e, dim=2)), "cosine"),
    (lambda e: ip_triu(e).sum(1), "one column per pair"),
    (lambda e: 0.5 * ip_triu(e), "no 1/2 here"),
    (ip_both_orders, "counts every pair twice"),
])
def test_inner_product_names_the_mistake(fn, hint):
    fails_with(checks.check_inner_product(fn), hint)


def test_inner_product_refuses_numpy_and_float64_that_the_notebook_cannot_use():
    fails_with(checks.check_inner_product(lambda e: ip_triu(e).numpy()), "NumPy array",
               "return a torch tensor")
    fails_with(checks.check_inner_product(lambda e: ip_triu(e.double())),
               "torch.float64 for torch.float32 input", "keep the input's dtype")


@pytest.mark.parametrize("fn", [inner_product, lambda e: inner_product(e)])
def test_inner_product_refuses_the_packages_own_layer(fn):
    fails_with(checks.check_inner_product(fn), "calls deepfm_lite.layers.inner_product",
               "compute the pairs yourself")
