"""Criteo-shaped data: a generator with a planted click model, the Kaggle file format, a reader.

The Criteo Display Advertising Challenge data (the paper's Criteo set) has one label, 13 integer
fields ``I1..I13`` (counts, often missing, heavy-tailed) and 26 categorical fields ``C1..C26``
(8-hex-digit hashes). This module offers three things for it:

* :func:`make_criteo_like` draws rows with exactly those columns from a documented click model,
  with the true click probability ``p_true`` alongside (datasheet: ``datasets/criteo_like.md``).
* :func:`write_criteo_tsv` writes rows in the Kaggle ``train.txt`` format.
* :func:`read_criteo` reads ``train.txt`` (tab-separated, no header), ``test.txt`` (the same
  without the label) or a CSV with a header, in chunks if asked, and names the line and column
  of any malformed line.

Ground-truth logit of one generated row (the tables are below and in the datasheet)::

    logit = bias (solved per seed so that the mean click rate is TARGET_CTR = 0.23)
          + order 1: sum over C fields of w_f[value]   (frequent values and "missing" have
                                                         weights of their own, the long tail
                                                         mostly shares one)
                     + sum over I fields of g_f(v)      (a smooth step in ln(1 + v), plus an
                                                         own effect for missing / negative)
          + order 2: sum over pairs f < g of PAIR_FIELDS of <u_f[value_f], u_g[value_g]>
                     (rank-4 latent vectors: exactly the form an FM's factorised pairs fit)
          + order 3+: STEP_EFFECT if s > STEP_AT, where s = (h_1 + ... + h_5) / sqrt(5) sums
                      centred scores of the five STEP_FIELDS (a threshold on a sum involves
                      products of every order; an FM fits only its linear and pairwise part)
                    + the effect of each of THREE_WAY_RULES whose three values occur together
          + hidden noise ~ N(0, NOISE_STD^2), not observable from the row

    label ~ Bernoulli(sigmoid(logit))

``p_true`` is the click probability given the observed row, the hidden noise integrated out by
Gauss-Hermite quadrature: the exact Bayes-optimal prediction.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import TRUE_PROBABILITY, criteo_integer_to_category

CRITEO_LABEL = "label"
CRITEO_INTEGER = [f"I{i}" for i in range(1, 14)]
CRITEO_CATEGORICAL = [f"C{i}" for i in range(1, 27)]
CRITEO_COLUMNS = [CRITEO_LABEL, *CRITEO_INTEGER, *CRITEO_CATEGORICAL]

# ---- the generator's fields ------------------------------------------------------------------
# Missing values come in groups, as in the real data (I1 and I10 are missing together, C19, C20,
# C25 and C26 too, ...): one shared draw per group, plus an optional extra rate per field.
MISSING_GROUPS = {"A": 0.445, "B": 0.047, "C": 0.21, "D": 0.033, "E": 0.483}


@dataclass(frozen=True)
class IntegerField:
    """A count ``v = max(0, floor(exp(mu + sigma * g) - 1))``, ``g`` standard normal.

    The click model adds ``effect * tanh((ln(1 + v) - centre) / 1.5)`` when ``v`` is present and
    ``missing_effect`` when it is missing.
    """

    mu: float
    sigma: float
    group: str | None
    extra_missing: float
    effect: float
    centre: float
    missing_effect: float


INTEGER_FIELDS = {
    #            mu    sigma group extra  effect centre missing
    "I1": IntegerField(0.7, 1.2, "A", 0.0, 0.45, 1.0, -0.20),
    "I2": IntegerField(1.4, 3.0, None, 0.0, 0.15, 2.0, 0.00),
    "I3": IntegerField(1.95, 1.6, "C", 0.02, -0.20, 2.0, 0.10),
    "I4": IntegerField(1.6, 1.1, "C", 0.0, 0.10, 1.6, 0.10),
    "I5": IntegerField(8.0, 2.0, "B", 0.0, -0.25, 8.0, 0.30),
    "I6": IntegerField(3.8, 1.7, "C", 0.047, 0.30, 3.8, 0.10),
    "I7": IntegerField(1.4, 1.55, "B", 0.0, 0.35, 1.4, 0.30),
    "I8": IntegerField(2.2, 1.0, None, 0.001, 0.05, 2.2, 0.00),
    "I9": IntegerField(3.8, 1.5, "B", 0.0, 0.10, 3.8, 0.30),
    "I10": IntegerField(0.5, 0.5, "A", 0.0, 0.20, 0.5, -0.20),
    "I11": IntegerField(0.8, 0.85, "B", 0.0, 0.40, 0.8, 0.30),
    "I12": IntegerField(0.3, 1.0, "A", 0.6, 0.15, 0.3, -0.10),
    "I13": IntegerField(1.8, 1.2, "C", 0.0, 0.20, 1.8, 0.10),
}
INTEGER_CORRELATION = 0.6  # every count shares a hidden row activity with this weight
I2_NEGATIVE = {-1: 0.08, -2: 0.02}  # like the real I2, a few rows hold -1 or -2
I2_NEGATIVE_EFFECT = 0.25


@dataclass(frozen=True)
class CategoricalField:
    """Values ``0 .. vocabulary-1`` drawn with Zipf weights ``rank ** -zipf``.

    The click model gives each value (and "missing") a weight drawn from N(0, effect_std^2).
    """

    vocabulary: int
    zipf: float
    group: str | None
    extra_missing: float
    effect_std: float


CATEGORICAL_FIELDS = {
    #                       vocab    zipf group extra  effect
    "C1": CategoricalField(1_460, 1.8, None, 0.0, 0.25),
    "C2": CategoricalField(583, 1.0, None, 0.0, 0.35),
    "C3": CategoricalField(100_000, 1.0, "D", 0.0, 0.30),
    "C4": CategoricalField(100_000, 1.0, "D", 0.0, 0.20),
    "C5": CategoricalField(305, 2.2, None, 0.0, 0.30),
    "C6": CategoricalField(24, 1.7, None, 0.126, 0.25),
    "C7": CategoricalField(12_500, 0.7, None, 0.0, 0.20),
    "C8": CategoricalField(633, 2.0, None, 0.0, 0.20),
    "C9": CategoricalField(3, 3.5, None, 0.0, 0.20),
    "C10": CategoricalField(50_000, 1.15, None, 0.0, 0.25),
    "C11": CategoricalField(5_683, 0.85, None, 0.0, 0.20),
    "C12": CategoricalField(100_000, 1.0, "D", 0.0, 0.20),
    "C13": CategoricalField(3_194, 0.85, None, 0.0, 0.25),
    "C14": CategoricalField(27, 1.3, None, 0.0, 0.30),
    "C15": CategoricalField(14_992, 0.85, None, 0.0, 0.20),
    "C16": CategoricalField(100_000, 1.0, "D", 0.0, 0.20),
    "C17": CategoricalField(10, 1.2, None, 0.0, 0.25),
    "C18": CategoricalField(5_652, 0.95, None, 0.0, 0.25),
    "C19": CategoricalField(2_173, 1.9, "E", 0.0, 0.20),
    "C20": CategoricalField(4, 0.3, "E", 0.0, 0.20),
    "C21": CategoricalField(100_000, 1.0, "D", 0.0, 0.20),
    "C22": CategoricalField(18, 1.7, None, 0.816, 0.25),
    "C23": CategoricalField(15, 1.5, None, 0.0, 0.30),
    "C24": CategoricalField(50_000, 1.05, "D", 0.0, 0.25),
    "C25": CategoricalField(105, 1.3, "E", 0.0, 0.25),
    "C26": CategoricalField(50_000, 1.0, "E", 0.0, 0.20),
}

# ---- the planted effects ---------------------------------------------------------------------
TARGET_CTR = 0.23  # Criteo's train.txt clicks at about 0.256, the samples at 0.21
CALIBRATION_ROWS = 20_000
NOISE_STD = 1.5
PAIR_FIELDS = ["C2", "C6", "C14", "C17", "C20", "C23", "C25"]
PAIR_RANK = 4
HEAD_SHARE = 0.002  # values drawn at least this often have effects of their own
TAIL_SPREAD = 0.25  # the tail's own effects, relative to the head's
PAIR_TARGET_STD = 1.0  # std of the whole pairwise part on the reference draw
STEP_FIELDS = ["C6", "C14", "C17", "C20", "C23"]
STEP_AT = 1.0  # s is about standard normal: the step is taken by about 16% of the rows
STEP_EFFECT = 2.5
# Conjunctions of three frequent values (value index 0 = a field's most frequent value, 1 the
# next, ...) and the effect each adds when all three occur together (rows hit: 2.5%, 3.5%, 6.8%).
THREE_WAY_RULES = [
    ((("C17", 0), ("C20", 1), ("C23", 0)), 1.2),
    ((("C1", 0), ("C14", 0), ("C17", 1)), -1.0),
    ((("C5", 0), ("C8", 0), ("C23", 1)), 0.9),
]
HASH_SALT = 0x9E3779B9
# The generator's true click probability: written by make_criteo_like, never a feature. A CSV
# with a header may carry it (datasets/criteo_like_sample.csv does); read_criteo keeps it.
GROUND_TRUTH = TRUE_PROBABILITY


# ---- generator -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _zipf_cdf(size: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, size + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _zipf_probs(size: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, size + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def _centred_unit(scores: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Scores shifted to mean 0 and scaled to variance 1 under the value frequencies ``probs``."""
    centred = scores - probs @ scores
    return centred / np.sqrt(probs @ centred**2)


def _hash_strings(field_index: int, values: np.ndarray, seed: int) -> np.ndarray:
    """8-hex-digit hashes of value indices: a bijective 32-bit mix, so values never collide."""
    offset = ((field_index << 24) + seed * HASH_SALT) & 0xFFFFFFFF
    x = (values.astype(np.uint64) + np.uint64(offset)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    return np.array([f"{int(h):08x}" for h in x], dtype=object)


def _head_and_tail(rng: np.random.Generator, probs: np.ndarray, std: float,
                   shape: tuple[int, ...]) -> np.ndarray:
    """Planted effects of one field's values (and of "missing", the last entry).

    A head value (drawn with probability >= HEAD_SHARE) gets its own effect ~ N(0, std^2). The
    long tail shares one effect ~ N(0, std^2) plus a small one of its own ~ N(0, (TAIL_SPREAD *
    std)^2): rare values mostly behave alike, which is what a model can learn about them.
    """
    head = probs >= HEAD_SHARE
    own = rng.normal(0.0, std, (len(probs), *shape))
    shared = rng.normal(0.0, std, shape)
    tail = shared + TAIL_SPREAD * own
    return np.where(head.reshape(-1, *([1] * len(shape))), own, tail)


@functools.lru_cache(maxsize=4)
def _population(seed: int) -> dict:
    """Every value's planted weights (fixed per seed, the same for every row count).

    Index ``vocabulary`` of each table is the "missing" value.
    """
    rng = np.random.default_rng([seed, 11])
    weights, factors, scores = {}, {}, {}
    for name, spec in CATEGORICAL_FIELDS.items():
        probs = _value_probs(spec)
        raw = _head_and_tail(rng, probs, spec.effect_std, ())
        # Centred under the value frequencies, so that the click rate hardly moves with the seed
        # (a field's head value is drawn often; an uncentred head weight would shift the CTR).
        weights[name] = raw - probs @ raw
    for name in PAIR_FIELDS:
        probs = _value_probs(CATEGORICAL_FIELDS[name])
        raw = _head_and_tail(rng, probs, 1.0, (PAIR_RANK,))
        # Centred too: then the pairwise part has no first-order projection, and a model without
        # pairs cannot pick it up through single fields.
        factors[name] = raw - probs @ raw
    for name in STEP_FIELDS:
        probs = _value_probs(CATEGORICAL_FIELDS[name])
        scores[name] = _centred_unit(rng.normal(0.0, 1.0, len(probs)), probs)
    pop = {"weights": weights, "factors": factors, "scores": scores}
    # The bias is solved once per seed on a reference draw, so every seed clicks at TARGET_CTR.
    masks, counts, codes = _draw_rows(np.random.default_rng([seed, 13]), CALIBRATION_ROWS)
    # A few head values dominate the pairs, so the pairwise part's spread varies with the seed:
    # rescale the latent vectors so that it is PAIR_TARGET_STD for every seed.
    scale = np.sqrt(PAIR_TARGET_STD / _pairwise_part(codes, factors).std())
    for name in PAIR_FIELDS:
        factors[name] *= scale
    pop["bias"] = _calibrated_bias(_planted_logit(codes, counts, masks, pop))
    return pop


def _missing_rate(spec: IntegerField | CategoricalField) -> float:
    group = MISSING_GROUPS[spec.group] if spec.group else 0.0
    return 1.0 - (1.0 - group) * (1.0 - spec.extra_missing)


def _value_probs(spec: CategoricalField) -> np.ndarray:
    """Frequencies of values 0..vocabulary-1 and, last, of "missing"."""
    missing = _missing_rate(spec)
    return np.append((1.0 - missing) * _zipf_probs(spec.vocabulary, spec.zipf), missing)


def _missing_masks(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    group_masks = {g: rng.random(n_rows) < rate for g, rate in MISSING_GROUPS.items()}
    masks = {}
    for name, spec in {**INTEGER_FIELDS, **CATEGORICAL_FIELDS}.items():
        mask = group_masks[spec.group].copy() if spec.group else np.zeros(n_rows, dtype=bool)
        if spec.extra_missing:
            mask |= rng.random(n_rows) < spec.extra_missing
        masks[name] = mask
    return masks


def _integer_counts(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    """Heavy-tailed counts sharing a hidden row activity (float arrays, before missingness)."""
    activity = rng.standard_normal(n_rows)
    own = np.sqrt(1.0 - INTEGER_CORRELATION**2)
    counts = {}
    for name, spec in INTEGER_FIELDS.items():
        g = INTEGER_CORRELATION * activity + own * rng.standard_normal(n_rows)
        counts[name] = np.maximum(0.0, np.floor(np.exp(spec.mu + spec.sigma * g) - 1.0))
    negative = rng.random(n_rows)
    threshold = 0.0
    for value, rate in I2_NEGATIVE.items():
        counts["I2"][(negative >= threshold) & (negative < threshold + rate)] = value
        threshold += rate
    return counts


def _integer_effect(name: str, counts: np.ndarray, missing: np.ndarray) -> np.ndarray:
    spec = INTEGER_FIELDS[name]
    level = np.log1p(np.maximum(counts, 0.0))
    effect = spec.effect * np.tanh((level - spec.centre) / 1.5)
    if name == "I2":
        effect = np.where(counts < 0, I2_NEGATIVE_EFFECT, effect)
    return np.where(missing, spec.missing_effect, effect)


def _integrate_noise(logit: np.ndarray, noise_std: float) -> np.ndarray:
    """E[sigmoid(logit + eps)], eps ~ N(0, noise_std^2), by 20-point Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    weights = weights / weights.sum()
    total = np.zeros_like(logit)
    for node, weight in zip(nodes, weights, strict=True):
        total += weight / (1.0 + np.exp(-(logit + noise_std * node)))
    return total


def _draw_rows(rng: np.random.Generator, n_rows: int):
    """Missing masks, integer counts and categorical value codes of ``n_rows`` rows."""
    masks = _missing_masks(rng, n_rows)
    counts = _integer_counts(rng, n_rows)
    codes = {}
    for name, spec in CATEGORICAL_FIELDS.items():
        drawn = np.searchsorted(_zipf_cdf(spec.vocabulary, spec.zipf), rng.random(n_rows))
        codes[name] = np.where(masks[name], spec.vocabulary, np.minimum(drawn, spec.vocabulary - 1))
    return masks, counts, codes


def _calibrated_bias(logit: np.ndarray) -> float:
    """The bias that makes the mean of ``p_true`` equal TARGET_CTR on these logits (bisection)."""
    low, high = -6.0, 2.0
    for _ in range(30):
        middle = 0.5 * (low + high)
        if _integrate_noise(logit + middle, NOISE_STD).mean() < TARGET_CTR:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _pairwise_part(codes: dict[str, np.ndarray], factors: dict[str, np.ndarray]) -> np.ndarray:
    """sum over pairs f < g of <u_f, u_g> = 0.5 * (|sum_f u_f|^2 - sum_f |u_f|^2), as in FM."""
    vectors = np.stack([factors[name][codes[name]] for name in PAIR_FIELDS], axis=1)
    return 0.5 * ((vectors.sum(axis=1) ** 2).sum(axis=1) - (vectors**2).sum(axis=(1, 2)))


def _planted_logit(codes: dict[str, np.ndarray], counts: dict[str, np.ndarray],
                   masks: dict[str, np.ndarray], pop: dict) -> np.ndarray:
    """The ground-truth logit without the bias and the hidden noise (see the module docstring)."""
    n_rows = len(next(iter(codes.values())))
    logit = np.zeros(n_rows)
    for name in INTEGER_FIELDS:
        logit += _integer_effect(name, counts[name], masks[name])
    for name in CATEGORICAL_FIELDS:
        logit += pop["weights"][name][codes[name]]
    logit += _pairwise_part(codes, pop["factors"])
    step_sum = sum(pop["scores"][name][codes[name]] for name in STEP_FIELDS)
    logit += STEP_EFFECT * (step_sum / np.sqrt(len(STEP_FIELDS)) > STEP_AT)
    for cells, effect in THREE_WAY_RULES:
        hit = np.ones(n_rows, dtype=bool)
        for name, value in cells:
            hit &= codes[name] == value
        logit += effect * hit
    return logit


def make_criteo_like(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` rows with Criteo's columns (``label, I1..I13, C1..C26``) plus ``p_true``.

    ``I*`` are nullable ``Int64`` counts, ``C*`` are 8-hex-digit strings (``string`` dtype), and
    missing values are ``<NA>`` in both. Deterministic per ``seed``: the same seed gives the same
    planted weights and the same rows.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    pop = _population(seed)
    rng = np.random.default_rng([seed, 12, n_rows])
    masks, counts, codes = _draw_rows(rng, n_rows)
    logit = pop["bias"] + _planted_logit(codes, counts, masks, pop)
    p_true = _integrate_noise(logit, NOISE_STD)
    noisy = logit + rng.normal(0.0, NOISE_STD, n_rows)
    label = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-noisy))).astype(np.int64)

    columns: dict[str, object] = {CRITEO_LABEL: label}
    for name in INTEGER_FIELDS:
        values = counts[name].astype(np.int64)
        columns[name] = pd.arrays.IntegerArray(values, masks[name].copy())
    for index, (name, spec) in enumerate(CATEGORICAL_FIELDS.items()):
        seen = np.zeros(spec.vocabulary + 1, dtype=bool)
        seen[codes[name]] = True
        present = np.flatnonzero(seen[:-1])  # only the values drawn get their hash spelled out
        table = np.empty(spec.vocabulary + 1, dtype=object)
        table[present] = _hash_strings(index + 1, present, seed)
        table[spec.vocabulary] = None
        columns[name] = pd.array(table[codes[name]], dtype="string")
    columns[GROUND_TRUTH] = p_true
    return pd.DataFrame(columns)


def apply_criteo_recipe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with ``I1..I13`` turned into categories by the Criteo_x4 recipe.

    ``v > 2 -> floor(ln(v)^2)``, other values kept as they are, missing stays missing (see
    :func:`deepfm_lite.data.criteo_integer_to_category`). All 39 fields are then categorical.
    """
    missing = [name for name in CRITEO_INTEGER if name not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; a Criteo frame has {CRITEO_COLUMNS}")
    out = df.copy()
    for name in CRITEO_INTEGER:
        try:
            out[name] = criteo_integer_to_category(df[name])
        except (ValueError, TypeError) as error:
            raise ValueError(f"integer field {name!r} holds a non-number: {error}") from error
    return out


CRITEO_X4_MIN_COUNT = 10  # Criteo_x4 keeps categories seen >= 10 times in ~36M training rows
CRITEO_LIKE_MIN_SHARE = 0.0006  # the generator's OOV threshold, as a share of training rows


def criteo_like_min_count(n_train: int) -> int:
    """``min_count`` for criteo-like data: categories seen in fewer than 0.06% of the training
    rows (and fewer than 10 times) map to OOV.

    In the generator, values drawn less often than HEAD_SHARE (0.2%) share the tail's effect,
    so an id of their own only fits noise; the threshold therefore grows with the row count
    (48 at 80k training rows, 96 at 160k). datasets/criteo_like.md shows the measurement.
    """
    return max(CRITEO_X4_MIN_COUNT, round(CRITEO_LIKE_MIN_SHARE * n_train))


def prepare_criteo(df: pd.DataFrame, seed: int = 0, min_count: int = CRITEO_X4_MIN_COUNT,
                   fractions: tuple[float, ...] = (0.8, 0.1, 0.1)):
    """Split Criteo rows by ``seed`` and encode them by the Criteo_x4 recipe.

    ``I1..I13`` become categories (:func:`apply_criteo_recipe`), all 39 fields are
    categorical, and categories seen fewer than ``min_count`` times in the training split map
    to the field's OOV id (default 10, as in Criteo_x4; :func:`criteo_like_min_count` suits the
    generated data). Returns a :class:`deepfm_lite.datasets.PreparedData`.
    """
    from . import prepare  # the package imports this module first

    return prepare(apply_criteo_recipe(df), [*CRITEO_INTEGER, *CRITEO_CATEGORICAL], [],
                   CRITEO_LABEL, seed=seed, min_count=min_count, fractions=fractions)


# ---- the Kaggle train.txt format -------------------------------------------------------------
def write_criteo_tsv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as Kaggle ``train.txt``: tab-separated, no header, ``""`` for missing.

    Columns written: ``label, I1..I13, C1..C26`` in that order; others (``p_true``) are left
    out. The file appears at once: it is written to a temporary file beside ``path`` and renamed.
    """
    missing = [name for name in CRITEO_COLUMNS if name not in df.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; write_criteo_tsv needs {CRITEO_COLUMNS}")
    out = pd.DataFrame(index=df.index)
    label = pd.to_numeric(df[CRITEO_LABEL], errors="coerce")
    bad = ~label.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"label must be 0 or 1; row {row} holds {df[CRITEO_LABEL].iloc[row]!r}")
    out[CRITEO_LABEL] = label.astype(np.int64)
    for name in CRITEO_INTEGER:
        out[name] = _as_nullable_integers(df[name], name)
    for name in CRITEO_CATEGORICAL:
        out[name] = _as_tsv_text(df[name], name)
    path = Path(path)
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False, newline="")
    try:
        with handle:
            out.to_csv(handle, sep="\t", header=False, index=False, na_rep="",
                       quoting=csv.QUOTE_NONE, lineterminator="\n")
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def _as_nullable_integers(column: pd.Series, name: str) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()) | (numbers.notna() & (numbers % 1 != 0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"integer field {name!r} holds {column.iloc[row]} at row {row}")
    return numbers.astype("Int64")


def _as_tsv_text(column: pd.Series, name: str) -> pd.Series:
    text = column.astype("string")
    distinct = pd.Series(text.dropna().unique(), dtype="string")  # checked once per value
    if distinct.str.contains(r"[\t\n\r]", regex=True).any():
        bad = text.str.contains(r"[\t\n\r]", regex=True).fillna(False)
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"field {name!r} holds a tab or line break at row {row}: "
                         f"{text.iloc[row]!r}")
    return text


# ---- reading real files ----------------------------------------------------------------------
READ_BLOCK_LINES = 200_000  # lines parsed at a time when the caller asks for the whole file


CRITEO_FEATURES = [*CRITEO_INTEGER, *CRITEO_CATEGORICAL]  # test.txt's 39 columns, no label


@dataclass(frozen=True)
class _Layout:
    """How a Criteo file is laid out, as told by its first line."""

    delimiter: str
    names: list[str]  # one per column in the file; "Id" for a Kaggle CSV's id column
    header: bool

    @property
    def first_data_line(self) -> int:
        return 2 if self.header else 1

    @property
    def labelled(self) -> bool:
        """Whether the file has a label column (Kaggle's ``test.txt`` has none)."""
        return CRITEO_LABEL in self.names

    def columns_expected(self) -> str:
        """What a line must hold, for the error about a line with another number of columns."""
        first = ", ".join(self.names[:2])
        if self.header or self.labelled:
            return f"{len(self.names)} ({first}, ...)"
        return f"{len(self.names)} ({first}, ...; no label, as on line 1)"


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _sniff(path: Path) -> _Layout:
    """Tell the Kaggle TSV (no header) from a CSV with a header by the file's first line.

    A first cell that is a column name (``Id``, ``label``, ``I1``, ... in any case) starts a
    header; a data row starts with a label or a count, never with a name. Without a header,
    a first line of 39 columns means the Kaggle ``test.txt`` layout (no label); any other
    count means ``train.txt``'s 40 (a line with another count is then named as malformed).
    """
    if not path.is_file():
        raise FileNotFoundError(f"no Criteo file at {path}")
    with _open(path) as handle:
        first = handle.readline()
    if not first:
        raise ValueError(f"{path} is empty: expected Criteo rows (train.txt) or a CSV header")
    if not first.strip():
        raise ValueError(f"{path}: the first line is empty; expected a Criteo row or a header")
    try:
        text = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: line 1 is not UTF-8 text ({error})") from error
    delimiter = "\t" if "\t" in text else ","
    tokens = text.split(delimiter)
    canonical = {name.lower(): name for name in ["Id", *CRITEO_COLUMNS, GROUND_TRUTH]}
    if tokens[0].strip().lower() not in canonical:
        unlabelled = len(tokens) == len(CRITEO_FEATURES)
        return _Layout(delimiter, list(CRITEO_FEATURES if unlabelled else CRITEO_COLUMNS),
                       header=False)
    names = []
    for position, token in enumerate(tokens, start=1):
        name = canonical.get(token.strip().lower())
        if name is None:
            raise ValueError(f"{path}: line 1 (header), column {position}: unexpected column "
                             f"{token!r}; expected [Id,] [label,] I1..I13, C1..C26 [, p_true]")
        if name in names:
            raise ValueError(f"{path}: line 1 (header): column {token!r} appears twice")
        names.append(name)
    absent = [name for name in CRITEO_FEATURES if name not in names]
    if absent:
        raise ValueError(f"{path}: line 1 (header): column(s) {absent} missing")
    return _Layout(delimiter, names, header=True)


def read_criteo(path: str | os.PathLike, *, chunksize: int | None = None,
                nrows: int | None = None,
                on_bad_lines: str = "error") -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a Criteo file: Kaggle ``train.txt`` or ``test.txt`` (TSV, no header) or a CSV.

    The layout is told from the first line: tabs mean TSV, commas CSV, and a first cell that
    is a column name (``Id``, ``label``, ``I1``, ..., any case) a header, whose columns may come
    in any order (``Id`` is dropped). Without a header, 40 columns on the first line are
    ``train.txt``'s ``label, I1..I13, C1..C26`` and 39 are ``test.txt``'s, without the label;
    every later line must have as many. Integers written as floats (``260.0``) are read as
    integers. A ``.gz`` file is decompressed.

    Returns columns ``label`` (int64), ``I1..I13`` (``Int64``) and ``C1..C26`` (``string``),
    missing values as ``<NA>``, and ``p_true`` (float64) when a CSV header names it (the
    generator's true click probability, as in ``datasets/criteo_like_sample.csv``: kept for the
    oracle, never a feature). ``nrows`` caps the number of rows returned.

    An unlabelled file (39 columns without a header, or a header without ``label``) gives a
    frame with no ``label`` column at all, rather than one full of missing values: a labelled
    file reads exactly as before, and code that needs labels fails on the absent column
    instead of training on made-up ones. ``"label" in df.columns`` tells the two apart;
    :func:`~deepfm_lite.prepared.prepare_file` refuses an unlabelled file, and
    :func:`~deepfm_lite.predict.predict_file` scores it without metrics.

    With ``chunksize`` it returns an iterator of DataFrames, each holding the valid rows among
    the next ``chunksize`` lines, so a file larger than memory can be processed chunk by chunk;
    their index runs on across chunks, so ``pd.concat(chunks)`` equals the full read.

    A malformed line (wrong number of columns; a label other than 0/1; an ``I`` value that is not
    an integer, such as ``12x`` or ``3.5``; bytes that are not UTF-8 text) raises ValueError
    naming the file, the line number (1-based, the header counted) and the column. With
    ``on_bad_lines="skip"`` such lines are left out instead, and counted: a warning gives the
    count and the first bad line, and ``df.attrs["skipped_lines"]`` holds the count (per chunk
    when reading in chunks).
    """
    path = Path(path)
    if on_bad_lines not in ("error", "skip"):
        raise ValueError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
    for name, value in (("chunksize", chunksize), ("nrows", nrows)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    layout = _sniff(path)
    chunks = _read_chunks(path, layout, chunksize or READ_BLOCK_LINES, nrows, on_bad_lines)
    if chunksize is not None:
        return _warning_chunks(chunks, path)
    frames, skipped = [], []
    for frame, bad in chunks:
        frames.append(frame)
        skipped.extend(bad)
    full = pd.concat(frames) if len(frames) > 1 else frames[0]
    full.attrs["skipped_lines"] = len(skipped)
    _warn_skipped(path, skipped)
    return full


def _warning_chunks(chunks, path: Path) -> Iterator[pd.DataFrame]:
    for frame, bad in chunks:
        _warn_skipped(path, bad)
        yield frame


def _warn_skipped(path: Path, skipped: list[str]) -> None:
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} malformed line(s); first: {skipped[0]}",
                      UserWarning, stacklevel=3)


def _read_chunks(path: Path, layout: _Layout, block_lines: int, nrows: int | None,
                 on_bad_lines: str) -> Iterator[tuple[pd.DataFrame, list[str]]]:
    """Parse ``block_lines`` lines at a time; yield each block's valid rows and its bad lines."""
    rows_out, yielded = 0, False
    line_number = layout.first_data_line
    with _open(path) as handle:
        if layout.header:
            handle.readline()
        while nrows is None or rows_out < nrows:
            lines = list(islice(handle, block_lines))
            if not lines:
                break
            frame, bad = _parse_block(lines, line_number, layout, path, on_bad_lines)
            line_number += len(lines)
            if nrows is not None:
                frame = frame.iloc[: nrows - rows_out]
            frame.index = pd.RangeIndex(rows_out, rows_out + len(frame))
            frame.attrs["skipped_lines"] = len(bad)
            rows_out += len(frame)
            yielded = True
            yield frame, bad
    if not yielded:  # a file with a header and no rows: one empty, typed frame
        empty, _ = _parse_block([], line_number, layout, path, on_bad_lines)
        empty.attrs["skipped_lines"] = 0
        yield empty, []


def _parse_block(lines: list[bytes], first_line: int, layout: _Layout, path: Path,
                 on_bad_lines: str) -> tuple[pd.DataFrame, list[str]]:
    """Turn raw lines into a normalised frame; find malformed lines with their line numbers."""
    delimiter = layout.delimiter.encode()
    expected = len(layout.names)
    found = np.fromiter((line.count(delimiter) + 1 for line in lines), dtype=np.int64,
                        count=len(lines))
    problems: dict[int, str] = {}  # line index in block -> what is wrong
    for index in np.flatnonzero(found != expected):
        problems[int(index)] = (f"found {found[index]} columns, expected "
                                f"{layout.columns_expected()}")
    good = np.flatnonzero(found == expected)
    try:
        frame, bad_rows = _read_normalised(b"".join(lines[i] for i in good), layout)
    except UnicodeDecodeError:  # rare: find the lines that are not UTF-8, parse the others
        for index in good:
            message = _not_utf8(lines[index], layout)
            if message:
                problems[int(index)] = message
        good = np.array([i for i in good if int(i) not in problems], dtype=np.int64)
        frame, bad_rows = _read_normalised(b"".join(lines[i] for i in good), layout)
    for row, message in bad_rows.items():
        problems.setdefault(int(good[row]), message)
    if problems and on_bad_lines == "error":
        index = min(problems)
        raise ValueError(f"{path}: line {first_line + index}: {problems[index]}")
    if bad_rows:
        keep = np.ones(len(frame), dtype=bool)
        keep[list(bad_rows)] = False
        frame = frame[keep]
    skipped = [f"line {first_line + index}: {problems[index]}" for index in sorted(problems)]
    return frame, skipped


def _read_normalised(payload: bytes, layout: _Layout) -> tuple[pd.DataFrame, dict[int, str]]:
    """:func:`_read_block` then :func:`_normalise`; UnicodeDecodeError goes to the caller."""
    try:  # the fast way: the C parser reads label and I* as numbers
        frame, bad_rows = _normalise(_read_block(payload, layout, typed=True))
        if not bad_rows:
            return frame, bad_rows
    except UnicodeDecodeError:
        raise
    except ValueError:  # some cell is not a number at all
        pass
    # read the block again as text, to name each bad cell as it is written
    return _normalise(_read_block(payload, layout, typed=False))


def _not_utf8(line: bytes, layout: _Layout) -> str | None:
    """What is wrong with ``line`` if it is not UTF-8 text (naming the column), else None."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        position = line[: error.start].count(layout.delimiter.encode())
        column = layout.names[min(position, len(layout.names) - 1)]
        return (f"column {column}: byte 0x{line[error.start]:02x} is not UTF-8 text; "
                "save the file as UTF-8")
    return None


def _read_block(payload: bytes, layout: _Layout, typed: bool) -> pd.DataFrame:
    """Parse joined lines. ``typed`` reads label and I* as floats (fast; fails on a non-number,
    e.g. "12x" or "nan"); otherwise every cell stays text."""
    if not payload:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in layout.names})
    numeric = [CRITEO_LABEL, *CRITEO_INTEGER, GROUND_TRUTH]
    if typed:
        options = {"dtype": {name: "float64" if name in numeric else str for name in layout.names},
                   "keep_default_na": False, "na_values": {name: [""] for name in numeric}}
    else:
        options = {"dtype": str, "na_filter": False}
    return pd.read_csv(io.BytesIO(payload), sep=layout.delimiter, header=None,
                       names=layout.names, quoting=csv.QUOTE_NONE, engine="c", **options)


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's numbers (NaN where not a number) and where it is empty."""
    if pd.api.types.is_float_dtype(column):
        numbers = column.to_numpy(dtype=np.float64)
        return numbers, np.isnan(numbers)
    empty = (column == "").to_numpy(dtype=bool)
    numbers = pd.to_numeric(column.where(~empty, "nan"), errors="coerce")
    return numbers.to_numpy(dtype=np.float64), empty


def _normalise(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """Typed columns ``[label,] I1..I13, C1..C26`` and, per bad row, its first bad column."""
    bad: dict[int, str] = {}
    columns: dict[str, object] = {}
    if CRITEO_LABEL in raw.columns:  # test.txt has none
        label, _ = _numbers(raw[CRITEO_LABEL])
        is_label = np.isin(label, (0.0, 1.0))
        for row in np.flatnonzero(~is_label):
            bad.setdefault(int(row),
                           f"column label: {raw[CRITEO_LABEL].iloc[row]!r} is not 0 or 1")
        columns[CRITEO_LABEL] = np.where(is_label, label, 0).astype(np.int64)
    for name in CRITEO_INTEGER:
        numbers, empty = _numbers(raw[name])
        with np.errstate(invalid="ignore"):
            wrong = ~empty & (~np.isfinite(numbers) | (np.mod(numbers, 1) != 0)
                              | (np.abs(numbers) > 2.0**53))
        for row in np.flatnonzero(wrong):
            bad.setdefault(int(row), f"column {name}: {raw[name].iloc[row]!r} is not an integer")
        missing = empty | wrong
        columns[name] = pd.arrays.IntegerArray(
            np.where(missing, 0, numbers).astype(np.int64), missing)
    for name in CRITEO_CATEGORICAL:
        values = raw[name].to_numpy(dtype=object, copy=True)
        values[values == ""] = None
        columns[name] = pd.array(values, dtype="string")
    if GROUND_TRUTH in raw.columns:
        numbers, _ = _numbers(raw[GROUND_TRUTH])
        with np.errstate(invalid="ignore"):
            wrong = ~((numbers >= 0) & (numbers <= 1))
        for row in np.flatnonzero(wrong):
            bad.setdefault(int(row), f"column {GROUND_TRUTH}: {raw[GROUND_TRUTH].iloc[row]!r} "
                                     "is not a probability")
        columns[GROUND_TRUTH] = np.where(wrong, np.nan, numbers)
    return pd.DataFrame(columns), bad
