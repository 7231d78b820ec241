"""Input files as the readers take them: regular files, lines of bounded length, gzip named.

* :func:`require_regular_file`: a pipe, a process substitution (``<(...)``, a ``/dev/fd`` path),
  a device or a socket is refused without being opened or read (opening a named pipe blocks
  until something writes to it, and reading a stream to look at it would lose what was read).
  Preparing a file reads it two or three times, which a stream cannot give: save it to a file.
* :data:`MAX_LINE_BYTES`: no line may hold more than 1 MiB (its line break not counted; a Criteo
  line holds about 250 bytes). A longer line is refused, naming its number, while at most that
  much of it is in memory: a file whose lines end with a carriage return alone (``\\r``, old
  Mac style) would otherwise be read as one line of the whole file. :class:`LongLineFinder`
  checks the raw bytes block by block; :func:`bounded_lines` reads lines with the same bound.
* :func:`check_gzip_header` and :func:`gzip_problem`: a file named ``.gz`` that is not gzip, or
  gzip data that is damaged or ends early (an interrupted download), named in one line.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # bytes a line may hold, its line break not counted
GZIP_MAGIC = b"\x1f\x8b"
# What reading a damaged .gz raises: truncated (EOFError), not gzip or trailing garbage
# (gzip.BadGzipFile), corrupt deflate data (zlib.error).
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


# ---- regular files -------------------------------------------------------------------------
def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its ``st_mode``."""
    if stat.S_ISFIFO(mode):
        return "a pipe (a named pipe, or a process substitution such as <(...))"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular_message(path: Path, mode: int) -> str:
    """Why a stream is refused, and what to do (save it to a file)."""
    return (f"{path}: is {file_kind(mode)}, not a regular file: deepfm_lite reads an input file "
            "more than once (prepare counts its rows, then encodes them), which a stream "
            "cannot give; save it to a file first (e.g. `cat ... > train.txt`) and pass that")


def require_regular_file(path: Path, missing: str = "no file at") -> os.stat_result:
    """``path``'s stat; FileNotFoundError when absent, IsADirectoryError for a folder and
    ValueError for a pipe, device or socket, none of which is opened (a named pipe's open
    blocks until a writer comes)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{missing} {path}") from None
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(f"{path} is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise ValueError(not_regular_message(path, status.st_mode))
    return status


# ---- gzip --------------------------------------------------------------------------------------
def check_gzip_header(path: Path) -> None:
    """Refuse a regular file named ``.gz`` whose first bytes are not gzip's."""
    if path.suffix != ".gz":
        return
    with open(path, "rb") as handle:
        first = handle.read(len(GZIP_MAGIC))
    if first and first != GZIP_MAGIC:
        raise ValueError(gzip_problem(path, gzip.BadGzipFile(f"Not a gzipped file ({first!r})")))


def gzip_problem(path: Path, error: BaseException) -> str:
    """One line saying what is wrong with the gzip file ``path`` (one of :data:`GZIP_ERRORS`)."""
    if isinstance(error, EOFError):
        return (f"{path}: the gzip data ends early (the file is truncated: an interrupted "
                "download or copy?); download or compress it again")
    if isinstance(error, gzip.BadGzipFile) and str(error).startswith("Not a gzipped file"):
        with open(path, "rb") as handle:
            first = handle.read(8)
        return (f"{path}: named .gz but not gzip-compressed (it begins {first!r}); if it is "
                "plain text, rename it without .gz")
    return f"{path}: damaged gzip data ({error}); download or compress it again"


# ---- long lines --------------------------------------------------------------------------------
def long_line_message(path: Path, line: int, sample: bytes, limit: int = MAX_LINE_BYTES) -> str:
    """Line ``line`` of ``path`` is longer than ``limit``; ``sample``, bytes of it, tells
    whether the file's lines end with a carriage return alone."""
    hint = ("; its lines seem to end with a carriage return alone (\\r, old Mac style): "
            "convert them to \\n, e.g. with tr '\\r' '\\n'" if b"\r" in sample else
            "; is it the right file?")
    return (f"{path}: line {line} is longer than {limit:,} bytes, the most a line may hold "
            f"(a Criteo line holds about 250){hint}")


def carriage_return_hint(path: Path) -> str:
    """``"; its lines seem to end with a carriage return alone ..."`` when the start of ``path``
    holds more ``\\r`` than ``\\n`` (an old Mac file, read as one line), else ``""``."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            start = handle.read(1 << 16)
    except (OSError, *GZIP_ERRORS):
        return ""
    if start.count(b"\r") <= start.count(b"\n"):
        return ""
    return ("; its lines seem to end with a carriage return alone (\\r, old Mac style): "
            "convert them to \\n, e.g. with tr '\\r' '\\n'")


class LongLineFinder:
    """Finds, block by block, the first line longer than ``limit`` bytes in a byte stream.

    Costs a few ``bytes.find`` calls per block: any run of more than ``limit`` bytes without a
    line break covers a whole window of ``limit // 2`` bytes (windows laid end to end), so only
    a window without a line break is looked at closer. :meth:`feed` raises ValueError (see
    :func:`long_line_message`) at the first line that is too long.
    """

    def __init__(self, path: Path, limit: int = MAX_LINE_BYTES):
        self.path, self.limit = path, limit
        self.lines = 0  # line breaks seen before the current block
        self.run = 0  # bytes of the current line seen before the current block

    def feed(self, block: bytes) -> None:
        first = block.find(b"\n")
        if first < 0:
            self.run += len(block)
            if self.run > self.limit:
                self._fail(self.lines + 1, block)
            return
        if self.run + first > self.limit:
            self._fail(self.lines + 1, block[:first])
        last = block.rfind(b"\n")
        self._check_inside(block, first + 1, last)
        self.lines += block.count(b"\n")
        self.run = len(block) - last - 1
        if self.run > self.limit:
            self._fail(self.lines + 1, block[last + 1:])

    def _check_inside(self, block: bytes, start: int, end: int) -> None:
        """Lines wholly inside ``block[start:end]`` (``block[end]`` is a line break)."""
        step = max(self.limit // 2, 1)
        position = start
        while position + step <= end:
            if block.find(b"\n", position, position + step) >= 0:
                position += step
                continue
            before = block.rfind(b"\n", 0, position)  # >= start - 1
            after = block.find(b"\n", position + step, end + 1)  # <= end
            if after - before - 1 > self.limit:
                self._fail(self.lines + block.count(b"\n", 0, before + 1) + 1,
                           block[before + 1:after])
            position = after + 1

    def _fail(self, line: int, sample: bytes) -> None:
        raise ValueError(long_line_message(self.path, line, sample, self.limit))


def bounded_lines(handle: BinaryIO, path: Path, first_line: int = 1,
                  limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of the binary ``handle``, none read beyond ``limit`` bytes: a longer line raises
    ValueError naming its number (``first_line`` is the number of the first line read)."""
    number = first_line
    for line in iter(partial(handle.readline, limit + 1), b""):
        if len(line) > limit and not line.endswith(b"\n"):
            raise ValueError(long_line_message(path, number, line, limit))
        number += 1
        yield line


__all__ = ["MAX_LINE_BYTES", "GZIP_ERRORS", "file_kind", "not_regular_message",
           "require_regular_file", "check_gzip_header", "gzip_problem", "long_line_message",
           "carriage_return_hint",
           "LongLineFinder", "bounded_lines"]
