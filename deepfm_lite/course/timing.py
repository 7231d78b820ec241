"""Small wall-clock measurements for the course's speed comparisons.

A single timing on a shared machine is noise: another process can take the CPU for a moment.
:func:`median_seconds` repeats a call and keeps the median, which one slow call cannot move.
:func:`fm_second_order_timings` times FM's order-2 term in its three forms as the number of
fields grows (notebook 02): the O(k n) rewrite of the paper's Equation 2 against two O(k n^2)
forms, the pairwise double loop and the same pairs from one Gram matrix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch

from ..layers import fm_second_order, fm_second_order_pairwise, inner_product


def median_seconds(function: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``function()`` over ``repeats`` calls.

    ``warmup`` untimed calls come first, so one-off costs (allocations, lazy initialisation)
    do not count.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, "
                         f"warmup={warmup}")
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return float(torch.tensor(seconds, dtype=torch.float64).median())


def fm_second_order_gram(embeddings: torch.Tensor) -> torch.Tensor:
    """FM's order-2 term as the sum of all ``<e_i, e_j>``, ``i < j``, from one Gram matrix.

    Still O(k n^2) work, but in a single batched matrix product instead of a Python loop, so
    it shows that the rewrite wins on arithmetic, not only on loop overhead.
    """
    return inner_product(embeddings).sum(dim=1)


FM_FORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "O(kn) rewrite": fm_second_order,
    "O(kn^2) pairwise loop": fm_second_order_pairwise,
    "O(kn^2) Gram matrix": fm_second_order_gram,
}


@torch.no_grad()
def fm_second_order_timings(field_counts: Sequence[int], batch_size: int = 256,
                            embed_dim: int = 10, repeats: int = 5, seed: int = 0,
                            threads: int | None = 1) -> pd.DataFrame:
    """Median seconds of each form in :data:`FM_FORMS` on random ``[batch, fields, k]`` input.

    ``threads`` caps torch's threads while timing (then restores them): with one thread the
    comparison is between amounts of work, not between how many cores happened to be free.
    ``None`` leaves torch's setting alone. Returns a long table with the columns ``fields``,
    ``form`` and ``seconds``, one row per field count and form.
    """
    if not field_counts or min(field_counts) < 2:
        raise ValueError(f"field_counts must list numbers >= 2 (a pair needs two fields), "
                         f"got {list(field_counts)}")
    generator = torch.Generator().manual_seed(seed)
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    rows = []
    try:
        for fields in field_counts:
            embeddings = torch.randn(batch_size, int(fields), embed_dim, generator=generator)
            for form, function in FM_FORMS.items():
                seconds = median_seconds(lambda f=function, e=embeddings: f(e), repeats=repeats)
                rows.append({"fields": int(fields), "form": form, "seconds": seconds})
    finally:
        torch.set_num_threads(saved_threads)
    return pd.DataFrame(rows)


__all__ = ["FM_FORMS", "fm_second_order_gram", "fm_second_order_timings", "median_seconds"]
