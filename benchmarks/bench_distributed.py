"""1 process against 2 torchrun processes (DistributedDataParallel, gloo) on the same rows.

What it shows on a 2-core machine: that data-parallel training runs and reaches the same model,
and what the processes and the all-reduce cost. Not a speed-up: two processes share the same
two cores a single process already uses with two threads, and each step adds an all-reduce of
every gradient (the embedding table's included, dense) through gloo.

Each configuration trains DeepFM (k=10, MLP 200-200-200, dropout 0) on the same prepared
criteo-like rows for one epoch, in fresh processes, through the command line:

* ``1 process, 2 threads``: ``python -m deepfm_lite train --prepared DIR --batch-size 2B``;
* ``1 process, 1 thread``: the same with ``OMP_NUM_THREADS=1`` (one core's worth);
* ``torchrun 1 process``: DDP with a world of one, batch 2B (DDP's own bookkeeping, no peer);
* ``torchrun 2 processes``: ``--nproc-per-node=2``, one thread each, batch B per process.

All four train on batches of 2B rows. The configurations are interleaved, ``--repeats`` rounds,
and the table gives the median training samples/s the report states (the epoch's time, the
slowest rank's under torchrun) and the median wall time of the whole command (start-up, data
check, training, evaluation). Samples/s moves with whatever else the machine runs: a shared
machine's numbers are a rough picture; the load average is printed with them.

Usage::

    python benchmarks/bench_distributed.py                  # 100k rows, 3 rounds
    python benchmarks/bench_distributed.py --rows 20000 --repeats 1   # a quick look
    python benchmarks/bench_distributed.py --prepared DIR   # rows prepared already
    python benchmarks/bench_distributed.py --device cuda    # on a machine with 2+ GPUs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 512  # per process under torchrun with 2 processes; the others use 2 x BATCH
NETWORK = ["--model", "deepfm", "--embed-dim", "10", "--hidden", "200,200,200", "--dropout", "0",
           "--epochs", "1", "--seed", "0", "--json", "--no-progress"]


def configurations(prepared: Path, device: str = "cpu") -> dict[str, tuple[list[str], dict]]:
    """Name -> (command, extra environment) for each way of training the same rows."""
    train = ["-m", "deepfm_lite", "train", "--prepared", str(prepared), *NETWORK,
             "--device", device]
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return {
        "1 process, 2 threads": ([sys.executable, *train, "--batch-size", str(2 * BATCH)],
                                 {"OMP_NUM_THREADS": "2"}),
        "1 process, 1 thread": ([sys.executable, *train, "--batch-size", str(2 * BATCH)],
                                {"OMP_NUM_THREADS": "1"}),
        "torchrun 1 process (2 threads)": ([*run, "--nproc-per-node=1", *train,
                                "--batch-size", str(2 * BATCH)], {"OMP_NUM_THREADS": "2"}),
        "torchrun 2 processes (1 thread each)": ([*run, "--nproc-per-node=2", *train,
                                  "--batch-size", str(BATCH)], {"OMP_NUM_THREADS": "1"}),
    }


def prepare_rows(rows: int, folder: Path) -> Path:
    """Write ``rows`` criteo-like rows as a Kaggle-format file and prepare them (80/10/10)."""
    from deepfm_lite.data import make_criteo_like, write_criteo_tsv
    from deepfm_lite.data.prepared import prepare_file

    source = write_criteo_tsv(make_criteo_like(rows, seed=0), folder / "train.txt")
    prepare_file(source, folder / "prepared", split=(0.8, 0.1, 0.1), seed=0, progress=False)
    return folder / "prepared"


def run_once(command: list[str], environment: dict) -> dict:
    """Run one training command; its JSON report plus the command's wall seconds."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, **environment}, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"samples_per_s": report["train_samples_per_s"], "wall_s": wall,
            "auc": report["auc"], "processes": report.get("processes", 1)}


def all_reduce_bytes(prepared: Path) -> dict[str, int]:
    """Bytes DDP all-reduces per step: every parameter's gradient, in float32."""
    from deepfm_lite.data.prepared import load_prepared
    from deepfm_lite.models import build_model

    model = build_model("deepfm", load_prepared(prepared).field_dims, embed_dim=10,
                        hidden=[200, 200, 200], dropout=0.0)
    sizes = {name: parameter.numel() * 4 for name, parameter in model.named_parameters()}
    embedding = sum(size for name, size in sizes.items() if name.startswith(("embedding",
                                                                            "linear")))
    return {"total": sum(sizes.values()), "embedding_tables": embedding}


def benchmark(prepared: Path, repeats: int, device: str = "cpu") -> dict[str, list[dict]]:
    runs = {name: [] for name in configurations(prepared, device)}
    for _ in range(repeats):  # interleaved: a load that comes and goes hits every one alike
        for name, (command, environment) in configurations(prepared, device).items():
            runs[name].append(run_once(command, environment))
    return runs


def table(runs: dict[str, list[dict]]) -> str:
    lines = ["| configuration | training samples/s (median, range) | wall s (median) | "
             "test AUC |", "|---|---|---|---|"]
    for name, results in runs.items():
        speeds = [r["samples_per_s"] for r in results]
        lines.append(f"| {name} | {statistics.median(speeds):,.0f} ({min(speeds):,.0f} to "
                     f"{max(speeds):,.0f}) | {statistics.median(r['wall_s'] for r in results):.1f}"
                     f" | {results[0]['auc']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="criteo-like rows to prepare")
    parser.add_argument("--prepared", type=Path, help="use this prepared directory instead")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu",
                        help="cpu, or cuda: one GPU per torchrun process (NCCL)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        prepared = args.prepared or prepare_rows(args.rows, Path(scratch))
        runs = benchmark(prepared, args.repeats, args.device)
        volume = all_reduce_bytes(prepared)
    if args.json:
        print(json.dumps({"runs": runs, "all_reduce_bytes": volume}))
        return
    print(table(runs))
    print(f"\nall-reduced per step: {volume['total'] / 1e6:.2f} MB of gradients, of which the "
          f"embedding tables {volume['embedding_tables'] / 1e6:.2f} MB (dense); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
