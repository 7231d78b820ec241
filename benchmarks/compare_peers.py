"""deepfm_lite next to the CTR libraries people use: pytorch-fm (torchfm) and DeepCTR-Torch.

All three train the same DeepFM (k=10, MLP 400-400-400 relu, dropout 0.5, Adam 1e-3) on the
same criteo-like split, one epoch per run, then predict every training row and score the test
split. Every run happens in a fresh Python process of its own, which trains a few untimed
batches first (no library inherits the heap another left behind); the runs are interleaved,
the order rotating every repetition. Each library is used the way its documentation shows:

* deepfm_lite: ``deepfm_lite.fit`` and ``deepfm_lite.training.predict_logits``;
* torchfm: ``DeepFactorizationMachineModel`` (its tower has batch norm built in, and its order-1
  weights keep ``nn.Embedding``'s N(0, 1) start), ``BCELoss`` on its sigmoid output, the same
  tensor-slicing loop as deepfm_lite (torchfm ships models, not a training loop);
* DeepCTR-Torch: ``DeepFM(...)`` with its defaults for everything not in the configuration
  (e.g. L2 1e-5 on the embeddings), ``compile("adam", "binary_crossentropy")``, ``fit``,
  ``predict``.

Peak memory: each library trains and predicts once more in a fresh process of its own (the
first batch size), whose peak resident set size is reported. DeepCTR-Torch asks PyPI for a newer
version when it is imported; here that request is answered offline and every socket connection
is refused while it loads, so the benchmark sends nothing.

Usage::

    pip install -e ".[bench]"       # the peers; keeps the installed torch
    python benchmarks/compare_peers.py [--rows 180000] [--reps 3] [--batch-sizes 1024,4096]
    python benchmarks/compare_peers.py --json
    python benchmarks/compare_peers.py --rows 3000 --reps 1 --no-memory    # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import sys
import tempfile
import threading
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train as bt  # noqa: E402  (the shared configuration, data and timing helpers)

import deepfm_lite as dl  # noqa: E402
from deepfm_lite.data import EncodedData  # noqa: E402
from deepfm_lite.training import predict_logits  # noqa: E402

IMPLEMENTATIONS = ("deepfm_lite", "torchfm", "deepctr_torch")
LABELS = {"deepfm_lite": "deepfm_lite", "torchfm": "pytorch-fm", "deepctr_torch": "DeepCTR-Torch"}


# ---- importing the peers without network access ------------------------------------------------


class NetworkBlocked(OSError):
    """Raised instead of opening a connection while a peer library loads."""


@contextlib.contextmanager
def no_network(attempts: list[str]):
    """Refuse every outgoing connection (and name lookup) inside the block; log each attempt."""
    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection,
             socket.getaddrinfo)

    def refuse(*args, **kwargs):
        attempts.append(repr(args[1:] if args and isinstance(args[0], socket.socket) else args))
        raise NetworkBlocked("compare_peers.py blocks network access while peers load")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        (socket.socket.connect, socket.socket.connect_ex, socket.create_connection,
         socket.getaddrinfo) = saved


class _OfflineResponse:
    """What ``requests.get`` returns during DeepCTR-Torch's import: no answer, nothing sent."""

    status_code = 599
    text = "{}"


def import_deepctr(attempts: list[str]):
    """Import DeepCTR-Torch with its update check answered offline and all sockets refused.

    Its ``__init__`` starts a thread that calls ``requests.get`` on PyPI's JSON API; that call
    is replaced by one returning a non-200 response, so the check ends quietly, and sockets are
    refused meanwhile in case anything else tries. Returns the module, or None when missing.
    """
    try:
        import requests
    except ImportError:
        return None
    saved_get = requests.get
    started = set(threading.enumerate())
    requests.get = lambda *args, **kwargs: _OfflineResponse()
    try:
        with no_network(attempts):
            try:
                import deepctr_torch
                from deepctr_torch.inputs import SparseFeat  # noqa: F401
                from deepctr_torch.models import DeepFM  # noqa: F401
            except ImportError:
                return None
            for thread in set(threading.enumerate()) - started:  # the update check's thread
                thread.join(timeout=10)
    finally:
        requests.get = saved_get
    return deepctr_torch


def load_peers(names: list[str]) -> tuple[dict, list[str], list[str]]:
    """The importable peers among ``names``, messages about missing ones, blocked attempts."""
    peers, messages, attempts = {}, [], []
    if "torchfm" in names:
        try:
            import torchfm.model.dfm  # noqa: F401

            peers["torchfm"] = torchfm
        except ImportError:
            messages.append("pytorch-fm (torchfm) is not installed: skipped "
                            "(pip install -e \".[bench]\")")
    if "deepctr_torch" in names:
        deepctr = import_deepctr(attempts)
        if deepctr is None:
            messages.append("DeepCTR-Torch (deepctr_torch, with requests) is not installed: "
                            "skipped (pip install -e \".[bench]\")")
        else:
            peers["deepctr_torch"] = deepctr
    return peers, messages, attempts


# ---- one run of each implementation ------------------------------------------------------------


def _shuffled(train: EncodedData, seed: int) -> EncodedData:
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return EncodedData(train.ids[order], train.values[order], train.labels[order])


class DeepfmLite:
    name = "deepfm_lite"

    def __init__(self, field_dims, seed: int, device: torch.device):
        self.device = device
        self.model = bt.build("deepfm_lite", field_dims, seed)

    def fit(self, train: EncodedData, batch_size: int, seed: int) -> None:
        dl.fit(self.model, train, epochs=1, batch_size=batch_size, lr=bt.CONFIG["lr"],
               seed=seed, device=self.device, progress=False)

    def predict(self, data: EncodedData) -> torch.Tensor:
        return torch.sigmoid(predict_logits(self.model, data, bt.INFER_BATCH).double())


class Torchfm:
    name = "torchfm"

    def __init__(self, field_dims, seed: int, device: torch.device):
        from torchfm.model.dfm import DeepFactorizationMachineModel

        torch.manual_seed(seed)
        self.device = device
        self.model = DeepFactorizationMachineModel(
            field_dims, embed_dim=bt.CONFIG["embed_dim"], mlp_dims=bt.CONFIG["hidden"],
            dropout=bt.CONFIG["dropout"]).to(device)

    def fit(self, train: EncodedData, batch_size: int, seed: int) -> None:
        torch.manual_seed(seed)
        data = _shuffled(train, seed)
        ids, labels = data.ids.to(self.device), data.labels.to(self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=bt.CONFIG["lr"])
        self.model.train()
        for start in range(0, len(data), batch_size):
            part = slice(start, start + batch_size)
            loss = F.binary_cross_entropy(self.model(ids[part]), labels[part])
            self.model.zero_grad()
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def predict(self, data: EncodedData) -> torch.Tensor:
        self.model.eval()
        parts = [self.model(data.ids[s:s + bt.INFER_BATCH].to(self.device)).cpu()
                 for s in range(0, len(data), bt.INFER_BATCH)]
        return torch.cat(parts).double()


class DeepctrTorch:
    name = "deepctr_torch"

    def __init__(self, field_dims, seed: int, device: torch.device):
        from deepctr_torch.inputs import SparseFeat
        from deepctr_torch.models import DeepFM

        self.names = [f"field{i}" for i in range(len(field_dims))]
        columns = [SparseFeat(name, vocabulary_size=int(size),
                              embedding_dim=bt.CONFIG["embed_dim"])
                   for name, size in zip(self.names, field_dims)]
        target = "cuda:0" if device.type == "cuda" else "cpu"
        self.model = DeepFM(columns, columns, dnn_hidden_units=bt.CONFIG["hidden"],
                            dnn_dropout=bt.CONFIG["dropout"], task="binary", seed=seed,
                            device=target)
        self.model.compile("adam", "binary_crossentropy")  # torch.optim.Adam, lr 1e-3

    def inputs(self, data: EncodedData) -> dict:
        ids = data.ids.numpy()
        return {name: ids[:, i] for i, name in enumerate(self.names)}

    def fit(self, train: EncodedData, batch_size: int, seed: int) -> None:
        torch.manual_seed(seed)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its device and step count
            self.model.fit(self.inputs(train), train.labels.numpy(), batch_size=batch_size,
                           epochs=1, verbose=0, shuffle=True)

    def predict(self, data: EncodedData) -> torch.Tensor:
        return torch.from_numpy(self.model.predict(self.inputs(data), bt.INFER_BATCH)).flatten()


RUNNERS = {runner.name: runner for runner in (DeepfmLite, Torchfm, DeepctrTorch)}


def run_one(name: str, data, batch_size: int, seed: int, device: torch.device) -> dict:
    runner = RUNNERS[name](data.field_dims, seed, device)
    train_s, _ = bt.timed(lambda: runner.fit(data.train, batch_size, seed))
    infer_s, _ = bt.timed(lambda: runner.predict(data.train))
    probs = runner.predict(data.test).numpy()
    labels = data.test.labels.numpy()
    return {"train_samples_per_s": len(data.train) / train_s,
            "infer_samples_per_s": len(data.train) / infer_s,
            "auc": bt.auc(labels, probs), "logloss": bt.logloss(labels, probs)}


def compare(names: list[str], data, batch_sizes: list[int], reps: int, seed: int,
            device: str, threads: int = 2) -> tuple[dict[str, dict[int, dict]], int]:
    """``reps`` runs of every implementation per batch size, the order rotating each time.

    Each run is a fresh process (:func:`run_worker`). Returns the summaries and the number of
    network attempts the workers blocked while DeepCTR-Torch loaded.
    """
    results: dict[str, dict[int, dict]] = {name: {} for name in names}
    blocked = 0
    with tempfile.TemporaryDirectory() as folder:
        data_file = bt.save_split(data, folder)
        for batch_size in batch_sizes:
            runs = bt.interleaved_runs(__file__, names, data_file, batch_size, reps, seed,
                                       threads, device)
            for name in names:
                blocked += sum(run.pop("blocked_network_attempts") for run in runs[name])
                results[name][batch_size] = bt.summarize(runs[name])
    return results, blocked


def run_worker(name: str, data_file: str, batch_size: int, seed: int, threads: int,
               device: str) -> dict:
    """One timed run, in the fresh process :func:`compare` starts: warm up, train, predict."""
    torch.set_num_threads(threads)
    attempts: list[str] = []
    if name == "deepctr_torch":
        import_deepctr(attempts)
    data = bt.load_split(data_file)
    target = torch.device(device)
    warm = data.train.subset(slice(0, 8 * batch_size))
    runner = RUNNERS[name](data.field_dims, seed, target)  # untimed: first calls allocate
    runner.fit(warm, batch_size, seed)
    runner.predict(warm)
    return {**run_one(name, data, batch_size, seed, target),
            "blocked_network_attempts": len(attempts)}


# ---- peak memory in a fresh process ------------------------------------------------------------


def peak_rss_mb() -> float | None:
    """This process's peak resident set size in MB (None where the OS does not tell).

    On Linux it is ``VmHWM`` of /proc/self/status: ``getrusage``'s ``ru_maxrss`` would also
    count the parent process's memory at the moment it started this one.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def memory_probe(name: str, data_file: str, batch_size: int, seed: int, threads: int,
                 device: str) -> dict:
    """Run in a child process: load the split, train one epoch, predict, report peak memory."""
    torch.set_num_threads(threads)
    if name == "deepctr_torch":
        import_deepctr([])
    data = bt.load_split(data_file)
    target = torch.device(device)
    runner = RUNNERS[name](data.field_dims, seed, target)
    runner.fit(data.train, batch_size, seed)
    runner.predict(data.train)
    result = {"peak_rss_mb": peak_rss_mb()}
    if target.type == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 1024**2
    return result


def measure_memory(names: list[str], data, batch_size: int, seed: int, threads: int,
                   device: str) -> dict[str, dict]:
    """Peak memory of each implementation, each in a fresh Python process."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        data_file = bt.save_split(data, folder)
        for name in names:
            argv = ["--memory-probe", name, "--data-file", data_file, "--batch-sizes",
                    str(batch_size), "--seed", str(seed), "--threads", str(threads),
                    "--device", device]
            try:
                out[name] = bt.in_fresh_process(__file__, argv)
            except RuntimeError as error:
                print(f"memory probe of {name} failed: {error}", file=sys.stderr)
                out[name] = {"peak_rss_mb": None}
    return out


# ---- output ------------------------------------------------------------------------------------


def versions(peers: dict) -> dict[str, str]:
    found = {"deepfm_lite": getattr(dl, "__version__", "")}
    for name in ("torchfm", "deepctr_torch"):
        if name in peers:
            try:
                from importlib.metadata import version

                found[name] = version(name.replace("_", "-"))
            except Exception:  # noqa: BLE001  (a version string is only decoration)
                found[name] = getattr(peers[name], "__version__", "")
    return found


def to_json(results, memory, batch_sizes, names, data, args, found_versions) -> dict:
    """One object keyed by implementation; its top-level rates are at the first batch size."""
    out = {}
    for name in names:
        first = results[name][batch_sizes[0]]
        out[name] = {
            "train_samples_per_s": first["train_samples_per_s"],
            "infer_samples_per_s": first["infer_samples_per_s"],
            "auc": first["auc"], "logloss": first["logloss"],
            "peak_rss_mb": memory.get(name, {}).get("peak_rss_mb"),
            "batch_size": batch_sizes[0], "version": found_versions.get(name, ""),
            "train_rows": len(data.train), "threads": args.threads, "device": args.device,
            "by_batch_size": {str(b): results[name][b] for b in batch_sizes},
        }
    return out


def print_table(results, memory, batch_sizes, names, header, machine, found_versions) -> None:
    print(header)
    print(f"machine: {machine['cpu']}, {machine['cores']} cores ({machine['cpu_capability']}), "
          f"torch {machine['torch']}, {machine['threads']} threads, load average "
          f"{machine['load_average_1min']:.1f} at the start")
    print("versions: " + ", ".join(f"{LABELS[n]} {found_versions.get(n, '')}".strip()
                                   for n in names))
    print()
    print(f"{'implementation':<15}{'batch':>6}  {'train samples/s (min-max)':<26}{'x':>6}  "
          f"{'infer samples/s (min-max)':<27}{'x':>6} {'AUC':>7} {'LogLoss':>8} {'peak MB':>8}")
    for batch_size in batch_sizes:
        base = results["deepfm_lite"][batch_size]
        for name in names:
            row = results[name][batch_size]
            train = (f"{bt.format_rate(row['train_samples_per_s'])} "
                     f"({bt.format_rate(row['train_min'])}-{bt.format_rate(row['train_max'])})")
            infer = (f"{bt.format_rate(row['infer_samples_per_s'])} "
                     f"({bt.format_rate(row['infer_min'])}-{bt.format_rate(row['infer_max'])})")
            train_x = row["train_samples_per_s"] / base["train_samples_per_s"]
            infer_x = row["infer_samples_per_s"] / base["infer_samples_per_s"]
            peak = memory.get(name, {}).get("peak_rss_mb") if batch_size == batch_sizes[0] \
                else None
            peak_text = f"{peak:.0f}" if peak is not None else "-"
            print(f"{LABELS[name]:<15}{batch_size:>6}  {train:<26}{train_x:>6.2f}  {infer:<27}"
                  f"{infer_x:>6.2f} {row['auc']:>7.4f} {row['logloss']:>8.4f} {peak_text:>8}")
    print()
    print("x: samples/s relative to deepfm_lite at the same batch size. peak MB: peak resident "
          f"memory of a fresh process that trains one epoch at batch {batch_sizes[0]} and "
          "predicts.")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bt.add_run_arguments(parser, "runs per library and batch size")
    parser.add_argument("--only", default=",".join(IMPLEMENTATIONS),
                        help="comma-separated subset of " + ", ".join(IMPLEMENTATIONS))
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory runs in fresh processes")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    parser.add_argument("--run", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    bt.check_run_arguments(parser, args)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(IMPLEMENTATIONS))
    if unknown or "deepfm_lite" not in args.only:
        parser.error(f"--only takes names from {', '.join(IMPLEMENTATIONS)} and must include "
                     f"deepfm_lite (the reference of the ratios); got {', '.join(args.only)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, args.data_file, args.batch_sizes[0],
                                      args.seed, args.threads, args.device)))
        return 0
    if args.run:  # one timed run in a fresh process, started by compare()
        print(json.dumps(run_worker(args.run, args.data_file, args.batch_sizes[0], args.seed,
                                    args.threads, args.device)))
        return 0
    torch.set_num_threads(args.threads)
    peers, messages, attempts = load_peers(args.only)
    for message in messages:
        print(message, file=sys.stderr)
    names = [n for n in args.only if n == "deepfm_lite" or n in peers]
    machine = bt.machine_info(args.threads)
    dataset, data = bt.load_data(args.rows, args.seed)
    results, blocked = compare(names, data, args.batch_sizes, args.reps, args.seed, args.device,
                               args.threads)
    if attempts or blocked:
        print(f"blocked {len(attempts) + blocked} network attempt(s) while the peers loaded",
              file=sys.stderr)
    memory = {} if args.no_memory else measure_memory(names, data, args.batch_sizes[0],
                                                      args.seed, args.threads, args.device)
    found_versions = versions(peers)
    bt.emit_json(to_json(results, memory, args.batch_sizes, names, data, args, found_versions),
                 args)
    if args.json:
        return 0
    header = (f"DeepFM k={bt.CONFIG['embed_dim']}, MLP "
              f"{'-'.join(map(str, bt.CONFIG['hidden']))} relu, dropout {bt.CONFIG['dropout']}, "
              f"Adam {bt.CONFIG['lr']:g}; {len(data.train):,} {dataset} training rows "
              f"({len(data.field_dims)} fields, a table of {sum(data.field_dims):,} rows), "
              f"{args.reps} interleaved runs of one epoch each, each in a fresh process, device "
              f"{args.device}")
    print_table(results, memory, args.batch_sizes, names, header, machine, found_versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
