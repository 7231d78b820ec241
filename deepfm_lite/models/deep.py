"""The deep part alone (DNN, the paper's Equations 3-4) and DeepFM, Equation 1."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import MLP, FeaturesEmbedding, FeaturesLinear, fm_second_order
from .registry import CTRModel, deep_arguments, register


@register
class DeepNetwork(CTRModel):
    """DNN: an MLP over the concatenated field embeddings (the paper's deep part alone, Eq. 3-4)."""

    name = "dnn"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **deep_arguments(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * embed_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        embeddings = self.embedding(ids, values)
        return self.mlp(embeddings.flatten(1)).squeeze(1)


@register
class DeepFM(CTRModel):
    """DeepFM (Guo et al. 2017), Equation 1: ``y = sigmoid(y_FM + y_DNN)``.

    The FM part (Eq. 2) and the deep part (Eq. 3-4) read the very same embedding table. Sharing
    buys one table instead of two (fewer parameters) and a joint gradient: each latent vector is
    updated by both parts. The other two properties the paper's abstract lists with it come from
    elsewhere: the FM part's pairwise terms replace hand-made crosses, and end-to-end training
    from random vectors replaces pre-training (FM & DNN, with separate tables, needs neither).
    Sharing bought no accuracy gain that holds across data sets and scales in the course's runs,
    rare ids with a small budget included (notebook 05; ``notebooks/measuring.md`` says how they
    were measured).
    """

    name = "deepfm"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **deep_arguments(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * embed_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        embeddings = self.embedding(ids, values)
        y_fm = self.linear(ids, values) + fm_second_order(embeddings)
        y_dnn = self.mlp(embeddings.flatten(1)).squeeze(1)
        return y_fm + y_dnn
