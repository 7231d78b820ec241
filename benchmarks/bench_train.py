"""Training and inference speed of deepfm_lite's DeepFM, next to a plain PyTorch loop.

The configuration is the paper's Criteo setting (DeepFM, k=10, MLP 400-400-400 relu, dropout 0.5,
Adam 1e-3) on 180k training rows of criteo-like data, one epoch per run. Every run happens in
a fresh Python process of its own (which trains a few untimed batches first), so no run
inherits the heap another left behind (the C library's allocator adapts its thresholds to what
a process has freed so far). The runs are interleaved (A B, B A, ...), so a load that comes and
goes on a shared machine hits both alike; the table shows the median and the range over the
repetitions, and what the tower's matrix multiplies alone would allow on the machine.

* ``plain loop``: the same model and the same tensor-slicing loop, written with the plain PyTorch
  pieces (``F.embedding``, ``nn.Dropout``, ``torch.optim.Adam``);
* ``deepfm_lite``: ``deepfm_lite.fit`` and ``deepfm_lite.training.predict_logits``, which use
  the speed-ups of ``deepfm_lite/layers/fast.py`` and the fused Adam of ``make_adam``
  (``deepfm_lite/training/loop.py``).

``--ablation`` measures each speed-up alone on top of the plain loop, training step by training
step (blocks of steps alternating between the variants in one process), with the median of the
paired ratios.

Usage::

    python benchmarks/bench_train.py                     # table
    python benchmarks/bench_train.py --json              # one JSON object
    python benchmarks/bench_train.py --ablation          # gain of each speed-up
    python benchmarks/bench_train.py --rows 5000 --reps 1 --batch-sizes 512   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import deepfm_lite as dl
from deepfm_lite.data import EncodedData
from deepfm_lite.layers import fm_second_order
from deepfm_lite.layers.fast import FastDropout
from deepfm_lite.models import DeepFM
from deepfm_lite.training import predict_logits, resolve_device
from deepfm_lite.training.inference import PREDICT_BATCH
from deepfm_lite.training.loop import make_adam
from deepfm_lite.training.metrics import auc, logloss  # noqa: F401  (compare_peers uses them)

# The paper's Criteo configuration (Section 3.1): what every implementation here trains.
CONFIG = {"embed_dim": 10, "hidden": (400, 400, 400), "dropout": 0.5, "lr": 1e-3}
# predict_logits' CPU default, used for every implementation's inference on every device
INFER_BATCH = PREDICT_BATCH["cpu"]


# ---- data --------------------------------------------------------------------------------------


def load_data(train_rows: int, seed: int = 0):
    """Criteo-format rows split 80/10/10 so that the training split has ``train_rows`` rows.

    Uses ``deepfm_lite.data`` criteo-like generator and its standard encoding (all 39 fields
    categorical); falls back to the app-store data on a package version without it.
    """
    from deepfm_lite import data

    total = math.ceil(train_rows / 0.8)
    name = "criteo-like" if hasattr(data, "make_criteo_like") else "appstore"
    return name, data.load_dataset(name, total, seed=seed)


def save_split(data, folder: str) -> str:
    """Write the training and test splits to ``folder``/split.pt for the fresh processes."""
    path = os.path.join(folder, "split.pt")
    torch.save({"train": (data.train.ids, data.train.values, data.train.labels),
                "test": (data.test.ids, data.test.values, data.test.labels),
                "field_dims": list(data.field_dims)}, path)
    return path


def load_split(path: str):
    """What :func:`save_split` wrote: an object with ``train``, ``test`` and ``field_dims``."""
    saved = torch.load(path, weights_only=True)
    return type("Split", (), {"train": EncodedData(*saved["train"]),
                              "test": EncodedData(*saved["test"]),
                              "field_dims": saved["field_dims"]})


def in_fresh_process(script: str, argv: list[str]) -> dict:
    """Run ``python script *argv`` and return the JSON object its last output line holds."""
    done = subprocess.run([sys.executable, script, *argv], capture_output=True, text=True,
                          check=False)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"{os.path.basename(script)} {' '.join(argv)} failed "
                           f"(exit code {done.returncode}):\n{done.stderr[-3000:]}") from None


# ---- the plain PyTorch reference -----------------------------------------------------------------


class UniformMaskDropout(nn.Dropout):
    """Dropout with one float32 uniform per unit, kept when ``uniform >= p``.

    What ``FastDropout`` drew before it took its masks from random bytes; kept here so that the
    ablation can show what each of the two steps away from ``nn.Dropout`` buys.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * torch.rand(x.shape, device=x.device).ge_(self.p).div_(1.0 - self.p)


class PlainDeepFM(DeepFM):
    """deepfm_lite's DeepFM with the plain PyTorch pieces put back.

    Same parameters, same initialisation for a seed, same equations; the table lookups use
    ``F.embedding`` and the tower ``nn.Dropout``. ``fast_dropout`` / ``fast_gather`` switch one
    speed-up of ``deepfm_lite/layers/fast.py`` back on, for the ablation; ``uniform_dropout`` puts
    :class:`UniformMaskDropout` (FastDropout's earlier mask) in the tower instead.
    """

    def __init__(self, field_dims, fast_dropout: bool = False, fast_gather: bool = False,
                 uniform_dropout: bool = False, **params):
        super().__init__(field_dims, **params)
        self.fast_gather = fast_gather
        if not fast_dropout:
            replacement = UniformMaskDropout if uniform_dropout else nn.Dropout
            layers = self.mlp.layers
            for position, layer in enumerate(layers):
                if isinstance(layer, FastDropout):
                    layers[position] = replacement(layer.p)

    def forward(self, ids: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        if self.fast_gather:
            return super().forward(ids, values)
        index = ids + self.embedding.offsets
        vectors = F.embedding(index, self.embedding.weight) * values.unsqueeze(-1)
        weights = F.embedding(index, self.linear.weight.unsqueeze(1)).squeeze(-1)
        y_fm = (weights * values).sum(dim=1) + self.linear.bias + fm_second_order(vectors)
        return y_fm + self.mlp(vectors.flatten(1)).squeeze(1)


def build(kind: str, field_dims, seed: int, **flags) -> nn.Module:
    """A DeepFM of ``kind`` ``"plain"`` or ``"deepfm_lite"``, initialised from ``seed``."""
    params = {k: v for k, v in CONFIG.items() if k != "lr"}
    torch.manual_seed(seed)
    if kind == "plain":
        return PlainDeepFM(field_dims, **flags, **params)
    return dl.build_model("deepfm", field_dims, **params)


def plain_fit(model: nn.Module, train: EncodedData, batch_size: int, seed: int,
              fused_adam: bool = False) -> None:
    """One epoch of the textbook loop: shuffle once, slice batches, Adam on BCE-with-logits."""
    dl.seed_everything(seed)
    device = next(model.parameters()).device
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    ids, values, labels = (t[order].to(device) for t in (train.ids, train.values, train.labels))
    optimizer = (make_adam(model.parameters(), lr=CONFIG["lr"]) if fused_adam else
                 torch.optim.Adam(model.parameters(), lr=CONFIG["lr"]))
    model.train()
    for start in range(0, len(train), batch_size):
        part = slice(start, start + batch_size)
        loss = F.binary_cross_entropy_with_logits(model(ids[part], values[part]), labels[part])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def plain_predict(model: nn.Module, data: EncodedData, batch_size: int = INFER_BATCH):
    """Logits of every row in evaluation mode, batch by batch."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(data.ids[s:s + batch_size].to(device),
                            data.values[s:s + batch_size].to(device)).cpu()
                      for s in range(0, len(data), batch_size)])


# ---- measuring -----------------------------------------------------------------------------------


def matmul_bound(input_dim: int, batch_size: int, infer_batch: int = INFER_BATCH,
                 reps: int = 30, device: str = "cpu") -> dict[str, float]:
    """Samples/s the tower's matrix multiplies alone would allow on this machine.

    Times exactly the products of DeepFM's MLP (``input_dim`` -> 400 -> 400 -> 400 -> 1): for a
    training step the forward ``addmm`` of every layer plus the two backward products (input
    and weight gradients), twelve in all; for inference the four forward ones. The median over
    ``reps`` repetitions; any implementation of this model must do at least this work.
    """
    widths = [input_dim, *CONFIG["hidden"], 1]
    layers = [(torch.randn(n_out, n_in, device=device), torch.randn(n_out, device=device))
              for n_in, n_out in zip(widths[:-1], widths[1:])]

    def seconds(rows: int, backward: bool) -> float:
        inputs = [torch.randn(rows, n_in, device=device) for n_in in widths[:-1]]
        grads = [torch.randn(rows, n_out, device=device) for n_out in widths[1:]]

        def products() -> None:
            for (weight, bias), x, grad in zip(layers, inputs, grads):
                torch.addmm(bias, x, weight.t())
                if backward:
                    grad.mm(weight)
                    grad.t().mm(x)

        products()  # untimed first call
        times = [timed(products)[0] for _ in range(reps)]
        return statistics.median(times)

    return {"train_samples_per_s": batch_size / seconds(batch_size, backward=True),
            "infer_samples_per_s": infer_batch / seconds(infer_batch, backward=False),
            "batch_size": batch_size, "infer_batch": infer_batch}


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads,
            "torch": torch.__version__, "python": platform.python_version(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def timed(function: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of ``function()`` (waiting for the GPU to finish, where one is used)."""
    start = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def scores(logits: torch.Tensor, data: EncodedData) -> dict[str, float]:
    probs = torch.sigmoid(logits.double()).numpy()
    labels = data.labels.numpy()
    return {"auc": auc(labels, probs), "logloss": logloss(labels, probs)}


def summarize(runs: list[dict]) -> dict:
    """Medians and ranges of several runs' rates; the quality metrics of the median run."""
    train = [r["train_samples_per_s"] for r in runs]
    infer = [r["infer_samples_per_s"] for r in runs]
    return {"train_samples_per_s": statistics.median(train), "train_min": min(train),
            "train_max": max(train), "infer_samples_per_s": statistics.median(infer),
            "infer_min": min(infer), "infer_max": max(infer),
            "auc": statistics.median(r["auc"] for r in runs),
            "logloss": statistics.median(r["logloss"] for r in runs), "runs": len(runs)}


def run_one(kind: str, data, batch_size: int, seed: int, device: str = "cpu") -> dict:
    model = build(kind, data.field_dims, seed).to(device)
    if kind == "plain":
        train_s, _ = timed(lambda: plain_fit(model, data.train, batch_size, seed))
        infer_s, _ = timed(lambda: plain_predict(model, data.train))
    else:
        train_s, _ = timed(lambda: dl.fit(model, data.train, epochs=1, batch_size=batch_size,
                                          lr=CONFIG["lr"], seed=seed, device=device,
                                          progress=False))
        infer_s, _ = timed(lambda: predict_logits(model, data.train, INFER_BATCH))
    test_logits = plain_predict(model, data.test)
    return {"train_samples_per_s": len(data.train) / train_s,
            "infer_samples_per_s": len(data.train) / infer_s, **scores(test_logits, data.test)}


def warm_up(data, batch_size: int, kinds, seed: int, device: str = "cpu") -> None:
    """A few untimed batches of each implementation: first calls allocate and initialise."""
    head = data.train.subset(slice(0, 8 * batch_size))
    for kind in kinds:
        model = build(kind, data.field_dims, seed).to(device)
        if kind == "plain":
            plain_fit(model, head, batch_size, seed)
        else:
            dl.fit(model, head, epochs=1, batch_size=batch_size, lr=CONFIG["lr"], seed=seed,
                   device=device, progress=False)
        plain_predict(model, head)


def interleaved_runs(script: str, kinds: list[str], data_file: str, batch_size: int, reps: int,
                     seed: int, threads: int, device: str) -> dict[str, list[dict]]:
    """``reps`` timed runs of each of ``kinds``, each in a fresh process of ``script --run``.

    The order rotates every repetition (A B, B A for two kinds; A B C, B C A, C A B for three),
    so a load that comes and goes hits every kind alike. Returns each kind's runs.
    """
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for rep in range(reps):
        for kind in kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]:
            argv = ["--run", kind, "--data-file", data_file, "--batch-sizes", str(batch_size),
                    "--seed", str(seed + rep), "--threads", str(threads), "--device", device]
            runs[kind].append(in_fresh_process(script, argv))
    return runs


def compare(data, batch_sizes: list[int], reps: int, seed: int, device: str = "cpu",
            threads: int = 2) -> list[dict]:
    """Plain loop and deepfm_lite, alternating which goes first, ``reps`` runs each.

    Each run is a fresh process (:func:`run_worker`) that warms up, then trains and predicts.
    """
    kinds = ["plain", "deepfm_lite"]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        data_file = save_split(data, folder)
        for batch_size in batch_sizes:
            runs = interleaved_runs(__file__, kinds, data_file, batch_size, reps, seed,
                                    threads, device)
            for kind in kinds:
                results.append({"implementation": "plain loop" if kind == "plain" else kind,
                                "batch_size": batch_size, **summarize(runs[kind])})
    return results


def run_worker(kind: str, data_file: str, batch_size: int, seed: int, threads: int,
               device: str) -> dict:
    """One timed run, in the fresh process :func:`compare` starts: warm up, train, predict."""
    torch.set_num_threads(threads)
    data = load_split(data_file)
    warm_up(data, batch_size, [kind], seed, device)
    return run_one(kind, data, batch_size, seed, device)


ABLATION = {  # variant -> (speed-ups switched on over the plain loop)
    "plain loop": {},
    "+ mask = uniform >= p": {"uniform_dropout": True},
    "+ FastDropout (byte masks)": {"fast_dropout": True},
    "+ gather_rows": {"fast_gather": True},
    "+ fused Adam (make_adam)": {"fused_adam": True},
    "all three together": {"fast_dropout": True, "fast_gather": True, "fused_adam": True},
}


def ablation(data, batch_size: int, rounds: int, block: int, seed: int,
             clock: Callable[[], float] = time.perf_counter, device: str = "cpu") -> list[dict]:
    """Seconds per training step of each variant of :data:`ABLATION`, interleaved.

    Every round runs ``block`` steps of each variant (order reversed every other round); the
    gain of a variant is the median over rounds of (plain seconds / variant seconds), so a slow
    spell of the machine that spans a round cancels out.
    """
    train = EncodedData(*(t.to(device) for t in (data.train.ids, data.train.values,
                                                   data.train.labels)))
    states = {}
    for name, flags in ABLATION.items():
        model_flags = {k: v for k, v in flags.items() if k != "fused_adam"}
        model = build("plain", data.field_dims, seed, **model_flags).to(device).train()
        optimizer = (make_adam(model.parameters(), lr=CONFIG["lr"]) if flags.get("fused_adam")
                     else torch.optim.Adam(model.parameters(), lr=CONFIG["lr"]))
        states[name] = (model, optimizer)
    n_batches = max(1, len(train) // batch_size)

    def steps(name: str, first: int) -> None:
        model, optimizer = states[name]
        for step in range(first, first + block):
            part = slice((step % n_batches) * batch_size, (step % n_batches + 1) * batch_size)
            logits = model(train.ids[part], train.values[part])
            loss = F.binary_cross_entropy_with_logits(logits, train.labels[part])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    names = list(ABLATION)
    for name in names:  # warm-up: first-call allocations are not timed
        steps(name, 0)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = clock()
            steps(name, block * (r + 1))
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds[name].append((clock() - start) / block)
    rows = []
    base = seconds[names[0]]
    for name in names:
        ratios = sorted(b / s for b, s in zip(base, seconds[name]))
        rows.append({"variant": name, "batch_size": batch_size,
                     "train_samples_per_s": batch_size / statistics.median(seconds[name]),
                     "speedup": statistics.median(ratios),
                     "speedup_q1": ratios[len(ratios) // 4],
                     "speedup_q3": ratios[(3 * len(ratios)) // 4], "rounds": rounds})
    return rows


# ---- output --------------------------------------------------------------------------------------


def format_rate(value: float) -> str:
    return f"{value / 1000:.1f}k"


def print_table(header: str, rows: list[dict], machine: dict) -> None:
    print(header)
    print(f"machine: {machine['cpu']}, {machine['cores']} cores ({machine['cpu_capability']}), "
          f"torch {machine['torch']}, {machine['threads']} threads, load average "
          f"{machine['load_average_1min']:.1f} at the start")
    print()
    print(f"{'implementation':<16} {'batch':>6}  {'train samples/s (min-max)':<27}"
          f"{'inference samples/s (min-max)':<31}{'AUC':>7} {'LogLoss':>8}")
    for row in rows:
        train = (f"{format_rate(row['train_samples_per_s'])} "
                 f"({format_rate(row['train_min'])}-{format_rate(row['train_max'])})")
        infer = (f"{format_rate(row['infer_samples_per_s'])} "
                 f"({format_rate(row['infer_min'])}-{format_rate(row['infer_max'])})")
        print(f"{row['implementation']:<16} {row['batch_size']:>6}  {train:<27}{infer:<31}"
              f"{row['auc']:>7.4f} {row['logloss']:>8.4f}")


def print_ablation(rows: list[dict]) -> None:
    print(f"{'variant':<28} {'batch':>6} {'train samples/s':>16}  speed-up over plain (IQR)")
    for row in rows:
        print(f"{row['variant']:<28} {row['batch_size']:>6} "
              f"{format_rate(row['train_samples_per_s']):>16}  {row['speedup']:.3f} "
              f"({row['speedup_q1']:.3f}-{row['speedup_q3']:.3f})")


def emit_json(report: dict, args: argparse.Namespace) -> None:
    """Print ``report`` as JSON when ``--json`` is given; write it to ``--json-out`` if named."""
    text = json.dumps(report, indent=2)
    if args.json:
        print(text)
    if args.json_out:
        with open(args.json_out, "w") as out:
            out.write(text + "\n")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """--threads, --seed, --json and --json-out: what every benchmark script takes."""
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON object to FILE")


def add_run_arguments(parser: argparse.ArgumentParser, reps_help: str) -> None:
    """The options of the scripts that time one-epoch runs in fresh processes (this one and
    compare_peers.py), with the hidden ``--data-file`` of their worker processes."""
    parser.add_argument("--rows", type=int, default=180_000, help="training rows (default 180k)")
    parser.add_argument("--batch-sizes", default="1024,4096",
                        help="comma-separated training batch sizes (default 1024,4096)")
    parser.add_argument("--reps", type=int, default=3, help=reps_help)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    add_output_arguments(parser)
    parser.add_argument("--data-file", help=argparse.SUPPRESS)


def check_run_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn --batch-sizes into a list, check the counts, resolve --device to a name."""
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--batch-sizes must be integers separated by commas, got "
                     f"{args.batch_sizes!r}")
    if args.rows < 10 or args.reps < 1 or args.threads < 1 or min(args.batch_sizes) < 1:
        parser.error("--rows must be >= 10 and --reps, --threads and every batch size >= 1")
    try:
        args.device = str(resolve_device(args.device))
    except (ValueError, RuntimeError) as error:
        parser.error(f"--device: {error}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser, "runs per implementation and batch")
    parser.add_argument("--ablation", action="store_true",
                        help="gain of each speed-up alone, step by step, at the first batch size")
    parser.add_argument("--rounds", type=int, default=20, help="ablation rounds (default 20)")
    parser.add_argument("--block", type=int, default=5, help="ablation steps per block")
    parser.add_argument("--run", choices=["plain", "deepfm_lite"], help=argparse.SUPPRESS)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="ablation clock: wall time, or the process's CPU time (steadier "
                             "on a shared machine with --threads 1)")
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    if args.rounds < 1 or args.block < 1:
        parser.error("--rounds and --block must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.run:  # one timed run in a fresh process, started by compare()
        print(json.dumps(run_worker(args.run, args.data_file, args.batch_sizes[0], args.seed,
                                    args.threads, args.device)))
        return 0
    torch.set_num_threads(args.threads)
    machine = {**machine_info(args.threads), "device": args.device}
    name, data = load_data(args.rows, args.seed)
    config = {**CONFIG, "hidden": list(CONFIG["hidden"]), "dataset": name,
              "train_rows": len(data.train), "fields": len(data.field_dims),
              "table_rows": int(sum(data.field_dims)), "infer_batch": INFER_BATCH}
    header = (f"DeepFM k={CONFIG['embed_dim']}, MLP {'-'.join(map(str, CONFIG['hidden']))} "
              f"relu, dropout {CONFIG['dropout']}, Adam {CONFIG['lr']:g}; {len(data.train):,} "
              f"{name} training rows ({len(data.field_dims)} fields, a table of "
              f"{config['table_rows']:,} rows), one epoch per run")
    if args.ablation:
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        rows = ablation(data, args.batch_sizes[0], args.rounds, args.block, args.seed, clock,
                        args.device)
        emit_json({"config": config, "machine": machine, "clock": args.clock,
                   "ablation": rows}, args)
        if not args.json:
            print(header)
            print(f"{args.rounds} rounds of {args.block} steps per variant, {args.clock} clock, "
                  f"{args.threads} threads, {machine['cpu']}")
            print_ablation(rows)
        return 0
    results = compare(data, args.batch_sizes, args.reps, args.seed, args.device, args.threads)
    bound = matmul_bound(len(data.field_dims) * CONFIG["embed_dim"], args.batch_sizes[0],
                         device=args.device)
    emit_json({"config": config, "machine": machine, "results": results,
               "matmul_bound": bound}, args)
    if not args.json:
        print_table(header, results, machine)
        print(f"\nThe MLP's matrix multiplies alone, timed on this machine, would allow "
              f"{format_rate(bound['train_samples_per_s'])} training samples/s at batch "
              f"{bound['batch_size']} and {format_rate(bound['infer_samples_per_s'])} "
              f"inference samples/s at batch {bound['infer_batch']}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
