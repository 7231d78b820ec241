"""``predict_file`` and ``python -m deepfm_lite predict`` (issue 14, section 2)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepfm_lite as dl
from deepfm_lite import checkpoint
from deepfm_lite.cli import main
from deepfm_lite.data import apply_criteo_recipe, make_criteo_like, read_criteo, write_criteo_tsv
from deepfm_lite.data.prepared import load_prepared, prepare_file
from deepfm_lite.predict import FormatError, OutputError, input_recipe, predict_file
from deepfm_lite.training.metrics import auc, logloss

# Scores of one row computed in batches of another size may differ by a float32 rounding step
# of the logit (the matrix library picks another kernel): 1e-6 is far above that (~1e-7 for a
# probability) and far below any difference between two rows.
ATOL = 1e-6


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A file, its prepared directory and a small FM trained on it and saved."""
    folder = tmp_path_factory.mktemp("predict")
    source = write_criteo_tsv(make_criteo_like(500, seed=4), folder / "train.txt")
    prepare_file(source, folder / "p", min_count=3)
    data = load_prepared(folder / "p")
    model = dl.build_model("fm", data.field_dims, seed=0, embed_dim=4)
    dl.fit(model, data.train, epochs=1, batch_size=64, seed=0, device="cpu", progress=False)
    checkpoint.save(model, folder / "fm.pt", data.schema)
    return folder, source, model, data


def _expected(model, schema, path: Path) -> np.ndarray:
    return dl.predict_proba(model, schema.transform(apply_criteo_recipe(read_criteo(path))))


def test_rows_come_out_in_input_order_with_their_row_number(trained, tmp_path):
    folder, source, model, data = trained
    result = predict_file(folder / "fm.pt", source, out=tmp_path / "scores.csv", batch_rows=37)
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["row", "probability"] and result["rows"] == 500
    assert scores["row"].tolist() == list(range(1, 501))
    np.testing.assert_allclose(scores["probability"], _expected(model, data.schema, source),
                               rtol=0, atol=ATOL)
    # the same rows in reverse order: row i of the reversed file is row 501 - i of the original
    lines = source.read_text().splitlines(keepends=True)
    (tmp_path / "reversed.txt").write_text("".join(reversed(lines)))
    back = predict_file(model, tmp_path / "reversed.txt", prepared=folder / "p", batch_rows=41)
    np.testing.assert_allclose(back["probability"][::-1], scores["probability"], rtol=0,
                               atol=ATOL)


def test_unseen_values_are_scored_as_out_of_vocabulary(trained, tmp_path):
    folder, source, model, data = trained
    lines = source.read_text().splitlines(keepends=True)[:3]
    edited = []
    for unseen in ("zzzzzzz1", "zzzzzzz2"):  # two different values the model never saw
        cells = lines[0].split("\t")
        cells[14] = unseen  # C1
        edited.append("\t".join(cells))
    (tmp_path / "new.txt").write_text("".join(edited + lines[1:]))
    result = predict_file(folder / "fm.pt", tmp_path / "new.txt")
    probs = result["probability"]
    assert probs[0] == probs[1]  # both map to C1's OOV id, so the rows are the same row
    encoded = data.schema.transform(apply_criteo_recipe(read_criteo(tmp_path / "new.txt")))
    assert int(encoded.ids[0, 13]) == 0 and int(encoded.ids[1, 13]) == 0
    np.testing.assert_allclose(probs[2:], _expected(model, data.schema, source)[1:3], rtol=0,
                               atol=ATOL)


def test_metrics_are_reported_when_the_file_has_labels(trained):
    folder, source, model, data = trained
    result = predict_file(folder / "fm.pt", source, batch_rows=100)
    labels = read_criteo(source)["label"].to_numpy()
    assert result["labelled"] and result["positives"] == int(labels.sum())
    assert result["auc"] == pytest.approx(auc(labels, result["probability"]), abs=1e-12)
    assert result["logloss"] == pytest.approx(logloss(labels, result["probability"]),
                                              abs=1e-12)


def test_a_csv_without_labels_gets_scores_only(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"city": rng.choice(list("abc"), 200), "age": rng.normal(size=200),
                          "y": (rng.random(200) < 0.4).astype(int)})
    frame.to_csv(tmp_path / "train.csv", index=False)
    prepare_file(tmp_path / "train.csv", tmp_path / "p", format="csv", label="y",
                 categorical=["city"], numeric=["age"], min_count=1)
    data = load_prepared(tmp_path / "p")
    model = dl.build_model("lr", data.field_dims, seed=0)
    frame.drop(columns="y").to_csv(tmp_path / "new.csv", index=False)
    result = predict_file(model, tmp_path / "new.csv", format="csv", prepared=tmp_path / "p")
    assert result["rows"] == 200 and not result["labelled"] and result["auc"] is None


def _drop_labels(source: Path, out: Path) -> Path:
    """``source`` (Kaggle train.txt) as Kaggle test.txt: every line without its first field."""
    lines = source.read_text().splitlines(keepends=True)
    out.write_text("".join(line.split("\t", 1)[1] for line in lines))
    return out


def test_an_unlabelled_criteo_file_is_scored_in_order_without_metrics(trained, tmp_path):
    folder, source, model, data = trained
    unlabelled = _drop_labels(source, tmp_path / "test.txt")
    with_labels = predict_file(folder / "fm.pt", source, out=tmp_path / "labelled.csv",
                               batch_rows=64)
    result = predict_file(folder / "fm.pt", unlabelled, out=tmp_path / "scores.csv",
                          batch_rows=64)
    assert with_labels["labelled"] and with_labels["auc"] is not None
    assert result == {"rows": 500, "out": str(tmp_path / "scores.csv"), "labelled": False,
                      "positives": None, "auc": None, "logloss": None}
    scores = pd.read_csv(tmp_path / "scores.csv")
    labelled_scores = pd.read_csv(tmp_path / "labelled.csv")
    assert list(scores.columns) == ["row", "probability"]
    assert scores["row"].tolist() == list(range(1, 501))
    np.testing.assert_allclose(scores["probability"], labelled_scores["probability"], rtol=0,
                               atol=ATOL)
    np.testing.assert_allclose(scores["probability"], _expected(model, data.schema, source),
                               rtol=0, atol=ATOL)
    # a Criteo CSV whose header has no label column: the same rows, the same scores
    read_criteo(unlabelled).to_csv(tmp_path / "test.csv", index=False)
    csv_result = predict_file(model, tmp_path / "test.csv", prepared=folder / "p",
                              batch_rows=150)
    assert not csv_result["labelled"] and csv_result["logloss"] is None
    np.testing.assert_allclose(csv_result["probability"], scores["probability"], rtol=0,
                               atol=ATOL)


def test_the_command_line_scores_an_unlabelled_file_and_says_so(trained, tmp_path, capsys):
    folder, source, model, data = trained
    unlabelled = _drop_labels(source, tmp_path / "test.txt")
    argv = ["predict", "--model", str(folder / "fm.pt"), "--data", str(unlabelled),
            "--format", "criteo", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a.csv")]) == 0
    assert "labels     none in the file" in capsys.readouterr().out
    assert main([*argv, "--out", str(tmp_path / "b.csv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 500 and report["labelled"] is False and report["auc"] is None
    scores = pd.read_csv(tmp_path / "b.csv")
    assert scores["row"].tolist() == list(range(1, 501))


def test_preparing_or_training_on_an_unlabelled_file_is_a_clear_error(trained, tmp_path,
                                                                      capsys):
    folder, source, model, data = trained
    unlabelled = _drop_labels(source, tmp_path / "test.txt")
    with pytest.raises(ValueError, match=r"test.txt: no label column \(line 1 has the 39 "
                                         r"columns I1..I13, C1..C26"):
        prepare_file(unlabelled, tmp_path / "p")
    assert not (tmp_path / "p").exists()
    read_criteo(unlabelled).to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(ValueError, match=r"test.csv: no label column \(its header"):
        prepare_file(tmp_path / "test.csv", tmp_path / "p")
    for argv in (["prepare", "--data", str(unlabelled), "--format", "criteo", "--out",
                  str(tmp_path / "q"), "--no-progress"],
                 ["train", "--model", "lr", "--data", str(unlabelled), "--format", "criteo",
                  "--epochs", "1", "--no-progress"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and "Traceback" not in err
        assert err.splitlines() == [f"deepfm_lite: error: {unlabelled}: no label column (line "
                                    "1 has the 39 columns I1..I13, C1..C26 of Kaggle's "
                                    "test.txt); prepare and train need a 0/1 label on every "
                                    "row; score this file with predict instead"], argv


def test_a_model_without_schema_needs_the_prepared_directory(trained):
    folder, source, model, data = trained
    bare = dl.build_model("fm", data.field_dims, seed=0, embed_dim=4)
    with pytest.raises(ValueError, match="carries no schema"):
        predict_file(bare, source)


def test_the_command_line_scores_a_file(trained, tmp_path, capsys):
    folder, source, model, data = trained
    code = main(["predict", "--model", str(folder / "fm.pt"), "--data", str(source),
                 "--format", "criteo", "--out", str(tmp_path / "s.csv"), "--json",
                 "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["rows"] == 500 and report["auc"] > 0.5
    assert len(pd.read_csv(tmp_path / "s.csv")) == 500


# ---- issue 25: rows prepared as the model's were; nothing written for nothing; a full disk ------

def test_a_csv_is_prepared_as_the_models_training_rows_were(trained, tmp_path):
    folder, source, model, data = trained
    read_criteo(source).to_csv(tmp_path / "rows.csv", index=False)
    expected = _expected(model, data.schema, source)
    recorded = checkpoint.load(folder / "fm.pt")
    recorded.inputs = checkpoint.input_record("criteo", "criteo_x4")
    as_csv = predict_file(recorded, tmp_path / "rows.csv", format="csv")
    np.testing.assert_allclose(as_csv["probability"], expected, rtol=0, atol=ATOL)
    # the prepared directory's manifest says the same for a model that carries no record
    with_dir = predict_file(model, tmp_path / "rows.csv", format="csv", prepared=folder / "p")
    np.testing.assert_allclose(with_dir["probability"], expected, rtol=0, atol=ATOL)
    # a model file without the record: the CSV's integers are ambiguous, refused before writing
    with pytest.raises(FormatError, match="format 'csv': the model does not record how its "
                                          "training rows were prepared"):
        predict_file(folder / "fm.pt", tmp_path / "rows.csv", format="csv",
                     out=tmp_path / "scores.csv")
    assert not (tmp_path / "scores.csv").exists()
    # ... and a Criteo file is read as before (the recipe, I1..I13 being categorical)
    assert input_recipe(checkpoint.load(folder / "fm.pt"), "criteo") == "criteo_x4"
    old = predict_file(folder / "fm.pt", source)
    np.testing.assert_allclose(old["probability"], expected, rtol=0, atol=ATOL)


def test_a_model_and_a_prepared_directory_that_disagree_are_refused(trained):
    folder, source, model, data = trained
    loaded = checkpoint.load(folder / "fm.pt")
    loaded.inputs = checkpoint.input_record("csv")
    with pytest.raises(ValueError, match="the model was not trained on that directory"):
        predict_file(loaded, source, prepared=folder / "p")


def test_a_file_without_data_rows_is_refused_before_out_is_written(trained, tmp_path):
    folder, source, model, data = trained
    read_criteo(source).head(0).to_csv(tmp_path / "header.csv", index=False)
    for form in ("criteo", "csv"):
        with pytest.raises(ValueError, match=r"header.csv: the file has no data rows"):
            predict_file(model, tmp_path / "header.csv", format=form, prepared=folder / "p",
                         out=tmp_path / "scores.csv")
        assert sorted(os.listdir(tmp_path)) == ["header.csv"]
    read_criteo(source).head(1).to_csv(tmp_path / "one.csv", index=False)  # positive control
    assert predict_file(model, tmp_path / "one.csv", prepared=folder / "p")["rows"] == 1


def test_a_file_missing_the_models_columns_is_named(trained, tmp_path):
    folder, source, model, data = trained
    read_criteo(source).drop(columns=["C3", "I2"]).to_csv(tmp_path / "cut.csv", index=False)
    with pytest.raises(ValueError, match=r"cut.csv: no column\(s\) I2, C3, which the model "
                                         "reads"):
        predict_file(model, tmp_path / "cut.csv", format="csv", prepared=folder / "p",
                     out=tmp_path / "scores.csv")
    assert not (tmp_path / "scores.csv").exists()


def test_a_full_disk_names_out_and_keeps_the_previous_scores(trained, tmp_path, monkeypatch):
    folder, source, model, data = trained
    out = tmp_path / "scores.csv"
    out.write_text("row,probability\n1,0.5\n")  # an earlier run's scores
    real_savetxt = np.savetxt
    calls = []

    def full_disk(handle, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first chunk is written, the second finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_savetxt(handle, *args, **kwargs)

    monkeypatch.setattr(np, "savetxt", full_disk)
    with pytest.raises(OutputError) as info:
        predict_file(model, source, prepared=folder / "p", out=out, batch_rows=100)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(out)
    assert info.value.strerror == "No space left on device"
    assert out.read_text() == "row,probability\n1,0.5\n"
    assert os.listdir(tmp_path) == ["scores.csv"]  # no temporary file left
    monkeypatch.setattr(np, "savetxt", real_savetxt)
    predict_file(model, source, prepared=folder / "p", out=out, batch_rows=100)
    assert len(pd.read_csv(out)) == 500  # positive control


def test_a_non_number_in_a_csvs_criteo_integers_names_its_line(trained, tmp_path):
    folder, source, model, data = trained
    rows = read_criteo(source).astype({"I3": object})
    rows.loc[5, "I3"] = "abc"
    rows.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"bad.csv: line 7: integer field 'I3' holds 'abc', "
                                         "not a number"):
        predict_file(model, tmp_path / "bad.csv", format="csv", prepared=folder / "p",
                     out=tmp_path / "scores.csv", batch_rows=4)
    assert sorted(os.listdir(tmp_path)) == ["bad.csv"]
