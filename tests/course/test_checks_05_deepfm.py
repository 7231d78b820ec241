"""check_deepfm (exercise 05): DeepFM from package parts or by hand passes; a missing or wrong
order-1 term, two probabilities added, a broadcast output and the older mistakes are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checks_helpers import HandDeepFM, fails_with, passes
from torch import nn

from deepfm_lite.course import checks
from deepfm_lite.layers import MLP, FeaturesEmbedding, FeaturesLinear, fm_second_order
from deepfm_lite.models import DeepFM


def package_deepfm(field_dims):
    return DeepFM(field_dims, embed_dim=4, hidden=(16, 16), dropout=0.2)


class PartsDeepFM(nn.Module):
    """The exercise's solution: the package's parts, assembled."""

    def __init__(self, field_dims, embed_dim=8, hidden=(64, 64), dropout=0.1):
        super().__init__()
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, embed_dim)
        self.mlp = MLP(len(field_dims) * embed_dim, hidden, dropout=dropout)

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)
        y_fm = self.linear(ids, values) + fm_second_order(embeddings)
        return y_fm + self.mlp(embeddings.flatten(1)).squeeze(1)


class OneHotOrder1DeepFM(HandDeepFM):
    """The order-1 term as nn.Linear(sum(field_dims), 1) on the one-hot row; no separate bias
    beyond that layer's (the deep part's output bias could stand for it too)."""

    def __init__(self, field_dims, embed_dim=4, hidden=(16, 8), dropout=0.1):
        super().__init__(field_dims, embed_dim, hidden, dropout)
        del self.weights, self.bias
        self.wide = nn.Linear(sum(field_dims), 1)
        self.total = sum(field_dims)

    def forward(self, ids, values):
        rows = ids + self.offsets
        e = self.embedding(rows) * values.unsqueeze(-1)
        x = (F.one_hot(rows, self.total).float() * values.unsqueeze(-1)).sum(1)
        return self.wide(x).squeeze(1) + fm_second_order(e) + self.deep(e.flatten(1)).squeeze(1)


def test_deepfm_accepts_a_class_a_factory_and_an_instance():
    passes(checks.check_deepfm(HandDeepFM))
    passes(checks.check_deepfm(package_deepfm))
    passes(checks.check_deepfm(PartsDeepFM))
    passes(checks.check_deepfm(OneHotOrder1DeepFM))
    passes(checks.check_deepfm(HandDeepFM([7, 3, 2]), field_dims=[7, 3, 2]))
    passes(checks.check_deepfm(package_deepfm([4, 9])))  # field_dims read from the model


def deepfm_variant(mistake):
    """HandDeepFM with one mistake."""

    class Variant(HandDeepFM):
        def __init__(self, field_dims, embed_dim=4, hidden=(16, 8), dropout=0.1):
            super().__init__(field_dims, embed_dim, hidden, dropout)
            if mistake == "two tables":
                self.deep_embedding = nn.Embedding(sum(field_dims), embed_dim)
            if mistake == "summed deep input":
                self.deep[0] = nn.Linear(embed_dim, hidden[0])
            if mistake == "no order-1 weights":
                del self.weights

        def forward(self, ids, values):
            rows = ids + self.offsets if mistake != "no offsets" else ids
            e = self.embedding(rows) * values.unsqueeze(-1)
            order1 = self._order1(ids, rows, values)
            order2 = fm_second_order(e)
            deep_in = e.flatten(1)
            if mistake == "two tables":
                deep_in = (self.deep_embedding(rows) * values.unsqueeze(-1)).flatten(1)
            if mistake == "detached":
                deep_in = deep_in.detach()
            if mistake == "summed deep input":
                deep_in = e.sum(1)
            if mistake == "no order 2":
                order2 = 0.0
            if mistake == "missing half":
                order2 = 2 * order2
            deep = self.deep(deep_in)
            if mistake == "broadcast":
                return order1 + order2 + deep
            if mistake == "two sigmoids":
                return torch.sigmoid(order1 + order2) + torch.sigmoid(deep.squeeze(1))
            logit = order1 + order2 + deep.squeeze(1)
            if mistake == "sigmoid":
                return torch.sigmoid(logit)
            if mistake == "shape":
                return logit.unsqueeze(1)
            return logit

        def _order1(self, ids, rows, values):
            if mistake in ("no order 1", "no order-1 weights"):
                return self.bias
            if mistake == "order-1 without offsets":
                return (self.weights(ids).squeeze(-1) * values).sum(1) + self.bias
            if mistake == "order-1 without values":
                return self.weights(rows).squeeze(-1).sum(1) + self.bias
            return (self.weights(rows).squeeze(-1) * values).sum(1) + self.bias

    return Variant


@pytest.mark.parametrize("mistake, hints", [
    ("two tables", ["2 embedding tables"]),
    ("sigmoid", ["probabilities"]),
    ("detached", ["deep part sends no gradient"]),
    ("no order 2", ["fm part sends no gradient"]),
    ("missing half", ["1/2"]),
    ("no offsets", ["offsets"]),
    ("shape", ["squeeze"]),
    ("broadcast", ["[batch, batch]", "broadcast against the FM part's [batch] output",
                   "squeeze the deep output"]),
    ("two sigmoids", ["adds two probabilities", "one sigmoid to the sum", "Equation 1",
                      "returns the logit"]),
    ("summed deep input", ["first layer takes 4 inputs", "concatenated field vectors"]),
    ("no order-1 weights", ["the order-1 term <w, x> + b is missing: y_FM = <w, x> + b + "
                            "sum_{i<j}", "(Equation 2)"]),
    ("no order 1", ["the order-1 term <w, x> + b is missing", "forward does not add"]),
    ("order-1 without offsets", ["order-1 weights are read without per-field offsets"]),
    ("order-1 without values", ["order-1 weights are not multiplied by the values"]),
])
def test_deepfm_names_the_mistake(mistake, hints):
    fails_with(checks.check_deepfm(deepfm_variant(mistake)), *hints)


def test_deepfm_refuses_the_packages_fm_and_dnn():
    from deepfm_lite.models import FMAndDNN

    fails_with(checks.check_deepfm(lambda dims: FMAndDNN(dims, embed_dim=4, hidden=(8,))),
               "2 embedding tables", "FM&DNN")


def test_deepfm_without_a_shared_table_and_without_field_dims():
    class NoTable(nn.Module):
        def __init__(self, field_dims):
            super().__init__()
            self.linear = FeaturesLinear(field_dims)

        def forward(self, ids, values):
            return self.linear(ids, values)

    fails_with(checks.check_deepfm(NoTable), "no embedding table")
    fails_with(checks.check_deepfm(nn.Linear(3, 1)), "field_dims")


def test_deepfm_leaves_the_learners_model_alone():
    model = HandDeepFM([5, 4])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    passes(checks.check_deepfm(model, field_dims=[5, 4]))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
