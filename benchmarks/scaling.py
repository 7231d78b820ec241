"""How deepfm_lite's training cost grows with rows, batch size, embedding size and MLP width.

One factor moves at a time from the base configuration of bench_train.py (DeepFM, k=10, MLP
400-400-400, dropout 0.5, batch 1024, criteo-like data). Every point trains one epoch over a
slice of the training rows with ``deepfm_lite.fit``; the points of a factor are measured in
rounds (all points once per round, order reversed every other round) and the median is kept.

For each point the table gives training samples/s, the seconds one epoch over the given rows
takes, and the MLP's multiply-adds per sample (forward and backward, ``6 * weights``), the
part of the work that grows with the embedding size and the width.

Usage::

    python benchmarks/scaling.py                   # table
    python benchmarks/scaling.py --json            # one JSON object
    python benchmarks/scaling.py --plot scaling.png
    python benchmarks/scaling.py --rows 4000 --rounds 1 --quick   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train as bt  # noqa: E402

import deepfm_lite as dl  # noqa: E402
from deepfm_lite.data import EncodedData  # noqa: E402

BASE = {"rows": 180_000, "batch_size": 1024, "embed_dim": 10, "width": 400}
FACTORS = {
    "rows": [22_500, 45_000, 90_000, 180_000],
    "batch_size": [256, 512, 1024, 2048, 4096],
    "embed_dim": [4, 10, 20, 40],
    "width": [100, 200, 400, 800],
}
QUICK = {"rows": [0.25, 1.0], "batch_size": [256, 1024], "embed_dim": [4, 10], "width": [100, 400]}


def mlp_flops_per_sample(num_fields: int, embed_dim: int, width: int, layers: int = 3) -> float:
    """Multiply-adds x 2 of the tower per sample, forward and backward (about 3x forward)."""
    weights = num_fields * embed_dim * width + (layers - 1) * width * width + width
    return 6.0 * weights


def head(train: EncodedData, rows: int) -> EncodedData:
    return EncodedData(train.ids[:rows], train.values[:rows], train.labels[:rows])


def train_seconds(point: dict, train: EncodedData, field_dims, seed: int) -> float:
    model = dl.build_model("deepfm", field_dims, seed=seed, embed_dim=point["embed_dim"],
                           hidden=(point["width"],) * 3, dropout=bt.CONFIG["dropout"])
    data = head(train, point["rows"])
    start = time.perf_counter()
    dl.fit(model, data, epochs=1, batch_size=point["batch_size"], lr=bt.CONFIG["lr"], seed=seed,
           device="cpu", progress=False)
    return time.perf_counter() - start


def measure(data, factors: dict[str, list], base: dict, rounds: int, seed: int) -> list[dict]:
    rows_out = []
    for factor, values in factors.items():
        points = [{**base, factor: value} for value in values]
        warm = {**base, "rows": min(base["rows"], 8 * base["batch_size"])}
        train_seconds(warm, data.train, data.field_dims, seed)  # untimed first call
        seconds: list[list[float]] = [[] for _ in points]
        for r in range(rounds):
            order = range(len(points)) if r % 2 == 0 else reversed(range(len(points)))
            for i in order:
                seconds[i].append(train_seconds(points[i], data.train, data.field_dims, seed))
        for point, times in zip(points, seconds):
            median = statistics.median(times)
            rows_out.append({
                "factor": factor, "value": point[factor], **point,
                "epoch_seconds": median, "train_samples_per_s": point["rows"] / median,
                "mlp_mflop_per_sample": mlp_flops_per_sample(
                    len(data.field_dims), point["embed_dim"], point["width"]) / 1e6,
                "rounds": rounds})
    return rows_out


def print_table(rows: list[dict], header: str) -> None:
    print(header)
    for factor in dict.fromkeys(row["factor"] for row in rows):
        print()
        print(f"{factor:<12}{'train samples/s':>16}{'epoch seconds':>15}{'MLP MFLOP/sample':>18}")
        for row in (r for r in rows if r["factor"] == factor):
            print(f"{row['value']:<12}{bt.format_rate(row['train_samples_per_s']):>16}"
                  f"{row['epoch_seconds']:>15.2f}{row['mlp_mflop_per_sample']:>18.2f}")


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    factors = list(dict.fromkeys(row["factor"] for row in rows))
    figure, axes = plt.subplots(1, len(factors), figsize=(3.2 * len(factors), 3))
    for ax, factor in zip(axes, factors):
        points = [r for r in rows if r["factor"] == factor]
        x = [r["value"] for r in points]
        if factor == "rows":
            ax.plot(x, [r["epoch_seconds"] for r in points], marker="o")
            ax.set_ylabel("seconds per epoch")
        else:
            ax.plot(x, [r["train_samples_per_s"] / 1000 for r in points], marker="o")
            ax.set_ylabel("train samples/s (thousands)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(factor)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=BASE["rows"],
                        help="training rows of the base point (default 180k)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per point")
    parser.add_argument("--quick", action="store_true", help="two points per factor")
    bt.add_output_arguments(parser)
    parser.add_argument("--plot", metavar="FILE", help="save a figure of the four factors")
    args = parser.parse_args(argv)
    if args.rows < 100 or args.rounds < 1 or args.threads < 1:
        parser.error("--rows must be >= 100 and --rounds and --threads >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    name, data = bt.load_data(args.rows, args.seed)
    base = {**BASE, "rows": len(data.train), "batch_size": min(BASE["batch_size"],
                                                               len(data.train))}
    if args.quick:
        factors = {f: [max(1, round(v * base["rows"])) if f == "rows" else v for v in values]
                   for f, values in QUICK.items()}
    else:
        scale = base["rows"] / BASE["rows"]
        factors = {**FACTORS, "rows": [max(1, round(r * scale)) for r in FACTORS["rows"]]}
    rows = measure(data, factors, base, args.rounds, args.seed)
    machine = bt.machine_info(args.threads)
    bt.emit_json({"base": base, "dataset": name, "machine": machine, "points": rows}, args)
    if args.plot:
        plot(rows, args.plot)
    if not args.json:
        header = (f"deepfm_lite DeepFM training cost, one factor at a time from rows="
                  f"{base['rows']:,}, batch {base['batch_size']}, k={base['embed_dim']}, MLP "
                  f"{base['width']}x3, dropout {bt.CONFIG['dropout']}; {name} data; "
                  f"{machine['cpu']}, {args.threads} threads, median of {args.rounds} rounds")
        print_table(rows, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
