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
fault (the checks are in ``arguments`` and ``csv_input``); ``--verbose`` or
``DEEPFM_LITE_VERBOSE=1`` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ..data import DATASETS, GroundTruthWarning
from .arguments import (
    check_output_file,
    device_kinds,
    device_name,
    positive_int,
    require_device,
    seed_list,
)
from .errors import FinishedRunError, UsageError, one_line
from .files import (
    add_predict_parser,
    add_prepare_parser,
    add_progress,
    progress_default,
    run_predict,
    run_prepare,
)
from .train import add_train_parser, run_train, train_output

VERBOSE_VARIABLE = "DEEPFM_LITE_VERBOSE"  # set to 1 to see the traceback of an error


def package_version() -> str:
    """The installed distribution's version (``deepfm-lite``), or "unknown" from a bare source
    tree that was never installed."""
    try:
        return metadata.version("deepfm-lite")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        raise UsageError(message)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help=f"show the traceback of an error (or set {VERBOSE_VARIABLE}=1)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m deepfm_lite",
                     description="Train and evaluate the course's CTR models.")
    parser.add_argument("--version", action="version", version=f"deepfm-lite {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_train_parser(commands, _add_common)

    table2 = commands.add_parser("table2", help="rebuild the paper's Table 2 (all nine models)")
    table2.add_argument("--dataset", choices=DATASETS, default="appstore")
    table2.add_argument("--scale", choices=["ci", "class", "paper"], default="ci",
                        help="ci: about a minute; class: tens of minutes; paper: hours")
    table2.add_argument("--seeds", type=seed_list, default=None,
                        help="comma-separated seeds (default: the scale's)")
    table2.add_argument("--device", type=device_name, default="auto",
                        help=", ".join(device_kinds()))
    table2.add_argument("--out", metavar="PATH", help="also save every run as CSV")
    table2.add_argument("--json", action="store_true", help="print the summary as JSON records")
    add_progress(table2)
    _add_common(table2)

    progress = commands.add_parser(
        "progress", help="grade the exercise notebooks: passed / not yet, with the hint",
        description="Run each exercise notebook in a fresh kernel (without saving it) and "
                    "list it as passed or not yet, with the check's hint. Notebooks that are "
                    "not your own (--submissions, or outside exercises/) run from a temporary "
                    "copy under limits: time, memory, no network, another user where "
                    "possible; the output says what was not isolated. Exit code 0 when "
                    "every exercise passed, 1 otherwise.")
    progress.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                          help="exercise notebooks to grade (default: exercises/NN_*.ipynb)")
    progress.add_argument("--submissions", metavar="DIR",
                          help="grade someone else's notebooks DIR/NN_*.ipynb, under limits")
    progress.add_argument("--json", action="store_true", help="print the grades as JSON")
    add_progress(progress, "a line on stderr as each notebook starts")
    progress.add_argument("--timeout", type=positive_int, default=600,
                          help="seconds one cell may run (default 600)")
    progress.add_argument("--memory-limit", default="4G", metavar="SIZE",
                          help="memory a submission's kernel may take: 4G (default), 512M, "
                               "or none")
    _add_common(progress)
    add_prepare_parser(commands, _add_common)
    add_predict_parser(commands, _add_common)
    return parser


def run_table2_command(args) -> str:
    """Run the ``table2`` command; return what it prints."""
    from ..experiments import run_table2, save_results, table2_summary

    require_device(args.device)
    if args.out:
        check_output_file(args.out, "--out", example="runs.csv")
    results = run_table2(args.dataset, args.scale, seeds=args.seeds,
                         progress=progress_default(args.progress), device=args.device)
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
                                         f"({one_line(error)})") from error
    return text


def run_progress(args) -> tuple[str, bool]:
    """Grade the exercises the ``progress`` command names; return the text and "all passed".

    The learner's own exercises (in ``exercises/``) run as they are; any other notebook, and
    every one with ``--submissions``, under the limits of a sandbox, described after the
    table (on stderr with ``--json``, so that stdout stays JSON)."""
    from ..course.grading.sandbox import SandboxError, choose_sandbox, parse_size
    from ..course.progress import (
        exercise_paths,
        format_grades,
        grade_notebooks,
        grades_json,
        own_exercise,
    )

    try:
        memory_limit = parse_size(args.memory_limit)
    except ValueError as error:
        raise UsageError(f"--memory-limit: {error}") from None
    paths = [Path(p) for p in args.notebooks]
    if args.submissions:
        if not Path(args.submissions).is_dir():
            raise UsageError(f"--submissions: no folder {args.submissions}")
        paths += exercise_paths(args.submissions)
    paths = paths or exercise_paths("exercises")
    for path in paths:
        if not path.is_file():
            raise UsageError(f"no notebook {path}")
    limited = {path for path in paths if args.submissions or not own_exercise(path)}
    try:
        sandbox = choose_sandbox(memory_limit) if limited else None
    except SandboxError as error:
        raise UsageError(str(error)) from None
    def announce(index: int, path: Path) -> None:
        print(f"grading {index + 1}/{len(paths)}: {path}", file=sys.stderr, flush=True)

    grades = grade_notebooks(paths, args.timeout,
                             sandbox_for=lambda path: sandbox if path in limited else None,
                             on_start=announce if progress_default(args.progress) else None)
    notes = sandbox.describe(args.timeout) if sandbox else []
    if args.json:
        for note in notes:
            print(note, file=sys.stderr)
        text = grades_json(grades)
    else:
        text = format_grades(grades, notes=notes)
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
    print(train_output(report, args))
    return 0


# Errors whose message is meant for the user; anything else is a bug, reported as one.
_EXPECTED = (UsageError, FinishedRunError, ValueError, KeyError, OSError)


def _message(error: Exception) -> str:
    if isinstance(error, MemoryError):
        return ("out of memory; lower --rows, --embed-dim, --hidden or --batch-size "
                f"(run with --verbose or {VERBOSE_VARIABLE}=1 for the traceback)")
    if type(error).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError: the GPU's memory
        return (f"out of GPU memory: {one_line(error)}; lower --batch-size, --embed-dim or "
                "--hidden, or use --device cpu")
    if isinstance(error, _EXPECTED):
        return one_line(error)
    return (f"unexpected {type(error).__name__}: {one_line(error)} (a bug? run with --verbose "
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
