"""The product networks of the paper's Table 2: IPNN, OPNN and PNN* (Qu et al., ICDM 2016)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import MLP, FeaturesEmbedding, inner_product, outer_product_pooled
from .registry import CTRModel, deep_arguments, register


class ProductNetwork(CTRModel):
    """PNN (Qu et al., ICDM 2016): the embeddings and their products feed one MLP.

    The MLP's input is ``[z, p]``: ``z`` the concatenated field embeddings (PNN's "linear
    signal") and ``p`` the product signal. The PNN paper's first hidden layer is
    ``l_1 = relu(l_z + l_p + b_1)`` with ``l_z = W_z z`` and ``l_p = W_p p`` both learned linear
    projections; one linear layer over ``[z, p]`` is exactly that sum, so the MLP's first layer
    is PNN's projection. Products used:

    * inner (IPNN): ``<e_i, e_j>`` for each field pair, :func:`~deepfm_lite.layers.inner_product`;
    * outer (OPNN): the ``k x k`` matrix ``f_S f_S^T`` of the summed field vectors, flattened,
      :func:`~deepfm_lite.layers.outer_product_pooled`;
    * both (PNN*).

    Difference from DeepFM: the pairwise products go INTO the MLP instead of being summed as an
    FM term beside it, and there is no order-1 term, so low-order signals reach the output only
    through the MLP.
    """

    name = "pnn"
    use_inner = True
    use_outer = False

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **deep_arguments(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        input_dim = self.num_fields * embed_dim
        if self.use_inner:
            input_dim += self.num_fields * (self.num_fields - 1) // 2
        if self.use_outer:
            input_dim += embed_dim * embed_dim
        self.mlp = MLP(input_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        embeddings = self.embedding(ids, values)
        signals = [embeddings.flatten(1)]
        if self.use_inner:
            signals.append(inner_product(embeddings))
        if self.use_outer:
            signals.append(outer_product_pooled(embeddings).flatten(1))
        return self.mlp(torch.cat(signals, dim=1)).squeeze(1)


@register
class InnerPNN(ProductNetwork):
    """IPNN: PNN with the inner-product layer (see :class:`ProductNetwork`)."""

    name = "ipnn"
    use_inner, use_outer = True, False


@register
class OuterPNN(ProductNetwork):
    """OPNN: PNN with the sum-pooled outer-product layer (see :class:`ProductNetwork`)."""

    name = "opnn"
    use_inner, use_outer = False, True


@register
class PNNStar(ProductNetwork):
    """PNN*: PNN with both the inner- and the outer-product layer (see :class:`ProductNetwork`)."""

    name = "pnn_star"
    use_inner, use_outer = True, True
