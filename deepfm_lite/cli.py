"""Command line: ``python -m deepfm_lite train ...`` (see ``--help``).

Examples::

    python -m deepfm_lite train --model deepfm --dataset appstore --rows 200000
    python -m deepfm_lite train --model fm --data train.txt --format criteo --json
    python -m deepfm_lite train --model lr --data clicks.csv --format csv --label clicked
    python -m deepfm_lite table2 --dataset appstore --scale class --out table2.csv
    python -m deepfm_lite progress                 # grade the exercises in exercises/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import datasets
from .datasets import PreparedData, load_dataset, prepare
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


class UsageError(Exception):
    """A bad argument or input: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        raise UsageError(message)


def _int_list(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


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
    train.add_argument("--format", choices=["criteo", "csv"],
                       help="criteo: Kaggle train.txt or a Criteo CSV with a header; csv: any CSV")
    train.add_argument("--label", help="label column of a --format csv file (0/1)")
    train.add_argument("--categorical", type=_names, help="comma-separated categorical columns")
    train.add_argument("--numeric", type=_names, help="comma-separated numeric columns")
    train.add_argument("--rows", type=_positive_int, default=None,
                       help=f"rows to generate or read (default {DEFAULTS['rows']} generated; "
                            "whole file for --data)")
    train.add_argument("--epochs", type=_positive_int, default=DEFAULTS["epochs"])
    train.add_argument("--batch-size", type=_positive_int, default=DEFAULTS["batch_size"])
    train.add_argument("--lr", type=float, default=None,
                       help=f"Adam step size (default {COURSE_BUDGET['lr']}; "
                            f"{COURSE_LEARNING_RATES.get('lr')} for lr)")
    train.add_argument("--embed-dim", type=_positive_int, default=DEFAULTS["embed_dim"])
    train.add_argument("--hidden", type=_int_list, default=_int_list(DEFAULTS["hidden"]),
                       help="hidden layer sizes, e.g. 400,400,400")
    train.add_argument("--dropout", type=float, default=DEFAULTS["dropout"],
                       help="torch drop probability (the paper's keep probability is 1 - this)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", help="auto, cpu or cuda")
    train.add_argument("--save", metavar="PATH", help="save the trained model and its schema")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.add_argument("--progress", action="store_true", help="show progress bars")

    table2 = commands.add_parser("table2", help="rebuild the paper's Table 2 (all nine models)")
    table2.add_argument("--dataset", choices=datasets.DATASETS, default="appstore")
    table2.add_argument("--scale", choices=["ci", "class", "paper"], default="ci",
                        help="ci: about a minute; class: tens of minutes; paper: hours")
    table2.add_argument("--seeds", type=_seed_list, default=None,
                        help="comma-separated seeds (default: the scale's)")
    table2.add_argument("--device", default="auto", help="auto, cpu or cuda")
    table2.add_argument("--out", metavar="PATH", help="also save every run as CSV")
    table2.add_argument("--json", action="store_true", help="print the summary as JSON records")
    table2.add_argument("--progress", action="store_true", help="show a progress bar")

    progress = commands.add_parser(
        "progress", help="grade the exercise notebooks: passed / not yet, with the hint",
        description="Run each exercise notebook in a fresh kernel (without saving it) and "
                    "list it as passed or not yet, with the check's hint. Exit code 0 when "
                    "every exercise passed, 1 otherwise.")
    progress.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                          help="exercise notebooks to grade (default: exercises/NN_*.ipynb)")
    progress.add_argument("--json", action="store_true", help="print the grades as JSON")
    progress.add_argument("--timeout", type=_positive_int, default=600,
                          help="seconds one cell may run (default 600)")
    return parser


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated seeds, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return seeds


def run_table2_command(args) -> str:
    """Run the ``table2`` command; return what it prints."""
    from .experiments import run_table2, save_results, table2_summary

    results = run_table2(args.dataset, args.scale, seeds=args.seeds, progress=args.progress,
                         device=args.device)
    if args.out:
        save_results(results, args.out)
    summary = table2_summary(results)
    if args.json:
        return summary.to_json(orient="records")
    oracle = results.attrs.get("oracle")
    header = (f"Table 2 on {args.dataset} ({args.scale} scale, {results.attrs['n_rows']} rows); "
              f"oracle AUC {oracle['auc']:.4f}" if oracle else f"Table 2 on {args.dataset}")
    return header + "\n" + summary.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def _read_user_csv(args) -> PreparedData:
    if not args.label:
        raise UsageError("--format csv needs --label COLUMN")
    df = pd.read_csv(args.data, nrows=args.rows)
    if args.label not in df.columns:
        raise UsageError(f"--label {args.label!r} is not a column of {args.data}; "
                         f"columns: {', '.join(map(str, df.columns))}")
    features = [c for c in df.columns if c != args.label]
    if args.categorical is None and args.numeric is None:
        numeric = [c for c in features if pd.api.types.is_float_dtype(df[c])]
        categorical = [c for c in features if c not in numeric]
    else:
        categorical, numeric = args.categorical or [], args.numeric or []
    for name in [*categorical, *numeric]:
        if name not in df.columns:
            raise UsageError(f"column {name!r} is not in {args.data}")
    return prepare(df, categorical, numeric, args.label, seed=args.seed)


def _read_criteo(args) -> PreparedData:
    from .datasets.criteo import prepare_criteo, read_criteo

    return prepare_criteo(read_criteo(args.data, nrows=args.rows), seed=args.seed)


def load_data(args) -> PreparedData:
    """The data the ``train`` command asked for, split 80/10/10 by the seed."""
    if args.data:
        if args.format is None:
            raise UsageError("--data needs --format criteo or --format csv")
        return _read_criteo(args) if args.format == "criteo" else _read_user_csv(args)
    if args.format or args.label or args.categorical or args.numeric:
        raise UsageError("--format, --label, --categorical and --numeric go with --data")
    return load_dataset(args.dataset or "appstore", args.rows or DEFAULTS["rows"], seed=args.seed)


def run_train(args) -> dict:
    """Train the model of ``args`` and return the report (also what ``--json`` prints)."""
    if args.lr is None:
        args.lr = COURSE_LEARNING_RATES.get(args.model, COURSE_BUDGET["lr"])
    if args.lr <= 0:
        raise UsageError(f"--lr must be positive, got {args.lr}")
    if not 0 <= args.dropout < 1:
        raise UsageError(f"--dropout is a drop probability in [0, 1), got {args.dropout}")
    data = load_data(args)
    model = build_model(args.model, data.field_dims, seed=args.seed, embed_dim=args.embed_dim,
                        hidden=args.hidden, dropout=args.dropout)
    history = fit(model, data.train, data.valid, epochs=args.epochs, batch_size=args.batch_size,
                  lr=args.lr, seed=args.seed, device=args.device,
                  patience=COURSE_BUDGET["patience"],
                  progress=args.progress)
    scores = evaluate(model, data.test)
    oracle = oracle_metrics(data.test)
    if args.save:
        from .io import save

        save(model, args.save, data.schema)
    seconds = float(history["seconds"].sum())
    return {"model": args.model, "auc": scores["auc"], "logloss": scores["logloss"],
            "oracle_auc": oracle["auc"] if oracle else None,
            "oracle_logloss": oracle["logloss"] if oracle else None,
            "train_seconds": seconds,
            "train_samples_per_s": len(data.train) * len(history) / seconds,
            "epochs_run": int(len(history)), "train_rows": len(data.train),
            "test_rows": len(data.test)}


def format_report(report: dict) -> str:
    def num(value, digits=4):
        return "n/a (truth unknown)" if value is None else f"{value:.{digits}f}"

    lines = [f"model            {report['model']}",
             f"rows             {report['train_rows']} train / {report['test_rows']} test",
             f"test AUC         {num(report['auc'])}   (oracle {num(report['oracle_auc'])})",
             f"test LogLoss     {num(report['logloss'])}   "
             f"(oracle {num(report['oracle_logloss'])})",
             f"training         {report['train_seconds']:.1f} s, {report['epochs_run']} epochs, "
             f"{report['train_samples_per_s']:,.0f} samples/s"]
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "table2":
            print(run_table2_command(args))
            return 0
        if args.command == "progress":
            text, all_passed = run_progress(args)
            print(text)
            return 0 if all_passed else 1
        report = run_train(args)
    except UsageError as error:
        print(f"deepfm_lite: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, KeyError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"deepfm_lite: error: {message}", file=sys.stderr)
        return 2
    print(json.dumps(report) if args.json else format_report(report))
    return 0
