"""Criteo-shaped rows from a planted click model (datasheet: ``datasets/criteo_like.md``).

Rows have exactly the Criteo columns (:mod:`deepfm_lite.data.criteo`), with the true click
probability ``p_true`` alongside.

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

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .criteo import (
    CRITEO_CATEGORICAL,
    CRITEO_INTEGER,
    CRITEO_LABEL,
    CRITEO_X4_MIN_COUNT,
    apply_criteo_recipe,
)
from .encoded import TRUE_PROBABILITY
from .splits import SplitData, encode_splits

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


def missing_rate(spec: IntegerField | CategoricalField) -> float:
    group = MISSING_GROUPS[spec.group] if spec.group else 0.0
    return 1.0 - (1.0 - group) * (1.0 - spec.extra_missing)


def _value_probs(spec: CategoricalField) -> np.ndarray:
    """Frequencies of values 0..vocabulary-1 and, last, of "missing"."""
    missing = missing_rate(spec)
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


CRITEO_LIKE_MIN_SHARE = 0.0006  # the generator's OOV threshold, as a share of training rows


def criteo_like_min_count(n_train: int) -> int:
    """``min_count`` for criteo-like data: categories seen in fewer than 0.06% of the training
    rows (and fewer than 10 times) map to OOV.

    In the generator, values drawn less often than HEAD_SHARE (0.2%) share the tail's effect,
    so an id of their own only fits noise; the threshold therefore grows with the row count
    (48 at 80k training rows, 96 at 160k). datasets/criteo_like.md shows the measurement.
    """
    return max(CRITEO_X4_MIN_COUNT, round(CRITEO_LIKE_MIN_SHARE * n_train))


def encode_criteo_splits(df: pd.DataFrame, seed: int = 0, min_count: int = CRITEO_X4_MIN_COUNT,
                   fractions: tuple[float, ...] = (0.8, 0.1, 0.1)) -> SplitData:
    """Split Criteo rows by ``seed`` and encode them by the Criteo_x4 recipe.

    ``I1..I13`` become categories (:func:`apply_criteo_recipe`), all 39 fields are
    categorical, and categories seen fewer than ``min_count`` times in the training split map
    to the field's OOV id (default 10, as in Criteo_x4; :func:`criteo_like_min_count` suits the
    generated data). Returns a :class:`~deepfm_lite.data.SplitData`.
    """
    return encode_splits(apply_criteo_recipe(df), [*CRITEO_INTEGER, *CRITEO_CATEGORICAL], [],
                   CRITEO_LABEL, seed=seed, min_count=min_count, fractions=fractions)
