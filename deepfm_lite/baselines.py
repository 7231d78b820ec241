"""The deep baselines of the paper's Table 2: FNN, the three PNNs and the two Wide & Deep forms.

Each one is DeepFM with one idea taken away or changed, which is what makes the comparison
informative (the paper's Table 1):

=========  ===========================================================================
fnn        the deep part alone, its embeddings copied from an FM trained first
ipnn       the deep part fed with the pairwise inner products as well (no FM beside it)
opnn       the deep part fed with the sum-pooled outer product as well
pnn_star   both product signals
lr_dnn     Wide & Deep: LR on the raw features beside a DNN with its own embeddings
fm_dnn     FM beside a DNN, each with its OWN embedding table: DeepFM without the sharing
=========  ===========================================================================

All of them take DeepFM's arguments (``field_dims, embed_dim, hidden, activation, dropout,
batch_norm``) and return logits of shape ``[batch]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .data import EncodedData
from .layers import (
    MLP,
    FeaturesEmbedding,
    FeaturesLinear,
    fm_second_order,
    inner_product,
    outer_product_pooled,
)
from .models import CTRModel, FactorizationMachine, _deep_params, register
from .training import fit


@register
class FNN(CTRModel):
    """FNN (Zhang, Du, Wang, ECIR 2016): an MLP whose input layer is initialised from an FM.

    As in the FNN paper, field i enters the network as ``z_i = (w_i x_i, v_i x_i)``: the
    pre-trained FM's first-order weight and latent vector of its active feature, so each field
    gives ``k + 1`` inputs. (The FNN paper also feeds FM's global bias ``w_0``; a constant input
    only shifts the first layer's bias, so it is left out.) The MLP is the paper's Equation 4.

    Difference from DeepFM: the output is the MLP alone (no FM term beside it, so low-order
    interactions are only what the MLP learns), and the embeddings need an FM trained first.
    :meth:`prepare_fit` does that pre-training; :func:`deepfm_lite.fit` calls it before the
    first epoch and counts its time as training time, as the paper's efficiency figure does.
    """

    name = "fnn"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, pretrain_epochs: int = 1,
                 **_ignored):
        if int(pretrain_epochs) < 1:
            raise ValueError(f"pretrain_epochs must be >= 1, got {pretrain_epochs}")
        params = _deep_params(embed_dim, hidden, activation, dropout, batch_norm)
        super().__init__(field_dims, **params, pretrain_epochs=int(pretrain_epochs))
        self.pretrain_epochs = int(pretrain_epochs)
        self.first_order = FeaturesEmbedding(field_dims, 1)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * (embed_dim + 1), hidden, activation, dropout, batch_norm)
        # Saved with the weights, so a reloaded FNN is not pre-trained (overwritten) a second time.
        self.register_buffer("pretrained", torch.tensor(False))
        self._pretraining = False

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        dense = torch.cat([self.first_order(ids, values), self.embedding(ids, values)], dim=2)
        return self.mlp(dense.flatten(1)).squeeze(1)

    def prepare_fit(self, train: EncodedData, *, batch_size: int, lr: float, seed: int,
                    device: str | torch.device) -> FactorizationMachine | None:
        """Pre-train an FM on ``train`` and copy its ``w`` and ``V`` into this network.

        Runs once per model: a second :func:`~deepfm_lite.fit` call continues training and
        keeps the learned embeddings. Returns the pre-trained FM (``None`` if already done).
        """
        if bool(self.pretrained) or self._pretraining:
            return None
        self._pretraining = True
        try:
            torch.manual_seed(seed)
            fm = FactorizationMachine(self.field_dims, embed_dim=self.embedding.embed_dim)
            fit(fm, train, epochs=self.pretrain_epochs, batch_size=batch_size, lr=lr, seed=seed,
                device=device, progress=False)
            with torch.no_grad():
                self.embedding.weight.copy_(fm.embedding.weight)
                self.first_order.weight.copy_(fm.linear.weight.unsqueeze(1))
            self.pretrained.fill_(True)
        finally:
            self._pretraining = False
        return fm


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
        super().__init__(field_dims, **_deep_params(embed_dim, hidden, activation, dropout,
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
        super().__init__(field_dims, **_deep_params(embed_dim, hidden, activation, dropout,
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
        super().__init__(field_dims, **_deep_params(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.linear = FeaturesLinear(field_dims)
        self.fm_embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.dnn_embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * embed_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        y_fm = self.linear(ids, values) + fm_second_order(self.fm_embedding(ids, values))
        y_dnn = self.mlp(self.dnn_embedding(ids, values).flatten(1)).squeeze(1)
        return y_fm + y_dnn


BASELINES: dict[str, type[CTRModel]] = {
    model.name: model for model in (FNN, InnerPNN, OuterPNN, PNNStar, WideAndDeep, FMAndDNN)
}

__all__ = ["BASELINES", "FNN", "FMAndDNN", "InnerPNN", "OuterPNN", "PNNStar", "ProductNetwork",
           "WideAndDeep"]
