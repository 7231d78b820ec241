"""Start one kernel under the grader's limits (see :mod:`deepfm_lite.course.grading.sandbox`).

Run as a script, never imported by the kernel: ``python -I launcher.py SPEC -- COMMAND...``,
between ``unshare`` (new mount, PID and network namespaces) and ``setpriv`` (the user switch),
so it still has the rights it needs to mount. SPEC is JSON with these keys:

* ``hide``: folders covered by an empty read-only tmpfs (the home folders, the submission's
  folder); ``keep``: folders inside them shown again read-only at the same path (the Python
  environment, the course package); ``writable``: the same, writable (the working folder).
  The folders to show again are opened before the tmpfs covers them and bind-mounted from
  ``/proc/self/fd``, so no staging folder is needed.
* ``memory``: the address-space limit in bytes (RLIMIT_AS), or null; ``processes``: the
  limit on processes (RLIMIT_NPROC) of the user the kernel runs as, or null.
* ``init``: true when this process is PID 1 of its own PID namespace. It then runs COMMAND as
  its child, reaps orphans, and exits with COMMAND's status; when it exits, the kernel
  destroys every process left in the namespace. ``JPY_PARENT_PID`` is dropped: the kernel
  would take PID 1 for a dead parent's replacement and quit.

It uses the standard library only (``-I``: nothing from the environment or the user's site
folder). A failure to set up prints one line on stderr and exits with status 126.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
SETUP_FAILED = 126


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    """mount(2), through the C library."""
    libc = ctypes.CDLL(None, use_errno=True)
    encoded = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    if libc.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {source or ''} on {target}: {os.strerror(error)}")


def hide_folders(spec: dict) -> None:
    """Cover ``spec["hide"]`` with empty tmpfs and show what must stay visible again."""
    hidden = spec.get("hide") or []
    if not hidden:
        return
    shown = [(path, False) for path in spec.get("keep") or []]
    shown += [(path, True) for path in spec.get("writable") or []]
    shown = sorted(((path, writable) for path, writable in shown
                    if any(inside(path, folder) for folder in hidden)),
                   key=lambda item: len(item[0]))  # a folder before the folders inside it
    handles = [(os.open(path, os.O_PATH), path, writable) for path, writable in shown]
    os.umask(0o022)
    for folder in hidden:
        mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for handle, path, writable in handles:
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        if not writable:
            mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.close(handle)
    for folder in hidden:
        mount(None, folder, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def set_limits(spec: dict) -> None:
    """The memory and process limits, and no core files."""
    import resource  # POSIX only

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if spec.get("memory"):
        resource.setrlimit(resource.RLIMIT_AS, (spec["memory"], spec["memory"]))
    if spec.get("processes"):
        resource.setrlimit(resource.RLIMIT_NPROC, (spec["processes"], spec["processes"]))


def run_as_init(command: list[str]) -> None:
    """Run ``command`` as the only child of this PID 1; exit with its status."""
    os.environ.pop("JPY_PARENT_PID", None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel only
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execvp(command[0], command)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def main(argv: list[str]) -> None:
    """``SPEC -- COMMAND...``: set up, then become (or start) COMMAND."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: launcher.py SPEC -- COMMAND...", file=sys.stderr)
        sys.exit(2)
    spec, command = json.loads(argv[0]), argv[2:]
    try:
        hide_folders(spec)
        set_limits(spec)
    except (OSError, ValueError) as error:
        print(f"deepfm_lite sandbox: {error}", file=sys.stderr)
        sys.exit(SETUP_FAILED)
    if spec.get("init"):
        run_as_init(command)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
