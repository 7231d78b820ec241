"""Exercise 03: the embedding lookup with per-field offsets (the paper's Figure 4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .common import (
    CheckResult,
    Forbidden,
    NotYet,
    as_tensor_output,
    call_learner,
    close,
    expect_callable,
    expect_shape,
    first_difference,
    match_mistake,
    name_of,
    run_check,
)

_BY_HAND = ("this exercise asks you to write the lookup yourself: offsets, the row read, the "
            "value multiplied in (exercise 05 then uses the package's layer).")
PACKAGE_LOOKUP = (
    Forbidden("deepfm_lite.layers.FeaturesEmbedding", "deepfm_lite.layers.FeaturesEmbedding",
              _BY_HAND),
    Forbidden("deepfm_lite.layers.field_offsets", "deepfm_lite.layers.field_offsets",
              _BY_HAND),
)

OFFSETS_HINT = ("Field f's rows start at field_dims[0] + ... + field_dims[f-1]: the offsets are "
                "[0, d0, d0+d1, ...], so the last field never runs past the table's "
                "sum(field_dims) rows.")
UNSQUEEZE_HINT = ("The vectors are [batch, fields, k] and the values [batch, fields]: unsqueeze "
                  "the values to [batch, fields, 1] (values.unsqueeze(-1) or values[..., None]) "
                  "so that each field's vector is scaled by its own value.")

# (field_dims, batch, k, seed). The last case has batch = fields = k, where multiplying by
# the values without unsqueezing them (or unsqueezing the wrong axis) raises nothing: the values
# are silently aligned with k, and only the comparison with those mistakes can name them.
LOOKUP_CASES = [([4, 6, 3, 2], 7, 3, 0), ([5, 2, 8, 3, 2], 4, 2, 1), ([4, 3, 2], 3, 3, 2)]


def offsets_of(field_dims: Sequence[int]) -> torch.Tensor:
    """Where each field's rows start in the shared table: [0, d0, d0 + d1, ...]."""
    dims = torch.as_tensor(list(field_dims), dtype=torch.long)
    return torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(dims, 0)[:-1]])


def lookup_case(field_dims: Sequence[int], batch: int, k: int,
                seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ids [batch, fields] (field-local), values, a table [sum(field_dims), k].

    Every field but the last is categorical (value 1); the last is numeric: id 0 with a
    standardised value on every row but the first, id 1 (missing) with value 1 on the first
    (id 0 there too when the field has a single row)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randint(0, d, (batch,), generator=gen) for d in field_dims], dim=1)
    ids[:, -1] = 0
    ids[0, -1] = min(1, field_dims[-1] - 1)
    values = torch.ones(batch, len(field_dims))
    values[1:, -1] = torch.randn(batch - 1, generator=gen) * 1.5
    table = torch.randn(sum(field_dims), k, generator=gen)
    return ids, values, table


def _hint_for_error(error: Exception) -> str:
    text = str(error)
    if isinstance(error, IndexError) or "out of range" in text or "out of bounds" in text:
        return OFFSETS_HINT
    if "must match the size" in text or "broadcast" in text:
        return UNSQUEEZE_HINT
    return ""


def _lookup_mistakes(ids, values, table, field_dims) -> list[tuple[object, str]]:
    offsets = offsets_of(field_dims)
    rows = table[ids + offsets]
    shifted = (ids + torch.cumsum(torch.as_tensor(field_dims), 0)).clamp(
        max=sum(field_dims) - 1)
    mistakes = [
        (table[ids] * values.unsqueeze(-1),
         "the offsets are not added: every field then reads the first rows of the "
         "table. Add field f's offset (the sizes of fields 0..f-1) to its ids."),
        (table[shifted] * values.unsqueeze(-1),
         "your offsets are shifted by one field: field 0 starts at row 0, field 1 at "
         "row field_dims[0] (exclusive cumulative sum)."),
        (rows, "multiply each field's vector by its value x_i (values[..., None]): numeric "
               "fields carry a number, not 1."),
    ]
    batch, n_fields, k = rows.shape
    if batch == n_fields == k:
        mistakes.append((rows * values, "the values are not unsqueezed: rows * values lines the "
                                        f"values up with k. {UNSQUEEZE_HINT}"))
    if n_fields == k:
        mistakes.append((rows * values.unsqueeze(1), "the values are unsqueezed on the wrong "
                                                     f"axis, so they line up with k. "
                                                     f"{UNSQUEEZE_HINT}"))
    return [(wrong.double().numpy(), hint) for wrong, hint in mistakes]


def check_embedding_lookup(fn: Callable) -> CheckResult:
    """Check ``fn(ids, values, table, field_dims) -> [batch, fields, k]``: the embedding layer.

    The paper's embedding layer (Figure 4, Section 2.1): ``e_i = V_i x_i``. ``ids`` is a long
    tensor ``[batch, fields]`` of field-local ids (0 .. field_dims[f] - 1), ``values`` a
    float32 tensor ``[batch, fields]`` (1 for a category, the number for a numeric field),
    ``table`` one float32 tensor ``[sum(field_dims), k]`` shared by all fields, and
    ``field_dims`` a list of ints. Field f's rows start at ``offset_f = field_dims[0] + ... +
    field_dims[f-1]``; the answer is ``table[ids + offsets] * values[..., None]``, a float32
    tensor (the notebook compares it with float32 tensors). Indexing,
    ``torch.nn.functional.embedding``, ``index_select``, a one-hot matrix product and loops all
    pass.

    Caught mistakes: offsets not added, offsets shifted by one field (cumulative sum that
    includes the field itself), an index out of range (named as an offsets problem), values not
    multiplied in, values not unsqueezed (a size-mismatch error, or, when batch = fields = k,
    a silent broadcast) or unsqueezed on the wrong axis, a flattened ``[batch, fields*k]`` or
    field-summed ``[batch, k]`` result, a NumPy array or a float64 tensor returned, and the
    package's ``FeaturesEmbedding`` or ``field_offsets`` called instead of writing the lookup.
    """

    def body() -> str:
        expect_callable(fn, "check_embedding_lookup(embed)")
        what = f"your function {name_of(fn)}"
        for field_dims, batch, k, seed in LOOKUP_CASES:
            ids, values, table = lookup_case(field_dims, batch, k, seed)
            got = as_tensor_output(
                call_learner(fn, ids.clone(), values.clone(), table.clone(), list(field_dims),
                             what=what, inputs=f"field_dims={field_dims}",
                             hint_for=_hint_for_error),
                what, "a tensor [batch, fields, k]", like=table)
            n_fields = len(field_dims)
            expect_shape(got, (batch, n_fields, k), what, {
                (batch, n_fields * k): "keep one vector per field: [batch, fields, k], not "
                                       "flattened.",
                (batch, k): "keep one vector per field; do not sum or average over the fields.",
                (n_fields, batch, k): "the batch comes first: [batch, fields, k].",
                (batch, n_fields): "each field's id selects a whole ROW of the table (k "
                                   "numbers).",
            })
            right = (table[ids + offsets_of(field_dims)] * values.unsqueeze(-1)).double()
            # A lookup copies table entries and multiplies each by one value: exact in float32
            # up to the rounding of that product, whatever the method (index, one-hot product,
            # loop). The notebook compares with the same tolerance.
            if close(got, right.numpy(), rtol=1e-6, atol=1e-6):
                continue
            match_mistake(got, _lookup_mistakes(ids, values, table, field_dims))
            raise NotYet(f"for field_dims={field_dims} your vectors differ from "
                         f"table[ids + offsets] * values: "
                         f"{first_difference(got, right.numpy())}.")
        return "reads row offset_f + id of the one shared table and scales it by the value."

    return run_check("check_embedding_lookup", body, PACKAGE_LOOKUP)
