"""Issue 25, "Nothing lost, nothing hangs": outputs never overwrite inputs, a model file says how
its rows were prepared, and the errors around model files and outputs name what is at fault.

Every refusal is checked against a positive control: the same command on good input succeeds.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_helpers import one_line_error, run
from fakes import FullDisk

from deepfm_lite import checkpoint, experiments
from deepfm_lite import predict as predict_module
from deepfm_lite.cli import main
from deepfm_lite.data import make_criteo_like, read_criteo, write_criteo_tsv
from deepfm_lite.experiments import RESULT_COLUMNS, load_results

CRITEO_FIELDS = [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]


def _scores(path: Path) -> np.ndarray:
    frame = pd.read_csv(path)
    assert frame["row"].tolist() == list(range(1, len(frame) + 1))
    return frame["probability"].to_numpy()


@pytest.fixture(scope="module")
def criteo(tmp_path_factory):
    """A Criteo train.txt, the same rows as a Criteo CSV, a prepared folder and an FM trained
    on it by the command line, saved."""
    folder = tmp_path_factory.mktemp("criteo")
    source = write_criteo_tsv(make_criteo_like(600, seed=3), folder / "train.txt")
    read_criteo(source).to_csv(folder / "train.csv", index=False)
    quiet = ["--no-progress"]
    assert main(["prepare", "--data", str(source), "--format", "criteo", "--out",
                 str(folder / "prepared"), "--min-count", "2", *quiet]) == 0
    assert main(["train", "--prepared", str(folder / "prepared"), "--model", "fm",
                 "--embed-dim", "4", "--epochs", "1", "--save", str(folder / "fm.pt"),
                 *quiet]) == 0
    return folder


def _predict(model, data, out, *options):
    return ["predict", "--model", model, "--data", data, "--format", "criteo", "--out", out,
            "--no-progress", *options]


def _train_csv(data, save, *options):
    return ["train", "--model", "lr", "--data", data, "--format", "csv", "--label", "y",
            "--epochs", "1", "--save", save, "--no-progress", *options]


# ---- 1. outputs never overwrite inputs ---------------------------------------------------------
def test_predict_out_equal_to_data_is_refused_and_the_data_kept(criteo, tmp_path, capsys):
    data = shutil.copy(criteo / "train.txt", tmp_path / "new.tsv")
    before = Path(data).read_bytes()
    code, out, err = run(capsys, *_predict(criteo / "fm.pt", data, data))
    one_line_error(code, err, f"--out {data}", f"the input --data {data}")
    assert out == "" and Path(data).read_bytes() == before
    alias = tmp_path / "alias.tsv"  # another name for the same file
    alias.symlink_to(data)
    code, _, err = run(capsys, *_predict(criteo / "fm.pt", data, alias))
    one_line_error(code, err, f"--out {alias}", f"the input --data {data}")
    assert Path(data).read_bytes() == before
    # positive control: the same command with another output
    code, _, err = run(capsys, *_predict(criteo / "fm.pt", data, tmp_path / "scores.csv"))
    assert code == 0, err
    assert len(_scores(tmp_path / "scores.csv")) == 600 and Path(data).read_bytes() == before


def test_predict_out_equal_to_model_is_refused_and_the_model_kept(criteo, tmp_path, capsys):
    model = shutil.copy(criteo / "fm.pt", tmp_path / "m.pt")
    before = Path(model).read_bytes()
    code, _, err = run(capsys, *_predict(model, criteo / "train.txt", model))
    one_line_error(code, err, f"--out {model}", f"the input --model {model}")
    assert Path(model).read_bytes() == before
    code, _, err = run(capsys, *_predict(model, criteo / "train.txt", tmp_path / "s.csv"))
    assert code == 0, err
    assert Path(model).read_bytes() == before


def test_train_save_equal_to_data_is_refused_and_the_data_kept(clicks_csv, tmp_path, capsys):
    before = clicks_csv.read_bytes()
    code, out, err = run(capsys, *_train_csv(clicks_csv, clicks_csv))
    one_line_error(code, err, f"--save {clicks_csv}", f"the input --data {clicks_csv}")
    assert out == "" and clicks_csv.read_bytes() == before
    code, _, err = run(capsys, *_train_csv(clicks_csv, tmp_path / "model.pt"))
    assert code == 0, err
    assert checkpoint.load(tmp_path / "model.pt").config["model"] == "lr"
    assert clicks_csv.read_bytes() == before


def test_train_save_inside_the_prepared_folder_is_refused(criteo, tmp_path, capsys):
    prepared = tmp_path / "P"
    shutil.copytree(criteo / "prepared", prepared)
    inside = prepared / "train_ids.npy"
    before = inside.read_bytes()
    argv = ["train", "--prepared", prepared, "--model", "lr", "--epochs", "1", "--no-progress"]
    code, _, err = run(capsys, *argv, "--save", inside)
    one_line_error(code, err, f"--save {inside}", f"lies inside the input --prepared {prepared}")
    assert inside.read_bytes() == before
    code, _, err = run(capsys, *argv, "--save", tmp_path / "lr.pt")
    assert code == 0, err
    assert inside.read_bytes() == before and (tmp_path / "lr.pt").is_file()


def test_prepare_out_equal_to_data_is_refused_and_the_data_kept(criteo, tmp_path, capsys):
    data = Path(shutil.copy(criteo / "train.txt", tmp_path / "train.txt"))
    before = data.read_bytes()
    argv = ["prepare", "--data", data, "--format", "criteo", "--no-progress"]
    code, _, err = run(capsys, *argv, "--out", data)
    one_line_error(code, err, f"--out {data}", f"the input --data {data}")
    assert data.read_bytes() == before
    code, _, err = run(capsys, *argv, "--out", tmp_path / "P")
    assert code == 0, err
    assert (tmp_path / "P" / "manifest.json").is_file() and data.read_bytes() == before


def _fake_results() -> pd.DataFrame:
    """What run_table2 returns, for two models and one seed, without training anything."""
    rows = [{"model": name, "label": name.upper(), "params": "{}", "seed": 0, "auc": auc,
             "logloss": 0.5, "train_seconds": 1.0, "cpu_seconds": 1.0, "samples_per_s": 1e4,
             "epochs_run": 1} for name, auc in (("lr", 0.7), ("fm", 0.75))]
    results = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    results.attrs.update({"dataset": "appstore", "scale": "ci", "n_rows": 100,
                          "oracle": {"auc": 0.8, "logloss": 0.4}})
    return results


def test_table2_out_on_a_full_disk_keeps_the_previous_results(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiments, "run_table2", lambda *args, **kwargs: _fake_results())
    old = tmp_path / "old.csv"
    old.write_text("previous results, kept\n" * 50)
    before = old.read_bytes()
    real_fdopen = os.fdopen

    def full_disk(fd, mode="r", *args, **kwargs):
        if "w" in mode:  # the temporary file beside old.csv: 100 bytes fit, then the disk is full
            return io.BufferedWriter(FullDisk(fd, room=100))
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", full_disk)
    code, out, err = run(capsys, "table2", "--out", old)
    one_line_error(code, err, f"--out {old}", "No space left on device")
    assert "Table 2 on appstore" in out  # the finished run is still reported
    assert old.read_bytes() == before
    assert os.listdir(tmp_path) == ["old.csv"]  # no temporary file left behind
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    code, _, err = run(capsys, "table2", "--out", old)  # positive control
    assert code == 0, err
    assert load_results(old)["model"].tolist() == ["lr", "fm"]


# ---- 2. a model file records how its rows were prepared ----------------------------------------
def test_predict_reads_a_criteo_csv_as_csv_with_the_models_recipe(criteo, tmp_path, capsys):
    assert checkpoint.load(criteo / "fm.pt").inputs == {"format": "criteo",
                                                        "recipe": "criteo_x4"}
    code, _, err = run(capsys, *_predict(criteo / "fm.pt", criteo / "train.txt",
                                          tmp_path / "criteo.csv"))
    assert code == 0 and err == ""
    code, _, err = run(capsys, "predict", "--model", criteo / "fm.pt", "--data",
                        criteo / "train.csv", "--format", "csv", "--out", tmp_path / "csv.csv",
                        "--no-progress")
    assert code == 0 and err == ""
    expected, got = _scores(tmp_path / "criteo.csv"), _scores(tmp_path / "csv.csv")
    assert len(got) == 600 and np.array_equal(got, expected)  # none of the rows changes


def test_train_records_how_the_rows_were_prepared(criteo, clicks_csv, tmp_path, capsys):
    runs = {
        "criteo file": (["--data", criteo / "train.txt", "--format", "criteo"],
                        {"format": "criteo", "recipe": "criteo_x4"}),
        "criteo-like": (["--dataset", "criteo-like", "--rows", "3000"],
                        {"format": "criteo", "recipe": "criteo_x4"}),
        "appstore": (["--dataset", "appstore", "--rows", "3000"],
                     {"format": "csv", "recipe": None}),
        "csv file": (["--data", clicks_csv, "--format", "csv", "--label", "y"],
                     {"format": "csv", "recipe": None}),
    }
    for name, (source, record) in runs.items():
        path = tmp_path / f"{name}.pt"
        code, _, err = run(capsys, "train", "--model", "lr", "--epochs", "1", *source,
                            "--save", path, "--no-progress")
        assert code == 0, err
        assert checkpoint.load(path).inputs == record, name


def test_a_csv_model_scores_a_criteo_file_without_the_recipe(criteo, tmp_path, capsys):
    """The converse: a model trained on a Criteo CSV read as plain CSV (its integers taken as
    they are) must not get the Criteo_x4 recipe when a Kaggle file is read for it."""
    model = tmp_path / "csv.pt"
    code, _, err = run(capsys, "train", "--model", "lr", "--data", criteo / "train.csv",
                        "--format", "csv", "--label", "label", "--categorical",
                        ",".join(CRITEO_FIELDS), "--epochs", "1", "--save", model,
                        "--no-progress")
    assert code == 0, err
    assert checkpoint.load(model).inputs == {"format": "csv", "recipe": None}
    code, _, err = run(capsys, *_predict(model, criteo / "train.txt", tmp_path / "tsv.csv"))
    assert code == 0, err
    code, _, err = run(capsys, "predict", "--model", model, "--data", criteo / "train.csv",
                        "--format", "csv", "--out", tmp_path / "csv.csv", "--no-progress")
    assert code == 0, err
    assert np.array_equal(_scores(tmp_path / "tsv.csv"), _scores(tmp_path / "csv.csv"))


def _without_record(saved: Path, target: Path) -> Path:
    """``saved`` as a model file written before the inputs record existed."""
    payload = torch.load(saved, weights_only=True)
    del payload["inputs"]
    torch.save(payload, target)
    return target


def test_an_old_model_file_loads_and_an_ambiguous_format_is_refused(criteo, tmp_path, capsys):
    old = _without_record(criteo / "fm.pt", tmp_path / "old.pt")
    assert checkpoint.load(old).inputs is None
    # a Criteo file: the recipe, as before (the schema's I1..I13 are categorical)
    code, _, err = run(capsys, *_predict(old, criteo / "train.txt", tmp_path / "old.csv"))
    assert code == 0, err
    code, _, err = run(capsys, *_predict(criteo / "fm.pt", criteo / "train.txt",
                                          tmp_path / "new.csv"))
    assert code == 0, err
    assert np.array_equal(_scores(tmp_path / "old.csv"), _scores(tmp_path / "new.csv"))
    # a CSV: the raw integers may or may not need the recipe, so it is refused before writing
    argv = ["predict", "--model", old, "--data", criteo / "train.csv", "--format", "csv",
            "--out", tmp_path / "csv.csv", "--no-progress"]
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, "--format csv", f"--model {old}", "does not record",
                    "format criteo")
    assert not (tmp_path / "csv.csv").exists()
    # the prepared folder it was trained on says how: then the CSV is scored as it should be
    code, _, err = run(capsys, *argv, "--prepared", criteo / "prepared")
    assert code == 0, err
    assert np.array_equal(_scores(tmp_path / "csv.csv"), _scores(tmp_path / "new.csv"))


# ---- 4. errors that name what is at fault --------------------------------------------------------
def test_a_header_only_csv_is_refused_before_the_output_is_written(criteo, tmp_path, capsys):
    header = tmp_path / "header.csv"
    header.write_text((criteo / "train.csv").read_text().splitlines()[0] + "\n")
    for form in ("csv", "criteo"):
        out = tmp_path / f"{form}.csv"
        code, _, err = run(capsys, "predict", "--model", criteo / "fm.pt", "--data", header,
                            "--format", form, "--out", out, "--no-progress")
        one_line_error(code, err, str(header), "no data rows")
        assert sorted(os.listdir(tmp_path)) == ["header.csv"]
    one_row = tmp_path / "one.csv"  # positive control: the header and one row
    one_row.write_text("\n".join((criteo / "train.csv").read_text().splitlines()[:2]) + "\n")
    code, _, err = run(capsys, "predict", "--model", criteo / "fm.pt", "--data", one_row,
                        "--format", "csv", "--out", tmp_path / "one_scores.csv", "--no-progress")
    assert code == 0, err
    assert len(_scores(tmp_path / "one_scores.csv")) == 1


@pytest.mark.parametrize("argv, option, value", [
    (["train", "--seed", "4294967296"], "--seed", "'4294967296'"),
    (["train", "--seed", str(2**64)], "--seed", repr(str(2**64))),
    (["train", "--seed", "2^64"], "--seed", "'2^64'"),
    (["train", "--seed", "-1"], "--seed", "'-1'"),
    (["prepare", "--data", "x.txt", "--format", "criteo", "--out", "p", "--seed",
      "4294967296"], "--seed", "'4294967296'"),
    (["table2", "--seeds", "0,-1"], "--seeds", "'-1' in '0,-1'"),
    (["table2", "--seeds", "0,4294967296"], "--seeds", "'4294967296' in '0,4294967296'"),
])
def test_a_seed_out_of_range_names_its_option(capsys, argv, option, value):
    code, out, err = run(capsys, *argv)
    one_line_error(code, err, f"argument {option}: a seed must be an integer from 0 to "
                               f"4294967295", value)
    assert out == ""


def test_the_largest_seed_is_accepted(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--model", "lr", "--rows", "2000", "--epochs", "1",
                          "--seed", "4294967295", "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)["model"] == "lr"


def test_a_pickled_object_in_a_model_file_is_named_without_unsafe_advice(criteo, tmp_path,
                                                                         capsys):
    import datetime

    foreign = tmp_path / "foreign.pt"
    torch.save({"format": checkpoint.FORMAT, "when": datetime.datetime(2020, 1, 1)}, foreign)
    code, _, err = run(capsys, *_predict(foreign, criteo / "train.txt", tmp_path / "s.csv"))
    line = one_line_error(code, err, f"{foreign} is not a readable deepfm_lite model file",
                           "damaged, or not a deepfm_lite model file", "datetime.datetime")
    assert "weights_only" not in line and "\x1b" not in line
    assert not (tmp_path / "s.csv").exists()


def test_a_full_disk_during_predict_names_out_and_leaves_no_file(criteo, tmp_path, capsys,
                                                                 monkeypatch):
    def full_disk_open(path, mode="r", *args, **kwargs):
        assert "x" in mode  # predict creates its temporary file, never opening it twice
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        return io.TextIOWrapper(io.BufferedWriter(FullDisk(fd, room=2000), buffer_size=512),
                                encoding=kwargs.get("encoding"), newline=kwargs.get("newline"))

    out = tmp_path / "scores.csv"
    monkeypatch.setattr(predict_module, "open", full_disk_open, raising=False)
    code, stdout, err = run(capsys, *_predict(criteo / "fm.pt", criteo / "train.txt", out))
    one_line_error(code, err, f"--out {out}", "No space left on device")
    assert stdout == "" and os.listdir(tmp_path) == []  # no scores, no temporary file
    monkeypatch.undo()
    code, _, err = run(capsys, *_predict(criteo / "fm.pt", criteo / "train.txt", out))
    assert code == 0, err
    assert len(_scores(out)) == 600


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_a_file_size_limit_during_predict_names_out_and_leaves_no_file(criteo, tmp_path):
    out = tmp_path / "out" / "scores.csv"
    out.parent.mkdir()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from deepfm_lite.cli import main
        import deepfm_lite.checkpoint, deepfm_lite.predict  # imported before the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(
            resource.RLIMIT_FSIZE)[1]))
        sys.exit(main({[str(a) for a in _predict(criteo / "fm.pt", criteo / "train.txt",
                                                  out)]!r}))
    """)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=env)
    one_line_error(done.returncode, done.stderr, f"--out {out}", "File too large")
    assert os.listdir(out.parent) == []  # 600 rows of scores exceed 4 KB: nothing is left
    done = subprocess.run([sys.executable, "-c", script.replace("4096", "10**9")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr  # positive control: the same run, room enough
    assert len(_scores(out)) == 600
