"""check_embedding_lookup (exercise 03): lookups written by hand pass; offsets, values, shapes,
NumPy or float64 answers and the package's own layer are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checks_helpers import fails_with, offsets_of, passes

from deepfm_lite.course import checks
from deepfm_lite.layers import FeaturesEmbedding, field_offsets


def embed_index(ids, values, table, field_dims):
    return table[ids + offsets_of(field_dims)] * values.unsqueeze(-1)


def embed_one_hot(ids, values, table, field_dims):
    one_hot = F.one_hot(ids + offsets_of(field_dims), num_classes=table.shape[0]).float()
    return (one_hot @ table) * values[..., None]


def embed_field_loop(ids, values, table, field_dims):
    vectors, start = [], 0
    for f, size in enumerate(field_dims):
        vectors.append(F.embedding(ids[:, f], table[start:start + size]) * values[:, f:f + 1])
        start += size
    return torch.stack(vectors, dim=1)


def embed_index_select(ids, values, table, field_dims):
    sizes = torch.as_tensor(list(field_dims))
    rows = (ids + torch.cumsum(sizes, 0) - sizes).flatten()
    return table.index_select(0, rows).view(*ids.shape, -1) * values.unsqueeze(2)


@pytest.mark.parametrize("fn", [embed_index, embed_one_hot, embed_field_loop, embed_index_select])
def test_lookup_accepts_correct_implementations(fn):
    passes(checks.check_embedding_lookup(fn))


def embed_inclusive_cumsum(ids, values, table, field_dims):
    return table[ids + torch.cumsum(torch.tensor(field_dims), 0)] * values.unsqueeze(-1)


@pytest.mark.parametrize("fn, hint", [
    (lambda ids, values, table, dims: table[ids] * values.unsqueeze(-1), "offsets are not added"),
    (lambda ids, values, table, dims: table[ids + offsets_of(dims)], "value"),
    (lambda ids, values, table, dims: embed_index(ids, values, table, dims).flatten(1),
     "not flattened"),
    (lambda ids, values, table, dims: embed_index(ids, values, table, dims).sum(1), "do not sum"),
    (embed_inclusive_cumsum, "offsets are [0, d0"),
])
def test_lookup_names_the_mistake(fn, hint):
    fails_with(checks.check_embedding_lookup(fn), hint)


def test_lookup_chooses_the_hint_by_the_error():
    # [batch, fields, k] * [batch, fields] cannot broadcast: a size mismatch, not an offsets
    # problem
    not_unsqueezed = checks.check_embedding_lookup(
        lambda ids, values, table, dims: table[ids + offsets_of(dims)] * values)
    fails_with(not_unsqueezed, "raised RuntimeError", "must match the size",
               "unsqueeze the values to [batch, fields, 1]")
    assert "offsets are" not in not_unsqueezed.message
    # an index past the table: the offsets are the likely cause
    too_far = checks.check_embedding_lookup(
        lambda ids, values, table, dims: F.embedding(ids + torch.cumsum(torch.tensor(dims), 0),
                                                     table) * values.unsqueeze(-1))
    fails_with(too_far, "raised IndexError", "the offsets are [0, d0, d0+d1, ...]")
    assert "unsqueeze" not in too_far.message


def test_lookup_names_a_silent_broadcast_when_fields_equal_k():
    """The third case has batch = fields = k = 3, where these raise nothing."""

    def aligned_with_k(ids, values, table, dims):
        rows = table[ids + offsets_of(dims)]
        if rows.shape[0] == rows.shape[1] == rows.shape[2]:
            return rows * values
        return rows * values.unsqueeze(-1)

    def wrong_axis(ids, values, table, dims):
        rows = table[ids + offsets_of(dims)]
        return rows * values.unsqueeze(1 if rows.shape[1] == rows.shape[2] else -1)

    fails_with(checks.check_embedding_lookup(aligned_with_k), "values are not unsqueezed",
               "lines the values up with k")
    fails_with(checks.check_embedding_lookup(wrong_axis), "unsqueezed on the wrong axis")


def test_lookup_refuses_numpy_and_float64_that_the_notebook_cannot_use():
    fails_with(checks.check_embedding_lookup(
        lambda ids, values, table, dims: embed_index(ids, values, table, dims).numpy()),
        "NumPy array", "return a torch tensor")
    fails_with(checks.check_embedding_lookup(
        lambda ids, values, table, dims: embed_index(ids, values.double(), table, dims)),
        "torch.float64 for torch.float32 input", "keep the input's dtype")


def embed_package(ids, values, table, field_dims):
    layer = FeaturesEmbedding(field_dims, table.shape[1])
    with torch.no_grad():
        layer.weight.copy_(table)
    return layer(ids, values)


def embed_package_offsets(ids, values, table, field_dims):
    return table[ids + field_offsets(field_dims)] * values.unsqueeze(-1)


@pytest.mark.parametrize("fn, name", [
    (embed_package, "deepfm_lite.layers.FeaturesEmbedding"),
    (embed_package_offsets, "deepfm_lite.layers.field_offsets"),
])
def test_lookup_refuses_the_packages_own_layer(fn, name):
    fails_with(checks.check_embedding_lookup(fn), f"calls {name}", "write the lookup yourself")


def test_lookup_tolerance_is_float32_rounding_of_the_value_product():
    """An answer off by more than float32 rounding, as the notebook would see it, fails."""
    fails_with(checks.check_embedding_lookup(
        lambda ids, values, table, dims: embed_index(ids, values, table, dims) * (1 + 1e-5)),
        "differ from table[ids + offsets] * values")
    passes(checks.check_embedding_lookup(
        lambda ids, values, table, dims: embed_index(ids, values, table, dims)
        * (1 + np.float32(1e-7))))
