"""Training and evaluation: fit, evaluate and predict over pre-encoded tensors.

=================  ==========================================================================
``loop``           :func:`fit` (Adam on BCE-with-logits, early stopping, divergence), FNN's
                   :func:`pretrain`
``inference``      :func:`predict_proba`, :func:`evaluate`, :func:`oracle_metrics`, and the
                   checks data passes where it enters
``metrics``        :func:`auc` and :func:`logloss`, written plainly
``gpu``            mixed precision and pinned memory on CUDA
``distributed``    the same training under ``torchrun`` (DistributedDataParallel)
``peers``          which rank stopped answering when a collective fails under ``torchrun``
=================  ==========================================================================
"""

from .inference import evaluate, oracle_metrics, predict_logits, predict_proba
from .loop import (
    EarlyStopping,
    TrainingDiverged,
    fit,
    pretrain,
    resolve_device,
    seed_everything,
)
from .metrics import auc, logloss

__all__ = ["EarlyStopping", "TrainingDiverged", "auc", "evaluate", "fit", "logloss",
           "oracle_metrics", "predict_logits", "predict_proba", "pretrain", "resolve_device",
           "seed_everything"]
