"""``prepare_file`` / ``load_prepared`` (issue 14, sections 1 and 2): tiny generated files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import deepfm_lite as dl
from deepfm_lite import checkpoint
from deepfm_lite.data import (
    CRITEO_CATEGORICAL,
    CRITEO_INTEGER,
    Schema,
    apply_criteo_recipe,
    make_criteo_like,
    read_criteo,
    write_criteo_tsv,
)
from deepfm_lite.data.chunks import SplitDrawer, split_sizes
from deepfm_lite.data.prepared import load_prepared, prepare_file

FIELDS = [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]


@pytest.fixture(scope="module")
def criteo_file(tmp_path_factory) -> Path:
    return write_criteo_tsv(make_criteo_like(700, seed=3),
                            tmp_path_factory.mktemp("src") / "train.txt")


def _in_memory(path: Path, fractions, seed: int = 0):
    """The rows of each split as the in-memory pipeline reads and cuts them."""
    features = apply_criteo_recipe(read_criteo(path))
    parts = SplitDrawer(len(features), fractions, seed).take(len(features))
    return [features[parts == k] for k in range(len(fractions))]


def test_min_count_vocabulary_and_arrays_match_the_in_memory_schema(criteo_file, tmp_path):
    manifest = prepare_file(criteo_file, tmp_path / "p", split=(0.8, 0.1, 0.1), min_count=3,
                            chunk_rows=256)
    frames = _in_memory(criteo_file, (0.8, 0.1, 0.1))
    expected = Schema.fit(frames[0], FIELDS, [], "label", min_count=3)
    data = load_prepared(tmp_path / "p")
    assert data.schema.to_dict() == expected.to_dict()
    assert [manifest["splits"][n]["rows"] for n in ("train", "valid", "test")] == [560, 70, 70]
    for name, frame in zip(("train", "valid", "test"), frames):
        part, want = getattr(data, name), expected.transform(frame)
        assert part.ids.dtype == torch.int32 and part.values.dtype == torch.float32
        assert torch.equal(part.ids.long(), want.ids) and torch.equal(part.values, want.values)
        assert torch.equal(part.labels, want.labels)
        assert manifest["splits"][name]["positives"] == int(want.labels.sum())


def test_manifest_records_the_source_and_every_setting(criteo_file, tmp_path):
    import hashlib

    manifest = prepare_file(criteo_file, tmp_path / "p", seed=5)
    on_disk = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["source"]["sha256"] == hashlib.sha256(criteo_file.read_bytes()).hexdigest()
    assert manifest["source"]["bytes"] == criteo_file.stat().st_size
    settings = manifest["settings"]
    assert settings["seed"] == 5 and settings["split"] == [0.9, 0.1]
    assert settings["min_count"] == 10 and settings["hash_buckets"] is None
    assert manifest["package_version"] and manifest["passes"] == 2
    assert load_prepared(tmp_path / "p").test is None  # 90/10: train and valid only


def test_output_does_not_depend_on_the_chunk_size(criteo_file, tmp_path):
    prepare_file(criteo_file, tmp_path / "a", split=(0.8, 0.1, 0.1), chunk_rows=1000)
    prepare_file(criteo_file, tmp_path / "b", split=(0.8, 0.1, 0.1), chunk_rows=150)
    for name in ("train_ids", "valid_values", "test_labels"):
        assert np.array_equal(np.load(tmp_path / "a" / f"{name}.npy"),
                              np.load(tmp_path / "b" / f"{name}.npy"))


@pytest.mark.parametrize("n_rows", [1, 7, 70_001])
def test_split_sizes_are_exact_and_the_seed_decides(n_rows):
    fractions = (0.8, 0.1, 0.1)
    parts = SplitDrawer(n_rows, fractions, seed=1).take(n_rows)
    assert np.bincount(parts, minlength=3).tolist() == split_sizes(n_rows, fractions).tolist()
    drawer = SplitDrawer(n_rows, fractions, seed=1)  # taken in other steps: the same split
    again = np.concatenate([drawer.take(k) for k in [n_rows // 3, n_rows - n_rows // 3]])
    assert np.array_equal(parts, again)
    if n_rows > 1000:
        other = SplitDrawer(n_rows, fractions, seed=2).take(n_rows)
        assert not np.array_equal(parts, other)
        # uniform: the test share of the first and second half differ by sampling noise only
        half = n_rows // 2
        assert abs((parts[:half] == 2).mean() - (parts[half:] == 2).mean()) < 0.01


def test_hashing_is_one_pass_and_saved_models_carry_it(criteo_file, tmp_path):
    manifest = prepare_file(criteo_file, tmp_path / "h", hash_buckets=50)
    data = load_prepared(tmp_path / "h")
    assert manifest["passes"] == 1 and manifest["settings"]["min_count"] is None
    assert data.field_dims == [52] * 39
    ids = torch.cat([data.train.ids, data.valid.ids])
    assert int(ids.min()) >= 1 and int(ids.max()) <= 51  # 0 (OOV) is never used when hashing
    model = dl.build_model("lr", data.field_dims, seed=0)
    checkpoint.save(model, tmp_path / "lr.pt", data.schema)
    schema = checkpoint.load(tmp_path / "lr.pt").schema
    assert schema.to_dict() == data.schema.to_dict()
    frames = _in_memory(criteo_file, (0.9, 0.1))
    assert torch.equal(schema.transform(frames[1]).ids, data.valid.ids.long())


def test_csv_with_numeric_fields(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"city": rng.choice(["a", "b", "c", "d"], 300),
                          "price": rng.normal(5, 2, 300).round(2),
                          "y": (rng.random(300) < 0.3).astype(int)})
    frame.loc[3, "price"] = np.nan
    frame.to_csv(tmp_path / "clicks.csv", index=False)
    manifest = prepare_file(tmp_path / "clicks.csv", tmp_path / "p", format="csv", label="y",
                            categorical=["city"], numeric=["price"], min_count=1,
                            chunk_rows=50)
    data = load_prepared(tmp_path / "p")
    parts = SplitDrawer(300, (0.9, 0.1), 0).take(300)
    expected = Schema.fit(frame[parts == 0], ["city"], ["price"], "y")
    assert data.schema.to_dict() == expected.to_dict()
    want = expected.transform(frame[parts == 1])
    # float32 of the same float64 arithmetic: equal bit for bit
    assert torch.equal(data.valid.values, want.values)
    assert manifest["settings"]["numeric"] == ["price"]


@pytest.mark.parametrize("value, said", [("2", "holds 2;"), ("yes", "holds 'yes';"),
                                         ("", "is empty;")])
def test_a_csv_label_other_than_0_or_1_is_named_by_its_line(tmp_path, value, said):
    rows = ["city,y"] + [f"c{i % 3},{i % 2}" for i in range(120)]
    rows[90] = f"c1,{value}"  # line 91 of the file
    (tmp_path / "clicks.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError) as raised:
        prepare_file(tmp_path / "clicks.csv", tmp_path / "p", format="csv", label="y",
                     chunk_rows=50)
    assert str(raised.value) == (f"{tmp_path / 'clicks.csv'}: line 91: column 'y' (the label) "
                                 f"{said} a label must be 0 or 1")


def test_a_malformed_line_is_named_by_its_number(criteo_file, tmp_path):
    lines = criteo_file.read_text().splitlines(keepends=True)
    cells = lines[200].split("\t")
    cells[3] = "12x"
    lines[200] = "\t".join(cells)
    bad = tmp_path / "bad.txt"
    bad.write_text("".join(lines))
    with pytest.raises(ValueError, match=r"bad.txt: line 201: column I3: '12x'"):
        prepare_file(bad, tmp_path / "p", chunk_rows=64)
    assert os.listdir(tmp_path) == ["bad.txt"]


def test_an_error_midway_leaves_nothing(criteo_file, tmp_path, monkeypatch):
    from deepfm_lite.data import chunks

    def failing(path, chunksize, nrows):
        yield next(read_criteo(path, chunksize=chunksize, nrows=nrows))
        raise RuntimeError("disk gone")

    monkeypatch.setattr(chunks, "read_criteo", failing)
    with pytest.raises(RuntimeError, match="disk gone"):
        prepare_file(criteo_file, tmp_path / "out" / "p", chunk_rows=100)
    assert list((tmp_path / "out").iterdir()) == []


def test_sigterm_midway_leaves_nothing(criteo_file, tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from deepfm_lite.data import chunks
        from deepfm_lite.data import read_criteo
        from deepfm_lite.data.prepared import prepare_file

        def slow(path, chunksize, nrows):
            yield next(read_criteo(path, chunksize=chunksize, nrows=nrows))
            print("started", flush=True)
            time.sleep(60)

        chunks.read_criteo = slow
        prepare_file({str(criteo_file)!r}, {str(tmp_path / "p")!r}, chunk_rows=100)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    assert list(tmp_path.iterdir())  # the hidden temporary folder exists mid-way
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"split": (0.8, 0.3)}, "split must be 2 or 3 positive fractions"),
    ({"hash_buckets": 10, "min_count": 3}, "leave min_count at its default"),
    ({"format": "csv"}, "needs label"),
    ({"label": "y"}, "go with format='csv'"),
    ({"chunk_rows": 0}, "chunk_rows must be an integer >= 1"),
])
def test_bad_settings_are_refused(criteo_file, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prepare_file(criteo_file, tmp_path / "p", **kwargs)


def test_an_existing_output_is_refused(criteo_file, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        prepare_file(criteo_file, tmp_path / "p")


def test_training_from_the_memory_map_equals_training_in_memory(criteo_file, tmp_path):
    prepare_file(criteo_file, tmp_path / "p", split=(0.8, 0.1, 0.1), min_count=3)
    mapped = load_prepared(tmp_path / "p")
    frames = _in_memory(criteo_file, (0.8, 0.1, 0.1))
    schema = Schema.fit(frames[0], FIELDS, [], "label", min_count=3)
    train, valid = schema.transform(frames[0]), schema.transform(frames[1])
    maps = Path("/proc/self/maps")
    if maps.exists():  # Linux: the arrays are mapped from their files, not read into memory
        assert str((tmp_path / "p" / "train_ids.npy").resolve()) in maps.read_text()

    def run(train_part, valid_part):
        model = dl.build_model("deepfm", mapped.field_dims, seed=0, embed_dim=4,
                               hidden=(8,), dropout=0.0)
        history = dl.fit(model, train_part, valid_part, epochs=2, batch_size=128, seed=1,
                         device="cpu", progress=False)
        return history, model

    (h_map, m_map), (h_mem, m_mem) = run(mapped.train, mapped.valid), run(train, valid)
    # The same rows in the same batches through the same operations in one process: the
    # results are equal bit for bit (int32 and int64 ids pick the same embedding rows), so no
    # tolerance is needed whatever the machine's summation order.
    assert h_map["train_loss"].tolist() == h_mem["train_loss"].tolist()
    assert h_map["valid_auc"].tolist() == h_mem["valid_auc"].tolist()
    for a, b in zip(m_map.parameters(), m_mem.parameters()):
        assert torch.equal(a, b)
