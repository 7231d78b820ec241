import os

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
