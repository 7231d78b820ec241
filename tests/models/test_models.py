import pytest
import torch

from deepfm_lite.layers import fm_second_order
from deepfm_lite.models import MODELS, DeepFM, build_model

FIELD_DIMS = [5, 3, 7, 2]


def _batch(n=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randint(0, d, (n,), generator=generator) for d in FIELD_DIMS], 1)
    values = torch.ones(n, len(FIELD_DIMS))
    values[:, -1] = torch.randn(n, generator=generator)  # a numeric field
    return ids, values


@pytest.mark.parametrize("name", ["lr", "fm", "dnn", "deepfm"])
def test_core_models_return_logits_of_shape_batch(name):
    model = build_model(name, FIELD_DIMS, seed=0, hidden=[16, 8], dropout=0.1)
    out = model(*_batch())
    assert out.shape == (8,) and torch.isfinite(out).all()


def test_deepfm_is_sum_of_fm_and_deep_parts():
    model = build_model("deepfm", FIELD_DIMS, seed=0, hidden=[16], dropout=0.0).eval()
    ids, values = _batch()
    emb = model.embedding(ids, values)
    expected = (model.linear(ids, values) + fm_second_order(emb)
                + model.mlp(emb.flatten(1)).squeeze(1))
    assert torch.allclose(model(ids, values), expected)


def test_deepfm_parts_share_one_embedding_parameter_and_both_send_gradient():
    model = build_model("deepfm", FIELD_DIMS, seed=0, hidden=[16], dropout=0.0)
    ids, values = _batch()
    tables = [p for n, p in model.named_parameters() if "embedding" in n]
    assert len(tables) == 1  # one table, read by both parts
    emb = model.embedding(ids, values)
    fm_grad = torch.autograd.grad(fm_second_order(emb).sum(), model.embedding.weight,
                                  retain_graph=True)[0]
    deep_grad = torch.autograd.grad(model.mlp(emb.flatten(1)).sum(), model.embedding.weight)[0]
    assert fm_grad.abs().sum() > 0 and deep_grad.abs().sum() > 0
    # the full model's gradient on the table is the sum of the parts' contributions
    model.zero_grad()
    (model(ids, values).sum()).backward()
    assert torch.allclose(model.embedding.weight.grad, fm_grad + deep_grad, atol=1e-6)


def test_build_model_is_reproducible_per_seed():
    a = build_model("deepfm", FIELD_DIMS, seed=3, hidden=[8])
    b = build_model("deepfm", FIELD_DIMS, seed=3, hidden=[8])
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_build_model_rejects_unknown_name_and_bad_dims():
    with pytest.raises(ValueError, match="unknown model 'deepfmm'"):
        build_model("deepfmm", FIELD_DIMS)
    with pytest.raises(ValueError, match="field_dims"):
        DeepFM([])


def test_build_model_names_an_argument_no_model_takes():
    with pytest.raises(ValueError, match="unknown model argument.*hiden.*the models take.*hidden"):
        build_model("deepfm", FIELD_DIMS, hiden=[8])
    # An argument another model uses is fine: one configuration builds every model.
    assert build_model("lr", FIELD_DIMS, hidden=[8], dropout=0.1, pretrain_epochs=2).name == "lr"


def test_registry_holds_core_models():
    assert {"lr", "fm", "dnn", "deepfm"} <= set(MODELS)


def test_config_records_constructor_arguments():
    model = build_model("deepfm", FIELD_DIMS, embed_dim=4, hidden=[6, 6], activation="tanh",
                        dropout=0.25)
    assert model.config == {"model": "deepfm", "field_dims": FIELD_DIMS, "embed_dim": 4,
                            "hidden": [6, 6], "activation": "tanh", "dropout": 0.25,
                            "batch_norm": False}
