"""check_deepfm (exercise 05): DeepFM from package parts or by hand passes; a missing or wrong
order-1 term, two probabilities added, a broadcast output and the older mistakes are named, and
so is every mistake confined to one of the two parts: the rows it reads, its slice of the
vector, its values, its own sigmoid, its dropout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from checks_helpers import (
    HandDeepFM,
    SequentialTower,
    fails_with,
    fm_pair_loop,
    offsets_of,
    passes,
)
from torch import nn

from deepfm_lite.course import checks
from deepfm_lite.layers import (
    MLP,
    FeaturesEmbedding,
    FeaturesLinear,
    fm_second_order,
    keep_prob_to_dropout,
)
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


# ---- a mistake in one of the two parts --------------------------------------------------------


def one_part_variant(mistake):
    """HandDeepFM with one mistake confined to the FM part or to the deep part: the model
    trains, its output has the right shape, and the whole-model probes alone would pass it."""

    class Variant(HandDeepFM):
        def __init__(self, field_dims, embed_dim=4, hidden=(16, 8), dropout=0.1):
            p = {"keep probability": 1 - dropout, "fixed dropout": 0.5,
                 "no dropout": 0.0}.get(mistake, dropout)
            super().__init__(field_dims, embed_dim, hidden, p)
            self.dropout = dropout
            if mistake == "no dropout":
                self.deep = nn.Sequential(*[m for m in self.deep if not isinstance(m, nn.Dropout)])
            if mistake == "split table":  # one table twice as wide, a half for each part
                self.embedding = nn.Embedding(sum(field_dims), 2 * embed_dim)
            if mistake == "deep half vector":
                self.deep[0] = nn.Linear(len(field_dims) * embed_dim // 2, hidden[0])
            if mistake == "deep skips a field":
                self.deep[0] = nn.Linear((len(field_dims) - 1) * embed_dim, hidden[0])

        def forward(self, ids, values):
            rows = ids + self.offsets
            table_rows = self.embedding(rows)
            e = table_rows * values.unsqueeze(-1)
            fm_e, deep_in = e, e.flatten(1)
            if mistake == "deep without offsets":
                deep_in = (self.embedding(ids) * values.unsqueeze(-1)).flatten(1)
            if mistake == "fm without offsets":
                fm_e = self.embedding(ids) * values.unsqueeze(-1)
            if mistake == "deep without values":
                deep_in = table_rows.flatten(1)
            if mistake == "deep without offsets or values":
                deep_in = self.embedding(ids).flatten(1)
            if mistake == "deep reads other rows":
                deep_in = (self.embedding((rows + 1) % self.embedding.num_embeddings)
                           * values.unsqueeze(-1)).flatten(1)
            if mistake == "deep tanh":
                deep_in = torch.tanh(e).flatten(1)
            if mistake == "deep values twice":
                deep_in = (e * values.unsqueeze(-1)).flatten(1)
            if mistake == "fm values twice":
                fm_e = e * values.unsqueeze(-1)
            if mistake == "split table":
                half = e.shape[-1] // 2
                fm_e, deep_in = e[..., :half], e[..., half:].flatten(1)
            if mistake == "fm half vector":
                fm_e = e[..., : e.shape[-1] // 2]
            if mistake == "deep half vector":
                deep_in = e[..., : e.shape[-1] // 2].flatten(1)
            if mistake == "deep skips a field":
                deep_in = e[:, 1:].flatten(1)
            if mistake == "dropout on in eval":
                deep_in = F.dropout(deep_in, self.dropout)
            y_fm = (self.weights(rows).squeeze(-1) * values).sum(1) + self.bias + \
                fm_pair_loop(fm_e)
            y_dnn = self.deep(deep_in).squeeze(1)
            if mistake == "deep sigmoid":
                y_dnn = torch.sigmoid(y_dnn)
            if mistake == "fm sigmoid":
                y_fm = torch.sigmoid(y_fm)
            return y_fm + y_dnn

    return Variant


DEEP_NO_OFFSETS = ["the deep part reads the shared table without the field offsets",
                   "while the FM part uses them", "different rows of the one table"]
KEEP_AS_DROP = ["drops 90% of the units", "p = 0.9 = 1 - dropout", "dropout=0.1",
                "keep probability passed as torch's drop probability"]


@pytest.mark.parametrize("mistake, hints", [
    ("deep without offsets", DEEP_NO_OFFSETS),
    ("deep without offsets or values", ["deep part reads the shared table without the field "
                                        "offsets"]),
    ("fm without offsets", ["the FM part reads the shared table without per-field offsets"]),
    ("deep without values", ["the deep part's field vectors are not multiplied by their values",
                             "(the FM part's are)"]),
    ("deep reads other rows", ["the deep part reads rows", "which the FM part does not read",
                               "offset_f + id"]),
    ("deep tanh", ["first layer does not receive the FM part's field vectors"]),
    ("deep values twice", ["the deep part multiplies its field vectors by their values twice"]),
    ("fm values twice", ["the FM part multiplies its field vectors by their values twice"]),
    ("split table", ["the FM part uses only columns 0..3 of the 8",
                     "the deep part columns 4..7", "different slices of each vector"]),
    ("fm half vector", ["the FM part uses only columns 0..1 of the 4"]),
    ("deep half vector", ["the deep part uses only columns 0..1 of the 4"]),
    ("deep skips a field", ["the deep part does not read field(s) [0]"]),
    ("deep sigmoid", ["the deep part ends with its own sigmoid", "sigmoid(0) = 0.5"]),
    ("fm sigmoid", ["the FM part has its own sigmoid", "ONE sigmoid to the sum"]),
    ("keep probability", KEEP_AS_DROP),
    ("fixed dropout", ["dropout uses p = 0.5, not your class's dropout=0.1",
                       "pass the `dropout` argument on"]),
    ("no dropout", ["takes dropout=0.1 but the deep part applies no dropout"]),
    ("dropout on in eval", ["in eval mode two forward passes", "dropout is still on",
                            "training=self.training"]),
])
def test_deepfm_names_a_mistake_in_one_part(mistake, hints):
    fails_with(checks.check_deepfm(one_part_variant(mistake)), *hints)


def parts_variant(mistake):
    """The exercise's solution (package parts) with one mistake in one part, as learners write
    it: the deep part reading the table's weight by the raw ids, or the dropout argument taken
    for the paper's keep probability (converted, or handed to exercise 04's tower)."""

    class Variant(PartsDeepFM):
        def __init__(self, field_dims, embed_dim=8, hidden=(64, 64), dropout=0.1):
            super().__init__(field_dims, embed_dim, hidden, dropout)
            width = len(field_dims) * embed_dim
            if mistake == "MLP(dropout=1 - dropout)":
                self.mlp = MLP(width, hidden, dropout=1 - dropout)
            if mistake == "keep_prob_to_dropout(dropout)":
                self.mlp = MLP(width, hidden, dropout=keep_prob_to_dropout(dropout))
            if mistake == "exercise 04's tower, keep_prob=dropout":
                self.mlp = SequentialTower(len(field_dims), embed_dim, hidden, keep_prob=dropout)

        def forward(self, ids, values):
            embeddings = self.embedding(ids, values)
            y_fm = self.linear(ids, values) + fm_second_order(embeddings)
            deep_in = embeddings.flatten(1)
            if mistake == "deep reads weight[ids]":
                deep_in = (self.embedding.weight[ids] * values.unsqueeze(-1)).flatten(1)
            if mistake == "exercise 04's tower, keep_prob=dropout":
                return y_fm + self.mlp(embeddings)
            return y_fm + self.mlp(deep_in).squeeze(1)

    return Variant


@pytest.mark.parametrize("mistake, hints", [
    ("deep reads weight[ids]", DEEP_NO_OFFSETS),
    ("MLP(dropout=1 - dropout)", KEEP_AS_DROP),
    ("keep_prob_to_dropout(dropout)", KEEP_AS_DROP),
    ("exercise 04's tower, keep_prob=dropout", KEEP_AS_DROP),
])
def test_deepfm_names_a_mistake_in_one_of_the_package_parts(mistake, hints):
    fails_with(checks.check_deepfm(parts_variant(mistake)), *hints)


def test_deepfm_without_the_classs_default_takes_a_large_p_for_a_keep_probability():
    fails_with(checks.check_deepfm(HandDeepFM([5, 4], dropout=0.9), field_dims=[5, 4]),
               "drops 90% of the units", "keep probability passed as torch's drop probability",
               "p = 1 - 0.9 = 0.1")
    fails_with(checks.check_deepfm(lambda dims: package_deepfm_with_dropout(dims, 0.8)),
               "drops 80% of the units")
    passes(checks.check_deepfm(lambda dims: package_deepfm_with_dropout(dims, 0.5)))


def package_deepfm_with_dropout(field_dims, dropout):
    return DeepFM(field_dims, embed_dim=4, hidden=(16, 16), dropout=dropout)


class HandTower(nn.Module):
    """DeepFM with no nn.Linear and no dropout module: weight matrices and a hand-made mask."""

    def __init__(self, field_dims, embed_dim=4, hidden=8, dropout=0.1):
        super().__init__()
        self.register_buffer("offsets", offsets_of(field_dims))
        self.w = nn.Parameter(torch.zeros(sum(field_dims)))
        self.table = nn.Parameter(torch.randn(sum(field_dims), embed_dim) * 0.1)
        self.hidden = nn.Parameter(torch.randn(len(field_dims) * embed_dim, hidden) * 0.3)
        self.out = nn.Parameter(torch.randn(hidden) * 0.3)
        self.dropout = dropout

    def forward(self, ids, values):
        rows = ids + self.offsets
        e = self.table[rows] * values.unsqueeze(-1)
        h = torch.relu(e.flatten(1) @ self.hidden)
        if self.training:
            h = h * (torch.rand_like(h) >= self.dropout) / (1 - self.dropout)
        return (self.w[rows] * values).sum(1) + fm_pair_loop(e) + h @ self.out


class FieldMajorDeepFM(HandDeepFM):
    """The deep input coordinate after coordinate (e.transpose(1, 2).flatten(1)): the same
    first layer, its inputs in another order."""

    def forward(self, ids, values):
        rows = ids + self.offsets
        e = self.embedding(rows) * values.unsqueeze(-1)
        order1 = (self.weights(rows).squeeze(-1) * values).sum(1) + self.bias
        return order1 + fm_pair_loop(e) + self.deep(e.transpose(1, 2).flatten(1)).squeeze(1)


def test_deepfm_part_probes_accept_right_models_they_cannot_read_the_same_way():
    passes(checks.check_deepfm(DeepFM))  # its own default, dropout=0.5: keep and drop agree
    passes(checks.check_deepfm(HandTower))
    passes(checks.check_deepfm(FieldMajorDeepFM))
    passes(checks.check_deepfm(lambda dims: HandDeepFM(dims, dropout=0.0)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("field_dims", [[5, 3, 4, 2], [7, 3, 2], [4, 9], [10, 1, 3]])
def test_deepfm_part_probes_accept_every_initialisation(seed, field_dims):
    torch.manual_seed(seed)
    passes(checks.check_deepfm(HandDeepFM(field_dims, embed_dim=2, hidden=(3,)),
                               field_dims=field_dims))
    passes(checks.check_deepfm(package_deepfm(field_dims), field_dims=field_dims))
