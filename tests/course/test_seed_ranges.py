"""scripts/seed_ranges.py: every claim has its saved seeds, reproduces them, and is cited."""

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seed_ranges():
    return load_script("scripts/seed_ranges.py")


def test_every_claim_has_its_saved_rows_for_every_seed(seed_ranges):
    for name, claim in seed_ranges.CLAIMS.items():
        table = pd.read_csv(seed_ranges.OUT / f"{name}.csv")
        assert sorted(set(table["seed"])) == sorted(claim.seeds), name
        assert table.drop(columns="seed").notna().all().all(), name


def test_every_claim_is_linked_where_its_range_is_quoted(seed_ranges):
    appendix = (ROOT / "notebooks" / "measuring.md").read_text(encoding="utf-8")
    for name, claim in seed_ranges.CLAIMS.items():
        assert f'<a id="{name}"></a>' in appendix, f"notebooks/measuring.md does not list {name}"
        notebook = claim.quoted_in.split(",")[0]
        cells = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
        assert any(f"measuring.md#{name}" in cell.source for cell in cells
                   if cell.cell_type == "markdown"), (
            f"notebooks/{notebook}.ipynb quotes {name} but does not link to the appendix")


def test_a_claim_reproduces_its_saved_row(seed_ranges):
    # The cheapest claim (no training): same seed, same numbers as the saved file.
    measured = seed_ranges.measure("04-pairwise-share", seeds=(2024,))
    saved = pd.read_csv(seed_ranges.OUT / "04-pairwise-share.csv").set_index("seed")
    # The CSV keeps 6 significant digits.
    assert measured["pairwise_share"].iloc[0] == pytest.approx(
        saved.loc[2024, "pairwise_share"], rel=1e-5)


def test_ranges_summarise_each_setting(seed_ranges):
    table = pd.DataFrame({"seed": [0, 1, 0, 1], "dataset": ["a", "a", "b", "b"],
                          "scale": ["ci"] * 4, "rows": [10] * 4, "gap": [0.1, 0.3, -0.2, 0.0]})
    summary = seed_ranges.ranges(table)
    assert summary.loc[("a", "ci"), ("gap", "min")] == 0.1
    assert summary.loc[("b", "ci"), ("gap", "max")] == 0.0


def test_an_unknown_claim_is_refused(seed_ranges, capsys):
    with pytest.raises(SystemExit) as stop:
        seed_ranges.main(["no-such-claim"])
    assert stop.value.code == 2
    assert "unknown claim(s) no-such-claim" in capsys.readouterr().err
