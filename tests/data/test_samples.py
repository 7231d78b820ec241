from pathlib import Path

import pandas as pd
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_sample_files_are_what_the_generators_write(capsys):
    assert load_script("datasets/make_samples.py").main(["--check"]) == 0, capsys.readouterr().out


def test_sample_files_are_small_and_open_in_pandas():
    for name in ("appstore_sample.csv", "criteo_like_sample.csv"):
        path = ROOT / "datasets" / name
        assert path.stat().st_size <= 1_000_000
        assert len(pd.read_csv(path)) > 1000
