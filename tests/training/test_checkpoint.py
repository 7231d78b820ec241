import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import deepfm_lite as dl
from deepfm_lite import checkpoint


@pytest.fixture(scope="module")
def trained(appstore_small):
    model = dl.build_model("deepfm", appstore_small.field_dims, seed=0, hidden=[16, 8],
                           dropout=0.2)
    dl.fit(model, appstore_small.train, epochs=1, batch_size=1024, progress=False)
    return model


def test_save_load_predicts_exactly_as_before(tmp_path, trained, appstore_small):
    path = checkpoint.save(trained, tmp_path / "m.pt", appstore_small.schema)
    loaded = checkpoint.load(path)
    before = dl.predict_proba(trained, appstore_small.test)
    after = dl.predict_proba(loaded, appstore_small.test)
    assert np.array_equal(before, after)
    assert loaded.config == trained.config
    assert loaded.schema.to_dict() == appstore_small.schema.to_dict()


def test_loaded_schema_encodes_new_rows(tmp_path, trained, appstore_small):
    loaded = checkpoint.load(checkpoint.save(trained, tmp_path / "m.pt", appstore_small.schema))
    frame = appstore_small.frames[2].head(50)
    encoded = loaded.schema.transform(frame)
    assert torch.equal(encoded.ids, appstore_small.test.ids[:50])


def test_interrupted_save_keeps_previous_file(tmp_path, trained, monkeypatch):
    path = tmp_path / "m.pt"
    checkpoint.save(trained, path)
    original = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(checkpoint.torch, "save", explode)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(trained, path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.pt"]  # no temporary file left behind


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path, trained):
    path = checkpoint.save(trained, tmp_path / "m.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable deepfm_lite model"):
        checkpoint.load(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("hello")
    with pytest.raises(ValueError, match="not a readable deepfm_lite model"):
        checkpoint.load(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not a deepfm_lite model file"):
        checkpoint.load(foreign)
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "absent.pt")


def test_load_refuses_pickled_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "payload": Evil()}, path)
    with pytest.raises(ValueError, match="not a readable"):
        checkpoint.load(path)


# ---- issue 25: the inputs record, memory before refusal, plain load errors -----------------------

def test_the_inputs_record_round_trips_and_old_files_load_without_it(tmp_path, trained,
                                                                     appstore_small):
    record = checkpoint.input_record("csv")
    path = checkpoint.save(trained, tmp_path / "m.pt", appstore_small.schema, inputs=record)
    loaded = checkpoint.load(path)
    assert loaded.inputs == {"format": "csv", "recipe": None}
    again = checkpoint.load(checkpoint.save(loaded, tmp_path / "again.pt"))  # kept on re-save
    assert again.inputs == record and again.schema.to_dict() == appstore_small.schema.to_dict()
    payload = torch.load(path, weights_only=True)
    del payload["inputs"]  # a file saved before the record existed
    torch.save(payload, tmp_path / "old.pt")
    old = checkpoint.load(tmp_path / "old.pt")
    assert old.inputs is None
    assert np.array_equal(dl.predict_proba(old, appstore_small.test),
                          dl.predict_proba(loaded, appstore_small.test))


def test_a_bad_inputs_record_is_named(tmp_path, trained):
    path = checkpoint.save(trained, tmp_path / "m.pt", inputs=checkpoint.input_record("csv"))
    payload = torch.load(path, weights_only=True)
    for text, words in (('{"format": "parquet", "recipe": null}', "format must be one of"),
                        ('{"format": "criteo", "recipe": "x9"}', "unknown input recipe 'x9'"),
                        ("[1]", "inputs record must be a JSON object"),
                        ("{cut", "the inputs is not valid JSON")):
        torch.save({**payload, "inputs": text}, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=words) as info:
            checkpoint.load(tmp_path / "bad.pt")
        assert str(tmp_path / "bad.pt") in str(info.value)
    with pytest.raises(ValueError, match="unknown input recipe"):
        checkpoint.save(trained, tmp_path / "n.pt", inputs={"format": "csv", "recipe": "x9"})


def test_the_inputs_record_of_prepared_and_generated_data(tmp_path):
    assert checkpoint.prepared_inputs({"settings": {"format": "criteo"}}) == {
        "format": "criteo", "recipe": "criteo_x4"}
    assert checkpoint.prepared_inputs({"settings": {"format": "csv"}})["recipe"] is None
    assert checkpoint.inputs_record(object(), "criteo")["recipe"] == "criteo_x4"
    assert checkpoint.inputs_record(object()) is None


MEMORY_SCRIPT = """
import sys
import torch
from deepfm_lite import checkpoint
from deepfm_lite.models import build_model

def reset_peak():  # the resident set now, the peak (VmHWM) reset to it (clear_refs 5)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return peak_mb()

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB

checkpoint.load(sys.argv[1])  # warm-up: torch's first load costs tens of MB, once
before = reset_peak()
try:
    checkpoint.load(sys.argv[2])
    print("loaded")
except ValueError as error:
    print("refused:", error)
print(peak_mb() - before)
before = reset_peak()  # control: building the model the huge config describes, as load did
build_model("deepfm", [25_000_000], embed_dim=2, hidden=[4])
print(peak_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(),
                    reason="peak memory is read and reset through Linux's /proc")
def test_a_small_file_with_a_huge_config_is_refused_without_building_it(tmp_path):
    small = checkpoint.save(dl.build_model("deepfm", [3, 4], seed=0, embed_dim=2, hidden=[4]),
                            tmp_path / "small.pt")
    payload = torch.load(small, weights_only=True)
    config = json.loads(payload["config"])
    config["field_dims"] = [25_000_000]
    torch.save({**payload, "config": json.dumps(config)}, tmp_path / "huge.pt")
    assert (tmp_path / "huge.pt").stat().st_size < 10_000
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(small),
                           str(tmp_path / "huge.pt")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    message, refused_mb, control_mb = done.stdout.strip().splitlines()
    assert message == (f"refused: {tmp_path / 'huge.pt'}: weights do not fit the saved config: "
                       "'linear.weight' has shape [7] in the file but [25000000] in the "
                       "config's deepfm model (field_dims [25000000]) (and 2 more)")
    assert float(refused_mb) < 100
    assert float(control_mb) > 250  # the check can fail: building it takes 300 MB


def test_weights_that_claim_more_than_they_store_are_refused(tmp_path):
    path = checkpoint.save(dl.build_model("fm", [3, 4], seed=0, embed_dim=2), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    expanded = torch.zeros(1, 2).expand(7, 2)  # stride 0: 8 bytes stored for 56
    torch.save({**payload, "state_dict": {**payload["state_dict"],
                                          "embedding.weight": expanded}}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match=r"'embedding.weight' of shape \[7, 2\] stores only 8 "
                                         "bytes"):
        checkpoint.load(tmp_path / "x.pt")
    assert checkpoint.load(path).field_dims == (3, 4)  # positive control


def test_a_load_error_never_repeats_the_unsafe_weights_only_advice(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"format": checkpoint.FORMAT, "when": datetime.date(2020, 1, 1)}, path)
    with pytest.raises(ValueError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert message == (f"{path} is not a readable deepfm_lite model file (damaged, or not a "
                       "deepfm_lite model file: it holds a Python object (datetime.date) "
                       "beyond tensors and plain values, which safe loading refuses to build)")
    truncated = tmp_path / "cut.pt"
    good = checkpoint.save(dl.build_model("lr", [3], seed=0), tmp_path / "good.pt")
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError) as info:
        checkpoint.load(truncated)
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)
    assert str(truncated) in str(info.value)
    assert checkpoint.load(good).config["model"] == "lr"  # positive control
