"""Saving and loading trained models with their configuration and fitted schema.

One file holds a plain dictionary of strings and tensors, written with ``torch.save`` and read
back with ``torch.load(weights_only=True)``, so loading never unpickles arbitrary objects.
Writes go to a temporary file in the same folder and are renamed over the target only once
complete: an interrupted save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .data import Schema
from .models import build_model

FORMAT = "deepfm_lite.model"
VERSION = 1


def save(model: nn.Module, path: str | os.PathLike, schema: Schema | None = None) -> Path:
    """Write ``model`` (its config and weights) and the fitted ``schema`` to ``path``."""
    config = getattr(model, "config", None)
    if config is None:
        raise TypeError(f"can only save deepfm_lite models, got {type(model).__name__}")
    if schema is None:
        schema = getattr(model, "schema", None)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config),
        "schema": json.dumps(schema.to_dict()) if schema is not None else "",
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save`; its schema (if saved) is ``model.schema``.

    A missing file raises ``FileNotFoundError``; a file that is not a deepfm_lite model
    (corrupt, truncated, or from elsewhere) raises ``ValueError`` saying so.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no model file at {source}")
    try:
        payload = torch.load(source, map_location=device, weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"{source} is not a readable deepfm_lite model file "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{source} is not a deepfm_lite model file (no '{FORMAT}' header)")
    if payload.get("version") != VERSION:
        raise ValueError(f"{source} has format version {payload.get('version')}; "
                         f"this deepfm_lite reads version {VERSION}")
    config = dict(json.loads(payload["config"]))
    model = build_model(config.pop("model"), config.pop("field_dims"), **config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"{source}: weights do not fit the saved config: {error}") from None
    model.schema = Schema.from_dict(json.loads(payload["schema"])) if payload["schema"] else None
    return model.to(device).eval()
