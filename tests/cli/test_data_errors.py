"""Issue 25, "Nothing lost, nothing hangs", at the command line: ``prepare``, ``train --prepared``
and ``train --data`` on hostile input. Each refusal is one line naming the argument, file or
line, comes before the work where it can be known before, and never says "a bug?"; each test
runs the same command on good input too (the positive control).
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import never, one_line_error, run

from deepfm_lite.cli import arguments
from deepfm_lite.cli import train as train_command
from deepfm_lite.data import chunks, make_criteo_like, prepared, write_criteo_tsv
from deepfm_lite.data.prepared import prepare_file

GB = 1_000_000_000


@pytest.fixture(scope="module")
def criteo_tsv(tmp_path_factory) -> Path:
    return write_criteo_tsv(make_criteo_like(400, seed=0),
                            tmp_path_factory.mktemp("src") / "train.txt")


def _train_prepared(capsys, folder, *extra):
    return run(capsys, "train", "--prepared", folder, "--model", "lr", "--epochs", "1",
                "--no-progress", *extra)


@pytest.fixture
def own_tmpdir(tmp_path, monkeypatch) -> Path:
    """$TMPDIR of this process (where train --data prepares) is a folder of the test's."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def _ours(folder: Path) -> list[str]:
    """What deepfm_lite left in ``folder`` (torch may keep a cache of its own there)."""
    return [path.name for path in folder.iterdir() if "deepfm_lite" in path.name]


# ---- 1. a prepared folder is verified before training -----------------------------------------
def test_a_schema_from_another_run_is_refused_before_training(capsys, tmp_path, criteo_tsv,
                                                              monkeypatch):
    for name, min_count in (("a", "2"), ("b", "5")):
        code, _, err = run(capsys, "prepare", "--data", criteo_tsv, "--format", "criteo",
                            "--out", tmp_path / name, "--min-count", min_count, "--no-progress")
        assert code == 0, err
    code, out, _ = _train_prepared(capsys, tmp_path / "b", "--json")  # positive control
    assert code == 0 and json.loads(out)["train_rows"] == 360
    shutil.copy(tmp_path / "a" / "schema.json", tmp_path / "b" / "schema.json")
    monkeypatch.setattr(train_command, "fit", never("fit"))
    code, _, err = _train_prepared(capsys, tmp_path / "b", "--save", tmp_path / "m.pt")
    one_line_error(code, err, f"--prepared {tmp_path / 'b'}", "b/schema.json: field I",
                    "manifest.json's field_dims", "prepare the folder again")
    assert not (tmp_path / "m.pt").exists()


@pytest.fixture(scope="module")
def prepared_folder(tmp_path_factory, criteo_tsv) -> Path:
    folder = tmp_path_factory.mktemp("prep") / "p"
    prepare_file(criteo_tsv, folder, min_count=2)
    return folder


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: m.pop("splits"), "manifest.json: 'splits' is missing"),
    (lambda m: m["splits"].pop("train"), "manifest.json: 'splits' names ['valid']"),
    (lambda m: m["splits"]["train"].update(rows="360"), "splits.train must hold 'rows'"),
    (lambda m: [m], "manifest.json: expected a JSON object {...}, found a list"),
    (lambda m: m.update(splits={"train": m["splits"]["train"],
                                "../outside/x": m["splits"]["valid"]}),
     "'splits' names ['train', '../outside/x']"),
])
def test_a_spoiled_manifest_is_one_line(capsys, tmp_path, prepared_folder, no_training, edit,
                                        fragment):
    folder = tmp_path / "p"
    shutil.copytree(prepared_folder, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    result = edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(result if isinstance(result, list)
                                                     else manifest))
    code, _, err = _train_prepared(capsys, folder)
    one_line_error(code, err, f"--prepared {folder}", fragment)


def test_a_short_p_true_and_a_one_class_split_are_refused_before_training(capsys, tmp_path,
                                                                          monkeypatch):
    source = tmp_path / "sample.csv"
    make_criteo_like(400, seed=1).to_csv(source, index=False)
    code, _, err = run(capsys, "prepare", "--data", source, "--format", "criteo", "--out",
                        tmp_path / "p", "--no-progress")
    assert code == 0, err
    code, out, _ = _train_prepared(capsys, tmp_path / "p", "--json")  # positive control
    assert code == 0 and json.loads(out)["oracle_auc"] is not None
    monkeypatch.setattr(train_command, "fit", never("fit"))
    shutil.copytree(tmp_path / "p", tmp_path / "short")
    p_true = np.load(tmp_path / "short" / "valid_p_true.npy")
    np.save(tmp_path / "short" / "valid_p_true.npy", p_true[:-5])
    code, _, err = _train_prepared(capsys, tmp_path / "short")
    one_line_error(code, err, "short/valid_p_true.npy:", "when it was prepared")

    shutil.copytree(tmp_path / "p", tmp_path / "one")
    labels = np.load(tmp_path / "one" / "valid_labels.npy")
    np.save(tmp_path / "one" / "valid_labels.npy", np.zeros_like(labels))
    code, _, err = _train_prepared(capsys, tmp_path / "one")
    one_line_error(code, err, "one/valid_labels.npy: its SHA-256 differs")
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    manifest["splits"]["valid"]["positives"] = 0  # a manifest that agrees: one class
    manifest["files"]["valid_labels.npy"] = chunks.file_record(tmp_path / "one" /
                                                               "valid_labels.npy")
    (tmp_path / "one" / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = _train_prepared(capsys, tmp_path / "one")
    one_line_error(code, err, "one/valid_labels.npy: the valid split has 0 positives in 40 "
                    "rows: AUC needs both classes")


# ---- 2. gzip, full disk, symbolic links ---------------------------------------------------------
@pytest.fixture(scope="module")
def gz_files(tmp_path_factory, criteo_tsv) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gz")
    text = criteo_tsv.read_bytes()
    csv_text = make_criteo_like(400, seed=0).drop(columns=["p_true"]).to_csv(index=False)
    files = {}
    for name, data in (("txt", text), ("csv", csv_text.encode())):
        packed = gzip.compress(data)
        files[f"good.{name}"] = folder / f"good.{name}.gz"
        files[f"truncated.{name}"] = folder / f"truncated.{name}.gz"
        files[f"plain.{name}"] = folder / f"plain.{name}.gz"
        files[f"good.{name}"].write_bytes(packed)
        files[f"truncated.{name}"].write_bytes(packed[: len(packed) // 2])
        files[f"plain.{name}"].write_bytes(data)
    return files


def _data_commands(path: Path, out: Path, file_format: str) -> list[list]:
    csv = ["--label", "label"] if file_format == "csv" else []
    return [["prepare", "--data", path, "--format", file_format, "--out", out, "--no-progress",
             *csv],
            ["train", "--data", path, "--format", file_format, "--model", "lr", "--epochs", "1",
             "--no-progress", *csv]]


@pytest.mark.parametrize("file_format", ["criteo", "csv"])
@pytest.mark.parametrize("kind, fragment", [
    ("truncated", "the gzip data ends early (the file is truncated"),
    ("plain", "named .gz but not gzip-compressed (it begins b'"),
])
def test_damaged_gzip_is_one_line(capsys, tmp_path, gz_files, file_format, kind, fragment,
                                  own_tmpdir):
    suffix = "txt" if file_format == "criteo" else "csv"
    for command in _data_commands(gz_files[f"good.{suffix}"], tmp_path / "good", file_format):
        code, _, err = run(capsys, *command)  # positive control
        assert code == 0, err
    for command in _data_commands(gz_files[f"{kind}.{suffix}"], tmp_path / "p", file_format):
        code, _, err = run(capsys, *command)
        one_line_error(code, err, f"{kind}.{suffix}.gz", fragment)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good", "tmp"]
    assert _ours(own_tmpdir) == []


class _FullDisk(io.FileIO):
    """A binary file on a disk with ``room`` bytes left (then ENOSPC)."""

    room = 0

    def write(self, data) -> int:
        if _FullDisk.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name)
        count = min(len(memoryview(data).cast("B")), _FullDisk.room)
        _FullDisk.room -= count
        return super().write(memoryview(data).cast("B")[:count])


def _fill_the_disk(patched: pytest.MonkeyPatch) -> None:
    """From now on the arrays prepare writes find 40 kB of room."""
    def opener(path, mode="r", *args, **kwargs):
        if "w" in mode and "b" in mode:
            return _FullDisk(path, "w")
        return open(path, mode, *args, **kwargs)

    patched.setattr(_FullDisk, "room", 40_000)
    patched.setattr(chunks, "open", opener, raising=False)


def test_a_full_disk_during_prepare_names_the_folder(capsys, tmp_path, criteo_tsv, monkeypatch):
    out = tmp_path / "disk" / "p"
    command = ["prepare", "--data", criteo_tsv, "--format", "criteo", "--no-progress", "--out"]
    code, _, err = run(capsys, *command, tmp_path / "good")  # positive control
    assert code == 0, err
    _fill_the_disk(monkeypatch)
    code, _, err = run(capsys, *command, out)
    one_line_error(code, err, f"--out {out}: {out.parent}: the disk is full (No space left on "
                    "device) while writing train_ids.npy", "nothing was kept")
    assert list(out.parent.iterdir()) == []


def test_a_full_disk_during_train_data_says_tmpdir(capsys, criteo_tsv, monkeypatch, own_tmpdir,
                                                   no_training):
    _fill_the_disk(monkeypatch)
    code, _, err = run(capsys, "train", "--data", criteo_tsv, "--format", "criteo",
                        "--no-progress")
    one_line_error(code, err, f"--data {criteo_tsv}: the disk is full", "set TMPDIR")
    assert list(own_tmpdir.iterdir()) == []


def test_a_symbolic_link_as_out_is_refused_before_the_work(capsys, tmp_path, criteo_tsv,
                                                           monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    command = ["prepare", "--data", criteo_tsv, "--format", "criteo", "--no-progress", "--out"]
    with monkeypatch.context() as patched:
        patched.setattr(prepared, "scan_source", never("the scan"))
        code, _, err = run(capsys, *command, tmp_path / "link")
        one_line_error(code, err, f"--out {tmp_path / 'link'}: is a symbolic link (to ",
                        f"give the directory's own path, {tmp_path / 'real'}")
        code, _, err = run(capsys, *command, tmp_path / "dangling")
        one_line_error(code, err, f"--out {tmp_path / 'dangling'}: is a symbolic link to ",
                        "which does not exist")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dangling", "link", "real"]
    code, _, err = run(capsys, *command, tmp_path / "real")  # positive control
    assert code == 0, err


# ---- 3. streams: refused without being read -----------------------------------------------------
def _command(*argv, **kwargs) -> subprocess.CompletedProcess:
    """The command line in a child process, stopped after 60 s: a hang fails, never blocks."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)


def _child_error(run: subprocess.CompletedProcess, *fragments) -> None:
    one_line_error(run.returncode, run.stderr, *fragments)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_blocking(tmp_path, criteo_tsv):
    fifo = tmp_path / "rows.txt"
    os.mkfifo(fifo)
    python = [sys.executable, "-m", "deepfm_lite"]
    for command in _data_commands(fifo, tmp_path / "p", "criteo"):
        _child_error(_command(*python, *map(str, command)), f"--data {fifo}: is a pipe",
                     "save it to a file first")
    fifo.unlink()
    shutil.copy(criteo_tsv, fifo)  # positive control: the same path as a regular file
    run = _command(*python, *map(str, _data_commands(fifo, tmp_path / "p", "criteo")[0]))
    assert run.returncode == 0, run.stderr


def test_the_empty_file_check_reads_no_stream(tmp_path, criteo_tsv):
    # A process substitution is read by nobody: the error names --data, not the label that a
    # lost first byte would have spoiled.
    shell = shutil.which("bash")
    if shell is None or not Path("/dev/fd").exists():
        pytest.skip("needs bash and /dev/fd")
    for subcommand in (f"prepare --out {tmp_path / 'p'} --format criteo",
                       "train --format criteo"):
        line = (f"{sys.executable} -m deepfm_lite {subcommand} --no-progress "
                f"--data <(cat {criteo_tsv})")
        _child_error(_command(shell, "-c", line), "--data /dev/fd/", "is a pipe",
                     "save it to a file first")
    line = (f"{sys.executable} -m deepfm_lite prepare --out {tmp_path / 'p'} --format criteo "
            f"--no-progress --data {criteo_tsv}")  # positive control
    assert _command(shell, "-c", line).returncode == 0


def test_check_input_file_refuses_a_pipe_and_keeps_regular_files(tmp_path, criteo_tsv):
    read, write = os.pipe()
    try:
        os.write(write, b"1\t2\n")
        with pytest.raises(arguments.UsageError, match=r"^--data /dev/fd/\d+: is a pipe"):
            arguments.check_input_file(f"/dev/fd/{read}", "--data")
        assert os.read(read, 100) == b"1\t2\n"  # nothing was taken from the stream
    finally:
        os.close(read)
        os.close(write)
    assert arguments.check_input_file(criteo_tsv, "--data") == criteo_tsv
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(arguments.UsageError, match="the file is empty"):
        arguments.check_input_file(tmp_path / "empty.txt", "--data")


# ---- 4. nothing left behind ---------------------------------------------------------------------
TRAIN_UNTIL_STOPPED = """
import sys
from deepfm_lite.cli import main
from deepfm_lite.cli import train

real_fit = train.fit

def fit(*args, **kwargs):
    print("training", flush=True)
    return real_fit(*args, **{**kwargs, "epochs": 100_000, "patience": None})

train.fit = fit
sys.exit(main(sys.argv[1:]))
"""


def _train_env(tmp_path: Path) -> tuple[Path, dict]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    # torch keeps a compiler cache under $TMPDIR; it is not ours, so it goes elsewhere
    return temp, {**os.environ, "TMPDIR": str(temp),
                  "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "torch_cache")}


@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)],
                         ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_training_leaves_nothing_in_tmpdir(tmp_path, criteo_tsv, signum):
    temp, env = _train_env(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", TRAIN_UNTIL_STOPPED, "train", "--data",
                              str(criteo_tsv), "--format", "criteo", "--model", "lr",
                              "--no-progress"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "training"
        held = list(temp.iterdir())
        assert len(held) == 1 and held[0].name.startswith(f"deepfm_lite-train.{child.pid}.")
        assert (held[0] / "prepared" / "train_ids.npy").is_file()  # mapped while training
        child.send_signal(signum)
        assert child.wait(timeout=60) == -signum  # it dies of the signal, as asked
    finally:
        child.kill()
        child.stdout.close()
    assert list(temp.iterdir()) == []


def test_a_train_killed_by_sigkill_is_cleaned_up_by_the_next(tmp_path, criteo_tsv):
    temp, env = _train_env(tmp_path)
    command = ["train", "--data", str(criteo_tsv), "--format", "criteo", "--model", "lr",
               "--no-progress"]
    child = subprocess.Popen([sys.executable, "-c", TRAIN_UNTIL_STOPPED, *command],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout.readline().strip() == "training"
    child.kill()
    assert child.wait(timeout=60) == -signal.SIGKILL
    child.stdout.close()
    left = list(temp.iterdir())
    assert len(left) == 1  # SIGKILL cannot be caught
    again = _command(sys.executable, "-m", "deepfm_lite", *command, "--epochs", "1", env=env)
    assert again.returncode == 0, again.stderr  # the positive control: a run to its end
    assert again.stderr.splitlines() == [
        f"deepfm_lite: warning: removed {left[0]}: a temporary folder left by train process "
        f"{child.pid}, which no longer runs (killed, or the machine restarted)"]
    assert list(temp.iterdir()) == []  # and the finished run left nothing either


# ---- 5. bounded lines, bounded tables -----------------------------------------------------------
def test_a_cr_only_file_is_refused_naming_the_line(capsys, tmp_path, criteo_tsv, monkeypatch,
                                                   own_tmpdir, no_training):
    cr_only = tmp_path / "cr.txt"
    cr_only.write_bytes(criteo_tsv.read_bytes().replace(b"\n", b"\r") * 12)  # 1.2 MB
    hint = "its lines seem to end with a carriage return alone (\\r, old Mac style)"
    for command in _data_commands(cr_only, tmp_path / "p", "criteo"):
        code, _, err = run(capsys, *command)
        one_line_error(code, err, "cr.txt: line 1 is longer than 1,048,576 bytes", hint)
    frame = make_criteo_like(4000, seed=0).drop(columns=["p_true"])
    cr_csv = tmp_path / "cr.csv"
    cr_csv.write_bytes(frame.to_csv(index=False).replace("\n", "\r").encode() * 2)
    assert cr_csv.stat().st_size > 1 << 20
    monkeypatch.setattr(train_command, "CSV_IN_MEMORY_BYTES", 1000)  # the streamed path
    code, _, err = run(capsys, "train", "--data", cr_csv, "--format", "csv", "--label",
                        "label")
    one_line_error(code, err, f"--data {cr_csv}: line 1 is longer than 1,048,576 bytes", hint)
    small = tmp_path / "cr_small.txt"  # "one line" of less than the limit: no rows under it
    small.write_bytes(criteo_tsv.read_bytes().replace(b"\n", b"\r"))
    code, _, err = run(capsys, "prepare", "--data", small, "--format", "csv", "--label", "0",
                        "--out", tmp_path / "p")
    one_line_error(code, err, f"{small}: no data rows in the file; {hint}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cr.csv", "cr.txt", "cr_small.txt",
                                                               "tmp"]
    assert list(own_tmpdir.iterdir()) == []


def test_hash_buckets_are_bounded_and_lr_memory_names_the_data(capsys, tmp_path, criteo_tsv,
                                                               monkeypatch):
    prepare = ["prepare", "--data", criteo_tsv, "--format", "criteo", "--no-progress",
               "--hash-buckets"]
    code, _, err = run(capsys, *prepare, "2147483645", "--out", tmp_path / "huge")
    one_line_error(code, err, "argument --hash-buckets: at most 16,777,216 (2**24) buckets "
                    "per field, got '2147483645'")
    code, _, err = run(capsys, *prepare, "16777216", "--out", tmp_path / "big")
    assert code == 0, err
    monkeypatch.setattr(arguments, "available_memory", lambda: 8 * GB)
    monkeypatch.setattr(train_command, "fit", never("fit"))
    code, _, err = _train_prepared(capsys, tmp_path / "big")
    one_line_error(code, err, f"--prepared {tmp_path / 'big'}: training lr needs about 13.1 GB",
                    "654,311,502 feature ids (lr has no embeddings: one weight per id",
                    "fewer ids: prepare with fewer --hash-buckets or a larger --min-count")
    assert "--embed-dim" not in err
    code, _, err = run(capsys, "train", "--prepared", tmp_path / "big", "--model", "fm")
    one_line_error(code, err, "--embed-dim 10: training fm needs about")
    monkeypatch.undo()
    code, _, err = run(capsys, *prepare, "1000", "--out", tmp_path / "small")
    assert code == 0, err
    code, _, err = _train_prepared(capsys, tmp_path / "small")  # positive control
    assert code == 0, err
    parts = arguments.model_memory("lr", [1000] * 10, 10, [400], 1024, 5000)
    assert set(parts) == {"feature ids", "--hidden"} and parts["--hidden"] == 0
