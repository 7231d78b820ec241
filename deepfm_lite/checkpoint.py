"""Saving and loading trained models with their configuration and fitted schema.

One file holds a plain dictionary of strings and tensors, written with ``torch.save`` and read
back with ``torch.load(weights_only=True)``, so loading never unpickles arbitrary objects.

Beside the config, the weights and the schema, a file records how the model's input rows were
prepared (``inputs``, see :func:`input_record`): the file format it was trained from and the
recipe applied to the raw columns (the Criteo_x4 bucketing of ``I1..I13``), so that
:func:`deepfm_lite.predict.predict_file` prepares new rows the same way. Files saved before this
record existed still load; their ``model.inputs`` is None.

Loading checks the config against the weights before it builds the model: the model is first
built on PyTorch's ``meta`` device (shapes, no memory), so a small file whose config asks for a
huge model is refused without allocating it.

A save is atomic (:mod:`deepfm_lite.data.atomic`): an interrupted save leaves the previous file
intact.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .data import Schema
from .data.atomic import write_atomically
from .models import build_model

FORMAT = "deepfm_lite.model"
VERSION = 1
KEYS = ("format", "version", "config", "schema", "state_dict")  # "inputs" is optional

INPUT_FORMATS = ("criteo", "csv")
# Recipes applied to a file's raw columns before the schema encodes them, by name.
RECIPES = {"criteo_x4": "the Criteo_x4 recipe: I1..I13 become categories, v > 2 -> "
                        "floor(ln(v)^2)"}


def input_record(format: str, recipe: str | None = None) -> dict:
    """How a model's input rows were prepared: ``{"format": ..., "recipe": ...}``.

    ``format``: the file format the rows were read from (``criteo`` or ``csv``; a generated
    data set counts as the format its rows have); ``recipe``: a name from :data:`RECIPES`
    applied to the raw columns before encoding, or None (the columns as they are).
    """
    if format not in INPUT_FORMATS:
        raise ValueError(f"the inputs' format must be one of {', '.join(INPUT_FORMATS)}, "
                         f"got {format!r}")
    if recipe is not None and recipe not in RECIPES:
        raise ValueError(f"unknown input recipe {recipe!r}; this deepfm_lite knows "
                         f"{', '.join(RECIPES)} (or None)")
    return {"format": format, "recipe": recipe}


def inputs_record(data: object, format: str | None = None) -> dict | None:
    """The :func:`input_record` of the data a model was trained on.

    A prepared directory (``data.manifest``, from :func:`~deepfm_lite.data.load_prepared`)
    records its own format (:func:`prepared_inputs`); otherwise ``format`` says it
    (``criteo`` for rows encoded by :func:`~deepfm_lite.data.encode_criteo_splits`, as the
    ``criteo-like`` data set is, which applies the Criteo_x4 recipe). None when neither is
    known.
    """
    manifest = getattr(data, "manifest", None)
    if isinstance(manifest, Mapping):
        return prepared_inputs(manifest)
    if format is None:
        return None
    return input_record(format, "criteo_x4" if format == "criteo" else None)


def prepared_inputs(manifest: Mapping) -> dict | None:
    """The :func:`input_record` of a prepared directory, from its ``manifest.json``:
    :func:`~deepfm_lite.data.prepare_file` applies the Criteo_x4 recipe to a ``criteo`` file
    and keeps a ``csv`` file's columns as they are. None for a manifest without settings."""
    settings = manifest.get("settings")
    format = settings.get("format") if isinstance(settings, Mapping) else None
    if format is None:
        return None
    return input_record(format, "criteo_x4" if format == "criteo" else None)


def save(model: nn.Module, path: str | os.PathLike, schema: Schema | None = None, *,
         inputs: dict | None = None) -> Path:
    """Write ``model`` (its config and weights), the fitted ``schema`` and the ``inputs``
    record (:func:`input_record`) to ``path``.

    ``schema`` and ``inputs`` default to ``model.schema`` and ``model.inputs`` (what
    :func:`load` sets), so a loaded model saves again with both.
    """
    config = getattr(model, "config", None)
    if config is None:
        raise TypeError(f"can only save deepfm_lite models, got {type(model).__name__}")
    if schema is None:
        schema = getattr(model, "schema", None)
    if inputs is None:
        inputs = getattr(model, "inputs", None)
    if inputs is not None:
        if not isinstance(inputs, Mapping):
            raise TypeError(f"inputs must be a dict from input_record, got "
                            f"{type(inputs).__name__}")
        inputs = input_record(inputs.get("format"), inputs.get("recipe"))
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config),
        "schema": json.dumps(schema.to_dict()) if schema is not None else "",
        "inputs": json.dumps(inputs) if inputs is not None else "",
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, lambda file: torch.save(payload, file))
    return target


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save`; its schema (if saved) is ``model.schema``, its
    inputs record ``model.inputs`` (None for a file saved without one).

    A missing file raises ``FileNotFoundError``. Anything else that is not a deepfm_lite model
    file raises ``ValueError`` naming the file and what is wrong: an empty, truncated, damaged
    or foreign file, a missing entry, a config that is not valid JSON or cannot build a model, a
    schema that does not fit the model's ``field_dims``, weights that do not fit the config.
    Every check runs before the model's memory is allocated.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no model file at {source}")
    payload = _read_payload(source, device)
    config = _read_config(source, payload["config"])
    schema = _read_schema(source, payload["schema"])
    inputs = _read_inputs(source, payload.get("inputs", ""))
    state = _read_state(source, payload["state_dict"])
    shape = _build(source, config, device="meta")  # shapes only: no memory yet
    if schema is not None:
        _check_schema_fits(source, schema, shape.field_dims)
    _check_weights_fit(source, shape, state)
    model = _build(source, config)
    _load_weights(source, model, state)
    model.schema = schema
    model.inputs = inputs
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
                         f"({_load_failure(error)})") from None
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


def _load_failure(error: BaseException) -> str:
    """Why ``torch.load`` failed, in a few words: ``TypeName: first sentence`` (just the type
    name for an empty message).

    Safe loading's refusal of a pickled object is said plainly, without torch's advice to load
    with ``weights_only=False``: that would run whatever code the file holds.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # torch colours part of it
    if isinstance(error, pickle.UnpicklingError) or "weights_only" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text)
        held = f"a Python object ({found.group(1)})" if found else "Python objects"
        return (f"damaged, or not a deepfm_lite model file: it holds {held} beyond tensors and "
                "plain values, which safe loading refuses to build")
    lines = text.splitlines()
    if not lines:
        return type(error).__name__
    sentence = re.split(r"(?<=\.)\s", lines[0], maxsplit=1)[0]
    return f"{type(error).__name__}: {sentence[:200]}"


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


def _read_inputs(source: Path, text: object) -> dict | None:
    """The saved inputs record, or None when the file has none (saved before it existed)."""
    if text == "":
        return None
    record = _parse_json(source, "inputs", text)
    if not isinstance(record, dict):
        raise ValueError(f"{source}: the inputs record must be a JSON object, got "
                         f"{type(record).__name__}")
    try:
        return input_record(record.get("format"), record.get("recipe"))
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def _parse_json(source: Path, entry: str, text: object) -> object:
    if not isinstance(text, str):
        raise ValueError(f"{source}: the {entry} entry must be JSON text, "
                         f"got {type(text).__name__}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: the {entry} is not valid JSON ({error})") from None


def _build(source: Path, config: dict, device: str | None = None) -> nn.Module:
    """The model the config describes, with fresh weights (overwritten by the saved ones).

    ``device="meta"`` builds it without memory: its parameters have shapes but no data.
    """
    params = dict(config)
    name, field_dims = params.pop("model"), params.pop("field_dims")
    try:
        if device is None:
            return build_model(name, field_dims, **params)
        with torch.device(device):
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


def _read_state(source: Path, state: object) -> Mapping:
    """The saved weights: a dictionary of tensors, each holding all of its elements."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{source}: state_dict must be a dictionary of tensors, "
                         f"got {type(state).__name__}")
    wrong = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if wrong:
        raise ValueError(f"{source}: state_dict entry {wrong[0]!r} is not a tensor")
    for key, value in state.items():
        # A tensor expanded from a few stored numbers (stride 0) claims a large shape with a
        # small file; every tensor save() writes stores each of its elements.
        stored = value.untyped_storage().nbytes()
        if value.numel() > 1 and stored < value.numel() * value.element_size():
            raise ValueError(f"{source}: state_dict entry {key!r} of shape "
                             f"{list(value.shape)} stores only {stored} bytes; the file is "
                             "damaged or was not written by deepfm_lite.checkpoint.save")
    return state


def _check_weights_fit(source: Path, shape: nn.Module, state: Mapping) -> None:
    """Every weight the config's model has (``shape``, built on the meta device) must be in
    the file with its shape, and nothing else: checked before the real model is built."""
    expected = shape.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [key for key in expected if key in state
             and tuple(state[key].shape) != tuple(expected[key].shape)]
    if not (missing or unexpected or wrong):
        return
    config = shape.config
    described = (f"the config's {config['model']} model (field_dims "
                 f"{_brief(config['field_dims'])})")
    if wrong:
        key = wrong[0]
        problem = (f"{key!r} has shape {list(state[key].shape)} in the file but "
                   f"{list(expected[key].shape)} in {described}")
    elif missing:
        problem = f"{missing[0]!r} of {described} is not in the file"
    else:
        problem = f"{unexpected[0]!r} in the file is not a weight of {described}"
    count = len(missing) + len(unexpected) + len(wrong)
    more = f" (and {count - 1} more)" if count > 1 else ""
    raise ValueError(f"{source}: weights do not fit the saved config: {problem}{more}")


def _brief(values: list) -> str:
    """A list for a message, shortened past 8 entries."""
    if len(values) <= 8:
        return str(values)
    return f"[{', '.join(map(str, values[:8]))}, ... ({len(values)} entries)]"


def _load_weights(source: Path, model: nn.Module, state: Mapping) -> None:
    """Copy the saved tensors (checked by :func:`_check_weights_fit`) into ``model``."""
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{source}: weights do not fit the saved config: "
                         f"{_load_failure(error)}") from None
