"""The training speed-ups, one per function or class, each a drop-in for a plain PyTorch piece.

Each piece computes what its plain counterpart computes (tests/test_speedups.py checks that)
and is used by the layers and the fit loop, so a learner never has to call it directly:

* :class:`FastDropout` replaces ``nn.Dropout``: the same masks, drawn more cheaply;
* :func:`gather_rows` replaces ``F.embedding`` for the shared table and the order-1 weights:
  the same rows and the same gradient, with a cheaper backward pass on the CPU;
* :func:`make_adam` builds ``torch.optim.Adam`` with its fused (one-kernel) update;
* :func:`keep_freed_memory` lets the process reuse the memory of freed tensors instead of
  handing it back to the operating system after every batch (Linux).

How the gains were measured: ``python benchmarks/bench_train.py --ablation --threads 1 --clock
cpu --rounds 24`` on the issue's configuration (DeepFM, k=10, MLP 400-400-400, dropout 0.5, Adam
1e-3, batch 1024, 180k criteo-like rows, a 3,106-row table): a plain PyTorch DeepFM plus one
speed-up at a time, all variants in one process, alternating every 5 training steps, 24 rounds,
the process's CPU time per step, median of the per-round ratios (interquartile range in
brackets). Machine: 2-core AMD EPYC (AVX2), shared with other jobs (load ~10), one thread.
All three together: +26% (+20% to +38%), 10.1k -> 12.8k samples/s per core. Measured again
when the machine was nearly idle, with the default 2 threads and wall time (``--ablation
--rounds 20``): +55% (+45% to +67%), 17.7k -> 27.6k samples/s. The gains grow with threads
because a CPU dropout mask is drawn by one thread whatever the thread count.

Tried and left out, measured the same way: bfloat16 autocast (this CPU has AVX2 but no
AVX512-BF16: a 1024x400x400 bfloat16 matmul ran 7x slower than in float32); in-place ReLU
(+3%, interquartile range -7% to +10%: not told apart from noise); a fused ReLU-and-dropout
autograd function (+0%); masks from random bytes instead of float uniforms (no cheaper to
draw); one lookup for the vectors and the order-1 weights together (with :func:`gather_rows`
the order-1 lookup costs 0.2 ms per batch, less than concatenating the two tables would).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from . import settings


class FastDropout(nn.Dropout):
    """``nn.Dropout(p)`` with its mask drawn as ``uniform >= p`` instead of by ``bernoulli_``.

    In training mode every unit is kept with probability ``1 - p``, independently, and kept
    units are scaled by ``1 / (1 - p)``; in evaluation mode the input passes unchanged. That is
    exactly ``nn.Dropout``'s distribution: ``P(U >= p) = 1 - p`` for ``U`` uniform on [0, 1)
    (on float32's grid of 2^-24 steps, so exact for p = 0.5 and within 6e-8 for any p), and the
    kept values are bit-identical to ``nn.Dropout``'s.

    Measured gain: +16% (+12% to +22%) training samples/s for the whole DeepFM step with one
    thread, +28% (+27% to +35%) with two (see the module docstring). On a non-Intel CPU
    ``bernoulli_`` draws its numbers one by one with a per-element Bernoulli sampler, about
    twice the cost of a uniform draw plus a comparison; the 400-wide tower draws three masks
    of 400 x batch units per step.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        # Drawn in float32 whatever x's dtype: a bfloat16 uniform has only 256 steps.
        uniform = torch.rand(x.shape, device=x.device)
        # 1.0 where kept, then divided by 1 - p: the very scale nn.Dropout's mask carries.
        mask = uniform.ge_(self.p).div_(1.0 - self.p).to(x.dtype)
        return x.mul_(mask) if self.inplace else x * mask


class _GatherRows(torch.autograd.Function):
    """``table[index]`` whose backward adds each row's gradient into a zero table, in order."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.num_rows = table.shape[0]
        return table.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (index,) = ctx.saved_tensors
        grad_table = grad.new_zeros((ctx.num_rows, *grad.shape[1:]))
        return grad_table.index_add_(0, index, grad.contiguous()), None


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``table[index]`` for a 1-D ``index``: what ``F.embedding(index, table)`` computes.

    Works for a 2-D table (the latent vectors) and a 1-D one (the order-1 weights). On the CPU
    the gradient is accumulated with ``index_add_``, which adds the rows' gradients one index
    after another as ``F.embedding``'s backward does, so the sums, and hence same-seed training,
    stay bit-identical; ``F.embedding``'s CPU backward pays a per-index overhead that
    ``index_add_`` does not. On other devices ``index_add_`` would use atomic adds (an order
    that changes from run to run), so ``F.embedding`` is used there.

    Measured gain: +5.5% (-1% to +9%) training samples/s for the whole DeepFM step with one
    thread, +7% (0% to +10%) with two; alone, the
    table gradients of one 1024-row batch (vectors and order-1 weights) take 2.1 ms CPU time
    instead of 9.8 ms (micro-benchmark, medians of 15 x 10 calls). The gain grows with the
    share of the step the lookups take: more fields, smaller towers.
    """
    if table.device.type != "cpu":
        return F.embedding(index, table) if table.dim() == 2 else \
            F.embedding(index, table.unsqueeze(1)).squeeze(1)
    return _GatherRows.apply(table, index)


def make_adam(params: Iterable[torch.nn.Parameter], lr: float,
              weight_decay: float = 0.0) -> torch.optim.Adam:
    """``torch.optim.Adam`` with the fused update where the parameters' device supports it.

    The fused kernel applies the same Adam update (same moments, bias correction and epsilon)
    in one pass per tensor instead of about ten; its float32 rounding differs from the loop
    implementation by about one unit in the last place per step, so runs are reproducible
    with it but not bit-identical to ``torch.optim.Adam(fused=False)``.

    Measured gain: the optimizer step alone takes 1.5 ms instead of 4.8 ms CPU time for DeepFM's
    817k parameters (a 30,842-row table; medians of 30 x 5 interleaved steps); for the whole
    training step with the 3,106-row table +1.4% (-3% to +10%) with one thread, +5% (0% to
    +10%) with two.
    """
    params = list(params)
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


# glibc's mallopt parameters (malloc.h) and the values keep_freed_memory sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 64 << 20  # tensors up to 64 MiB come from the reusable heap
_TRIM_THRESHOLD_BYTES = 256 << 20  # up to 256 MiB of freed memory is kept for reuse
_freed_memory_kept: bool | None = None  # None: not tried yet


def keep_freed_memory() -> bool:
    """Let the process reuse freed tensor memory rather than return it to the OS; on by default.

    Every training step allocates the same tensors again (activations, dropout masks,
    gradients: 1.6 MB each for a 1024 x 400 layer, 13 MB at batch 8192). glibc's ``malloc``
    serves blocks this large with a fresh ``mmap`` and gives them back with ``munmap`` when
    they are freed, so the next batch touches brand-new pages: the kernel zero-fills each 4 KiB
    page on first touch, and a step spends more time in those page faults than in its ReLUs
    and dropout together. Raising glibc's thresholds (``mallopt``) keeps blocks up to 64 MiB in
    the heap and up to 256 MiB of freed memory in the process, so the second batch reuses the
    first one's pages: no page faults after the first step (tests/test_speedups.py counts them).
    The numbers computed are unchanged; the cost is that the process keeps the memory of its
    largest batch until it exits, as a GPU's caching allocator does.

    Measured gain: +20% training samples/s at batch 1024 and +38% inference samples/s at batch
    8192 for the benchmark's DeepFM with two threads (fresh processes, alternated, 5 each;
    19.1k -> 23.0k and 68k -> 94k samples/s, medians).

    It changes the whole process's allocator settings, which is why :func:`deepfm_lite.fit`
    and :func:`deepfm_lite.training.predict_logits` call it rather than ``import deepfm_lite``.
    Returns whether the setting is in effect: False where the C library is not glibc (macOS,
    Windows, musl), or when ``deepfm_lite.settings.keep_freed_memory`` is False (environment
    variable ``DEEPFM_LITE_KEEP_FREED_MEMORY=0``). Calling it again costs nothing.
    """
    global _freed_memory_kept
    if _freed_memory_kept is None and settings.keep_freed_memory:
        _freed_memory_kept = _set_glibc_thresholds()
    return bool(_freed_memory_kept)


def _set_glibc_thresholds() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return (mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1
            and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1)
