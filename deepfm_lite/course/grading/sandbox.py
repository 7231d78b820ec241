"""Limits for grading notebooks that are not the grader's own: ``progress --submissions``.

Grading runs the notebook's code with the rights of whoever grades. A learner grading their own
exercises risks nothing new; an instructor grading a class runs thirty people's code, and one
notebook that deletes a file outside its folder, reads a key from the home folder, loops
forever or takes all the memory costs the instructor, not the learner. So a submission's kernel
is started through a :class:`Sandbox`: a jupyter_client kernel manager
(:class:`SandboxKernelManager`) whose kernel command is wrapped, and whose kernel talks to the
grader over Unix sockets in the working folder (the kernel's network namespace has no loopback
shared with the grader). From the strongest to the weakest, the first that works here:

``user switch`` (Linux, as root, util-linux's ``unshare`` and ``setpriv``)::

    unshare --net --mount --pid --fork --kill-child --mount-proc \\
        python -I launcher.py SPEC -- \\
        setpriv --reuid=nobody --regid=nogroup --clear-groups --bounding-set=-all \\
                --inh-caps=-all --no-new-privs -- python -m ipykernel_launcher -f ...

  No network; the home folders and the submission's own folder hidden under an empty
  read-only tmpfs, with the Python environment and the course package shown again read-only
  (``launcher.py`` mounts them); the kernel runs as ``nobody``, so it can read only what every
  user may read and write only its working folder (and world-writable places such as /tmp);
  its memory is limited (RLIMIT_AS) and its processes too (RLIMIT_NPROC); every process it
  starts ends with it (its own PID namespace).

``user namespace`` (Linux, not root, where the kernel allows unprivileged user namespaces):
  the same with ``unshare --user --map-root-user`` and no user switch: the kernel runs as the
  grader's own user with no capabilities, so it can change every file the grader can change
  outside the hidden folders.

``limits only`` (elsewhere): the memory limit where the platform has one.

In every mode the kernel gets a working folder of its own (a temporary copy of the notebook),
an environment with nothing of the grader's but the locale, ``PATH`` and the course settings
(no tokens or keys), PyTorch without GPUs (``CUDA_VISIBLE_DEVICES=""``), and each cell the time
limit. :func:`choose_sandbox` picks the mode by starting the course's Python in it once (a
probe) and says why a stronger one did not work; :meth:`Sandbox.describe` says what is and is
not isolated, and ``progress`` prints it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from .launcher import inside

LAUNCHER = Path(__file__).resolve().with_name("launcher.py")
DEFAULT_MEMORY_LIMIT = 4 * 1024**3
UNPRIVILEGED_USER = "nobody"
PROCESS_LIMIT = 1024  # processes (threads count) of the unprivileged user
PROBE = "import ipykernel.kernelapp, deepfm_lite.course.checks.common; print('ready')"
ROOT_NAMESPACES = ("--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc")
USER_NAMESPACES = ("--user", "--map-root-user") + ROOT_NAMESPACES
PASSED_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS")
PASSED_PREFIXES = ("LC_", "DEEPFM_LITE_")


class SandboxError(RuntimeError):
    """No kernel can start under the limits asked for."""


def parse_size(text: str) -> int | None:
    """``"4G"``, ``"512M"``, ``"2048K"`` or bytes as a number; ``"none"`` for no limit."""
    size = text.strip().upper().removesuffix("B")
    if size in ("NONE", "0", ""):
        return None
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(size[-1:], 1)
    try:
        value = float(size[:-1] if scale > 1 else size)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (write it as 4G, 512M or none)") from None
    if not 0 < value < 2**60:  # NaN and infinity included
        raise ValueError(f"not a size: {text!r} (it must be positive, or none)")
    return int(value * scale)


def show_size(size: int) -> str:
    """Bytes in words: 4 GB, 512 MB."""
    for unit, scale in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def outermost(paths: Sequence[str]) -> list[str]:
    """The paths that lie inside none of the others, each once."""
    unique = sorted(set(paths), key=len)
    kept: list[str] = []
    for path in unique:
        if not any(inside(path, other) for other in kept):
            kept.append(path)
    return kept


def kept_folders() -> list[str]:
    """What the kernel needs to see: the Python environment and the course package."""
    import deepfm_lite

    candidates = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)),
                  os.path.dirname(os.path.abspath(deepfm_lite.__file__))]
    candidates += [p for p in sys.path if p and os.path.isabs(p)]
    return outermost([os.path.realpath(p) for p in candidates if os.path.isdir(p)])


def hidden_folders(extra: Sequence[Path] = ()) -> list[str]:
    """The home folders (``$HOME`` and the grader's own) and ``extra``, where they exist."""
    import pwd  # POSIX only, as namespaces are

    candidates = [os.environ.get("HOME", ""), pwd.getpwuid(os.geteuid()).pw_dir]
    candidates += [str(p) for p in extra]
    folders = [os.path.realpath(p) for p in candidates if p and os.path.isdir(p)]
    return outermost([p for p in folders if p != "/"])


@dataclass(frozen=True)
class Sandbox:
    """How submissions' kernels are started: see the module's docstring for the modes."""

    mode: str  # "user switch", "user namespace" or "limits only"
    memory_limit: int | None  # bytes of address space (RLIMIT_AS), None for no limit
    user: tuple[str, int, int] | None = None  # the user the kernel runs as: name, uid, gid
    namespaces: tuple[str, ...] = ()  # the arguments of unshare
    notes: tuple[str, ...] = ()  # why a stronger mode is not used

    def wrap(self, command: list[str], folder: Path, hide: Sequence[Path] = ()) -> list[str]:
        """``command`` (a kernel's) started under the limits, in working folder ``folder``."""
        spec: dict = {"memory": self.memory_limit, "init": bool(self.namespaces),
                      "processes": PROCESS_LIMIT if self.user else None}
        if self.namespaces:
            spec.update(hide=hidden_folders(hide), keep=kept_folders(),
                        writable=[os.path.realpath(folder)])
        launcher = [sys.executable, "-I", str(LAUNCHER), json.dumps(spec), "--"]
        if os.name != "posix":  # no limits to set: the time limit and the folder only
            return command
        if not self.namespaces:
            return launcher + command
        switch = ([f"--reuid={self.user[1]}", f"--regid={self.user[2]}", "--clear-groups"]
                  if self.user else [])
        drop = [tool("setpriv"), *switch, "--bounding-set=-all", "--inh-caps=-all",
                "--no-new-privs", "--"]
        return [tool("unshare"), *self.namespaces, *launcher, *drop, *command]

    def environment(self, folder: Path) -> dict[str, str]:
        """The kernel's environment: none of the grader's secrets, its home in ``folder``."""
        env = {name: value for name, value in os.environ.items()
               if name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)}
        env.update(HOME=str(folder), TMPDIR=str(folder), IPYTHONDIR=str(folder / ".ipython"),
                   MPLCONFIGDIR=str(folder / ".matplotlib"),
                   XDG_CACHE_HOME=str(folder / ".cache"), XDG_CONFIG_HOME=str(folder / ".config"),
                   DEEPFM_LITE_PROGRESS="0", CUDA_VISIBLE_DEVICES="", MALLOC_ARENA_MAX="2",
                   PYTHONNOUSERSITE="1")
        return env

    def hand_over(self, path: Path) -> None:
        """Make ``path`` the kernel user's (when the kernel runs as another user)."""
        if self.user:
            os.chown(path, self.user[1], self.user[2])

    def describe(self, timeout: int) -> list[str]:
        """Two lines for the grader's output: what is isolated, and what is not."""
        limits = [f"each cell stopped after {timeout} s"]
        limits.append(f"memory {show_size(self.memory_limit)} at most" if self.memory_limit
                      else "memory not limited")
        limits.append("a temporary copy of the notebook in a folder of its own, and no "
                      "environment variables of yours")
        free = ["CPU and disk use within the time limit"]
        if self.namespaces:
            limits += ["no network", "your home folder and the submission's folder hidden",
                       "its processes end with it"]
        else:
            free += ["the network", "your home folder and other people's files",
                     "processes it starts in a session of their own (they may outlive it)"]
        if self.user:
            limits.insert(0, f"run as {self.user[0]}, who can read only what every user may "
                             "read and write only its own folder and world-writable ones "
                             "such as /tmp")
            free.append("files that every user may read (such as the course itself)")
        else:
            free.insert(0, "your files: the kernel runs as you and can change whatever you "
                           "can (outside the hidden folders)")
        free.append("the checks' verdicts from code in the same kernel (see TEACHING.md)")
        return [f"Submissions graded with limits ({self.mode}): " + "; ".join(limits) + ".",
                "Not isolated: " + "; ".join(free + list(self.notes)) + "."]


def tool(name: str) -> str:
    """The full path of a command-line tool, or its bare name when not found."""
    return shutil.which(name) or name


def unprivileged_user() -> tuple[str, int, int] | None:
    """``nobody``'s name, uid and gid, or None where there is no such user."""
    import pwd

    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        return None
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def candidate_sandboxes(memory_limit: int | None) -> tuple[list[Sandbox], list[str]]:
    """The modes that may work here, strongest first, and why the others cannot."""
    if not sys.platform.startswith("linux"):
        return [Sandbox("limits only", None)], [
            f"no namespaces and no memory limit on {sys.platform} (Linux only)"]
    missing = [name for name in ("unshare", "setpriv") if not shutil.which(name)]
    if missing:
        return [Sandbox("limits only", memory_limit)], [
            f"{' and '.join(missing)} (util-linux) not found: no namespaces"]
    found, notes = [], []
    user = unprivileged_user()
    if os.geteuid() == 0 and user:
        found.append(Sandbox("user switch", memory_limit, user, ROOT_NAMESPACES))
    elif os.geteuid() == 0:
        notes.append(f"no user {UNPRIVILEGED_USER} to run kernels as")
    found.append(Sandbox("user namespace", memory_limit, None, USER_NAMESPACES))
    found.append(Sandbox("limits only", memory_limit))
    return found, notes


def probe(sandbox: Sandbox) -> str:
    """Start the course's Python in ``sandbox``: '' when it works, else why not."""
    folder = Path(tempfile.mkdtemp(prefix="deepfm-grade-probe-"))
    try:
        sandbox.hand_over(folder)
        command = sandbox.wrap([sys.executable, "-c", PROBE], folder)
        done = subprocess.run(command, cwd=folder, env=sandbox.environment(folder),
                              capture_output=True, text=True, timeout=180, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{type(error).__name__}: {error}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode == 0 and "ready" in done.stdout:
        return ""
    lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


@functools.cache
def choose_sandbox(memory_limit: int | None = DEFAULT_MEMORY_LIMIT) -> Sandbox:
    """The strongest sandbox that starts the course's Python here (tried once per process)."""
    found, notes = candidate_sandboxes(memory_limit)
    for sandbox in found:
        problem = probe(sandbox)
        if not problem:
            return replace(sandbox, notes=tuple(notes))
        notes.append(f"{sandbox.mode} failed here ({problem})")
    raise SandboxError("no kernel starts under the grader's limits: " + "; ".join(notes)
                       + (" (is --memory-limit too low?)" if memory_limit else ""))


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that starts its kernel through a :class:`Sandbox`, in ``folder``.

    The kernel's sockets are Unix sockets in ``folder`` (``transport="ipc"``), which cross the
    network namespace; its connection file is there too, handed over to the kernel's user.
    """

    def __init__(self, sandbox: Sandbox, folder: Path, hide: Sequence[Path], **kwargs) -> None:
        super().__init__(transport="ipc", ip=str(folder / "kernel"),
                         connection_file=str(folder / "kernel.json"), **kwargs)
        self.grading_sandbox, self.grading_folder, self.grading_hide = sandbox, folder, hide

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        return self.grading_sandbox.wrap(command, self.grading_folder, self.grading_hide)

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        self.grading_sandbox.hand_over(Path(self.connection_file))


@contextmanager
def working_folder(sandbox: Sandbox, notebook: Path) -> Iterator[Path]:
    """A temporary folder holding a copy of ``notebook``, the kernel user's; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="deepfm-grade-"))
    try:
        copy = folder / notebook.name
        shutil.copyfile(notebook, copy)
        for path in (folder, copy):
            sandbox.hand_over(path)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["DEFAULT_MEMORY_LIMIT", "Sandbox", "SandboxError", "SandboxKernelManager",
           "choose_sandbox", "parse_size", "show_size", "working_folder"]
