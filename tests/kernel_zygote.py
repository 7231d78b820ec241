"""Jupyter kernels for the test suite, forked from a process that has already imported torch.

Why: the suite starts about forty kernels (nbval's notebooks, the exercise checks, the progress
report), and each one used to spend about three seconds of CPU on the same imports (ipykernel,
torch and the ``torch._dynamo`` that every optimizer step imports, matplotlib) before it ran
a single line of a notebook: about a sixth of the suite's CPU time.

How: each pytest process that runs tests starts one *zygote* (``python tests/kernel_zygote.py
ADDRESS``). The zygote imports those modules once, then waits on a Unix socket. The test
session's ``python3`` kernelspec (written by :func:`write_kernelspec`, found first through
``JUPYTER_PATH``) runs ``tests/kernel_launcher.py`` instead of ``python -m ipykernel_launcher``.
The launcher hands the zygote its connection file, working directory, environment and standard
streams; the zygote forks, and the child becomes an ordinary ipykernel. The launcher stays as
the process jupyter_client manages: it passes signals on to the kernel (interrupt, terminate),
and exits with the kernel's exit code. If the launcher is killed, the kernel sees its socket
close and exits at once.

What a notebook sees is what a fresh kernel gives it: an empty namespace, its own working
directory and environment, its own random seeds, and ``deepfm_lite`` imported afresh (the zygote
never imports the course's package). The modules the zygote imported are already in
``sys.modules``; they read their settings at import, so the zygote serves only a launcher
whose environment agrees with its own on every variable those modules read
(:data:`IMPORT_TIME_VARIABLES`). Any other launcher, and every launcher when no zygote runs,
starts a kernel the usual way. ``DEEPFM_LITE_FORK_KERNELS=0`` turns the zygote off.

Why hand-written: jupyter_client's extension point for this, a kernel provisioner, is found
only through an installed package's entry points, so it would have to ship inside
``deepfm_lite``, which holds only what the course teaches; we found no maintained package that
forks Jupyter kernels from a preloaded process.
"""

from __future__ import annotations

import json
import os
import sys

# What a kernel imports before a notebook's first cell, or in it: ipykernel itself, then the
# course's heaviest dependencies (torch._dynamo is imported by every torch.optim optimizer's
# first step). pyplot picks its backend at the first figure, in the kernel. Left out: modules
# that look at the running kernel when imported (pandas takes its display defaults and its
# encoding from it, ipywidgets registers its comm target, matplotlib's inline backend its
# display hooks), so a notebook imports them in its own kernel.
PRELOAD = ("ipykernel.kernelapp", "numpy", "torch", "torch._dynamo", "matplotlib.pyplot")

# Environment variables that Python itself or a preloaded module reads at start-up or import:
# a launcher whose environment differs from the zygote's in one of these gets a fresh kernel.
IMPORT_TIME_VARIABLES = ("PYTHON", "OMP_", "MKL_", "KMP_", "OPENBLAS", "TORCH", "PYTORCH",
                         "CUDA", "MPL", "XDG_", "HOME", "LD_", "JUPYTER", "IPYTHON", "LANG",
                         "LC_")

# ipykernel sets this before any notebook imports matplotlib; the zygote imports it earlier.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def import_time_environment(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` that the zygote's imports depend on."""
    return {name: value for name, value in env.items() if name.startswith(IMPORT_TIME_VARIABLES)}


def write_kernelspec(folder: str) -> None:
    """A ``python3`` kernelspec under ``folder/kernels`` that starts kernels through the launcher
    (``folder`` goes first on ``JUPYTER_PATH``)."""
    spec_dir = os.path.join(folder, "kernels", "python3")
    os.makedirs(spec_dir, exist_ok=True)
    launcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_launcher.py")
    spec = {"argv": [sys.executable, "-I", "-S", launcher, "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python",
            "metadata": {"debugger": True}}
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as file:
        json.dump(spec, file)


def _receive_request(conn):
    """The launcher's request (JSON, length-prefixed) and the three standard streams it sent."""
    import socket
    import struct

    header, fds, _, _ = socket.recv_fds(conn, 4, 3)
    if len(header) < 4:
        raise ConnectionError("the launcher closed before sending its request")
    size = struct.unpack("!I", header)[0]
    payload = b""
    while len(payload) < size:
        chunk = conn.recv(size - len(payload))
        if not chunk:
            raise ConnectionError("the launcher closed in the middle of its request")
        payload += chunk
    return json.loads(payload), fds


def decline_reason(request: dict, fds: list[int], before: dict[str, str],
                   after: dict[str, str]) -> str:
    """Why this zygote cannot serve the request ("" if it can).

    ``before`` and ``after`` are the zygote's :func:`import_time_environment` before and after
    its imports: a variable the imports set themselves (torch sets ``TORCHINDUCTOR_CACHE_DIR``
    to its default) may come either way.
    """
    if request.get("executable") != sys.executable or len(fds) != 3:
        return f"another Python ({request.get('executable')}) or no standard streams"
    theirs = import_time_environment(request["env"])
    differing = sorted(name for name in {*theirs, *before, *after}
                       if theirs.get(name) not in (before.get(name), after.get(name)))
    return f"the environment differs in {', '.join(differing)}" if differing else ""


def _become_kernel(conn, request: dict, fds: list[int], zygote_files: list) -> None:
    """In the forked child: take the launcher's streams, folder and environment; run ipykernel."""
    import importlib.util
    import random
    import signal
    import threading

    import numpy

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for file in zygote_files:  # the zygote's listener, pipe and other kernels' launchers
        if isinstance(file, int):
            os.close(file)
        else:
            file.close()
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    random.seed()  # a fresh process seeds these from the operating system; so does the fork
    numpy.random.seed()

    def exit_when_the_launcher_goes() -> None:
        while conn.recv(64):
            pass
        os._exit(1)

    threading.Thread(target=exit_when_the_launcher_goes, daemon=True).start()
    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *request["argv"]]
    code = 0
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed stream has nothing left to flush
                pass
        os._exit(code)


def serve(address: str) -> None:
    """Listen on ``address``, preload :data:`PRELOAD`, then fork one kernel per request.

    Kernels are served to launchers whose environment agrees with the zygote's as it started.
    """
    import importlib
    import select
    import signal
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(16)  # launchers may connect now; they wait while the imports run
    before = import_time_environment(dict(os.environ))
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for name in PRELOAD:
        importlib.import_module(name)
    if len(os.listdir("/proc/self/task")) != 1:
        # Forking a process with threads could copy a lock some thread holds; serve nobody.
        print("kernel_zygote: the imports started threads; kernels start the usual way",
              file=sys.stderr)
        return
    after = import_time_environment(dict(os.environ))

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    parent = os.getppid()
    kernels: dict[int, socket.socket] = {}

    def reap() -> None:
        while kernels:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            conn = kernels.pop(pid, None)
            if conn is not None:
                try:
                    conn.sendall(b'{"returncode": %d}\n' % os.waitstatus_to_exitcode(status))
                except OSError:
                    pass  # the launcher is gone already
                conn.close()

    while os.getppid() == parent:  # the pytest process that started the zygote is alive
        ready, _, _ = select.select([listener, wake_read], [], [], 1.0)
        if wake_read in ready:
            os.read(wake_read, 512)
            reap()
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        try:
            request, fds = _receive_request(conn)
        except (OSError, ValueError):
            conn.close()
            continue
        reason = decline_reason(request, fds, before, after)
        if reason:
            for fd in fds:
                os.close(fd)
            conn.sendall(json.dumps({"pid": None, "reason": reason}).encode() + b"\n")
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_kernel(conn, request, fds,
                           [listener, wake_read, wake_write, *kernels.values()])
        for fd in fds:
            os.close(fd)
        kernels[pid] = conn
        conn.sendall(b'{"pid": %d}\n' % pid)
    for pid in kernels:  # pytest is gone: so are the kernels it started
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    del sys.path[0]  # this folder, as ipykernel_launcher drops its own from the path
    serve(sys.argv[1])
