"""The paper's deep baselines: FNN, IPNN / OPNN / PNN*, LR & DNN, FM & DNN."""

import pytest
import torch

from deepfm_lite.data import EncodedData
from deepfm_lite.layers import inner_product, outer_product_pooled
from deepfm_lite.models import FNN, MODELS, DeepFM, FMAndDNN, build_model
from deepfm_lite.training import evaluate, fit, predict_logits, pretrain
from deepfm_lite.training.metrics import auc

torch.set_num_threads(1)

FIELD_DIMS = [7, 5, 3, 4]
NAMES = ["fnn", "ipnn", "opnn", "pnn_star", "lr_dnn", "fm_dnn"]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_inputs(n: int, field_dims=FIELD_DIMS, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randint(0, d, (n,), generator=generator) for d in field_dims], 1)
    values = torch.ones(n, len(field_dims))
    values[:, -1] = torch.randn(n, generator=generator)  # one numeric-like field
    return ids, values


def easy_data(n: int, seed: int) -> EncodedData:
    """Clicks driven by field 0 and by a field 1 x field 2 interaction: learnable in an epoch."""
    generator = torch.Generator().manual_seed(seed)
    ids, values = random_inputs(n, seed=seed)
    effect0 = torch.linspace(-2, 2, FIELD_DIMS[0])
    pair = torch.randn(FIELD_DIMS[1], FIELD_DIMS[2], generator=torch.Generator().manual_seed(99))
    logit = effect0[ids[:, 0]] + 1.5 * pair[ids[:, 1], ids[:, 2]]
    labels = torch.bernoulli(torch.sigmoid(logit), generator=generator)
    return EncodedData(ids, values, labels)


def test_registry_holds_every_baseline_after_the_core_models():
    assert list(MODELS) == ["lr", "fm", "dnn", "deepfm", *NAMES]
    for name in NAMES:
        assert build_model(name, FIELD_DIMS, hidden=[8]).config["model"] == name


@pytest.mark.parametrize("name", NAMES)
def test_logits_have_batch_shape_and_are_finite(name):
    model = build_model(name, FIELD_DIMS, seed=0, embed_dim=4, hidden=[8, 8], batch_norm=True)
    ids, values = random_inputs(32)
    logits = model(ids, values)
    assert logits.shape == (32,)
    assert torch.isfinite(logits).all()
    logits.sum().backward()  # every part is connected to the output
    assert all(p.grad is not None for p in model.parameters())


def test_inner_product_matches_explicit_loops_in_row_major_order():
    embeddings = torch.randn(3, 5, 4, dtype=torch.float64)
    expected = [[float(embeddings[b, i] @ embeddings[b, j])
                 for i in range(5) for j in range(i + 1, 5)] for b in range(3)]
    result = inner_product(embeddings)
    assert result.shape == (3, 10)
    assert torch.allclose(result, torch.tensor(expected, dtype=torch.float64))


def test_outer_product_pooled_is_sum_of_all_pairwise_outer_products():
    embeddings = torch.randn(2, 4, 3, dtype=torch.float64)
    expected = sum(torch.einsum("bk,bl->bkl", embeddings[:, i], embeddings[:, j])
                   for i in range(4) for j in range(4))
    assert torch.allclose(outer_product_pooled(embeddings), expected)


@pytest.mark.parametrize("name, extra", [("ipnn", 6), ("opnn", 9), ("pnn_star", 15)])
def test_product_signals_widen_the_mlp_input(name, extra):
    model = build_model(name, FIELD_DIMS, embed_dim=3, hidden=[8])
    first_layer = model.mlp.layers[0]
    # 4 fields x k=3 embeddings, plus 4*3/2 = 6 inner products and/or 3 x 3 outer products
    assert first_layer.in_features == 4 * 3 + extra


def test_fm_dnn_is_deepfm_with_a_second_embedding_table():
    params = dict(embed_dim=4, hidden=[8], dropout=0.0)
    deepfm = build_model("deepfm", FIELD_DIMS, seed=0, **params)
    fm_dnn = build_model("fm_dnn", FIELD_DIMS, seed=0, **params)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(fm_dnn) - count(deepfm) == sum(FIELD_DIMS) * 4
    assert fm_dnn.fm_embedding.weight.data_ptr() != fm_dnn.dnn_embedding.weight.data_ptr()
    # Give both of FM & DNN's tables DeepFM's one table: the two models then agree exactly.
    with torch.no_grad():
        fm_dnn.linear.load_state_dict(deepfm.linear.state_dict())
        fm_dnn.mlp.load_state_dict(deepfm.mlp.state_dict())
        fm_dnn.fm_embedding.weight.copy_(deepfm.embedding.weight * 50)
        fm_dnn.dnn_embedding.weight.copy_(deepfm.embedding.weight * 50)
        deepfm.embedding.weight.mul_(50)
    ids, values = random_inputs(16)
    assert torch.allclose(fm_dnn(ids, values), deepfm(ids, values), atol=1e-6)
    # ...and the FM part of FM & DNN never reads the deep part's table.
    fm_dnn(ids, values).sum().backward()
    fm_rows_grad = fm_dnn.fm_embedding.weight.grad
    with torch.no_grad():
        fm_dnn.dnn_embedding.weight.mul_(2)
    fm_dnn.zero_grad()
    fm_dnn(ids, values).sum().backward()
    assert torch.allclose(fm_dnn.fm_embedding.weight.grad, fm_rows_grad)
    assert isinstance(fm_dnn, FMAndDNN) and isinstance(deepfm, DeepFM)


def test_pretrain_copies_the_trained_fm_into_the_fnn():
    data = easy_data(2000, seed=1)
    model = build_model("fnn", FIELD_DIMS, seed=0, embed_dim=4, hidden=[8], pretrain_epochs=2)
    before = model.embedding.weight.detach().clone()
    fm = pretrain(model, data, batch_size=256, lr=0.01, seed=0, device="cpu")
    assert fm is not None and bool(model.pretrained)
    assert torch.equal(model.embedding.weight, fm.embedding.weight)
    assert torch.equal(model.first_order.weight[:, 0], fm.linear.weight)
    assert not torch.equal(model.embedding.weight, before)
    assert evaluate(fm, data)["auc"] > 0.65  # the FM was really trained
    # A second call (e.g. fit() called again to continue training) keeps what was learned.
    after = model.embedding.weight.detach().clone()
    assert pretrain(model, data, batch_size=256, lr=0.01, seed=1, device="cpu") is None
    assert torch.equal(model.embedding.weight, after)


def test_fnn_pretrained_flag_is_saved_with_the_weights():
    data = easy_data(500, seed=2)
    model = build_model("fnn", FIELD_DIMS, seed=0, embed_dim=4, hidden=[8])
    fit(model, data, epochs=1, batch_size=128, lr=0.01, seed=0, device="cpu", progress=False)
    reloaded = FNN(FIELD_DIMS, embed_dim=4, hidden=[8])
    reloaded.load_state_dict(model.state_dict())
    assert bool(reloaded.pretrained)
    assert pretrain(reloaded, data, batch_size=128, lr=0.01, seed=0, device="cpu") is None


def test_fnn_rejects_zero_pretraining_epochs():
    with pytest.raises(ValueError, match="pretrain_epochs"):
        FNN(FIELD_DIMS, pretrain_epochs=0)


@pytest.mark.parametrize("name", NAMES)
def test_one_epoch_beats_chance_on_easy_data(name):
    train, test = easy_data(6000, seed=3), easy_data(2000, seed=4)
    model = build_model(name, FIELD_DIMS, seed=0, embed_dim=4, hidden=[16], dropout=0.0)
    history = fit(model, train, epochs=1, batch_size=128, lr=0.01, seed=0, device="cpu",
                  progress=False)
    assert len(history) == 1
    oracle = auc(test.labels.numpy(), torch.sigmoid(
        torch.linspace(-2, 2, 7)[test.ids[:, 0]]).numpy())  # field 0 alone
    score = evaluate(model, test)["auc"]
    assert score > 0.6, (name, score)
    assert score > oracle - 0.05, (name, score, oracle)


@pytest.mark.parametrize("device", DEVICES)
def test_models_run_on_every_available_device(device):
    data = easy_data(600, seed=5)
    for name in NAMES:
        model = build_model(name, FIELD_DIMS, seed=0, embed_dim=4, hidden=[8])
        fit(model, data, epochs=1, batch_size=200, lr=0.01, seed=0, device=device,
            progress=False)
        assert next(model.parameters()).device.type == device
        assert torch.isfinite(predict_logits(model, data)).all()
