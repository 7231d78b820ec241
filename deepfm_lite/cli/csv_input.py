"""Reading a learner's CSV for ``train --format csv``, with errors that name the file's line.

The rows are shuffled into splits before they are encoded, so an error found while encoding
could only name a row of a split. This module checks the file as it was read instead: the header
(empty file, duplicated names), the label (0/1 on every row) and the ``--numeric`` columns, and
names the line of the file (1-based, the header being line 1), the column and the argument.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data import GROUND_TRUTH_COLUMNS, infer_fields
from ..data.schema import first_non_number
from ..data.sources import GZIP_ERRORS, MAX_LINE_BYTES, bounded_lines, gzip_problem
from .errors import UsageError


@dataclass
class UserCsv:
    """A CSV read for training: its rows, the chosen features, and notes for the learner."""

    frame: pd.DataFrame
    categorical: list[str]
    numeric: list[str]
    notes: list[str] = field(default_factory=list)


def read_user_csv(path: Path, label: str, categorical: Sequence[str] | None = None,
                  numeric: Sequence[str] | None = None, nrows: int | None = None) -> UserCsv:
    """Read ``path`` and choose its features; raise :class:`UsageError` naming what is wrong.

    Without ``categorical`` and ``numeric`` the features are inferred (float columns numeric,
    the rest categorical) and ground-truth columns such as ``p_true`` are left out, with a note.
    """
    _check_header(path, label, categorical, numeric)
    frame = _read_rows(path, nrows)
    if frame.empty:
        raise UsageError(f"--data {path}: the header has no data rows under it")
    _check_labels(path, frame, label)
    notes: list[str] = []
    if categorical is None and numeric is None:
        categorical, numeric, left_out = infer_fields(frame, label)
        notes = [_left_out_note(name) for name in left_out]
    categorical, numeric = list(categorical or []), list(numeric or [])
    _check_numbers(path, frame, numeric)
    return UserCsv(frame, categorical, numeric, notes)


def streamed_csv_fields(path: Path, label: str, categorical: Sequence[str] | None = None,
                        numeric: Sequence[str] | None = None
                        ) -> tuple[list[str], list[str], list[str]]:
    """The header checks of :func:`read_user_csv` for a file that is not read whole (it streams
    through ``prepare``, which checks every row and names the line). Returns ``(categorical,
    numeric, notes)``; both lists are empty to let ``prepare`` infer them from its first chunk,
    and the notes say which ground-truth columns that leaves out. Line 1 longer than
    :data:`~deepfm_lite.data.sources.MAX_LINE_BYTES` is refused before pandas reads it (a file
    whose lines end with ``\\r`` alone would be one line of the whole file)."""
    _check_first_line(path)
    header = _check_header(path, label, categorical, numeric)
    notes = []
    if categorical is None and numeric is None:
        notes = [_left_out_note(name) for name in header
                 if name in GROUND_TRUTH_COLUMNS and name != label]
    return list(categorical or []), list(numeric or []), notes


def _check_header(path: Path, label: str, categorical: Sequence[str] | None,
                  numeric: Sequence[str] | None) -> list[str]:
    """The header of ``path``, checked against ``--label``, ``--categorical``, ``--numeric``."""
    header = _header(path)
    if label not in header:
        raise UsageError(f"--label {label!r} is not a column of {path}; columns: "
                         f"{', '.join(header)}")
    _check_named_columns(path, header, label, categorical, numeric)
    return header


def _left_out_note(name: str) -> str:
    return (f"left out {name}: {GROUND_TRUTH_COLUMNS[name]} (name it in --numeric to use it "
            "anyway; --categorical/--numeric choose the columns)")


def _check_first_line(path: Path) -> None:
    """Refuse a first line longer than MAX_LINE_BYTES, reading no more of it than that."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            next(bounded_lines(handle, path, limit=MAX_LINE_BYTES), None)
    except GZIP_ERRORS as error:
        raise UsageError(f"--data {gzip_problem(path, error)}") from None
    except ValueError as error:
        raise UsageError(f"--data {error}") from None


def _header(path: Path) -> list[str]:
    """The column names of line 1; refuse an empty file and duplicated names."""
    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except GZIP_ERRORS as error:
        raise UsageError(f"--data {gzip_problem(path, error)}") from None
    except pd.errors.EmptyDataError:
        raise UsageError(f"--data {path}: the file is empty (no header line)") from None
    except UnicodeDecodeError as error:
        raise UsageError(_encoding_message(path, error)) from None
    except pd.errors.ParserError as error:
        raise UsageError(f"--data {path}: {_first_line(error)}") from None
    seen: dict[str, int] = {}
    for position, name in enumerate(first.iloc[0].tolist(), start=1):
        if name in seen:
            raise UsageError(f"{path}: line 1 (header): column {name!r} appears twice (columns "
                             f"{seen[name]} and {position}); every column needs its own name")
        seen[name] = position
    return [str(name) for name in pd.read_csv(path, nrows=0).columns]  # as pandas names them


def _check_named_columns(path: Path, header: list[str], label: str,
                         categorical: Sequence[str] | None,
                         numeric: Sequence[str] | None) -> None:
    both = set(categorical or []) & set(numeric or [])
    if both:
        raise UsageError(f"--categorical and --numeric both name {sorted(both)}; choose one")
    for argument, names in (("--categorical", categorical), ("--numeric", numeric)):
        for name in names or []:
            if name == label:
                raise UsageError(f"{argument} names the label column {label!r}: a label cannot "
                                 "be a feature (the model would read the answer)")
            if name not in header:
                raise UsageError(f"{argument}: column {name!r} is not in {path}; columns: "
                                 f"{', '.join(header)}")


def _read_rows(path: Path, nrows: int | None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, nrows=nrows)
    except GZIP_ERRORS as error:
        raise UsageError(f"--data {gzip_problem(path, error)}") from None
    except UnicodeDecodeError as error:
        raise UsageError(_encoding_message(path, error)) from None
    except pd.errors.ParserError as error:
        raise UsageError(f"--data {path}: {_first_line(error)}") from None


def _check_labels(path: Path, frame: pd.DataFrame, label: str) -> None:
    numbers = pd.to_numeric(frame[label], errors="coerce")
    bad = ~numbers.isin((0, 1)).to_numpy()
    if bad.any():
        row = int(bad.argmax())
        value = frame[label].iloc[row]
        said = "is empty" if pd.isna(value) else f"holds {_cell(value)}"
        raise UsageError(f"{path}: {_where(path, row)}, column {label!r} (the --label) {said}; "
                         "a label must be 0 or 1")


def _check_numbers(path: Path, frame: pd.DataFrame, numeric: Sequence[str]) -> None:
    for name in numeric:
        row = first_non_number(frame[name])
        if row is not None:
            raise UsageError(f"{path}: {_where(path, row)}, column {name!r} (--numeric) holds "
                             f"{_cell(frame[name].iloc[row])}, not a number")


def _cell(value) -> str:
    """A cell as the file spells it: text quoted, numbers bare."""
    return repr(value) if isinstance(value, str) else str(value)


# ---- naming the line -------------------------------------------------------------------------
def _where(path: Path, row: int) -> str:
    """``line N`` of the file for the ``row``-th data row (0-based) pandas read."""
    line = _line_of_row(path, row)
    return f"line {line}" if line is not None else f"data row {row + 1}"


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    if path.suffix in (".bz2", ".zip", ".xz", ".zst", ".tar"):
        return None
    return open(path, encoding="utf-8", errors="replace", newline="")


def _line_of_row(path: Path, row: int) -> int | None:
    """The line a data row starts on, counting blank lines as pandas skips them."""
    handle = _open_text(path)
    if handle is None:
        return None
    with handle:
        for index, line in enumerate(_record_lines(handle)):
            if index == row:
                return line
    return None


def _record_lines(handle: io.TextIOBase) -> Iterator[int]:
    """The first line of each data record after the header (quoted line breaks respected)."""
    reader = csv.reader(handle)
    next(reader, None)
    consumed = reader.line_num
    for record in reader:
        start, consumed = consumed + 1, reader.line_num
        if record:
            yield start


def _encoding_message(path: Path, error: UnicodeDecodeError) -> str:
    """Which line of ``path`` is not UTF-8 (found by reading it again, line by line)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                return (f"{path}: line {number}: byte 0x{line[bad.start]:02x} at character "
                        f"{bad.start + 1} is not UTF-8 text; save the file as UTF-8")
    return f"{path}: not UTF-8 text ({error.reason}); save the file as UTF-8"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
