"""Whether a prepared folder is what :func:`~deepfm_lite.data.prepared.prepare_file` wrote.

:func:`~deepfm_lite.data.prepared.load_prepared` trusts nothing it reads. ``manifest.json``
must be a JSON object whose split names are ``train``, ``valid`` [, ``test``] (the files are
named by the code from them, so no name read from a file leads out of the folder), whose rows,
positives and field sizes are whole numbers (:func:`checked_manifest`); ``schema.json`` must
have the manifest's fields and sizes (:func:`check_schema_agrees`: not another preparation's
schema); every file the size and SHA-256 that the manifest's ``files`` recorded when it was
written (:func:`check_files`); every label 0 or 1, as many clicks as the manifest says
(:func:`check_labels`). Each failure is a ValueError naming the file and what is wrong.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np

from .chunks import file_record
from .passes import FORMAT, SPLIT_NAMES, VERSION
from .schema import Schema

ARRAYS = ("ids", "values", "labels")
DTYPES = {"ids": np.dtype(np.int32), "values": np.dtype(np.float32),
          "labels": np.dtype(np.float32), "p_true": np.dtype(np.float64)}
SHA256 = re.compile(r"[0-9a-f]{64}")


def read_json(path: Path) -> dict:
    """The JSON object in ``path``; ValueError naming the file when it is missing, not JSON
    or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: not a complete prepared directory") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object {{...}}, found a "
                         f"{_json_type(data)}")
    return data


def _json_type(value) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "true/false", type(None): "null",
             int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def checked_manifest(path: Path, manifest: dict) -> tuple[dict[str, dict], bool]:
    """The manifest's splits (names checked) and whether it has p_true, or ValueError."""
    if manifest.get("format") != FORMAT or manifest.get("version") not in (1, VERSION):
        raise ValueError(f"{path}: not a deepfm_lite prepared manifest (format {FORMAT!r}, "
                         f"version 1 or {VERSION})")
    splits = manifest.get("splits")
    if not isinstance(splits, dict):
        raise ValueError(f"{path}: 'splits' is " + ("missing" if splits is None else
                         f"a {_json_type(splits)}, not an object") + "; prepare the folder "
                         "again")
    if tuple(splits) not in SPLIT_NAMES.values():
        raise ValueError(f"{path}: 'splits' names {list(splits)}; a prepared folder has the "
                         "splits train, valid (and test), in that order; prepare it again")
    for name, info in splits.items():
        if not isinstance(info, dict) or not all(_count(info.get(key))
                                                 for key in ("rows", "positives")):
            raise ValueError(f"{path}: splits.{name} must hold 'rows' and 'positives' as "
                             f"whole numbers >= 0, found {info!r}")
        if info["positives"] > info["rows"]:
            raise ValueError(f"{path}: splits.{name} has {info['positives']} positives in "
                             f"{info['rows']} rows")
    fields, dims = manifest.get("fields"), manifest.get("field_dims")
    if (not isinstance(fields, list) or not all(isinstance(name, str) for name in fields)
            or not isinstance(dims, list) or len(dims) != len(fields)
            or not all(_count(dim) and dim > 0 for dim in dims)):
        raise ValueError(f"{path}: 'fields' must be a list of names and 'field_dims' a list of "
                         "as many positive whole numbers; prepare the folder again")
    p_true = manifest.get("p_true", False)
    if not isinstance(p_true, bool):
        raise ValueError(f"{path}: 'p_true' must be true or false, found {p_true!r}")
    return splits, p_true


def file_names(splits: dict, p_true: bool) -> list[str]:
    """The files a prepared folder holds besides its manifest, named by the code, never by a
    file (so none lies outside the folder)."""
    kinds = [*ARRAYS, "p_true"] if p_true else list(ARRAYS)
    return ["schema.json", *(f"{name}_{kind}.npy" for name in splits for kind in kinds)]


def check_files(folder: Path, manifest: dict, names: list[str], verify: bool) -> None:
    """Each file of the size (and with ``verify`` the SHA-256) the manifest records."""
    path = folder / "manifest.json"
    if manifest["version"] == 1:
        warnings.warn(f"{path}: version 1 records no checksums, so the files of {folder} are "
                      "not verified; prepare it again to have them checked", stacklevel=3)
        return
    records = manifest.get("files")
    if not isinstance(records, dict) or set(records) != set(names):
        found = sorted(records) if isinstance(records, dict) else records
        raise ValueError(f"{path}: 'files' must record exactly {names}, found {found!r}; "
                         "prepare the folder again")
    for name in names:
        record = records[name]
        if (not isinstance(record, dict) or not _count(record.get("bytes"))
                or not isinstance(record.get("sha256"), str)
                or not SHA256.fullmatch(record["sha256"])):
            raise ValueError(f"{path}: files.{name} must hold 'bytes' and a 'sha256' of 64 hex "
                             f"digits, found {record!r}")
        size = (folder / name).stat().st_size
        if size != record["bytes"]:
            raise ValueError(f"{folder / name}: {size:,} bytes, but {record['bytes']:,} when it "
                             "was prepared (changed, damaged or from another preparation); "
                             "prepare the folder again")
    for name in names if verify else []:
        if file_record(folder / name)["sha256"] != records[name]["sha256"]:
            raise ValueError(f"{folder / name}: its SHA-256 differs from the one manifest.json "
                             "recorded when it was prepared (changed, damaged or from another "
                             "preparation); prepare the folder again")


def read_schema(path: Path) -> Schema:
    """The schema in ``path``; ValueError naming the file when it is not one."""
    try:
        return Schema.from_dict(read_json(path))
    except ValueError as error:
        text = str(error)
        raise ValueError(text if text.startswith(str(path)) else f"{path}: {text}") from None


def check_schema_agrees(folder: Path, schema: Schema, manifest: dict) -> None:
    """The schema's fields and sizes are the manifest's (not another preparation's schema)."""
    path = folder / "schema.json"
    if schema.field_names != manifest["fields"]:
        raise ValueError(f"{path}: fields {schema.field_names} differ from manifest.json's "
                         f"{manifest['fields']} (the schema of another preparation?); prepare "
                         "the folder again")
    for name, size, recorded in zip(schema.field_names, schema.field_dims,
                                    manifest["field_dims"]):
        if size != recorded:
            raise ValueError(f"{path}: field {name} has {size:,} ids, but manifest.json's "
                             f"field_dims give it {recorded:,} (the schema of another "
                             "preparation?); prepare the folder again")


def check_labels(path: Path, labels: np.ndarray, positives: int) -> None:
    """Every label 0 or 1, and as many 1s as the manifest records."""
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"{path}: holds labels other than 0 and 1; prepare the folder again")
    found = int(np.count_nonzero(labels))
    if found != positives:
        raise ValueError(f"{path}: {found:,} positives, but manifest.json records "
                         f"{positives:,}; prepare the folder again")


__all__ = ["ARRAYS", "DTYPES", "read_json", "checked_manifest", "file_names", "check_files",
           "read_schema", "check_schema_agrees", "check_labels"]
