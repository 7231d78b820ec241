"""check_mlp (exercise 04): towers built from nn.Linear in any style pass; layer mistakes and
every dropout mistake (rate, place, scaling, eval mode) are named, the package's MLP refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checks_helpers import SequentialTower, fails_with, passes
from torch import nn

from deepfm_lite.course import checks
from deepfm_lite.layers import MLP


class FunctionalDropoutTower(nn.Module):
    """Layers in a ModuleList, functional ReLU and dropout."""

    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__()
        widths = [num_fields * embed_dim, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], 1)
        self.drop = 1 - keep_prob

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for layer in self.hidden:
            h = F.dropout(F.relu(layer(h)), self.drop, self.training)
        return self.out(h).view(-1)


class DropoutBeforeReluTower(SequentialTower):
    """Linear -> Dropout -> ReLU: the same, since dropout's mask and scale commute with ReLU."""

    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__(num_fields, embed_dim, hidden, keep_prob)
        layers = list(self.net)
        for i in range(0, len(layers) - 1, 3):
            layers[i + 1], layers[i + 2] = layers[i + 2], layers[i + 1]
        self.net = nn.Sequential(*layers)


class HandMaskTower(FunctionalDropoutTower):
    """A hand-made inverted-dropout mask that follows self.training."""

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        keep = 1 - self.drop
        for layer in self.hidden:
            h = F.relu(layer(h))
            if self.training:
                h = h * (torch.rand_like(h) < keep).float() / keep
        return self.out(h).squeeze(1)


class FieldsLastTower(SequentialTower):
    """Concatenates the vectors coordinate by coordinate: another order of the same inputs."""

    def forward(self, embeddings):
        return self.net(embeddings.transpose(1, 2).flatten(1)).squeeze(-1)


class WeightsByHandTower(SequentialTower):
    """Uses the Linear layers' weights without calling the modules (no hooks fire)."""

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for module in self.net:
            h = F.linear(h, module.weight, module.bias) if isinstance(module, nn.Linear) \
                else module(h)
        return h.squeeze(-1)


class BatchNormTower(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Dropout: more than the exercise asks, still a tower."""

    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__()
        self.mlp = nn.Sequential()
        width = num_fields * embed_dim
        for size in hidden:
            self.mlp.extend([nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(),
                             nn.Dropout(1 - keep_prob)])
            width = size
        self.mlp.append(nn.Linear(width, 1))

    def forward(self, embeddings):
        return self.mlp(embeddings.flatten(1)).squeeze(-1)


@pytest.mark.parametrize("build", [SequentialTower, FunctionalDropoutTower, DropoutBeforeReluTower,
                                   HandMaskTower, FieldsLastTower, WeightsByHandTower,
                                   BatchNormTower])
def test_mlp_accepts_correct_implementations(build):
    passes(checks.check_mlp(build))


def tower(output=None, act=nn.ReLU, dropout=lambda keep: 1 - keep, bias=True, pool=False,
          squeeze=True):
    """A tower builder with one deliberate mistake switched on."""

    class Tower(nn.Module):
        def __init__(self, num_fields, embed_dim, hidden, keep_prob):
            super().__init__()
            layers, width = [], embed_dim if pool else num_fields * embed_dim
            for size in hidden:
                layers += [nn.Linear(width, size, bias=bias)]
                layers += [act()] if act is not None else []
                layers += [nn.Dropout(dropout(keep_prob))] if dropout is not None else []
                width = size
            layers.append(nn.Linear(width, 1, bias=bias))
            layers += [output()] if output is not None else []
            self.net = nn.Sequential(*layers)

        def forward(self, embeddings):
            x = embeddings.sum(1) if pool else embeddings.flatten(1)
            out = self.net(x)
            return out.squeeze(-1) if squeeze else out

    return Tower


@pytest.mark.parametrize("build, hint", [
    (tower(dropout=lambda keep: keep), "given as the keep probability"),
    (tower(bias=False), "bias"),
    (tower(output=nn.Sigmoid), "sigmoid"),
    (tower(output=nn.ReLU), "after the output layer"),
    (tower(act=None), "no activation"),
    (tower(act=nn.Tanh), "tanh"),
    (tower(pool=True), "concatenate"),
    (tower(squeeze=False), "squeeze"),
    (tower(dropout=lambda keep: 0.0), "no dropout is applied"),
    (tower(dropout=None), "no dropout is applied"),
    (tower(dropout=lambda keep: 0.5), "should be about 20%"),
])
def test_mlp_names_the_mistake(build, hint):
    fails_with(checks.check_mlp(build), hint)


class KeepAsRateTower(FunctionalDropoutTower):
    """F.dropout with the keep probability as its drop rate, and no nn.Dropout module."""

    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__(num_fields, embed_dim, hidden, keep_prob)
        self.keep_prob = keep_prob

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for layer in self.hidden:
            h = F.dropout(F.relu(layer(h)), p=self.keep_prob, training=self.training)
        return self.out(h).squeeze(-1)


class AlwaysOnTower(FunctionalDropoutTower):
    """F.dropout without training=...: its default is True, so it drops in eval mode too."""

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for layer in self.hidden:
            h = F.dropout(F.relu(layer(h)), self.drop)
        return self.out(h).squeeze(-1)


class AlwaysOnMaskTower(FunctionalDropoutTower):
    """A hand-made mask that ignores self.training."""

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for layer in self.hidden:
            h = F.relu(layer(h))
            h = h * (torch.rand_like(h) >= self.drop).float() / (1 - self.drop)
        return self.out(h).squeeze(-1)


class UnscaledMaskTower(FunctionalDropoutTower):
    """Drops the right share in training mode but never scales the kept units."""

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for layer in self.hidden:
            h = F.relu(layer(h))
            if self.training:
                h = h * (torch.rand_like(h) >= self.drop).float()
        return self.out(h).squeeze(-1)


class InputDropoutTower(nn.Module):
    """Dropout on the embeddings, before the first Linear, and nowhere else."""

    def __init__(self, num_fields, embed_dim, hidden, keep_prob, also_hidden=False):
        super().__init__()
        self.drop = nn.Dropout(1 - keep_prob)
        layers, width = [], num_fields * embed_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            layers += [nn.Dropout(1 - keep_prob)] if also_hidden else []
            width = size
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, embeddings):
        return self.net(self.drop(embeddings.flatten(1))).squeeze(-1)


class InputAndHiddenDropoutTower(InputDropoutTower):
    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__(num_fields, embed_dim, hidden, keep_prob, also_hidden=True)


class FirstLayerOnlyTower(FunctionalDropoutTower):
    """Dropout after the first hidden layer only."""

    def forward(self, embeddings):
        h = embeddings.flatten(1)
        for i, layer in enumerate(self.hidden):
            h = F.relu(layer(h))
            h = F.dropout(h, self.drop, self.training) if i == 0 else h
        return self.out(h).squeeze(-1)


class OutputDropoutTower(SequentialTower):
    """Dropout after the output layer too."""

    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__(num_fields, embed_dim, hidden, keep_prob)
        self.out_drop = nn.Dropout(1 - keep_prob)

    def forward(self, embeddings):
        return self.out_drop(self.net(embeddings.flatten(1))).squeeze(-1)


class PackageTower(nn.Module):
    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__()
        self.mlp = MLP(num_fields * embed_dim, hidden, dropout=1 - keep_prob)

    def forward(self, embeddings):
        return self.mlp(embeddings.reshape(embeddings.shape[0], -1))[:, 0]


@pytest.mark.parametrize("build, hints", [
    (KeepAsRateTower, ["given as the keep probability", "p = 1 - keep_prob = 0.2"]),
    (AlwaysOnTower, ["dropout must be off in eval mode", "training=self.training"]),
    (AlwaysOnMaskTower, ["dropout must be off in eval mode", "self.training"]),
    (UnscaledMaskTower, ["never scaled", "1/keep_prob = 1.25"]),
    (InputDropoutTower, ["input embeddings instead of after the hidden layers"]),
    (InputAndHiddenDropoutTower, ["input embeddings as well as after the hidden layers"]),
    (FirstLayerOnlyTower, ["missing after hidden layer(s) [2] of 2"]),
    (OutputDropoutTower, ["output logit"]),
    (PackageTower, ["calls deepfm_lite.layers.MLP", "build the tower yourself"]),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_mlp_names_each_dropout_mistake(build, hints):
    fails_with(checks.check_mlp(build), *hints)


def test_mlp_without_hooks_still_checks_the_dropout_rates():
    """A forward that uses the Linear weights by hand hides the layer inputs from the check;
    the rates of its nn.Dropout modules and a training-mode difference are checked instead."""

    class KeepAsRateByHand(WeightsByHandTower):
        def __init__(self, num_fields, embed_dim, hidden, keep_prob):
            super().__init__(num_fields, embed_dim, hidden, 1 - keep_prob)

    class NoDropoutByHand(WeightsByHandTower):
        def __init__(self, num_fields, embed_dim, hidden, keep_prob):
            super().__init__(num_fields, embed_dim, hidden, 1.0)

    fails_with(checks.check_mlp(KeepAsRateByHand), "given as the keep probability")
    fails_with(checks.check_mlp(NoDropoutByHand), "p = 1 - keep_prob")


def test_mlp_dropout_measurement_leaves_the_tower_in_eval_mode_and_unhooked():
    from deepfm_lite.course.checks import ex04_deep_tower

    built = SequentialTower(3, 4, (16, 8), 0.8)
    layers = ex04_deep_tower.linear_layers(built)
    ex04_deep_tower.check_dropout(built, layers, 0.8, torch.randn(512, 3, 4), "your tower")
    assert not built.training
    assert all(not layer._forward_pre_hooks and not layer._forward_hooks for layer in layers)
