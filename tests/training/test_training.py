import numpy as np
import pandas as pd
import pytest
import torch

import deepfm_lite as dl
from deepfm_lite.course.budget import train_model
from deepfm_lite.data import EncodedData
from deepfm_lite.training import evaluate, fit, oracle_metrics, predict_proba, resolve_device


def _quick(data, name="deepfm", seed=0, **kw):
    model = dl.build_model(name, data.field_dims, seed=seed, hidden=[32, 32], dropout=0.1)
    history = fit(model, data.train, data.valid, epochs=kw.pop("epochs", 2), batch_size=512,
                  lr=kw.pop("lr", 3e-3), seed=seed, progress=False, **kw)
    return model, history


def test_fit_returns_per_epoch_history(appstore_small):
    _, history = _quick(appstore_small)
    assert list(history.columns) == ["epoch", "train_loss", "valid_auc", "valid_logloss",
                                     "seconds", "samples_per_s"]
    assert history["epoch"].tolist() == [1, 2]
    assert history["train_loss"].iloc[1] < history["train_loss"].iloc[0]
    assert (history["samples_per_s"] > 0).all()


def test_same_seed_same_metrics(appstore_small):
    m1, h1 = _quick(appstore_small, seed=5)
    m2, h2 = _quick(appstore_small, seed=5)
    pd.testing.assert_frame_equal(h1.drop(columns=["seconds", "samples_per_s"]),
                                  h2.drop(columns=["seconds", "samples_per_s"]))
    assert evaluate(m1, appstore_small.test) == evaluate(m2, appstore_small.test)


def test_predict_proba_is_sigmoid_of_logits_in_eval_mode(appstore_small):
    model, _ = _quick(appstore_small, epochs=1)
    model.train()
    p1 = predict_proba(model, appstore_small.test)
    p2 = predict_proba(model, appstore_small.test)
    assert np.array_equal(p1, p2)  # dropout is off when predicting
    assert model.training  # and the mode is restored
    assert ((p1 > 0) & (p1 < 1)).all() and p1.shape == (len(appstore_small.test),)


def test_the_prediction_batch_size_does_not_change_any_prediction(appstore_small):
    """predict_logits' default batch (PREDICT_BATCH) is a speed choice, not a numerical one.

    The matrix library may pick another kernel for another number of rows, which can move a
    logit by a float32 rounding step, so the check allows 1e-5.
    """
    from deepfm_lite.training import predict_logits
    from deepfm_lite.training.inference import PREDICT_BATCH

    model, _ = _quick(appstore_small, epochs=1)
    train = appstore_small.train
    default = predict_logits(model, train)
    assert len(train) > PREDICT_BATCH["cpu"]  # several batches, the last one partial
    for batch_size in (999, 8192, len(train)):
        torch.testing.assert_close(predict_logits(model, train, batch_size), default,
                                   rtol=0, atol=1e-5)
    torch.testing.assert_close(predict_logits(model, train.subset(slice(0, 300)), 1),
                               default[:300], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        predict_logits(model, appstore_small.test, batch_size=0)


def test_early_stopping_restores_best_epoch(appstore_small):
    model, history = _quick(appstore_small, epochs=8, lr=3e-2, patience=1)
    best = history["valid_auc"].max()
    assert len(history) < 8 or history["valid_auc"].iloc[-1] == best
    assert evaluate(model, appstore_small.valid)["auc"] == pytest.approx(best, abs=1e-12)


def test_oracle_metrics_use_p_true(appstore_small):
    oracle = oracle_metrics(appstore_small.test)
    assert 0.7 < oracle["auc"] < 0.9
    assert oracle_metrics(EncodedData(torch.zeros(2, 1, dtype=torch.long), torch.ones(2, 1),
                                      torch.tensor([0.0, 1.0]))) is None


def test_fit_rejects_bad_input(appstore_small):
    model = dl.build_model("lr", appstore_small.field_dims)
    with pytest.raises(TypeError, match="EncodedData"):
        fit(model, (appstore_small.train.ids, appstore_small.train.values))
    with pytest.raises(ValueError, match="epochs"):
        fit(model, appstore_small.train, epochs=0)
    with pytest.raises(ValueError, match="patience needs validation"):
        fit(model, appstore_small.train, patience=2)
    other = dl.build_model("lr", [3, 3])
    with pytest.raises(ValueError, match="built for 2"):
        fit(other, appstore_small.train)
    no_labels = EncodedData(appstore_small.train.ids, appstore_small.train.values)
    with pytest.raises(ValueError, match="no labels"):
        fit(model, no_labels)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            resolve_device("cuda")


def test_train_model_names_an_argument_it_does_not_take():
    from deepfm_lite.data import load_dataset

    data = load_dataset("appstore", 300, seed=0)
    with pytest.raises(ValueError, match="unknown argument.*epoch;.*epochs.*hidden"):
        train_model("deepfm", data, epoch=5)  # 'epochs' misspelt: never silently ignored
