"""The shallow models: LR, the order-1 part alone, and FM, the paper's Equation 2."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import FeaturesEmbedding, FeaturesLinear, fm_second_order
from .registry import CTRModel, register


@register
class LogisticRegression(CTRModel):
    """LR: ``y = <w, x> + b``, the order-1 part alone (the paper's first baseline)."""

    name = "lr"

    def __init__(self, field_dims: Sequence[int], **_ignored):
        super().__init__(field_dims)
        self.linear = FeaturesLinear(field_dims)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.linear(ids, values)


@register
class FactorizationMachine(CTRModel):
    """FM (Rendle 2010), the paper's Equation 2.

    ``y_FM = <w, x> + sum_{i<j} <V_i, V_j> x_i x_j``, the pairs computed in O(k n).
    """

    name = "fm"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10, **_ignored):
        super().__init__(field_dims, embed_dim=embed_dim)
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.linear(ids, values) + fm_second_order(self.embedding(ids, values))
