"""check_fm_second_order (exercise 02): O(k n) forms pass; the usual mistakes (each named, and
several at once named together), the O(k n^2) form, NumPy or float64 answers and the package's
own functions are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_helpers import fails_with, fm_pair_loop, passes

import deepfm_lite
from deepfm_lite.course import checks
from deepfm_lite.layers import fm_second_order, fm_second_order_pairwise


def fm_textbook(embeddings):
    square_of_sum = embeddings.sum(dim=1).pow(2)
    sum_of_squares = embeddings.pow(2).sum(dim=1)
    return 0.5 * (square_of_sum - sum_of_squares).sum(dim=1)


def fm_einsum(embeddings):
    field_sum = embeddings.sum(dim=1)
    return 0.5 * (torch.einsum("bk,bk->b", field_sum, field_sum)
                  - torch.einsum("bfk,bfk->b", embeddings, embeddings))


def fm_running_sum(embeddings):
    """A loop over fields, still O(k n): each field meets the sum of the fields before it."""
    running = torch.zeros_like(embeddings[:, 0])
    total = torch.zeros(embeddings.shape[0])
    for f in range(embeddings.shape[1]):
        total = total + (embeddings[:, f] * running).sum(dim=1)
        running = running + embeddings[:, f]
    return total


def fm_float64_inside(embeddings):
    """float64 is harmless inside, as long as the answer comes back in the input's dtype."""
    return fm_textbook(embeddings.double()).to(embeddings.dtype)


@pytest.mark.parametrize("fn", [fm_textbook, fm_einsum, fm_running_sum, fm_float64_inside])
def test_fm_accepts_correct_implementations(fn):
    passes(checks.check_fm_second_order(fn))


def fm_gram_matrix(embeddings):
    gram = embeddings @ embeddings.transpose(1, 2)
    return torch.triu(gram, diagonal=1).sum(dim=(1, 2))


@pytest.mark.parametrize("fn, hint", [
    (lambda e: (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(1), "1/2 is missing"),
    (lambda e: 0.5 * (e.pow(2).sum(1) - e.pow(2).sum(1)).sum(1), "cancel"),
    (lambda e: 0.5 * (e.sum(2).pow(2) - e.pow(2).sum(2)).sum(1), "wrong axis"),
    (lambda e: 0.5 * e.sum(1).pow(2).sum(1), "not subtracted"),
    (lambda e: 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)), "sum over the k"),
    (lambda e: 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).mean(1), "average"),
    (fm_pair_loop, "fields^2"),
    (fm_gram_matrix, "fields^2"),
])
def test_fm_names_the_mistake(fn, hint):
    fails_with(checks.check_fm_second_order(fn), hint)


def fm_summed_before_squaring(embeddings):
    """The learner's reading of "square of the sum": every number of the row summed, squared."""
    square_of_sum = embeddings.sum(dim=(1, 2)).pow(2)
    sum_of_squares = embeddings.pow(2).sum(dim=(1, 2))
    return 0.5 * (square_of_sum - sum_of_squares)


def fm_flattened(embeddings):
    """The same mistake reached by flattening first: [batch, fields * k], then the formula."""
    flat = embeddings.flatten(1)
    return 0.5 * (flat.sum(dim=1).pow(2) - flat.pow(2).sum(dim=1))


@pytest.mark.parametrize("fn, hints", [
    (fm_summed_before_squaring, ["you summed over the fields AND the k latent dimensions before "
                                 "squaring", "multiplies different latent dimensions",
                                 "Sum over the fields only (dim 1)"]),
    (fm_flattened, ["summed over the fields AND the k latent dimensions before squaring"]),
    (lambda e: (0.5 * e.sum(1).pow(2) - e.pow(2).sum(1)).sum(1),
     ["the 1/2 multiplies only the square of the sum"]),
    (lambda e: 0.5 * (e.sum(1).pow(2).sum(1) - e.sum(2).pow(2).sum(1)),
     ["you subtract the wrong term", "squares each field's sum over k"]),
    (lambda e: 0.5 * (e.sum(1).pow(2) - e.sum(1)).sum(1),
     ["you subtract the wrong term", "is not squared"]),
    (lambda e: 0.5 * (e.sum(1).pow(2) - e.pow(2).mean(1)).sum(1),
     ["you subtract the wrong term", "averaged over the fields"]),
    (lambda e: 0.5 * (e.mean(1).pow(2) - e.pow(2).sum(1)).sum(1),
     ["you average over the fields inside the square"]),
    (lambda e: 0.5 * (e.sum(1).pow(2) + e.pow(2).sum(1)).sum(1),
     ["the sum of squares is added, not subtracted", "i = j"]),
    (lambda e: 0.5 * (e.pow(2).sum(1) - e.sum(1).pow(2)).sum(1), ["the sign is flipped"]),
    (lambda e: 0.5 * (e.sum(0).pow(2) - e.pow(2).sum(0)).sum(1),
     ["returned shape [5], expected [6]", "you summed over dim 0, the batch"]),
])
def test_fm_names_each_usual_mistake(fn, hints):
    fails_with(checks.check_fm_second_order(fn), *hints)


@pytest.mark.parametrize("fn, hints", [
    (lambda e: e.sum(dim=(1, 2)).pow(2) - e.pow(2).sum(dim=(1, 2)),
     ["2 mistakes at once", "(1) the 1/2 is missing", "(2) you summed over the fields AND the k "
                                                      "latent dimensions before squaring"]),
    (lambda e: (e.sum(2).pow(2) - e.pow(2).sum(2)).sum(1),
     ["2 mistakes at once", "1/2 is missing", "wrong axis"]),
    (lambda e: 0.5 * (e.sum(dim=(1, 2)).pow(2) - e.pow(2).sum(dim=(1, 2))) / e.shape[2],
     ["2 mistakes at once", "before squaring", "average over the k latent dimensions"]),
    (lambda e: e.sum(1).pow(2).sum(1) - e.sum(2).pow(2).sum(1),
     ["2 mistakes at once", "1/2 is missing", "you subtract the wrong term"]),
])
def test_fm_names_two_mistakes_made_at_once(fn, hints):
    fails_with(checks.check_fm_second_order(fn), *hints)


def fm_numpy(embeddings):
    e = embeddings.numpy().astype(np.float64)
    return 0.5 * ((e.sum(axis=1) ** 2).sum(axis=1) - (e ** 2).sum(axis=(1, 2)))


def test_fm_refuses_numpy_and_float64_that_the_notebook_cannot_use():
    fails_with(checks.check_fm_second_order(fm_numpy), "NumPy array", "return a torch tensor",
               "back-propagates")
    fails_with(checks.check_fm_second_order(lambda e: fm_textbook(e.double())),
               "torch.float64 for torch.float32 input", "keep the input's dtype", ".double()")
    fails_with(checks.check_fm_second_order(lambda e: fm_textbook(e).tolist()),
               "a list", "torch tensor")


@pytest.mark.parametrize("fn, hint", [
    (fm_second_order, "deepfm_lite.layers.fm_second_order:"),
    (lambda e: fm_second_order(e), "deepfm_lite.layers.fm_second_order:"),
    (lambda e: deepfm_lite.fm_second_order(e), "deepfm_lite.layers.fm_second_order:"),
    (lambda e: fm_second_order_pairwise(e), "deepfm_lite.layers.fm_second_order_pairwise"),
])
def test_fm_refuses_the_packages_own_term(fn, hint):
    fails_with(checks.check_fm_second_order(fn), "calls " + hint, "write")
