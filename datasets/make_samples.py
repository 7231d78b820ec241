"""Write the small sample files in this folder from the package's generators.

    python datasets/make_samples.py          # rewrite the samples
    python datasets/make_samples.py --check  # exit 1 if a sample differs from what it would write

The samples are for opening in pandas or a spreadsheet; the notebooks generate their own data.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from deepfm_lite.data import make_appstore, make_criteo_like

HERE = Path(__file__).resolve().parent
SAMPLES = {
    "appstore_sample.csv": lambda: make_appstore(5_000, seed=0),
    "criteo_like_sample.csv": lambda: make_criteo_like(2_000, seed=0),
}


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Equal columns and values; floats within 1e-9 (last-digit differences between CPUs)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for name in a.columns:
        left, right = a[name], b[name]
        if pd.api.types.is_float_dtype(left) and pd.api.types.is_float_dtype(right):
            if not np.allclose(left, right, rtol=0, atol=1e-9, equal_nan=True):
                return False
        elif not left.astype(str).equals(right.astype(str)):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for name, make in SAMPLES.items():
        text = make().to_csv(index=False, float_format="%.10g")
        path = HERE / name
        if args.check:
            expected = pd.read_csv(io.StringIO(text))
            if not path.exists() or not same_table(pd.read_csv(path), expected):
                stale.append(name)
        else:
            path.write_text(text)
            rows = text.count("\n") - 1
            print(f"wrote {path.name}: {rows} rows, {path.stat().st_size / 1e3:.0f} kB")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python datasets/make_samples.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
