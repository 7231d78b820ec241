"""The models of the course. Each returns logits of shape ``[batch]``; apply a sigmoid (or
use :func:`deepfm_lite.predict_proba`) for click probabilities, and train with
BCE-with-logits so the sigmoid is applied exactly once.

Every model takes the same inputs, ``ids`` and ``values`` of shape ``[batch, fields]``
(see :mod:`deepfm_lite.layers`), and is built from the same arguments, so any of them can be
named on the command line or in an experiment list.

:data:`MODELS` is the one registry of models: each model module adds its classes with
:func:`register` (this one LR, FM, DNN and DeepFM; :mod:`deepfm_lite.baselines` the paper's
deep baselines). The imports run one way, ``layers <- models <- baselines``: this module never
imports the baselines. The package's ``__init__`` imports both, and Python runs it before any
of the package's modules, so :data:`MODELS` and :func:`build_model` see every model whichever
module is imported first.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn

from .layers import MLP, FeaturesEmbedding, FeaturesLinear, fm_second_order


class CTRModel(nn.Module):
    """Common base: remembers the arguments it was built with, for saving and loading."""

    name = "base"

    def __init__(self, field_dims: Sequence[int], **params):
        super().__init__()
        self.field_dims = tuple(int(d) for d in field_dims)
        if not self.field_dims or min(self.field_dims) < 1:
            raise ValueError(f"field_dims must be a non-empty list of sizes >= 1, got {field_dims}")
        self.config = {"model": self.name, "field_dims": list(self.field_dims), **params}

    @property
    def num_fields(self) -> int:
        return len(self.field_dims)


MODELS: dict[str, type[CTRModel]] = {}


def register(model: type[CTRModel]) -> type[CTRModel]:
    """Class decorator: add ``model`` to :data:`MODELS` under its ``name``, in definition order.

    A name taken by another class is an error; the same class defined again (its module
    reloaded) replaces the old one in place.
    """
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not name or name == CTRModel.name:
        raise ValueError(f"{model.__name__} needs a name of its own to be registered")
    taken = MODELS.get(name)
    if taken is not None and _where(taken) != _where(model):
        raise ValueError(f"model name {name!r} is taken by {_where(taken)}")
    MODELS[name] = model
    return model


def _where(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


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


def _deep_params(embed_dim: int, hidden: Sequence[int], activation: str, dropout: float,
                 batch_norm: bool) -> dict:
    return {"embed_dim": int(embed_dim), "hidden": [int(h) for h in hidden],
            "activation": activation, "dropout": float(dropout), "batch_norm": bool(batch_norm)}


@register
class DeepNetwork(CTRModel):
    """DNN: an MLP over the concatenated field embeddings (the paper's deep part alone, Eq. 3-4)."""

    name = "dnn"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **_deep_params(embed_dim, hidden, activation, dropout,
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
    Whether sharing also improves accuracy depends on the data and its scale.
    """

    name = "deepfm"

    def __init__(self, field_dims: Sequence[int], embed_dim: int = 10,
                 hidden: Sequence[int] = (400, 400, 400), activation: str = "relu",
                 dropout: float = 0.5, batch_norm: bool = False, **_ignored):
        super().__init__(field_dims, **_deep_params(embed_dim, hidden, activation, dropout,
                                                    batch_norm))
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(self.num_fields * embed_dim, hidden, activation, dropout, batch_norm)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        embeddings = self.embedding(ids, values)
        y_fm = self.linear(ids, values) + fm_second_order(embeddings)
        y_dnn = self.mlp(embeddings.flatten(1)).squeeze(1)
        return y_fm + y_dnn


def model_arguments() -> set[str]:
    """Every argument some model of :data:`MODELS` takes (besides ``field_dims``).

    All models are built from one shared set of arguments, and each uses the ones it needs (LR
    ignores ``hidden``), so one configuration can build any of them; a name no model takes is
    a mistake, and :func:`build_model` says so instead of ignoring it.
    """
    names = set()
    for model in MODELS.values():
        for parameter in inspect.signature(model.__init__).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                names.add(parameter.name)
    return names - {"self", "field_dims"}


def build_model(name: str, field_dims: Sequence[int], seed: int | None = None,
                **params) -> CTRModel:
    """Build the model registered as ``name`` (see :data:`MODELS`); ``seed`` fixes its init."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    known = model_arguments()
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown model argument(s) {', '.join(unknown)}; the models take "
                         f"{', '.join(sorted(known))}")
    if seed is not None:
        torch.manual_seed(seed)
    return MODELS[name](field_dims, **params)
