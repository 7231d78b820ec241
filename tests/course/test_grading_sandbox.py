"""Someone else's notebooks run under limits: ``progress --submissions DIR``.

Submitted notebooks that read a root-only file in the instructor's home folder (and the
instructor's environment, and the network, and delete a file outside their folder), take 8 GB
or loop forever are each stopped or refused and reported, the secret never appears in the
output, and a correct submission beside them still passes. The positive control grades the
same attacks as the instructor's own work, without limits: they succeed, so the test would see
a leak. The user switch needs root and util-linux's unshare and setpriv (skipped otherwise,
with the reason); the memory limit alone is tested everywhere on POSIX.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from progress_helpers import ANSWERED, CHECK, IMPORTS, USE, make_course, write_notebook

from deepfm_lite.cli import main
from deepfm_lite.course.grading import sandbox as sandbox_module
from deepfm_lite.course.grading.sandbox import (
    DEFAULT_MEMORY_LIMIT,
    Sandbox,
    choose_sandbox,
    parse_size,
)
from deepfm_lite.course.progress import grade_notebook

TIMEOUT_S = 8
SECRET = "instructor-secret-6f1c"
TOKEN = "instructor-token-93ab"
MISSING_TOOLS = [name for name in ("unshare", "setpriv") if not shutil.which(name)]
SKIP_USER_SWITCH = (
    "the user switch is Linux only" if not sys.platform.startswith("linux") else
    "the user switch needs root (run the tests as root, as CI does)" if os.geteuid() != 0 else
    f"{' and '.join(MISSING_TOOLS)} (util-linux) not found" if MISSING_TOOLS else "")

ATTACKS = '''import os, socket
found = []
try:
    found.append("secret=" + open({secret!r}).read())
except OSError as error:
    found.append(f"secret refused ({{type(error).__name__}})")
found.append("token=" + os.environ.get("INSTRUCTOR_TOKEN", "absent"))
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    found.append("network=connected")
except OSError as error:
    found.append(f"network refused ({{type(error).__name__}})")
try:
    os.remove({victim!r})
    found.append("victim=deleted")
except OSError as error:
    found.append(f"victim kept ({{type(error).__name__}})")
raise RuntimeError("; ".join(found))'''
MEMORY = ("small = bytearray(200 * 1024**2)", "big = bytearray(8 * 1024**3)")
LOOP = "while True:\n    pass"


@contextlib.contextmanager
def listener() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (into its backlog)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@contextlib.contextmanager
def instructor_folder() -> Iterator[Path]:
    """A folder every user may enter, outside pytest's own (which only root may enter), so
    that only the file modes and the sandbox protect what is inside."""
    base = Path(tempfile.mkdtemp(prefix="deepfm-instructor-"))
    try:
        base.chmod(0o755)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _open_to_all(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.kernels
@pytest.mark.skipif(bool(SKIP_USER_SWITCH), reason=SKIP_USER_SWITCH)
def test_submissions_are_stopped_or_refused_and_secrets_stay_secret(capsys, monkeypatch):
    chosen = choose_sandbox(DEFAULT_MEMORY_LIMIT)  # what progress uses (found once, cached)
    if chosen.mode != "user switch":  # root without the right to make namespaces: a container
        pytest.skip(f"the user switch does not work here: {'; '.join(chosen.notes)}")
    with instructor_folder() as base, listener() as port:
        home = base / "home"
        home.mkdir(mode=0o755)
        secret = home / "secret.txt"
        secret.write_text(SECRET)
        secret.chmod(0o600)  # root's alone
        victim = base / "victim.txt"  # outside the submission's folder, readable by all
        victim.write_text("keep me")
        make_course(base, "04_pairs")
        submissions = base / "class" / "alice"
        write_notebook(submissions / "01_attacks.ipynb",
                       ATTACKS.format(secret=str(secret), port=port, victim=str(victim)))
        write_notebook(submissions / "02_memory.ipynb", *MEMORY)
        write_notebook(submissions / "03_loop.ipynb", LOOP)
        write_notebook(submissions / "04_pairs.ipynb", IMPORTS, ANSWERED, CHECK, USE)
        _open_to_all(base / "class")
        before = {path: path.read_bytes() for path in submissions.iterdir()}
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("INSTRUCTOR_TOKEN", TOKEN)
        monkeypatch.setenv("COLUMNS", "400")
        monkeypatch.chdir(base)  # the course's solutions/ are found here

        assert main(["progress", "--submissions", str(submissions),
                     "--timeout", str(TIMEOUT_S)]) == 1
        out, err = capsys.readouterr()
        lines = {line.split()[0]: line for line in out.splitlines()[:4]}

        assert SECRET not in out + err and TOKEN not in out + err
        attacks = lines["01_attacks"]
        assert "not yet  cell 1 raised RuntimeError: secret refused" in attacks, out
        assert "token=absent" in attacks and "network refused" in attacks, out
        assert "victim kept (PermissionError)" in attacks, out
        assert "not yet  cell 2 raised MemoryError" in lines["02_memory"], out
        assert f"timed out in cell 1 after {TIMEOUT_S} s" in lines["03_loop"], out
        assert lines["04_pairs"].endswith("passed"), out  # a correct submission still passes
        assert "with limits (user switch): run as nobody" in out and "Not isolated:" in out
        assert err == ""
        assert victim.read_text() == "keep me"
        assert {path: path.read_bytes() for path in submissions.iterdir()} == before

        # The positive control: the instructor's own work runs as the instructor, unlimited.
        own = grade_notebook(submissions / "01_attacks.ipynb", timeout=TIMEOUT_S)
        assert f"secret={SECRET}" in own.reason and f"token={TOKEN}" in own.reason, own.reason
        assert "network=connected" in own.reason and "victim=deleted" in own.reason


@pytest.mark.kernels
@pytest.mark.skipif(os.name != "posix", reason="resource limits are POSIX only")
def test_the_memory_limit_holds_without_namespaces(tmp_path):
    path = write_notebook(tmp_path / "class" / "bob" / "02_memory.ipynb", *MEMORY)
    grade = grade_notebook(path, timeout=TIMEOUT_S,
                           sandbox=Sandbox("limits only", parse_size("2G")))
    assert grade.reason.startswith("cell 2 raised MemoryError"), grade.reason


# ---- without kernels -------------------------------------------------------------------------


def test_sizes_are_read_as_people_write_them():
    assert parse_size("4G") == 4 * 1024**3 and parse_size("512m") == 512 * 1024**2
    assert parse_size("1.5GB") == int(1.5 * 1024**3) and parse_size("none") is None
    for wrong in ("lots", "-1G"):
        with pytest.raises(ValueError, match="not a size"):
            parse_size(wrong)


def test_the_kernel_gets_none_of_the_graders_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTRUCTOR_TOKEN", TOKEN)
    monkeypatch.setenv("DEEPFM_LITE_LANG", "en")
    env = Sandbox("limits only", None).environment(tmp_path)
    assert TOKEN not in env.values() and env["DEEPFM_LITE_LANG"] == "en"
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path) and env["CUDA_VISIBLE_DEVICES"] == ""


def test_the_user_switch_wraps_the_kernel_command(tmp_path):
    user = ("nobody", 65534, 65534)
    sandbox = Sandbox("user switch", 2**30, user, sandbox_module.ROOT_NAMESPACES)
    command = sandbox.wrap(["python", "-m", "ipykernel_launcher"], tmp_path)
    assert Path(command[0]).name == "unshare" and "--net" in command
    setpriv = next(i for i, part in enumerate(command) if Path(part).name == "setpriv")
    assert command[setpriv + 1:setpriv + 4] == ["--reuid=65534", "--regid=65534",
                                                "--clear-groups"]
    assert "--no-new-privs" in command and command[-3:] == ["python", "-m", "ipykernel_launcher"]
    described = " ".join(sandbox.describe(30))
    assert "run as nobody" in described and "no network" in described and "1 GB" in described


def test_without_root_the_output_says_the_files_are_not_isolated(monkeypatch):
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sandbox_module.sys, "platform", "linux")
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: f"/usr/bin/{name}")
    found, _ = sandbox_module.candidate_sandboxes(2**30)
    assert [s.mode for s in found] == ["user namespace", "limits only"]
    for sandbox in found:
        isolated, free = sandbox.describe(30)
        assert "your files: the kernel runs as you" in free and "nobody" not in isolated
    assert "the network" in found[-1].describe(30)[1]
