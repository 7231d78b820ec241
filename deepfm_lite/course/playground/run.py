"""The playground without widgets: check a run's settings, train, return one comparison row.

In code (``deepfm_lite.course.playground`` re-exports everything here)::

    from deepfm_lite import playground

    row = playground.run(model="dnn")          # DeepFM without its FM part
    row["auc"], row["gap_to_oracle"]

In a notebook, ``playground.show()`` shows a panel with every setting, Train and Stop buttons,
a live plot of each epoch and a comparison table (see :mod:`deepfm_lite.course.playground.widgets`).

Every run trains on the same generated sample (``data_seed``, 0 unless changed): the rows never
change between runs, so two runs differ only by the settings you changed. ``seed`` fixes the
model's initialisation, the batch order and dropout: the same settings and seed give the same
numbers on the same machine.

Time: a run costs about ``rows x epochs`` (each epoch passes over 80% of the rows once), times
a factor for the model (the deep models pay for their hidden layers, FM and LR are far cheaper),
plus generating the data the first time a ``(dataset, rows)`` pair is asked for (kept in memory
for the next runs). The defaults (DeepFM on 50,000 app-store rows, 4 epochs) need about 5 s of
CPU time (see :data:`DEFAULTS`); twice the rows or twice the epochs take about twice as long.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import pandas as pd

from ...data import DATASETS, SplitData, check_both_classes, load_dataset
from ...models import MODELS, build_model
from ...training import evaluate, fit, oracle_metrics

# The defaults a teacher starts from: the course network (notebook 05) on fewer rows, so a run
# answers a "what if" while the room waits. Measured with one torch thread (CPU time, which a busy
# machine barely changes): DeepFM 4.7 s, DNN 2.6 s, FM 0.5 s, generating the rows 0.3 s. On a
# shared 2-core machine under a load of 7, the wall time of a DeepFM run was 29-109 s.
DEFAULTS: dict[str, Any] = {
    "model": "deepfm", "dataset": "appstore", "rows": 50_000, "embed_dim": 10,
    "hidden": (200, 200, 200), "dropout": 0.2, "epochs": 4, "lr": 3e-3, "seed": 0,
}
# Fewer than 2,000 rows leave too few clicks in the 10% splits for an AUC; more than 500,000 take
# minutes a run and, for the criteo-like data, over 1.5 GB of memory (GENERATED_BYTES_PER_ROW).
ROW_LIMITS = (2_000, 500_000)
MAX_EMBED_DIM = 256
MAX_EPOCHS = 50
MAX_LAYER_WIDTH = 4096

# The columns of the comparison table, in order: the settings, then the results.
TABLE_COLUMNS = ["run", "model", "dataset", "rows", "embed_dim", "hidden", "dropout", "epochs",
                 "lr", "seed", "auc", "logloss", "oracle_auc", "gap_to_oracle", "seconds",
                 "stopped"]

USAGE = """\
The playground's panel needs a front end that shows widgets (JupyterLab or Jupyter Notebook).
Here, run the same comparison in code; each call returns one row of the comparison table:

    from deepfm_lite import playground
    rows = [playground.run(model="deepfm"), playground.run(model="dnn")]  # drop the FM part
    playground.comparison_table(rows)

Settings and their defaults:
    model={model!r}      one of {models}
    dataset={dataset!r}  one of {datasets}
    rows={rows}, embed_dim={embed_dim}, hidden={hidden!r}, dropout={dropout}, epochs={epochs},
    lr={lr}, seed={seed}
Time grows with rows x epochs: twice either takes about twice as long."""


class PlaygroundError(ValueError):
    """A playground setting that cannot be trained with; the message names the setting."""


def usage() -> str:
    """The text fallback: how to use :func:`run` where the panel cannot be shown."""
    return USAGE.format(models=", ".join(MODELS), datasets=", ".join(DATASETS),
                        **{**DEFAULTS, "hidden": "-".join(map(str, DEFAULTS["hidden"]))})


# --------------------------------------------------------------------------- settings


def parse_hidden(hidden: str | Sequence[int]) -> tuple[int, ...]:
    """Hidden layer widths from ``(200, 200)`` or the panel's text ``"200-200"``."""
    if isinstance(hidden, str):
        parts = [part for part in hidden.replace(",", "-").replace(" ", "-").split("-") if part]
        if not parts or not all(part.isdigit() for part in parts):
            raise PlaygroundError(f"hidden must be layer widths like '200-200-200', "
                                  f"got {hidden!r}")
        hidden = [int(part) for part in parts]
    try:
        widths = tuple(hidden)
    except TypeError:
        raise PlaygroundError(f"hidden must be a list of layer widths, got {hidden!r}") from None
    if not widths or not all(_is_int(w) and 1 <= w <= MAX_LAYER_WIDTH for w in widths):
        raise PlaygroundError(f"hidden must be one or more layer widths from 1 to "
                              f"{MAX_LAYER_WIDTH}, got {hidden!r}")
    return tuple(int(w) for w in widths)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require_int(name: str, value: Any, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise PlaygroundError(f"{name} must be a whole number from {low:,} to {high:,}, "
                              f"got {value!r}")
    return int(value)


def check_settings(model: str, dataset: str, rows: int, embed_dim: int,
                   hidden: str | Sequence[int], dropout: float, epochs: int, lr: float,
                   seed: int) -> dict[str, Any]:
    """The settings of one run, checked and normalised; a bad one raises
    :class:`PlaygroundError` naming it, before any data is generated."""
    if model not in MODELS:
        raise PlaygroundError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if dataset not in DATASETS:
        raise PlaygroundError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    if not _is_number(dropout) or not 0 <= dropout < 1:
        raise PlaygroundError("dropout is the probability of dropping a neuron and must be in "
                              f"[0, 1), got {dropout!r}")
    if not _is_number(lr) or not 0 < lr <= 1:
        raise PlaygroundError(f"lr must be a number in (0, 1], got {lr!r}")
    return {
        "model": model, "dataset": dataset, "rows": _require_int("rows", rows, *ROW_LIMITS),
        "embed_dim": _require_int("embed_dim", embed_dim, 1, MAX_EMBED_DIM),
        "hidden": parse_hidden(hidden), "dropout": float(dropout),
        "epochs": _require_int("epochs", epochs, 1, MAX_EPOCHS), "lr": float(lr),
        "seed": _require_int("seed", seed, 0, 2**31 - 1),
    }


# --------------------------------------------------------------------------- one run


@lru_cache(maxsize=2)  # two sizes in memory: enough to go back and forth in class
def prepared_data(dataset: str, rows: int, data_seed: int = 0) -> SplitData:
    """The generated, split and encoded data of a run (kept for the next runs that ask)."""
    data = load_dataset(dataset, rows, seed=data_seed)
    check_both_classes(data)
    return data


def run(model: str = DEFAULTS["model"], dataset: str = DEFAULTS["dataset"],
        rows: int = DEFAULTS["rows"], embed_dim: int = DEFAULTS["embed_dim"],
        hidden: str | Sequence[int] = DEFAULTS["hidden"], dropout: float = DEFAULTS["dropout"],
        epochs: int = DEFAULTS["epochs"], lr: float = DEFAULTS["lr"],
        seed: int = DEFAULTS["seed"], *, data_seed: int = 0, batch_size: int = 1024,
        on_epoch: Callable[[dict], Any] | None = None,
        should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Train ``model`` with these settings and return its row of the comparison table.

    The row holds the settings, the test split's ``auc`` and ``logloss``, the oracle's test
    AUC (the true click probability's: the ceiling), ``gap_to_oracle`` (oracle AUC minus the
    model's), ``seconds`` (wall clock of the whole call) and ``stopped``.

    ``on_epoch(row)`` is called after every epoch with fit's history row plus
    ``oracle_valid_auc`` (what a live plot needs). ``should_stop()`` is asked after every epoch;
    when it says True, training ends there, the model as it stands is tested, and the row says
    ``stopped=True`` with ``epochs`` the number of epochs actually trained.
    """
    settings = check_settings(model, dataset, rows, embed_dim, hidden, dropout, epochs, lr, seed)
    start = time.perf_counter()
    data = prepared_data(dataset, settings["rows"], data_seed)
    oracle_valid = oracle_metrics(data.valid)

    def after_epoch(row: dict) -> bool:
        if on_epoch is not None:
            on_epoch({**row, "oracle_valid_auc": oracle_valid["auc"]})
        return should_stop is not None and bool(should_stop())

    network = build_model(model, data.field_dims, seed=settings["seed"],
                          embed_dim=settings["embed_dim"], hidden=settings["hidden"],
                          dropout=settings["dropout"])
    history = fit(network, data.train, data.valid, epochs=settings["epochs"],
                  batch_size=batch_size, lr=settings["lr"], seed=settings["seed"],
                  progress=False, on_epoch=after_epoch)
    test = evaluate(network, data.test)
    oracle = oracle_metrics(data.test)
    return {
        **settings, "hidden": "-".join(map(str, settings["hidden"])), "epochs": len(history),
        "auc": test["auc"], "logloss": test["logloss"], "oracle_auc": oracle["auc"],
        "gap_to_oracle": oracle["auc"] - test["auc"],
        "seconds": time.perf_counter() - start, "stopped": len(history) < settings["epochs"],
    }


def comparison_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows of :func:`run` as a table, numbered from 1 in the order given."""
    table = pd.DataFrame([{"run": i, **row} for i, row in enumerate(rows, start=1)],
                         columns=TABLE_COLUMNS)
    return table.set_index("run")


__all__ = ["DEFAULTS", "PlaygroundError", "check_settings", "comparison_table", "parse_hidden",
           "prepared_data", "run", "usage"]
