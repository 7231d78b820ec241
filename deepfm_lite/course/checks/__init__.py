"""Self-checks for the exercises in ``exercises/``: one call after each exercise cell.

Every check takes the learner's function, module or result as its first argument, runs it on
small inputs the check makes itself, and compares the answer with a reference written here.
When the answer is wrong it is also compared with the usual wrong answers (the missing 1/2,
offsets not added, ties counted as misses, ...) so the feedback can name the mistake.

A check never raises: an exception from the learner's code, a ``None`` return, a wrong shape
or dtype, a call that does not return within ``common.CALL_TIMEOUT_S`` seconds (5), or a call
to library code the exercise asks the learner to write (scikit-learn's metrics in 01, the
package's layers in 02, 03, 04 and 06) all come back as a sentence. The feedback is one line,
``✅ check_x passed: ...`` or ``Not yet (check_x): ...``; it is shown in the notebook (printed
outside Jupyter) and returned as a :class:`CheckResult` with ``passed``, ``message`` and
``line``.

Checks keep the notebook's random state as it was: they draw their inputs from their own
generators and build the learner's modules inside :func:`torch.random.fork_rng`.

Layout: ``common`` holds what every check shares (the result and its display, calling learner
code with a time limit and a watch for forbidden library calls, reading what it returns,
comparing numbers); each ``exNN_*`` module holds the check of exercise NN and nothing else,
``ex05_parts`` the probes of exercise 05 that test its FM and deep parts one at a time.
Exercise modules import from ``common`` only, except ``ex05_deepfm`` and ``ex05_parts``, which
reuse the references of exercises 02 and 03; no module of the package imports from this
``__init__``, so there are no import cycles.
"""

from .common import NOT_WRITTEN, NOT_YET, PASS_MARK, CheckResult
from .ex01_metrics import check_auc, check_logloss
from .ex02_fm_second_order import check_fm_second_order
from .ex03_embedding_lookup import check_embedding_lookup
from .ex04_deep_tower import check_mlp
from .ex05_deepfm import CHECK_FIELD_DIMS, check_deepfm
from .ex06_inner_product import check_inner_product
from .ex07_ablation import RESULT_COLUMNS, TRAINING_COLUMNS, check_ablation

__all__ = ["CheckResult", "PASS_MARK", "NOT_YET", "NOT_WRITTEN", "check_logloss", "check_auc",
           "check_fm_second_order", "check_embedding_lookup", "check_mlp", "check_deepfm",
           "check_inner_product", "check_ablation", "CHECK_FIELD_DIMS", "RESULT_COLUMNS",
           "TRAINING_COLUMNS"]
