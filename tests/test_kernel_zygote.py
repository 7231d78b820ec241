"""The suite's forked kernels (tests/kernel_zygote.py) behave like ordinary ones.

Each test starts kernels the way nbval does (``KernelManager``, kernelspec ``python3``) and
asks them about themselves. With ``DEEPFM_LITE_FORK_KERNELS=0`` every kernel is an ordinary
one and the tests about forking are skipped.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from jupyter_client.manager import KernelManager
from kernel_zygote import decline_reason  # tests/ is on sys.path under pytest

pytestmark = pytest.mark.kernels

# What a notebook could notice about its kernel's start: where imports come from, its command
# line, the plotting backend, pandas' display options (set when pandas is imported), the thread
# count, the interpreter's flags, the comm targets that widgets need, the warning filters once
# a training step has imported torch._dynamo (sorted: the zygote adds torch's before
# ipykernel's, a notebook after; no two of them match the same warning, so order is moot).
FINGERPRINT = """
import json, sys, warnings
preloaded = "torch._dynamo" in sys.modules
import comm, ipywidgets, matplotlib.pyplot, pandas, torch, torch._dynamo
print(json.dumps({"preloaded": preloaded}))
print(json.dumps({
    "path": sys.path, "argv": [sys.argv[0], *sys.argv[1:-1]], "flags": repr(sys.flags),
    "backend": matplotlib.get_backend(), "threads": torch.get_num_threads(),
    "pandas": {key: repr(pandas.get_option(key))
               for key in pandas._config.config._registered_options if key.startswith("display.")},
    "comm_targets": sorted(comm.get_comm_manager().targets),
    "warnings": sorted(map(repr, warnings.filters)), "main": sorted(dir()),
}, sort_keys=True))
"""


@pytest.fixture
def zygote() -> None:
    """Skips the test unless this run forks its kernels (the root conftest.py)."""
    if not os.environ.get("DEEPFM_LITE_KERNEL_ZYGOTE"):
        pytest.skip("kernels are not forked in this run")


@contextmanager
def kernel(cwd: str, **env: str) -> Iterator[tuple[KernelManager, object]]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=cwd, env={**os.environ, **env})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)


def output_of(client, code: str, timeout: float = 30) -> str:
    """What ``code`` printed; fails on an error."""
    printed: list[str] = []

    def keep(message: dict) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = client.execute_interactive(code, timeout=timeout, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(printed).strip()


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_forked_kernel_looks_like_an_ordinary_one(tmp_path, zygote):
    (tmp_path / "a").mkdir()
    with kernel(str(tmp_path / "a"), DEEPFM_LITE_SOMETHING="seen") as (_, forked), \
            kernel(str(tmp_path), DEEPFM_LITE_FORK_KERNELS="0") as (_, ordinary):
        # The same start, as far as a notebook's first cell could tell, but for the imports
        # the zygote had already done.
        forked_imports, forked_start = map(json.loads, output_of(forked, FINGERPRINT).split("\n"))
        ordinary_imports, ordinary_start = map(json.loads,
                                               output_of(ordinary, FINGERPRINT).split("\n"))
        assert forked_imports == {"preloaded": True} and ordinary_imports == {"preloaded": False}
        assert forked_start == ordinary_start
        assert forked_start["pandas"]["display.max_columns"] == "20"  # a kernel's, not a terminal's
        # Its own folder and environment; the course's package not imported yet (the zygote
        # never imports it); nothing left over from another kernel.
        assert output_of(forked, "import os; print(os.getcwd())") == str(tmp_path / "a")
        assert output_of(forked, "print(os.environ['DEEPFM_LITE_SOMETHING'])") == "seen"
        assert output_of(forked, "print('deepfm_lite' in sys.modules)") == "False"
        output_of(ordinary, "left_over = 1")
        assert output_of(forked, "print('left_over' in dir())") == "False"
        # Random numbers not seeded by the notebook differ from kernel to kernel, as they would.
        draw = "import random, numpy; print(random.random(), numpy.random.rand())"
        with kernel(str(tmp_path)) as (_, second):
            assert output_of(forked, draw) != output_of(second, draw)


def test_a_different_import_time_environment_gets_an_ordinary_kernel(tmp_path, zygote):
    with kernel(str(tmp_path), OMP_NUM_THREADS="2") as (_, client):
        assert output_of(client, "import sys; print('torch' in sys.modules)") == "False"


def test_the_zygote_serves_only_an_environment_its_imports_agree_with():
    before = {"OMP_NUM_THREADS": "1"}
    after = {**before, "TORCHINDUCTOR_CACHE_DIR": "/tmp/cache", "MPLBACKEND": "inline"}
    streams = [0, 1, 2]

    def reason(**env: str) -> str:
        request = {"executable": sys.executable, "env": {"DEEPFM_LITE_LANG": "zh", **env}}
        return decline_reason(request, streams, before, after)

    assert reason(OMP_NUM_THREADS="1") == ""
    assert reason(OMP_NUM_THREADS="1", TORCHINDUCTOR_CACHE_DIR="/tmp/cache") == ""
    assert reason(OMP_NUM_THREADS="2") == "the environment differs in OMP_NUM_THREADS"
    assert reason(OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONPATH="x") \
        == "the environment differs in MPLBACKEND, PYTHONPATH"
    assert reason() == "the environment differs in OMP_NUM_THREADS"
    other_python = {"executable": "/other/python", "env": before}
    assert "another Python" in decline_reason(other_python, streams, before, after)


def test_an_interrupt_reaches_the_kernel_and_a_shutdown_ends_it_cleanly(tmp_path):
    with kernel(str(tmp_path)) as (manager, client):
        # stop_on_error=False: the kernel would otherwise abort the requests that follow.
        client.execute("import time; time.sleep(60)", stop_on_error=False)
        time.sleep(0.5)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        pid = int(output_of(client, "import os; print(os.getpid())"))
        launcher = manager.provisioner.process
        manager.shutdown_kernel()
        assert launcher.wait(timeout=10) == 0  # the kernel's own exit code, passed on
        assert gone(pid, within=10)


def test_killing_the_launcher_ends_the_kernel(tmp_path):
    with kernel(str(tmp_path)) as (manager, client):
        pid = int(output_of(client, "import os; print(os.getpid())"))
        launcher = manager.provisioner.process
        launcher.kill()  # SIGKILL: the launcher cannot pass it on
        launcher.wait(timeout=10)  # reaped, so that an ordinary kernel's pid is gone too
        assert gone(pid, within=10), f"kernel {pid} outlived its launcher"
