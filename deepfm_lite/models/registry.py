"""The one registry of models, and how any model is built from one set of arguments.

Every model takes the same inputs, ``ids`` and ``values`` of shape ``[batch, fields]`` (see
:mod:`deepfm_lite.layers`), returns logits of shape ``[batch]`` (apply a sigmoid, or use
:func:`deepfm_lite.predict_proba`, for click probabilities; train with BCE-with-logits so the
sigmoid is applied exactly once), and is built from the same arguments, so any of them can be
named on the command line or in an experiment list.

Each family's module adds its classes to :data:`MODELS` with :func:`register`; the package's
``__init__`` imports the families in the paper's order, so :data:`MODELS` and
:func:`build_model` see every model whichever module is imported first.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn


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
    if taken is not None and where_defined(taken) != where_defined(model):
        raise ValueError(f"model name {name!r} is taken by {where_defined(taken)}")
    MODELS[name] = model
    return model


def where_defined(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def deep_arguments(embed_dim: int, hidden: Sequence[int], activation: str, dropout: float,
                 batch_norm: bool) -> dict:
    return {"embed_dim": int(embed_dim), "hidden": [int(h) for h in hidden],
            "activation": activation, "dropout": float(dropout), "batch_norm": bool(batch_norm)}


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
