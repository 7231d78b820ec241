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

Memory holds one chunk of rows and the vocabularies, never the whole file, and no line longer
than :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES`. Everything is written into a hidden
folder beside ``out_dir`` (``.NAME.deepfm_lite-prepare.PID.HOST.TOKEN.tmp``) that is renamed to
``out_dir`` at the end; an error, Ctrl-C, SIGTERM or SIGHUP removes it, so an interrupted run
leaves nothing behind. SIGKILL cannot be caught: the next ``prepare_file`` into the same folder
removes what such a run left, with a warning. A disk too small for the arrays is refused
before the encoding pass, and a disk that fills up anyway raises :class:`DiskFullError`.

:func:`load_prepared` trusts nothing it reads: the manifest's split names, rows and field
sizes must agree with ``schema.json`` and with every array's shape and type, and each file
with the size and SHA-256 the manifest recorded when it was written.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .atomic import remove_stale_folders, temporary_name, terminating_signals_raise
from .chunks import (
    file_record,
    header_lines,
    progress_bar,
    require_criteo_label,
    scan_source,
    show_progress,
)
from .criteo import CRITEO_X4_MIN_COUNT
from .encoded import EncodedData
from .integrity import (
    ARRAYS,
    DTYPES,
    check_files,
    check_labels,
    check_schema_agrees,
    checked_manifest,
    file_names,
    read_json,
    read_schema,
)
from .passes import SPLIT_NAMES, PreparationJob, build_manifest
from .schema import Schema
from .sources import carriage_return_hint, check_gzip_header, require_regular_file

CHUNK_ROWS = 25_000  # rows parsed at a time; 300k rows peaked at 412 MB (701 MB with 100k)
# Hash buckets per field: 2**24 = 16,777,216, more than the distinct values of any field of the
# Kaggle Criteo file (about 10 million in the largest). Beyond it a table only grows: 39 fields
# at the limit already make 654 million ids (13 GB of training state for LR, 144 GB for DeepFM
# with 10-dimensional embeddings). Ids are int32, far below their 2**31 - 1.
MAX_HASH_BUCKETS = 2**24
DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFullError(OSError):
    """The disk filled up while :func:`prepare_file` wrote (or would not hold the arrays);
    ``filename`` is the folder. Nothing was kept."""


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

    Raises ValueError for bad settings, a malformed line (naming its line number), a line
    longer than :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES`, damaged gzip data, a pipe
    or device instead of a file (it is read two or three times: save it to a file), a file
    without data rows or one without labels (a Criteo ``test.txt``: score it with
    :func:`~deepfm_lite.predict.predict_file`); FileExistsError when ``out_dir`` exists and
    is not an empty directory, or is a symbolic link; :class:`DiskFullError` when the disk
    cannot hold the arrays.
    """
    started = time.perf_counter()
    source, target = Path(path), Path(out_dir)
    fractions = _check_settings(format, label, categorical, numeric, min_count, hash_buckets,
                                split, chunk_rows, rows)
    _check_source_and_target(source, target)
    if target.parent.is_dir():
        remove_stale_folders(target.parent, "prepare")  # left by a prepare that SIGKILL ended
    if format == "criteo":
        require_criteo_label(source)  # Kaggle's test.txt: nothing to learn from
    show = show_progress(progress)
    with progress_bar(show, "scan", source.stat().st_size, "B") as bar:
        scanned = scan_source(source, bar)
    n_rows = max(0, scanned["lines"] - header_lines(source, format))
    n_rows = n_rows if rows is None else min(rows, n_rows)
    if n_rows == 0:
        raise ValueError(f"{source}: no data rows in the file{carriage_return_hint(source)}")
    job = PreparationJob(source, format, label, list(categorical), list(numeric), min_count,
                         hash_buckets, fractions, seed, chunk_rows, n_rows, show)
    target.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(target.parent, job.array_bytes())
    with terminating_signals_raise():
        # mkdir, not mkdtemp: the folder gets the mode any new folder gets (mkdtemp's is 0o700)
        temp = target.parent / temporary_name("prepare", prefix=f".{target.name}.")
        temp.mkdir()
        try:
            schema = job.fit_schema()
            counts = job.write_splits(schema, temp)
            _write_json(temp / "schema.json", schema.to_dict())
            files = {item.name: file_record(item) for item in sorted(temp.iterdir())}
            manifest = build_manifest(job, scanned, schema, counts, files,
                                      time.perf_counter() - started)
            _write_json(temp / "manifest.json", manifest)
            if target.is_dir():
                target.rmdir()  # empty (checked at the start)
            os.replace(temp, target)
        except BaseException as error:  # KeyboardInterrupt and SIGTERM (raised by the guard)
            shutil.rmtree(temp, ignore_errors=True)
            if isinstance(error, OSError) and error.errno in DISK_FULL:
                written = Path(error.filename).name if error.filename else "the arrays"
                raise DiskFullError(error.errno, f"the disk is full ({error.strerror}) while "
                                    f"writing {written}; the arrays need at least "
                                    f"{_size(job.array_bytes())} there; nothing was kept: "
                                    "free some space or prepare into a folder on another disk",
                                    str(target.parent)) from None
            raise
    return manifest


def check_free_space(folder: Path, need: int) -> None:
    """Refuse, before writing, a folder whose disk has less free space than ``need`` bytes."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > free:
        raise DiskFullError(errno.ENOSPC, f"not enough free disk space: the prepared arrays "
                            f"need at least {_size(need)} and {_size(free)} is free; free some "
                            "space or prepare into a folder on another disk", str(folder))


def _size(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


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
            raise ValueError(f"hash_buckets must be at most {MAX_HASH_BUCKETS:,} (2**24 per "
                             "field, more than the distinct values of any Criteo field), got "
                             f"{hash_buckets:,}")
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
    if require_regular_file(source).st_size == 0:  # a pipe is refused, never opened
        raise ValueError(f"{source}: the file is empty (0 bytes)")
    check_gzip_header(source)
    if target.is_symlink():
        link = os.readlink(target)
        if not target.exists():
            raise FileExistsError(f"{target} is a symbolic link to {link}, which does not "
                                  "exist; give a real path for the new directory")
        raise FileExistsError(f"{target} is a symbolic link (to {link}); the new directory "
                              "would replace the link: give the directory's own path, "
                              f"{target.resolve()}, or a new one")
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise FileExistsError(f"{target} already exists; remove it or choose another output "
                              "directory")


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


# ---- loading ---------------------------------------------------------------------------------
def load_prepared(directory: str | os.PathLike, mmap: bool = True,
                  verify: bool = True) -> PreparedArrays:
    """Open a directory :func:`prepare_file` wrote, once it is shown to be what was written.

    With ``mmap=True`` the arrays are memory-mapped (``numpy.load(mmap_mode="c")``: pages are
    read from disk when touched, nothing is copied, and a write would stay private to this
    process) and wrapped as tensors without a copy; ``mmap=False`` reads them into memory.

    Checked before anything is returned: ``manifest.json`` (its split names are ``train``,
    ``valid`` [, ``test``]: no name read from a file leads out of the folder; rows, positives
    and field sizes are numbers), ``schema.json`` against the manifest's fields and
    ``field_dims``, every array's shape and type against the rows the manifest records, and
    each file's size against the manifest's ``files``. ``verify=True`` (the default) also
    checks each file's SHA-256 and every label (0 or 1, as many clicks as the manifest says):
    one read of the folder, about 1 s per GB. A folder of manifest version 1 (written before
    the checksums) loads with a warning that it was not verified.

    Raises FileNotFoundError for a missing directory and ValueError, naming the file and what
    is wrong, for anything else; prepare the folder again to mend it.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"no prepared directory at {folder}")
    manifest = read_json(folder / "manifest.json")
    splits, p_true = checked_manifest(folder / "manifest.json", manifest)
    names = file_names(splits, p_true)
    for name in names:
        if not (folder / name).is_file():
            raise ValueError(f"{folder / name} is missing: not a complete prepared directory")
    schema = read_schema(folder / "schema.json")
    check_schema_agrees(folder, schema, manifest)
    check_files(folder, manifest, names, verify)
    parts = {name: _load_split(folder, name, info["rows"], len(schema.fields), mmap, p_true)
             for name, info in splits.items()}
    if verify:
        for name, part in parts.items():
            check_labels(folder / f"{name}_labels.npy", part.labels.numpy(),
                         splits[name]["positives"])
    return PreparedArrays(schema, parts["train"], parts["valid"], parts.get("test"), manifest,
                          folder)


def _load_split(folder: Path, name: str, rows: int, width: int, mmap: bool,
                oracle: bool) -> EncodedData:
    shapes = {"ids": (rows, width), "values": (rows, width), "labels": (rows,),
              "p_true": (rows,)}
    arrays = {}
    for kind in [*ARRAYS, "p_true"] if oracle else ARRAYS:
        path = folder / f"{name}_{kind}.npy"
        arrays[kind] = _load_array(path, mmap and rows > 0)
        if arrays[kind].shape != shapes[kind] or arrays[kind].dtype != DTYPES[kind]:
            raise ValueError(f"{path}: expected {DTYPES[kind]} of shape {shapes[kind]} (the "
                             f"{rows:,} rows manifest.json records), found "
                             f"{arrays[kind].dtype} of shape {arrays[kind].shape}")
    return EncodedData(*(torch.from_numpy(arrays[kind]) for kind in ARRAYS),
                       arrays.get("p_true"))


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    if not path.is_file():
        raise ValueError(f"{path} is missing: not a complete prepared directory")
    try:
        return np.load(path, mmap_mode="c" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npy array ({error})") from None


def check_prepared_classes(data: PreparedArrays) -> None:
    """Raise ValueError, naming the labels file (or, for a temporary folder, the source file),
    unless every split has both clicks and non-clicks (AUC needs both)."""
    counts = data.manifest["splits"]
    for name, info in counts.items():
        if 0 < info["positives"] < info["rows"]:
            continue
        summary = ", ".join(f"{split} {c['positives']}/{c['rows']}" for split, c in
                            counts.items())
        # a temporary folder (train --data) is gone after the run: name the file it came from
        where = (data.manifest["source"]["path"] if data.owner is not None
                 else data.directory / f"{name}_labels.npy")
        raise ValueError(f"{where}: the {name} split has {info['positives']} positives in "
                         f"{info['rows']} rows: AUC needs both classes. Positives per split: "
                         f"{summary}; prepare more rows")


__all__ = ["prepare_file", "load_prepared", "PreparedArrays", "check_prepared_classes",
           "check_free_space", "read_json", "DiskFullError", "CHUNK_ROWS", "MAX_HASH_BUCKETS"]
