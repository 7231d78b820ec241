"""Reading Criteo files: Kaggle's ``train.txt`` (tab-separated, no header), ``test.txt`` (the
same without the label) or a CSV with a header, in chunks if asked, naming the line and column of
any malformed line.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from .criteo import (
    CRITEO_CATEGORICAL,
    CRITEO_COLUMNS,
    CRITEO_FEATURES,
    CRITEO_INTEGER,
    CRITEO_LABEL,
)
from .encoded import TRUE_PROBABILITY
from .sources import (
    GZIP_ERRORS,
    MAX_LINE_BYTES,
    bounded_lines,
    check_gzip_header,
    gzip_problem,
    require_regular_file,
)

READ_BLOCK_LINES = 200_000  # lines parsed at a time when the caller asks for the whole file


@dataclass(frozen=True)
class FileLayout:
    """How a Criteo file is laid out, as told by its first line."""

    delimiter: str
    names: list[str]  # one per column in the file; "Id" for a Kaggle CSV's id column
    header: bool

    @property
    def first_data_line(self) -> int:
        return 2 if self.header else 1

    @property
    def labelled(self) -> bool:
        """Whether the file has a label column (Kaggle's ``test.txt`` has none)."""
        return CRITEO_LABEL in self.names

    def columns_expected(self) -> str:
        """What a line must hold, for the error about a line with another number of columns."""
        first = ", ".join(self.names[:2])
        if self.header or self.labelled:
            return f"{len(self.names)} ({first}, ...)"
        return f"{len(self.names)} ({first}, ...; no label, as on line 1)"


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def sniff_layout(path: Path) -> FileLayout:
    """Tell the Kaggle TSV (no header) from a CSV with a header by the file's first line.

    A first cell that is a column name (``Id``, ``label``, ``I1``, ... in any case) starts a
    header; a data row starts with a label or a count, never with a name. Without a header,
    a first line of 39 columns means the Kaggle ``test.txt`` layout (no label); any other
    count means ``train.txt``'s 40 (a line with another count is then named as malformed).
    """
    require_regular_file(path, "no Criteo file at")
    check_gzip_header(path)
    try:
        with _open(path) as handle:
            first = next(bounded_lines(handle, path), b"")
    except GZIP_ERRORS as error:
        raise ValueError(gzip_problem(path, error)) from None
    if not first:
        raise ValueError(f"{path} is empty: expected Criteo rows (train.txt) or a CSV header")
    if not first.strip():
        raise ValueError(f"{path}: the first line is empty; expected a Criteo row or a header")
    try:
        text = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: line 1 is not UTF-8 text ({error})") from error
    delimiter = "\t" if "\t" in text else ","
    tokens = text.split(delimiter)
    canonical = {name.lower(): name for name in ["Id", *CRITEO_COLUMNS, TRUE_PROBABILITY]}
    if tokens[0].strip().lower() not in canonical:
        unlabelled = len(tokens) == len(CRITEO_FEATURES)
        return FileLayout(delimiter, list(CRITEO_FEATURES if unlabelled else CRITEO_COLUMNS),
                       header=False)
    names = []
    for position, token in enumerate(tokens, start=1):
        name = canonical.get(token.strip().lower())
        if name is None:
            raise ValueError(f"{path}: line 1 (header), column {position}: unexpected column "
                             f"{token!r}; expected [Id,] [label,] I1..I13, C1..C26 [, p_true]")
        if name in names:
            raise ValueError(f"{path}: line 1 (header): column {token!r} appears twice")
        names.append(name)
    absent = [name for name in CRITEO_FEATURES if name not in names]
    if absent:
        raise ValueError(f"{path}: line 1 (header): column(s) {absent} missing")
    return FileLayout(delimiter, names, header=True)


def read_criteo(path: str | os.PathLike, *, chunksize: int | None = None,
                nrows: int | None = None,
                on_bad_lines: str = "error") -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a Criteo file: Kaggle ``train.txt`` or ``test.txt`` (TSV, no header) or a CSV.

    The layout is told from the first line: tabs mean TSV, commas CSV, and a first cell that
    is a column name (``Id``, ``label``, ``I1``, ..., any case) a header, whose columns may come
    in any order (``Id`` is dropped). Without a header, 40 columns on the first line are
    ``train.txt``'s ``label, I1..I13, C1..C26`` and 39 are ``test.txt``'s, without the label;
    every later line must have as many. Integers written as floats (``260.0``) are read as
    integers. A ``.gz`` file is decompressed.

    Returns columns ``label`` (int64), ``I1..I13`` (``Int64``) and ``C1..C26`` (``string``),
    missing values as ``<NA>``, and ``p_true`` (float64) when a CSV header names it (the
    generator's true click probability, as in ``datasets/criteo_like_sample.csv``: kept for the
    oracle, never a feature). ``nrows`` caps the number of rows returned.

    An unlabelled file (39 columns without a header, or a header without ``label``) gives a
    frame with no ``label`` column at all, rather than one full of missing values: a labelled
    file reads exactly as before, and code that needs labels fails on the absent column
    instead of training on made-up ones. ``"label" in df.columns`` tells the two apart;
    :func:`~deepfm_lite.data.prepared.prepare_file` refuses an unlabelled file, and
    :func:`~deepfm_lite.predict.predict_file` scores it without metrics.

    With ``chunksize`` it returns an iterator of DataFrames, each holding the valid rows among
    the next ``chunksize`` lines, so a file larger than memory can be processed chunk by chunk;
    their index runs on across chunks, so ``pd.concat(chunks)`` equals the full read.

    A malformed line (wrong number of columns; a label other than 0/1; an ``I`` value that is not
    an integer, such as ``12x`` or ``3.5``; bytes that are not UTF-8 text) raises ValueError
    naming the file, the line number (1-based, the header counted) and the column. With
    ``on_bad_lines="skip"`` such lines are left out instead, and counted: a warning gives the
    count and the first bad line, and ``df.attrs["skipped_lines"]`` holds the count (per chunk
    when reading in chunks).
    """
    path = Path(path)
    if on_bad_lines not in ("error", "skip"):
        raise ValueError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
    for name, value in (("chunksize", chunksize), ("nrows", nrows)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    layout = sniff_layout(path)
    chunks = _read_chunks(path, layout, chunksize or READ_BLOCK_LINES, nrows, on_bad_lines)
    if chunksize is not None:
        return _warning_chunks(chunks, path)
    frames, skipped = [], []
    for frame, bad in chunks:
        frames.append(frame)
        skipped.extend(bad)
    full = pd.concat(frames) if len(frames) > 1 else frames[0]
    full.attrs["skipped_lines"] = len(skipped)
    _warn_skipped(path, skipped)
    return full


def _warning_chunks(chunks, path: Path) -> Iterator[pd.DataFrame]:
    for frame, bad in chunks:
        _warn_skipped(path, bad)
        yield frame


def _warn_skipped(path: Path, skipped: list[str]) -> None:
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} malformed line(s); first: {skipped[0]}",
                      UserWarning, stacklevel=3)


def _read_chunks(path: Path, layout: FileLayout, block_lines: int, nrows: int | None,
                 on_bad_lines: str) -> Iterator[tuple[pd.DataFrame, list[str]]]:
    """Parse ``block_lines`` lines at a time; yield each block's valid rows and its bad lines.

    No line is read beyond :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES` (a longer one
    raises ValueError naming it); damaged gzip data raises ValueError naming the file.
    """
    try:
        yield from _parse_chunks(path, layout, block_lines, nrows, on_bad_lines)
    except GZIP_ERRORS as error:
        raise ValueError(gzip_problem(path, error)) from None


def _parse_chunks(path: Path, layout: FileLayout, block_lines: int, nrows: int | None,
                  on_bad_lines: str) -> Iterator[tuple[pd.DataFrame, list[str]]]:
    rows_out, yielded = 0, False
    line_number = layout.first_data_line
    with _open(path) as handle:
        source = bounded_lines(handle, path, limit=MAX_LINE_BYTES)
        if layout.header:
            next(source, None)
        while nrows is None or rows_out < nrows:
            lines = list(islice(source, block_lines))
            if not lines:
                break
            frame, bad = _parse_block(lines, line_number, layout, path, on_bad_lines)
            line_number += len(lines)
            if nrows is not None:
                frame = frame.iloc[: nrows - rows_out]
            frame.index = pd.RangeIndex(rows_out, rows_out + len(frame))
            frame.attrs["skipped_lines"] = len(bad)
            rows_out += len(frame)
            yielded = True
            yield frame, bad
    if not yielded:  # a file with a header and no rows: one empty, typed frame
        empty, _ = _parse_block([], line_number, layout, path, on_bad_lines)
        empty.attrs["skipped_lines"] = 0
        yield empty, []


def _parse_block(lines: list[bytes], first_line: int, layout: FileLayout, path: Path,
                 on_bad_lines: str) -> tuple[pd.DataFrame, list[str]]:
    """Turn raw lines into a normalised frame; find malformed lines with their line numbers."""
    delimiter = layout.delimiter.encode()
    expected = len(layout.names)
    found = np.fromiter((line.count(delimiter) + 1 for line in lines), dtype=np.int64,
                        count=len(lines))
    problems: dict[int, str] = {}  # line index in block -> what is wrong
    for index in np.flatnonzero(found != expected):
        inner_return = b"\r" in lines[index].rstrip(b"\r\n")  # lines ending in \r alone?
        problems[int(index)] = (f"found {found[index]} columns, expected "
                                f"{layout.columns_expected()}" + (
                                    "; the line holds carriage returns (\\r): do the file's "
                                    "lines end with \\r alone (old Mac style)? convert them to "
                                    "\\n, e.g. with tr '\\r' '\\n'" if inner_return else ""))
    good = np.flatnonzero(found == expected)
    try:
        frame, bad_rows = _read_normalised(b"".join(lines[i] for i in good), layout)
    except UnicodeDecodeError:  # rare: find the lines that are not UTF-8, parse the others
        for index in good:
            message = _not_utf8(lines[index], layout)
            if message:
                problems[int(index)] = message
        good = np.array([i for i in good if int(i) not in problems], dtype=np.int64)
        frame, bad_rows = _read_normalised(b"".join(lines[i] for i in good), layout)
    for row, message in bad_rows.items():
        problems.setdefault(int(good[row]), message)
    if problems and on_bad_lines == "error":
        index = min(problems)
        raise ValueError(f"{path}: line {first_line + index}: {problems[index]}")
    if bad_rows:
        keep = np.ones(len(frame), dtype=bool)
        keep[list(bad_rows)] = False
        frame = frame[keep]
    skipped = [f"line {first_line + index}: {problems[index]}" for index in sorted(problems)]
    return frame, skipped


def _read_normalised(payload: bytes, layout: FileLayout) -> tuple[pd.DataFrame, dict[int, str]]:
    """:func:`_read_block` then :func:`_normalise`; UnicodeDecodeError goes to the caller."""
    try:  # the fast way: the C parser reads label and I* as numbers
        frame, bad_rows = _normalise(_read_block(payload, layout, typed=True))
        if not bad_rows:
            return frame, bad_rows
    except UnicodeDecodeError:
        raise
    except ValueError:  # some cell is not a number at all
        pass
    # read the block again as text, to name each bad cell as it is written
    return _normalise(_read_block(payload, layout, typed=False))


def _not_utf8(line: bytes, layout: FileLayout) -> str | None:
    """What is wrong with ``line`` if it is not UTF-8 text (naming the column), else None."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        position = line[: error.start].count(layout.delimiter.encode())
        column = layout.names[min(position, len(layout.names) - 1)]
        return (f"column {column}: byte 0x{line[error.start]:02x} is not UTF-8 text; "
                "save the file as UTF-8")
    return None


def _read_block(payload: bytes, layout: FileLayout, typed: bool) -> pd.DataFrame:
    """Parse joined lines. ``typed`` reads label and I* as floats (fast; fails on a non-number,
    e.g. "12x" or "nan"); otherwise every cell stays text."""
    if not payload:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in layout.names})
    numeric = [CRITEO_LABEL, *CRITEO_INTEGER, TRUE_PROBABILITY]
    if typed:
        options = {"dtype": {name: "float64" if name in numeric else str for name in layout.names},
                   "keep_default_na": False, "na_values": {name: [""] for name in numeric}}
    else:
        options = {"dtype": str, "na_filter": False}
    return pd.read_csv(io.BytesIO(payload), sep=layout.delimiter, header=None,
                       names=layout.names, quoting=csv.QUOTE_NONE, engine="c", **options)


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's numbers (NaN where not a number) and where it is empty."""
    if pd.api.types.is_float_dtype(column):
        numbers = column.to_numpy(dtype=np.float64)
        return numbers, np.isnan(numbers)
    empty = (column == "").to_numpy(dtype=bool)
    numbers = pd.to_numeric(column.where(~empty, "nan"), errors="coerce")
    return numbers.to_numpy(dtype=np.float64), empty


def _normalise(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """Typed columns ``[label,] I1..I13, C1..C26`` and, per bad row, its first bad column."""
    bad: dict[int, str] = {}
    columns: dict[str, object] = {}
    if CRITEO_LABEL in raw.columns:  # test.txt has none
        label, _ = _numbers(raw[CRITEO_LABEL])
        is_label = np.isin(label, (0.0, 1.0))
        for row in np.flatnonzero(~is_label):
            bad.setdefault(int(row),
                           f"column label: {raw[CRITEO_LABEL].iloc[row]!r} is not 0 or 1")
        columns[CRITEO_LABEL] = np.where(is_label, label, 0).astype(np.int64)
    for name in CRITEO_INTEGER:
        numbers, empty = _numbers(raw[name])
        with np.errstate(invalid="ignore"):
            wrong = ~empty & (~np.isfinite(numbers) | (np.mod(numbers, 1) != 0)
                              | (np.abs(numbers) > 2.0**53))
        for row in np.flatnonzero(wrong):
            bad.setdefault(int(row), f"column {name}: {raw[name].iloc[row]!r} is not an integer")
        missing = empty | wrong
        columns[name] = pd.arrays.IntegerArray(
            np.where(missing, 0, numbers).astype(np.int64), missing)
    for name in CRITEO_CATEGORICAL:
        values = raw[name].to_numpy(dtype=object, copy=True)
        values[values == ""] = None
        columns[name] = pd.array(values, dtype="string")
    if TRUE_PROBABILITY in raw.columns:
        numbers, _ = _numbers(raw[TRUE_PROBABILITY])
        with np.errstate(invalid="ignore"):
            wrong = ~((numbers >= 0) & (numbers <= 1))
        for row in np.flatnonzero(wrong):
            value = raw[TRUE_PROBABILITY].iloc[row]
            bad.setdefault(int(row), f"column {TRUE_PROBABILITY}: {value!r} is not a probability")
        columns[TRUE_PROBABILITY] = np.where(wrong, np.nan, numbers)
    return pd.DataFrame(columns), bad
