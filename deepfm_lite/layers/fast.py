"""The layers' speed-ups, each a drop-in for a plain PyTorch piece.

Each piece computes what its plain counterpart computes (tests/models/test_speedups.py checks
that) and is used by the layers, so a learner never has to call it directly:

* :class:`FastDropout` replaces ``nn.Dropout``: the same masks, drawn more cheaply;
* :func:`gather_rows` replaces ``F.embedding`` for the shared table and the order-1 weights:
  the same rows and the same gradient, with a cheaper backward pass on the CPU.

The third speed-up, Adam's fused update, belongs to the optimizer:
:func:`deepfm_lite.training.loop.make_adam`.

How the gains were measured: ``python benchmarks/bench_train.py --ablation --rounds 20`` on the
issue's configuration (DeepFM, k=10, MLP 400-400-400, dropout 0.5, Adam 1e-3, batch 1024, 180k
criteo-like rows, a 3,106-row table): a plain PyTorch DeepFM plus one speed-up at a time, all
variants in one process, alternating every 5 training steps, 20 rounds, wall time per step,
median of the per-round ratios (interquartile range in brackets). Machine: 2-core AMD EPYC
(AVX2), nearly idle, 2 threads. All three together: +70% (+63% to +85%), 14.1k -> 25.6k
samples/s. The gains grow with threads because a CPU dropout mask is drawn by one thread
whatever the thread count (with one thread, an earlier version with float-uniform masks gained
+26% where it gained +55% with two).

Tried and left out, measured the same way: bfloat16 autocast (this CPU has AVX2 but no
AVX512-BF16: a 1024x400x400 bfloat16 matmul ran 7x slower than in float32); in-place ReLU
(+3%, interquartile range -7% to +10%: not told apart from noise); a fused ReLU-and-dropout
autograd function (+0%); uint8 random numbers drawn one per unit (the generator spends one
draw per byte, so no cheaper than a float uniform: the gain of :func:`dropout_mask` comes
from cutting eight bytes out of each 64-bit draw); one lookup for the vectors and the order-1
weights together (with :func:`gather_rows` the order-1 lookup costs 0.2 ms per batch, less
than concatenating the two tables would).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class FastDropout(nn.Dropout):
    """``nn.Dropout(p)`` with its mask drawn by :func:`dropout_mask` instead of ``bernoulli_``.

    In training mode every unit is kept with probability ``1 - p``, independently, and kept
    units are scaled by ``1 / (1 - p)``; in evaluation mode the input passes unchanged. That is
    ``nn.Dropout``'s distribution (exactly for p = 0.5 and any multiple of 1/256 on the CPU,
    within 6e-8 otherwise; see :func:`dropout_mask`), and the kept values are bit-identical to
    ``nn.Dropout``'s.

    Measured gain over ``nn.Dropout``: see :func:`dropout_mask`. On a non-Intel CPU
    ``bernoulli_`` draws its numbers one by one with a per-element Bernoulli sampler; the
    400-wide tower draws three masks of 400 x batch units per step.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        mask = dropout_mask(x.shape, self.p, x.device).to(x.dtype)
        return x.mul_(mask) if self.inplace else x * mask


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """A float32 dropout mask: ``1 / (1 - p)`` where a unit is kept, 0 where it is dropped.

    Each unit is kept with probability ``1 - p``, independently of every other unit. PyTorch's
    CPU generator hands out its random numbers one after another on one thread, whatever the
    thread count, so on a CPU a mask costs what its draws cost. Two ways to draw it:

    * ``p`` a multiple of 1/256 (0.5, 0.25, 0.125, ...), on the CPU: one random byte per unit,
      eight bytes cut from each 64-bit draw. A unit is dropped when its byte is one of the
      ``p * 256`` lowest of the 256 values: probability ``p`` exactly.
    * any other ``p``, or a GPU: one float32 uniform ``U`` per unit, kept when ``U >= p``:
      probability ``1 - p`` on float32's grid of 2^-24 steps, so within 6e-8 of it.

    Measured gain for the whole DeepFM training step over ``nn.Dropout`` (p = 0.5, 2 threads;
    the module docstring says how): +23% (+21% to +28%) training samples/s with float uniforms,
    +43% (+38% to +50%) with bytes. Inside a training step a 1024 x 400 mask of bytes took
    0.3 ms to draw, one of float uniforms 2.3 ms; ``nn.Dropout`` takes about 8 ms per mask.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p is the drop probability and must be in [0, 1), got {p}")
    count = math.prod(shape)
    if torch.device(device).type == "cpu" and (p * 256).is_integer():
        # p = 0.5, 0.25, ...: one random byte per unit decides it exactly, and one 64-bit draw
        # gives eight bytes. The CPU generator draws numbers one after another on one thread,
        # so eight times fewer draws is what makes this mask cheap.
        words = torch.empty((count + 7) // 8, dtype=torch.int64).random_(-2**63, None)
        draws = words.view(torch.int8)[:count].to(torch.float32)  # uniform on -128, ..., 127
        threshold = p * 256 - 128  # drop the p * 256 lowest of the 256 byte values
    else:
        # Drawn in float32 whatever the input's dtype: a bfloat16 uniform has only 256 steps.
        draws = torch.rand(count, device=device)
        threshold = p
    # 1.0 where kept, then divided by 1 - p: the very scale nn.Dropout's mask carries.
    return draws.ge_(threshold).div_(1.0 - p).view(shape)


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

    Measured gain: +8% (+5% to +14%) training samples/s for the whole DeepFM step with two
    threads (+5.5%, -1% to +9%, with one, in an earlier session); alone, the table gradients
    of one 1024-row batch (vectors and order-1 weights) take 2.1 ms CPU time instead of 9.8 ms
    (micro-benchmark, medians of 15 x 10 calls). The gain grows with the share of the step
    the lookups take: more fields, smaller towers.
    """
    if table.device.type != "cpu":
        return F.embedding(index, table) if table.dim() == 2 else \
            F.embedding(index, table.unsqueeze(1)).squeeze(1)
    return _GatherRows.apply(table, index)
