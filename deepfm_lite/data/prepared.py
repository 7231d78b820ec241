"""Prepare a large file once, then train from memory-mapped arrays (issue 14, sections 1 and 2).

:func:`prepare_file` streams a Criteo or CSV file in chunks and writes, per split, int32 ids,
float32 values and float32 labels as ``.npy`` files, with ``schema.json`` (a normal
:class:`~deepfm_lite.data.Schema`) and ``manifest.json``. :func:`load_prepared` opens them with
memory mapping, as :class:`~deepfm_lite.data.EncodedData` that ``fit``, ``evaluate`` and
``predict_proba`` take as they are.

Passes over the file: a byte pass (size, SHA-256, line count: the split is drawn from the row
count before any row is parsed, :class:`~deepfm_lite.data.chunks.SplitDrawer`), then

* vocabularies (``min_count``): a parsing pass counting categories and numeric moments on the
  training rows only (``Schema.fit_stream``), and an encoding pass writing the arrays;
* hashing (``hash_buckets=N``): the encoding pass alone (plus a moments pass when a CSV has
  numeric fields); every value goes to one of ``N`` ids per field, nothing is counted.

Memory holds one chunk of rows and the vocabularies, never the whole file. Everything is
written into a hidden folder beside ``out_dir`` that is renamed to ``out_dir`` at the end; an
error, Ctrl-C or SIGTERM removes it, so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .atomic import terminating_signals_raise
from .chunks import (
    header_lines,
    progress_bar,
    require_criteo_label,
    scan_source,
    show_progress,
)
from .criteo import CRITEO_X4_MIN_COUNT
from .encoded import EncodedData
from .passes import FORMAT, SPLIT_NAMES, VERSION, PreparationJob, build_manifest
from .schema import Schema

CHUNK_ROWS = 25_000  # rows parsed at a time; 300k rows peaked at 412 MB (701 MB with 100k)
MAX_HASH_BUCKETS = 2**31 - 3  # ids are int32: 2 reserved ids + buckets must fit
ARRAYS = ("ids", "values", "labels")


@dataclass
class PreparedArrays:
    """A prepared directory opened by :func:`load_prepared`.

    ``test`` is None for a two-way split (``90/10``, the paper's): its second part is
    ``valid``, the rows held out from training.
    """

    schema: Schema
    train: EncodedData
    valid: EncodedData
    test: EncodedData | None
    manifest: dict
    directory: Path
    owner: object = field(default=None, repr=False)  # e.g. a TemporaryDirectory to keep alive

    @property
    def field_dims(self) -> list[int]:
        return self.schema.field_dims

    @property
    def splits(self) -> dict[str, EncodedData]:
        """The splits present, by name, in order."""
        names = ("train", "valid", "test")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


# ---- preparing -------------------------------------------------------------------------------
def prepare_file(path: str | os.PathLike, out_dir: str | os.PathLike, *, format: str = "criteo",
                 label: str | None = None, categorical: Sequence[str] = (),
                 numeric: Sequence[str] = (), min_count: int = CRITEO_X4_MIN_COUNT,
                 hash_buckets: int | None = None, split: Sequence[float] = (0.9, 0.1),
                 seed: int = 0, chunk_rows: int = CHUNK_ROWS, rows: int | None = None,
                 progress: bool | None = None) -> dict:
    """Encode the file ``path`` into the new directory ``out_dir``; return its manifest.

    ``format="criteo"``: Kaggle ``train.txt`` or a Criteo CSV with a header (as
    :func:`~deepfm_lite.data.read_criteo` reads them); ``I1..I13`` become categories by
    the Criteo_x4 recipe (``v > 2 -> floor(ln(v)^2)``), so all 39 fields are categorical.
    ``format="csv"``: a CSV with a header, ``label`` (0/1) required; ``categorical`` and
    ``numeric`` name the fields (both empty: inferred from the first chunk, float columns
    numeric); numeric fields are standardised by the training rows' mean and standard
    deviation, as :class:`~deepfm_lite.data.Schema` does. A ``p_true`` column is stored for the
    oracle, never used as a feature.

    Categories seen fewer than ``min_count`` times in the training rows map to the field's OOV
    id; ``hash_buckets=N`` instead hashes every value into ``N`` ids per field (one pass,
    ``min_count`` must stay at its default). ``split``: two or three fractions (train, valid[,
    test]) drawn at random by ``seed`` with exact sizes; ``rows`` keeps the first rows only.
    ``progress``: a bar with rows per second; None shows it when stderr is a terminal (and
    ``deepfm_lite.settings.progress`` is on).

    Raises ValueError for bad settings, a malformed line (naming its line number), a file
    without data rows or one without labels (a Criteo ``test.txt``: score it with
    :func:`~deepfm_lite.predict.predict_file`); FileExistsError when ``out_dir`` exists and
    is not an empty directory.
    """
    started = time.perf_counter()
    source, target = Path(path), Path(out_dir)
    fractions = _check_settings(format, label, categorical, numeric, min_count, hash_buckets,
                                split, chunk_rows, rows)
    _check_source_and_target(source, target)
    if format == "criteo":
        require_criteo_label(source)  # Kaggle's test.txt: nothing to learn from
    show = show_progress(progress)
    with progress_bar(show, "scan", source.stat().st_size, "B") as bar:
        scanned = scan_source(source, bar)
    n_rows = max(0, scanned["lines"] - header_lines(source, format))
    n_rows = n_rows if rows is None else min(rows, n_rows)
    if n_rows == 0:
        raise ValueError(f"{source}: no data rows in the file")
    job = PreparationJob(source, format, label, list(categorical), list(numeric), min_count,
                         hash_buckets, fractions, seed, chunk_rows, n_rows, show)
    target.parent.mkdir(parents=True, exist_ok=True)
    with terminating_signals_raise():
        # mkdir, not mkdtemp: the folder gets the mode any new folder gets (mkdtemp's is 0o700)
        temp = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
        temp.mkdir()
        try:
            schema = job.fit_schema()
            counts = job.write_splits(schema, temp)
            manifest = build_manifest(job, scanned, schema, counts, time.perf_counter() - started)
            _write_json(temp / "schema.json", schema.to_dict())
            _write_json(temp / "manifest.json", manifest)
            if target.is_dir():
                target.rmdir()  # empty (checked at the start)
            os.replace(temp, target)
        except BaseException:  # KeyboardInterrupt and SIGTERM (raised by the guard) included
            shutil.rmtree(temp, ignore_errors=True)
            raise
    return manifest


def _check_settings(file_format, label, categorical, numeric, min_count, hash_buckets, split,
                    chunk_rows, rows) -> list[float]:
    """Refuse settings that cannot work, naming the argument; return the split fractions."""
    if file_format not in ("criteo", "csv"):
        raise ValueError(f"format must be 'criteo' or 'csv', got {file_format!r}")
    if file_format == "criteo" and (label or categorical or numeric):
        raise ValueError("label, categorical and numeric go with format='csv'; a Criteo file's "
                         "columns are fixed (label, I1..I13, C1..C26)")
    if file_format == "csv" and not label:
        raise ValueError("format='csv' needs label=COLUMN (0/1)")
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise ValueError(f"fields listed as both categorical and numeric: {both}")
    if label and (label in categorical or label in numeric):
        raise ValueError(f"the label column {label!r} is also named as a feature")
    for name, value, low in (("min_count", min_count, 1), ("chunk_rows", chunk_rows, 1),
                             ("rows", rows, 1), ("hash_buckets", hash_buckets, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if hash_buckets is not None:
        if hash_buckets > MAX_HASH_BUCKETS:
            raise ValueError(f"hash_buckets must be at most {MAX_HASH_BUCKETS} (int32 ids), "
                             f"got {hash_buckets}")
        if min_count != CRITEO_X4_MIN_COUNT:
            raise ValueError("min_count goes with vocabularies; hash_buckets keeps every value "
                             "(leave min_count at its default)")
    fractions = [float(f) for f in split]
    if (len(fractions) not in SPLIT_NAMES or any(not f > 0 for f in fractions)
            or not math.isclose(sum(fractions), 1.0)):
        raise ValueError(f"split must be 2 or 3 positive fractions summing to 1 (train, valid"
                         f"[, test]), e.g. (0.9, 0.1) or (0.8, 0.1, 0.1); got {tuple(split)}")
    return fractions


def _check_source_and_target(source: Path, target: Path) -> None:
    if not source.is_file():
        raise FileNotFoundError(f"no file at {source}")
    if source.stat().st_size == 0:
        raise ValueError(f"{source}: the file is empty (0 bytes)")
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise FileExistsError(f"{target} already exists; remove it or choose another output "
                              "directory")


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")


# ---- loading ---------------------------------------------------------------------------------
def load_prepared(directory: str | os.PathLike, mmap: bool = True) -> PreparedArrays:
    """Open a directory :func:`prepare_file` wrote.

    With ``mmap=True`` the arrays are memory-mapped (``numpy.load(mmap_mode="c")``: pages are
    read from disk when touched, nothing is copied, and a write would stay private to this
    process) and wrapped as tensors without a copy; ``mmap=False`` reads them into memory.
    Raises FileNotFoundError for a missing directory and ValueError, naming the file, for one
    that is not a complete prepared directory.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"no prepared directory at {folder}")
    manifest = read_json(folder / "manifest.json")
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{folder / 'manifest.json'}: not a deepfm_lite prepared manifest "
                         f"(format {FORMAT!r}, version {VERSION})")
    schema = Schema.from_dict(read_json(folder / "schema.json"))
    parts = {name: _load_split(folder, name, info["rows"], len(schema.fields), mmap,
                               manifest.get("p_true", False))
             for name, info in manifest["splits"].items()}
    return PreparedArrays(schema, parts["train"], parts["valid"], parts.get("test"), manifest,
                          folder)


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: not a complete prepared directory") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None


def _load_split(folder: Path, name: str, rows: int, width: int, mmap: bool,
                oracle: bool) -> EncodedData:
    shapes = {"ids": (rows, width), "values": (rows, width), "labels": (rows,)}
    dtypes = {"ids": np.int32, "values": np.float32, "labels": np.float32}
    arrays = {}
    for kind in ARRAYS:
        arrays[kind] = _load_array(folder / f"{name}_{kind}.npy", mmap and rows > 0)
        if arrays[kind].shape != shapes[kind] or arrays[kind].dtype != dtypes[kind]:
            raise ValueError(f"{folder / f'{name}_{kind}.npy'}: expected {dtypes[kind].__name__} "
                             f"of shape {shapes[kind]}, found {arrays[kind].dtype} of shape "
                             f"{arrays[kind].shape}")
    p_true = _load_array(folder / f"{name}_p_true.npy", mmap and rows > 0) if oracle else None
    return EncodedData(*(torch.from_numpy(arrays[kind]) for kind in ARRAYS), p_true)


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    if not path.is_file():
        raise ValueError(f"{path} is missing: not a complete prepared directory")
    return np.load(path, mmap_mode="c" if mmap else None)


def check_prepared_classes(data: PreparedArrays) -> None:
    """Raise ValueError unless every split has both clicks and non-clicks (AUC needs both)."""
    counts = data.manifest["splits"]
    for name, info in counts.items():
        if 0 < info["positives"] < info["rows"]:
            continue
        summary = ", ".join(f"{split} {c['positives']}/{c['rows']}" for split, c in
                            counts.items())
        raise ValueError(f"the {name} split of {data.directory} has {info['positives']} "
                         f"positives in {info['rows']} rows: AUC needs both classes. "
                         f"Positives per split: {summary}; prepare more rows")


__all__ = ["prepare_file", "load_prepared", "PreparedArrays", "check_prepared_classes",
           "CHUNK_ROWS"]
