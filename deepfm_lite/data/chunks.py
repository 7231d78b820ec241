"""The streaming pieces behind :mod:`deepfm_lite.data.prepared` and :mod:`deepfm_lite.predict`.

* :func:`scan_source`: one quick pass over the raw bytes for the file's size, SHA-256 and
  number of lines (so the split can be drawn before any row is parsed), refusing a line longer
  than :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES` and damaged gzip data;
* :class:`SplitDrawer`: an exact random split of ``n`` rows, drawn block by block in file order;
* :class:`NpyAppender`: a ``.npy`` file written row block by row block, its header last
  (a write that stops short, as on a full disk, raises OSError ENOSPC); :func:`file_record`:
  a written file's size and SHA-256, which ``manifest.json`` keeps;
* :func:`read_frames`: a Criteo or CSV file as DataFrame chunks, malformed lines named by their
  line number.

Each holds at most one chunk of rows, so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import errno
import gzip
import hashlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from .. import settings
from .criteo import apply_criteo_recipe
from .criteo_reader import read_criteo, sniff_layout
from .schema import first_non_number
from .sources import (
    GZIP_ERRORS,
    MAX_LINE_BYTES,
    LongLineFinder,
    gzip_problem,
    long_line_message,
)

READ_BYTES = 1 << 23  # 8 MiB per read while hashing and counting lines
SPLIT_BLOCK = 1 << 16  # rows whose split is drawn at a time (fixed: the split never depends
#                        on how many rows are parsed at a time)


# ---- the raw file ----------------------------------------------------------------------------
def scan_source(path: Path, progress=None) -> dict:
    """``{"bytes", "sha256", "lines"}`` of ``path`` (lines counted in the text a ``.gz`` holds).

    A last line without a line break counts as a line. ``progress`` is a tqdm bar (or None)
    advanced by the bytes read. Raises ValueError naming the first line longer than
    :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES` (so that no reader holds more of a line
    than that), and a ``.gz`` that is truncated or damaged.
    """
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    gz = path.suffix == ".gz"
    finder = LongLineFinder(path)
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
            if not gz:
                finder.feed(block)
                lines += block.count(b"\n")
                last = block[-1:]
            if progress is not None:
                progress.update(len(block))
    if gz:
        try:
            with gzip.open(path, "rb") as handle:
                while block := handle.read(READ_BYTES):
                    finder.feed(block)
                    lines += block.count(b"\n")
                    last = block[-1:]
        except GZIP_ERRORS as error:
            raise ValueError(gzip_problem(path, error)) from None
    lines += last != b"\n"
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest(), "lines": lines}


def file_record(path: Path) -> dict:
    """``{"bytes", "sha256"}`` of a file written here (``manifest.json`` keeps one per file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def header_lines(path: Path, file_format: str) -> int:
    """Lines before the first data row: 1 for a CSV or a Criteo file with a header, else 0."""
    return int(sniff_layout(path).header) if file_format == "criteo" else 1


def require_criteo_label(path: Path) -> None:
    """Refuse a Criteo file without a label column, such as Kaggle's ``test.txt``: preparing
    (and so training) needs a 0/1 label on every row."""
    layout = sniff_layout(path)
    if not layout.labelled:
        shape = ("its header names no label column" if layout.header else
                 "line 1 has the 39 columns I1..I13, C1..C26 of Kaggle's test.txt")
        raise ValueError(f"{path}: no label column ({shape}); prepare and train need a 0/1 "
                         "label on every row; score this file with predict instead")


# ---- the split -------------------------------------------------------------------------------
def split_sizes(n_rows: int, fractions: Sequence[float]) -> np.ndarray:
    """Rows per part, cut as ``split_frame`` cuts them: ``round(cumsum(fractions) * n)``."""
    bounds = np.round(np.cumsum(fractions)[:-1] * n_rows).astype(np.int64)
    return np.diff(np.concatenate([[0], bounds, [n_rows]]))


class SplitDrawer:
    """Which part (0, 1, ...) each of ``n_rows`` rows goes to: exact sizes, uniformly at random.

    Rows are taken in file order, :data:`SPLIT_BLOCK` at a time: each block draws how many of
    its rows go to each part from the multivariate hypergeometric distribution of the rows
    still unassigned, then shuffles those labels. Every subset of the sizes
    :func:`split_sizes` gives is equally likely, as with one permutation of all rows, but
    memory stays at one block. The same ``seed`` gives the same split whatever the chunk sizes
    the caller asks for.
    """

    def __init__(self, n_rows: int, fractions: Sequence[float], seed: int):
        self.remaining = split_sizes(n_rows, fractions)
        self.rows_left = int(n_rows)
        self.rng = np.random.default_rng(seed)
        self.buffer = np.empty(0, dtype=np.int8)

    def take(self, count: int) -> np.ndarray:
        """The parts of the next ``count`` rows (an int8 array)."""
        while len(self.buffer) < count and self.rows_left:
            self.buffer = np.concatenate([self.buffer, self._block()])
        if len(self.buffer) < count:
            raise ValueError(f"more rows than the {int(self.remaining.sum())} counted")
        parts, self.buffer = self.buffer[:count], self.buffer[count:]
        return parts

    def _block(self) -> np.ndarray:
        size = min(SPLIT_BLOCK, self.rows_left)
        counts = self.rng.multivariate_hypergeometric(self.remaining, size, method="marginals")
        labels = np.repeat(np.arange(len(counts), dtype=np.int8), counts)
        self.rng.shuffle(labels)
        self.remaining -= counts
        self.rows_left -= size
        return labels


# ---- the arrays ------------------------------------------------------------------------------
def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": shape})
    return buffer.getvalue()


class NpyAppender:
    """A ``.npy`` file written in blocks of rows before its length is known.

    NumPy pads a header so that the first axis may grow to 21 digits in place; the header for
    zero rows is written first and the real one over it by :meth:`close` (same length).
    """

    def __init__(self, path: Path, dtype, width: int | None = None):
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self.file = open(path, "wb")
        self.file.write(_header(self.dtype, self._shape()))

    def _shape(self) -> tuple[int, ...]:
        return (self.rows,) if self.width is None else (self.rows, self.width)

    def append(self, array: np.ndarray) -> None:
        block = np.ascontiguousarray(array, dtype=self.dtype)
        if block.shape[1:] != self._shape()[1:]:
            raise ValueError(f"{self.path.name}: rows of shape {block.shape[1:]}, "
                             f"expected {self._shape()[1:]}")
        write_fully(self.file, block, self.path)
        self.rows += len(block)

    def close(self) -> None:
        """Write the final header, flush the file to disk and close it."""
        header = _header(self.dtype, self._shape())
        self.file.seek(0)
        if len(header) != len(_header(self.dtype, (0,) * len(self._shape()))):
            raise AssertionError("the .npy header changed length")  # numpy pads it: never
        self.file.write(header)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


def write_fully(file: BinaryIO, data: np.ndarray | bytes | memoryview, path: Path) -> None:
    """Write all of ``data`` (a contiguous array or bytes) to ``file``, retrying a partial
    write; a write that makes no progress is a full disk: OSError ENOSPC naming ``path``.

    (``ndarray.tofile`` reports a short write as "N requested and M written", with no errno.)
    """
    view = memoryview(data).cast("B")
    while view:
        written = file.write(view)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        view = view[written:]


# ---- progress -------------------------------------------------------------------------------
def show_progress(progress: bool | None) -> bool:
    """None: on when stderr is a terminal and ``settings.progress`` is on."""
    if progress is None:
        return bool(settings.progress and sys.stderr.isatty())
    return bool(progress)


def progress_bar(show: bool, desc: str, total: int, unit: str):
    return settings.progress_bar(total=total, desc=desc, unit=unit, unit_scale=True,
                                 disable=not show, leave=False)


# ---- reading chunks --------------------------------------------------------------------------
def read_frames(path: Path, file_format: str, chunk_rows: int, rows: int | None = None,
                label: str | None = None, numeric: Sequence[str] = ()) -> Iterator[pd.DataFrame]:
    """``path`` as DataFrame chunks of ``chunk_rows`` rows, index running on across chunks.

    ``criteo``: :func:`read_criteo` (a malformed line raises ValueError naming its line).
    ``csv``: ``pandas.read_csv``; the ``label`` (0 or 1) and the ``numeric`` columns (numbers)
    are checked chunk by chunk, and a bad cell raises ValueError naming the file's line (the
    header is line 1; a record is taken to be one line, which :mod:`deepfm_lite.data.prepared`
    checks against the line count).
    """
    if file_format == "criteo":
        yield from read_criteo(path, chunksize=chunk_rows, nrows=rows)
        return
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, nrows=rows, skip_blank_lines=False)
        for frame in reader:
            _check_csv_chunk(path, frame, label, numeric)
            yield frame
    except GZIP_ERRORS as error:
        raise ValueError(gzip_problem(path, error)) from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start} of a "
                         "block); save the file as UTF-8") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path}: {str(error).strip().splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (no header line)") from None


def _check_csv_chunk(path: Path, frame: pd.DataFrame, label: str | None,
                     numeric: Sequence[str]) -> None:
    """Refuse a label other than 0/1 and a non-number in a numeric column, naming the line."""
    if label is not None and label in frame.columns:
        column = frame[label]
        bad = ~pd.to_numeric(column, errors="coerce").isin((0, 1)).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            value = column.iloc[row]
            value = value.item() if hasattr(value, "item") else value  # 2, not np.int64(2)
            said = "is empty" if pd.isna(value) else f"holds {value!r}"
            raise ValueError(f"{path}: line {int(frame.index[row]) + 2}: column {label!r} (the "
                             f"label) {said}; a label must be 0 or 1")
    for name in numeric:
        row = first_non_number(frame[name])
        if row is not None:
            raise ValueError(f"{path}: line {int(frame.index[row]) + 2}: numeric column "
                             f"{name!r} holds {frame[name].iloc[row]!r}, not a number")


def csv_header(path: Path) -> list[str]:
    """The column names on line 1 of a CSV; a name given twice is refused, and so is a line
    longer than :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES`."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            names = next(csv.reader(_bounded_text_lines(handle, path)), [])
    except GZIP_ERRORS as error:
        raise ValueError(gzip_problem(path, error)) from None
    except csv.Error as error:
        raise ValueError(f"{path}: line 1 (header): {error}") from None
    if not names:
        raise ValueError(f"{path}: the file is empty (no header line)")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"{path}: line 1 (header): column(s) {twice} appear twice; every "
                         "column needs its own name")
    return names


def _bounded_text_lines(handle, path: Path) -> Iterator[str]:
    """The lines of a text ``handle`` (``newline=""``), none longer than MAX_LINE_BYTES."""
    for number, line in enumerate(iter(partial(handle.readline, MAX_LINE_BYTES + 1), ""), 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(("\n", "\r")):
            raise ValueError(long_line_message(path, number, line.encode("utf-8", "replace")))
        yield line


def criteo_features(frame: pd.DataFrame, recipe: bool) -> pd.DataFrame:
    """A Criteo chunk as the schema reads it: ``I1..I13`` by the Criteo_x4 recipe if ``recipe``.
    """
    return apply_criteo_recipe(frame) if recipe else frame


__all__ = ["show_progress", "progress_bar", "scan_source", "file_record", "header_lines",
           "require_criteo_label", "split_sizes", "SplitDrawer", "NpyAppender", "write_fully",
           "read_frames", "csv_header", "criteo_features"]
