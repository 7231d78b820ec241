"""deepfm_lite: the small PyTorch package behind the deepfm-lite course.

Four wings, one folder each (the README's package table says what each module holds):

* the model library: :mod:`~deepfm_lite.layers`, :mod:`~deepfm_lite.models`,
  :mod:`~deepfm_lite.training`, :mod:`~deepfm_lite.checkpoint`, :mod:`~deepfm_lite.predict`,
  :mod:`~deepfm_lite.experiments`;
* the data pipeline: :mod:`~deepfm_lite.data`;
* the course aids: :mod:`deepfm_lite.course` (quizzes, exercise checks, figures, the
  playground, the interview), imported by name: ``from deepfm_lite.course import quiz``;
* the command line: :mod:`deepfm_lite.cli` (``python -m deepfm_lite``).

The course and the command line use the library and the data pipeline, never the reverse:
``import deepfm_lite`` loads neither of them.
"""

import importlib

from . import settings
from .checkpoint import load, save
from .data import EncodedData, Schema, SplitData, load_dataset, make_appstore, split_frame
from .data.prepared import load_prepared, prepare_file
from .experiments import (
    load_results,
    paper_table2,
    run_experiments,
    run_table2,
    save_results,
    summarize,
)
from .layers import fm_second_order, inner_product
from .models import MODELS, build_model
from .predict import predict_file
from .training import (
    TrainingDiverged,
    auc,
    evaluate,
    fit,
    logloss,
    oracle_metrics,
    predict_proba,
    seed_everything,
)

__version__ = "0.1.0"
__all__ = ["settings", "load", "save", "EncodedData", "Schema", "SplitData", "load_dataset",
           "make_appstore", "split_frame", "load_prepared", "prepare_file", "load_results",
           "paper_table2", "run_experiments", "run_table2", "save_results", "summarize",
           "fm_second_order", "inner_product", "MODELS", "build_model", "predict_file",
           "TrainingDiverged", "auc", "evaluate", "fit", "logloss", "oracle_metrics",
           "predict_proba", "seed_everything"]

# The course aids lived at the top of the package before they moved to deepfm_lite.course; a
# learner's exercise saved before the move still runs ``from deepfm_lite import checks``.
MOVED_TO_COURSE = ("analysis", "checks", "explore", "interview", "mock_interview", "playground",
                   "plots", "progress", "quiz", "timing")


def __getattr__(name: str):
    """A moved course aid asked for by its old top-level name, imported on first use."""
    if name in MOVED_TO_COURSE:
        return importlib.import_module(f"{__name__}.course.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
