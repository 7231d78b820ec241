"""Exercise 04: the deep tower over the field embeddings (the paper's Equations 3-4)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .common import (
    CheckResult,
    Forbidden,
    NotYet,
    as_float_output,
    build_module,
    call_learner,
    close,
    expect_callable,
    expect_shape,
    match_mistake,
    name_of,
    run_check,
)

PACKAGE_MLP = (
    Forbidden("deepfm_lite.layers.MLP", "deepfm_lite.layers.MLP",
              "this exercise asks you to build the tower yourself from nn.Linear, nn.ReLU and "
              "nn.Dropout (exercise 05 then uses the package's MLP)."),
)

# (num_fields, embed_dim, hidden, keep_prob): keep_prob and 1 - keep_prob differ in every case
# (0.8 / 0.2, 0.7 / 0.3), so a keep probability passed as the drop rate can be told apart.
TOWER_CASES = [(3, 4, (16, 8), 0.8), (5, 2, (6,), 1.0), (2, 3, (5, 7, 4), 0.7)]
EVAL_BATCH = 6
DROPOUT_BATCH = 512  # rows for measuring the dropped share: hundreds of units per layer
DROPOUT_SEED = 2017
NORMALISATIONS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)

ALWAYS_ON_HINT = ("in evaluation mode (tower.eval()) two forward passes on the same input give "
                  "different outputs, so dropout is still on: dropout must be off in eval mode. "
                  "Use nn.Dropout modules (they follow tower.train() and tower.eval()), or "
                  "F.dropout(h, p, training=self.training): F.dropout's training argument "
                  "defaults to True, and a hand-made mask must check self.training.")


def linear_layers(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _tower_reference(layers: list[nn.Linear], x: torch.Tensor, hidden_act, output_act=None,
                     flatten_fields_first: bool = True) -> np.ndarray:
    h = x.flatten(1) if flatten_fields_first else x.transpose(1, 2).flatten(1)
    for layer in layers[:-1]:
        h = layer(h)
        h = hidden_act(h) if hidden_act is not None else h
    out = layers[-1](h).squeeze(-1)
    out = output_act(out) if output_act is not None else out
    return out.double().detach().numpy()


def _check_tower_layout(tower: nn.Module, num_fields: int, embed_dim: int,
                        hidden: Sequence[int], what: str) -> list[nn.Linear]:
    layers = linear_layers(tower)
    if not layers:
        raise NotYet(f"{what} has no nn.Linear layers: build the tower from torch.nn.Linear "
                     "layers (hidden layers with ReLU, then one output unit).")
    sizes = [(layer.in_features, layer.out_features) for layer in layers]
    widths = [num_fields * embed_dim, *hidden, 1]
    expected = list(zip(widths[:-1], widths[1:]))
    if sizes == expected:
        missing_bias = [i for i, layer in enumerate(layers) if layer.bias is None]
        if missing_bias:
            raise NotYet(f"linear layer {missing_bias[0]} has no bias (bias=False): each layer "
                         "computes W·a + b (paper, Equation 4); keep the default bias=True.")
        return layers
    if sizes and sizes[0][0] == embed_dim:
        raise NotYet(f"the first layer takes {embed_dim} inputs, one vector's worth: "
                     "concatenate the field vectors (flatten to [batch, fields*k] = "
                     f"{num_fields * embed_dim} inputs) instead of summing or averaging them.")
    if sizes == expected[:-1]:
        raise NotYet(f"the output layer is missing: after the hidden layers add "
                     f"nn.Linear({widths[-2]}, 1), which gives the logit y_DNN.")
    if sizes and sizes[-1][1] != 1:
        raise NotYet(f"the last linear layer has {sizes[-1][1]} outputs; the tower ends in ONE "
                     "unit, the logit y_DNN.")
    raise NotYet(f"for num_fields={num_fields}, embed_dim={embed_dim}, hidden={list(hidden)} the "
                 f"linear layers should be {expected} (in, out), found {sizes}.")


# ---- evaluation mode: the layers and their order ----------------------------------------------


def _eval_output(tower: nn.Module, x: torch.Tensor, what: str) -> np.ndarray:
    with torch.no_grad():
        got = as_float_output(call_learner(tower, x, what=what), what,
                              "a tensor of shape [batch]")
    batch = x.shape[0]
    expect_shape(got, (batch,), what, {
        (batch, 1): "return shape [batch]: squeeze the last dimension (out.squeeze(-1)).",
    })
    return got


def _check_eval_output(tower: nn.Module, layers: list[nn.Linear], x: torch.Tensor,
                       what: str) -> None:
    """In eval mode the output is deterministic and equals Linear -> ReLU ... -> Linear."""
    tower.eval()
    forward = f"{what}'s forward"
    got = _eval_output(tower, x, forward)
    if not np.array_equal(got, _eval_output(tower, x, forward)):
        raise NotYet(ALWAYS_ON_HINT)
    relu = torch.relu
    with torch.no_grad():
        if any(close(got, _tower_reference(layers, x, relu, flatten_fields_first=first))
               for first in (True, False)):
            return
        match_mistake(got, [
            (_tower_reference(layers, x, relu, torch.sigmoid),
             "the output goes through a sigmoid: return the logit. The sigmoid is "
             "applied once, by the loss (BCE-with-logits) or predict_proba; applying it "
             "here too squashes it twice."),
            (_tower_reference(layers, x, relu, relu),
             "there is a ReLU after the output layer: the last layer gives a logit, "
             "which can be negative; no activation after it."),
            (_tower_reference(layers, x, None),
             "there is no activation between the layers, so the tower is one linear "
             "map: put a ReLU after each hidden layer."),
            (_tower_reference(layers, x, torch.tanh),
             "use ReLU after each hidden layer (you used tanh; the paper found ReLU "
             "better)."),
        ])
    raise NotYet(f"{what}'s output differs from Linear -> ReLU (-> Dropout) ... -> "
                 "Linear(…, 1) applied to the flattened embeddings, in the order "
                 "the layers were created.")


# ---- training mode: how many units dropout drops, where, and how it scales the rest -----------


@dataclass(frozen=True)
class _Dropped:
    """Dropout seen at one place of the tower, in training mode."""

    share: float  # share of the units active without dropout that are zero with it
    active: int  # how many units were active: the sample size of `share`
    scale: float  # what the kept units are multiplied by (least squares; nan if none kept)


def _measure(undropped: torch.Tensor, trained: torch.Tensor) -> _Dropped:
    u, b = undropped.double().flatten(), trained.double().flatten()
    if u.numel() == 0 or u.shape != b.shape:
        return _Dropped(0.0, 0, math.nan)
    # Units at float32 rounding distance from zero could flip between 0 and a tiny value when
    # the learner's forward sums in another order: only clearly active units count.
    active = u.abs() > 1e-6 * float(u.abs().max())
    kept = active & (b != 0)
    n_active = int(active.sum())
    share = float((b[active] == 0).double().mean()) if n_active else 0.0
    scale = float((b[kept] * u[kept]).sum() / (u[kept] ** 2).sum()) if bool(kept.any()) \
        else math.nan
    return _Dropped(share, n_active, scale)


def _matches_rate(measured: _Dropped, rate: float) -> bool:
    """Whether the dropped share is what dropping each unit with probability ``rate`` gives.

    Each active unit is dropped independently, so the share is a binomial proportion over
    ``measured.active`` units, with standard deviation sqrt(rate (1 - rate) / n). Five of them
    (plus 0.01, for rates of 0 or 1 where the spread vanishes) fail a right tower with
    probability below 1e-6 whatever generator the CPU's torch uses to draw the masks. With
    512 rows a layer of the cases above has about 1,000 to 6,000 active units (a spread of at
    most 0.015); even 200 would keep the wrong rates the cases meet (0.8 for 0.2, 0.7 for 0.3,
    0 for either) more than ten spreads away.
    """
    spread = math.sqrt(rate * (1 - rate) / max(measured.active, 1))
    return abs(measured.share - rate) <= 5 * spread + 0.01


def _keep_input(store: dict[int, torch.Tensor], index: int):
    def hook(_module, args):
        if args and isinstance(args[0], torch.Tensor):
            store[index] = args[0].detach().clone()

    return hook


def _run_with_hooks(tower: nn.Module, layers: list[nn.Linear], x: torch.Tensor, what: str,
                    training: bool):
    """The input of every nn.Linear, the last one's output and the tower's output, for one
    forward pass in training or evaluation mode (with a fixed seed for the dropout masks)."""
    inputs: dict[int, torch.Tensor] = {}
    last_output: list[torch.Tensor] = []
    handles = [layer.register_forward_pre_hook(_keep_input(inputs, i))
               for i, layer in enumerate(layers)]
    handles.append(layers[-1].register_forward_hook(
        lambda _module, _args, output: last_output.append(output.detach().clone())))
    tower.train(training)
    torch.manual_seed(DROPOUT_SEED)
    try:
        with torch.no_grad():
            out = as_float_output(call_learner(tower, x, what=what), what,
                                  "a tensor of shape [batch]")
    finally:
        for handle in handles:
            handle.remove()
        tower.eval()
    return inputs, (last_output[-1] if last_output else None), out


def _check_input_not_dropped(on_input: _Dropped, hidden_dropped: bool) -> None:
    if _matches_rate(on_input, 0.0):
        return
    where = "as well as after the hidden layers" if hidden_dropped else \
        "instead of after the hidden layers"
    raise NotYet(f"dropout is applied to the input embeddings {where}: in training mode "
                 f"{on_input.share:.0%} of the first Linear's inputs are zeroed. The tower "
                 "drops hidden units only: put the dropout after each hidden layer's ReLU, not "
                 "on the embeddings.")


def _check_hidden_rates(hidden: list[_Dropped], keep_prob: float) -> None:
    rate = 1.0 - keep_prob
    missing = []
    for number, measured in enumerate(hidden, start=1):
        if _matches_rate(measured, rate):
            continue
        if not math.isclose(rate, keep_prob) and _matches_rate(measured, keep_prob):
            raise NotYet(f"dropout is given as the keep probability: in training mode "
                         f"{measured.share:.0%} of the units after hidden layer {number} are "
                         f"dropped, but keep_prob={keep_prob} KEEPS {keep_prob:.0%} of them. "
                         "nn.Dropout(p) and F.dropout(h, p) take the probability of DROPPING a "
                         f"unit: p = 1 - keep_prob = {rate:g}.")
        if _matches_rate(measured, 0.0):
            missing.append(number)
            continue
        raise NotYet(f"in training mode {measured.share:.0%} of the units after hidden layer "
                     f"{number} are dropped; with keep_prob={keep_prob} it should be about "
                     f"{rate:.0%}: p = 1 - keep_prob = {rate:g}.")
    if missing and len(missing) == len(hidden):
        raise NotYet(f"with keep_prob={keep_prob} no dropout is applied: in training mode no "
                     f"hidden unit is dropped. Add nn.Dropout(p=1 - keep_prob = {rate:g}) after "
                     "each hidden layer's ReLU and use it in forward.")
    if missing:
        raise NotYet(f"dropout is missing after hidden layer(s) {missing} of {len(hidden)}: "
                     f"apply nn.Dropout(p=1 - keep_prob = {rate:g}) after EVERY hidden layer's "
                     "ReLU.")


def _check_hidden_scale(hidden: list[_Dropped], keep_prob: float) -> None:
    # Kept units are the undropped ones times 1/keep_prob up to float32 rounding (6e-8
    # relative) and a hand-written forward's summation order; the wrong scales met in practice
    # (1, or 1/(1 - keep_prob)) are at least 10% away, so 1e-3 separates them on any CPU.
    wanted = 1.0 / keep_prob
    for number, measured in enumerate(hidden, start=1):
        if math.isnan(measured.scale) or math.isclose(measured.scale, wanted, rel_tol=1e-3):
            continue
        if math.isclose(measured.scale, 1.0, rel_tol=1e-3):
            raise NotYet(f"dropout is never scaled: the kept units after hidden layer {number} "
                         f"keep their value, but dropout multiplies them by 1/keep_prob = "
                         f"{wanted:g}, so that the next layer sees inputs of the same size on "
                         "average in training and in evaluation mode (nn.Dropout does it; a "
                         "hand-made mask must divide by keep_prob).")
        raise NotYet(f"the kept units after hidden layer {number} are multiplied by "
                     f"{measured.scale:.4g}; dropout scales them by 1/keep_prob = {wanted:g}.")


def _check_output_not_dropped(last_output: torch.Tensor, out: np.ndarray) -> None:
    logit = last_output.double().flatten().numpy()
    got = out.reshape(-1)
    if close(got, logit, rtol=1e-5, atol=1e-6):
        return
    if got.shape == logit.shape and np.count_nonzero(got == 0) > np.count_nonzero(logit == 0):
        raise NotYet("dropout is applied to the output logit: in training mode some outputs "
                     "are zeroed. Nothing comes after the output layer: dropout belongs after "
                     "the hidden layers only.")
    raise NotYet("in training mode the tower's output is not its last Linear's output: nothing "
                 "may come after the output layer (no dropout, no activation).")


def check_dropout(tower: nn.Module, layers: list[nn.Linear], keep_prob: float,
                   x: torch.Tensor, what: str) -> None:
    """Measure dropout on the inputs of the tower's nn.Linear layers in training mode.

    The input of Linear 0 in training mode is compared with its input in eval mode (the
    embeddings); the input of Linear l > 0 with ReLU(Linear l-1 (its training-mode input)),
    which is what it would be without dropout in that same pass. So each layer's share is
    measured on its own, not blurred by the dropout of the layers before it.
    """
    forward = f"{what}'s forward"
    if any(isinstance(m, NORMALISATIONS) for m in tower.modules()):
        # A normalisation layer behaves differently in training mode, so ReLU(Linear(...)) is
        # not what the next layer would see without dropout.
        check_dropout_without_hooks(tower, keep_prob, x, forward)
        return
    undropped, _, _ = _run_with_hooks(tower, layers, x, forward, training=False)
    trained, last_output, out = _run_with_hooks(tower, layers, x, forward, training=True)
    if len(undropped) < len(layers) or len(trained) < len(layers) or last_output is None:
        check_dropout_without_hooks(tower, keep_prob, x, forward)
        return
    with torch.no_grad():
        hidden = [_measure(torch.relu(layers[i - 1](trained[i - 1])), trained[i])
                  for i in range(1, len(layers))]
    on_input = _measure(undropped[0], trained[0])
    _check_input_not_dropped(on_input, any(not _matches_rate(h, 0.0) for h in hidden))
    _check_hidden_rates(hidden, keep_prob)
    if keep_prob < 1.0:
        _check_hidden_scale(hidden, keep_prob)
    _check_output_not_dropped(last_output, out)


def check_dropout_without_hooks(tower: nn.Module, keep_prob: float, x: torch.Tensor,
                                 what: str) -> None:
    """The fallback for a forward that never calls its nn.Linear modules (it uses their
    weights by hand), where the hooks see nothing, or a tower with a normalisation layer: the
    rates of the nn.Dropout modules, and whether two training passes differ at all."""
    wanted = 1.0 - keep_prob
    for drop in (m for m in tower.modules() if isinstance(m, nn.Dropout)):
        if math.isclose(drop.p, wanted, abs_tol=1e-9):
            continue
        if math.isclose(drop.p, keep_prob, abs_tol=1e-9):
            raise NotYet(f"dropout is given as the keep probability: nn.Dropout(p) takes the "
                         f"probability of DROPPING a unit, so keep_prob={keep_prob} means "
                         f"p = 1 - keep_prob = {wanted:g}.")
        raise NotYet(f"found nn.Dropout(p={drop.p:g}); with keep_prob={keep_prob} it should be "
                     f"p = 1 - keep_prob = {wanted:g}.")
    if keep_prob == 1.0:
        return
    tower.train()
    try:
        with torch.no_grad():
            first = as_float_output(call_learner(tower, x, what=what), what, "a tensor")
            second = as_float_output(call_learner(tower, x, what=what), what, "a tensor")
    finally:
        tower.eval()
    if np.array_equal(first, second):
        raise NotYet(f"with keep_prob={keep_prob} no dropout is applied: two forward passes in "
                     "training mode give the same output. Add nn.Dropout(p=1 - keep_prob = "
                     f"{wanted:g}) after each hidden layer's ReLU and use it in forward.")


def check_mlp(build: Callable) -> CheckResult:
    """Check ``build(num_fields, embed_dim, hidden, keep_prob) -> nn.Module``: the deep tower.

    The paper's deep component (Equations 3-4). ``build`` is usually the learner's
    ``nn.Module`` class. The module's ``forward`` takes the field embeddings ``[batch, fields,
    k]`` and returns one logit per row, ``[batch]``: flatten to ``[batch, fields*k]``, then for
    each width in ``hidden`` an ``nn.Linear`` with bias, a ReLU and dropout, then
    ``nn.Linear(hidden[-1], 1)`` with no activation. ``keep_prob`` is the paper's convention
    (probability of KEEPING a unit); torch's ``nn.Dropout`` takes ``1 - keep_prob``. The check
    rebuilds the eval-mode output from the module's own ``nn.Linear`` layers, so
    ``nn.Sequential``, a layer list or a hand-written forward all pass; in training mode it
    measures, on the inputs of those layers, the share of units dropout zeroes and the factor
    it scales the others by (dropout before or after the ReLU, ``nn.Dropout`` or
    ``F.dropout(..., training=self.training)`` all pass).

    Caught mistakes: the keep probability used as the drop rate, dropout never applied or
    missing after some hidden layer, dropout on the input embeddings instead of after the
    hidden layers, dropout on the output logit, dropout never scaled by 1/keep_prob, dropout
    always on (also in eval mode), a forgotten bias, summing the field vectors instead of
    concatenating, no output layer or a wide one, no activation between layers, tanh instead of
    ReLU, an activation or sigmoid on the output, a ``[batch, 1]`` output, and the package's
    ``deepfm_lite.layers.MLP`` used instead of building the tower.
    """

    def body() -> str:
        expect_callable(build, "check_mlp(DeepTower)")
        what = f"your tower {name_of(build)}"
        gen = torch.Generator().manual_seed(4)
        for case, (num_fields, embed_dim, hidden, keep_prob) in enumerate(TOWER_CASES):
            torch.manual_seed(case)  # the same initial weights at every run of the check
            tower = build_module(build, (num_fields, embed_dim, hidden, keep_prob), what)
            layers = _check_tower_layout(tower, num_fields, embed_dim, hidden, what)
            x = torch.randn(EVAL_BATCH, num_fields, embed_dim, generator=gen)
            _check_eval_output(tower, layers, x, what)
            check_dropout(tower, layers, keep_prob,
                           torch.randn(DROPOUT_BATCH, num_fields, embed_dim, generator=gen), what)
        return "flatten, Linear+ReLU+Dropout(1 - keep_prob) per hidden layer, one output logit."

    return run_check("check_mlp", body, PACKAGE_MLP)
