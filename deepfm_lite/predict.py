"""Score a file with a trained model, streaming (issue 14, section 2).

:func:`predict_file` reads a Criteo or CSV file chunk by chunk, encodes each chunk with the
model's saved schema (a value the model never saw gets its field's OOV id, a missing one the
missing id), and writes ``row,probability`` in input order: ``row`` is the data row's place in
the file counted from 1 (the header not counted; for a Kaggle ``train.txt``, its line number).
When the file has labels it also returns AUC and LogLoss; for that it keeps one label and one
probability per row (9 bytes a row), everything else one chunk at a time. A file without labels
(Kaggle's ``test.txt``: 39 columns, or a CSV whose header lacks the label) is scored all the
same, and the summary says ``labelled: False`` with no metrics.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
from torch import nn

from .checkpoint import load as load_model
from .data import Schema
from .data.atomic import terminating_signals_raise
from .data.chunks import criteo_features, progress_bar, read_frames, show_progress
from .data.criteo import CRITEO_INTEGER
from .data.prepared import CHUNK_ROWS, read_json
from .training import predict_proba
from .training.metrics import auc, logloss


def predict_file(model: nn.Module | str | os.PathLike, data: str | os.PathLike, *,
                 format: str = "criteo", out: str | os.PathLike | None = None,
                 prepared: str | os.PathLike | None = None, batch_rows: int = CHUNK_ROWS,
                 progress: bool | None = None) -> dict:
    """Click probabilities for every row of the file ``data``; return a summary.

    ``model``: a path saved by :func:`deepfm_lite.checkpoint.save` or a model. Its schema encodes
    the rows: ``model.schema`` (set by ``checkpoint.load``), or the ``schema.json`` of
    ``prepared``, the directory :func:`~deepfm_lite.data.prepared.prepare_file` wrote for it (both
    given: they must agree). ``format``: as in :func:`~deepfm_lite.data.prepared.prepare_file`
    (for ``criteo`` the integer fields go through the Criteo_x4 recipe when the schema has them
    categorical).

    ``out``: a CSV ``row,probability`` (written to a temporary file beside it and renamed when
    complete); None returns the probabilities as ``result["probability"]`` instead.
    ``batch_rows`` rows are read, encoded and scored at a time.

    Returns ``{"rows", "out", "labelled", "positives", "auc", "logloss"}``; ``labelled`` is
    False and the last three are None when the file has no label column (a Criteo file of 39
    columns, as Kaggle's ``test.txt``), and ``auc`` is None when only one class occurs.
    """
    if format not in ("criteo", "csv"):
        raise ValueError(f"format must be 'criteo' or 'csv', got {format!r}")
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ValueError(f"batch_rows must be an integer >= 1, got {batch_rows!r}")
    if not isinstance(model, nn.Module):
        model = load_model(model)
    schema = _schema_of(model, prepared)
    source = Path(data)
    if not source.is_file():
        raise FileNotFoundError(f"no file at {source}")
    recipe = format == "criteo" and all(
        spec.kind == "categorical" for spec in schema.fields if spec.name in CRITEO_INTEGER)
    target = None if out is None else Path(out)
    scores = _Scores()
    handle, temp = _open_output(target)
    with terminating_signals_raise():
        try:
            with progress_bar(show_progress(progress), "predict", None, "rows") as bar:
                for frame in read_frames(source, format, batch_rows,
                                         label=schema.label if format == "csv" else None,
                                         numeric=[s.name for s in schema.fields
                                                  if s.kind == "numeric"]):
                    features = criteo_features(frame, recipe) if format == "criteo" else frame
                    encoded = schema.transform(features, require_label=False)
                    probs = predict_proba(model, encoded) if len(frame) else np.empty(0)
                    scores.add(frame.index.to_numpy() + 1, probs, encoded.labels, handle)
                    bar.update(len(frame))
            if handle is not None:
                handle.close()
                os.replace(temp, target)
        except BaseException:
            if handle is not None:
                handle.close()
                temp.unlink(missing_ok=True)
            raise
    return scores.summary(source, target)


def _schema_of(model: nn.Module, prepared: str | os.PathLike | None) -> Schema:
    """The schema that encodes rows for ``model`` (see :func:`predict_file`)."""
    own = getattr(model, "schema", None)
    if prepared is not None:
        schema = Schema.from_dict(read_json(Path(prepared) / "schema.json"))
        if own is not None and own.to_dict() != schema.to_dict():
            raise ValueError(f"the model's schema differs from {prepared}/schema.json: the "
                             "model was not trained on that directory")
    elif own is not None:
        schema = own
    else:
        raise ValueError("the model carries no schema: pass prepared=DIR (the prepared "
                         "directory it was trained on), or save it with "
                         "deepfm_lite.checkpoint.save(model, path, schema) and pass the path")
    dims = list(getattr(model, "field_dims", schema.field_dims))
    if dims != schema.field_dims:
        raise ValueError(f"the schema's field sizes {schema.field_dims} do not match the "
                         f"model's field_dims {dims}")
    return schema


def _open_output(target: Path | None):
    """A text file beside ``target`` to be renamed over it when complete, with its path."""
    if target is None:
        return None, None
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; give a file path such as "
                                f"{target / 'scores.csv'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
    handle = open(temp, "w", encoding="ascii", newline="")
    handle.write("row,probability\n")
    return handle, temp


class _Scores:
    """Rows written so far, and the labels and probabilities kept for AUC and LogLoss."""

    def __init__(self) -> None:
        self.rows, self.labels, self.probs, self.labelled = 0, [], [], None

    def add(self, rows: np.ndarray, probs: np.ndarray, labels, handle) -> None:
        if handle is not None:
            # %.9g: every float32 probability is written exactly (sigmoid runs in float32)
            np.savetxt(handle, np.column_stack([rows, probs]), fmt=["%d", "%.9g"],
                       delimiter=",")
        else:
            self.probs.append(probs)
        self.rows += len(rows)
        self.labelled = labels is not None if self.labelled is None else self.labelled
        if labels is not None:
            self.labels.append(labels.numpy().astype(np.uint8))
            if handle is not None:
                self.probs.append(probs)

    def summary(self, source: Path, target: Path | None) -> dict:
        result = {"rows": self.rows, "out": None if target is None else str(target),
                  "labelled": bool(self.labelled), "positives": None, "auc": None,
                  "logloss": None}
        probs = np.concatenate(self.probs) if self.probs else np.empty(0)
        if target is None:
            result["probability"] = probs
        if self.labelled and self.rows:
            labels = np.concatenate(self.labels).astype(np.float64)
            result["positives"] = int(labels.sum())
            result["logloss"] = logloss(labels, probs)
            if 0 < result["positives"] < self.rows:
                result["auc"] = auc(labels, probs)
        return result


__all__ = ["predict_file"]
