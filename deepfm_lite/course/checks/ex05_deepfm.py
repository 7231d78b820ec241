"""Exercise 05: DeepFM with one shared embedding (the paper's Equation 1 and Figure 1).

This exercise assembles the package's pieces, so FeaturesEmbedding, FeaturesLinear,
fm_second_order and MLP are all allowed here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .common import (
    CheckResult,
    NotYet,
    build_module,
    close,
    expect_callable,
    match_mistake,
    name_of,
    run_check,
)
from .ex02_fm_second_order import pairwise_reference
from .ex03_embedding_lookup import lookup_case, offsets_of
from .ex05_parts import (
    VALUES_TWICE,
    check_deep_input,
    check_deep_reading,
    check_dropout,
    check_eval_is_deterministic,
    fm_reading_hint,
    forward_logits,
)

CHECK_FIELD_DIMS = (5, 3, 4, 2)

TWO_PROBABILITIES_HINT = ("adds two probabilities (sigmoid(y_FM) + sigmoid(y_DNN)); DeepFM adds "
                          "the logits and applies one sigmoid to the sum, y = sigmoid(y_FM + "
                          "y_DNN) (Equation 1). The model returns the logit y_FM + y_DNN: the "
                          "loss or predict_proba applies that one sigmoid.")
ORDER1_MISSING = ("the order-1 term <w, x> + b is missing: y_FM = <w, x> + b + sum_{i<j} "
                  "<V_i, V_j> x_i x_j (Equation 2)")
DEEP_SIGMOID = ("the deep part ends with its own sigmoid: with its weights set to zero it still "
                "adds sigmoid(0) = 0.5 to the logit. y_DNN is the last linear layer's output as it "
                "is (Equation 1 adds it to y_FM, then ONE sigmoid, applied by the loss or "
                "predict_proba): remove the deep part's sigmoid.")
FM_SIGMOID = ("the FM part has its own sigmoid: with every weight but the table set to zero your "
              "output is sigmoid(y_FM), not y_FM. Equation 1 adds the two parts' logits, y_FM + "
              "y_DNN, and applies ONE sigmoid to the sum (the loss or predict_proba does it): "
              "remove the FM part's sigmoid.")
ORDER1_HOW = ("One weight per feature (FeaturesLinear(field_dims), or "
              "nn.Embedding(sum(field_dims), 1) read at rows offset_f + id) gives <w, x> = "
              "sum_f w[offset_f + id_f] * x_f.")


def _deepfm_inputs(field_dims: Sequence[int], batch: int = 8):
    ids, values, _ = lookup_case(field_dims, batch, 1, seed=9)
    return ids, values


def _embedding_tables(model: nn.Module, total: int) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.dim() == 2 and p.shape[0] == total
            and p.shape[1] > 1]


def _model_under_check(model, field_dims) -> tuple[nn.Module, tuple[int, ...], str]:
    if isinstance(model, nn.Module):
        dims = field_dims if field_dims is not None else getattr(model, "field_dims", None)
        if dims is None:
            raise NotYet("pass the field sizes too: check_deepfm(model, field_dims=...), or "
                         "store them on the model as self.field_dims.")
        return copy.deepcopy(model), tuple(int(d) for d in dims), "your model"
    expect_callable(model, "check_deepfm(MyDeepFM)")
    dims = tuple(int(d) for d in (field_dims or CHECK_FIELD_DIMS))
    what = f"your model {name_of(model)}"
    return build_module(model, (list(dims),), what), dims, what


def _check_output_shape(out: torch.Tensor, batch: int, what: str) -> None:
    shape = tuple(out.shape)
    if shape == (batch,):
        return
    hints = {
        (batch, 1): " Squeeze the deep part's [batch, 1] output.",
        (batch, batch): " The deep part's [batch, 1] output was broadcast against the FM "
                        "part's [batch] output, which gives [batch, batch]: squeeze the deep "
                        "output to [batch] (.squeeze(1)) before adding the two.",
    }
    raise NotYet(f"{what} returned shape {list(shape)} for a batch of {batch}; expected "
                 f"[batch] = [{batch}].{hints.get(shape, '')}")


def _shared_table(model: nn.Module, total: int, what: str) -> nn.Parameter:
    tables = _embedding_tables(model, total)
    if not tables:
        raise NotYet(f"{what} has no embedding table with sum(field_dims) = {total} rows: "
                     "use ONE table for all fields (FeaturesEmbedding(field_dims, k), or "
                     "nn.Embedding(sum(field_dims), k) with per-field offsets).")
    if len(tables) > 1:
        raise NotYet(f"{what} has {len(tables)} embedding tables of {total} rows: the FM "
                     "part and the deep part each use their own. DeepFM's point is ONE "
                     "table read by both (separate tables make it FM&DNN).")
    return tables[0]


def _check_deep_input_width(model: nn.Module, n_fields: int, k: int) -> None:
    """The deep part's first nn.Linear (the first one the model creates) takes fields*k."""
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
    if first is not None and n_fields > 1 and first.in_features == k:
        raise NotYet(f"the deep part's first layer takes {k} inputs, one vector's worth: feed "
                     "it the concatenated field vectors, embeddings.flatten(1) of shape "
                     f"[batch, fields*k] = [batch, {n_fields * k}], not their sum or mean.")


def _check_logits(model: nn.Module, ids, values, what: str) -> None:
    """Large random weights push a logit far outside [0, 1]; a probability stays inside, and
    the sum of two probabilities inside [0, 2]."""
    probe = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(13)
    with torch.no_grad():
        for param in probe.parameters():
            param.copy_(torch.randn(param.shape, generator=gen))
        out = forward_logits(probe, ids, values, what)
    low, high = float(out.min()), float(out.max())
    if 0 <= low and high <= 1:
        raise NotYet(f"{what} returns probabilities (every output stays in [0, 1] even with "
                     "large random weights): return the logit y_FM + y_DNN. The sigmoid is "
                     "applied once, by the loss or predict_proba; inside the model it would be "
                     "applied twice.")
    if 0 <= low and high <= 2:
        raise NotYet(f"{what} {TWO_PROBABILITIES_HINT} (Every output stays in [0, 2] even with "
                     "large random weights.)")


def _table_gradient(model: nn.Module, table_index: int, ids, values, what: str,
                    keep_only_table: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and gradient on the shared table; optionally with every other weight zeroed."""
    params = list(model.parameters())
    with torch.no_grad():
        if keep_only_table:
            for i, param in enumerate(params):
                if i != table_index:
                    param.zero_()
    model.zero_grad(set_to_none=True)
    out = forward_logits(model, ids, values, what)
    if not out.requires_grad:
        raise NotYet(f"{what}'s output does not depend on any trainable weight (is forward "
                     "wrapped in torch.no_grad() or detached?).")
    out.sum().backward()
    grad = params[table_index].grad
    return out.detach().double(), torch.zeros_like(params[table_index]) if grad is None \
        else grad.detach().clone()


def _check_fm_term(fm_only: np.ndarray, table: torch.Tensor, field_dims, ids, values,
                   reading_hint: str | None) -> None:
    e = table.detach()[ids + offsets_of(field_dims)] * values.unsqueeze(-1)
    right = pairwise_reference(e)
    if close(fm_only, right, rtol=1e-4, atol=1e-5):
        return
    sigmoid = 1 / (1 + np.exp(-right))
    match_mistake(fm_only, [
        (2 * right, "the FM part's order-2 term is twice the right one: the 1/2 is missing."),
        (pairwise_reference(table.detach()[ids] * values.unsqueeze(-1)),
         "the FM part reads the shared table without per-field offsets: add each field's "
         "offset to its ids (or use deepfm_lite.layers.FeaturesEmbedding)."),
        (pairwise_reference(table.detach()[ids + offsets_of(field_dims)]),
         "the FM part's field vectors are not multiplied by their values x_i."),
        (pairwise_reference(e * values.unsqueeze(-1)), VALUES_TWICE),
        (sigmoid + 0.5, f"your model {TWO_PROBABILITIES_HINT}"),
        (right + 0.5, DEEP_SIGMOID),
        (sigmoid, FM_SIGMOID),
    ])
    if reading_hint is not None:
        raise NotYet(reading_hint)
    raise NotYet("with the deep part and the order-1 weights set to zero your output should be "
                 "exactly FM's order-2 term sum_{i<j} <V_i, V_j> x_i x_j over the shared table "
                 "(rows offset_f + id); it is not.")


def _check_both_parts_use_the_table(model: nn.Module, table: nn.Parameter, field_dims, ids,
                                    values, what: str) -> None:
    """The FM part computes its order-2 term from the table and sends it gradient; so does
    the deep part (the gradient the whole model sends is more than the FM part's)."""
    table_index = next(i for i, p in enumerate(model.parameters()) if p is table)
    with torch.no_grad():
        table.copy_(torch.randn(table.shape, generator=torch.Generator().manual_seed(17)) * 0.5)
    _, grad_full = _table_gradient(copy.deepcopy(model), table_index, ids, values, what,
                                   keep_only_table=False)
    fm_only, grad_fm = _table_gradient(copy.deepcopy(model), table_index, ids, values, what,
                                       keep_only_table=True)
    if float(grad_fm.abs().max()) == 0.0:
        raise NotYet("the FM part sends no gradient to the shared table: its order-2 term "
                     "sum_{i<j} <V_i, V_j> x_i x_j must be computed from the same embeddings "
                     "the deep part reads (not detached, not left out).")
    grad_deep = grad_full - grad_fm
    _check_fm_term(fm_only.numpy(), table, field_dims, ids, values,
                   fm_reading_hint(grad_fm, grad_deep, field_dims, ids))
    deep_share = float(grad_deep.abs().max())
    if deep_share <= 1e-7 * max(float(grad_full.abs().max()), 1e-12):
        raise NotYet("the deep part sends no gradient to the shared table: feed the MLP the "
                     "same field embeddings as the FM part (flattened, not detached).")
    check_deep_reading(grad_deep, grad_fm, field_dims, ids)
    check_deep_input(model, table, field_dims, ids, values, what)


def _order1_candidates(model: nn.Module, total: int) -> list[int]:
    """Parameters shaped like one weight per feature: [total], [total, 1] or [1, total]."""
    shapes = {(total,), (total, 1), (1, total)}
    return [i for i, p in enumerate(model.parameters()) if tuple(p.shape) in shapes]


def _order1_output(model: nn.Module, index: int, ids, values, what: str):
    """The output with only parameter ``index`` non-zero (random), and that parameter."""
    probe = copy.deepcopy(model)
    params = list(probe.parameters())
    gen = torch.Generator().manual_seed(19)
    with torch.no_grad():
        for i, param in enumerate(params):
            if i == index:
                param.copy_(torch.randn(param.shape, generator=gen))
            else:
                param.zero_()
        out = forward_logits(probe, ids, values, what)
    return out.double().numpy(), params[index].detach().reshape(-1)


def _check_order1_term(model: nn.Module, field_dims, ids, values, what: str) -> None:
    """With every parameter but the order-1 weights w zeroed, the output is <w, x>.

    The bias b is zeroed too: the deep part's output bias can stand for it, so a separate
    one is not required."""
    candidates = _order1_candidates(model, sum(field_dims))
    if not candidates:
        raise NotYet(f"{ORDER1_MISSING}. {ORDER1_HOW}")
    offsets = offsets_of(field_dims)
    outputs = []
    for index in candidates:
        got, w = _order1_output(model, index, ids, values, what)
        if close(got, (w[ids + offsets] * values).sum(1).double().numpy()):
            return
        outputs.append((got, w))
    got, w = outputs[0]
    match_mistake(got, [
        (np.zeros_like(got), f"{ORDER1_MISSING}: {what} has the weights w "
                             f"({sum(field_dims)} of them) but forward does not add "
                             "sum_f w[offset_f + id_f] * x_f to the logit."),
        ((w[ids] * values).sum(1).double().numpy(),
         "the order-1 weights are read without per-field offsets: field f's weight for id j "
         "is w[offset_f + j], as for the embedding table."),
        (w[ids + offsets].sum(1).double().numpy(),
         "the order-1 weights are not multiplied by the values: <w, x> = sum_f "
         "w[offset_f + id_f] * x_f, and a numeric field's x_f is not 1."),
    ])
    raise NotYet(f"with every weight but the order-1 weights w set to zero your output should be "
                 f"<w, x> = sum_f w[offset_f + id_f] * x_f; it is not. {ORDER1_HOW}")


def check_deepfm(model, field_dims: Sequence[int] | None = None) -> CheckResult:
    """Check a DeepFM module: one shared embedding, both parts right, logits out (Equation 1).

    ``model`` is either the learner's class (or any callable) ``MyDeepFM(field_dims) ->
    nn.Module``, built here with small ``field_dims`` (other constructor arguments keep their
    defaults), or an ``nn.Module`` instance; then ``field_dims`` is taken from the argument or
    from ``model.field_dims``. Its ``forward(ids, values)`` takes ``[batch, fields]`` tensors
    and returns logits ``[batch]``: y_FM + y_DNN, Equation 1 without the sigmoid, with y_FM =
    <w, x> + b + sum_{i<j} <V_i, V_j> x_i x_j (Equation 2). The package's FeaturesEmbedding,
    FeaturesLinear, fm_second_order and MLP may be used, and so may hand-written parts.

    What is checked, on a copy (the learner's weights are not touched): the output shape;
    exactly one embedding table with ``sum(field_dims)`` rows (more than one means the FM and
    deep parts do not share it, as in FM&DNN); the deep part reads the concatenated field
    vectors; in eval mode the output does not change from one pass to the next; the output is a
    logit; with every weight except that table set to zero the output is FM's order-2 term over
    the table (so the FM part reads it, with offsets, values and the 1/2, and no part adds a
    sigmoid of its own); the FM part and the deep part both send gradient to the table; then
    each part on its own (``ex05_parts``): the rows and columns of the table each part sends
    gradient to (the rows ``offset_f + id`` of every field, every column), what the deep part's
    first nn.Linear receives (the FM part's vectors, flattened); with every weight except the
    order-1 weights set to zero the output is <w, x>; last, dropout in training mode: its p is
    the class's ``dropout`` argument, torch's drop probability.

    Caught mistakes: a [batch, 1] output, a [batch, batch] output (the deep part's [batch, 1]
    broadcast against the FM part's [batch]), no table or two tables, the deep part fed the sum
    of the field vectors, a probability returned (a sigmoid inside), two probabilities added
    (sigmoid(y_FM) + sigmoid(y_DNN)), a sigmoid on the FM part alone or on the deep part alone,
    the 1/2 missing, the table read without offsets (by both parts, by the FM part alone, or by
    the deep part alone), rows other than the active features' read by either part, values not
    multiplied in or multiplied twice (by the FM part, or by the deep part alone), the two
    parts reading different slices of each vector (or one part only some of its columns), the
    deep part leaving out a field, the order-2 term left out or detached, the deep part
    detached or fed something else, the order-1 term missing (or its weights never added), read
    without offsets or not multiplied by the values; dropout still on in eval mode (F.dropout
    without training=self.training), the paper's keep probability passed as torch's drop
    probability (p = 1 - dropout; without the class's default, any p above 0.5), a p that
    ignores the ``dropout`` argument, and no dropout at all although ``dropout`` > 0.
    """

    def body() -> str:
        built, dims, what = _model_under_check(model, field_dims)
        built.eval()  # dropout off: the comparisons below need a deterministic forward
        ids, values = _deepfm_inputs(dims)
        total = sum(dims)
        _check_output_shape(forward_logits(built, ids, values, what), ids.shape[0], what)
        table = _shared_table(built, total, what)
        _check_deep_input_width(built, len(dims), table.shape[1])
        check_eval_is_deterministic(built, ids, values, what)
        dropout_probe = copy.deepcopy(built)  # before the probes below change its weights
        _check_logits(built, ids, values, what)
        _check_both_parts_use_the_table(built, table, dims, ids, values, what)
        _check_order1_term(built, dims, ids, values, what)
        check_dropout(dropout_probe, model, ids, values, what)
        k = table.shape[1]
        return (f"one shared table [{total} x {k}], read by the FM part (order-2 term right) and "
                "the deep part, both sending it gradient; the order-1 term <w, x> is right and "
                "the output is a logit.")

    return run_check("check_deepfm", body)
