"""``predict_file`` and ``python -m deepfm_lite predict`` (issue 14, section 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepfm_lite as dl
from deepfm_lite import checkpoint
from deepfm_lite.cli import main
from deepfm_lite.data import apply_criteo_recipe, make_criteo_like, read_criteo, write_criteo_tsv
from deepfm_lite.data.prepared import load_prepared, prepare_file
from deepfm_lite.predict import predict_file
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
