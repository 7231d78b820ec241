"""Wide & Deep as the paper ran it (LR & DNN), and FM & DNN: DeepFM without the shared table."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import MLP, FeaturesEmbedding, FeaturesLinear, fm_second_order
from .registry import CTRModel, deep_arguments, register


@register
class WideAndDeep(CTRModel):
    """Wide & Deep (Cheng et al. 2016) as the DeepFM paper ran it, "LR & DNN".

    ``y = <w, x> + b + y_DNN``: logistic regression on the raw features (the wide part, no
    hand-made cross features) plus an MLP over its own field embeddings, trained jointly.

    Difference from DeepFM: the wide part has no order-2 term, so pairwise interactions are
    left to the MLP; there is no latent vector the two parts could share.
    """

    name = "lr_dnn"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **deep_arguments(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * embed_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        y_dnn = self.mlp(self.embedding(ids, values).flatten(1)).squeeze(1)
        return self.linear(ids, values) + y_dnn


@register
class FMAndDNN(CTRModel):
    """"FM & DNN": Wide & Deep with FM as the wide part, the paper's key control for DeepFM.

    ``y = y_FM + y_DNN`` exactly as DeepFM's Equation 1, except that the FM part reads
    ``fm_embedding`` and the MLP reads ``dnn_embedding``: two tables of the same size.

    Difference from DeepFM: the ONLY one is the separate table. DeepFM's FM and deep parts read
    one table, so each latent vector gets gradient from both parts; here each table learns from
    its own part alone, and the model has one more ``sum(field_dims) x k`` table of parameters.
    """

    name = "fm_dnn"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **deep_arguments(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.linear = FeaturesLinear(field_dims)
        self.fm_embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.dnn_embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * embed_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        y_fm = self.linear(ids, values) + fm_second_order(self.fm_embedding(ids, values))
        y_dnn = self.mlp(self.dnn_embedding(ids, values).flatten(1)).squeeze(1)
        return y_fm + y_dnn
