"""deepfm_lite.checks: right answers pass, the usual wrong ones fail with their own hint.

Every check gets at least two different correct implementations (loop, vectorised, library) and
at least three wrong ones, each of which must be named by its specific hint. Learner errors
(an exception, None, a wrong shape, an unanswered exercise) must come back as feedback.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss, roc_auc_score
from torch import nn

from deepfm_lite import checks
from deepfm_lite.layers import MLP, FeaturesEmbedding, FeaturesLinear, fm_second_order
from deepfm_lite.models import DeepFM

torch.set_num_threads(1)


def passes(result: checks.CheckResult) -> None:
    assert result.passed, result.message


def fails_with(result: checks.CheckResult, *fragments: str) -> None:
    assert not result.passed, "a wrong answer passed"
    for fragment in fragments:
        assert fragment.lower() in result.message.lower(), result.message


def not_implemented(*_args):
    raise NotImplementedError()


# ---- LogLoss ------------------------------------------------------------------------------------


def logloss_numpy(y_true, y_prob):
    p = np.clip(y_prob, 1e-7, 1 - 1e-7)
    return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


def logloss_loop(y_true, y_prob):
    total = 0.0
    for y, p in zip(y_true, y_prob, strict=True):
        p = min(max(p, 1e-15), 1 - 1e-15)
        total += -math.log(p) if y == 1 else -math.log(1 - p)
    return total / len(y_true)


def logloss_torch(y_true, y_prob):
    return F.binary_cross_entropy(torch.tensor(y_prob), torch.tensor(y_true))


def logloss_sklearn(y_true, y_prob):
    return log_loss(y_true, y_prob, labels=[0, 1])


@pytest.mark.parametrize("fn", [logloss_numpy, logloss_loop, logloss_torch, logloss_sklearn])
def test_logloss_accepts_correct_implementations(fn):
    passes(checks.check_logloss(fn))


def _clip(p):
    return np.clip(p, 1e-7, 1 - 1e-7)


@pytest.mark.parametrize("fn, hint", [
    (lambda y, p: np.mean(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))), "sign"),
    (lambda y, p: -np.sum(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))), "mean"),
    (lambda y, p: -np.mean(y * np.log10(_clip(p)) + (1 - y) * np.log10(1 - _clip(p))),
     "base 10"),
    (lambda y, p: -np.mean(y * np.log(_clip(p))), "non-click term"),
    (lambda y, p: -np.mean(y * np.log(1 - _clip(p)) + (1 - y) * np.log(_clip(p))), "swapped"),
    (lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), "clip"),
    (lambda y, p: -(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p))), "one per row"),
])
def test_logloss_names_the_mistake(fn, hint):
    fails_with(checks.check_logloss(fn), hint)


# ---- AUC ----------------------------------------------------------------------------------------


def auc_pairs(y_true, y_score):
    pos = [s for s, y in zip(y_score, y_true, strict=True) if y == 1]
    neg = [s for s, y in zip(y_score, y_true, strict=True) if y == 0]
    score = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return score / (len(pos) * len(neg))


def auc_ranks(y_true, y_score):
    from scipy.stats import rankdata

    ranks = rankdata(y_score)  # average ranks for ties
    n_pos = int(np.sum(y_true))
    n_neg = len(y_true) - n_pos
    return (ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_trapezoid(y_true, y_score):
    thresholds = np.unique(y_score)[::-1]
    tpr = [0.0] + [np.mean(y_score[y_true == 1] >= t) for t in thresholds]
    fpr = [0.0] + [np.mean(y_score[y_true == 0] >= t) for t in thresholds]
    return float(np.sum(np.diff(fpr) * (np.array(tpr[1:]) + np.array(tpr[:-1])) / 2))


@pytest.mark.parametrize("fn", [auc_pairs, auc_ranks, auc_trapezoid, roc_auc_score])
def test_auc_accepts_correct_implementations(fn):
    passes(checks.check_auc(fn))


def auc_strict(y_true, y_score):
    pos, neg = y_score[y_true == 1][:, None], y_score[y_true == 0][None, :]
    return float((pos > neg).mean())


def auc_ordinal_ranks(y_true, y_score):
    ranks = np.empty(len(y_score))
    ranks[np.argsort(y_score)] = np.arange(1, len(y_score) + 1)
    n_pos = int(y_true.sum())
    return (ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y_true) - n_pos))


@pytest.mark.parametrize("fn, hint", [
    (auc_strict, "tie"),
    (lambda y, s: float((s[y == 1][:, None] >= s[y == 0][None, :]).mean()), "tie"),
    (auc_ordinal_ranks, "tie"),
    (lambda y, s: 1 - auc_pairs(y, s), "non-click scores higher"),
    (lambda y, s: float((s[y == 1][:, None] > s[y == 0][None, :]).sum()), "divide"),
    (lambda y, s: float(((s >= 0.5) == (y == 1)).mean()), "accuracy"),
])
def test_auc_names_the_mistake(fn, hint):
    fails_with(checks.check_auc(fn), hint)


# ---- FM's order-2 term ------------------------------------------------------------------------


def fm_einsum(embeddings):
    field_sum = embeddings.sum(dim=1)
    return 0.5 * (torch.einsum("bk,bk->b", field_sum, field_sum)
                  - torch.einsum("bfk,bfk->b", embeddings, embeddings))


def fm_running_sum(embeddings):
    """A loop over fields, still O(k n): each field meets the sum of the fields before it."""
    running = torch.zeros_like(embeddings[:, 0])
    total = torch.zeros(embeddings.shape[0])
    for f in range(embeddings.shape[1]):
        total = total + (embeddings[:, f] * running).sum(dim=1)
        running = running + embeddings[:, f]
    return total


def fm_numpy(embeddings):
    e = embeddings.numpy().astype(np.float64)
    return 0.5 * ((e.sum(axis=1) ** 2).sum(axis=1) - (e ** 2).sum(axis=(1, 2)))


@pytest.mark.parametrize("fn", [fm_second_order, fm_einsum, fm_running_sum, fm_numpy])
def test_fm_accepts_correct_implementations(fn):
    passes(checks.check_fm_second_order(fn))


def fm_pair_loop(embeddings):
    total = torch.zeros(embeddings.shape[0])
    for i in range(embeddings.shape[1]):
        for j in range(i + 1, embeddings.shape[1]):
            total = total + (embeddings[:, i] * embeddings[:, j]).sum(dim=1)
    return total


def fm_gram_matrix(embeddings):
    gram = embeddings @ embeddings.transpose(1, 2)
    return torch.triu(gram, diagonal=1).sum(dim=(1, 2))


@pytest.mark.parametrize("fn, hint", [
    (lambda e: (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(1), "1/2 is missing"),
    (lambda e: 0.5 * (e.pow(2).sum(1) - e.pow(2).sum(1)).sum(1), "cancel"),
    (lambda e: 0.5 * (e.sum(2).pow(2) - e.pow(2).sum(2)).sum(1), "wrong axis"),
    (lambda e: 0.5 * e.sum(1).pow(2).sum(1), "not subtracted"),
    (lambda e: 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)), "sum over the k"),
    (lambda e: 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).mean(1), "average"),
    (fm_pair_loop, "fields^2"),
    (fm_gram_matrix, "fields^2"),
])
def test_fm_names_the_mistake(fn, hint):
    fails_with(checks.check_fm_second_order(fn), hint)


# ---- embedding lookup -----------------------------------------------------------------------


def offsets_of(field_dims):
    return torch.tensor([0, *np.cumsum(field_dims)[:-1].tolist()])


def embed_index(ids, values, table, field_dims):
    return table[ids + offsets_of(field_dims)] * values.unsqueeze(-1)


def embed_one_hot(ids, values, table, field_dims):
    one_hot = F.one_hot(ids + offsets_of(field_dims), num_classes=table.shape[0]).float()
    return (one_hot @ table) * values[..., None]


def embed_field_loop(ids, values, table, field_dims):
    vectors, start = [], 0
    for f, size in enumerate(field_dims):
        vectors.append(F.embedding(ids[:, f], table[start:start + size]) * values[:, f:f + 1])
        start += size
    return torch.stack(vectors, dim=1)


def embed_package(ids, values, table, field_dims):
    layer = FeaturesEmbedding(field_dims, table.shape[1])
    with torch.no_grad():
        layer.weight.copy_(table)
    return layer(ids, values)


@pytest.mark.parametrize("fn", [embed_index, embed_one_hot, embed_field_loop, embed_package])
def test_lookup_accepts_correct_implementations(fn):
    passes(checks.check_embedding_lookup(fn))


def embed_inclusive_cumsum(ids, values, table, field_dims):
    return table[ids + torch.cumsum(torch.tensor(field_dims), 0)] * values.unsqueeze(-1)


@pytest.mark.parametrize("fn, hint", [
    (lambda ids, values, table, dims: table[ids] * values.unsqueeze(-1), "offsets are not added"),
    (lambda ids, values, table, dims: table[ids + offsets_of(dims)], "value"),
    (lambda ids, values, table, dims: embed_index(ids, values, table, dims).flatten(1),
     "not flattened"),
    (lambda ids, values, table, dims: embed_index(ids, values, table, dims).sum(1), "do not sum"),
    (embed_inclusive_cumsum, "offsets are [0, d0"),
])
def test_lookup_names_the_mistake(fn, hint):
    fails_with(checks.check_embedding_lookup(fn), hint)


# ---- the deep tower ---------------------------------------------------------------------------


class SequentialTower(nn.Module):
    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__()
        layers, width = [], num_fields * embed_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(1 - keep_prob)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, embeddings):
        return self.net(embeddings.flatten(1)).squeeze(-1)


class PackageTower(nn.Module):
    def __init__(self, num_fields, embed_dim, hidden, keep_prob):
        super().__init__()
        self.mlp = MLP(num_fields * embed_dim, hidden, dropout=1 - keep_prob)

    def forward(self, embeddings):
        return self.mlp(embeddings.reshape(embeddings.shape[0], -1))[:, 0]


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


@pytest.mark.parametrize("build", [SequentialTower, PackageTower, FunctionalDropoutTower])
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
    (tower(dropout=lambda keep: keep), "keep probability"),
    (tower(bias=False), "bias"),
    (tower(output=nn.Sigmoid), "sigmoid"),
    (tower(output=nn.ReLU), "after the output layer"),
    (tower(act=None), "no activation"),
    (tower(act=nn.Tanh), "tanh"),
    (tower(pool=True), "concatenate"),
    (tower(squeeze=False), "squeeze"),
    (tower(dropout=lambda keep: 0.0), "should be p = 1 - keep_prob"),
    (tower(dropout=None), "no dropout is applied"),
])
def test_mlp_names_the_mistake(build, hint):
    fails_with(checks.check_mlp(build), hint)


# ---- DeepFM -----------------------------------------------------------------------------------


class HandDeepFM(nn.Module):
    """DeepFM from torch parts: nn.Embedding with offsets, FM written out, nn.Sequential."""

    def __init__(self, field_dims, embed_dim=4, hidden=(16, 8), dropout=0.1):
        super().__init__()
        self.register_buffer("offsets", offsets_of(field_dims))
        self.weights = nn.Embedding(sum(field_dims), 1)
        self.bias = nn.Parameter(torch.zeros(1))
        self.embedding = nn.Embedding(sum(field_dims), embed_dim)
        width, layers = len(field_dims) * embed_dim, []
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.deep = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, ids, values):
        rows = ids + self.offsets
        e = self.embedding(rows) * values.unsqueeze(-1)
        order1 = (self.weights(rows).squeeze(-1) * values).sum(1) + self.bias
        order2 = fm_pair_loop(e)
        return order1 + order2 + self.deep(e.flatten(1)).squeeze(1)


def package_deepfm(field_dims):
    return DeepFM(field_dims, embed_dim=4, hidden=(16, 16), dropout=0.2)


def test_deepfm_accepts_a_class_a_factory_and_an_instance():
    passes(checks.check_deepfm(HandDeepFM))
    passes(checks.check_deepfm(package_deepfm))
    passes(checks.check_deepfm(HandDeepFM([7, 3, 2]), field_dims=[7, 3, 2]))
    passes(checks.check_deepfm(package_deepfm([4, 9])))  # field_dims read from the model


def deepfm_variant(mistake):
    """HandDeepFM with one mistake."""

    class Variant(HandDeepFM):
        def __init__(self, field_dims, embed_dim=4, hidden=(16, 8), dropout=0.1):
            super().__init__(field_dims, embed_dim, hidden, dropout)
            if mistake == "two tables":
                self.deep_embedding = nn.Embedding(sum(field_dims), embed_dim)

        def forward(self, ids, values):
            rows = ids + self.offsets if mistake != "no offsets" else ids
            e = self.embedding(rows) * values.unsqueeze(-1)
            order1 = (self.weights(rows).squeeze(-1) * values).sum(1) + self.bias
            order2 = fm_second_order(e)
            deep_in = e
            if mistake == "two tables":
                deep_in = self.deep_embedding(rows) * values.unsqueeze(-1)
            if mistake == "detached":
                deep_in = e.detach()
            if mistake == "no order 2":
                order2 = 0.0
            if mistake == "missing half":
                order2 = 2 * order2
            logit = order1 + order2 + self.deep(deep_in.flatten(1)).squeeze(1)
            if mistake == "sigmoid":
                return torch.sigmoid(logit)
            if mistake == "shape":
                return logit.unsqueeze(1)
            return logit

    return Variant


@pytest.mark.parametrize("mistake, hint", [
    ("two tables", "2 embedding tables"),
    ("sigmoid", "probabilities"),
    ("detached", "deep part sends no gradient"),
    ("no order 2", "fm part sends no gradient"),
    ("missing half", "1/2"),
    ("no offsets", "offsets"),
    ("shape", "squeeze"),
])
def test_deepfm_names_the_mistake(mistake, hint):
    fails_with(checks.check_deepfm(deepfm_variant(mistake)), hint)


def test_deepfm_refuses_the_packages_fm_and_dnn():
    from deepfm_lite.baselines import FMAndDNN

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


# ---- inner-product layer --------------------------------------------------------------------


def ip_triu(embeddings):
    rows, cols = torch.triu_indices(embeddings.shape[1], embeddings.shape[1], offset=1)
    return (embeddings[:, rows] * embeddings[:, cols]).sum(-1)


def ip_loops(embeddings):
    f = embeddings.shape[1]
    return torch.stack([embeddings[:, i] @ torch.ones(embeddings.shape[2]) * 0
                        + (embeddings[:, i] * embeddings[:, j]).sum(1)
                        for i in range(f) for j in range(i + 1, f)], dim=1)


def ip_bmm_mask(embeddings):
    f = embeddings.shape[1]
    gram = torch.bmm(embeddings, embeddings.transpose(1, 2))
    mask = torch.ones(f, f, dtype=torch.bool).triu(1)
    return gram[:, mask]


@pytest.mark.parametrize("fn", [ip_triu, ip_loops, ip_bmm_mask])
def test_inner_product_accepts_correct_implementations(fn):
    passes(checks.check_inner_product(fn))


def ip_column_major(embeddings):
    f = embeddings.shape[1]
    return torch.stack([(embeddings[:, i] * embeddings[:, j]).sum(1)
                        for j in range(f) for i in range(j)], dim=1)


@pytest.mark.parametrize("fn, hint", [
    (ip_column_major, "another order"),
    (lambda e: (e[:, torch.triu_indices(e.shape[1], e.shape[1])[0]]
                * e[:, torch.triu_indices(e.shape[1], e.shape[1])[1]]).sum(-1), "i = j"),
    (lambda e: e @ e.transpose(1, 2), "full [fields, fields]"),
    (lambda e: e[:, torch.triu_indices(e.shape[1], e.shape[1], 1)[0]]
     * e[:, torch.triu_indices(e.shape[1], e.shape[1], 1)[1]], "sum the element-wise"),
    (lambda e: ip_triu(F.normalize(e, dim=2)), "cosine"),
    (lambda e: ip_triu(e).sum(1), "one column per pair"),
])
def test_inner_product_names_the_mistake(fn, hint):
    fails_with(checks.check_inner_product(fn), hint)


# ---- learner errors become feedback, never tracebacks ------------------------------------------

ALL_FUNCTION_CHECKS = [checks.check_logloss, checks.check_auc, checks.check_fm_second_order,
                       checks.check_embedding_lookup, checks.check_inner_product,
                       checks.check_mlp, checks.check_deepfm]


@pytest.mark.parametrize("check", ALL_FUNCTION_CHECKS, ids=lambda c: c.__name__)
def test_unanswered_exercise_is_not_yet(check, capsys):
    result = check(not_implemented)
    fails_with(result, "not written yet", "# YOUR CODE HERE")
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("Not yet")


@pytest.mark.parametrize("check", ALL_FUNCTION_CHECKS, ids=lambda c: c.__name__)
def test_learner_exception_none_and_non_callable_are_feedback(check):
    def broken(*_args):
        raise ValueError("field 3 is odd")

    fails_with(check(broken), "raised ValueError", "field 3 is odd")
    fails_with(check(lambda *_args: None), "returned None")
    fails_with(check(None), "got None")
    fails_with(check(42), "int")


def test_wrong_type_and_dtype_are_feedback():
    fails_with(checks.check_logloss(lambda y, p: "0.5"), "str")
    fails_with(checks.check_fm_second_order(lambda e: torch.zeros(e.shape[0], dtype=torch.long)),
               "integers")
    fails_with(checks.check_embedding_lookup(lambda ids, values, table, dims: ids), "integers")
    fails_with(checks.check_inner_product(lambda e: torch.full((e.shape[0], 1), float("nan"))),
               "NaN")
    fails_with(checks.check_inner_product(lambda e: ip_triu(e)[:, :1]), "expected [3, 10]")


def test_pass_line_starts_with_the_pass_mark(capsys):
    result = checks.check_fm_second_order(fm_second_order)
    assert result.line.startswith(checks.PASS_MARK)
    assert capsys.readouterr().out.strip() == result.line


def test_checks_keep_the_callers_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_mlp(SequentialTower)
    checks.check_deepfm(HandDeepFM)
    assert torch.equal(torch.rand(3), expected)


# ---- ablation -----------------------------------------------------------------------------------


def sweep_table(aucs: dict, x: str = "dropout", model: str = "deepfm", seeds=(0, 1, 2),
                changes=None) -> pd.DataFrame:
    """A table shaped like run_experiments' output: one row per (value of x, seed)."""
    rows = []
    for i, (value, per_seed) in enumerate(aucs.items()):
        params = {"embed_dim": 8, "hidden": [64, 64], "activation": "relu", "dropout": 0.1,
                  "batch_norm": False, x: value, **((changes or {}).get(i, {}))}
        for seed, auc_value in zip(seeds, per_seed, strict=True):
            rows.append({"model": model, "label": f"{x}={value}", "params": json.dumps(params),
                         "seed": seed, "auc": auc_value, "logloss": 1 - auc_value,
                         "train_seconds": 1.0, "samples_per_s": 1e4, "epochs_run": 2, x: value})
    return pd.DataFrame(rows)


OVERLAPPING = {0.0: [0.700, 0.702, 0.698], 0.1: [0.705, 0.699, 0.707], 0.3: [0.712, 0.690, 0.691]}
SEPARATED = {0.0: [0.700, 0.702, 0.698], 0.1: [0.720, 0.722, 0.721], 0.3: [0.690, 0.691, 0.689]}


def read_plot(results, x="dropout", metric="auc"):
    """The reading a learner should make, computed from the table."""
    stats = results.groupby(x)[metric].agg(["mean", "min", "max"])
    order = stats["mean"].sort_values(ascending=metric == "logloss").index
    best, runner_up = order[0], order[1]
    overlap = (stats.loc[best, "min"] <= stats.loc[runner_up, "max"]
               and stats.loc[runner_up, "min"] <= stats.loc[best, "max"])
    return best, bool(overlap)


@pytest.fixture(scope="module")
def real_sweep():
    from deepfm_lite.datasets import load_dataset
    from deepfm_lite.experiments import run_experiments

    data = load_dataset("appstore", 3000, seed=0)
    configs = [{"model": "deepfm", "embed_dim": 4, "hidden": [8], "dropout": p}
               for p in (0.0, 0.2, 0.5)]
    return run_experiments(configs, data, seeds=(0, 1), epochs=1, batch_size=256, lr=1e-2,
                           progress=False)


def test_ablation_accepts_a_real_sweep_read_right(real_sweep):
    best, overlap = read_plot(real_sweep)
    passes(checks.check_ablation(real_sweep, x="dropout", best=best, bands_overlap=overlap))


@pytest.mark.parametrize("table", [OVERLAPPING, SEPARATED])
def test_ablation_accepts_other_sweeps_and_metrics(table):
    results = sweep_table(table)
    best, overlap = read_plot(results)
    passes(checks.check_ablation(results, "dropout", best, overlap))
    best, overlap = read_plot(results, metric="logloss")
    passes(checks.check_ablation(results, "dropout", best, overlap, metric="logloss"))
    width = sweep_table({16: table[0.0], 64: table[0.1], 256: table[0.3]}, x="embed_dim")
    passes(checks.check_ablation(width, "embed_dim", 64, overlap))


@pytest.mark.parametrize("results, kwargs, hint", [
    (None, {}, "results is None"),
    ([{"model": "deepfm"}], {}, "expected the DataFrame"),
    (sweep_table(OVERLAPPING).drop(columns="dropout"), {}, "no column 'dropout'"),
    (pd.concat([sweep_table(OVERLAPPING), sweep_table(OVERLAPPING, model="fm")]), {},
     "several models"),
    (sweep_table({0.0: [0.7, 0.7, 0.7], 0.1: [0.7, 0.7, 0.7]}), {}, "at least three values"),
    (sweep_table({0.0: [0.7], 0.1: [0.71], 0.3: [0.69]}, seeds=(0,)), {}, "at least 2 seeds"),
    (sweep_table(OVERLAPPING).drop(index=[0]), {}, "same seeds"),
    (sweep_table(OVERLAPPING, changes={2: {"hidden": [128, 128]}}), {}, "hidden also change"),
    (sweep_table(OVERLAPPING), {"best": 0.1}, "now read the plot"),
    (sweep_table(OVERLAPPING), {"best": 0.3, "bands_overlap": True}, "single best run"),
    (sweep_table(OVERLAPPING), {"best": 0.9, "bands_overlap": True}, "keep probability"),
    (sweep_table(OVERLAPPING), {"best": 0.1, "bands_overlap": False}, "they do overlap"),
    (sweep_table(SEPARATED), {"best": 0.1, "bands_overlap": True}, "do not overlap"),
    (sweep_table(SEPARATED), {"best": 0.3, "bands_overlap": False, "metric": "logloss"},
     "lower is better"),
    (sweep_table(SEPARATED), {"best": 0.1, "bands_overlap": "no"}, "True or False"),
])
def test_ablation_names_the_mistake(results, kwargs, hint):
    fails_with(checks.check_ablation(results, **{"x": "dropout", **kwargs}), hint)
