"""The building blocks the models are made of, one idea each.

Inputs everywhere are two tensors of shape ``[batch, fields]``:

* ``ids``: the field-local index of each field's active feature (a category's id, or 0 for a
  numeric field), and
* ``values``: the feature's value ``x_i`` (1.0 for a category, the scaled number for a numeric
  field).

This is the paper's field-wise sparse input (Section 2): exactly one active feature per field.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .fast import FastDropout, gather_rows

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def field_offsets(field_dims: Sequence[int]) -> torch.Tensor:
    """Start of each field's rows in the shared table: ``[0, d_0, d_0 + d_1, ...]``."""
    dims = torch.as_tensor(list(field_dims), dtype=torch.long)
    return torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(dims, 0)[:-1]])


class FeaturesEmbedding(nn.Module):
    """One embedding table shared by all fields, with per-field offsets.

    Implements the paper's embedding layer (Figure 4): ``e_i = V_i * x_i`` where ``V_i`` is the
    latent vector of field i's active feature. Row ``offset[f] + id`` of the single table holds
    the vector of feature ``id`` of field ``f``; the same rows are FM's latent vectors.
    """

    def __init__(self, field_dims: Sequence[int], embed_dim: int, init_std: float = 0.01):
        super().__init__()
        self.field_dims = tuple(int(d) for d in field_dims)
        self.embed_dim = int(embed_dim)
        self.weight = nn.Parameter(torch.randn(sum(self.field_dims), embed_dim) * init_std)
        self.register_buffer("offsets", field_offsets(self.field_dims), persistent=False)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``[batch, fields]`` ids and values -> ``[batch, fields, embed_dim]`` vectors."""
        # gather_rows rather than weight[index]: the same rows, but its backward pass sums
        # gradients in a fixed order, so a seed gives bit-identical training on the CPU (and it
        # is faster than F.embedding's; see deepfm_lite/layers/fast.py).
        rows = gather_rows(self.weight, (ids + self.offsets).flatten())
        return rows.view(*ids.shape, self.embed_dim) * values.unsqueeze(-1)


class FeaturesLinear(nn.Module):
    """The order-1 term ``<w, x> + b`` of FM and LR (Equation 2, first part).

    The weights start at zero so that an untrained model predicts the bias alone; a random
    first-order start (N(0, 1) in some libraries) adds noise that large batches average badly.
    """

    def __init__(self, field_dims: Sequence[int]):
        super().__init__()
        self.field_dims = tuple(int(d) for d in field_dims)
        self.weight = nn.Parameter(torch.zeros(sum(self.field_dims)))
        self.bias = nn.Parameter(torch.zeros(()))
        self.register_buffer("offsets", field_offsets(self.field_dims), persistent=False)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``[batch, fields]`` ids and values -> ``[batch]`` order-1 logit."""
        weights = gather_rows(self.weight, (ids + self.offsets).flatten()).view(ids.shape)
        return (weights * values).sum(dim=1) + self.bias


def fm_second_order(embeddings: torch.Tensor) -> torch.Tensor:
    """FM's order-2 term in O(k n): the paper's Equation 2, second part, rewritten.

    ``sum_{i<j} <e_i, e_j> = 0.5 * sum_f [ (sum_i e_if)^2 - sum_i e_if^2 ]`` for the
    ``[batch, fields, k]`` field embeddings (already multiplied by their values).
    Returns ``[batch]``.
    """
    square_of_sum = embeddings.sum(dim=1).pow(2)
    sum_of_squares = embeddings.pow(2).sum(dim=1)
    return 0.5 * (square_of_sum - sum_of_squares).sum(dim=1)


def fm_second_order_pairwise(embeddings: torch.Tensor) -> torch.Tensor:
    """The same term as :func:`fm_second_order`, as the O(k n^2) double sum over field pairs.

    Slow on purpose: it is the definition, kept to check and time the fast form against.
    """
    n_fields = embeddings.shape[1]
    total = embeddings.new_zeros(embeddings.shape[0])
    for i in range(n_fields):
        for j in range(i + 1, n_fields):
            total = total + (embeddings[:, i] * embeddings[:, j]).sum(dim=1)
    return total


def keep_prob_to_dropout(keep_prob: float) -> float:
    """Convert the paper's dropout setting to torch's.

    The paper (and the PNN code it follows) states dropout as the probability that a neuron is
    KEPT: "dropout 0.9" keeps 90%. ``torch.nn.Dropout(p)`` takes the probability of DROPPING it,
    so the paper's 0.9 is ``p = 0.1``.

    The result is rounded to 12 decimals, so that it is the number a reader types: plain
    ``1 - 0.9`` is 0.09999999999999998 in binary floating point, which would then show up in
    tables and fail a comparison with 0.1.
    """
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    return round(1.0 - keep_prob, 12)


class MLP(nn.Module):
    """The deep part's tower: ``a(l+1) = act(W(l) a(l) + b(l))`` (paper, Equation 4).

    ``hidden`` lists the widths of the hidden layers; the last linear layer maps to one output,
    ``y_DNN = W(H+1) a(H) + b(H+1)``. ``dropout`` is torch's drop probability (see
    :func:`keep_prob_to_dropout` for the paper's keep-probability convention).
    """

    def __init__(self, input_dim: int, hidden: Sequence[int] = (400, 400, 400),
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 output_dim: int | None = 1):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("dropout is the drop probability and must be in [0, 1), "
                             f"got {dropout}")
        layers: list[nn.Module] = []
        width = int(input_dim)
        for size in hidden:
            layers.append(nn.Linear(width, int(size)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(size)))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(FastDropout(dropout))  # nn.Dropout's masks, drawn faster
            width = int(size)
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
        self.output_dim = output_dim if output_dim is not None else width
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, input_dim]`` -> ``[batch, output_dim]``."""
        return self.layers(x)


# ---- product layers of PNN (Qu et al. 2016), used by the ipnn / opnn / pnn_star baselines ----


def pair_indices(num_fields: int, device: torch.device | None = None) -> tuple[torch.Tensor,
                                                                              torch.Tensor]:
    """Field pairs ``(i, j)`` with ``i < j`` in row-major order: (0,1), (0,2), ..., (1,2), ..."""
    rows, cols = torch.triu_indices(num_fields, num_fields, offset=1, device=device)
    return rows, cols


def inner_product(embeddings: torch.Tensor) -> torch.Tensor:
    """PNN's inner-product signal: ``<e_i, e_j>`` for every field pair ``i < j``.

    ``[batch, fields, k]`` -> ``[batch, fields * (fields - 1) / 2]``, pairs in row-major order
    (i = 0: j = 1..f-1, then i = 1: j = 2..f-1, ...). These are the products FM sums with weight
    one; IPNN keeps them apart so the network can weight each pair (PNN paper, Section 3.2).

    Computed as the upper triangle of the Gram matrix ``E E^T`` (one batched matrix product),
    which trains several times faster on a CPU than gathering the pairs' vectors.
    """
    num_fields = embeddings.shape[1]
    rows, cols = pair_indices(num_fields, embeddings.device)
    gram = torch.bmm(embeddings, embeddings.transpose(1, 2))
    return gram.flatten(1).index_select(1, rows * num_fields + cols)


def outer_product_pooled(embeddings: torch.Tensor) -> torch.Tensor:
    """PNN's outer-product signal in its sum-pooled form: ``p = f_S f_S^T``, ``f_S = sum_i e_i``.

    ``[batch, fields, k]`` -> ``[batch, k, k]``. Summing the field vectors before the outer
    product replaces ``f^2`` matrices of size ``k x k`` by one (PNN paper, Section 3.3).
    """
    field_sum = embeddings.sum(dim=1)
    return field_sum.unsqueeze(2) * field_sum.unsqueeze(1)


# ---- multi-valued fields: several ids of one field pooled into one field vector ----

POOLING_MODES = ("mean", "sum")


def pooled_field(embedding: FeaturesEmbedding, field: int, ids: torch.Tensor,
                 mask: torch.Tensor, mode: str = "mean") -> torch.Tensor:
    """One vector for a field that holds a list of ids: look each id up, pool the rows.

    Why: a field can have several values in one impression. The paper's Company* data has the
    apps a user downloaded; one user has three, another thirty. ``ids`` is ``[batch, length]``,
    field ``field``'s local ids padded to a common length, and ``mask`` (same shape, bool or
    0/1) marks the real ids; padded positions contribute nothing, whatever id they hold. Each
    id is looked up in the shared table (row ``offset[field] + id``, the same rows as
    :class:`FeaturesEmbedding`), and the rows are summed (``mode="sum"``) or averaged
    (``mode="mean"``). A row with no id at all gives the zero vector.

    The result, ``[batch, embed_dim]``, takes the place of that field's ``e_i`` in the
    embedding layer's output ``a(0) = [e_1, ..., e_m]``, so the FM part (Equation 2, through
    :func:`fm_second_order`) and the deep part (Equation 4) still see one vector per field.
    Sum pooling is FM's input with ``x = 1`` for each id; mean pooling is ``x = 1 / n`` for a
    list of ``n`` ids. Pairs inside the list are not scored: FM sums over pairs of fields.
    """
    if mode not in POOLING_MODES:
        raise ValueError(f"mode must be one of {POOLING_MODES}, got {mode!r}")
    if ids.shape != mask.shape or ids.dim() != 2:
        raise ValueError(f"ids and mask must both be [batch, length], got {tuple(ids.shape)} "
                         f"and {tuple(mask.shape)}")
    keep = mask.bool()
    local = torch.where(keep, ids, torch.zeros_like(ids))  # any padding id is a valid row
    rows = gather_rows(embedding.weight, (local + embedding.offsets[field]).flatten())
    rows = rows.view(*ids.shape, embedding.embed_dim) * keep.unsqueeze(-1).to(rows.dtype)
    pooled = rows.sum(dim=1)
    if mode == "mean":
        pooled = pooled / keep.sum(dim=1, keepdim=True).clamp(min=1).to(pooled.dtype)
    return pooled
