"""Saving and loading trained models with their configuration and fitted schema.

One file holds a plain dictionary of strings and tensors, written with ``torch.save`` and read
back with ``torch.load(weights_only=True)``, so loading never unpickles arbitrary objects.

A save is atomic (:mod:`deepfm_lite.data.atomic`): an interrupted save leaves the previous file
intact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .data import Schema
from .data.atomic import write_atomically
from .models import build_model

FORMAT = "deepfm_lite.model"
VERSION = 1
KEYS = ("format", "version", "config", "schema", "state_dict")


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
    write_atomically(target, lambda file: torch.save(payload, file))
    return target


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save`; its schema (if saved) is ``model.schema``.

    A missing file raises ``FileNotFoundError``. Anything else that is not a deepfm_lite model
    file raises ``ValueError`` naming the file and what is wrong: an empty, truncated or
    foreign file, a missing entry, a config that is not valid JSON or cannot build a model, a
    schema that does not fit the model's ``field_dims``, weights that do not fit the config.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no model file at {source}")
    payload = _read_payload(source, device)
    config = _read_config(source, payload["config"])
    schema = _read_schema(source, payload["schema"])
    model = _build(source, config)
    if schema is not None:
        _check_schema_fits(source, schema, model.field_dims)
    _load_weights(source, model, payload["state_dict"])
    model.schema = schema
    return model.to(device).eval()


def _read_payload(source: Path, device: str | torch.device) -> dict:
    """The file's dictionary, its header and entries checked (safe loading: weights only)."""
    if source.stat().st_size == 0:
        raise ValueError(f"{source} is not a readable deepfm_lite model file (it is empty, "
                         "0 bytes: was its save interrupted?)")
    try:
        payload = torch.load(source, map_location=device, weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"{source} is not a readable deepfm_lite model file "
                         f"({_first_line(error)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{source} is not a deepfm_lite model file (no '{FORMAT}' header)")
    if payload.get("version") != VERSION:
        raise ValueError(f"{source} has format version {payload.get('version')!r}; "
                         f"this deepfm_lite reads version {VERSION}")
    missing = [key for key in KEYS if key not in payload]
    if missing:
        raise ValueError(f"{source} is an incomplete deepfm_lite model file: no "
                         f"{', '.join(repr(key) for key in missing)} entry")
    return payload


def _first_line(error: BaseException) -> str:
    """``TypeName: first line of the message`` (just the type name for an empty message)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def _read_config(source: Path, text: object) -> dict:
    """The saved config: a JSON object naming the model and its ``field_dims``."""
    config = _parse_json(source, "config", text)
    if not isinstance(config, dict):
        raise ValueError(f"{source}: the config must be a JSON object, got "
                         f"{type(config).__name__}")
    missing = [key for key in ("model", "field_dims") if key not in config]
    if missing:
        raise ValueError(f"{source}: the config has no {' or '.join(map(repr, missing))}")
    if not isinstance(config["model"], str):
        raise ValueError(f"{source}: the config's model must be a name, "
                         f"got {config['model']!r}")
    dims = config["field_dims"]
    if not (isinstance(dims, list) and dims and all(_is_size(d) for d in dims)):
        raise ValueError(f"{source}: the config's field_dims must be a non-empty list of "
                         f"integers >= 1, got {dims!r}")
    return config


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _read_schema(source: Path, text: object) -> Schema | None:
    """The saved schema, or None when the model was saved without one (``""``)."""
    if text == "":
        return None
    try:
        return Schema.from_dict(_parse_json(source, "schema", text))
    except ValueError as error:
        raise ValueError(f"{source}: the saved schema is unusable: {error}") from None


def _parse_json(source: Path, entry: str, text: object) -> object:
    if not isinstance(text, str):
        raise ValueError(f"{source}: the {entry} entry must be JSON text, "
                         f"got {type(text).__name__}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: the {entry} is not valid JSON ({error})") from None


def _build(source: Path, config: dict) -> nn.Module:
    """The model the config describes, with fresh weights (overwritten by the saved ones)."""
    params = dict(config)
    name, field_dims = params.pop("model"), params.pop("field_dims")
    try:
        return build_model(name, field_dims, **params)
    except (ValueError, TypeError, RuntimeError) as error:  # RuntimeError: e.g. a width < 0
        raise ValueError(f"{source}: its config cannot build a model: {error}") from None


def _check_schema_fits(source: Path, schema: Schema, field_dims: tuple[int, ...]) -> None:
    """The schema must give every field the number of ids the model's table has for it."""
    if len(schema.fields) != len(field_dims):
        raise ValueError(f"{source}: the schema has {len(schema.fields)} fields but the model's "
                         f"field_dims has {len(field_dims)}")
    for spec, size in zip(schema.fields, field_dims):
        if spec.size != size:
            raise ValueError(f"{source}: field {spec.name!r} has {spec.size} ids in the schema "
                             f"but {size} in the model's field_dims; the two do not belong "
                             "together")


def _load_weights(source: Path, model: nn.Module, state: object) -> None:
    """Copy the saved tensors into ``model``; every name and shape must match."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{source}: state_dict must be a dictionary of tensors, "
                         f"got {type(state).__name__}")
    wrong = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if wrong:
        raise ValueError(f"{source}: state_dict entry {wrong[0]!r} is not a tensor")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{source}: weights do not fit the saved config: {error}") from None
