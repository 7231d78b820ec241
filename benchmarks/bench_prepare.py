"""Preparing a Criteo-format file, and training from its memory-mapped arrays (issue 14, sec. 5).

Four measurements, each in fresh Python processes (peak memory is the child's ``ru_maxrss``
from ``os.wait4``: its resident set at its highest, file pages it mapped included):

* ``prepare``: ``prepare_file`` rows/s and peak memory at each ``--rows`` (default 1M and 4M),
  next to a ``pandas.read_csv``-only pass over the same file (chunks of 100k rows, every column
  parsed, nothing kept): the ratio says what the encoding costs on top of reading the text;
* ``train``: one epoch of DeepFM (the paper's Criteo setting) on the same prepared rows, opened
  memory-mapped and read into memory, interleaved (A B, B A, ...), median samples/s, and
  samples per CPU second of the process (``--threads 1`` makes that clock load-proof);
* ``prepare --before DIR``: ``prepare_file`` of an older checkout (e.g. ``git worktree add DIR
  <commit>``) against this one on the same file of the first ``--rows`` size, ``--reps``
  interleaved pairs of fresh processes (old new, new old, ...), median time ratio new / old;
* ``train --data``: peak memory of ``python -m deepfm_lite train --data FILE --format criteo
  --model lr --epochs 1`` on a ~200 MB file (LR: the memory is the data's, and it trains
  fast), and of the same command run from ``--before DIR`` (an older checkout, e.g.
  ``git archive <commit> deepfm_lite | tar -x -C DIR``) when given;
* ``train --data --format csv``: peak memory and time of the same LR run on a generated
  app-store CSV (``--csv-rows``, ~200 MB), streamed through ``prepare`` (the default above
  64 MB) and read whole.

Each child process runs from the checkout it measures (its folder is both its working
directory and its ``PYTHONPATH``, and ``prepare`` reports the package it imported), so an
older checkout is never shadowed by this one.

Usage::

    python benchmarks/bench_prepare.py                          # 1M and 4M rows (~20 min)
    python benchmarks/bench_prepare.py --rows 100000 --reps 1   # a quick look
    python benchmarks/bench_prepare.py --json-out prepare.json --before /tmp/old

The generated files go to ``--work`` (default: a temporary directory, removed at the end);
4M rows take about 0.9 GB of text and 1.3 GB of arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATE_CHUNK = 200_000
REPO = Path(__file__).resolve().parents[1]

PREPARE = """
import json, os, sys, time
import deepfm_lite
from deepfm_lite.data.prepared import prepare_file
start = time.perf_counter()
manifest = prepare_file(sys.argv[1], sys.argv[2], split=(0.9, 0.1), progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": manifest["settings"]["rows"],
                  "ids": sum(manifest["field_dims"]),
                  "code": os.path.dirname(os.path.dirname(deepfm_lite.__file__))}))
"""

READ_CSV = """
import json, sys, time
import pandas as pd
start, rows = time.perf_counter(), 0
for chunk in pd.read_csv(sys.argv[1], sep="\\t", header=None, chunksize=100_000):
    rows += len(chunk)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))
"""

TRAIN = """
import json, sys, time
import torch
import deepfm_lite as dl
from deepfm_lite.data.prepared import load_prepared
torch.set_num_threads(int(sys.argv[3]))
data = load_prepared(sys.argv[1], mmap=sys.argv[2] == "mmap")
model = dl.build_model("deepfm", data.field_dims, seed=0, embed_dim=10,
                       hidden=(400, 400, 400), dropout=0.5)
cpu = time.process_time()
history = dl.fit(model, data.train, epochs=1, batch_size=1024, lr=1e-3, seed=0,
                 device="cpu", progress=False)
cpu = time.process_time() - cpu
print(json.dumps({"samples_per_s": float(history["samples_per_s"].iloc[0]),
                  "samples_per_cpu_s": len(data.train) / cpu}))
"""


def peak_of(argv: list[str], env: dict | None = None, code: Path = REPO) -> tuple[dict, float]:
    """Run ``argv`` in a wrapper that reports only its own child's peak RSS (MB).

    Both run from ``code``, a checkout: its folder is their working directory (the first
    place ``python -c`` and ``python -m`` import from) and their ``PYTHONPATH``."""
    wrapper = ("import json, os, resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
               "sys.stderr.write(p.stderr)\n"
               "lines = [l for l in p.stdout.splitlines() if l.startswith('{')]\n"
               "print(json.dumps({'rc': p.returncode, 'peak_kb': peak,\n"
               "                  'out': json.loads(lines[-1]) if lines else None}))\n")
    result = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True,
                            text=True, cwd=code,
                            env={**os.environ, **(env or {}), "PYTHONPATH": str(code)})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["rc"]:
        raise RuntimeError(f"{' '.join(argv[:6])} failed: {result.stderr[-500:]}")
    return report["out"] or {}, report["peak_kb"] / 1024


def generate(path: Path, rows: int) -> Path:
    """A Criteo-format TSV of ``rows`` generated rows, written chunk by chunk."""
    from deepfm_lite.data import make_criteo_like, write_criteo_tsv

    if path.exists():
        return path
    part = path.with_suffix(".part")
    with open(path.with_suffix(".tmp"), "wb") as out:
        for index, start in enumerate(range(0, rows, GENERATE_CHUNK)):
            size = min(GENERATE_CHUNK, rows - start)
            write_criteo_tsv(make_criteo_like(size, seed=index), part)
            out.write(part.read_bytes())
    part.unlink()
    path.with_suffix(".tmp").rename(path)
    return path


def bench_prepare(work: Path, rows: int) -> dict:
    source = generate(work / f"criteo_{rows}.txt", rows)
    target = work / f"prepared_{rows}"
    shutil.rmtree(target, ignore_errors=True)
    prepared, prepare_peak = peak_of([sys.executable, "-c", PREPARE, str(source), str(target)])
    read, read_peak = peak_of([sys.executable, "-c", READ_CSV, str(source)])
    return {"rows": rows, "file_mb": source.stat().st_size / 1e6,
            "prepare_s": prepared["seconds"], "prepare_rows_per_s": rows / prepared["seconds"],
            "prepare_peak_mb": prepare_peak, "read_csv_s": read["seconds"],
            "read_csv_rows_per_s": rows / read["seconds"], "read_csv_peak_mb": read_peak,
            "prepare_over_read_csv": prepared["seconds"] / read["seconds"]}


def bench_prepare_pairs(work: Path, rows: int, before: Path, pairs: int) -> dict:
    """``prepare_file`` from ``before`` and from this checkout on one file, ``pairs`` interleaved
    pairs of fresh processes; each child must report the checkout it was meant to run."""
    source = generate(work / f"criteo_{rows}.txt", rows)
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    for pair in range(pairs):
        for which in ("before", "after") if pair % 2 == 0 else ("after", "before"):
            code = before.resolve() if which == "before" else REPO
            target = work / f"prepared_{rows}_{which}"
            shutil.rmtree(target, ignore_errors=True)
            result, _ = peak_of([sys.executable, "-c", PREPARE, str(source), str(target)],
                                code=code)
            if Path(result["code"]).resolve() != code:
                raise RuntimeError(f"the {which} run imported deepfm_lite from "
                                   f"{result['code']}, not {code}")
            seconds[which].append(result["seconds"])
    ratios = [new / old for new, old in zip(seconds["after"], seconds["before"])]
    return {"rows": rows, "before_s": seconds["before"], "after_s": seconds["after"],
            "ratios": ratios, "median_ratio": statistics.median(ratios)}


def bench_train(folder: Path, reps: int, threads: int) -> dict:
    speeds: dict[str, list[float]] = {"mmap": [], "memory": []}
    cpu: dict[str, list[float]] = {"mmap": [], "memory": []}  # per CPU second: load-proof-ish
    for rep in range(reps):
        order = ("mmap", "memory") if rep % 2 == 0 else ("memory", "mmap")
        for mode in order:
            result, _ = peak_of([sys.executable, "-c", TRAIN, str(folder), mode, str(threads)])
            speeds[mode].append(result["samples_per_s"])
            cpu[mode].append(result["samples_per_cpu_s"])
    ratios = [a / b for a, b in zip(speeds["mmap"], speeds["memory"])]
    cpu_ratios = [a / b for a, b in zip(cpu["mmap"], cpu["memory"])]
    return {"mmap_samples_per_s": statistics.median(speeds["mmap"]),
            "memory_samples_per_s": statistics.median(speeds["memory"]),
            "mmap_over_memory": statistics.median(ratios), "ratios": ratios, "runs": speeds,
            "mmap_over_memory_cpu": statistics.median(cpu_ratios), "cpu_ratios": cpu_ratios}


def bench_train_data(work: Path, file_rows: int, rows: int, before: Path | None) -> dict:
    """Peak memory of ``train --data`` on the first ``rows`` rows of a generated file."""
    source = generate(work / f"criteo_{file_rows}.txt", file_rows)
    argv = [sys.executable, "-m", "deepfm_lite", "train", "--data", str(source), "--format",
            "criteo", "--rows", str(rows), "--model", "lr", "--epochs", "1", "--json"]
    with open(source, "rb") as handle:
        read_mb = sum(len(line) for _, line in zip(range(rows), handle)) / 1e6
    result = {"rows": rows, "read_mb": read_mb}
    _, result["after_peak_mb"] = peak_of([*argv, "--no-progress"], {"TMPDIR": str(work)})
    if before is not None:
        _, result["before_peak_mb"] = peak_of(argv, code=before.resolve())
    return result


CSV_IN_MEMORY = """
import sys
from deepfm_lite.cli import main, train
train.CSV_IN_MEMORY_BYTES = float("inf")  # the reader for small files, whatever the size
sys.exit(main(sys.argv[1:]))
"""


def bench_train_csv(work: Path, rows: int) -> dict:
    """Peak memory and time of ``train --data FILE --format csv`` on a generated app-store CSV
    of ``rows`` rows: streamed through ``prepare`` (a file over 64 MB) and read whole."""
    import pandas as pd

    from deepfm_lite.data import make_appstore

    source = work / f"clicks_{rows}.csv"
    if not source.exists():
        parts = [make_appstore(min(500_000, rows - start), seed=index)
                 for index, start in enumerate(range(0, rows, 500_000))]
        pd.concat(parts).to_csv(source, index=False)
    argv = ["train", "--data", str(source), "--format", "csv", "--label", "click", "--model",
            "lr", "--epochs", "1", "--no-progress", "--json"]
    result = {"rows": rows, "file_mb": source.stat().st_size / 1e6}
    for name, command in (("streamed", [sys.executable, "-m", "deepfm_lite", *argv]),
                          ("in_memory", [sys.executable, "-c", CSV_IN_MEMORY, *argv])):
        start = time.perf_counter()
        _, result[f"{name}_peak_mb"] = peak_of(command, {"TMPDIR": str(work)})
        result[f"{name}_s"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda t: [int(x) for x in t.split(",")],
                        default=[1_000_000, 4_000_000])
    parser.add_argument("--train-rows", type=int, default=1_000_000,
                        help="rows of the file whose arrays the training runs read")
    parser.add_argument("--data-rows", type=int, default=900_000,
                        help="rows read by train --data (~217 MB of text for 900k)")
    parser.add_argument("--data-file-rows", type=int, default=1_000_000,
                        help="rows of the generated file train --data reads from")
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--before", type=Path,
                        help="an older checkout: prepare timed against it, train --data's peak")
    parser.add_argument("--csv-rows", type=int, default=2_500_000,
                        help="rows of the CSV for train --data --format csv (~200 MB)")
    parser.add_argument("--skip", default="", help="comma-separated: prepare,train,data,csv")
    parser.add_argument("--work", type=Path, help="keep the generated files here")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    with tempfile.TemporaryDirectory() as temp:
        work = (args.work or Path(temp)).resolve()  # children run from another folder
        work.mkdir(parents=True, exist_ok=True)
        report = {"machine": f"{platform.processor() or platform.machine()}, "
                             f"{os.cpu_count()} cores", "python": platform.python_version(),
                  "started": time.strftime("%Y-%m-%d %H:%M")}
        if "prepare" not in skip:
            report["prepare"] = []
            for rows in args.rows:
                row = bench_prepare(work, rows)
                report["prepare"].append(row)
                print(f"prepare {row['rows']:>9,} rows ({row['file_mb']:,.0f} MB): "
                      f"{row['prepare_rows_per_s']:>8,.0f} rows/s, peak "
                      f"{row['prepare_peak_mb']:,.0f} MB | read_csv only "
                      f"{row['read_csv_rows_per_s']:>8,.0f} rows/s, peak "
                      f"{row['read_csv_peak_mb']:,.0f} MB | prepare / read_csv "
                      f"{row['prepare_over_read_csv']:.2f}x the time", flush=True)
            if args.before is not None:
                report["prepare_pairs"] = row = bench_prepare_pairs(work, args.rows[0],
                                                                    args.before, args.reps)
                print(f"prepare {row['rows']:,} rows, {args.before} against this checkout, "
                      f"{args.reps} interleaved pairs: before "
                      f"{min(row['before_s']):.1f}-{max(row['before_s']):.1f} s, after "
                      f"{min(row['after_s']):.1f}-{max(row['after_s']):.1f} s, median time "
                      f"ratio {row['median_ratio']:.2f} "
                      f"(pairs {[round(r, 2) for r in row['ratios']]})", flush=True)
        if "train" not in skip:
            folder = work / f"prepared_{args.train_rows}"
            if not folder.exists():
                bench_prepare(work, args.train_rows)
            report["train"] = bench_train(folder, args.reps, args.threads)
            row = report["train"]
            print(f"train 1 epoch DeepFM: mmap {row['mmap_samples_per_s']:,.0f} samples/s, "
                  f"in memory {row['memory_samples_per_s']:,.0f}; mmap / memory "
                  f"{row['mmap_over_memory']:.3f} (pairs {[round(r, 3) for r in row['ratios']]}"
                  f"); per CPU second {row['mmap_over_memory_cpu']:.3f} "
                  f"(pairs {[round(r, 3) for r in row['cpu_ratios']]})")
        if "data" not in skip:
            report["train_data"] = bench_train_data(work, args.data_file_rows, args.data_rows,
                                                    args.before)
            row = report["train_data"]
            print(f"train --data ({row['read_mb']:,.0f} MB read): peak "
                  f"{row['after_peak_mb']:,.0f} MB"
                  + (f"; before: {row['before_peak_mb']:,.0f} MB" if "before_peak_mb" in row
                     else ""))
        if "csv" not in skip:
            report["train_csv"] = row = bench_train_csv(work, args.csv_rows)
            print(f"train --data --format csv ({row['file_mb']:,.0f} MB): streamed peak "
                  f"{row['streamed_peak_mb']:,.0f} MB in {row['streamed_s']:.1f} s; read whole "
                  f"peak {row['in_memory_peak_mb']:,.0f} MB in {row['in_memory_s']:.1f} s")
        if args.json_out:
            args.json_out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
