import json

import pandas as pd
import pytest

from deepfm_lite import checkpoint
from deepfm_lite.cli import main
from deepfm_lite.cli import train as train_command


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_json_report_on_appstore(capsys):
    code, out, _ = _run(capsys, "train", "--model", "fm", "--dataset", "appstore", "--rows",
                        "6000", "--epochs", "1", "--seed", "1", "--json")
    assert code == 0
    report = json.loads(out)
    assert {"model", "auc", "logloss", "oracle_auc", "oracle_logloss", "train_seconds",
            "train_samples_per_s"} <= set(report)
    assert report["model"] == "fm" and 0.5 < report["auc"] < 1
    assert report["oracle_auc"] > report["auc"] - 0.05


def test_readable_table_and_save(capsys, tmp_path):
    path = tmp_path / "lr.pt"
    code, out, _ = _run(capsys, "train", "--model", "lr", "--rows", "4000", "--epochs", "1",
                        "--save", str(path))
    assert code == 0 and "test AUC" in out and "oracle" in out
    assert checkpoint.load(path).config["model"] == "lr"


def test_user_csv_with_inferred_kinds(capsys, tmp_path):
    from deepfm_lite.data import make_appstore

    frame = make_appstore(3000, seed=2).drop(columns=["p_true"])
    path = tmp_path / "clicks.csv"
    frame.to_csv(path, index=False)
    code, out, _ = _run(capsys, "train", "--model", "lr", "--data", str(path), "--format", "csv",
                        "--label", "click", "--epochs", "1", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["oracle_auc"] is None and report["oracle_logloss"] is None


def test_user_csv_explicit_fields(capsys, tmp_path):
    frame = pd.DataFrame({"a": ["x", "y"] * 200, "b": [1.5, 2.5] * 200, "y": [0, 1] * 200})
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    code, out, _ = _run(capsys, "train", "--model", "fm", "--data", str(path), "--format", "csv",
                        "--label", "y", "--categorical", "a", "--numeric", "b", "--epochs", "1",
                        "--json")
    assert code == 0 and json.loads(out)["auc"] > 0.9


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--model", "nope"], "invalid choice"),
    (["train", "--rows", "-5"], "positive integer"),
    (["train", "--hidden", "4,x"], "comma-separated integers"),
    (["train", "--lr", "0"], "--lr must be positive"),
    (["train", "--dropout", "1.5"], "drop probability"),
    (["train", "--data", "x.csv"], "--format"),
    (["train", "--format", "csv"], "go with --data"),
    (["train", "--data", "/no/such/file.csv", "--format", "csv", "--label", "y"], "no such file"),
    (["fly"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(capsys, argv, fragment):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err


def test_csv_label_errors_name_the_column(capsys, tmp_path):
    path = tmp_path / "f.csv"
    pd.DataFrame({"a": ["x"] * 10, "y": [0, 1] * 5}).to_csv(path, index=False)
    code, _, err = _run(capsys, "train", "--data", str(path), "--format", "csv")
    assert code == 2 and "--label" in err
    code, _, err = _run(capsys, "train", "--data", str(path), "--format", "csv", "--label", "z")
    assert code == 2 and "'z'" in err


def test_criteo_tsv_file(capsys, tmp_path):
    from deepfm_lite.data import make_criteo_like, write_criteo_tsv

    path = write_criteo_tsv(make_criteo_like(3000, seed=0), tmp_path / "train.txt")
    code, out, _ = _run(capsys, "train", "--model", "fm", "--data", str(path), "--format",
                        "criteo", "--epochs", "1", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["oracle_auc"] is None and report["train_rows"] == 2400


def test_a_large_csv_streams_through_prepare(capsys, tmp_path, monkeypatch):
    """Above CSV_IN_MEMORY_BYTES (set to 0 here) the file is never read whole: it is prepared
    80/10/10 chunk by chunk, the fields inferred from the first chunk as in memory."""
    from deepfm_lite.data import make_appstore

    def never(*args, **kwargs):
        raise AssertionError("the in-memory CSV reader ran")

    monkeypatch.setattr(train_command, "CSV_IN_MEMORY_BYTES", 0)
    monkeypatch.setattr("deepfm_lite.cli.csv_input.read_user_csv", never)
    path = tmp_path / "clicks.csv"
    make_appstore(3000, seed=2).to_csv(path, index=False)
    code, out, err = _run(capsys, "train", "--model", "fm", "--data", str(path), "--format",
                          "csv", "--label", "click", "--epochs", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["train_rows"] == 2400 and report["test_rows"] == 300
    # p_true is no feature (the note says so) but the test split's oracle, as in memory
    assert "note: left out p_true" in err and 0.5 < report["auc"] < report["oracle_auc"]

    rows = path.read_text().splitlines()
    cells = rows[1500].split(",")
    cells[rows[0].split(",").index("click")] = "7"  # line 1501 of the file
    rows[1500] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n")
    code, _, err = _run(capsys, "train", "--data", str(path), "--format", "csv", "--label",
                        "click")
    assert code == 2 and "line 1501: column 'click' (the label) holds 7" in err, err


def test_criteo_like_dataset(capsys):
    code, out, _ = _run(capsys, "train", "--model", "lr", "--dataset", "criteo-like", "--rows",
                        "5000", "--epochs", "1", "--json")
    assert code == 0 and json.loads(out)["oracle_auc"] > 0.7


def test_malformed_criteo_file_names_the_line(capsys, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1\t" + "\t".join(["1"] * 12) + "\n")
    code, _, err = _run(capsys, "train", "--data", str(path), "--format", "criteo")
    assert code == 2 and "line 1" in err


def test_table2_command(capsys, tmp_path, monkeypatch):
    from deepfm_lite import experiments

    tiny = {**experiments.SCALES["ci"], "n_rows": 3000, "epochs": 1, "hidden": (8,)}
    monkeypatch.setitem(experiments.SCALES, "ci", tiny)
    out_csv = tmp_path / "runs.csv"
    code, out, _ = _run(capsys, "table2", "--seeds", "0", "--out", str(out_csv), "--json")
    assert code == 0
    rows = json.loads(out)
    assert {row["model"] for row in rows} == set(experiments.TABLE2_MODELS)
    assert len(experiments.load_results(out_csv)) == len(experiments.TABLE2_MODELS)


def test_table2_bad_seeds(capsys):
    code, _, err = _run(capsys, "table2", "--seeds", "a,b")
    assert code == 2 and "seeds" in err


def test_version_prints_the_installed_distribution_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"deepfm-lite {metadata.version('deepfm-lite')}"


@pytest.mark.parametrize("command", ["train", "table2", "progress", "prepare", "predict"])
def test_every_command_takes_progress_and_no_progress(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--progress, --no-progress" in " ".join(capsys.readouterr().out.split())


def test_the_grading_command_announces_each_notebook_on_stderr(capsys, tmp_path):
    broken = tmp_path / "01_logloss_auc.ipynb"
    broken.write_text("not json", encoding="utf-8")
    code, out, err = _run(capsys, "progress", str(broken), "--progress", "--timeout", "30")
    assert code == 1 and "not a notebook" in out
    assert f"grading 1/1: {broken}" in err
    code, out, err = _run(capsys, "progress", str(broken), "--no-progress", "--timeout", "30")
    assert code == 1 and "grading" not in err
