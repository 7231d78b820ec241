"""The training speed-ups, one per function or class, each a drop-in for a plain PyTorch piece.

Each piece computes what its plain counterpart computes (tests/test_speedups.py checks that)
and is used by the layers and the fit loop, so a learner never has to call it directly:

* :class:`FastDropout` replaces ``nn.Dropout``: the same masks, drawn more cheaply;
* :func:`gather_rows` replaces ``F.embedding`` for the shared table and the order-1 weights:
  the same rows and the same gradient, with a cheaper backward pass on the CPU;
* :func:`make_adam` builds ``torch.optim.Adam`` with its fused (one-kernel) update.

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

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn


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
