"""Files that appear whole or not at all: write beside the target, then rename over it.

A write goes to a hidden temporary file in the target's folder, renamed over the target only
once complete: an interrupted write leaves the previous file intact. The temporary file is
removed on any error, on Ctrl-C (``KeyboardInterrupt``) and on SIGTERM / SIGHUP (which would
otherwise end the process at once; the signal is delivered again after the clean-up). Only
SIGKILL, which no process can catch, can leave it behind. The written file gets the mode any
new file gets, ``0o666`` less the user's umask, or keeps the mode of the file it replaces.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

# Signals whose default action ends the process without running any Python clean-up.
TERMINATING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary binary file beside ``target``, then rename it to ``target``."""
    temp = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
    with terminating_signals_raise():
        try:
            # Created like open() creates a file: mode 0o666, less the umask (mkstemp's 0o600
            # would make every written file private).
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | getattr(os, "O_BINARY", 0), 0o666)
            with os.fdopen(handle, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            keep_mode_of(target, temp)
            os.replace(temp, target)
        except BaseException:  # KeyboardInterrupt and Terminated included
            temp.unlink(missing_ok=True)
            raise


def keep_mode_of(target: Path, temp: Path) -> None:
    """Give ``temp`` the permission bits of the file it replaces, as writing it in place would."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    os.chmod(temp, mode)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived during an atomic write; raised so the temporary file is removed."""


@contextlib.contextmanager
def terminating_signals_raise() -> Iterator[None]:
    """While the block runs, SIGTERM / SIGHUP raise :class:`Terminated` instead of ending the
    process on the spot; after it, the handlers are restored and the signal is sent again, so
    the process still ends as the signal asked.

    Only signals left at their default action are taken over (a program's own handler is kept),
    and only in the main thread, the one Python lets set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def on_signal(signum: int, frame) -> None:
        received.append(signum)
        raise Terminated(signal.Signals(signum).name)

    previous = {}
    for signum in TERMINATING_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_DFL:
            previous[signum] = signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])
