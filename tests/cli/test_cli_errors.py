"""The command line's answers to bad input: one line on stderr, exit code 2, the place named.

Issue 12: the label or the true probability is never a feature (section 1), non-finite
arguments are refused where they are typed (2), every failure is one line and a finished run is
kept (3), and errors name the file line, column, split or argument at fault (4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import never, one_line_error, run

from deepfm_lite import checkpoint
from deepfm_lite.cli import arguments
from deepfm_lite.cli import train as train_command

SAMPLES = Path(__file__).resolve().parents[2] / "datasets"
GB = 1_000_000_000


def _with_cell(path: Path, line: int, column: str, value: str) -> Path:
    """A copy of ``path`` with one cell of file line ``line`` (1-based) replaced."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    out = path.with_name(f"edited_{line}_{column}.csv")
    out.write_text("\n".join(lines) + "\n")
    return out


# ---- 1. the label or the true probability is never a feature ----------------------------------
@pytest.mark.parametrize("option", ["--categorical", "--numeric"])
def test_label_named_as_a_feature_is_an_error(capsys, clicks_csv, no_training, option):
    code, out, err = run(capsys, "train", "--model", "lr", "--format", "csv", "--label", "y",
                          "--data", clicks_csv, option, "y,a" if option == "--categorical"
                          else "y,b")
    one_line_error(code, err, option, "label column 'y'")
    assert out == ""


def test_sample_file_trains_without_p_true_and_says_so(capsys, tmp_path):
    model_path = tmp_path / "lr.pt"
    code, out, err = run(capsys, "train", "--model", "lr", "--format", "csv", "--label", "click",
                          "--data", SAMPLES / "appstore_sample.csv", "--epochs", "1",
                          "--save", model_path, "--json")
    assert code == 0
    assert err.splitlines() == [
        "deepfm_lite: note: left out p_true: the generator's true click probability, not a "
        "feature (name it in --numeric to use it anyway; --categorical/--numeric choose the "
        "columns)"]
    fields = checkpoint.load(model_path).schema.field_names
    assert "p_true" not in fields and "click" not in fields and "rating" in fields
    report = json.loads(out)
    assert report["oracle_auc"] is not None  # p_true still serves as the oracle


def test_naming_p_true_as_a_feature_warns_what_it_is(capsys, tmp_path):
    model_path = tmp_path / "lr.pt"
    code, _, err = run(capsys, "train", "--model", "lr", "--format", "csv", "--label", "click",
                        "--data", SAMPLES / "appstore_sample.csv", "--epochs", "1", "--rows",
                        "1000", "--categorical", "app_id", "--numeric", "p_true",
                        "--save", model_path)
    assert code == 0
    assert err.splitlines() == [
        "deepfm_lite: warning: p_true is the generator's true click probability, not a feature: "
        "a model that reads it is handed the answer, and its test scores measure nothing"]
    assert checkpoint.load(model_path).schema.field_names == ["app_id", "p_true"]


def test_criteo_sample_trains_with_p_true_as_the_oracle_only(capsys, tmp_path):
    model_path = tmp_path / "fm.pt"
    code, out, err = run(capsys, "train", "--model", "lr", "--format", "criteo", "--data",
                          SAMPLES / "criteo_like_sample.csv", "--epochs", "1", "--json",
                          "--save", model_path)
    assert code == 0, err
    assert json.loads(out)["oracle_auc"] is not None
    fields = checkpoint.load(model_path).schema.field_names
    assert len(fields) == 39 and "p_true" not in fields


def test_criteo_format_refuses_csv_field_options(capsys, no_training):
    code, _, err = run(capsys, "train", "--format", "criteo", "--data",
                        SAMPLES / "criteo_like_sample.csv", "--numeric", "p_true")
    one_line_error(code, err, "--numeric", "--format csv")


# ---- 2. non-finite arguments, divergence, worse than the base rate -----------------------------
@pytest.mark.parametrize("option", ["--lr", "--dropout"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_numbers_are_refused_at_the_argument(capsys, no_training, option, value):
    code, out, err = run(capsys, "train", f"{option}={value}")  # "-inf" needs the "="
    one_line_error(code, err, f"argument {option}", "finite", repr(value))
    assert out == ""


def test_divergence_from_fit_is_one_line(capsys, monkeypatch):
    class Diverged(ValueError):
        pass

    def diverge(*args, **kwargs):
        raise Diverged("training loss became nan at epoch 2, step 17 (lr=10.0)\nmore detail")

    monkeypatch.setattr(train_command, "fit", diverge)
    code, out, err = run(capsys, "train", "--rows", "2000", "--lr", "10")
    one_line_error(code, err, "epoch 2, step 17", "lr=10.0")
    assert out == ""


def test_report_says_when_worse_than_the_base_rate(capsys, monkeypatch):
    monkeypatch.setattr(train_command, "evaluate",
                        lambda model, data: {"auc": 0.6, "logloss": 11.5})
    code, out, _ = run(capsys, "train", "--model", "lr", "--rows", "2000", "--epochs", "1",
                        "--json")
    report = json.loads(out)
    assert code == 0 and report["worse_than_base_rate"] is True
    assert 0.3 < report["base_rate_logloss"] < 0.7 and 0.1 < report["base_rate"] < 0.3
    code, out, _ = run(capsys, "train", "--model", "lr", "--rows", "2000", "--epochs", "1")
    assert code == 0
    assert "test LogLoss 11.5000 is worse than the base rate's" in out


def test_report_of_a_good_model_is_not_flagged(capsys, monkeypatch):
    monkeypatch.setattr(train_command, "evaluate", lambda model, data: {"auc": 0.8, "logloss": 0.1})
    code, out, _ = run(capsys, "train", "--model", "lr", "--rows", "2000", "--epochs", "1")
    assert code == 0 and "base rate        LogLoss" in out and "worse" not in out


# ---- 3. every failure is one line; a finished run is kept --------------------------------------
def test_save_to_a_directory_is_refused_before_training(capsys, tmp_path, no_training):
    code, _, err = run(capsys, "train", "--rows", "2000", "--save", tmp_path)
    one_line_error(code, err, f"--save {tmp_path}", "directory")


def test_save_under_a_file_is_refused_before_training(capsys, tmp_path, no_training):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, _, err = run(capsys, "train", "--rows", "2000", "--save", blocker / "model.pt")
    one_line_error(code, err, "--save", f"{blocker} is a file")


def test_save_into_a_new_folder_works(capsys, tmp_path):
    path = tmp_path / "new" / "folder" / "lr.pt"
    code, _, _ = run(capsys, "train", "--model", "lr", "--rows", "2000", "--epochs", "1",
                      "--save", path)
    assert code == 0 and checkpoint.load(path).config["model"] == "lr"


def test_a_failed_save_still_prints_the_report(capsys, tmp_path, monkeypatch):
    def disk_full(model, path, schema=None):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "save", disk_full)
    path = tmp_path / "lr.pt"
    code, out, err = run(capsys, "train", "--model", "lr", "--rows", "2000", "--epochs", "1",
                          "--save", path, "--json")
    one_line_error(code, err, f"--save {path}", "No space left on device")
    assert json.loads(out)["model"] == "lr"  # the run is not thrown away


@pytest.mark.parametrize("where", ["directory", "under a file"])
def test_table2_out_is_checked_before_the_run(capsys, tmp_path, monkeypatch, where):
    from deepfm_lite import experiments

    monkeypatch.setattr(experiments, "run_table2", never("run_table2"))
    target = tmp_path
    if where == "under a file":
        (tmp_path / "f").write_text("x")
        target = tmp_path / "f" / "runs.csv"
    code, _, err = run(capsys, "table2", "--out", target)
    one_line_error(code, err, "--out", str(target))


@pytest.mark.parametrize("file_format", ["csv", "criteo"])
def test_data_directory_is_one_line(capsys, tmp_path, no_training, file_format):
    code, _, err = run(capsys, "train", "--data", tmp_path, "--format", file_format,
                        *(["--label", "y"] if file_format == "csv" else []))
    one_line_error(code, err, f"--data {tmp_path}", "is a directory")


def test_unknown_device_is_refused_at_the_argument(capsys, no_training):
    code, _, err = run(capsys, "train", "--device", "tpu")
    one_line_error(code, err, "argument --device", "'tpu'", "cpu", "cuda:N")


def test_cuda_without_a_gpu_is_one_line(capsys, monkeypatch, no_training):
    monkeypatch.setattr(arguments.torch.cuda, "is_available", lambda: False)
    code, _, err = run(capsys, "train", "--device", "cuda")
    one_line_error(code, err, "--device cuda", "no CUDA GPU")
    code, _, err = run(capsys, "table2", "--device", "cuda:0")
    one_line_error(code, err, "--device cuda:0", "no CUDA GPU")


def test_cuda_index_past_the_devices_is_one_line(capsys, monkeypatch, no_training):
    monkeypatch.setattr(arguments.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(arguments.torch.cuda, "device_count", lambda: 1)
    code, _, err = run(capsys, "train", "--device", "cuda:3")
    one_line_error(code, err, "--device cuda:3", "1 CUDA device")


@pytest.fixture
def eight_gb(monkeypatch):
    monkeypatch.setattr(arguments, "available_memory", lambda: 8 * GB)


def test_rows_that_cannot_fit_are_refused_before_generating(capsys, monkeypatch, eight_gb):
    monkeypatch.setattr(train_command, "load_dataset", never("load_dataset"))
    code, _, err = run(capsys, "train", "--rows", "1000000000000")
    one_line_error(code, err, "--rows 1000000000000", "1.4 PB", "8 GB is available")
    code, _, err = run(capsys, "train", "--dataset", "criteo-like", "--rows", "10000000")
    one_line_error(code, err, "--rows 10000000", "32 GB", "8 GB is available")


@pytest.mark.parametrize("option, value", [("--embed-dim", "1000000000"),
                                           ("--hidden", "100000000"),
                                           ("--hidden", "400,100000000")])
def test_models_that_cannot_fit_are_refused_naming_the_argument(capsys, eight_gb, no_training,
                                                                option, value):
    code, _, err = run(capsys, "train", "--rows", "2000", option, value)
    one_line_error(code, err, f"{option} {value}:", "training deepfm needs about",
                           "8 GB is available")


def test_memory_checks_pass_the_course_runs_and_skip_when_unknown(monkeypatch):
    course = arguments.model_memory("deepfm", [1002, 602, 12, 10, 7, 6, 6, 4, 5, 2], 10,
                                     [200, 200, 200], 1024, 160_000)
    assert 1_000_000 < sum(course.values()) < 100_000_000
    lr = arguments.model_memory("lr", [1000] * 10, 10, [100_000_000], 1024, 160_000)
    assert lr["--hidden"] == 0  # LR has no MLP: --hidden cannot make it too big
    monkeypatch.setattr(arguments, "available_memory", lambda: None)
    arguments.check_generated_memory("appstore", 10**15)  # unknown memory: no refusal


def test_available_memory_is_a_positive_number_or_none():
    available = arguments.available_memory()
    assert available is None or available > 0


@pytest.mark.parametrize("content, fragment", [
    (b"", "the file is empty (0 bytes)"),
    (b"\n\n", "the file is empty (no header line)"),
    (b"a,b,y\n", "no data rows"),
])
def test_empty_csv_files_name_the_file(capsys, tmp_path, no_training, content, fragment):
    path = tmp_path / "clicks.csv"
    path.write_bytes(content)
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y")
    one_line_error(code, err, str(path), fragment)


def test_empty_criteo_file_names_the_file(capsys, tmp_path, no_training):
    path = tmp_path / "train.txt"
    path.write_bytes(b"")
    code, _, err = run(capsys, "train", "--data", path, "--format", "criteo")
    one_line_error(code, err, str(path), "empty")


def test_unexpected_errors_are_one_line_unless_verbose(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(train_command, "load_data", boom)
    code, _, err = run(capsys, "train")
    one_line_error(code, err, "unexpected RuntimeError: something broke", "--verbose", bug=True)
    code, _, err = run(capsys, "train", "--verbose")
    assert code == 2 and "Traceback" in err and "something broke" in err
    assert err.splitlines()[-1].startswith("deepfm_lite: error: unexpected RuntimeError")
    monkeypatch.setenv("DEEPFM_LITE_VERBOSE", "1")
    code, _, err = run(capsys, "train")
    assert code == 2 and "Traceback" in err


def test_out_of_memory_while_running_is_one_line(capsys, monkeypatch):
    def too_big(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(train_command, "load_dataset", too_big)
    code, _, err = run(capsys, "train", "--rows", "5000")
    one_line_error(code, err, "out of memory", "--rows")


def test_progress_errors_take_the_one_line_path(capsys, tmp_path):
    code, _, err = run(capsys, "progress", tmp_path / "missing.ipynb")
    one_line_error(code, err, "missing.ipynb")


# `python -m deepfm_lite ARGS` for each ARGS, in one interpreter (torch starts once): runpy runs
# the package's __main__ as that command does, and its exit code, stdout and stderr are kept.
# An exception that escaped the command would stop this driver with its traceback.
COMMAND_DRIVER = """
import contextlib, io, json, runpy, sys
results = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["deepfm_lite", *argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module("deepfm_lite", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit:
            code = exit.code
    results.append([argv, code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def test_the_command_prints_no_traceback(tmp_path):
    argvs = [["train", "--device", "tpu"],
             ["train", "--data", str(tmp_path), "--format", "csv", "--label", "y"],
             ["train", "--save", str(tmp_path), "--rows", "100"]]
    env = {key: value for key, value in os.environ.items() if key != "DEEPFM_LITE_VERBOSE"}
    done = subprocess.run([sys.executable, "-c", COMMAND_DRIVER, json.dumps(argvs)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [argv for argv, *_ in results] == argvs
    for argv, code, out, err in results:
        one_line_error(code, err)
        assert out == "", (argv, out)


# ---- 4. errors point at the right place --------------------------------------------------------
@pytest.mark.parametrize("value, said", [("2", "holds 2"), ("-1", "holds -1"),
                                         ("yes", "holds 'yes'"), ("", "is empty"),
                                         ("NaN", "is empty")])
def test_bad_label_names_the_file_line(capsys, clicks_csv, no_training, value, said):
    path = _with_cell(clicks_csv, 7, "y", value)
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y")
    one_line_error(code, err, f"{path}: line 7, column 'y'", said, "0 or 1")


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(capsys, tmp_path, no_training):
    path = tmp_path / "odd.csv"
    path.write_text('a,y\n"two\nlines",0\n\nx,1\nz,7\n')
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y")
    one_line_error(code, err, f"{path}: line 6, column 'y'", "holds 7")


def test_non_number_in_a_numeric_column_names_the_line(capsys, clicks_csv, no_training):
    path = _with_cell(clicks_csv, 12, "b", "abc")
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y",
                        "--numeric", "b")
    one_line_error(code, err, f"{path}: line 12, column 'b'", "'abc'", "not a number")


def test_non_utf8_csv_names_the_line(capsys, clicks_csv, no_training):
    lines = clicks_csv.read_bytes().split(b"\n")
    lines[8] = b"\xff" + lines[8][1:]
    path = clicks_csv.with_name("latin.csv")
    path.write_bytes(b"\n".join(lines))
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y")
    one_line_error(code, err, f"{path}: line 9", "0xff", "not UTF-8")


def test_one_class_split_is_refused_before_training(capsys, tmp_path, no_training):
    frame = pd.DataFrame({"a": ["p", "q"] * 100, "y": [0] * 200})
    frame.loc[[3, 50], "y"] = 1
    path = tmp_path / "rare.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y")
    one_line_error(code, err, "split has no clicks", "AUC needs both classes",
                           "Positives per split: train ")
    summary = err.split("Positives per split: ")[1]
    counts = [int(part.split()[1].split("/")[0]) for part in summary.split(";")[0].split(", ")]
    assert sum(counts) == 2 and 0 in counts


def test_duplicated_column_names_are_refused(capsys, tmp_path, no_training):
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,y\n1,2,3,0\n4,5,6,1\n")
    code, _, err = run(capsys, "train", "--data", path, "--format", "csv", "--label", "y")
    one_line_error(code, err, f"{path}: line 1 (header)", "'a' appears twice",
                           "columns 1 and 3")


def test_readme_lists_what_the_cli_refuses():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### When something goes wrong")[1].split("\n## ")[0]
    for item in ("exit code 2", "--verbose", "DEEPFM_LITE_VERBOSE=1", "--label", "nan",
                 "--device", "--save", "--out", "--data", "duplicated column", "UTF-8",
                 "one class", "--rows", "--embed-dim", "--hidden", "p_true",
                 "worse_than_base_rate"):
        assert item in section, item


def test_gpu_memory_is_checked_on_the_gpu(monkeypatch):
    import argparse

    monkeypatch.setattr(arguments, "device_memory", lambda device: GB)
    monkeypatch.setattr(arguments, "available_memory", lambda: 1000 * GB)
    args = argparse.Namespace(model="fm", embed_dim=100_000, hidden=[8], batch_size=1024,
                              device="cuda:0")
    with pytest.raises(arguments.UsageError, match=r"--embed-dim 100000: training fm needs "
                                                    r"about .* on cuda:0, .* but 1 GB is"):
        arguments.check_model_memory(args, [1000] * 10, 5000)
    args.embed_dim = 10
    arguments.check_model_memory(args, [1000] * 10, 5000)  # fits in 1 GB


# ---- issue 14: prepare, train --prepared, predict ----------------------------------------------
@pytest.fixture
def criteo_tsv(tmp_path) -> Path:
    from deepfm_lite.data import make_criteo_like, write_criteo_tsv

    return write_criteo_tsv(make_criteo_like(300, seed=0), tmp_path / "train.txt")


def test_prepare_refuses_an_existing_output(capsys, tmp_path, criteo_tsv):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep")
    code, _, err = run(capsys, "prepare", "--data", criteo_tsv, "--format", "criteo",
                        "--out", tmp_path / "out")
    one_line_error(code, err, f"--out {tmp_path / 'out'}", "already exists")


@pytest.mark.parametrize("extra, fragments", [
    (["--hash-buckets", "100", "--min-count", "3"], ["--min-count", "--hash-buckets"]),
    (["--split", "70/20"], ["argument --split", "summing to 100"]),
    (["--label", "y"], ["--label", "--format csv"]),
])
def test_prepare_refuses_bad_options(capsys, tmp_path, criteo_tsv, extra, fragments):
    code, _, err = run(capsys, "prepare", "--data", criteo_tsv, "--format", "criteo",
                        "--out", tmp_path / "out", *extra)
    one_line_error(code, err, *fragments)
    assert not (tmp_path / "out").exists()


def test_prepare_names_a_malformed_line(capsys, tmp_path, criteo_tsv):
    lines = criteo_tsv.read_text().splitlines(keepends=True)
    lines[41] = "2" + lines[41][1:]  # label 2 on line 42
    criteo_tsv.write_text("".join(lines))
    code, _, err = run(capsys, "prepare", "--data", criteo_tsv, "--format", "criteo",
                        "--out", tmp_path / "out", "--chunk-rows", "16")
    one_line_error(code, err, "line 42", "column label", "not 0 or 1")
    assert [p.name for p in tmp_path.iterdir()] == ["train.txt"]


def test_train_prepared_needs_a_directory(capsys, tmp_path, no_training):
    code, _, err = run(capsys, "train", "--prepared", tmp_path / "none")
    one_line_error(code, err, "--prepared", "no such directory")
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "train", "--prepared", tmp_path / "empty")
    one_line_error(code, err, "manifest.json is missing")


def test_train_prepared_refuses_file_options(capsys, tmp_path, no_training):
    code, _, err = run(capsys, "train", "--prepared", tmp_path, "--rows", "10")
    one_line_error(code, err, "--rows", "go with --data")


def test_predict_names_a_missing_model(capsys, tmp_path, criteo_tsv):
    code, _, err = run(capsys, "predict", "--model", tmp_path / "no.pt", "--data", criteo_tsv,
                        "--format", "criteo", "--out", tmp_path / "s.csv")
    one_line_error(code, err, "--model", "no such file")
