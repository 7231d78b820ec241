"""Bad inputs get an answer that names the place: non-finite numbers, divergence, ids out of
range, broken model files, interrupted saves."""

import json
import os
import pickle
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import deepfm_lite as dl
from deepfm_lite import checkpoint
from deepfm_lite.data import EncodedData, Schema, check_ids, check_values
from deepfm_lite.data.schema import MISSING_ID
from deepfm_lite.training import TrainingDiverged, evaluate, fit, predict_proba

torch.set_num_threads(1)
INF = float("inf")


def clicks_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A city, a price with some infinities and NaNs, and clicks that depend on both."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["a", "b", "c"], n)
    price = rng.normal(10.0, 3.0, n)
    price[::17], price[5::23], price[9::31] = INF, -INF, np.nan
    logit = (city == "a") * 1.5 - 0.1 * np.nan_to_num(price, posinf=10.0, neginf=10.0)
    clicked = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"city": city, "price": price, "clicked": clicked})


@pytest.fixture(scope="module")
def encoded():
    frame = clicks_frame()
    schema = Schema.fit(frame, categorical=["city"], numeric=["price"], label="clicked")
    return schema, schema.transform(frame)


# ---- 2. non-finite numbers ---------------------------------------------------------------------

def test_infinite_numbers_are_missing_values_in_fit_and_transform():
    frame = pd.DataFrame({"price": [1.0, INF, 3.0, -INF, np.nan, 5.0], "clicked": [0, 1] * 3})
    schema = Schema.fit(frame, numeric=["price"], label="clicked")
    finite = np.array([1.0, 3.0, 5.0])
    assert schema["price"].mean == pytest.approx(finite.mean())
    assert schema["price"].std == pytest.approx(finite.std())
    encoded = schema.transform(frame)
    assert encoded.ids[:, 0].tolist() == [0, MISSING_ID, 0, MISSING_ID, MISSING_ID, 0]
    assert encoded.values[[1, 3, 4], 0].tolist() == [1.0, 1.0, 1.0]  # as a NaN is encoded
    assert torch.isfinite(encoded.values).all()


def test_fit_stream_leaves_infinities_out_of_the_scale_like_fit():
    frame = clicks_frame(200)
    whole = Schema.fit(frame, numeric=["price"], label="clicked")
    chunked = Schema.fit_stream([frame[:70], frame[70:]], numeric=["price"], label="clicked")
    assert np.isfinite(chunked["price"].mean) and np.isfinite(chunked["price"].std)
    assert chunked["price"].mean == pytest.approx(whole["price"].mean, rel=1e-12)
    assert chunked["price"].std == pytest.approx(whole["price"].std, rel=1e-12)


def test_training_and_prediction_stay_finite_with_infinite_numbers(encoded):
    schema, data = encoded
    model = dl.build_model("deepfm", schema.field_dims, seed=0, embed_dim=4, hidden=[8])
    history = fit(model, data, data, epochs=2, batch_size=64, lr=1e-2, progress=False)
    assert np.isfinite(history["train_loss"]).all()
    assert np.isfinite(history["valid_logloss"]).all()
    assert np.isfinite(predict_proba(model, data)).all()


def test_numbers_too_large_to_standardise_name_the_field():
    frame = pd.DataFrame({"price": [1e308, 1e308, -1.0], "clicked": [0, 1, 0]})
    with pytest.raises(ValueError, match="numeric field 'price' holds numbers too large"):
        Schema.fit(frame, numeric=["price"], label="clicked")


def test_non_finite_values_built_by_hand_are_refused_naming_field_and_row(encoded):
    schema, data = encoded
    values = data.values.clone()
    values[7, 1] = float("nan")
    bad = EncodedData(data.ids, values, data.labels)
    model = dl.build_model("fm", schema.field_dims, seed=0, embed_dim=4)
    message = r"field 1 holds the non-finite value nan at row 7; encode missing or infinite"
    with pytest.raises(ValueError, match="^train: " + message):
        fit(model, bad, progress=False)
    with pytest.raises(ValueError, match="^valid: " + message):
        fit(model, data, bad, progress=False)
    values[7, 1], values[3, 1] = 1.0, INF
    model.schema = schema  # a loaded model knows its field names
    with pytest.raises(ValueError, match=r"^data: field 'price' \(column 1\) holds the non-finite "
                                         r"value inf at row 3"):
        predict_proba(model, EncodedData(data.ids, values))


def test_labels_outside_zero_one_are_refused_naming_the_row(encoded):
    schema, data = encoded
    labels = data.labels.clone()
    labels[11] = float("nan")
    model = dl.build_model("lr", schema.field_dims)
    with pytest.raises(ValueError, match=r"train: labels must lie in \[0, 1\]; row 11 holds nan"):
        fit(model, EncodedData(data.ids, data.values, labels), progress=False)
    labels[11] = 2.0
    with pytest.raises(ValueError, match=r"data: labels must lie in \[0, 1\]; row 11 holds 2.0"):
        evaluate(model, EncodedData(data.ids, data.values, labels))


class BadAtCall(nn.Module):
    """A model whose logits are ``bad_logit`` at its ``bad_call``-th forward pass."""

    def __init__(self, field_dims, bad_call: int, bad_logit: float = float("nan")):
        super().__init__()
        self.field_dims = tuple(field_dims)
        self.weight = nn.Parameter(torch.zeros(()))
        self.calls, self.bad_call, self.bad_logit = 0, bad_call, bad_logit

    def forward(self, ids, values):
        self.calls += 1
        logits = values.sum(dim=1) * self.weight
        return logits + self.bad_logit if self.calls == self.bad_call else logits


def test_a_non_finite_loss_stops_training_naming_epoch_step_and_lr(encoded):
    schema, data = encoded
    part = data.subset(slice(0, 100))  # 4 steps of 25 rows per epoch
    model = BadAtCall(schema.field_dims, bad_call=7)  # epoch 2, step 3
    with pytest.raises(TrainingDiverged) as info:
        fit(model, part, epochs=3, batch_size=25, lr=0.5, progress=False)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.epoch, error.step, error.steps, error.lr) == (2, 3, 4, 0.5)
    assert np.isnan(error.loss)
    assert str(error) == ("training diverged: the loss became nan at epoch 2, step 3 of 4, with "
                          "learning rate lr=0.5; try a smaller learning rate")
    assert model.calls == 8  # the epoch ran out, then training stopped: no third epoch
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.epoch, copy.step, copy.lr, str(copy)) == (2, 3, 0.5, str(error))


def test_finite_losses_whose_sum_overflows_are_a_divergence_too(encoded):
    schema, data = encoded
    part = data.subset(slice(0, 100))
    model = BadAtCall(schema.field_dims, bad_call=6, bad_logit=-1e38)  # epoch 2, step 2
    with pytest.raises(TrainingDiverged, match="the loss became inf at epoch 2, step 2 of 4"):
        fit(model, part, epochs=3, batch_size=25, lr=0.5, progress=False)


def test_a_huge_learning_rate_diverges_with_the_reason(encoded):
    schema, data = encoded
    model = dl.build_model("deepfm", schema.field_dims, seed=0, embed_dim=4, hidden=[8])
    with pytest.raises(TrainingDiverged, match=r"at epoch 1, step \d+ of 7, with learning rate "
                                               r"lr=1e\+30"):
        fit(model, data, epochs=2, batch_size=64, lr=1e30, progress=False)


@pytest.mark.parametrize("lr", [float("nan"), INF, -INF, 0.0, -1e-3, "fast", None])
def test_fit_refuses_a_learning_rate_that_cannot_work(encoded, lr):
    schema, data = encoded
    model = dl.build_model("lr", schema.field_dims)
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got "):
        fit(model, data, lr=lr, progress=False)


def test_fit_refuses_a_non_finite_weight_decay(encoded):
    schema, data = encoded
    model = dl.build_model("lr", schema.field_dims)
    with pytest.raises(ValueError, match=r"^weight_decay must be a finite number >= 0, got nan"):
        fit(model, data, weight_decay=float("nan"), progress=False)


# ---- 5. ids out of range -----------------------------------------------------------------------

def ids_with(row: int, column: int, value: int, rows: int = 6) -> EncodedData:
    ids = torch.zeros(rows, 2, dtype=torch.long)
    ids[row, column] = value
    return EncodedData(ids, torch.ones(rows, 2), torch.tensor([0.0, 1.0] * (rows // 2)))


def test_an_id_past_its_field_is_refused_where_it_enters():
    # Field a has 5 ids; id 6 would read row 6 of the shared table, a row of field b.
    model = dl.build_model("fm", [5, 3], seed=0, embed_dim=4)
    bad = ids_with(row=2, column=0, value=6)
    message = r"field 0 holds id 6 at row 2; the field has 5 ids, 0 to 4$"
    with pytest.raises(ValueError, match="^train: " + message):
        fit(model, bad, progress=False)
    with pytest.raises(ValueError, match="^data: " + message):
        predict_proba(model, bad)
    with pytest.raises(ValueError, match="^data: " + message):
        evaluate(model, bad)
    with pytest.raises(ValueError, match="^valid: " + message):
        fit(model, ids_with(0, 0, 1), bad, progress=False)


def test_a_negative_id_is_refused_and_a_known_schema_names_the_field():
    model = dl.build_model("lr", [5, 2])
    model.schema = Schema.from_dict({"label": "clicked", "fields": [
        {"name": "city", "kind": "categorical", "vocabulary": ["x", "y", "z"], "mean": 0.0,
         "std": 1.0},
        {"name": "price", "kind": "numeric", "vocabulary": [], "mean": 0.0, "std": 1.0}]})
    with pytest.raises(ValueError, match=r"^data: field 'price' \(column 1\) holds id -1 at row "
                                         r"4; ids are never negative$"):
        predict_proba(model, ids_with(row=4, column=1, value=-1))
    with pytest.raises(ValueError, match=r"^data: field 'price' \(column 1\) holds id 2 at row 0;"
                                         r" the field has 2 ids, 0 to 1$"):
        predict_proba(model, ids_with(row=0, column=1, value=2))


def test_check_ids_refuses_shapes_and_types_it_cannot_check(encoded):
    schema, data = encoded
    check_ids(data.ids, schema.field_dims, names=schema.field_names)  # transform's ids pass
    with pytest.raises(ValueError, match=r"^x: ids must have shape \[rows, 3\], got \[400, 2\]"):
        check_ids(data.ids, [5, 2, 2], where="x")
    with pytest.raises(ValueError, match="ids must be an integer tensor, got torch.float32"):
        check_ids(data.ids.float(), schema.field_dims)
    with pytest.raises(ValueError, match="values must be a floating-point tensor"):
        check_values(data.ids)


# ---- 5. loading a model ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(encoded, tmp_path_factory):
    """A small trained FM and its schema, saved once; tests edit copies of its payload."""
    schema, data = encoded
    model = dl.build_model("fm", schema.field_dims, seed=0, embed_dim=4)
    fit(model, data, epochs=1, batch_size=128, progress=False)
    return checkpoint.save(model, tmp_path_factory.mktemp("saved") / "model.pt", schema)


def edited_copy(saved, tmp_path, **changes):
    """``saved``'s payload with entries replaced (``None`` removes one), written to a new file."""
    payload = torch.load(saved, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value(payload[key]) if callable(value) else value
    path = tmp_path / "edited.pt"
    torch.save(payload, path)
    return path


def load_error(path) -> str:
    with pytest.raises(ValueError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert str(path) in message  # every message names the file
    return message


def edit_json(change):
    def edit(text):
        data = json.loads(text)
        change(data)
        return json.dumps(data)
    return edit


def test_an_empty_file_is_a_clear_value_error(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"")
    assert "is empty, 0 bytes" in load_error(path)


def test_a_load_error_without_a_message_is_still_reported(tmp_path, monkeypatch, saved):
    def fail(*args, **kwargs):
        raise EOFError()  # torch's error for some cut files: no message at all

    monkeypatch.setattr(checkpoint.torch, "load", fail)
    assert load_error(saved).endswith("is not a readable deepfm_lite model file (EOFError)")


@pytest.mark.parametrize("key", ["config", "schema", "state_dict"])
def test_a_missing_entry_is_named(saved, tmp_path, key):
    message = load_error(edited_copy(saved, tmp_path, **{key: None}))
    assert f"incomplete deepfm_lite model file: no '{key}' entry" in message


@pytest.mark.parametrize("config, words", [
    ("{not json", "the config is not valid JSON"),
    ("[1, 2]", "the config must be a JSON object, got list"),
    ('{"model": "fm"}', "the config has no 'field_dims'"),
    ('{"model": "fm", "field_dims": [5, "2"]}', "field_dims must be a non-empty list of integers"),
    ('{"model": "nope", "field_dims": [5, 2]}', "cannot build a model: unknown model 'nope'"),
    ('{"model": "dnn", "field_dims": [5, 2], "hidden": 8}', "cannot build a model"),
    ('{"model": "fm", "field_dims": [5, 2], "depth": 3}',
     "cannot build a model: unknown model argument(s) depth"),
])
def test_a_bad_config_is_a_value_error_saying_what_is_wrong(saved, tmp_path, config, words):
    assert words in load_error(edited_copy(saved, tmp_path, config=config))


def test_a_bad_schema_is_a_value_error_saying_what_is_wrong(saved, tmp_path):
    assert "the schema is not valid JSON" in load_error(
        edited_copy(saved, tmp_path, schema="{cut"))
    message = load_error(edited_copy(saved, tmp_path, schema=edit_json(
        lambda s: s["fields"][0].update(kind="weird"))))
    assert "schema is unusable" in message and "field 'city' has kind 'weird'" in message
    message = load_error(edited_copy(saved, tmp_path, schema=edit_json(
        lambda s: s["fields"][1].update(std=0.0))))
    assert "field 'price': mean and std must be finite and std > 0" in message


def test_a_schema_that_disagrees_with_field_dims_is_refused(saved, tmp_path):
    path = edited_copy(saved, tmp_path, schema=edit_json(
        lambda s: s["fields"][0]["vocabulary"].pop()))
    assert ("field 'city' has 4 ids in the schema but 5 in the model's field_dims"
            in load_error(path))
    path = edited_copy(saved, tmp_path, schema=edit_json(lambda s: s["fields"].pop()))
    assert "the schema has 1 fields but the model's field_dims has 2" in load_error(path)


def test_weights_that_do_not_fit_the_config_are_refused(saved, tmp_path):
    path = edited_copy(saved, tmp_path, config=edit_json(lambda c: c.update(embed_dim=3)),
                       schema="")
    assert "weights do not fit the saved config" in load_error(path)
    path = edited_copy(saved, tmp_path, state_dict=[1, 2])
    assert "state_dict must be a dictionary of tensors, got list" in load_error(path)
    path = edited_copy(saved, tmp_path, state_dict=lambda state: {**state, "linear.bias": 1.0})
    assert "state_dict entry 'linear.bias' is not a tensor" in load_error(path)


def test_the_unedited_file_still_loads(saved, encoded):
    schema, data = encoded
    model = checkpoint.load(saved)
    assert model.schema.field_dims == list(model.field_dims) == schema.field_dims
    assert np.isfinite(predict_proba(model, data)).all()


# ---- 5. saving a model -------------------------------------------------------------------------

def test_a_failed_save_leaves_no_temporary_file(tmp_path, saved, monkeypatch):
    model = checkpoint.load(saved)
    target = tmp_path / "model.pt"
    checkpoint.save(model, target)
    before = target.read_bytes()

    def disk_full(obj, file, *args, **kwargs):
        file.write(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(model, target)
    assert os.listdir(tmp_path) == ["model.pt"] and target.read_bytes() == before


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32",
                    reason="POSIX signals")
def test_a_save_killed_by_sigterm_removes_its_temporary_file(tmp_path):
    target = tmp_path / "model.pt"
    script = f"""
import os, signal, torch
from deepfm_lite import build_model, checkpoint
model = build_model("lr", [3, 4])
checkpoint.save(model, {str(target)!r})
real_save = torch.save
def save_then_killed(obj, file, *args, **kwargs):
    file.write(b"the first bytes")
    os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` or a timeout would
    real_save(obj, file, *args, **kwargs)
torch.save = save_then_killed
checkpoint.save(model, {str(target)!r})
print("the save finished")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGTERM, done.stderr  # still ended by the signal
    assert "the save finished" not in done.stdout
    assert os.listdir(tmp_path) == ["model.pt"]  # no hidden .model.pt.* left behind
    assert checkpoint.load(target).config["model"] == "lr"  # the previous file is intact


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_saved_file_gets_its_mode_from_the_umask(tmp_path, saved, umask, mode):
    model = checkpoint.load(saved)
    previous = os.umask(umask)
    try:
        path = checkpoint.save(model, tmp_path / "model.pt")
    finally:
        os.umask(previous)
    assert oct(path.stat().st_mode & 0o777) == oct(mode)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_saving_over_a_file_keeps_its_mode(tmp_path, saved):
    model = checkpoint.load(saved)
    path = checkpoint.save(model, tmp_path / "model.pt")
    os.chmod(path, 0o640)
    checkpoint.save(model, path)
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
