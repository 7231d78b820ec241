"""What the tests of deepfm_lite.course.checks share: the verdict helpers and a few right answers.

Imported by the ``test_checks_*.py`` files (pytest puts tests/ on sys.path for them).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from deepfm_lite.course import checks


def passes(result: checks.CheckResult) -> None:
    assert result.passed, result.message
    assert result.line.startswith(f"{checks.PASS_MARK} {result.check} passed: ")


def fails_with(result: checks.CheckResult, *fragments: str) -> None:
    assert not result.passed, "a wrong answer passed"
    assert result.line.startswith(f"{checks.NOT_YET} ({result.check}): ")
    for fragment in fragments:
        assert fragment.lower() in result.message.lower(), result.message


def not_implemented(*_args):
    raise NotImplementedError()


def offsets_of(field_dims):
    return torch.tensor([0, *np.cumsum(field_dims)[:-1].tolist()])


def fm_pair_loop(embeddings):
    """FM's order-2 term as the O(k n^2) double sum."""
    total = torch.zeros(embeddings.shape[0])
    for i in range(embeddings.shape[1]):
        for j in range(i + 1, embeddings.shape[1]):
            total = total + (embeddings[:, i] * embeddings[:, j]).sum(dim=1)
    return total


def ip_triu(embeddings):
    """IPNN's inner products, one column per pair i < j, row-major."""
    rows, cols = torch.triu_indices(embeddings.shape[1], embeddings.shape[1], offset=1)
    return (embeddings[:, rows] * embeddings[:, cols]).sum(-1)


class SequentialTower(nn.Module):
    """The deep tower as exercise 04's solution builds it."""

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
