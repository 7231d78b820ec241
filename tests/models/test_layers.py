import pytest
import torch

from deepfm_lite.layers import (
    MLP,
    FeaturesEmbedding,
    FeaturesLinear,
    field_offsets,
    fm_second_order,
    fm_second_order_pairwise,
    keep_prob_to_dropout,
)


@pytest.mark.parametrize("seed", range(5))
def test_fm_second_order_equals_pairwise_double_sum_float64(seed):
    generator = torch.Generator().manual_seed(seed)
    emb = torch.randn(16, 7, 5, generator=generator, dtype=torch.float64)
    explicit = torch.zeros(16, dtype=torch.float64)
    for i in range(7):
        for j in range(i + 1, 7):
            explicit += (emb[:, i, :] * emb[:, j, :]).sum(-1)
    assert torch.allclose(fm_second_order(emb), explicit, atol=1e-12, rtol=0)
    assert torch.allclose(fm_second_order_pairwise(emb), explicit, atol=1e-12, rtol=0)


def test_fm_second_order_shape_and_single_field():
    assert fm_second_order(torch.randn(3, 4, 2)).shape == (3,)
    assert torch.equal(fm_second_order(torch.randn(3, 1, 2)), torch.zeros(3))


def test_field_offsets():
    assert field_offsets([3, 5, 2]).tolist() == [0, 3, 8]


def test_embedding_lookup_equals_one_hot_times_matrix():
    field_dims = [3, 4, 2]
    layer = FeaturesEmbedding(field_dims, embed_dim=6)
    ids = torch.tensor([[0, 3, 1], [2, 0, 0]])
    values = torch.ones(2, 3)
    one_hot = torch.zeros(2, 3, sum(field_dims))
    for b in range(2):
        for f, offset in enumerate([0, 3, 7]):
            one_hot[b, f, offset + ids[b, f]] = 1.0
    expected = one_hot @ layer.weight
    assert torch.allclose(layer(ids, values), expected, atol=1e-7)


def test_numeric_field_enters_as_value_times_vector():
    layer = FeaturesEmbedding([2], embed_dim=4)
    out = layer(torch.tensor([[0], [0]]), torch.tensor([[2.5], [-1.0]]))
    assert torch.allclose(out[0, 0], 2.5 * layer.weight[0])
    assert torch.allclose(out[1, 0], -1.0 * layer.weight[0])


def test_linear_starts_at_zero_and_uses_offsets():
    layer = FeaturesLinear([2, 3])
    ids = torch.tensor([[1, 2]])
    assert layer(ids, torch.ones(1, 2)).item() == 0.0
    with torch.no_grad():
        layer.weight.copy_(torch.arange(5.0))
        layer.bias.fill_(0.5)
    # field 0 id 1 -> row 1; field 1 id 2 -> row 2 + 2 = 4
    assert layer(ids, torch.ones(1, 2)).item() == pytest.approx(1 + 4 + 0.5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_shapes_and_activation(activation):
    mlp = MLP(12, [8, 4], activation=activation, dropout=0.3, batch_norm=True)
    assert mlp(torch.randn(5, 12)).shape == (5, 1)
    names = [type(m).__name__ for m in mlp.layers]
    assert names.count("Linear") == 3 and "BatchNorm1d" in names


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        MLP(4, [3], activation="gelu")
    with pytest.raises(ValueError, match="drop probability"):
        MLP(4, [3], dropout=1.0)


def test_keep_probability_conversion():
    assert keep_prob_to_dropout(0.9) == pytest.approx(0.1)
    # the number a reader types, not 0.09999999999999998: a sweep's table compares equal to it
    assert [keep_prob_to_dropout(k) for k in (0.9, 0.7, 0.6)] == [0.1, 0.3, 0.4]
    assert keep_prob_to_dropout(1.0) == 0.0
    with pytest.raises(ValueError, match="keep_prob"):
        keep_prob_to_dropout(0.0)


# ---- pooled_field: a multi-valued field (Company*'s downloaded apps) as one field vector ----


def _apps_table():
    from deepfm_lite.layers import FeaturesEmbedding
    torch.manual_seed(0)
    return FeaturesEmbedding([3, 6, 2], embed_dim=4, init_std=1.0)  # field 1: six "apps"


def test_pooled_field_is_the_hand_computed_mean_and_sum_of_the_rows():
    from deepfm_lite.layers import pooled_field
    table = _apps_table()
    ids = torch.tensor([[1, 4, 5], [2, 0, 0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    rows = table.weight[3:9]  # field 1 starts at row 3
    total = torch.stack([rows[1] + rows[4] + rows[5], rows[2]])
    assert torch.allclose(pooled_field(table, 1, ids, mask, mode="sum"), total)
    mean = torch.stack([(rows[1] + rows[4] + rows[5]) / 3, rows[2]])
    assert torch.allclose(pooled_field(table, 1, ids, mask), mean)


def test_a_padded_position_contributes_nothing_whatever_id_it_holds():
    from deepfm_lite.layers import pooled_field
    table = _apps_table()
    mask = torch.tensor([[1, 1, 0, 0]])
    for padding in ([0, 0], [5, 3], [-1, -1]):
        ids = torch.tensor([[2, 4, *padding]])
        for mode in ("sum", "mean"):
            assert torch.allclose(pooled_field(table, 1, ids, mask, mode=mode),
                                  pooled_field(table, 1, ids[:, :2], mask[:, :2], mode=mode))
    empty = pooled_field(table, 1, torch.tensor([[3, 3]]), torch.tensor([[0, 0]]))
    assert torch.equal(empty, torch.zeros(1, 4))  # no apps: the zero vector, no NaN


def test_a_field_with_one_id_equals_the_ordinary_lookup():
    from deepfm_lite.layers import pooled_field
    table = _apps_table()
    ids = torch.tensor([[0, 5, 1], [2, 3, 0]])
    ordinary = table(ids, torch.ones(2, 3))[:, 1]
    for mode in ("sum", "mean"):
        one = pooled_field(table, 1, ids[:, 1:2], torch.ones(2, 1, dtype=torch.bool), mode=mode)
        assert torch.equal(one, ordinary)


def test_sum_pooling_gives_fm_the_pairs_of_each_id_with_the_other_fields():
    from deepfm_lite.layers import fm_second_order, pooled_field
    table = _apps_table()
    ids, mask = torch.tensor([[1, 4]]), torch.ones(1, 2, dtype=torch.bool)
    others = table(torch.tensor([[2, 0, 1]]), torch.ones(1, 3))[:, [0, 2]]  # fields 0 and 2
    apps = pooled_field(table, 1, ids, mask, mode="sum")
    fields = torch.cat([others, apps.unsqueeze(1)], dim=1)
    pairs = (others[0, 0] * others[0, 1]).sum() + sum(
        (others[0, f] * table.weight[3 + a]).sum() for f in range(2) for a in (1, 4))
    assert torch.allclose(fm_second_order(fields), pairs.reshape(1), atol=1e-6)


def test_pooled_field_names_bad_arguments():
    from deepfm_lite.layers import pooled_field
    table = _apps_table()
    ids = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="mode"):
        pooled_field(table, 1, ids, torch.ones(1, 2), mode="max")
    with pytest.raises(ValueError, match="batch, length"):
        pooled_field(table, 1, ids, torch.ones(1, 3))
