"""Data-parallel training on several processes: PyTorch's ``torchrun`` plus DistributedDataParallel.

``torchrun --standalone --nproc-per-node=2 -m deepfm_lite train --prepared DIR`` starts two
processes (ranks). Each holds a whole copy of the model and trains it on its share of every
batch; after each backward pass DDP averages the gradients over the ranks (an all-reduce), so
every rank takes the same Adam step and the copies stay equal.

* :func:`start` reads torchrun's RANK / WORLD_SIZE / LOCAL_RANK, picks the device (GPU
  ``cuda:LOCAL_RANK`` with NCCL, or the CPU with gloo) and joins the process group; it returns
  ``None`` when torchrun did not start this process, and refuses those variables without
  torchrun's own (a run would wait for peers that never come). :func:`stop` leaves the group
  (also run at exit, so an error leaves no group behind); :func:`session` is the two as a
  ``with`` block; :func:`exit_process` ends a rank without the interpreter's teardown.
* Nothing waits forever: a collective fails after ``timeout_s`` (``train --timeout``, default
  :data:`~deepfm_lite.training.peers.COLLECTIVE_TIMEOUT_S` s, not torch's 30 minutes), and a
  failed collective becomes a :class:`~deepfm_lite.training.peers.PeerLostError` naming the rank
  that stopped answering (frozen, killed, or behind), read from the ranks' heartbeats
  (deepfm_lite.training.peers).
* :func:`fit_distributed` is :func:`deepfm_lite.fit` for one rank. Every rank draws the same
  permutation (one seed) and cuts the same global batches of ``batch_size x world_size`` rows;
  rank r trains on the r-th block of each, and reads only those rows from the (memory-mapped)
  arrays while it trains (the data check before training reads them all). With dropout off,
  2 ranks at ``batch_size`` B reach the model 1 process reaches at 2B, up to float32 rounding
  (tests/test_distributed.py).
* :func:`evaluate_distributed` scores each rank's block of rows and gathers the scores.

Why AUC is computed on the gathered scores: AUC ranks all rows against each other, so the mean
of the ranks' AUCs is not the AUC of the whole split. Every rank gathers every score (4 bytes a
row) and computes the same AUC and LogLoss; every rank then takes the same early-stopping
decision without a further message (a rank that stopped alone would leave the others waiting).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import NoReturn

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .. import settings
from ..data import EncodedData
from .gpu import amp_dtype, autocast, grad_scaler, to_device
from .inference import batch_slices, check_data, logits_of_checked
from .loop import (
    EarlyStopping,
    check_fit_arguments,
    diverged_error,
    make_adam,
    pretrain,
    seed_everything,
)
from .metrics import auc, logloss
from .peers import COLLECTIVE_TIMEOUT_S, PeerLostError, PeerWatch, lost_peers_named

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# What torchrun sets besides (torch 2.13, measured): its run id, and where its store listens.
# Without them, the three above are left over from something else.
LAUNCHER_VARIABLES = ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT")
_WATCHES: list[PeerWatch] = []  # this process's heartbeat, stopped by stop()


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the group: its ``rank`` of ``world_size``, its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    timeout_s: float = COLLECTIVE_TIMEOUT_S
    watch: PeerWatch | None = field(default=None, compare=False, repr=False)

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints the report and saves the model."""
        return self.rank == 0


def launched_by_torchrun(environ: dict | None = None) -> bool:
    """True when torchrun started this process: RANK, WORLD_SIZE and LOCAL_RANK are set, and
    so are the launcher's own TORCHELASTIC_RUN_ID, MASTER_ADDR and MASTER_PORT."""
    environ = os.environ if environ is None else environ
    return all(name in environ for name in TORCHRUN_VARIABLES + LAUNCHER_VARIABLES)


def check_launch(environ: dict | None = None) -> bool:
    """Whether torchrun started this process; raises ``ValueError`` for its rank variables
    without the launcher (left over in a shell): one process would wait for peers forever."""
    environ = os.environ if environ is None else environ
    stray = [name for name in TORCHRUN_VARIABLES if name in environ]
    if not stray or launched_by_torchrun(environ):
        return bool(stray)
    missing = [n for n in TORCHRUN_VARIABLES + LAUNCHER_VARIABLES if n not in environ]
    raise ValueError(f"{_and([f'{n}={environ[n]}' for n in stray])} "
                     f"{'is' if len(stray) == 1 else 'are'} set but torchrun did not start this "
                     f"process ({_and(missing, 'or')} not set): it would wait for peers that "
                     f"never come; unset {_and(stray)}, or start the run with torchrun")


def _and(words: list[str], last: str = "and") -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {last} {words[-1]}"


def process_device(device: str, local_rank: int) -> torch.device:
    """The device of the process with ``local_rank`` on its machine, for ``--device``.

    ``auto`` and ``cuda`` give one GPU per process, ``cuda:LOCAL_RANK`` (start as many
    processes per machine as it has GPUs); ``cpu`` the CPU. Raises ``ValueError`` otherwise.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: PyTorch sees no CUDA GPU on this machine; use "
                             "--device cpu or auto")
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"local rank {local_rank} has no GPU of its own: this machine has "
                             f"{torch.cuda.device_count()}; start at most that many processes "
                             "per node (--nproc-per-node)")
        return torch.device("cuda", local_rank)
    raise ValueError(f"--device {device}: under torchrun use cpu, cuda or auto (each process "
                     "then takes the GPU of its local rank, cuda:LOCAL_RANK)")


def start(device: str = "auto", environ: dict | None = None,
          timeout_s: float = COLLECTIVE_TIMEOUT_S) -> DistributedContext | None:
    """Join torchrun's process group; ``None`` when torchrun did not start this process.

    gloo on the CPU, NCCL on CUDA GPUs. A collective (and joining the group) that waits longer
    than ``timeout_s`` seconds for a rank fails; :func:`fit_distributed` and
    :func:`evaluate_distributed` then name that rank. The group is left at exit (:func:`stop`)
    whatever happens, so a run that fails leaves no half-open connection behind. Raises
    ``ValueError`` for torchrun's rank variables without torchrun (:func:`check_launch`).
    """
    environ = os.environ if environ is None else environ
    if not check_launch(environ):
        return None
    if not timeout_s > 0:
        raise ValueError(f"the collective timeout must be positive, got {timeout_s} s")
    rank, world_size, local_rank = (int(environ[name]) for name in TORCHRUN_VARIABLES)
    target = process_device(device, local_rank)
    backend = "nccl" if target.type == "cuda" else "gloo"
    if target.type == "cuda":
        torch.cuda.set_device(target)
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend, rank=rank, world_size=world_size,
                                    timeout=timedelta(seconds=timeout_s),
                                    device_id=target if target.type == "cuda" else None)
        except dist.DistError as error:  # a rank that never came, or no store to meet at
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise PeerLostError(
                f"not every rank joined the process group within the {timeout_s:g} s timeout: "
                f"{first}" if "timeout" in first.lower() or "timed out" in first.lower()
                else f"could not join torchrun's process group: {first}") from error
        atexit.register(stop)
        namespace = (f"deepfm_lite/{environ['TORCHELASTIC_RUN_ID']}/"
                     f"{environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/")
        _WATCHES.append(PeerWatch(rank, world_size, timeout_s, environ["MASTER_ADDR"],
                                  int(environ["MASTER_PORT"]), namespace))
    watch = _WATCHES[-1] if _WATCHES else None
    return DistributedContext(rank, world_size, local_rank, target, backend, timeout_s, watch)


def stop() -> None:
    """Leave the process group, if this process is in one (safe to call twice)."""
    while _WATCHES:
        _WATCHES.pop().close()
    if dist.is_initialized():
        dist.destroy_process_group()


def exit_process(code: int) -> NoReturn:
    """End the process with exit code ``code``; what ``python -m deepfm_lite`` ends with.

    A process in torchrun's group leaves it (:func:`stop`), flushes its output and ends at once
    (``os._exit``), skipping the interpreter's teardown. Once a DDP model has been built, gloo's
    threads are still running after ``destroy_process_group`` (seen with torch 2.13, even with
    the model deleted), and the teardown then aborted the process now and then ("terminate
    called without an active exception", about one two-rank run in fifty on a 2-core machine,
    after the report was printed and the model saved).
    """
    if dist.is_available() and dist.is_initialized():
        stop()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


@contextlib.contextmanager
def session(device: str = "auto"):
    """``with session() as context:``: :func:`start`, then :func:`stop` at the end or on error."""
    try:
        yield start(device)
    finally:
        stop()


def silence_other_ranks(context: DistributedContext | None) -> None:
    """Send the standard output of every rank but 0 to ``os.devnull``; errors still show.

    Every rank computes the same report; one copy is enough.
    """
    if context is not None and not context.is_main:
        sys.stdout = open(os.devnull, "w")  # kept open until the process ends


def rank_block(rows: int, context: DistributedContext) -> slice:
    """The rows ``[start, stop)`` that are this rank's block of ``rows`` (blocks differ by <= 1)."""
    bounds = [rows * r // context.world_size for r in range(context.world_size + 1)]
    return slice(bounds[context.rank], bounds[context.rank + 1])


def _entered(context: DistributedContext) -> None:
    """Count a collective in the heartbeat (which rank is behind, if one times out)."""
    if context.watch is not None:
        context.watch.entered()


def _all_reduce(context: DistributedContext, tensor: torch.Tensor,
                op=dist.ReduceOp.SUM) -> torch.Tensor:
    _entered(context)
    dist.all_reduce(tensor, op=op)
    return tensor


def gather_logits(model: nn.Module, data: EncodedData,
                  context: DistributedContext) -> torch.Tensor:
    """Logits of every row of ``data`` (in row order, on the CPU), each rank scoring its block."""
    block = rank_block(len(data), context)
    mine = (logits_of_checked(model, data.subset(block), None) if block.stop > block.start
            else torch.zeros(0))
    longest = math.ceil(len(data) / context.world_size)  # all_gather wants equal sizes: pad
    padded = torch.zeros(longest, device=context.device)
    padded[:len(mine)] = mine.to(context.device)
    parts = [torch.empty_like(padded) for _ in range(context.world_size)]
    _entered(context)
    dist.all_gather(parts, padded)
    sizes = [rank_block(len(data), _as_rank(context, r)) for r in range(context.world_size)]
    return torch.cat([part[:s.stop - s.start] for part, s in zip(parts, sizes)]).cpu()


def _as_rank(context: DistributedContext, rank: int) -> DistributedContext:
    return replace(context, rank=rank)


def _gathered_scores(model: nn.Module, data: EncodedData,
                     context: DistributedContext) -> dict[str, float]:
    probs = torch.sigmoid(gather_logits(model, data, context)).numpy().astype(np.float64)
    labels = data.labels.numpy()
    return {"auc": auc(labels, probs), "logloss": logloss(labels, probs)}


def evaluate_distributed(model: nn.Module, data: EncodedData,
                         context: DistributedContext) -> dict[str, float]:
    """AUC and LogLoss of ``model`` on all of ``data``: the same dict on every rank.

    Raises :class:`~deepfm_lite.training.peers.PeerLostError` naming the rank that stopped
    answering if a collective fails.
    """
    check_data("data", data, model, need_labels=True)
    with lost_peers_named(context.watch):
        return _gathered_scores(model, data, context)


def fit_distributed(model: nn.Module, train: EncodedData, valid: EncodedData | None,
                    context: DistributedContext, *, epochs: int = 3, batch_size: int = 1024,
                    lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0,
                    patience: int | None = None, progress: bool | None = None,
                    amp: str | None = None) -> pd.DataFrame:
    """:func:`deepfm_lite.fit` for one rank of ``context``; every rank calls it with the same
    arguments and ends with the same weights and the same history.

    ``batch_size`` is per rank: each step trains on ``batch_size x world_size`` rows. The
    history's ``train_loss`` is the mean over all ranks' rows, its ``valid_*`` are computed on
    the whole validation split, ``seconds`` is the slowest rank's and ``samples_per_s`` counts
    the rows of all ranks. Each rank checks the data (one pass over it, as ``fit`` does).

    A collective that fails (a rank frozen past the context's timeout, killed, or behind)
    raises :class:`~deepfm_lite.training.peers.PeerLostError` naming that rank.
    """
    check_fit_arguments(model, train, valid, epochs, batch_size, lr, weight_decay, patience)
    with lost_peers_named(context.watch):
        return _fit_ranks(model, train, valid, context, epochs=epochs, batch_size=batch_size,
                          lr=lr, weight_decay=weight_decay, seed=seed, patience=patience,
                          progress=progress, amp=amp)


def _fit_ranks(model: nn.Module, train: EncodedData, valid: EncodedData | None,
               context: DistributedContext, *, epochs: int, batch_size: int, lr: float,
               weight_decay: float, seed: int, patience: int | None, progress: bool | None,
               amp: str | None) -> pd.DataFrame:
    device, world = context.device, context.world_size
    precision = amp_dtype(amp, device)
    scaler = grad_scaler(precision, device)
    show = context.is_main and (settings.progress if progress is None else progress)
    model.to(device)
    seed_everything(seed)
    shuffler = torch.Generator().manual_seed(seed)  # the same permutations on every rank
    begin = time.perf_counter()  # FNN's pre-training: each rank alike; DDP syncs below
    pretrain(model, train, batch_size=batch_size, lr=lr, seed=seed, device=device)
    pretrain_seconds = time.perf_counter() - begin
    # DDP copies rank 0's weights to every rank here, then all-reduces every gradient after
    # each backward pass. gather_rows (deepfm_lite.layers.fast) gives the embedding table a DENSE
    # gradient: a [features, k] tensor that is zero except the batch's rows. DDP sends all of
    # it, every step: with Criteo's ~1M feature ids and k=10 that is 40 MB per step, against
    # ~1 MB for the whole 400-400-400 tower, and the same every step however few rows the
    # batch touched. Sparse gradients would send only the touched rows, but fused Adam takes
    # dense ones only; at full scale the field shards the tables across ranks instead
    # (torchrec's model parallelism). gradient_as_bucket_view saves one copy of the gradients.
    _entered(context)  # DDP broadcasts rank 0's weights
    parallel = DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None,
        gradient_as_bucket_view=True)
    torch.manual_seed(seed + 1_000_003 * context.rank)  # each rank its own dropout masks
    optimizer = make_adam(model.parameters(), lr=lr, weight_decay=weight_decay)  # fused Adam
    global_batch = batch_size * world
    history, stopping = [], EarlyStopping(patience)


    for epoch in range(1, epochs + 1):
        model.train()
        begin = time.perf_counter()
        order = torch.randperm(len(train), generator=shuffler)
        parts = list(batch_slices(len(train), global_batch))
        total_loss = torch.zeros((), device=device)
        step_losses = []
        bar = settings.progress_bar(parts, disable=not show, desc=f"epoch {epoch}/{epochs}",
                                    leave=False)
        for part in bar:
            rows = order[part]
            mine = rows[rank_block(len(rows), context)]  # this rank's block of the batch
            share = _step(parallel, optimizer, scaler, precision, train, mine, len(rows),
                          context)
            step_losses.append(share)
            total_loss += share * len(rows)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - begin + (pretrain_seconds if epoch == 1 else 0.0)
        seconds = float(_all_reduce(context, torch.tensor(seconds, device=device),
                                    dist.ReduceOp.MAX))
        train_loss = float(_all_reduce(context, total_loss)) / len(train)
        if not math.isfinite(train_loss):  # the same on every rank: all raise together
            raise diverged_error(epoch, list(_all_reduce(context, torch.stack(step_losses))),
                                 parts, lr)
        row = {"epoch": epoch, "train_loss": train_loss, "valid_auc": np.nan,
               "valid_logloss": np.nan, "seconds": seconds, "samples_per_s": len(train) / seconds}
        if valid is not None:
            scores = _gathered_scores(model, valid, context)
            row["valid_auc"], row["valid_logloss"] = scores["auc"], scores["logloss"]
        history.append(row)
        if stopping.should_stop(model, row["valid_auc"]):
            break
    del parallel  # drops DDP's gradient hooks; the model trains alone again if asked to
    stopping.restore_best(model)
    return pd.DataFrame(history)


def _step(parallel: DistributedDataParallel, optimizer, scaler, precision, train: EncodedData,
          mine: torch.Tensor, batch_rows: int, context: DistributedContext) -> torch.Tensor:
    """One step on this rank's rows ``mine`` of a global batch of ``batch_rows`` rows.

    Returns this rank's share of the batch's mean loss, ``sum of its rows' losses /
    batch_rows``; the shares of all ranks add up to the mean. DDP averages the ranks'
    gradients (divides their sum by ``world``), so each rank backpropagates ``world x share``:
    the average is then the gradient of the batch's mean loss, as one process would compute
    it, even when the last batch's blocks differ in size (or one is empty).
    """
    world, device = context.world_size, context.device
    ids, values, labels = (to_device(t[mine], device)
                           for t in (train.ids, train.values, train.labels))
    _entered(context)  # DDP's forward broadcasts the buffers (BatchNorm's statistics)
    with autocast(precision, device):
        logits = parallel(ids, values)
    share = F.binary_cross_entropy_with_logits(logits.float(), labels.float(),
                                               reduction="sum") / batch_rows
    optimizer.zero_grad(set_to_none=True)
    _entered(context)  # the backward pass all-reduces the gradients
    scaler.scale(share * world).backward()
    scaler.step(optimizer)
    scaler.update()
    return share.detach()
