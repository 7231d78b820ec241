"""What a GPU run adds to training: mixed precision and copies from pinned host memory.

* :func:`amp_dtype` turns ``--amp bf16|fp16`` into the dtype ``torch.autocast`` computes in,
  refusing it (one line) where it does not belong: on the CPU the run stays in float32;
* :func:`autocast` is that context (a no-op without AMP), :func:`grad_scaler` the loss scaler
  float16 needs (disabled otherwise, so ``scaler.scale(loss)`` is ``loss`` itself);
* :func:`to_device` copies a batch gathered on the CPU to the GPU from pinned (page-locked)
  memory without blocking, so the copy overlaps the previous step's kernels.

Why AMP is refused on the CPU rather than run: PyTorch's CPU autocast computes in bfloat16,
which on a CPU without AVX512-BF16 ran a 1024x400x400 matmul 7x slower than float32 (see
deepfm_lite/layers/fast.py), so it would make the course's runs slower, never faster.
"""

from __future__ import annotations

import contextlib

import torch

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(amp: str | None, device: str | torch.device,
              argument: str = "amp") -> torch.dtype | None:
    """The autocast dtype for ``amp`` (``None``/``"off"``, ``"bf16"`` or ``"fp16"``) on ``device``.

    ``None`` means float32 throughout. Raises ``ValueError`` naming ``argument`` when ``amp``
    is unknown, when ``device`` is not a CUDA GPU (``"auto"`` counts as the device it picks),
    or when ``bf16`` is asked of a GPU that has no bfloat16 arithmetic.
    """
    if amp is None or amp == "off":
        return None
    if amp not in AMP_DTYPES:
        raise ValueError(f"{argument} must be bf16, fp16 or off, got {amp!r}")
    kind = torch.device(_auto(device)).type
    if kind != "cuda":
        raise ValueError(f"{argument} {amp}: mixed precision is for a CUDA GPU and this run is "
                         f"on the {kind}, where training stays in float32; drop {argument} "
                         "or train with --device cuda")
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"{argument} bf16: this GPU has no bfloat16 arithmetic "
                         "(torch.cuda.is_bf16_supported() is False); use fp16")
    return AMP_DTYPES[amp]


def _auto(device: str | torch.device) -> str | torch.device:
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def autocast(dtype: torch.dtype | None, device: torch.device):
    """``torch.autocast`` in ``dtype`` on ``device``, or a context that changes nothing."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(dtype: torch.dtype | None, device: torch.device) -> torch.amp.GradScaler:
    """A loss scaler, enabled for float16 only.

    float16 keeps 5 exponent bits: a small gradient underflows to zero unless the loss is
    multiplied first (and the gradients divided back before the step; a step whose gradients
    overflowed is skipped). bfloat16 has float32's exponent range and needs no scaling.
    """
    return torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; from the CPU to a GPU via pinned memory, without blocking.

    A copy from ordinary (pageable) memory is staged through a pinned buffer by the driver and
    makes the host wait; from pinned memory the GPU reads by DMA while the host goes on to cut
    the next batch. PyTorch's caching host allocator keeps the pinned block alive until the
    copy has finished, so the temporary may be dropped at once.
    """
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
