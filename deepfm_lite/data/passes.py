"""The passes of :func:`deepfm_lite.data.prepared.prepare_file` over a file, and its manifest.

:class:`PreparationJob` holds the settings of one preparation. :meth:`~PreparationJob.fit_schema`
reads the training rows for the vocabularies and numeric scales (nothing to read when every
field is hashed); :meth:`~PreparationJob.write_splits` encodes every row and appends it to its
split's ``.npy`` files. Both draw the same split with :class:`~deepfm_lite.data.chunks.SplitDrawer`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .chunks import (
    NpyAppender,
    SplitDrawer,
    criteo_features,
    csv_header,
    progress_bar,
    read_frames,
)
from .criteo import CRITEO_CATEGORICAL, CRITEO_INTEGER, CRITEO_LABEL
from .schema import FieldSpec, Schema, category_keys
from .splits import infer_fields

FORMAT = "deepfm_lite.prepared"  # the manifest's header
VERSION = 2  # 2 adds "files": the size and SHA-256 of schema.json and of every array
SPLIT_NAMES = {2: ("train", "valid"), 3: ("train", "valid", "test")}


class PreparationJob:
    """One preparation: its settings, and the two passes that read the file."""

    def __init__(self, source, file_format, label, categorical, numeric, min_count,
                 hash_buckets, fractions, seed, chunk_rows, n_rows, show):
        self.source, self.format, self.seed, self.show = source, file_format, seed, show
        self.min_count, self.hash_buckets = min_count, hash_buckets
        self.fractions, self.chunk_rows, self.n_rows = fractions, chunk_rows, n_rows
        if file_format == "criteo":
            self.label, self.categorical = CRITEO_LABEL, [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]
            self.numeric, self.columns = [], None
        else:
            self.label, self.categorical, self.numeric = label, categorical, numeric
            self.columns = self._csv_fields()

    def _csv_fields(self) -> list[str]:
        """The CSV's columns; infer the fields from the first chunk when none were named."""
        columns = csv_header(self.source)
        named = [*self.categorical, *self.numeric, self.label]
        absent = [name for name in named if name not in columns]
        if absent:
            raise ValueError(f"{self.source}: column(s) {absent} not in the header; columns: "
                             f"{', '.join(columns)}")
        if not self.categorical and not self.numeric:
            first = next(read_frames(self.source, "csv", self.chunk_rows, self.n_rows,
                                     self.label))
            self.categorical, self.numeric, _ = infer_fields(first, self.label)
        return columns

    def frames(self, desc: str):
        """The file's rows as feature frames, chunk by chunk, with a progress bar."""
        with progress_bar(self.show, desc, self.n_rows, "rows") as bar:
            for frame in read_frames(self.source, self.format, self.chunk_rows, self.n_rows,
                                     self.label if self.format == "csv" else None, self.numeric):
                bar.update(len(frame))
                yield criteo_features(frame, True) if self.format == "criteo" else frame

    def _train_frames(self, desc: str):
        drawer = SplitDrawer(self.n_rows, self.fractions, self.seed)
        for frame in self.frames(desc):
            yield frame[drawer.take(len(frame)) == 0]

    def fit_schema(self) -> Schema:
        """Vocabularies and numeric scales from the training rows (or hashed fields).

        The same schema as ``Schema.fit_stream`` (tests/test_prepare.py checks it), but the
        category counts are merged by :class:`CategoryCounts`: fit_stream's merge costs the
        whole vocabulary at every chunk, which grows with rows x vocabulary on a large file.
        """
        specs: dict[str, FieldSpec] = {}
        counts = CategoryCounts(self.categorical if self.hash_buckets is None else [])
        if self.hash_buckets is not None:
            specs = {name: FieldSpec(name, "categorical", hash_buckets=self.hash_buckets)
                     for name in self.categorical}
        if self.passes == 2:
            frames = counts.counting(self._train_frames(
                "pass 1/2: vocabularies" if self.hash_buckets is None else "pass 1/2: scales"))
            if self.numeric:
                scales = Schema.fit_stream(frames, (), self.numeric, self.label)
                specs.update({spec.name: spec for spec in scales.fields})
            else:
                for _ in frames:
                    pass
            specs.update({name: FieldSpec(name, "categorical", vocabulary=vocabulary)
                          for name, vocabulary in counts.vocabularies(self.min_count).items()})
        order = self.columns or [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]
        return Schema([specs[name] for name in order if name in specs], self.label)

    def write_splits(self, schema: Schema, folder: Path) -> dict[str, dict]:
        """Encode every row and append it to its split's arrays; rows and positives per split.

        On an error the files are closed (the caller removes the folder).
        """
        names = SPLIT_NAMES[len(self.fractions)]
        drawer = SplitDrawer(self.n_rows, self.fractions, self.seed)
        width = len(schema.fields)
        writers = {name: [NpyAppender(folder / f"{name}_ids.npy", np.int32, width),
                          NpyAppender(folder / f"{name}_values.npy", np.float32, width),
                          NpyAppender(folder / f"{name}_labels.npy", np.float32)]
                   for name in names}
        positives = dict.fromkeys(names, 0)
        oracle, rows_read = None, 0
        desc = "pass 2/2: encoding" if self.passes == 2 else "pass 1/1: encoding"
        try:
            for frame in self.frames(desc):
                encoded = schema.transform(frame)
                parts = drawer.take(len(frame))
                rows_read += len(frame)
                if oracle is None:
                    oracle = {name: NpyAppender(folder / f"{name}_p_true.npy", np.float64)
                              for name in names} if encoded.p_true is not None else {}
                for index, name in enumerate(names):
                    keep = parts == index
                    labels = encoded.labels.numpy()[keep]
                    for writer, array in zip(writers[name], (encoded.ids.numpy()[keep],
                                                             encoded.values.numpy()[keep],
                                                             labels)):
                        writer.append(array)
                    if oracle:
                        oracle[name].append(encoded.p_true[keep])
                    positives[name] += int(labels.sum())
            if rows_read != self.n_rows:
                raise ValueError(f"{self.source}: read {rows_read} records from {self.n_rows} "
                                 "data lines; prepare needs one record per line (no line break "
                                 "inside a quoted cell)")
            for writer in [*(w for group in writers.values() for w in group),
                           *(oracle or {}).values()]:
                writer.close()
        except BaseException:
            for writer in [*(w for group in writers.values() for w in group),
                           *(oracle or {}).values()]:
                writer.file.close()
            raise
        self.has_oracle = bool(oracle)
        return {name: {"rows": writers[name][0].rows, "positives": positives[name]}
                for name in names}

    def array_bytes(self) -> int:
        """Bytes of the arrays :meth:`write_splits` will write, at least: int32 ids, float32
        values and a float32 label per row (headers and an oracle's p_true left out)."""
        width = len(self.categorical) + len(self.numeric)
        return self.n_rows * (width * 8 + 4)

    @property
    def passes(self) -> int:
        """2 with vocabularies or numeric fields (a pass to count), 1 when all are hashed."""
        return 1 if self.hash_buckets is not None and not self.numeric else 2

    def settings(self) -> dict:
        return {"format": self.format, "label": self.label, "categorical": self.categorical,
                "numeric": self.numeric,
                "min_count": None if self.hash_buckets is not None else self.min_count,
                "hash_buckets": self.hash_buckets, "split": self.fractions,
                "split_names": list(SPLIT_NAMES[len(self.fractions)]), "seed": self.seed,
                "chunk_rows": self.chunk_rows, "rows": self.n_rows,
                "integers": ("Criteo_x4 recipe: v > 2 -> floor(ln(v)^2), categorical"
                             if self.format == "criteo" else "as given"),
                "numeric_encoding": "standardised by the training mean and std, clipped to "
                                    "[-5, 5]; missing or infinite -> the field's missing id"}


def build_manifest(job: PreparationJob, scanned: dict, schema: Schema, counts: dict,
                   files: dict[str, dict], seconds: float) -> dict:
    """What ``manifest.json`` records: source, settings, rows and positives per split, and
    ``files``: the size and SHA-256 of ``schema.json`` and of every array, by file name, which
    :func:`~deepfm_lite.data.prepared.load_prepared` checks."""
    return {"format": FORMAT, "version": VERSION, "package_version": _package_version(),
            "source": {"path": str(job.source.resolve()), **scanned},
            "settings": job.settings(), "passes": job.passes, "splits": counts,
            "fields": schema.field_names, "field_dims": schema.field_dims,
            "p_true": job.has_oracle, "files": files,
            "seconds": seconds, "rows_per_s": job.n_rows / seconds if seconds > 0 else None}


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deepfm-lite")
    except PackageNotFoundError:
        return "unknown"



class CategoryCounts:
    """How often each category of each field occurs, merged chunk by chunk.

    Each chunk's counts wait in a list until they hold as many entries as the running total;
    then all are merged at once (a sort-and-sum). The total is rebuilt only when it has about
    doubled, so merging costs O(n log n) over the file rather than O(chunks x vocabulary).
    """

    def __init__(self, names: list[str]):
        self.total = {name: pd.Series(dtype="int64") for name in names}
        self.pending: dict[str, list[pd.Series]] = {name: [] for name in names}

    def counting(self, frames):
        """Pass the frames through, counting their categories on the way."""
        for frame in frames:
            for name in self.total:
                self.pending[name].append(category_keys(frame[name]).value_counts(dropna=True))
                if sum(map(len, self.pending[name])) >= max(len(self.total[name]), 1 << 16):
                    self._merge(name)
            yield frame

    def _merge(self, name: str) -> None:
        parts = [self.total[name], *self.pending[name]]
        self.total[name] = pd.concat(parts).groupby(level=0, sort=False).sum()
        self.pending[name] = []

    def vocabularies(self, min_count: int) -> dict[str, list[str]]:
        """Per field, the categories seen at least ``min_count`` times, sorted as text."""
        kept = {}
        for name in self.total:
            self._merge(name)
            counts = self.total[name]
            kept[name] = [str(v) for v in sorted(counts.index[counts.to_numpy() >= min_count]
                                                 .tolist())]
        return kept


__all__ = ["PreparationJob", "CategoryCounts", "build_manifest", "SPLIT_NAMES", "FORMAT", "VERSION"]
