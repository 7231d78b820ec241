"""Criteo-shaped data: the generator, the Kaggle file format, the reader and the Criteo recipe."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfm_lite.data import (
    CRITEO_CATEGORICAL,
    CRITEO_COLUMNS,
    CRITEO_INTEGER,
    CRITEO_LABEL,
    Schema,
    apply_criteo_recipe,
    criteo_integer_to_category,
    criteo_like,
    encode_criteo_splits,
    load_dataset,
    make_criteo_like,
    read_criteo,
    write_criteo_tsv,
)
from deepfm_lite.training.metrics import auc

REAL_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "criteo_real_samples"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return make_criteo_like(400, seed=0)


@pytest.fixture(scope="module")
def many_rows() -> pd.DataFrame:
    return make_criteo_like(20_000, seed=0)


def _criteo_part(df: pd.DataFrame) -> pd.DataFrame:
    return df[CRITEO_COLUMNS].reset_index(drop=True)


# ---- the generator -----------------------------------------------------------------------------
def test_generator_has_criteos_columns_and_types(rows):
    assert list(rows.columns) == [*CRITEO_COLUMNS, "p_true"]
    assert CRITEO_LABEL == "label" and len(CRITEO_INTEGER) == 13 and len(CRITEO_CATEGORICAL) == 26
    assert set(rows[CRITEO_LABEL].unique()) <= {0, 1}
    assert all(str(rows[name].dtype) == "Int64" for name in CRITEO_INTEGER)
    assert all(str(rows[name].dtype) == "string" for name in CRITEO_CATEGORICAL)
    hashes = pd.concat([rows[name].dropna() for name in CRITEO_CATEGORICAL])
    assert hashes.str.fullmatch(r"[0-9a-f]{8}").all()
    assert rows["I1"].isna().any() and rows["C19"].isna().any()
    assert rows["I2"].isin([-1, -2]).any()  # like the real I2
    assert (rows[CRITEO_INTEGER[2:]].fillna(0) >= 0).all().all()
    assert rows["p_true"].between(0, 1, inclusive="neither").all()


def test_generator_is_deterministic_per_seed(rows):
    pd.testing.assert_frame_equal(make_criteo_like(400, seed=0), rows)
    other = make_criteo_like(400, seed=1)
    assert not other["C3"].equals(rows["C3"])
    assert not np.allclose(other["p_true"], rows["p_true"])


def test_generator_matches_its_datasheet(many_rows):
    """Missing rates, vocabularies and the click rate are what datasets/criteo_like.md says."""
    for name, spec in {**criteo_like.INTEGER_FIELDS, **criteo_like.CATEGORICAL_FIELDS}.items():
        expected = criteo_like.missing_rate(spec)
        assert abs(many_rows[name].isna().mean() - expected) < 0.02, name
    for name, spec in criteo_like.CATEGORICAL_FIELDS.items():
        assert many_rows[name].nunique() <= spec.vocabulary, name
    assert many_rows["C9"].nunique() == 3
    assert many_rows["C3"].nunique() > 5000  # a long tail of rare hashes
    labels, p_true = many_rows[CRITEO_LABEL].to_numpy(), many_rows["p_true"].to_numpy()
    assert 0.2 < labels.mean() < 0.26
    assert abs(labels.mean() - p_true.mean()) < 0.01  # p_true is calibrated
    assert 0.78 < auc(labels, p_true) < 0.85


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_rows"):
        make_criteo_like(0)
    with pytest.raises(ValueError, match="seed"):
        make_criteo_like(10, seed=-1)


# ---- writing and reading ------------------------------------------------------------------------
def test_tsv_is_the_kaggle_format_and_round_trips(rows, tmp_path):
    path = write_criteo_tsv(rows, tmp_path / "train.txt")
    lines = path.read_text().split("\n")
    assert lines[-1] == "" and len(lines) == len(rows) + 1  # no header, one line per row
    first = lines[0].split("\t")
    assert len(first) == 40 and first[0] == str(rows[CRITEO_LABEL].iloc[0])
    expected = ["" if pd.isna(v) else str(v) for v in rows.iloc[0][CRITEO_COLUMNS[1:]]]
    assert first[1:] == expected  # empty string for missing, integers without ".0"
    back = read_criteo(path)
    pd.testing.assert_frame_equal(back, _criteo_part(rows))
    assert back.attrs["skipped_lines"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["train.txt"]  # no temporary file left


def test_csv_with_a_kaggle_header_round_trips(rows, tmp_path):
    kaggle = _criteo_part(rows).rename(columns={"label": "Label"})
    kaggle.insert(0, "Id", np.arange(10_000_000, 10_000_000 + len(rows)))
    kaggle.to_csv(tmp_path / "kaggle.csv", index=False)
    pd.testing.assert_frame_equal(read_criteo(tmp_path / "kaggle.csv"), _criteo_part(rows))


def test_csv_with_lower_case_label_and_float_integers_round_trips(rows, tmp_path):
    floats = _criteo_part(rows)
    floats[CRITEO_INTEGER] = floats[CRITEO_INTEGER].astype("float64")  # written as 260.0
    floats.to_csv(tmp_path / "sample.csv", index=False)
    assert re.search(r",\d+\.0,", (tmp_path / "sample.csv").read_text())
    pd.testing.assert_frame_equal(read_criteo(tmp_path / "sample.csv"), _criteo_part(rows))


def test_header_with_an_unknown_column_is_named(rows, tmp_path):
    _criteo_part(rows).rename(columns={"C7": "color"}).to_csv(tmp_path / "odd.csv", index=False)
    message = r"line 1 \(header\), column 21: unexpected column 'color'"
    with pytest.raises(ValueError, match=message):
        read_criteo(tmp_path / "odd.csv")


def test_chunks_concatenate_to_the_full_read(rows, tmp_path):
    path = write_criteo_tsv(rows, tmp_path / "train.txt")
    chunks = list(read_criteo(path, chunksize=37))
    assert len(chunks) == -(-len(rows) // 37) and all(len(chunk) <= 37 for chunk in chunks)
    assert all(chunk.attrs["skipped_lines"] == 0 for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks), read_criteo(path))
    pd.testing.assert_frame_equal(read_criteo(path, nrows=50), read_criteo(path).iloc[:50])
    capped = list(read_criteo(path, chunksize=37, nrows=50))
    assert [len(chunk) for chunk in capped] == [37, 13]


def test_reader_rejects_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Criteo file"):
        read_criteo(tmp_path / "absent.txt")
    (tmp_path / "train.txt").write_text("0" + "\t" * 39 + "\n")
    with pytest.raises(ValueError, match="on_bad_lines"):
        read_criteo(tmp_path / "train.txt", on_bad_lines="warn")
    with pytest.raises(ValueError, match="chunksize"):
        read_criteo(tmp_path / "train.txt", chunksize=0)


# ---- malformed lines ----------------------------------------------------------------------------
def _break_line(line: str, kind: str, delimiter: str) -> str:
    cells = line.split(delimiter)
    offset = 1 if cells[0].startswith("1000") else 0  # the Kaggle CSV's Id column
    if kind == "columns":
        return delimiter.join(cells[:-1])
    if kind == "label":
        cells[offset] = "2"
    elif kind == "letters":
        cells[offset + 3] = "12x"  # I3
    elif kind == "fraction":
        cells[offset + 5] = "3.5"  # I5
    return delimiter.join(cells)  # kind "none": the line as it was


EXPECTED_PROBLEM = {
    "columns": r"found 39 columns, expected 40",
    "label": r"column label: '2' is not 0 or 1",
    "letters": r"column I3: '12x' is not an integer",
    "fraction": r"column I5: '3.5' is not an integer",
}


def _broken_file(rows: pd.DataFrame, folder: Path, layout: str, kind: str,
                 line_number: int) -> Path:
    small = rows.iloc[:30]
    if layout == "tsv":
        path = write_criteo_tsv(small, folder / "train.txt")
        delimiter = "\t"
    else:
        kaggle = _criteo_part(small)
        kaggle.insert(0, "Id", np.arange(10_000_000, 10_000_000 + len(kaggle)))
        path = folder / "train.csv"
        kaggle.to_csv(path, index=False)
        delimiter = ","
    lines = path.read_text().split("\n")
    lines[line_number - 1] = _break_line(lines[line_number - 1], kind, delimiter)
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize("layout", ["tsv", "csv"])
@pytest.mark.parametrize("kind", sorted(EXPECTED_PROBLEM))
def test_malformed_line_is_an_error_naming_line_and_column(rows, tmp_path, layout, kind):
    line_number = 17  # 1-based; in the CSV the header is line 1
    path = _broken_file(rows, tmp_path, layout, kind, line_number)
    problem = EXPECTED_PROBLEM[kind]
    if layout == "csv" and kind == "columns":
        problem = r"found 40 columns, expected 41"
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: line 17: {problem}"):
        read_criteo(path)
    with pytest.raises(ValueError, match=rf"line 17: {problem}"):
        list(read_criteo(path, chunksize=8))


@pytest.mark.parametrize("layout", ["tsv", "csv"])
@pytest.mark.parametrize("kind", sorted(EXPECTED_PROBLEM))
def test_malformed_line_is_skipped_and_counted_when_asked(rows, tmp_path, layout, kind):
    line_number = 17
    path = _broken_file(rows, tmp_path, layout, kind, line_number)
    with pytest.warns(UserWarning, match=r"skipped 1 malformed line\(s\); first: line 17"):
        df = read_criteo(path, on_bad_lines="skip")
    assert df.attrs["skipped_lines"] == 1
    row_of_bad_line = line_number - (2 if layout == "csv" else 1)
    expected = _criteo_part(rows.iloc[:30]).drop(index=row_of_bad_line).reset_index(drop=True)
    pd.testing.assert_frame_equal(df, expected)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(read_criteo(path, chunksize=8, on_bad_lines="skip"))
    # chunks of 8 lines: TSV lines 17-24 form the third chunk, CSV lines 10-17 the second
    expected_counts = [0, 0, 1, 0] if layout == "tsv" else [0, 1, 0, 0]
    assert [chunk.attrs["skipped_lines"] for chunk in chunks] == expected_counts
    assert len(caught) == 1 and "line 17" in str(caught[0].message)
    pd.testing.assert_frame_equal(pd.concat(chunks), df)


def _latin_file(rows: pd.DataFrame, folder: Path, layout: str, line_number: int) -> Path:
    """A 30-row file whose line ``line_number`` holds the byte 0xff (not UTF-8) in C3."""
    path = _broken_file(rows, folder, layout, "none", line_number=1)  # an intact file
    delimiter = b"\t" if layout == "tsv" else b","
    lines = path.read_bytes().split(b"\n")
    cells = lines[line_number - 1].split(delimiter)
    position = (1 if layout == "csv" else 0) + CRITEO_COLUMNS.index("C3")
    cells[position] = b"caf\xff"
    lines[line_number - 1] = delimiter.join(cells)
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.mark.parametrize("layout", ["tsv", "csv"])
def test_non_utf8_line_names_line_and_column(rows, tmp_path, layout):
    path = _latin_file(rows, tmp_path, layout, line_number=17)
    problem = r"line 17: column C3: byte 0xff is not UTF-8 text"
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: {problem}"):
        read_criteo(path)
    with pytest.raises(ValueError, match=problem):
        list(read_criteo(path, chunksize=8))


@pytest.mark.parametrize("layout", ["tsv", "csv"])
def test_non_utf8_line_is_skipped_when_asked(rows, tmp_path, layout):
    path = _latin_file(rows, tmp_path, layout, line_number=17)
    with pytest.warns(UserWarning, match=r"skipped 1 malformed line\(s\); first: line 17: "
                                         r"column C3: byte 0xff"):
        df = read_criteo(path, on_bad_lines="skip")
    row_of_bad_line = 17 - (2 if layout == "csv" else 1)
    expected = _criteo_part(rows.iloc[:30]).drop(index=row_of_bad_line).reset_index(drop=True)
    pd.testing.assert_frame_equal(df, expected)


def _without_label(path: Path, out: Path) -> Path:
    """A copy of the Kaggle ``train.txt`` at ``path`` laid out as ``test.txt``: no label."""
    lines = path.read_text().splitlines(keepends=True)
    out.write_text("".join(line.split("\t", 1)[1] for line in lines))
    return out


def test_39_columns_without_a_header_are_read_as_an_unlabelled_file(rows, tmp_path):
    labelled = write_criteo_tsv(rows.iloc[:60], tmp_path / "train.txt")
    path = _without_label(labelled, tmp_path / "test.txt")
    assert path.read_text().count("\t") == 60 * 38  # 39 columns a line
    df = read_criteo(path)
    assert list(df.columns) == [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]  # no label column
    expected = _criteo_part(rows.iloc[:60]).drop(columns=CRITEO_LABEL)
    pd.testing.assert_frame_equal(df, expected)
    chunks = list(read_criteo(path, chunksize=25))
    assert [len(chunk) for chunk in chunks] == [25, 25, 10]
    pd.testing.assert_frame_equal(pd.concat(chunks), expected)
    # a CSV header without "label" is the same unlabelled layout
    expected.to_csv(tmp_path / "test.csv", index=False)
    pd.testing.assert_frame_equal(read_criteo(tmp_path / "test.csv"), expected)


def test_an_unlabelled_file_still_names_its_malformed_lines(rows, tmp_path):
    labelled = write_criteo_tsv(rows.iloc[:30], tmp_path / "train.txt")
    lines = _without_label(labelled, tmp_path / "test.txt").read_text().split("\n")
    lines[11] = labelled.read_text().split("\n")[11]  # line 12 keeps its label: 40 columns
    cells = lines[19].split("\t")
    cells[2] = "7.5"  # line 20: I3
    lines[19] = "\t".join(cells)
    (tmp_path / "mixed.txt").write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"mixed.txt: line 12: found 40 columns, expected 39 "
                                         r"\(I1, I2, \.\.\.; no label, as on line 1\)"):
        read_criteo(tmp_path / "mixed.txt")
    with pytest.warns(UserWarning, match=r"skipped 2 malformed line\(s\); first: line 12"):
        df = read_criteo(tmp_path / "mixed.txt", on_bad_lines="skip")
    assert len(df) == 28 and CRITEO_LABEL not in df.columns


@pytest.mark.parametrize("count", [38, 41])
@pytest.mark.parametrize("line_number", [1, 9])
def test_other_column_counts_without_a_header_are_errors_naming_the_line(rows, tmp_path, count,
                                                                          line_number):
    path = write_criteo_tsv(rows.iloc[:20], tmp_path / "train.txt")
    lines = path.read_text().split("\n")
    cells = lines[line_number - 1].split("\t")
    cells = cells[:count] if count < len(cells) else cells + ["1"] * (count - len(cells))
    lines[line_number - 1] = "\t".join(cells)
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=rf"train.txt: line {line_number}: found {count} "
                                         r"columns, expected 40 \(label, I1, \.\.\.\)"):
        read_criteo(path)


def test_empty_file_says_it_is_empty(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"train.txt is empty"):
        read_criteo(tmp_path / "train.txt")


def test_a_p_true_column_is_kept_beside_the_fields_never_as_one(rows, tmp_path):
    rows.to_csv(tmp_path / "with_truth.csv", index=False)
    back = read_criteo(tmp_path / "with_truth.csv")
    assert list(back.columns) == [*CRITEO_COLUMNS, "p_true"]
    np.testing.assert_allclose(back["p_true"], rows["p_true"], rtol=1e-12)
    data = encode_criteo_splits(back, seed=0)
    assert "p_true" not in data.schema.field_names and data.test.p_true is not None
    broken = rows.astype({"p_true": object})
    broken.loc[4, "p_true"] = "high"
    broken.to_csv(tmp_path / "broken.csv", index=False)
    with pytest.raises(ValueError, match=r"line 6: column p_true: 'high' is not a probability"):
        read_criteo(tmp_path / "broken.csv")


# ---- the Criteo recipe --------------------------------------------------------------------------
def test_criteo_recipe_buckets_integers_keeps_missing_and_drops_rare():
    values = pd.Series([0, 1, 2, 3, 10, 100, -1, None], dtype="Int64")
    expected = ["0", "1", "2", "1", "5", "21", "-1", pd.NA]  # floor(ln(v)^2) for v > 2
    assert criteo_integer_to_category(values).tolist() == expected
    frame = pd.DataFrame({"label": [0, 1] * 6, "C1": ["aa"] * 5 + ["bb"] * 5 + ["cc", None],
                          **{name: pd.Series([None] * 12, dtype="Int64")
                             for name in CRITEO_INTEGER}})
    frame["I1"] = pd.Series([3, 3, 3, 20, 20, 20, 20, 0, 0, 0, 7, None], dtype="Int64")
    recipe = apply_criteo_recipe(frame)
    schema = Schema.fit(recipe, ["I1", "C1"], [], "label", min_count=3)
    assert schema["I1"].vocabulary == ["0", "1", "8"]  # "3" (v=7) seen once: OOV
    assert schema["C1"].vocabulary == ["aa", "bb"]  # "cc" seen once: OOV
    ids = schema.transform(recipe).ids.numpy()
    i1, c1 = schema.field_names.index("I1"), schema.field_names.index("C1")
    assert ids[:, i1].tolist() == [3, 3, 3, 4, 4, 4, 4, 2, 2, 2, 0, 1]
    assert ids[:, c1].tolist() == [2] * 5 + [3] * 5 + [0, 1]  # 0 = OOV, 1 = missing


def test_unseen_category_maps_to_oov(rows):
    prepared = encode_criteo_splits(rows, seed=0, min_count=1)
    fresh = prepared.frames[2].copy()
    fresh.loc[0, "C3"] = "0badf00d"
    assert "0badf00d" not in prepared.schema["C3"].vocabulary
    ids = prepared.schema.transform(fresh).ids
    assert ids[0, prepared.schema.field_names.index("C3")] == 0


def test_load_dataset_criteo_like_prepares_39_categorical_fields():
    data = load_dataset("criteo-like", 2000, seed=0)
    assert data.schema.field_names == [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]
    assert all(spec.kind == "categorical" for spec in data.schema.fields)
    assert (len(data.train), len(data.valid), len(data.test)) == (1600, 200, 200)
    assert data.test.p_true is not None
    dims = np.array(data.field_dims)
    assert (data.train.ids.numpy() < dims).all() and (data.test.ids.numpy() < dims).all()


def test_fit_stream_over_chunks_equals_fit(rows, tmp_path):
    recipe = apply_criteo_recipe(_criteo_part(rows))
    numeric = _criteo_part(rows)[CRITEO_INTEGER].astype("float64")
    frame = pd.concat([recipe[[CRITEO_LABEL, *CRITEO_CATEGORICAL]],
                       numeric.add_prefix("n_")], axis=1)
    categorical, numbers = CRITEO_CATEGORICAL, [f"n_{name}" for name in CRITEO_INTEGER]
    whole = Schema.fit(frame, categorical, numbers, CRITEO_LABEL, min_count=2)
    parts = [frame.iloc[start:start + 57] for start in range(0, len(frame), 57)]
    streamed = Schema.fit_stream(iter(parts), categorical, numbers, CRITEO_LABEL, min_count=2)
    for mine, theirs in zip(streamed.fields, whole.fields, strict=True):
        assert (mine.name, mine.kind, mine.vocabulary) == (theirs.name, theirs.kind,
                                                           theirs.vocabulary)
        assert mine.mean == pytest.approx(theirs.mean, rel=1e-12)
        assert mine.std == pytest.approx(theirs.std, rel=1e-12)
    encoded, chunked = whole.transform(frame), whole.transform_stream(iter(parts))
    assert np.array_equal(encoded.ids, chunked.ids) and np.allclose(encoded.values, chunked.values)
    assert np.array_equal(encoded.labels, chunked.labels)
    with pytest.raises(ValueError, match="empty"):
        Schema.fit_stream([], categorical)
    with pytest.raises(TypeError, match="iterable of DataFrames"):
        Schema.fit_stream(frame, categorical)


def test_writer_refuses_bad_values_and_keeps_the_old_file(rows, tmp_path):
    path = write_criteo_tsv(rows.iloc[:5], tmp_path / "train.txt")
    before = path.read_bytes()
    tabbed = _criteo_part(rows.iloc[:5])
    tabbed.loc[2, "C4"] = "ab\tcd"
    with pytest.raises(ValueError, match=r"field 'C4' holds a tab or line break at row 2"):
        write_criteo_tsv(tabbed, path)
    fractional = _criteo_part(rows.iloc[:5]).astype({"I6": "float64"})
    fractional.loc[1, "I6"] = 2.5
    with pytest.raises(ValueError, match=r"integer field 'I6' holds 2.5 at row 1"):
        write_criteo_tsv(fractional, path)
    with pytest.raises(ValueError, match=r"\['C26'\] not found"):
        write_criteo_tsv(rows.drop(columns="C26"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["train.txt"]


# ---- the real samples (read from ../shared at run time, never copied) ---------------------------
@pytest.mark.parametrize("name, n_rows", [("kaggle_train_tiny.csv", 1999),
                                          ("criteo_sample_200.csv", 200)])
def test_real_criteo_samples_load(name, n_rows):
    path = REAL_SAMPLES / name
    if not path.is_file():
        pytest.skip(f"real Criteo sample {path} is absent (it lives in ../shared beside the "
                    "checkout and is never copied into the project)")
    df = read_criteo(path)
    assert list(df.columns) == CRITEO_COLUMNS and len(df) == n_rows
    assert df.attrs["skipped_lines"] == 0
    plain = pd.read_csv(path)  # pandas' own reading, as floats and objects
    plain.columns = [column.lower() if column.lower() in ("id", "label") else column
                     for column in plain.columns]
    assert np.array_equal(df[CRITEO_LABEL].to_numpy(), plain["label"].to_numpy())
    for column in CRITEO_INTEGER:
        assert str(df[column].dtype) == "Int64"
        mine = df[column].astype("float64").to_numpy()
        assert np.array_equal(mine, plain[column].to_numpy(dtype=np.float64), equal_nan=True)
    for column in CRITEO_CATEGORICAL:
        assert df[column].isna().equals(plain[column].isna())
        assert (df[column].dropna().to_numpy() == plain[column].dropna().to_numpy()).all()
    assert (df["I2"].dropna() < 0).any()  # real I2 holds -1 and friends
    pd.testing.assert_frame_equal(pd.concat(read_criteo(path, chunksize=150)), df)
    prepared = encode_criteo_splits(df, seed=0, min_count=2)
    assert len(prepared.train) + len(prepared.valid) + len(prepared.test) == n_rows


def test_datasheet_tables_match_the_generator():
    sheet = (Path(__file__).resolve().parents[2] / "datasets" / "criteo_like.md").read_text()
    for name, spec in criteo_like.CATEGORICAL_FIELDS.items():
        cells = re.search(rf"^\| {name} \| ([^|]+) \| ([^|]+) \| [^|]+ \| ([^|]+)% \| ([^|]+) \|",
                          sheet, re.MULTILINE).groups()
        assert int(cells[0].replace(",", "")) == spec.vocabulary, name
        assert float(cells[1]) == spec.zipf and float(cells[3]) == spec.effect_std, name
        assert float(cells[2]) == pytest.approx(100 * criteo_like.missing_rate(spec), abs=0.05)
    for name, spec in criteo_like.INTEGER_FIELDS.items():
        cells = re.search(rf"^\| {name} \| ([^|]+) \| ([^|]+) \| [^|]+ \| ([^|]+)% \| ([^|]+) \| "
                          rf"([^|]+) \| ([-\d.]+)", sheet, re.MULTILINE).groups()
        assert [float(cell) for cell in (cells[0], cells[1], cells[3], cells[4], cells[5])] == [
            spec.mu, spec.sigma, spec.effect, spec.centre, spec.missing_effect], name
        assert float(cells[2]) == pytest.approx(100 * criteo_like.missing_rate(spec), abs=0.05)
    assert f"N(0, {criteo_like.NOISE_STD}^2)" in sheet
    assert f"{criteo_like.STEP_EFFECT} if" in sheet
