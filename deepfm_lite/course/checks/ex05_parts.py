"""Exercise 05, one part at a time: what each of DeepFM's two parts reads, and its dropout.

``check_deepfm`` (in ``ex05_deepfm``) looks at the model as a whole: one table, a logit, FM's
order-2 term with the deep part zeroed, gradient from both parts. A mistake confined to one part
can pass all of that: a deep part that reads the table without the field offsets still trains
and still sends the table gradient, only to other rows than the FM part's. The probes here look
at one part at a time and name such a mistake:

* :func:`fm_reading_hint`, :func:`check_deep_reading`: the rows and columns of the table each
  part sends gradient to (the rows ``offset_f + id`` of the active features, every column);
* :func:`check_deep_input`: what the deep part's first layer receives (the FM part's field
  vectors ``e_i = V_i x_i``, flattened);
* :func:`check_eval_is_deterministic`, :func:`check_dropout`: dropout off in eval mode, and its
  rate in training mode against the class's ``dropout`` argument (torch's drop probability).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional
from torch.overrides import TorchFunctionMode

from .common import NotYet, as_array, call_learner, match_mistake, with_article
from .ex03_embedding_lookup import offsets_of

DEEP_NO_OFFSETS = ("the deep part reads the shared table without the field offsets (rows id "
                   "instead of offset_f + id) while the FM part uses them, so the two parts read "
                   "different rows of the one table and do not share the vectors: feed the MLP "
                   "the same field embeddings as the FM part, embeddings.flatten(1).")
FM_NO_OFFSETS = ("the FM part reads the shared table without the field offsets (rows id instead "
                 "of offset_f + id): add each field's offset to its ids, or use the field "
                 "vectors of FeaturesEmbedding(field_dims, k) for both parts.")
DEEP_NO_VALUES = ("the deep part's field vectors are not multiplied by their values x_i (the FM "
                  "part's are): a numeric field's vector is V_i * x_i in both parts. Feed the MLP "
                  "the FM part's embeddings, embeddings.flatten(1).")
DEEP_VALUES_TWICE = ("the deep part multiplies its field vectors by their values twice: "
                     "FeaturesEmbedding(ids, values) (or your lookup) has already multiplied them, "
                     "e_i = V_i x_i. Feed the MLP the FM part's embeddings as they are, "
                     "embeddings.flatten(1).")
VALUES_TWICE = ("the FM part multiplies its field vectors by their values twice: "
                "FeaturesEmbedding(ids, values) (or your lookup) has already multiplied them, "
                "e_i = V_i x_i. Pass those embeddings to the order-2 term as they are.")
EVAL_DROPOUT = ("in eval mode two forward passes on the same input give different outputs, so "
                "dropout is still on: the deep part's dropout must be off in eval mode. Use "
                "nn.Dropout modules or the package's MLP (they follow model.train() and "
                "model.eval()), or F.dropout(h, p, training=self.training): F.dropout's training "
                "argument is True unless you pass it.")
DROPOUT_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                   nn.FeatureAlphaDropout)
DROPOUT_FUNCTIONS = {functional.dropout: ("p", "training"),
                     functional.dropout1d: ("p", "training"),
                     functional.alpha_dropout: ("p", "training"),
                     functional.feature_alpha_dropout: ("p", "training"),
                     torch.dropout: ("p", "train")}


def forward_logits(model: nn.Module, ids: torch.Tensor, values: torch.Tensor,
                   what: str) -> torch.Tensor:
    """``model(ids, values)``, which must be a torch tensor."""
    out = call_learner(model, ids, values, what=what,
                       inputs="ids and values of shape [batch, fields]")
    if not isinstance(out, torch.Tensor):
        as_array(out, what, "a tensor of logits, shape [batch]")
        raise NotYet(f"{what} returned {with_article(type(out).__name__)}; forward must return "
                     "a torch tensor of logits, shape [batch], so gradients can flow.")
    return out


# ---- rows and columns: where each part's gradient lands -------------------------------------


def _span(columns: Sequence[int]) -> str:
    if list(columns) == list(range(columns[0], columns[-1] + 1)):
        return f"{columns[0]}..{columns[-1]}"
    return ", ".join(map(str, columns))


def _touched(grad: torch.Tensor, tol: float) -> tuple[set[int], list[int]]:
    """The rows and the columns of the table where ``grad`` is larger than ``tol``."""
    big = grad.abs() > tol
    rows = {int(r) for r in torch.nonzero(big.any(dim=1)).flatten()}
    return rows, [int(c) for c in torch.nonzero(big.any(dim=0)).flatten()]


def _active_rows(field_dims: Sequence[int], ids: torch.Tensor) -> set[int]:
    return {int(r) for r in (ids + offsets_of(field_dims)).flatten()}


def _slice_hint(part: str, columns: list[int], other: str, other_columns: list[int],
                k: int) -> str:
    hint = (f"the {part} part uses only columns {_span(columns)} of the {k} in each row of the "
            "shared table")
    if other_columns and not set(columns) & set(other_columns):
        hint += (f", and the {other} part columns {_span(other_columns)}: the two parts read "
                 "different slices of each vector, which splits the one table into two")
    return (hint + f". Both parts use the whole field vector e_i = V_i x_i (all {k} columns): the "
            "FM part's inner products <e_i, e_j> and the deep part's input embeddings.flatten(1).")


def fm_reading_hint(grad_fm: torch.Tensor, grad_deep: torch.Tensor,
                    field_dims: Sequence[int], ids: torch.Tensor) -> str | None:
    """Why the FM part's order-2 term is not FM's, from the rows and columns it sends gradient
    to (``grad_fm``; ``grad_deep`` is the deep part's share of the whole model's), or None."""
    k = grad_fm.shape[1]
    rows, columns = _touched(grad_fm, 1e-6 * max(float(grad_fm.abs().max()), 1e-12))
    if columns and len(columns) < k:
        _, deep_columns = _touched(grad_deep, 1e-4 * max(float(grad_deep.abs().max()), 1e-12))
        return _slice_hint("FM", columns, "deep", deep_columns, k)
    outside = rows - _active_rows(field_dims, ids)
    if not outside:
        return None
    if outside <= {int(i) for i in ids.flatten()}:
        return FM_NO_OFFSETS
    return (f"the FM part reads rows {sorted(outside)[:6]} of the shared table, which hold no "
            "active feature of these rows: field f's feature id is row offset_f + id, with the "
            "offsets [0, d0, d0+d1, ...].")


def check_deep_reading(grad_deep: torch.Tensor, grad_fm: torch.Tensor,
                       field_dims: Sequence[int], ids: torch.Tensor) -> None:
    """The deep part's gradient lands on the FM part's rows, in every field and every column.

    ``grad_deep`` is the whole model's gradient on the table minus the FM part's alone. Where
    the deep part reads nothing it is exactly zero (the FM part's share is computed the same way
    in both passes, and the deep part adds exact zeros); where it reads, it carries the deep
    part's share plus, on the FM part's rows, float32 rounding of the FM part's (about 1e-7 of
    it). The tolerances sit above that rounding and far below a read row's or column's share.
    """
    k = grad_deep.shape[1]
    scale = max(float(grad_deep.abs().max()), 1e-12)
    active = _active_rows(field_dims, ids)
    rows, _ = _touched(grad_deep, 1e-6 * scale)
    outside = rows - active
    if outside and outside <= {int(i) for i in ids.flatten()}:
        raise NotYet(DEEP_NO_OFFSETS)
    if outside:
        raise NotYet(f"the deep part reads rows {sorted(outside)[:6]} of the shared table, which "
                     "the FM part does not read: both parts read field f's feature id at row "
                     "offset_f + id. Feed the MLP the FM part's field vectors, "
                     "embeddings.flatten(1).")
    offsets = offsets_of(field_dims)
    unread = [f for f in range(len(field_dims))
              if float(grad_deep[ids[:, f] + offsets[f]].abs().max()) <= 1e-4 * scale]
    if unread:
        raise NotYet(f"the deep part does not read field(s) {unread} (counting from 0): its "
                     "input is every field's vector, concatenated, embeddings.flatten(1) of shape "
                     f"[batch, fields*k] = [batch, {len(field_dims) * k}].")
    _, columns = _touched(grad_deep[sorted(active)], 1e-4 * scale)
    if len(columns) < k:
        _, fm_columns = _touched(grad_fm, 1e-6 * max(float(grad_fm.abs().max()), 1e-12))
        raise NotYet(_slice_hint("deep", columns, "FM", fm_columns, k))


# ---- what the deep part's first layer receives -----------------------------------------------


def _first_layer_inputs(model: nn.Module, width: int, ids, values, what) -> list[torch.Tensor]:
    """The inputs of every nn.Linear taking ``width`` features, in one eval-mode forward."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear) and m.in_features == width]
    seen: list[torch.Tensor] = []
    hooks = [layer.register_forward_pre_hook(
        lambda _module, args: seen.append(args[0].detach().double())) for layer in layers]
    try:
        with torch.no_grad():
            forward_logits(model, ids, values, what)
    finally:
        for hook in hooks:
            hook.remove()
    return [x.reshape(ids.shape[0], width) for x in seen
            if x.dim() >= 1 and x.numel() == ids.shape[0] * width]


def _same_columns(got: torch.Tensor, right: torch.Tensor) -> bool:
    """``got`` holds the columns of ``right``, in any order (the first layer is the same up to
    the order of its inputs: field after field, or coordinate after coordinate)."""
    if got.shape != right.shape:
        return False
    gap = (got.unsqueeze(2) - right.unsqueeze(1)).abs().amax(dim=0)  # [got's, right's columns]
    match = gap <= 1e-5 + 1e-4 * right.abs().amax(dim=0).unsqueeze(0)
    return bool(match.any(dim=1).all() and match.any(dim=0).all())


def check_deep_input(model: nn.Module, table: torch.Tensor, field_dims: Sequence[int],
                     ids: torch.Tensor, values: torch.Tensor, what: str) -> None:
    """The deep part's first layer (an nn.Linear of fields*k inputs) gets the FM part's field
    vectors, flattened, in any order."""
    width = len(field_dims) * table.shape[1]
    inputs = _first_layer_inputs(model, width, ids, values, what)
    if not inputs:
        return  # no such layer (a hand-written tower): the gradient probes have looked at it
    table = table.detach().double()
    rows = table[ids + offsets_of(field_dims)]
    e = rows * values.double().unsqueeze(-1)
    if any(_same_columns(x, e.flatten(1)) for x in inputs):
        return
    match_mistake(inputs[0], [
        ((table[ids] * values.double().unsqueeze(-1)).flatten(1), DEEP_NO_OFFSETS),
        (rows.flatten(1), DEEP_NO_VALUES),
        ((rows * values.double().unsqueeze(-1).pow(2)).flatten(1), DEEP_VALUES_TWICE),
        (table[ids].flatten(1), f"{DEEP_NO_OFFSETS} Its vectors are not multiplied by their "
                                "values x_i either."),
    ])
    raise NotYet("the deep part's first layer does not receive the FM part's field vectors: its "
                 "input must be the same embeddings e_i = V_i x_i that the FM part uses, "
                 "concatenated, embeddings.flatten(1) of shape [batch, fields*k] = "
                 f"[batch, {width}], with nothing changed in between.")


# ---- dropout ----------------------------------------------------------------------------------


def check_eval_is_deterministic(model: nn.Module, ids, values, what: str) -> None:
    """In eval mode (the model is in it) the same input gives the same output."""
    with torch.no_grad():
        first = forward_logits(model, ids, values, what)
        second = forward_logits(model, ids, values, what)
    if first.shape == second.shape and not torch.equal(first, second):
        raise NotYet(EVAL_DROPOUT)


def expected_dropout(factory: object) -> float | None:
    """The default of the ``dropout`` argument of the learner's class, if it has one."""
    if isinstance(factory, nn.Module) or not callable(factory):
        return None
    try:
        parameter = inspect.signature(factory).parameters.get("dropout")
    except (TypeError, ValueError):
        return None
    default = getattr(parameter, "default", None)
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return None
    return float(default)


class _DropoutCalls(TorchFunctionMode):
    """Records the drop probability of every functional dropout applied in training."""

    def __init__(self):
        super().__init__()
        self.rates: list[float] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        names = DROPOUT_FUNCTIONS.get(func)
        if names is not None:
            p = kwargs.get(names[0], args[1] if len(args) > 1 else 0.5)
            training = kwargs.get(names[1], args[2] if len(args) > 2 else True)
            if training and isinstance(p, (int, float)):
                self.rates.append(float(p))
        return func(*args, **kwargs)


def _train_forward(model: nn.Module, ids, values, what: str, seed: int) -> tuple[torch.Tensor,
                                                                               list[float]]:
    calls = _DropoutCalls()
    torch.manual_seed(seed)  # run_check restores the caller's random state afterwards
    with torch.no_grad(), calls:
        out = forward_logits(model, ids, values, what)
    return out, calls.rates


def check_dropout(model: nn.Module, factory: object, ids, values, what: str) -> None:
    """Dropout in training mode: p is the class's ``dropout`` (torch's drop probability).

    The rates are read from the dropout modules and from the functional dropout calls of a
    training-mode forward pass. A rate of 1 - dropout is the paper's keep probability passed as
    torch's drop probability; without the class's default, a rate above 0.5 is taken for it."""
    expected = expected_dropout(factory)
    model.train()
    try:
        out, rates = _train_forward(model, ids, values, what, seed=0)
        rates += [float(m.p) for m in model.modules() if isinstance(m, DROPOUT_MODULES)]
        if expected is None:
            wrong = next((p for p in rates if p > 0.5), None)
            if wrong is not None:
                raise NotYet(f"the deep part's dropout drops {wrong:.0%} of the units "
                             f"(p = {wrong:.6g}): that is the paper's keep probability passed "
                             "as torch's drop probability. nn.Dropout(p) and MLP(..., dropout=p) "
                             "take the probability of DROPPING a unit; the paper's \"dropout "
                             f"{wrong:.6g}\" keeps {wrong:.0%}, which is p = 1 - {wrong:.6g} = "
                             f"{1 - wrong:.6g}.")
            return
        _check_rates(expected, rates, lambda: _train_forward(model, ids, values, what, seed=1)[0],
                     out)
    finally:
        model.eval()


def _check_rates(expected: float, rates: list[float], again: Callable[[], torch.Tensor],
                 out: torch.Tensor) -> None:
    keep_as_drop = 1.0 - expected
    if not math.isclose(expected, 0.5) and any(math.isclose(p, keep_as_drop, abs_tol=1e-9)
                                               for p in rates):
        raise NotYet(f"the deep part's dropout drops {keep_as_drop:.0%} of the units (p = "
                     f"{keep_as_drop:.6g} = 1 - dropout) where your class's dropout={expected:g} "
                     f"asks for {expected:.0%}: that is a keep probability passed as torch's drop "
                     "probability. Here `dropout` already IS torch's drop probability: pass it on "
                     "unchanged, MLP(..., dropout=dropout) or nn.Dropout(dropout). Only the "
                     "paper's \"dropout 0.9\" is a keep probability (p = 1 - 0.9 = 0.1).")
    other = sorted({round(p, 6) for p in rates if not math.isclose(p, expected, abs_tol=1e-9)})
    if other:
        raise NotYet(f"the deep part's dropout uses p = {', '.join(f'{p:g}' for p in other)}, "
                     f"not your class's dropout={expected:g}: pass the `dropout` argument on to "
                     "the deep part (MLP(..., dropout=dropout) or nn.Dropout(dropout)) rather "
                     "than a number of its own.")
    if expected > 0 and not rates and torch.equal(out, again()):
        raise NotYet(f"your class takes dropout={expected:g} but the deep part applies no "
                     "dropout (two training-mode passes give the same output): pass it on, "
                     "MLP(..., dropout=dropout), or put nn.Dropout(dropout) after each hidden "
                     "layer.")
