"""Command line: ``python -m deepfm_lite train ...`` (see ``--help``).

Examples::

    python -m deepfm_lite train --model deepfm --dataset appstore --rows 200000
    python -m deepfm_lite train --model fm --data train.txt --format criteo --json
    python -m deepfm_lite train --model lr --data clicks.csv --format csv --label clicked
    python -m deepfm_lite table2 --dataset appstore --scale class --out table2.csv
    python -m deepfm_lite progress                 # grade the exercises in exercises/
    python -m deepfm_lite prepare --data train.txt --format criteo --out prepared/
    python -m deepfm_lite train --model deepfm --prepared prepared/ --save model.pt
    python -m deepfm_lite predict --model model.pt --data new.txt --format criteo --out p.csv

Every error is one line on stderr with exit code 2, naming the argument, file, line or column at
fault (the checks are in ``cli_checks`` and ``cli_csv``); ``--verbose`` or
``DEEPFM_LITE_VERBOSE=1`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import datasets
from .cli_checks import (
    UsageError,
    check_generated_memory,
    check_input_file,
    check_model_memory,
    check_output_file,
    device_kinds,
    device_name,
    finite_float,
    int_list,
    non_negative_int,
    positive_int,
    require_device,
    seed_list,
)
from .cli_data import (
    add_predict_parser,
    add_prepare_parser,
    add_progress,
    load_prepared_arguments,
    progress_default,
    run_predict,
    run_prepare,
    stream_criteo,
    stream_csv,
)
from .datasets import (
    GroundTruthWarning,
    PreparedData,
    check_both_classes,
    load_dataset,
    prepare,
)
from .metrics import logloss
from .models import MODELS, build_model
from .training import (
    COURSE_BUDGET,
    COURSE_LEARNING_RATES,
    COURSE_NETWORK,
    evaluate,
    fit,
    oracle_metrics,
)

# The default budget is the course's (training.COURSE_*): on 200k app-store rows it reaches the
# quality datasets/README.md states.
DEFAULTS = {"rows": 200_000, "epochs": COURSE_BUDGET["epochs"],
            "batch_size": COURSE_BUDGET["batch_size"], "embed_dim": COURSE_NETWORK["embed_dim"],
            "hidden": ",".join(map(str, COURSE_NETWORK["hidden"])),
            "dropout": COURSE_NETWORK["dropout"]}


VERBOSE_VARIABLE = "DEEPFM_LITE_VERBOSE"  # set to 1 to see the traceback of an error
# `train --data FILE --format csv`: a file up to this size on disk is read whole (measured: a
# 202 MB CSV peaked at 1,085 MB); a larger one streams through `prepare`, chunk by chunk.
CSV_IN_MEMORY_BYTES = 64 * 2**20


class FinishedRunError(Exception):
    """A run finished but its result could not be saved: its output is printed all the same."""

    def __init__(self, output: str, message: str):
        super().__init__(message)
        self.output = output


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        raise UsageError(message)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help=f"show the traceback of an error (or set {VERBOSE_VARIABLE}=1)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m deepfm_lite",
                     description="Train and evaluate the course's CTR models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser("train", help="train one model and report test AUC / LogLoss")
    train.add_argument("--model", choices=sorted(MODELS), default="deepfm")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=datasets.DATASETS, default=None,
                        help="a generated data set (default: appstore)")
    source.add_argument("--data", metavar="PATH", help="your own file (needs --format)")
    source.add_argument("--prepared", metavar="DIR",
                        help="a directory from `prepare` (memory-mapped; a 90/10 split trains "
                             "without early stopping and reports on its 10%%)")
    train.add_argument("--format", choices=["criteo", "csv"],
                       help="criteo: Kaggle train.txt or a Criteo CSV with a header; csv: any CSV")
    train.add_argument("--label", help="label column of a --format csv file (0/1)")
    train.add_argument("--categorical", type=_names, help="comma-separated categorical columns")
    train.add_argument("--numeric", type=_names, help="comma-separated numeric columns")
    train.add_argument("--rows", type=positive_int, default=None,
                       help=f"rows to generate or read (default {DEFAULTS['rows']} generated; "
                            "whole file for --data)")
    train.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"])
    train.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"])
    train.add_argument("--lr", type=finite_float, default=None,
                       help=f"Adam step size (default {COURSE_BUDGET['lr']}; "
                            f"{COURSE_LEARNING_RATES.get('lr')} for lr)")
    train.add_argument("--embed-dim", type=positive_int, default=DEFAULTS["embed_dim"])
    train.add_argument("--hidden", type=int_list, default=int_list(DEFAULTS["hidden"]),
                       help="hidden layer sizes, e.g. 400,400,400")
    train.add_argument("--dropout", type=finite_float, default=DEFAULTS["dropout"],
                       help="torch drop probability (the paper's keep probability is 1 - this)")
    train.add_argument("--seed", type=non_negative_int, default=0)
    train.add_argument("--device", type=device_name, default="auto",
                       help=", ".join(device_kinds()))
    train.add_argument("--amp", choices=["bf16", "fp16"], default=None,
                       help="mixed precision on a CUDA GPU (torch.autocast; fp16 adds a loss "
                            "scaler); off by default, refused on the CPU")
    train.add_argument("--save", metavar="PATH", help="save the trained model and its schema")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress(train)
    _add_common(train)

    table2 = commands.add_parser("table2", help="rebuild the paper's Table 2 (all nine models)")
    table2.add_argument("--dataset", choices=datasets.DATASETS, default="appstore")
    table2.add_argument("--scale", choices=["ci", "class", "paper"], default="ci",
                        help="ci: about a minute; class: tens of minutes; paper: hours")
    table2.add_argument("--seeds", type=seed_list, default=None,
                        help="comma-separated seeds (default: the scale's)")
    table2.add_argument("--device", type=device_name, default="auto",
                        help=", ".join(device_kinds()))
    table2.add_argument("--out", metavar="PATH", help="also save every run as CSV")
    table2.add_argument("--json", action="store_true", help="print the summary as JSON records")
    table2.add_argument("--progress", action="store_true", help="show a progress bar")
    _add_common(table2)

    progress = commands.add_parser(
        "progress", help="grade the exercise notebooks: passed / not yet, with the hint",
        description="Run each exercise notebook in a fresh kernel (without saving it) and "
                    "list it as passed or not yet, with the check's hint. Exit code 0 when "
                    "every exercise passed, 1 otherwise.")
    progress.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                          help="exercise notebooks to grade (default: exercises/NN_*.ipynb)")
    progress.add_argument("--json", action="store_true", help="print the grades as JSON")
    progress.add_argument("--timeout", type=positive_int, default=600,
                          help="seconds one cell may run (default 600)")
    _add_common(progress)
    add_prepare_parser(commands, _add_common)
    add_predict_parser(commands, _add_common)
    return parser


def run_table2_command(args) -> str:
    """Run the ``table2`` command; return what it prints."""
    from .experiments import run_table2, save_results, table2_summary

    require_device(args.device)
    if args.out:
        check_output_file(args.out, "--out", example="runs.csv")
    results = run_table2(args.dataset, args.scale, seeds=args.seeds, progress=args.progress,
                         device=args.device)
    summary = table2_summary(results)
    if args.json:
        text = summary.to_json(orient="records")
    else:
        oracle = results.attrs.get("oracle")
        header = (f"Table 2 on {args.dataset} ({args.scale} scale, {results.attrs['n_rows']} "
                  f"rows); oracle AUC {oracle['auc']:.4f}" if oracle
                  else f"Table 2 on {args.dataset}")
        text = header + "\n" + summary.to_string(index=False,
                                                 float_format=lambda v: f"{v:.4f}")
    if args.out:
        try:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            save_results(results, args.out)
        except Exception as error:
            raise FinishedRunError(text, f"--out {args.out}: could not save the runs "
                                         f"({_one_line(error)})") from error
    return text


def _read_user_csv(args, path: Path) -> PreparedData:
    """A CSV up to :data:`CSV_IN_MEMORY_BYTES` on disk is read whole; a larger one streams
    through ``prepare`` (its memory does not grow with the rows)."""
    from .cli_csv import read_user_csv, streamed_csv_fields

    if not args.label:
        raise UsageError("--format csv needs --label COLUMN")
    if path.stat().st_size > CSV_IN_MEMORY_BYTES:
        categorical, numeric, notes = streamed_csv_fields(path, args.label, args.categorical,
                                                          args.numeric)
        _print_notes(notes)
        return stream_csv(args, path, categorical, numeric)
    table = read_user_csv(path, args.label, args.categorical, args.numeric, args.rows)
    _print_notes(table.notes)
    return prepare(table.frame, table.categorical, table.numeric, args.label, seed=args.seed)


def _print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        print(f"deepfm_lite: note: {note}", file=sys.stderr)


def _read_criteo(args, path: Path):
    """Stream a Criteo file through ``prepare`` (80/10/10, min count 10) and map it."""
    if args.label or args.categorical or args.numeric:
        raise UsageError("--label, --categorical and --numeric go with --format csv; a Criteo "
                         "file's columns are fixed (label, I1..I13, C1..C26)")
    return stream_criteo(args, path)


def load_data(args) -> PreparedData:
    """The data the ``train`` command asked for, split 80/10/10 by the seed (a
    ``--prepared`` directory keeps its own split)."""
    if args.prepared:
        return load_prepared_arguments(args)
    if args.data:
        if args.format is None:
            raise UsageError("--data needs --format criteo or --format csv")
        path = check_input_file(args.data, "--data")
        return _read_criteo(args, path) if args.format == "criteo" else _read_user_csv(args, path)
    if args.format or args.label or args.categorical or args.numeric:
        raise UsageError("--format, --label, --categorical and --numeric go with --data")
    name, rows = args.dataset or "appstore", args.rows or DEFAULTS["rows"]
    check_generated_memory(name, rows)
    return load_dataset(name, rows, seed=args.seed)


def check_train_arguments(args) -> None:
    """Everything about ``train``'s arguments that can be refused before data is loaded."""
    args.progress = progress_default(args.progress)
    if args.lr is None:
        args.lr = COURSE_LEARNING_RATES.get(args.model, COURSE_BUDGET["lr"])
    if args.lr <= 0:
        raise UsageError(f"--lr must be positive, got {args.lr}")
    if not 0 <= args.dropout < 1:
        raise UsageError(f"--dropout is a drop probability in [0, 1), got {args.dropout}")
    require_device(args.device)
    if args.save:
        check_output_file(args.save, "--save")


def run_train(args) -> dict:
    """Train the model of ``args`` and return the report (also what ``--json`` prints).

    Arguments, output path, data (both classes in every split) and memory are checked before
    training; if saving still fails, :class:`FinishedRunError` carries the report.
    """
    check_train_arguments(args)
    from .distributed import evaluate_distributed, fit_distributed, silence_other_ranks, start
    from .gpu import amp_dtype

    amp_dtype(args.amp, args.device, "--amp")  # refused on the CPU before any data is read
    context = start(args.device)  # None unless torchrun started this process
    silence_other_ranks(context)  # every rank computes the report; rank 0 prints it
    data = load_data(args)
    _check_classes(data)
    check_model_memory(args, data.field_dims, len(data.train))
    model = build_model(args.model, data.field_dims, seed=args.seed, embed_dim=args.embed_dim,
                        hidden=args.hidden, dropout=args.dropout)
    budget = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "seed": args.seed, "patience": _patience(data),
              "progress": args.progress, "amp": args.amp}
    if context is None:
        history = fit(model, data.train, data.valid, device=args.device, **budget)
        scores = evaluate(model, _held_out(data))
    else:  # --batch-size rows per process; metrics over all ranks' rows
        history = fit_distributed(model, data.train, data.valid, context, **budget)
        scores = evaluate_distributed(model, _held_out(data), context)
    report = _report(args, data, scores, history)
    report["processes"] = 1 if context is None else context.world_size
    if args.save and (context is None or context.is_main):  # one process writes the file
        from .io import save

        try:
            save(model, args.save, data.schema)
        except Exception as error:  # torch.save reports a full disk as a RuntimeError
            raise FinishedRunError(_train_output(report, args),
                                   f"--save {args.save}: could not save the model "
                                   f"({_one_line(error)})") from error
    return report


def _held_out(data):
    """The split the report scores: test, or valid for a two-way (90/10) prepared split."""
    return data.test if data.test is not None else data.valid


def _patience(data) -> int | None:
    """Early stopping watches valid only when a test split is left to report on."""
    return COURSE_BUDGET["patience"] if data.test is not None else None


def _check_classes(data) -> None:
    if isinstance(data, PreparedData):
        check_both_classes(data)
    else:
        from .prepared import check_prepared_classes

        check_prepared_classes(data)


def _report(args, data, scores: dict, history) -> dict:
    held_out = _held_out(data)
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


def run_progress(args) -> tuple[str, bool]:
    """Grade the exercises the ``progress`` command names; return the text and "all passed"."""
    from .progress import exercise_paths, format_grades, grade_notebook, grades_json

    paths = [Path(p) for p in args.notebooks] or exercise_paths("exercises")
    for path in paths:
        if not path.is_file():
            raise UsageError(f"no notebook {path}")
    grades = [grade_notebook(path, timeout=args.timeout) for path in paths]
    text = grades_json(grades) if args.json else format_grades(grades)
    return text, all(grade.passed for grade in grades)


def _dispatch(args) -> int:
    if args.command == "table2":
        print(run_table2_command(args))
        return 0
    if args.command == "progress":
        text, all_passed = run_progress(args)
        print(text)
        return 0 if all_passed else 1
    if args.command in ("prepare", "predict"):
        print(run_prepare(args) if args.command == "prepare" else run_predict(args))
        return 0
    report = run_train(args)
    print(_train_output(report, args))
    return 0


def _train_output(report: dict, args) -> str:
    return json.dumps(report) if args.json else format_report(report)


def _one_line(error: BaseException) -> str:
    """The first line of an error's message, naming the file for an OSError."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# Errors whose message is meant for the user; anything else is a bug, reported as one.
_EXPECTED = (UsageError, FinishedRunError, ValueError, KeyError, OSError)


def _message(error: Exception) -> str:
    if isinstance(error, MemoryError):
        return ("out of memory; lower --rows, --embed-dim, --hidden or --batch-size "
                f"(run with --verbose or {VERBOSE_VARIABLE}=1 for the traceback)")
    if type(error).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError: the GPU's memory
        return (f"out of GPU memory: {_one_line(error)}; lower --batch-size, --embed-dim or "
                "--hidden, or use --device cpu")
    if isinstance(error, _EXPECTED):
        return _one_line(error)
    return (f"unexpected {type(error).__name__}: {_one_line(error)} (a bug? run with --verbose "
            f"or {VERBOSE_VARIABLE}=1 for the traceback)")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = str(message).strip().splitlines()
    print(f"deepfm_lite: warning: {text[0] if text else category.__name__}", file=sys.stderr)


def _verbose(argv: Sequence[str]) -> bool:
    return "--verbose" in argv or os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; every error ends as one line on stderr and exit code 2.

    ``--verbose`` (or ``DEEPFM_LITE_VERBOSE=1``) prints the traceback before that line. A run
    that finished but could not be saved prints its report before the error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", GroundTruthWarning)  # each run says it again
        warnings.showwarning = _show_warning
        try:
            return _dispatch(build_parser().parse_args(argv))
        except KeyboardInterrupt:
            print("deepfm_lite: interrupted", file=sys.stderr)
            return 130
        except Exception as error:
            if isinstance(error, FinishedRunError):  # the run's result is not thrown away
                print(error.output)
            if _verbose(argv):
                traceback.print_exc()
            print(f"deepfm_lite: error: {_message(error)}", file=sys.stderr)
            return 2
