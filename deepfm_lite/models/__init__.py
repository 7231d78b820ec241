"""The models of the paper, one small file per family, all in one registry (:data:`MODELS`).

=========  ==================================================  ===========================
name       model                                               file
=========  ==================================================  ===========================
lr         logistic regression, the order-1 part alone         ``linear.py``
fm         FM, the paper's Equation 2                          ``linear.py``
dnn        the deep part alone, Equations 3-4                  ``deep.py``
deepfm     DeepFM, Equation 1: ``sigmoid(y_FM + y_DNN)``       ``deep.py``
fnn        the deep part, its embeddings copied from an FM     ``fnn.py``
ipnn       the deep part fed the pairwise inner products too   ``pnn.py``
opnn       ... the sum-pooled outer product                    ``pnn.py``
pnn_star   ... both products                                   ``pnn.py``
lr_dnn     Wide & Deep: LR beside a DNN ("LR & DNN")           ``wide_deep.py``
fm_dnn     FM beside a DNN with its own table ("FM & DNN")     ``wide_deep.py``
=========  ==================================================  ===========================

Each of the paper's baselines is DeepFM with one idea taken away or changed, which is what
makes the comparison informative (the paper's Table 1). All take DeepFM's arguments
(``field_dims, embed_dim, hidden, activation, dropout, batch_norm``).
"""

# Importing a family registers its models: kept in the paper's order, which is MODELS' order.
# isort: off
from .linear import FactorizationMachine, LogisticRegression
from .deep import DeepFM, DeepNetwork
from .fnn import FNN
from .pnn import InnerPNN, OuterPNN, PNNStar, ProductNetwork
from .wide_deep import FMAndDNN, WideAndDeep
# isort: on
from .registry import MODELS, CTRModel, build_model, model_arguments, register

__all__ = ["MODELS", "CTRModel", "build_model", "model_arguments", "register",
           "LogisticRegression", "FactorizationMachine", "DeepNetwork", "DeepFM", "FNN",
           "ProductNetwork", "InnerPNN", "OuterPNN", "PNNStar", "WideAndDeep", "FMAndDNN"]
