"""Issue 25, "Nothing lost, nothing hangs", in the data pipeline: each hostile input is refused
at its root, in one line naming the file, and the same call on good input still works.

1. A prepared folder is verified before it is trusted (manifest, schema, arrays, checksums),
   and no name read from its manifest leads out of it.
2. Damaged gzip, a full disk, a symbolic link as the output, a file's mode.
3. A pipe is refused without being opened.
4. Temporary folders left by SIGKILL are found and removed by the next run.
5. A line is never read beyond MAX_LINE_BYTES; hash buckets are bounded.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from deepfm_lite.data import chunks, make_criteo_like, prepared, read_criteo, write_criteo_tsv
from deepfm_lite.data.atomic import (
    TemporaryFolder,
    remove_stale_folders,
    temporary_name,
    this_host,
)
from deepfm_lite.data.chunks import read_frames, scan_source
from deepfm_lite.data.prepared import (
    MAX_HASH_BUCKETS,
    DiskFullError,
    load_prepared,
    prepare_file,
)
from deepfm_lite.data.sources import MAX_LINE_BYTES, LongLineFinder, bounded_lines


@pytest.fixture(scope="module")
def criteo_file(tmp_path_factory) -> Path:
    return write_criteo_tsv(make_criteo_like(600, seed=4),
                            tmp_path_factory.mktemp("src") / "train.txt")


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory, criteo_file) -> Path:
    """A folder as prepare writes it (copied by the tests that spoil it)."""
    folder = tmp_path_factory.mktemp("prep") / "p"
    prepare_file(criteo_file, folder, min_count=2, split=(0.8, 0.1, 0.1))
    return folder


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def _edit_manifest(folder: Path, edit) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    result = edit(manifest)  # edits in place; a list returned replaces the whole manifest
    path.write_text(json.dumps(result if isinstance(result, list) else manifest))


# ---- 1. a prepared folder is verified before it is trusted ------------------------------------
def test_the_manifest_records_size_and_sha256_of_every_file(good_folder):
    import hashlib

    manifest = json.loads((good_folder / "manifest.json").read_text())
    assert manifest["version"] == 2
    names = sorted(path.name for path in good_folder.iterdir() if path.name != "manifest.json")
    assert sorted(manifest["files"]) == names and len(names) == 10  # schema + 3 splits x 3
    for name, record in manifest["files"].items():
        data = (good_folder / name).read_bytes()
        assert record == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    load_prepared(good_folder)  # the positive control: what prepare wrote loads


def test_a_schema_from_another_run_is_refused(criteo_file, tmp_path):
    prepare_file(criteo_file, tmp_path / "a", min_count=2)
    prepare_file(criteo_file, tmp_path / "b", min_count=5)
    assert load_prepared(tmp_path / "b").field_dims != load_prepared(tmp_path / "a").field_dims
    shutil.copy(tmp_path / "a" / "schema.json", tmp_path / "b" / "schema.json")
    with pytest.raises(ValueError, match=r"b/schema.json: field I\d+ has \d+ ids, but "
                                         r"manifest.json's field_dims give it \d+ \(the schema "
                                         r"of another preparation\?\)"):
        load_prepared(tmp_path / "b")


def test_a_schema_of_the_same_sizes_from_another_run_is_caught_by_its_checksum(criteo_file,
                                                                                tmp_path):
    prepare_file(criteo_file, tmp_path / "a", hash_buckets=50, seed=1)
    prepare_file(criteo_file, tmp_path / "b", hash_buckets=50, seed=2)
    # same field sizes, other split: swap the arrays of one split
    shutil.copy(tmp_path / "a" / "valid_ids.npy", tmp_path / "b" / "valid_ids.npy")
    with pytest.raises(ValueError, match=r"b/valid_ids.npy: its SHA-256 differs from the one "
                                         r"manifest.json recorded"):
        load_prepared(tmp_path / "b")
    load_prepared(tmp_path / "b", verify=False)  # sizes agree: only the checksum can tell
    load_prepared(tmp_path / "a")


BAD_MANIFESTS = [
    (lambda m: m.pop("splits"), r"manifest.json: 'splits' is missing"),
    (lambda m: m["splits"].pop("train"), r"manifest.json: 'splits' names \['valid', 'test'\]"),
    (lambda m: m["splits"].update(train={"rows": "480", "positives": 1}),
     r"manifest.json: splits.train must hold 'rows' and 'positives' as whole numbers"),
    (lambda m: m["splits"].update(train={"rows": 480.0, "positives": 1}), r"splits.train must"),
    (lambda m: [m], r"manifest.json: expected a JSON object \{...\}, found a list"),
    (lambda m: m.update(splits=[1, 2]), r"manifest.json: 'splits' is a list, not an object"),
    (lambda m: m.update(field_dims="many"), r"manifest.json: 'fields' must be a list of names"),
    (lambda m: m.update(p_true="yes"), r"manifest.json: 'p_true' must be true or false"),
    (lambda m: m.update(version=7), r"manifest.json: not a deepfm_lite prepared manifest"),
    (lambda m: m["files"].pop("train_ids.npy"), r"manifest.json: 'files' must record exactly"),
    (lambda m: m["files"].update({"../x.npy": m["files"]["train_ids.npy"]}),
     r"manifest.json: 'files' must record exactly"),
    (lambda m: m["files"]["schema.json"].update(sha256="x"),
     r"manifest.json: files.schema.json must hold 'bytes' and a 'sha256' of 64 hex digits"),
    (lambda m: m["files"]["valid_labels.npy"].update(bytes=1), r"valid_labels.npy: \d+ bytes, "
                                                               r"but 1 when it was prepared"),
    (lambda m: m["field_dims"].__setitem__(0, m["field_dims"][0] + 1),
     r"schema.json: field I1 has \d+ ids, but manifest.json's field_dims give it \d+"),
    (lambda m: m["fields"].reverse(), r"schema.json: fields \['I1', .*\] differ from "
                                      r"manifest.json's \['C26', "),
    (lambda m: m["splits"]["valid"].update(positives=m["splits"]["valid"]["positives"] + 1),
     r"valid_labels.npy: \d+ positives, but manifest.json records \d+"),
    (lambda m: m["splits"]["test"].update(rows=m["splits"]["test"]["rows"] - 1),
     r"test_ids.npy: expected int32 of shape \(59, 39\) \(the 59 rows manifest.json records\)"),
]


@pytest.mark.parametrize("edit, message", BAD_MANIFESTS)
def test_a_spoiled_manifest_is_named_in_one_line(good_folder, tmp_path, edit, message):
    folder = _copy(good_folder, tmp_path)
    load_prepared(folder)  # positive control: the copy loads before it is spoiled
    _edit_manifest(folder, edit)
    with pytest.raises(ValueError, match=message) as raised:
        load_prepared(folder)
    assert "\n" not in str(raised.value) and str(folder) in str(raised.value)


def test_a_split_name_never_leads_out_of_the_folder(good_folder, tmp_path):
    folder = _copy(good_folder, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    for kind in ("ids", "values", "labels"):  # what a "../outside/x" split would open
        shutil.copy(folder / f"valid_{kind}.npy", outside / f"x_{kind}.npy")

    def rename(manifest):
        manifest["splits"] = {("../outside/x" if name == "valid" else name): info
                              for name, info in manifest["splits"].items()}
    _edit_manifest(folder, rename)
    with pytest.raises(ValueError, match=r"'splits' names \['train', '../outside/x', 'test'\]; "
                                         r"a prepared folder has the splits train, valid"):
        load_prepared(folder)


@pytest.mark.parametrize("spoil, message", [
    (lambda f: np.save(f / "valid_labels.npy", np.zeros(60, np.float32)),
     r"valid_labels.npy: \d+ bytes, but \d+ when it was prepared|valid_labels.npy: its SHA-256"),
    (lambda f: (f / "train_values.npy").write_bytes(b"\x93NUMPY garbage"),
     r"train_values.npy: 14 bytes, but [\d,]+ when it was prepared"),
    (lambda f: (f / "test_ids.npy").unlink(), r"test_ids.npy is missing"),
])
def test_a_spoiled_array_is_named(good_folder, tmp_path, spoil, message):
    folder = _copy(good_folder, tmp_path)
    spoil(folder)
    with pytest.raises(ValueError, match=message):
        load_prepared(folder)


def _version_1(folder: Path) -> None:
    """The folder as the first version of prepare wrote it: no checksums."""
    def downgrade(manifest):
        manifest["version"] = 1
        del manifest["files"]
    _edit_manifest(folder, downgrade)


def test_a_version_1_folder_loads_with_a_warning_and_is_still_checked(good_folder, tmp_path):
    folder = _copy(good_folder, tmp_path)
    _version_1(folder)
    with pytest.warns(UserWarning, match=r"version 1 records no checksums, so the files of .* "
                                         r"are not verified; prepare it again"):
        data = load_prepared(folder)
    assert len(data.train) == 480
    labels = np.load(folder / "valid_labels.npy")
    np.save(folder / "valid_labels.npy", np.zeros_like(labels))  # a one-class valid split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"valid_labels.npy: 0 positives, but manifest.json "
                                             r"records \d+; prepare the folder again"):
            load_prepared(folder)


@pytest.fixture(scope="module")
def oracle_folder(tmp_path_factory) -> Path:
    """A prepared Criteo CSV with p_true, as datasets/criteo_like_sample.csv has it."""
    source = tmp_path_factory.mktemp("oracle") / "sample.csv"
    make_criteo_like(500, seed=5).to_csv(source, index=False)
    prepare_file(source, source.parent / "p")
    return source.parent / "p"


def test_a_p_true_of_the_wrong_length_is_refused(oracle_folder, tmp_path):
    assert load_prepared(oracle_folder).valid.p_true.shape == (50,)  # positive control
    folder = _copy(oracle_folder, tmp_path)
    np.save(folder / "valid_p_true.npy", np.load(folder / "valid_p_true.npy")[:-5])
    with pytest.raises(ValueError, match=r"valid_p_true.npy: \d+ bytes, but \d+ when it was"):
        load_prepared(folder)
    _version_1(folder)  # without the size on record, the shape check names it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"valid_p_true.npy: expected float64 of shape "
                                             r"\(50,\) \(the 50 rows manifest.json records\), "
                                             r"found float64 of shape \(45,\)"):
            load_prepared(folder)


def test_a_one_class_split_is_named_by_its_labels_file(tmp_path):
    frame = make_criteo_like(300, seed=1)
    frame["label"] = 0
    frame.loc[0, "label"] = 1
    source = write_criteo_tsv(frame, tmp_path / "one.txt")
    prepare_file(source, tmp_path / "p")
    data = load_prepared(tmp_path / "p")
    with pytest.raises(ValueError, match=r"p/valid_labels.npy: the valid split has 0 positives "
                                         r"in 30 rows: AUC needs both classes"):
        prepared.check_prepared_classes(data)


# ---- 2. gzip, full disk, symbolic links, modes -------------------------------------------------
@pytest.fixture(scope="module")
def gz_files(tmp_path_factory, criteo_file) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gz")
    data = gzip.compress(criteo_file.read_bytes())
    files = {"good": folder / "good.txt.gz", "truncated": folder / "truncated.txt.gz",
             "plain": folder / "plain.txt.gz"}
    files["good"].write_bytes(data)
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["plain"].write_bytes(criteo_file.read_bytes())
    return files


@pytest.mark.parametrize("kind, message", [
    ("truncated", r"truncated.txt.gz: the gzip data ends early \(the file is truncated"),
    ("plain", r"plain.txt.gz: named .gz but not gzip-compressed \(it begins b'[01]\\t"),
])
def test_damaged_gzip_is_named(gz_files, tmp_path, kind, message):
    manifest = prepare_file(gz_files["good"], tmp_path / "good")  # positive control
    assert manifest["settings"]["rows"] == 600
    with pytest.raises(ValueError, match=message):
        prepare_file(gz_files[kind], tmp_path / "p")
    with pytest.raises(ValueError, match=message):
        list(read_criteo(gz_files[kind], chunksize=100))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good"]


def test_damaged_gzip_csv_is_named(tmp_path):
    frame = make_criteo_like(3000, seed=2)
    frame.to_csv(tmp_path / "rows.csv.gz", index=False)
    data = (tmp_path / "rows.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    assert sum(map(len, read_frames(tmp_path / "rows.csv.gz", "csv", 1000))) == 3000
    with pytest.raises(ValueError, match=r"cut.csv.gz: the gzip data ends early"):
        list(read_frames(tmp_path / "cut.csv.gz", "csv", 1000))
    with pytest.raises(ValueError, match=r"cut.csv.gz: the gzip data ends early"):
        prepare_file(tmp_path / "cut.csv.gz", tmp_path / "p", format="csv", label="label")


class _FullDisk(io.FileIO):
    """A binary file on a disk with ``room`` bytes left: writes stop short, then write 0."""

    room = 0
    raises = False

    def write(self, data) -> int:
        if _FullDisk.room <= 0 and _FullDisk.raises:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name)
        count = min(len(memoryview(data).cast("B")), _FullDisk.room)
        _FullDisk.room -= count
        return super().write(memoryview(data).cast("B")[:count]) if count else 0


@pytest.mark.parametrize("raises", [False, True], ids=["short write", "ENOSPC"])
def test_a_full_disk_is_named_and_leaves_nothing(criteo_file, tmp_path, monkeypatch, raises):
    prepare_file(criteo_file, tmp_path / "good" / "p")  # positive control

    def opener(path, mode="r", *args, **kwargs):
        if "w" in mode and "b" in mode:
            return _FullDisk(path, "w")
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(_FullDisk, "room", 50_000)
    monkeypatch.setattr(_FullDisk, "raises", raises)
    monkeypatch.setattr(chunks, "open", opener, raising=False)
    with pytest.raises(DiskFullError) as raised:
        prepare_file(criteo_file, tmp_path / "out" / "p")
    error = raised.value
    assert error.errno == errno.ENOSPC and error.filename == str(tmp_path / "out")
    assert error.strerror.startswith("the disk is full (No space left on device) while "
                                     "writing train_ids.npy; the arrays need at least")
    assert list((tmp_path / "out").iterdir()) == []  # the hidden folder is gone


def test_a_disk_too_small_is_refused_before_the_work(criteo_file, tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(prepared.shutil, "disk_usage",
                        lambda path: usage._replace(free=10_000))
    monkeypatch.setattr(prepared.PreparationJob, "fit_schema", lambda job: 1 / 0)  # never runs
    with pytest.raises(DiskFullError, match=r"not enough free disk space: the prepared arrays "
                                            r"need at least 0.2 MB and 0.0 MB is free"):
        prepare_file(criteo_file, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_a_symbolic_link_as_the_output_is_refused_before_the_work(criteo_file, tmp_path,
                                                                  monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with monkeypatch.context() as patched:
        patched.setattr(prepared, "scan_source", lambda *args: 1 / 0)  # no work is done
        with pytest.raises(FileExistsError, match=r"link is a symbolic link \(to .*real\); the "
                                                  r"new directory would replace the link"):
            prepare_file(criteo_file, tmp_path / "link")
        with pytest.raises(FileExistsError, match=r"dangling is a symbolic link to .*nowhere, "
                                                  r"which does not exist"):
            prepare_file(criteo_file, tmp_path / "dangling")
    prepare_file(criteo_file, tmp_path / "real")  # the folder's own path works
    assert (tmp_path / "link" / "manifest.json").is_file()


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_write_criteo_tsv_respects_the_umask(tmp_path, umask):
    frame = make_criteo_like(20, seed=0)
    old = os.umask(umask)
    try:
        path = write_criteo_tsv(frame, tmp_path / "train.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    write_criteo_tsv(frame, path)  # replacing a file keeps its mode, as writing in place would
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["train.txt"]
    assert read_criteo(path)["C1"].tolist() == frame["C1"].tolist()


# ---- 3. a pipe is refused without being opened ---------------------------------------------------
def _returns_within(seconds: float, call):
    """``call()``'s outcome, or a failure when it blocks (a daemon thread: a hang ends here)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked: the pipe was opened"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_being_opened(tmp_path, criteo_file):
    fifo = tmp_path / "rows.txt"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"rows.txt: is a pipe \(a named pipe, or a process "
                                         r"substitution such as <\(...\)\), not a regular file:.*"
                                         r"save it to a file first"):
        _returns_within(20, lambda: prepare_file(fifo, tmp_path / "p"))
    with pytest.raises(ValueError, match=r"rows.txt: is a pipe"):
        _returns_within(20, lambda: read_criteo(fifo))
    assert _returns_within(60, lambda: prepare_file(criteo_file, tmp_path / "p"))  # control


# ---- 4. temporary folders left behind ------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_folders_of_this_kind_are_removed_and_named(tmp_path):
    dead, host = _dead_pid(), this_host()
    stale = tmp_path / f".p.deepfm_lite-prepare.{dead}.{host}.{'a' * 16}.tmp"
    alive = tmp_path / f".p.deepfm_lite-prepare.{os.getppid()}.{host}.{'b' * 16}.tmp"
    elsewhere = tmp_path / f".p.deepfm_lite-prepare.{dead}.otherhost.{'c' * 16}.tmp"
    other_kind = tmp_path / f"deepfm_lite-train.{dead}.{host}.{'d' * 16}.tmp"
    legacy = tmp_path / f".p.{'e' * 16}.tmp"  # older naming: whose it was cannot be told
    for folder in (stale, alive, elsewhere, other_kind, legacy):
        folder.mkdir()
        (folder / "train_ids.npy").write_bytes(b"x")
    with pytest.warns(UserWarning, match=rf"removed {stale}: a temporary folder left by prepare "
                                         rf"process {dead}, which no longer runs"):
        assert remove_stale_folders(tmp_path, "prepare") == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([alive, elsewhere, other_kind, legacy])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert remove_stale_folders(tmp_path, "prepare") == []  # nothing more to say


def test_temporary_names_say_who_made_them():
    name = temporary_name("prepare", prefix=".out.")
    assert name.startswith(f".out.deepfm_lite-prepare.{os.getpid()}.{this_host()}.")
    assert name.endswith(".tmp")


def test_a_temporary_folder_goes_when_dropped_and_restores_the_signal_handlers(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    folder = TemporaryFolder("train", tmp_path)
    assert folder.path.is_dir() and stat.S_IMODE(folder.path.stat().st_mode) == 0o700
    (folder.path / "x").write_text("x")
    if before == signal.SIG_DFL:
        assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL  # guarded meanwhile
    del folder
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before


PREPARE_SLOWLY = """
import sys, time
from deepfm_lite.cli import main
from deepfm_lite.data import chunks, read_criteo

def slow(path, chunksize, nrows):
    yield next(read_criteo(path, chunksize=chunksize, nrows=nrows))
    print("started", flush=True)
    time.sleep(120)

chunks.read_criteo = slow
sys.exit(main(sys.argv[1:]))
"""


def test_a_prepare_killed_by_sigkill_is_cleaned_up_by_the_next(criteo_file, tmp_path):
    command = ["prepare", "--data", str(criteo_file), "--format", "criteo", "--no-progress",
               "--out"]
    child = subprocess.Popen([sys.executable, "-c", PREPARE_SLOWLY, *command,
                              str(tmp_path / "p")], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    left = list(tmp_path.iterdir())
    assert len(left) == 1 and f"deepfm_lite-prepare.{child.pid}." in left[0].name
    child.kill()
    assert child.wait(timeout=30) == -signal.SIGKILL
    child.stdout.close()
    assert list(tmp_path.iterdir()) == left  # SIGKILL cannot be caught: the folder stays
    again = subprocess.run([sys.executable, "-m", "deepfm_lite", *command, str(tmp_path / "q")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"deepfm_lite: warning: removed {left[0]}: a temporary folder left by prepare process "
        f"{child.pid}, which no longer runs (killed, or the machine restarted)"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["q"]


# ---- 5. bounded lines, bounded buckets ----------------------------------------------------------
def _longest_line_over(data: bytes, limit: int) -> int | None:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if len(line) > limit:
            return number
    return None


def test_the_long_line_finder_agrees_with_splitting_the_bytes():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        limit = int(rng.integers(1, 12))
        data = bytes(rng.choice(list(b"ab\n"), size=int(rng.integers(0, 120)),
                                p=[0.45, 0.45, 0.1]).astype(np.uint8))
        step = int(rng.integers(1, 40))
        finder = LongLineFinder(Path("f"), limit)
        found = None
        try:
            for start in range(0, len(data), step):
                finder.feed(data[start:start + step])
        except ValueError as error:
            found = int(str(error).split("line ")[1].split()[0])
        assert found == _longest_line_over(data, limit), (data, limit, step)


def test_a_line_longer_than_the_limit_is_named_with_little_of_it_read(tmp_path, criteo_file):
    lines = criteo_file.read_bytes().splitlines(keepends=True)
    cr_only = tmp_path / "cr.txt"
    cr_only.write_bytes(b"".join(lines).replace(b"\n", b"\r") * 20)  # 2.4 MB, "one line"
    assert cr_only.stat().st_size > MAX_LINE_BYTES
    hint = r"its lines seem to end with a carriage return alone \(\\r, old Mac style\)"
    message = rf"cr.txt: line 1 is longer than 1,048,576 bytes, the most a line may hold.*{hint}"
    with pytest.raises(ValueError, match=message):
        scan_source(cr_only)
    with pytest.raises(ValueError, match=message):
        prepare_file(cr_only, tmp_path / "p")
    with pytest.raises(ValueError, match=message):
        read_criteo(cr_only)
    long_later = tmp_path / "long.txt"
    long_later.write_bytes(b"".join(lines[:5]) + b"x" * (MAX_LINE_BYTES + 1) + b"\n")
    with pytest.raises(ValueError, match=r"long.txt: line 6 is longer .*; is it the right file"):
        scan_source(long_later)
    with pytest.raises(ValueError, match=r"long.txt: line 6 is longer"):
        list(read_criteo(long_later, chunksize=2))
    handle = io.BytesIO(b"a" * MAX_LINE_BYTES + b"\nb")  # exactly the limit is allowed
    assert [len(line) for line in bounded_lines(handle, Path("x"))] == [MAX_LINE_BYTES + 1, 1]
    assert scan_source(criteo_file)["lines"] == 600  # positive control


def test_a_long_line_keeps_memory_bounded(tmp_path, criteo_file):
    """46 MB without a line break: refused with about the memory of the good file's run."""
    line = criteo_file.read_bytes().splitlines()[0] + b"\r"
    (tmp_path / "cr.txt").write_bytes(line * (46_000_000 // len(line)))
    script = textwrap.dedent("""
        import resource, sys
        from deepfm_lite.data.prepared import prepare_file
        try:
            prepare_file(sys.argv[1], sys.argv[2])
        except ValueError as error:
            print(error)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    peaks = {}
    for name, source in (("good", criteo_file), ("cr", tmp_path / "cr.txt")):
        run = subprocess.run([sys.executable, "-c", script, str(source), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=120, check=True)
        *said, peaks[name] = run.stdout.split("\n")[:-1]
        if name == "cr":
            assert "line 1 is longer than 1,048,576 bytes" in said[0]
    assert int(peaks["cr"]) < int(peaks["good"]) + 50, peaks  # was 760 MB against 260 MB


def test_hash_buckets_are_bounded(criteo_file, tmp_path):
    assert MAX_HASH_BUCKETS == 2**24
    with pytest.raises(ValueError, match=r"hash_buckets must be at most 16,777,216 \(2\*\*24 per "
                                         r"field.*got 2,147,483,645"):
        prepare_file(criteo_file, tmp_path / "p", hash_buckets=2_147_483_645)
    manifest = prepare_file(criteo_file, tmp_path / "p", hash_buckets=MAX_HASH_BUCKETS)
    assert manifest["field_dims"] == [MAX_HASH_BUCKETS + 2] * 39
