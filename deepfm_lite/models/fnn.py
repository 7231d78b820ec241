"""FNN (Zhang, Du, Wang, ECIR 2016): the deep part alone, its embeddings copied from an FM."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import MLP, FeaturesEmbedding
from .linear import FactorizationMachine
from .registry import CTRModel, deep_arguments, register


@register
class FNN(CTRModel):
    """FNN (Zhang, Du, Wang, ECIR 2016): an MLP whose input layer is initialised from an FM.

    As in the FNN paper, field i enters the network as ``z_i = (w_i x_i, v_i x_i)``: the
    pre-trained FM's first-order weight and latent vector of its active feature, so each field
    gives ``k + 1`` inputs. (The FNN paper also feeds FM's global bias ``w_0``; a constant input
    only shifts the first layer's bias, so it is left out.) The MLP is the paper's Equation 4.

    Difference from DeepFM: the output is the MLP alone (no FM term beside it, so low-order
    interactions are only what the MLP learns), and the embeddings need an FM trained first.
    :func:`deepfm_lite.training.pretrain` does that pre-training; :func:`deepfm_lite.fit` calls it
    before the first epoch and counts its time as training time, as the paper's efficiency figure
    does.
    """

    name = "fnn"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, pretrain_epochs: int = 1,
                 **_ignored):
        if int(pretrain_epochs) < 1:
            raise ValueError(f"pretrain_epochs must be >= 1, got {pretrain_epochs}")
        params = deep_arguments(embed_dim, hidden, activation, dropout, batch_norm)
        super().__init__(field_dims, **params, pretrain_epochs=int(pretrain_epochs))
        self.pretrain_epochs = int(pretrain_epochs)
        self.first_order = FeaturesEmbedding(field_dims, 1)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * (embed_dim + 1), hidden, activation, dropout, batch_norm)
        # Saved with the weights, so a reloaded FNN is not pre-trained (overwritten) a second time.
        self.register_buffer("pretrained", torch.tensor(False))

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        dense = torch.cat([self.first_order(ids, values), self.embedding(ids, values)], dim=2)
        return self.mlp(dense.flatten(1)).squeeze(1)

    @property
    def needs_pretraining(self) -> bool:
        """True until an FM's weights have been copied in (saved with the weights)."""
        return not bool(self.pretrained)

    def load_pretrained_fm(self, fm: FactorizationMachine) -> None:
        """Copy a trained FM's order-1 weights ``w`` and latent vectors ``V`` into this network.

        :func:`deepfm_lite.training.pretrain` trains that FM; :func:`deepfm_lite.fit` calls it
        before the first epoch of an FNN that still needs it.
        """
        size = self.embedding.embed_dim
        if tuple(fm.field_dims) != self.field_dims or fm.embedding.embed_dim != size:
            raise ValueError(f"the FM has field_dims {list(fm.field_dims)} and embed_dim "
                             f"{fm.embedding.embed_dim}; this FNN needs {list(self.field_dims)} "
                             f"and {size}")
        with torch.no_grad():
            self.embedding.weight.copy_(fm.embedding.weight)
            self.first_order.weight.copy_(fm.linear.weight.unsqueeze(1))
        self.pretrained.fill_(True)
