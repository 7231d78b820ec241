"""Training: :func:`fit`, Adam on BCE-with-logits over pre-encoded tensors.

Batches are gathered by slices of a permutation drawn once per epoch: no per-sample ``Dataset``
and no collate function, which is where per-sample loaders lose much of their time.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import settings
from ..data import EncodedData
from ..models import FactorizationMachine
from .gpu import amp_dtype, autocast, grad_scaler, to_device
from .inference import batch_slices, check_data, scores_of_checked


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite: the weights are ruined and training stopped.

    Raised by :func:`fit` with the first non-finite step: ``epoch`` (from 1), ``step`` (the
    batch within that epoch, from 1, out of ``steps``), the learning rate ``lr`` and the
    ``loss`` of that step. The message names all of them on one line. The model's weights are
    left as they were when the run stopped (non-finite); rebuild it to train again.
    """

    def __init__(self, epoch: int, step: int, steps: int, lr: float, loss: float):
        self.epoch, self.step, self.steps, self.lr, self.loss = epoch, step, steps, lr, loss
        super().__init__(f"training diverged: the loss became {loss} at epoch {epoch}, step "
                         f"{step} of {steps}, with learning rate lr={lr:g}; "
                         "try a smaller learning rate")

    def __reduce__(self):  # keep the fields when pickled (e.g. across processes)
        return type(self), (self.epoch, self.step, self.steps, self.lr, self.loss)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when a GPU is visible, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for CUDA but no GPU is available; "
                         "use device='auto' or 'cpu'")
    return resolved


def check_budget(epochs: int, batch_size: int, lr: float, weight_decay: float) -> None:
    """Refuse a training budget that cannot work, naming the argument."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not is_finite_number(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not is_finite_number(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")


def is_finite_number(value) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False


def check_fit_arguments(model: nn.Module, train: EncodedData, valid: EncodedData | None,
                        epochs: int, batch_size: int, lr: float, weight_decay: float,
                        patience: int | None) -> None:
    """Everything :func:`fit` (and ``distributed.fit_distributed``) refuses before training:
    the data (ids in range, finite values, labels in [0, 1]), the budget and ``patience``."""
    check_data("train", train, model, need_labels=True)
    if valid is not None:
        check_data("valid", valid, model, need_labels=True)
    check_budget(epochs, batch_size, lr, weight_decay)
    if patience is not None and (valid is None or patience < 1):
        raise ValueError("patience needs validation data and must be >= 1")


class EarlyStopping:
    """Early stopping on validation AUC: remembers the best epoch's weights and says when
    ``patience`` epochs in a row have not beaten it (``patience=None``: never stops)."""

    def __init__(self, patience: int | None):
        self.patience, self.best_auc, self.best_state, self.stale = patience, -1.0, None, 0

    def should_stop(self, model: nn.Module, valid_auc: float) -> bool:
        """Record one epoch's validation AUC; True when training should stop."""
        if self.patience is None:
            return False
        if valid_auc > self.best_auc:
            self.best_auc, self.stale = valid_auc, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        """Put the best epoch's weights back (nothing to do without early stopping)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def make_adam(params: Iterable[torch.nn.Parameter], lr: float,
              weight_decay: float = 0.0) -> torch.optim.Adam:
    """``torch.optim.Adam`` with the fused update where the parameters' device supports it.

    The fused kernel applies the same Adam update (same moments, bias correction and epsilon)
    in one pass per tensor instead of about ten; its float32 rounding differs from the loop
    implementation by about one unit in the last place per step, so runs are reproducible
    with it but not bit-identical to ``torch.optim.Adam(fused=False)``.

    Measured gain: the optimizer step alone takes 1.5 ms instead of 4.8 ms CPU time for DeepFM's
    817k parameters (a 30,842-row table; medians of 30 x 5 interleaved steps); for the whole
    training step with the 3,106-row table +3% (-1% to +9%) with two threads, +1.4% (-3% to
    +10%) with one (earlier session).
    """
    params = list(params)
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


def pretrain(model: nn.Module, train: EncodedData, *, batch_size: int, lr: float, seed: int,
             device: str | torch.device = "cpu") -> FactorizationMachine | None:
    """Pre-train an FM on ``train`` and copy its ``w`` and ``V`` into ``model`` (FNN's first stage).

    Does nothing and returns None for a model that needs no pre-training (every model but a
    fresh FNN): a second :func:`fit` of the same FNN continues training and keeps the learned
    embeddings. Otherwise returns the pre-trained FM, trained for ``model.pretrain_epochs``.
    """
    if not getattr(model, "needs_pretraining", False):
        return None
    torch.manual_seed(seed)
    fm = FactorizationMachine(model.field_dims, embed_dim=model.embedding.embed_dim)
    fit(fm, train, epochs=model.pretrain_epochs, batch_size=batch_size, lr=lr, seed=seed,
        device=device, progress=False)
    model.load_pretrained_fm(fm)
    return fm


def fit(model: nn.Module, train: EncodedData, valid: EncodedData | None = None, *,
        epochs: int = 3, batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0,
        seed: int = 0, device: str | torch.device = "auto", patience: int | None = None,
        progress: bool | None = None, amp: str | None = None,
        on_epoch: Callable[[dict], bool | None] | None = None) -> pd.DataFrame:
    """Train ``model`` with Adam on BCE-with-logits; return one history row per epoch.

    ``patience`` turns on early stopping on validation AUC: training stops after that many
    epochs without a better AUC, and the best epoch's weights are put back. The history has the
    columns ``epoch, train_loss, valid_auc, valid_logloss, seconds, samples_per_s``.

    ``train`` and ``valid`` are checked once, before training (ids within their fields' ranges,
    finite values, labels in [0, 1]): ``ValueError`` names the field and the row. A learning
    rate that is not a finite number > 0 raises ``ValueError`` naming ``lr``.

    ``amp`` (``"bf16"`` or ``"fp16"``, CUDA only; see :mod:`deepfm_lite.training.gpu`) runs the
    forward pass under ``torch.autocast``, with a loss scaler for fp16; the loss, the weights and
    the evaluation stay in float32. Without it (the default) the numbers are those of float32.

    ``on_epoch`` is called with a copy of each epoch's history row once the epoch is done and
    validated (a live plot draws from it); a true return value stops training there, that
    epoch kept (the playground's Stop button). It changes no number: without it, or with one
    that returns None, training is the same as before.

    If the training loss becomes NaN or infinite, :class:`TrainingDiverged` (a ``ValueError``)
    names the epoch, the first non-finite step and the learning rate. The loss is checked at
    the end of each epoch, from the sum the loop keeps anyway (no extra device sync per step);
    the step is then found among the epoch's step losses, which are kept on the device.
    """
    check_fit_arguments(model, train, valid, epochs, batch_size, lr, weight_decay, patience)
    show = settings.progress if progress is None else progress
    target = resolve_device(device)
    precision = amp_dtype(amp, target)  # None (float32): autocast and scaler then do nothing
    scaler = grad_scaler(precision, target)
    model.to(target)
    seed_everything(seed)
    shuffler = torch.Generator().manual_seed(seed)
    optimizer = make_adam(model.parameters(), lr=lr, weight_decay=weight_decay)  # fused Adam
    # The rows stay where they are (a GPU run streams each batch from host memory; put the data
    # on the GPU first, data.to("cuda"), to gather there instead).
    ids, values, labels = train.ids, train.values, train.labels
    history, stopping = [], EarlyStopping(patience)
    # A model may need work before its own training (FNN pre-trains an FM): that time is
    # training time too, so it is added to the first epoch's seconds.
    pretrain_seconds = 0.0
    start = time.perf_counter()
    pretrain(model, train, batch_size=batch_size, lr=lr, seed=seed, device=target)
    pretrain_seconds = time.perf_counter() - start

    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(train), generator=shuffler).to(ids.device)
        # Each batch is gathered by its slice of the permutation, never the whole shuffled
        # split: the same rows as slicing a shuffled copy (so the same numbers for a seed), but
        # arrays memory-mapped from disk (deepfm_lite.data.prepared) are never copied whole to RAM.
        total_loss = torch.zeros((), device=target)
        parts = list(batch_slices(len(train), batch_size))
        step_losses = []  # on the device: read only if the epoch's loss is not finite
        bar = settings.progress_bar(parts, disable=not show, desc=f"epoch {epoch}/{epochs}",
                                    leave=False)
        for part in bar:
            rows = order[part]
            # to_device: on a GPU, from pinned memory without blocking; on the CPU, nothing
            batch_ids, batch_values, batch_labels = (to_device(t[rows], target)
                                                     for t in (ids, values, labels))
            with autocast(precision, target):
                logits = model(batch_ids, batch_values)
            loss = F.binary_cross_entropy_with_logits(logits.float(), batch_labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # scale() returns loss itself unless fp16
            scaler.step(optimizer)  # optimizer.step(); skipped if fp16 gradients overflowed
            scaler.update()
            step_loss = loss.detach()
            step_losses.append(step_loss)
            total_loss += step_loss * (part.stop - part.start)
        if target.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start + (pretrain_seconds if epoch == 1 else 0.0)
        train_loss = float(total_loss) / len(train)
        if not math.isfinite(train_loss):
            raise diverged_error(epoch, step_losses, parts, lr)
        row = {"epoch": epoch, "train_loss": train_loss,
               "valid_auc": np.nan, "valid_logloss": np.nan, "seconds": seconds,
               "samples_per_s": len(train) / seconds}
        if valid is not None:
            scores = scores_of_checked(model, valid)
            row["valid_auc"], row["valid_logloss"] = scores["auc"], scores["logloss"]
        history.append(row)
        stop_asked = on_epoch is not None and bool(on_epoch(dict(row)))
        if stopping.should_stop(model, row["valid_auc"]) or stop_asked:
            break
    stopping.restore_best(model)
    return pd.DataFrame(history)


def diverged_error(epoch: int, step_losses: list[torch.Tensor], parts: list[slice],
              lr: float) -> TrainingDiverged:
    """The :class:`TrainingDiverged` for an epoch whose summed loss is not finite.

    The first bad step is the first whose loss is NaN or infinite, or, if every step's loss is
    finite but huge, the one at which the epoch's float32 sum overflowed to ``inf``.
    """
    losses = torch.stack(step_losses).double().cpu()
    sizes = torch.tensor([part.stop - part.start for part in parts], dtype=torch.float64)
    running = torch.cumsum(losses.nan_to_num(0.0) * sizes, 0)
    bad = ~torch.isfinite(losses) | (running > torch.finfo(torch.float32).max)
    index = int(bad.nonzero()[0, 0]) if bool(bad.any()) else len(parts) - 1
    loss = float(losses[index])
    return TrainingDiverged(epoch, index + 1, len(parts), lr,
                            loss if not math.isfinite(loss) else math.inf)
