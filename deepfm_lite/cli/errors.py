"""The command line's errors: each one reaches the user as one line on stderr, exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """A bad argument or input: reported in one line with exit code 2."""


class FinishedRunError(Exception):
    """A run finished but its result could not be saved: its output is printed all the same."""

    def __init__(self, output: str, message: str):
        super().__init__(message)
        self.output = output


def one_line(error: BaseException) -> str:
    """The first line of an error's message, naming the file for an OSError."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
