"""Score a file with a trained model, streaming (issue 14, section 2).

:func:`predict_file` reads a Criteo or CSV file chunk by chunk, encodes each chunk with the
model's saved schema (a value the model never saw gets its field's OOV id, a missing one the
missing id), and writes ``row,probability`` in input order: ``row`` is the data row's place in
the file counted from 1 (the header not counted; for a Kaggle ``train.txt``, its line number).
When the file has labels it also returns AUC and LogLoss; for that it keeps one label and one
probability per row (9 bytes a row), everything else one chunk at a time. A file without labels
(Kaggle's ``test.txt``: 39 columns, or a CSV whose header lacks the label) is scored all the
same, and the summary says ``labelled: False`` with no metrics.

The rows are prepared as the model's training rows were, by the record its file keeps
(:func:`input_recipe`): a model trained on Criteo data gets ``I1..I13`` through the Criteo_x4
recipe whichever format reads the file. The scores appear whole or not at all: a full disk
leaves no partial file and raises :class:`OutputError` naming ``out``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from .checkpoint import load as load_model
from .checkpoint import prepared_inputs
from .data import Schema
from .data.atomic import keep_mode_of, terminating_signals_raise
from .data.chunks import criteo_features, progress_bar, read_frames, show_progress
from .data.criteo import CRITEO_INTEGER
from .data.prepared import CHUNK_ROWS, read_json
from .data.schema import first_non_number
from .training import predict_proba
from .training.metrics import auc, logloss


class FormatError(ValueError):
    """The format given cannot be prepared as the model's training rows were without guessing
    (see :func:`input_recipe`)."""


class OutputError(OSError):
    """Writing the scores file failed (a full disk, a file-size limit, ...); ``filename`` is the
    file asked for, ``strerror`` the cause. No partial file is left behind."""


def predict_file(model: nn.Module | str | os.PathLike, data: str | os.PathLike, *,
                 format: str = "criteo", out: str | os.PathLike | None = None,
                 prepared: str | os.PathLike | None = None, batch_rows: int = CHUNK_ROWS,
                 progress: bool | None = None) -> dict:
    """Click probabilities for every row of the file ``data``; return a summary.

    ``model``: a path saved by :func:`deepfm_lite.checkpoint.save` or a model. Its schema encodes
    the rows: ``model.schema`` (set by ``checkpoint.load``), or the ``schema.json`` of
    ``prepared``, the directory :func:`~deepfm_lite.data.prepared.prepare_file` wrote for it (both
    given: they must agree). ``format``: how to read ``data``, as in
    :func:`~deepfm_lite.data.prepared.prepare_file`. The rows are prepared as the model's were
    (:func:`input_recipe`): for a model trained on Criteo data, ``I1..I13`` go through the
    Criteo_x4 recipe whichever format reads them.

    ``out``: a CSV ``row,probability`` (written to a temporary file beside it and renamed when
    complete; if writing fails, :class:`OutputError` names ``out`` and no partial file is
    left); None returns the probabilities as ``result["probability"]`` instead.
    ``batch_rows`` rows are read, encoded and scored at a time. A file without data rows (a
    header alone) is refused with ValueError before ``out`` is written.

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
    try:
        recipe = input_recipe(model, format, prepared)
    except FormatError as error:
        raise FormatError(f"format {format!r}: {error}") from None
    source = Path(data)
    if not source.is_file():
        raise FileNotFoundError(f"no file at {source}")
    target = None if out is None else Path(out)
    if target is not None and target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; give a file path such as "
                                f"{target / 'scores.csv'}")
    frames = read_frames(source, format, batch_rows,
                         label=schema.label if format == "csv" else None,
                         numeric=[s.name for s in schema.fields if s.kind == "numeric"])
    first = _first_rows(frames, source, schema, recipe)  # refused here: nothing written yet
    scores, output = _Scores(), None
    with terminating_signals_raise():
        try:
            output = None if target is None else _Output(target)
            with progress_bar(show_progress(progress), "predict", None, "rows") as bar:
                for frame in _chain(first, frames):
                    features = _prepared_rows(frame, source, format, recipe)
                    encoded = schema.transform(features, require_label=False)
                    probs = predict_proba(model, encoded) if len(frame) else np.empty(0)
                    scores.add(frame.index.to_numpy() + 1, probs, encoded.labels, output)
                    bar.update(len(frame))
            if output is not None:
                output.finish()
        except BaseException:
            if output is not None:
                output.discard()
            raise
    return scores.summary(source, target)


def input_recipe(model: nn.Module, format: str, prepared: str | os.PathLike | None = None,
                 name: str = "the model") -> str | None:
    """The recipe (a name from :data:`deepfm_lite.checkpoint.RECIPES`, or None) that prepares a
    ``format`` file's rows for ``model`` as its training rows were prepared.

    The model's inputs record (``model.inputs``, from ``checkpoint.load``; else the manifest of
    ``prepared``) decides, whatever the format: a model trained on Criteo data gets its
    ``I1..I13`` bucketed by the Criteo_x4 recipe from a ``csv`` file too. A model without the
    record (saved by an older deepfm_lite) is taken as before: a ``criteo`` file gets the
    recipe when the schema's ``I1..I13`` are categorical. A ``csv`` file for such a model is
    ambiguous (its raw integers may or may not need the recipe) and refused with
    :class:`FormatError`; ``name`` is how that message names the model.
    """
    record = getattr(model, "inputs", None)
    if record is None and prepared is not None:
        record = prepared_inputs(read_json(Path(prepared) / "manifest.json"))
    if record is not None:
        return record["recipe"]
    schema = _schema_of(model, prepared)
    integers = [spec for spec in schema.fields if spec.name in CRITEO_INTEGER]
    bucketed = bool(integers) and all(spec.kind == "categorical" for spec in integers)
    if format == "csv" and bucketed:
        raise FormatError(f"{name} does not record how its training rows were prepared "
                          "(saved by an older deepfm_lite, or without checkpoint.save's inputs=) "
                          "and its I1..I13 are categorical, as the Criteo_x4 recipe (v > 2 -> "
                          "floor(ln(v)^2)) makes them, so a CSV's raw integers may or may not "
                          "need that recipe; score the file as format criteo (it also reads a "
                          "Criteo CSV with a header, and applies the recipe), or give the "
                          "prepared directory the model was trained on")
    return "criteo_x4" if format == "criteo" and bucketed else None


def _first_rows(frames: Iterator[pd.DataFrame], source: Path, schema: Schema,
                recipe: str | None) -> pd.DataFrame:
    """The first chunk with rows, its columns checked: refused before anything is written."""
    for frame in frames:
        missing = [name for name in schema.field_names if name not in frame.columns]
        if recipe == "criteo_x4":
            missing += [name for name in CRITEO_INTEGER
                        if name not in frame.columns and name not in missing]
        if missing:
            raise ValueError(f"{source}: no column(s) {', '.join(missing)}, which the model "
                             f"reads; the file has {', '.join(map(str, frame.columns))}")
        if len(frame):
            return frame
    raise ValueError(f"{source}: the file has no data rows (a header alone?); nothing to score")


def _prepared_rows(frame: pd.DataFrame, source: Path, format: str,
                   recipe: str | None) -> pd.DataFrame:
    """A chunk as the schema reads it: the recipe applied. A Criteo file's integers were
    checked as it was read; a CSV's are checked here, naming the line of a non-number."""
    if recipe != "criteo_x4":
        return frame
    if format == "csv":
        for name in CRITEO_INTEGER:
            row = first_non_number(frame[name])
            if row is not None:
                raise ValueError(f"{source}: line {int(frame.index[row]) + 2}: integer field "
                                 f"{name!r} holds {frame[name].iloc[row]!r}, not a number")
    return criteo_features(frame, True)


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _schema_of(model: nn.Module, prepared: str | os.PathLike | None) -> Schema:
    """The schema that encodes rows for ``model`` (see :func:`predict_file`)."""
    own = getattr(model, "schema", None)
    if prepared is not None:
        schema = Schema.from_dict(read_json(Path(prepared) / "schema.json"))
        if own is not None and own.to_dict() != schema.to_dict():
            raise ValueError(f"the model's schema differs from {prepared}/schema.json: the "
                             "model was not trained on that directory")
        record = getattr(model, "inputs", None)
        theirs = prepared_inputs(read_json(Path(prepared) / "manifest.json"))
        if record is not None and theirs is not None and record != theirs:
            raise ValueError(f"the model's inputs were prepared as {record} but {prepared} "
                             f"as {theirs}: the model was not trained on that directory")
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


class _Output:
    """The scores CSV, written to a hidden file beside ``target`` and renamed over it when
    complete (keeping the mode of a file it replaces). Any failure to write raises
    :class:`OutputError` naming ``target``; :meth:`discard` always removes the hidden file."""

    def __init__(self, target: Path) -> None:
        self.target, self.handle = target, None
        self.temp = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
        try:
            with self.naming_errors():
                target.parent.mkdir(parents=True, exist_ok=True)
                self.handle = open(self.temp, "x", encoding="ascii", newline="")
                self.handle.write("row,probability\n")
        except BaseException:
            self.discard()
            raise

    @contextlib.contextmanager
    def naming_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            if isinstance(error, OutputError):
                raise
            code = error.errno if error.errno is not None else errno.EIO
            cause = error.strerror or str(error) or type(error).__name__
            raise OutputError(code, cause, str(self.target)) from error

    def write(self, rows: np.ndarray, probs: np.ndarray) -> None:
        with self.naming_errors():
            # %.9g: every float32 probability is written exactly (sigmoid runs in float32)
            np.savetxt(self.handle, np.column_stack([rows, probs]), fmt=["%d", "%.9g"],
                       delimiter=",")

    def finish(self) -> None:
        """Flush to disk and rename over the target."""
        with self.naming_errors():
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            keep_mode_of(self.target, self.temp)
            os.replace(self.temp, self.target)

    def discard(self) -> None:
        """Close and remove the hidden file; closing a file on a full disk raises again (its
        buffer cannot be flushed), which must not keep the file from being removed."""
        try:
            if self.handle is not None:
                self.handle.close()
        except OSError:
            pass  # the error that brought us here is the one to report
        finally:
            with contextlib.suppress(OSError):
                self.temp.unlink(missing_ok=True)


class _Scores:
    """Rows written so far, and the labels and probabilities kept for AUC and LogLoss."""

    def __init__(self) -> None:
        self.rows, self.labels, self.probs, self.labelled = 0, [], [], None

    def add(self, rows: np.ndarray, probs: np.ndarray, labels, output: _Output | None) -> None:
        if output is not None:
            output.write(rows, probs)
        else:
            self.probs.append(probs)
        self.rows += len(rows)
        self.labelled = labels is not None if self.labelled is None else self.labelled
        if labels is not None:
            self.labels.append(labels.numpy().astype(np.uint8))
            if output is not None:
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


__all__ = ["FormatError", "OutputError", "input_recipe", "predict_file"]
