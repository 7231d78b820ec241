"""deepfm_lite: the small PyTorch package behind the deepfm-lite course."""

from . import checks as checks  # the exercises' self-checks, deepfm_lite.checks.check_*
from . import settings
from .baselines import FNN, FMAndDNN, InnerPNN, OuterPNN, PNNStar, WideAndDeep
from .data import EncodedData, Schema, split_frame
from .datasets import make_appstore
from .experiments import (
    load_results,
    paper_table2,
    run_experiments,
    run_table2,
    save_results,
    summarize,
)
from .layers import fm_second_order, inner_product
from .metrics import auc, logloss
from .models import MODELS, build_model
from .plots import plot_relative_time, plot_sweep
from .predict import predict_file
from .prepared import load_prepared, prepare_file
from .training import (
    TrainedModel,
    evaluate,
    fit,
    oracle_metrics,
    predict_proba,
    seed_everything,
    train_model,
)

__version__ = "0.1.0"
__all__ = ["settings", "EncodedData", "Schema", "split_frame", "make_appstore",
           "fm_second_order", "auc", "logloss", "MODELS", "build_model", "evaluate", "fit",
           "oracle_metrics", "predict_proba", "seed_everything", "train_model", "TrainedModel",
           "FNN", "FMAndDNN", "InnerPNN", "OuterPNN", "PNNStar", "WideAndDeep", "inner_product",
           "run_experiments", "run_table2", "paper_table2", "save_results", "load_results",
           "summarize", "plot_sweep", "plot_relative_time", "prepare_file", "load_prepared",
           "predict_file"]
