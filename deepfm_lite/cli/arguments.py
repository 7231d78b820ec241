"""Checks the command line makes before it loads data or trains: each failure is one line.

Every check raises :class:`UsageError` with a message that names the argument (``--lr``,
``--save``, ``--embed-dim``, ...) or the file at fault, so ``python -m deepfm_lite`` can print it
as one line and exit with code 2, and a long run is never thrown away at its end for something
that could have been seen at its start.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data import estimate_generated_bytes
from ..data.sources import check_gzip_header, not_regular_message
from ..models import MODELS
from .errors import UsageError


# ---- argument types (argparse calls these; their errors read "argument --x: ...") ------------
def name_list(text: str) -> list[str]:
    """Comma-separated column names: ``city,app``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def finite_float(text: str) -> float:
    """A finite number: ``nan`` and ``inf`` are refused where they are typed."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_list(text: str) -> list[int]:
    """Comma-separated positive layer sizes: ``400,400,400``."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def _int_at_least(text: str, low: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


# Seeds numpy's legacy generator and torch take alike: 0 to 2**32 - 1 (np.random.seed refuses
# more, torch.manual_seed wraps negative ones).
MAX_SEED = 2**32 - 1
SEED_RANGE = f"an integer from 0 to {MAX_SEED} (2**32 - 1)"


def seed_int(text: str) -> int:
    """A seed (``--seed``): an integer from 0 to :data:`MAX_SEED`."""
    return _seed(text, text)


def _seed(part: str, text: str) -> int:
    try:
        value = int(part)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        shown = repr(text) if part == text else f"{part.strip()!r} in {text!r}"
        raise argparse.ArgumentTypeError(f"a seed must be {SEED_RANGE}, got {shown}")
    return value


def seed_list(text: str) -> list[int]:
    """Comma-separated seeds: ``0,1,2``, each from 0 to :data:`MAX_SEED`."""
    seeds = [_seed(part, text) for part in text.split(",") if part.strip()]
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return seeds


def device_kinds() -> list[str]:
    """The ``--device`` spellings this PyTorch knows: auto, cpu, cuda, cuda:N (and mps)."""
    kinds = ["auto", "cpu", "cuda", "cuda:N"]
    if getattr(torch.backends, "mps", None) is not None:
        kinds.append("mps")
    return kinds


def device_name(text: str) -> str:
    """A ``--device`` spelling from :func:`device_kinds` (whether it is present is checked later
    by :func:`require_device`)."""
    name = text.strip().lower()
    allowed = "mps|" if "mps" in device_kinds() else ""
    if not re.fullmatch(rf"auto|cpu|{allowed}cuda(:\d+)?", name):
        raise argparse.ArgumentTypeError(f"expected {', '.join(device_kinds())}, got {text!r}")
    return name


def require_device(device: str) -> None:
    """Refuse a ``--device`` this machine does not have, in one line."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: PyTorch sees no CUDA GPU on this machine "
                             "(torch.cuda.is_available() is False); use --device cpu or auto")
        index = int(device.partition(":")[2] or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise UsageError(f"--device {device}: this machine has {count} CUDA device(s), "
                             f"cuda:0 to cuda:{count - 1}")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps: PyTorch sees no Apple GPU (torch.backends.mps."
                         "is_available() is False); use --device cpu or auto")


def resolved_device(device: str) -> str:
    """``auto`` made concrete, as training resolves it."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# ---- files -------------------------------------------------------------------------------------
def check_input_file(path: str | os.PathLike, argument: str) -> Path:
    """Refuse a missing, directory, unreadable or empty input file, naming it.

    Only a regular file is opened and looked at. A pipe (a named pipe, or a process
    substitution such as ``<(cat f)``, a ``/dev/fd`` path), a device or a socket is refused
    without being opened or read: opening a named pipe blocks until something writes to it, a
    byte read from a stream to look at it is lost to the reader after, and every command reads
    its input more than once (save the stream to a file). A file named ``.gz`` must begin as
    gzip does.
    """
    source = Path(path)
    try:
        status = os.stat(source)
    except FileNotFoundError:
        raise UsageError(f"{argument} {source}: no such file") from None
    except OSError as error:
        raise UsageError(f"{argument} {source}: cannot be read ({error.strerror})") from None
    if stat.S_ISDIR(status.st_mode):
        raise UsageError(f"{argument} {source}: is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"{argument} {not_regular_message(source, status.st_mode)}")
    try:
        with source.open("rb") as handle:  # a regular file: opening it never blocks
            first = handle.read(1)
    except OSError as error:
        raise UsageError(f"{argument} {source}: cannot be read ({error.strerror})") from None
    if not first:
        raise UsageError(f"{argument} {source}: the file is empty (0 bytes)")
    try:
        check_gzip_header(source)
    except ValueError as error:
        raise UsageError(f"{argument} {error}") from None
    return source


def check_output_file(path: str | os.PathLike, argument: str, example: str = "model.pt") -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    The target must not be a directory; its folder (created if missing, as the writers do) must
    lie under an existing, writable directory, not under a file.
    """
    target = Path(path)
    if target.is_symlink() and not target.exists():
        raise UsageError(f"{argument} {target}: is a symbolic link to {os.readlink(target)}, "
                         "which does not exist")
    if str(path).endswith(("/", os.sep)) or target.is_dir():
        raise UsageError(f"{argument} {target}: is a directory; give a file path such as "
                         f"{target / example}")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{argument} {target}: {folder} is a file, not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{argument} {target}: cannot write in {folder} (permission denied)")
    return target


def overwrites(output: str | os.PathLike, source: str | os.PathLike) -> bool:
    """Whether writing ``output`` would destroy ``source``: the same file (by path, link or
    ``os.path.samefile``), or a path inside the folder ``source``."""
    output, source = Path(output), Path(source)
    if not source.exists():
        return False
    if output.exists() and os.path.samefile(output, source):
        return True
    resolved = output.resolve()
    return source.is_dir() and resolved.is_relative_to(source.resolve())


def check_outputs_spare_inputs(outputs: dict[str, str | os.PathLike | None],
                               inputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse, before any work, an output that is one of the inputs or lies inside one.

    ``outputs`` and ``inputs`` map an argument (``--out``) to its path (None when not given).
    """
    for out_argument, output in outputs.items():
        for in_argument, source in inputs.items():
            if output is not None and source is not None and overwrites(output, source):
                where = "is" if Path(source).is_file() else "lies inside"
                raise UsageError(f"{out_argument} {output}: {where} the input {in_argument} "
                                 f"{source}; writing it would destroy the input (choose another "
                                 "path)")


# ---- memory ------------------------------------------------------------------------------------
# Copies of the weights training holds: the weights, their gradients, Adam's two moments and
# the best epoch's copy kept for early stopping.
WEIGHT_COPIES = 5
# Copies of a batch's activations alive at once: forward outputs, dropout masks and gradients.
ACTIVATION_COPIES = 4
FLOAT_BYTES = 4


def available_memory() -> int | None:
    """Bytes of memory this process can still take: MemAvailable, capped by a cgroup's limit.

    None where neither can be read (the memory checks are then skipped).
    """
    limits = [value for value in (_meminfo_available(), _cgroup_room()) if value is not None]
    if not limits:
        try:
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(limits)


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return None if limit == "max" else max(0, int(limit) - int(used))
    except (OSError, ValueError):
        return None


def device_memory(device: str) -> int | None:
    """Free bytes on a CUDA device; None for the CPU (see :func:`available_memory`)."""
    if not device.startswith("cuda"):
        return None
    try:
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    except (RuntimeError, AssertionError):
        return None


def format_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KB``: decimal units, three significant figures."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _takes(model: str, argument: str) -> bool:
    parameters = inspect.signature(MODELS[model].__init__).parameters
    return argument in parameters


def model_memory(model: str, field_dims: Sequence[int], embed_dim: int, hidden: Sequence[int],
                 batch_size: int, train_rows: int) -> dict[str, int]:
    """Bytes training ``model`` takes, by what sets each part (an estimate of the model built).

    ``--embed-dim``: the embedding table (one row per feature id, ``embed_dim`` wide) and the
    order-1 weights; for a model without embeddings (LR) the part is ``feature ids`` instead:
    its table is ``field_dims`` x 1, which no ``--embed-dim`` changes, only the number of ids
    (the data, its ``--hash-buckets`` or ``--min-count``). ``--hidden``: the MLP's weights (the
    first layer fed by fields x embed_dim; 0 for a model without an MLP). Weights count
    :data:`WEIGHT_COPIES` times; each part adds its activations for one batch (``batch_size``
    rows, at most the training rows). Product layers (PNN) and other extras are left out, so
    the estimate errs low: it refuses only what cannot fit.
    """
    ids, fields = sum(int(d) for d in field_dims), len(field_dims)
    embedded = _takes(model, "embed_dim")
    width = embed_dim if embedded else 0
    sizes = [int(size) for size in hidden] if _takes(model, "hidden") else []
    mlp, inputs = 0, fields * width
    for size in sizes:
        mlp += inputs * size + size
        inputs = size
    mlp += inputs + 1 if sizes else 0
    rows = min(batch_size, max(train_rows, 1)) * ACTIVATION_COPIES
    table = (ids * (width + 1) * WEIGHT_COPIES + rows * fields * (width + 1)) * FLOAT_BYTES
    return {"--embed-dim" if embedded else "feature ids": table,
            "--hidden": (mlp * WEIGHT_COPIES + rows * sum(sizes)) * FLOAT_BYTES}


def _data_argument(args: argparse.Namespace) -> str:
    """The argument that brought the data (and so the feature ids): --prepared, --data or
    --dataset."""
    for option in ("prepared", "data"):
        if getattr(args, option, None):
            return f"--{option} {getattr(args, option)}"
    return f"--dataset {getattr(args, 'dataset', None) or 'appstore'}"


def check_model_memory(args: argparse.Namespace, field_dims: Sequence[int],
                       train_rows: int) -> None:
    """Refuse a model that cannot fit in the memory of ``args.device``, naming the argument
    that sets the largest part (for LR, whose table has one weight per id, the data)."""
    parts = model_memory(args.model, field_dims, args.embed_dim, args.hidden, args.batch_size,
                         train_rows)
    device = resolved_device(args.device)
    available = device_memory(device) if device.startswith("cuda") else available_memory()
    need = sum(parts.values())
    if available is None or need <= available:
        return
    hint = ""
    if "feature ids" in parts and parts["feature ids"] >= parts["--hidden"]:
        argument = _data_argument(args)
        what = (f"the weights of its {sum(field_dims):,} feature ids ({args.model} has no "
                "embeddings: one weight per id")
        hint = "; fewer ids: prepare with fewer --hash-buckets or a larger --min-count"
    elif "--embed-dim" in parts and parts["--embed-dim"] >= parts["--hidden"]:
        argument = f"--embed-dim {args.embed_dim}"
        what = f"the embeddings ({sum(field_dims):,} feature ids x {args.embed_dim:,} dims"
    else:
        argument = f"--hidden {','.join(map(str, args.hidden))}"
        what = "the MLP (its layers of " + " x ".join(f"{size:,}" for size in args.hidden)
    share = max(parts.values())
    place = "on " + device if device.startswith("cuda") else "of memory"
    raise UsageError(f"{argument}: training {args.model} needs about {format_bytes(need)} "
                     f"{place}, {format_bytes(share)} of it for {what}, with gradients, Adam's "
                     f"state and a batch's activations) but {format_bytes(available)} is "
                     f"available{hint}")


def check_generated_memory(dataset: str, rows: int) -> None:
    """Refuse ``--rows`` that cannot be generated and encoded in the memory left."""
    need = estimate_generated_bytes(dataset, rows)
    available = available_memory()
    if available is not None and need > available:
        raise UsageError(f"--rows {rows}: generating, encoding and training on {rows:,} "
                         f"{dataset} rows needs about {format_bytes(need)} of memory but "
                         f"{format_bytes(available)} is available")
