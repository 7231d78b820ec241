"""``python -m deepfm_lite train``: load or generate data, train one model, report and save it."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..course.budget import COURSE_BUDGET, COURSE_NETWORK, LOGISTIC_REGRESSION_LR
from ..data import DATASETS, SplitData, check_both_classes, encode_splits, load_dataset
from ..models import MODELS, build_model
from ..training import evaluate, fit, logloss, oracle_metrics
from .arguments import (
    check_generated_memory,
    check_input_file,
    check_model_memory,
    check_output_file,
    check_outputs_spare_inputs,
    device_kinds,
    device_name,
    finite_float,
    int_list,
    name_list,
    positive_int,
    require_device,
    seed_int,
)
from .errors import FinishedRunError, UsageError, one_line
from .files import (
    add_progress,
    load_prepared_arguments,
    progress_default,
    stream_criteo,
    stream_csv,
)

# The default budget is the course's (deepfm_lite.course.budget): on 200k app-store rows it
# reaches the quality datasets/README.md states.
DEFAULTS = {"rows": 200_000, "epochs": COURSE_BUDGET["epochs"],
            "batch_size": COURSE_BUDGET["batch_size"], "embed_dim": COURSE_NETWORK["embed_dim"],
            "hidden": ",".join(map(str, COURSE_NETWORK["hidden"])),
            "dropout": COURSE_NETWORK["dropout"]}

# `train --data FILE --format csv`: a file up to this size on disk is read whole (measured: a
# 202 MB CSV peaked at 1,085 MB); a larger one streams through `prepare`, chunk by chunk.
CSV_IN_MEMORY_BYTES = 64 * 2**20


def add_train_parser(commands, add_common) -> None:
    """The ``train`` command's arguments."""
    train = commands.add_parser("train", help="train one model and report test AUC / LogLoss")
    train.add_argument("--model", choices=sorted(MODELS), default="deepfm")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=DATASETS, default=None,
                        help="a generated data set (default: appstore)")
    source.add_argument("--data", metavar="PATH", help="your own file (needs --format)")
    source.add_argument("--prepared", metavar="DIR",
                        help="a directory from `prepare` (memory-mapped; a 90/10 split trains "
                             "without early stopping and reports on its 10%%)")
    train.add_argument("--format", choices=["criteo", "csv"],
                       help="criteo: Kaggle train.txt or a Criteo CSV with a header; csv: any CSV")
    train.add_argument("--label", help="label column of a --format csv file (0/1)")
    train.add_argument("--categorical", type=name_list, help="comma-separated categorical columns")
    train.add_argument("--numeric", type=name_list, help="comma-separated numeric columns")
    train.add_argument("--rows", type=positive_int, default=None,
                       help=f"rows to generate or read (default {DEFAULTS['rows']} generated; "
                            "whole file for --data)")
    train.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"])
    train.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"])
    train.add_argument("--lr", type=finite_float, default=None,
                       help=f"Adam step size (default {COURSE_BUDGET['lr']}; "
                            f"{LOGISTIC_REGRESSION_LR} for lr)")
    train.add_argument("--embed-dim", type=positive_int, default=DEFAULTS["embed_dim"])
    train.add_argument("--hidden", type=int_list, default=int_list(DEFAULTS["hidden"]),
                       help="hidden layer sizes, e.g. 400,400,400")
    train.add_argument("--dropout", type=finite_float, default=DEFAULTS["dropout"],
                       help="torch drop probability (the paper's keep probability is 1 - this)")
    train.add_argument("--seed", type=seed_int, default=0)
    train.add_argument("--device", type=device_name, default="auto",
                       help=", ".join(device_kinds()))
    train.add_argument("--amp", choices=["bf16", "fp16"], default=None,
                       help="mixed precision on a CUDA GPU (torch.autocast; fp16 adds a loss "
                            "scaler); off by default, refused on the CPU")
    train.add_argument("--save", metavar="PATH", help="save the trained model and its schema")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    from ..training.peers import COLLECTIVE_TIMEOUT_S

    train.add_argument("--timeout", type=positive_int, default=COLLECTIVE_TIMEOUT_S,
                       metavar="SECONDS",
                       help="under torchrun: how long a rank waits for the others before the "
                            "run ends, naming the rank that stopped answering (default "
                            f"{COLLECTIVE_TIMEOUT_S})")
    add_progress(train)
    add_common(train)


def read_csv_argument(args, path: Path) -> SplitData:
    """A CSV up to :data:`CSV_IN_MEMORY_BYTES` on disk is read whole; a larger one streams
    through ``prepare`` (its memory does not grow with the rows)."""
    from .csv_input import read_user_csv, streamed_csv_fields

    if not args.label:
        raise UsageError("--format csv needs --label COLUMN")
    if path.stat().st_size > CSV_IN_MEMORY_BYTES:
        categorical, numeric, notes = streamed_csv_fields(path, args.label, args.categorical,
                                                          args.numeric)
        print_notes(notes)
        return stream_csv(args, path, categorical, numeric)
    table = read_user_csv(path, args.label, args.categorical, args.numeric, args.rows)
    print_notes(table.notes)
    return encode_splits(table.frame, table.categorical, table.numeric, args.label, seed=args.seed)


def print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        print(f"deepfm_lite: note: {note}", file=sys.stderr)


def read_criteo_argument(args, path: Path):
    """Stream a Criteo file through ``prepare`` (80/10/10, min count 10) and map it."""
    if args.label or args.categorical or args.numeric:
        raise UsageError("--label, --categorical and --numeric go with --format csv; a Criteo "
                         "file's columns are fixed (label, I1..I13, C1..C26)")
    return stream_criteo(args, path)


def load_data(args) -> SplitData:
    """The data the ``train`` command asked for, split 80/10/10 by the seed (a
    ``--prepared`` directory keeps its own split)."""
    if args.prepared:
        return load_prepared_arguments(args)
    if args.data:
        if args.format is None:
            raise UsageError("--data needs --format criteo or --format csv")
        path = check_input_file(args.data, "--data")
        if args.format == "criteo":
            return read_criteo_argument(args, path)
        return read_csv_argument(args, path)
    if args.format or args.label or args.categorical or args.numeric:
        raise UsageError("--format, --label, --categorical and --numeric go with --data")
    name, rows = args.dataset or "appstore", args.rows or DEFAULTS["rows"]
    check_generated_memory(name, rows)
    return load_dataset(name, rows, seed=args.seed)


def check_train_arguments(args) -> None:
    """Everything about ``train``'s arguments that can be refused before data is loaded."""
    args.progress = progress_default(args.progress)
    if args.lr is None:
        args.lr = LOGISTIC_REGRESSION_LR if args.model == "lr" else COURSE_BUDGET["lr"]
    if args.lr <= 0:
        raise UsageError(f"--lr must be positive, got {args.lr}")
    if not 0 <= args.dropout < 1:
        raise UsageError(f"--dropout is a drop probability in [0, 1), got {args.dropout}")
    require_device(args.device)
    if args.save:
        check_output_file(args.save, "--save")
        check_outputs_spare_inputs({"--save": args.save},
                                   {"--data": args.data, "--prepared": args.prepared})


def run_train(args) -> dict:
    """Train the model of ``args`` and return the report (also what ``--json`` prints).

    Arguments, output path, data (both classes in every split) and memory are checked before
    training; if saving still fails, :class:`FinishedRunError` carries the report.
    """
    check_train_arguments(args)
    from ..training.distributed import (
        evaluate_distributed,
        fit_distributed,
        silence_other_ranks,
        start,
    )
    from ..training.gpu import amp_dtype

    amp_dtype(args.amp, args.device, "--amp")  # refused on the CPU before any data is read
    context = start(args.device, timeout_s=args.timeout)  # None without torchrun
    silence_other_ranks(context)  # every rank computes the report; rank 0 prints it
    data = load_data(args)
    check_classes(data)
    check_model_memory(args, data.field_dims, len(data.train))
    model = build_model(args.model, data.field_dims, seed=args.seed, embed_dim=args.embed_dim,
                        hidden=args.hidden, dropout=args.dropout)
    budget = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "seed": args.seed, "patience": early_stoppingearly_stopping_patience(data),
              "progress": args.progress, "amp": args.amp}
    if context is None:
        history = fit(model, data.train, data.valid, device=args.device, **budget)
        scores = evaluate(model, held_out_split(data))
    else:  # --batch-size rows per process; metrics over all ranks' rows
        history = fit_distributed(model, data.train, data.valid, context, **budget)
        scores = evaluate_distributed(model, held_out_split(data), context)
    report = train_report(args, data, scores, history)
    report["processes"] = 1 if context is None else context.world_size
    if args.save and (context is None or context.is_main):  # one process writes the file
        from ..checkpoint import inputs_record, save

        # how the rows were prepared, saved with the model for predict: a prepared directory
        # says it; generated criteo-like rows are encoded as a Criteo file is (Criteo_x4)
        model.inputs = inputs_record(data, args.format or (
            "criteo" if args.dataset == "criteo-like" else "csv"))
        try:
            save(model, args.save, data.schema)
        except Exception as error:  # torch.save reports a full disk as a RuntimeError
            raise FinishedRunError(train_output(report, args),
                                   f"--save {args.save}: could not save the model "
                                   f"({one_line(error)})") from error
    return report


def held_out_split(data):
    """The split the report scores: test, or valid for a two-way (90/10) prepared split."""
    return data.test if data.test is not None else data.valid


def early_stoppingearly_stopping_patience(data) -> int | None:
    """Early stopping watches valid only when a test split is left to report on."""
    return COURSE_BUDGET["patience"] if data.test is not None else None


def check_classes(data) -> None:
    if isinstance(data, SplitData):
        check_both_classes(data)
    else:
        from ..data.prepared import check_prepared_classes

        check_prepared_classes(data)


def train_report(args, data, scores: dict, history) -> dict:
    held_out = held_out_split(data)
    oracle = oracle_metrics(held_out)
    rate = float(data.train.labels.double().mean())
    test_labels = held_out.labels.numpy()
    base = logloss(test_labels, np.full(len(test_labels), rate))
    seconds = float(history["seconds"].sum())
    return {"model": args.model, "auc": scores["auc"], "logloss": scores["logloss"],
            "oracle_auc": oracle["auc"] if oracle else None,
            "oracle_logloss": oracle["logloss"] if oracle else None,
            "base_rate": rate, "base_rate_logloss": base,
            "worse_than_base_rate": bool(scores["logloss"] > base),
            "train_seconds": seconds,
            "train_samples_per_s": len(data.train) * len(history) / seconds,
            "epochs_run": int(len(history)), "train_rows": len(data.train),
            "test_rows": len(held_out),
            "evaluated_on": "test" if data.test is not None else "valid"}


def format_report(report: dict) -> str:
    def num(value, digits=4):
        return "n/a (truth unknown)" if value is None else f"{value:.{digits}f}"

    where = report.get("evaluated_on", "test")  # valid for a two-way (90/10) prepared split
    lines = [f"model            {report['model']}",
             f"rows             {report['train_rows']} train / {report['test_rows']} {where}",
             f"{where + ' AUC':<17}{num(report['auc'])}   (oracle {num(report['oracle_auc'])})",
             f"{where + ' LogLoss':<17}{num(report['logloss'])}   "
             f"(oracle {num(report['oracle_logloss'])})",
             f"base rate        LogLoss {num(report['base_rate_logloss'])}   (predicting the "
             f"training click rate {report['base_rate']:.3f} on every row)",
             f"training         {report['train_seconds']:.1f} s, {report['epochs_run']} epochs, "
             f"{report['train_samples_per_s']:,.0f} samples/s"]
    if report["worse_than_base_rate"]:
        lines.append(f"WARNING          test LogLoss {num(report['logloss'])} is worse than the "
                     f"base rate's {num(report['base_rate_logloss'])}: worse than no model "
                     "(too few --epochs or --rows, or too large an --lr)")
    return "\n".join(lines)


def train_output(report: dict, args) -> str:
    return json.dumps(report) if args.json else format_report(report)
