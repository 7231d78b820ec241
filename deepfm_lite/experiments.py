"""Run lists of model configurations over seeds, and keep the results as a tidy table.

One row per (configuration, seed): the model, its parameters, the test AUC and LogLoss and the
training cost. The paper's Table 2 is here too, as data, and :func:`run_table2` rebuilds it on a
course data set at one of the :data:`SCALES`.

A configuration is a dict::

    {"model": "deepfm", "dropout": 0.2, "label": "keep 0.8", "epochs": 3}

``model`` names an entry of :data:`deepfm_lite.models.MODELS`; ``label`` (optional) names the
configuration in tables and plots; ``epochs``, ``lr``, ``batch_size`` and ``weight_decay``
override the run's training settings; every other key is passed to the model's constructor.
"""

from __future__ import annotations

import inspect
import io
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import torch

from . import settings
from .data import SplitData, load_dataset
from .data.atomic import write_atomically
from .models import MODELS, build_model
from .training import evaluate, fit, oracle_metrics, predict_proba, resolve_device

TRAINING_KEYS = ("epochs", "lr", "batch_size", "weight_decay")
RESULT_COLUMNS = ("model", "label", "params", "seed", "auc", "logloss", "train_seconds",
                  "cpu_seconds", "samples_per_s", "epochs_run")
METRICS = ("auc", "logloss", "train_seconds", "cpu_seconds", "samples_per_s")
_CSV_MARKER = "# deepfm_lite results; dtypes="
# pandas 3 parses floats exactly by default and deprecates the option; pandas 2 needs it.
_EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


# ---- configurations ---------------------------------------------------------------------------


def model_parameters(name: str) -> dict[str, Any]:
    """The constructor parameters of model ``name`` with their defaults (``field_dims`` aside)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    signature = inspect.signature(MODELS[name].__init__)
    return {p.name: p.default for p in signature.parameters.values()
            if p.name not in ("self", "field_dims")
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _default_label(model: str, params: dict, training: dict) -> str:
    settings_text = ", ".join(f"{key}={value}" for key, value in {**params, **training}.items())
    return f"{model}({settings_text})" if settings_text else model


def _check_config(index: int, config: Any, field_dims: Sequence[int]) -> dict:
    """Validate one configuration; errors name it by its index in the list."""
    if not isinstance(config, dict):
        raise TypeError(f"config {index} must be a dict with a 'model' key, "
                        f"got {type(config).__name__}")
    if "model" not in config:
        raise ValueError(f"config {index} has no 'model' key: {config}")
    name = config["model"]
    if name not in MODELS:
        raise ValueError(f"config {index}: unknown model {name!r}; "
                         f"choose one of {', '.join(MODELS)}")
    accepted = model_parameters(name)
    params = {k: v for k, v in config.items() if k not in ("model", "label", *TRAINING_KEYS)}
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"config {index} ({name}): unknown parameter(s) {', '.join(unknown)}; "
                         f"{name!r} accepts {', '.join(accepted) or 'no parameters'} and the "
                         f"training settings {', '.join(TRAINING_KEYS)}")
    training = {k: config[k] for k in TRAINING_KEYS if k in config}
    label = config.get("label") or _default_label(name, params, training)
    try:  # build once now, so a bad value fails before any training starts
        with torch.random.fork_rng(devices=[]):  # ... without touching the caller's RNG
            build_model(name, field_dims, **params)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config {index} ({label}): {error}") from error
    return {"model": name, "label": str(label), "params": params, "training": training}


MAX_SEED = 2**32 - 1  # numpy's legacy generator takes 0..2**32 - 1; torch takes these alike


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                            for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds}")
    wrong = [int(s) for s in seeds if not 0 <= s <= MAX_SEED]
    if wrong:
        raise ValueError(f"seeds must be integers from 0 to {MAX_SEED} (2**32 - 1), got "
                         f"{wrong[0]}")
    return [int(s) for s in seeds]


# ---- the runner -------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """A parameter value as a table cell: lists become '400-400-400'."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return value


def _typed_column(values: list) -> pd.Series:
    """One swept-parameter column with a dtype that survives a CSV round-trip."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        dtype = "bool" if len(present) == len(values) else "boolean"
        return pd.Series(values, dtype=dtype)
    if present and all(isinstance(v, (int, float, np.integer, np.floating))
                       and not isinstance(v, (bool, np.bool_)) for v in present):
        all_int = all(isinstance(v, (int, np.integer)) for v in present)
        dtype = "int64" if all_int and len(present) == len(values) else "float64"
        return pd.Series([np.nan if v is None else v for v in values], dtype=dtype)
    return pd.Series([None if v is None else str(v) for v in values], dtype=object)


def run_experiments(configs: Sequence[dict], data: SplitData, seeds: Iterable[int] = (0, 1, 2),
                    *, epochs: int = 2, batch_size: int = 1024, lr: float = 1e-3,
                    weight_decay: float = 0.0, device: str = "auto",
                    progress: bool | None = None,
                    num_threads: int | None = None) -> pd.DataFrame:
    """Train every configuration with every seed on ``data.train``; score it on ``data.test``.

    Returns one row per run with the columns ``model, label, params, seed, auc, logloss,
    train_seconds, cpu_seconds, samples_per_s, epochs_run`` and one column for each parameter
    any configuration sets (its effective value in every row; empty where a model lacks it).
    ``params`` is the model's full parameter set as a JSON string. ``train_seconds`` is the
    wall-clock time of :func:`~deepfm_lite.fit` (pre-training such as FNN's FM included);
    ``cpu_seconds`` the processor time this process spent in it, all threads together, which
    other programs on a shared machine disturb far less. Same seeds, same machine: same AUC
    and LogLoss.

    ``num_threads`` sets torch's CPU threads for the run (restored afterwards). For the
    course's small models one thread is usually fastest: on a busy machine, threads that wait
    for each other can make a run many times slower.
    """
    if not isinstance(data, SplitData):
        raise TypeError("data must be a SplitData (from deepfm_lite.data.load_dataset), "
                        f"got {type(data).__name__}")
    if isinstance(configs, dict) or not isinstance(configs, Sequence) or not configs:
        raise TypeError("configs must be a non-empty list of dicts")
    checked = [_check_config(i, config, data.field_dims) for i, config in enumerate(configs)]
    seeds = _check_seeds(seeds)
    defaults = {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                "weight_decay": weight_decay}
    swept = list(dict.fromkeys(key for c in checked for key in (*c["params"], *c["training"])))
    clash = set(swept) & set(RESULT_COLUMNS)
    if clash:
        raise ValueError(f"parameter name(s) {sorted(clash)} clash with result columns")
    target = resolve_device(device)
    show = settings.progress if progress is None else progress

    if num_threads is not None and int(num_threads) < 1:
        raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}")


    threads_before = torch.get_num_threads()
    rows = []
    bar = settings.progress_bar(total=len(checked) * len(seeds), disable=not show,
                                desc="experiments")
    try:
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        _warm_up(data, target)
        for config in checked:
            training = {**defaults, **config["training"]}
            for seed in seeds:
                bar.set_postfix_str(f"{config['label']} seed {seed}")
                rows.append(_run_one(config, training, seed, data, target))
                bar.update(1)
    finally:
        bar.close()
        torch.set_num_threads(threads_before)
    return _results_frame(rows, swept)


def _warm_up(data: SplitData, device) -> None:
    """Train a throw-away LR on a few rows, untimed, so that one-time start-up costs (lazy
    imports, first allocations) do not land in the first configuration's training time: the
    first is usually LR, the baseline every relative time is divided by."""
    with torch.random.fork_rng(devices=[]):
        model = build_model("lr", data.field_dims)
        fit(model, data.train.subset(slice(0, 256)), epochs=1, batch_size=128, seed=0,
            device=device, progress=False)
        predict_proba(model, data.test.subset(slice(0, 256)))


def _run_one(config: dict, training: dict, seed: int, data: SplitData, device) -> dict:
    model = build_model(config["model"], data.field_dims, seed=seed, **config["params"])
    cpu_start = time.process_time()
    history = fit(model, data.train, epochs=int(training["epochs"]),
                  batch_size=int(training["batch_size"]), lr=float(training["lr"]),
                  weight_decay=float(training["weight_decay"]), seed=seed, device=device,
                  progress=False)
    cpu_seconds = time.process_time() - cpu_start
    scores = evaluate(model, data.test)
    params = {k: v for k, v in model.config.items() if k not in ("model", "field_dims")}
    seconds = float(history["seconds"].sum())
    effective = {**params, **training}
    return {"model": config["model"], "label": config["label"],
            "params": json.dumps(params, sort_keys=True), "seed": seed,
            "auc": scores["auc"], "logloss": scores["logloss"], "train_seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "samples_per_s": len(data.train) * len(history) / seconds,
            "epochs_run": len(history), "_values": effective}


def _results_frame(rows: list[dict], swept: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([{k: v for k, v in row.items() if k != "_values"} for row in rows],
                         columns=list(RESULT_COLUMNS))
    frame = frame.astype({"model": object, "label": object, "params": object, "seed": "int64",
                          "auc": "float64", "logloss": "float64", "train_seconds": "float64",
                          "cpu_seconds": "float64", "samples_per_s": "float64",
                          "epochs_run": "int64"})
    for key in swept:
        frame[key] = _typed_column([_cell(row["_values"].get(key)) for row in rows])
    return frame


# ---- saving, loading, summarising -------------------------------------------------------------


def save_results(results: pd.DataFrame, path: str | Path) -> Path:
    """Write ``results`` as CSV, a first comment line recording the dtypes (see load_results).

    The file appears whole or not at all (:func:`~deepfm_lite.data.atomic.write_atomically`):
    a full disk or an interruption leaves the previous file at ``path`` as it was.
    """
    path = Path(path)
    dtypes = {column: str(dtype) for column, dtype in results.dtypes.items()}

    def write(file: BinaryIO) -> None:
        handle = io.TextIOWrapper(file, encoding="utf-8", newline="")
        try:
            handle.write(_CSV_MARKER + json.dumps(dtypes) + "\n")
            results.to_csv(handle, index=False)
        finally:
            handle.detach()  # flushed; the file stays open for write_atomically to sync

    write_atomically(path, write)
    return path


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`save_results`, with every column's dtype as it was saved."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        first = handle.readline()
        if not first.startswith(_CSV_MARKER):
            handle.seek(0)
            return pd.read_csv(handle, **_EXACT_FLOATS)
        dtypes = json.loads(first[len(_CSV_MARKER):])
        text_columns = [c for c, d in dtypes.items() if d == "object"]
        frame = pd.read_csv(handle, dtype={c: d for c, d in dtypes.items() if d != "object"}
                            | {c: str for c in text_columns}, keep_default_na=False,
                            na_values={c: [""] for c in dtypes}, **_EXACT_FLOATS)
    for column in text_columns:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def summarize(results: pd.DataFrame, by: str | Sequence[str] = ("model", "label"),
              metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean, std, min and max of each metric over seeds, one row per configuration.

    Columns are ``<metric>_mean``, ``<metric>_std``, ``<metric>_min``, ``<metric>_max`` and
    ``runs``; rows keep the order in which the configurations first appear.
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in (*by, *metrics) if c not in results.columns]
    if missing:
        raise ValueError(f"results have no column(s) {missing}; "
                         f"available: {', '.join(results.columns)}")
    grouped = results.groupby(by, sort=False, dropna=False)
    stats = grouped[list(metrics)].agg(["mean", "std", "min", "max"])
    stats.columns = [f"{metric}_{stat}" for metric, stat in stats.columns]
    stats["runs"] = grouped.size()
    return stats.reset_index()


# ---- the paper's Table 2 and the scales it is rebuilt at --------------------------------------

PAPER_VERSION = "arXiv 1703.04247"

# (registry name, the paper's name, Company* AUC, Company* LogLoss, Criteo AUC, Criteo LogLoss)
_TABLE2_ARXIV = (
    ("lr", "LR", 0.8640, 0.02648, 0.7686, 0.47762),
    ("fm", "FM", 0.8678, 0.02633, 0.7892, 0.46077),
    ("fnn", "FNN", 0.8683, 0.02629, 0.7963, 0.45738),
    ("ipnn", "IPNN", 0.8664, 0.02637, 0.7972, 0.45323),
    ("opnn", "OPNN", 0.8658, 0.02641, 0.7982, 0.45256),
    ("pnn_star", "PNN*", 0.8672, 0.02636, 0.7987, 0.45214),
    ("lr_dnn", "LR&DNN", 0.8673, 0.02634, 0.7981, 0.46772),
    ("fm_dnn", "FM&DNN", 0.8661, 0.02640, 0.7850, 0.45382),
    ("deepfm", "DeepFM", 0.8715, 0.02618, 0.8007, 0.45083),
)
TABLE2_MODELS: dict[str, str] = {row[0]: row[1] for row in _TABLE2_ARXIV}


def paper_table2() -> pd.DataFrame:
    """The paper's Table 2 as printed in the arXiv version (1703.04247), one row per model.

    The IJCAI-17 proceedings re-ran every model (mean of 5 runs) and print different numbers,
    e.g. DeepFM on Criteo AUC 0.8016 / LogLoss 0.44985; the ``version`` column says which
    text these are.
    """
    columns = ["model", "paper_name", "company_auc", "company_logloss", "criteo_auc",
               "criteo_logloss"]
    table = pd.DataFrame(list(_TABLE2_ARXIV), columns=columns)
    table["version"] = PAPER_VERSION
    return table


SCALES: dict[str, dict[str, Any]] = {
    "ci": {
        "description": "a minute on 2 CPU cores: the notebooks' default",
        "n_rows": 60_000, "epochs": 2, "seeds": (0,), "sweep_seeds": (0, 1, 2),
        "batch_size": 512, "lr": 2e-3, "threads": 1,
        "embed_dim": 8, "hidden": (64, 64), "dropout": 0.1,
    },
    "class": {
        "description": "tens of minutes on a laptop: for an instructor before class",
        "n_rows": 300_000, "epochs": 3, "seeds": (0, 1, 2), "sweep_seeds": (0, 1, 2),
        "batch_size": 1024, "lr": 1e-3, "threads": None,
        "embed_dim": 10, "hidden": (200, 200, 200), "dropout": 0.2,
    },
    "paper": {
        "description": "the paper's network (400-400-400, keep-probability 0.5, k = 10); hours",
        "n_rows": 1_000_000, "epochs": 5, "seeds": (0, 1, 2, 3, 4), "sweep_seeds": (0, 1, 2),
        "batch_size": 2048, "lr": 1e-3, "threads": None,
        "embed_dim": 10, "hidden": (400, 400, 400), "dropout": 0.5,
    },
}
"""Rows, epochs, seeds and network per scale. ``dropout`` is torch's drop probability; at the
paper scale it is the paper's 0.5 (which keeps half, so both conventions agree). ``seeds`` are
for Table 2, ``sweep_seeds`` for the hyper-parameter sweeps (at least three). ``threads`` is
torch's CPU thread count for the run (None: leave torch's choice)."""

# The paper ran IPNN with tanh and every other deep model with relu (after the PNN paper).
_TABLE2_OVERRIDES = {"ipnn": {"activation": "tanh"}}


def _scale(scale: str) -> dict[str, Any]:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return SCALES[scale]


def table2_configs(scale: str = "ci") -> list[dict]:
    """The nine models of Table 2 with the scale's network, each given only what it accepts.

    IPNN gets tanh as in the paper; FNN's FM is pre-trained for as many epochs as the FM
    baseline is trained, so its pre-training is a full FM's training, as in the FNN paper.
    """
    network = {key: _scale(scale)[key] for key in ("embed_dim", "hidden", "dropout")}
    network["hidden"] = list(network["hidden"])
    network["pretrain_epochs"] = _scale(scale)["epochs"]
    configs = []
    for name, paper_name in TABLE2_MODELS.items():
        accepted = model_parameters(name)
        params = {k: v for k, v in network.items() if k in accepted}
        params.update(_TABLE2_OVERRIDES.get(name, {}))
        configs.append({"model": name, "label": paper_name, **params})
    return configs


def run_table2(dataset: str = "appstore", scale: str = "ci", seeds: Iterable[int] | None = None,
               progress: bool | None = None, data: SplitData | None = None,
               device: str = "auto") -> pd.DataFrame:
    """Rebuild Table 2 on a course data set: all nine models, the scale's settings.

    ``data`` skips loading (pass the split you already hold; it must be ``dataset``'s). The
    result is :func:`run_experiments`' table; ``attrs`` records the dataset, scale and the
    test split's oracle AUC / LogLoss (None for data without a true probability).
    """
    settings_ = _scale(scale)
    if data is None:
        data = load_dataset(dataset, settings_["n_rows"], seed=0)
    seeds = settings_["seeds"] if seeds is None else seeds
    results = run_experiments(table2_configs(scale), data, seeds, epochs=settings_["epochs"],
                              batch_size=settings_["batch_size"], lr=settings_["lr"],
                              device=device, progress=progress,
                              num_threads=settings_["threads"])
    oracle = oracle_metrics(data.test)
    results.attrs.update({"dataset": dataset, "scale": scale, "n_rows": len(data.train)
                          + len(data.valid) + len(data.test), "oracle": oracle})
    return results


def table2_summary(results: pd.DataFrame, baseline: str = "lr") -> pd.DataFrame:
    """Table 2 from :func:`run_table2` (or any runner output): one row per model.

    Columns: mean and std of AUC and LogLoss over seeds, seconds per epoch, wall-clock and
    processor time per epoch relative to ``baseline`` (the paper's efficiency measure), and
    the paper's Company* and Criteo numbers where the model is one of Table 2's.
    """
    per_epoch = results.assign(seconds_per_epoch=results["train_seconds"] / results["epochs_run"],
                               cpu_per_epoch=results["cpu_seconds"] / results["epochs_run"])
    table = summarize(per_epoch, by=["model", "label"],
                      metrics=("auc", "logloss", "seconds_per_epoch", "cpu_per_epoch"))
    base = per_epoch[per_epoch["model"] == baseline]
    if base.empty:
        raise ValueError(f"no runs of the baseline model {baseline!r} in the results")
    table["time_vs_" + baseline] = (table["seconds_per_epoch_mean"]
                                    / base["seconds_per_epoch"].mean())
    table["cpu_vs_" + baseline] = table["cpu_per_epoch_mean"] / base["cpu_per_epoch"].mean()
    paper = paper_table2().drop(columns=["paper_name", "version"])
    keep = ["model", "label", "runs", "auc_mean", "auc_std", "logloss_mean", "logloss_std",
            "seconds_per_epoch_mean", "time_vs_" + baseline, "cpu_vs_" + baseline]
    return table[keep].merge(paper, on="model", how="left")


__all__ = ["METRICS", "PAPER_VERSION", "RESULT_COLUMNS", "SCALES", "TABLE2_MODELS",
           "TRAINING_KEYS", "load_results", "model_parameters", "paper_table2", "run_experiments",
           "run_table2", "save_results", "summarize", "table2_configs", "table2_summary"]
