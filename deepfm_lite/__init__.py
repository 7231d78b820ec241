"""deepfm_lite: the small PyTorch package behind the deepfm-lite course."""

from . import checks as checks  # the exercises' self-checks, deepfm_lite.checks.check_*
from . import settings
from .data import EncodedData, Schema, split_frame
from .datasets import make_appstore
from .layers import fm_second_order
from .metrics import auc, logloss
from .models import MODELS, build_model
from .training import evaluate, fit, oracle_metrics, predict_proba, seed_everything

__version__ = "0.1.0"
__all__ = ["settings", "EncodedData", "Schema", "split_frame", "make_appstore",
           "fm_second_order", "auc", "logloss", "MODELS", "build_model", "evaluate", "fit",
           "oracle_metrics", "predict_proba", "seed_everything"]
