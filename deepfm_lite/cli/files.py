"""The command line's data commands: ``prepare``, ``predict`` and ``train --prepared``.

Examples::

    python -m deepfm_lite prepare --data train.txt --format criteo --out criteo_prepared/
    python -m deepfm_lite prepare --data train.txt --format criteo --out hashed/ \\
        --hash-buckets 1000000 --split 80/10/10
    python -m deepfm_lite train --prepared criteo_prepared/ --model deepfm --save model.pt
    python -m deepfm_lite predict --model model.pt --data new.txt --format criteo --out scores.csv

Errors are raised as :class:`~deepfm_lite.cli.errors.UsageError` (or the ValueError of the
library, naming the line) and printed by ``cli.main`` as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..data import CRITEO_X4_MIN_COUNT
from ..data.prepared import MAX_HASH_BUCKETS, DiskFullError, PreparedArrays
from .arguments import (
    UsageError,
    check_input_file,
    check_output_file,
    check_outputs_spare_inputs,
    name_list,
    positive_int,
    seed_int,
)

SPLITS = {"90/10": (0.9, 0.1), "80/10/10": (0.8, 0.1, 0.1)}


def split_spec(text: str) -> tuple[float, ...]:
    """``90/10`` or ``80/10/10``: two or three positive percentages summing to 100."""
    try:
        shares = [float(part) for part in text.split("/")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected percentages such as 90/10 or 80/10/10, "
                                         f"got {text!r}") from None
    if len(shares) not in (2, 3) or min(shares) <= 0 or abs(sum(shares) - 100) > 1e-9:
        raise argparse.ArgumentTypeError(f"expected 2 or 3 positive percentages summing to "
                                         f"100 (train/valid[/test]), got {text!r}")
    return tuple(share / 100 for share in shares)


def bucket_count(text: str) -> int:
    """``--hash-buckets``: an integer from 1 to :data:`~deepfm_lite.data.prepared.MAX_HASH_BUCKETS`
    (2**24 ids per field: more than any Criteo field has distinct values)."""
    value = positive_int(text)
    if value > MAX_HASH_BUCKETS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_HASH_BUCKETS:,} (2**24) buckets per field, got {text!r}: more than "
            "the distinct values of any Criteo field, only a larger table to train")
    return value


def progress_default(flag: bool | None) -> bool:
    """``--progress`` / ``--no-progress``; neither: on when stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag


def add_progress(parser: argparse.ArgumentParser, what: str = "progress bars with rows/s",
                 ) -> None:
    """``--progress`` / ``--no-progress``, the same on every command."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help=f"{what} (default: on when stderr is a terminal)")


def add_prepare_parser(commands, add_common) -> None:
    prepare = commands.add_parser(
        "prepare", help="encode a large file once into memory-mappable arrays",
        description="Stream a Criteo or CSV file into int32 ids, float32 values and labels "
                    "per split (.npy), with schema.json and manifest.json.")
    prepare.add_argument("--data", metavar="PATH", required=True, help="the file to prepare")
    prepare.add_argument("--format", choices=["criteo", "csv"], required=True)
    prepare.add_argument("--out", metavar="DIR", required=True,
                         help="new directory for the arrays (must not exist)")
    prepare.add_argument("--label", help="label column of a --format csv file (0/1)")
    prepare.add_argument("--categorical", type=name_list, default=[],
                         help="comma-separated categorical columns (csv)")
    prepare.add_argument("--numeric", type=name_list, default=[],
                         help="comma-separated numeric columns (csv)")
    prepare.add_argument("--min-count", type=positive_int, default=None,
                         help=f"rarer categories map to OOV (default {CRITEO_X4_MIN_COUNT})")
    prepare.add_argument("--hash-buckets", type=bucket_count, default=None,
                         help="hash every value into N ids per field instead (one pass; at "
                              f"most {MAX_HASH_BUCKETS:,})")
    prepare.add_argument("--split", type=split_spec, default=SPLITS["90/10"],
                         help="train/valid[/test] percentages: 90/10 (default, the paper's) "
                              "or 80/10/10 (BARS's)")
    prepare.add_argument("--seed", type=seed_int, default=0)
    prepare.add_argument("--rows", type=positive_int, default=None,
                         help="prepare only the first N rows")
    prepare.add_argument("--chunk-rows", type=positive_int, default=None,
                         help="rows parsed at a time (memory, not the result)")
    prepare.add_argument("--json", action="store_true", help="print the manifest as JSON")
    add_progress(prepare)
    add_common(prepare)


def add_predict_parser(commands, add_common) -> None:
    predict = commands.add_parser(
        "predict", help="score a file with a saved model, in input order",
        description="Write row,probability for every row of --data (row = the data row's "
                    "place in the file, from 1); AUC and LogLoss when it has labels.")
    predict.add_argument("--model", metavar="PATH", required=True, help="a saved model (.pt)")
    predict.add_argument("--data", metavar="PATH", required=True, help="the rows to score")
    predict.add_argument("--format", choices=["criteo", "csv"], required=True)
    predict.add_argument("--out", metavar="PATH", required=True, help="the CSV to write")
    predict.add_argument("--prepared", metavar="DIR",
                         help="take the schema from this prepared directory")
    predict.add_argument("--batch-rows", type=positive_int, default=None,
                         help="rows read and scored at a time")
    predict.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress(predict)
    add_common(predict)


# ---- prepare ---------------------------------------------------------------------------------
def run_prepare(args: argparse.Namespace) -> str:
    """Run ``prepare``; return what it prints."""
    from ..data.prepared import CHUNK_ROWS, prepare_file

    source = check_input_file(args.data, "--data")
    if args.format == "criteo" and (args.label or args.categorical or args.numeric):
        raise UsageError("--label, --categorical and --numeric go with --format csv; a Criteo "
                         "file's columns are fixed (label, I1..I13, C1..C26)")
    if args.format == "csv" and not args.label:
        raise UsageError("--format csv needs --label COLUMN")
    if args.hash_buckets is not None and args.min_count is not None:
        raise UsageError("--min-count goes with vocabularies; --hash-buckets keeps every value "
                         "(give one of them)")
    target = Path(args.out)
    check_outputs_spare_inputs({"--out": target}, {"--data": source})
    if target.is_symlink():  # the new folder would replace the link: refused before the work
        link = os.readlink(target)
        if not target.exists():
            raise UsageError(f"--out {target}: is a symbolic link to {link}, which does not "
                             "exist; give a real path for the new directory")
        raise UsageError(f"--out {target}: is a symbolic link (to {link}); prepare writes a new "
                         f"directory in its place: give the directory's own path, "
                         f"{target.resolve()}, or a new one")
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise UsageError(f"--out {target}: already exists; remove it or choose another "
                         "directory")
    check_output_file(target / "manifest.json", "--out")
    try:
        manifest = prepare_file(
            source, target, format=args.format, label=args.label, categorical=args.categorical,
            numeric=args.numeric, min_count=args.min_count or CRITEO_X4_MIN_COUNT,
            hash_buckets=args.hash_buckets, split=args.split, seed=args.seed,
            chunk_rows=args.chunk_rows or CHUNK_ROWS, rows=args.rows,
            progress=progress_default(args.progress))
    except DiskFullError as error:
        raise UsageError(f"--out {target}: {error.filename}: {error.strerror}") from None
    return json.dumps(manifest) if args.json else format_manifest(manifest, target)


def format_manifest(manifest: dict, target: Path) -> str:
    settings, source = manifest["settings"], manifest["source"]
    encoding = (f"hashed into {settings['hash_buckets']:,} ids per field"
                if settings["hash_buckets"] else f"min count {settings['min_count']}")
    lines = [f"prepared   {target}  ({settings['rows']:,} rows of {source['path']}, "
             f"{source['bytes'] / 1e6:,.1f} MB, sha256 {source['sha256'][:12]}...)"]
    for name, part in manifest["splits"].items():
        rate = part["positives"] / part["rows"] if part["rows"] else float("nan")
        lines.append(f"{name:<10} {part['rows']:>12,} rows  {part['positives']:>11,} clicks "
                     f"({rate:.3f})")
    lines.append(f"fields     {len(manifest['fields'])}, {sum(manifest['field_dims']):,} ids "
                 f"({encoding})")
    lines.append(f"time       {manifest['seconds']:.1f} s, {manifest['passes']} parsing "
                 f"pass(es), {manifest['rows_per_s']:,.0f} rows/s")
    return "\n".join(lines)


# ---- train ---------------------------------------------------------------------------------
def load_prepared_arguments(args: argparse.Namespace) -> PreparedArrays:
    """The data of ``train --prepared DIR`` (memory-mapped)."""
    from ..data.prepared import load_prepared

    if args.format or args.label or args.categorical or args.numeric or args.rows:
        raise UsageError("--format, --label, --categorical, --numeric and --rows go with "
                         "--data; a prepared directory is fixed (prepare again to change it)")
    folder = Path(args.prepared)
    if not folder.is_dir():
        raise UsageError(f"--prepared {folder}: no such directory")
    try:
        return load_prepared(folder)
    except ValueError as error:
        raise UsageError(f"--prepared {folder}: {error}") from None


def stream_criteo(args: argparse.Namespace, path: Path) -> PreparedArrays:
    """``train --data FILE --format criteo``: prepare 80/10/10 into a temporary directory
    (removed when the data is dropped, at exit, and on SIGTERM or SIGHUP) and open it
    memory-mapped."""
    return _stream(args, path, format="criteo", min_count=CRITEO_X4_MIN_COUNT)


def stream_csv(args: argparse.Namespace, path: Path, categorical: list[str],
               numeric: list[str]) -> PreparedArrays:
    """``train --data FILE --format csv`` for a large file: the same 80/10/10 preparation into
    a temporary directory, every value seen in training kept (min count 1, as in memory)."""
    return _stream(args, path, format="csv", label=args.label, categorical=categorical,
                   numeric=numeric, min_count=1)


def _stream(args: argparse.Namespace, path: Path, **preparation) -> PreparedArrays:
    """Prepare ``path`` into a :class:`~deepfm_lite.data.atomic.TemporaryFolder` under
    ``$TMPDIR`` (named ``deepfm_lite-train.PID.HOST.TOKEN.tmp``; one that an earlier ``train``
    killed by SIGKILL left is removed first, with a warning) and map it. The folder goes on
    every exit that can be caught: an error, the end of the run, Ctrl-C, SIGTERM, SIGHUP."""
    from ..data.atomic import TemporaryFolder
    from ..data.prepared import load_prepared, prepare_file

    folder = TemporaryFolder("train")
    try:
        prepare_file(path, folder.path / "prepared", split=(0.8, 0.1, 0.1), seed=args.seed,
                     rows=args.rows, progress=args.progress, **preparation)
        data = load_prepared(folder.path / "prepared", verify=False)  # written just now
    except DiskFullError as error:
        folder.cleanup()
        raise UsageError(f"--data {path}: {error.strerror} (train --data prepares the file "
                         f"under $TMPDIR, in {error.filename}: set TMPDIR to a folder on a "
                         "larger disk, or run prepare with --out on one)") from None
    except BaseException:
        folder.cleanup()
        raise
    data.owner = folder  # the directory lives as long as the arrays mapped from it
    return data


# ---- predict -------------------------------------------------------------------------------
def run_predict(args) -> str:
    """Run ``predict``; return what it prints."""
    from ..checkpoint import load
    from ..data.prepared import CHUNK_ROWS
    from ..predict import FormatError, OutputError, input_recipe, predict_file

    model_path = check_input_file(args.model, "--model")
    source = check_input_file(args.data, "--data")
    check_output_file(args.out, "--out", example="scores.csv")
    check_outputs_spare_inputs({"--out": args.out}, {"--model": model_path, "--data": source,
                                                     "--prepared": args.prepared})
    if args.prepared is not None and not Path(args.prepared).is_dir():
        raise UsageError(f"--prepared {args.prepared}: no such directory")
    model = load(model_path)
    try:  # the rows are prepared as the model's were; refused where that is ambiguous
        input_recipe(model, args.format, args.prepared, name=f"--model {model_path}")
    except FormatError as error:
        raise UsageError(f"--format {args.format}: {error}") from None
    try:
        result = predict_file(model, source, format=args.format, out=args.out,
                              prepared=args.prepared, batch_rows=args.batch_rows or CHUNK_ROWS,
                              progress=progress_default(args.progress))
    except OutputError as error:  # a full disk, a file-size limit: nothing is left behind
        raise UsageError(f"--out {args.out}: could not write the scores ({error.strerror}); "
                         "no partial file was left") from error
    if args.json:
        return json.dumps(result)
    text = f"scored     {result['rows']:,} rows of {source} -> {args.out}"
    if result["labelled"]:
        auc = "n/a (one class)" if result["auc"] is None else f"{result['auc']:.4f}"
        text += (f"\nlabels     {result['positives']:,} clicks; AUC {auc}, "
                 f"LogLoss {result['logloss']:.4f}")
    else:
        text += "\nlabels     none in the file (such as Kaggle's test.txt): no AUC or LogLoss"
    return text
