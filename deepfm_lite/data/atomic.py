"""Files that appear whole or not at all: write beside the target, then rename over it.

A write goes to a hidden temporary file in the target's folder, renamed over the target only
once complete: an interrupted write leaves the previous file intact. The temporary file is
removed on any error, on Ctrl-C (``KeyboardInterrupt``) and on SIGTERM / SIGHUP (which would
otherwise end the process at once; the signal is delivered again after the clean-up). Only
SIGKILL, which no process can catch, can leave it behind. The written file gets the mode any
new file gets, ``0o666`` less the user's umask, or keeps the mode of the file it replaces.

Temporary folders (``prepare``'s, and ``train --data``'s under ``$TMPDIR``) are named by
:func:`temporary_name`: ``deepfm_lite-KIND.PID.HOST.TOKEN.tmp``, with the process id and the
machine that made them. One left by a process that SIGKILL ended is found by the next run of
the same kind in the same folder (:func:`remove_stale_folders`: made on this machine, by this
user, by a process that no longer runs), removed, and named in a warning.
:class:`TemporaryFolder` is a folder removed when dropped, at exit, and on SIGTERM / SIGHUP.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import threading
import warnings
import weakref
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
        # A TemporaryFolder's handler is taken over too: it runs when the signal is sent again
        if signal.getsignal(signum) in (signal.SIG_DFL, _remove_folders_and_die):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])


# ---- temporary folders -------------------------------------------------------------------------
_NAME = re.compile(r"(?:^|\.)deepfm_lite-(?P<kind>[a-z]+)\.(?P<pid>\d+)\.(?P<host>[A-Za-z0-9-]+)"
                   r"\.[0-9a-f]{16}\.tmp$")


def this_host() -> str:
    """This machine's name as it appears in a temporary name (letters, digits and ``-``)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def temporary_name(kind: str, prefix: str = "") -> str:
    """``{prefix}deepfm_lite-{kind}.{pid}.{host}.{token}.tmp``: who made it, recognisably."""
    return f"{prefix}deepfm_lite-{kind}.{os.getpid()}.{this_host()}.{secrets.token_hex(8)}.tmp"


def process_running(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (a zombie does not). Where that cannot
    be told (not POSIX), True: a folder is never taken from a process that might be alive."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # Linux: a killed process its parent has not yet waited for is a zombie
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def remove_stale_folders(parent: Path, kind: str) -> list[Path]:
    """Remove the temporary folders of ``kind`` (see :func:`temporary_name`) in ``parent`` that a
    process of this machine and user left behind and no longer runs; warn naming each one."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    host, user = this_host(), os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        match = _NAME.search(entry.name)
        if (not match or match["kind"] != kind or match["host"] != host
                or int(match["pid"]) == os.getpid() or process_running(int(match["pid"]))):
            continue
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(status.st_mode) or (user is not None and status.st_uid != user):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
            warnings.warn(f"removed {entry.path}: a temporary folder left by {kind} process "
                          f"{match['pid']}, which no longer runs (killed, or the machine "
                          "restarted)", stacklevel=2)
    return removed


# Folders a TemporaryFolder removes on SIGTERM / SIGHUP, with the process that made them.
_REMOVE_ON_SIGNAL: dict[str, int] = {}


def _remove_folders_and_die(signum: int, frame) -> None:
    """Signal handler: remove this process's temporary folders, then die of the signal."""
    for path, pid in list(_REMOVE_ON_SIGNAL.items()):
        if pid == os.getpid():  # not a forked child's parent's folder
            shutil.rmtree(path, ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def _guard(path: str) -> None:
    _REMOVE_ON_SIGNAL[path] = os.getpid()
    if threading.current_thread() is threading.main_thread():
        for signum in TERMINATING_SIGNALS:
            if signal.getsignal(signum) == signal.SIG_DFL:
                signal.signal(signum, _remove_folders_and_die)


def _remove_folder(path: str) -> None:
    """Remove ``path`` and stop guarding it; the last one restores the default handlers."""
    shutil.rmtree(path, ignore_errors=True)
    _REMOVE_ON_SIGNAL.pop(path, None)
    if not _REMOVE_ON_SIGNAL and threading.current_thread() is threading.main_thread():
        for signum in TERMINATING_SIGNALS:
            if signal.getsignal(signum) is _remove_folders_and_die:
                signal.signal(signum, signal.SIG_DFL)


class TemporaryFolder:
    """A new private folder (mode 0o700) in ``parent`` (default: ``$TMPDIR``), named by
    :func:`temporary_name`, removed by :meth:`cleanup`, when the object is dropped, at exit,
    and on SIGTERM / SIGHUP (the process then dies of the signal, as it asked; a program's own
    handler for them is kept). Stale folders of the same ``kind`` in ``parent`` are removed
    first (:func:`remove_stale_folders`).
    """

    def __init__(self, kind: str, parent: str | os.PathLike | None = None):
        parent = Path(tempfile.gettempdir() if parent is None else parent)
        remove_stale_folders(parent, kind)
        self.path = parent / temporary_name(kind)
        self.path.mkdir(mode=0o700)
        self.name = str(self.path)
        _guard(self.name)
        self._finalizer = weakref.finalize(self, _remove_folder, self.name)

    def cleanup(self) -> None:
        self._finalizer()

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        self.cleanup()
