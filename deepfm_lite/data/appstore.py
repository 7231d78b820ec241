"""Synthetic app-store impressions with a known click model.

The rows mirror the paper's Company* data (the game centre of an app store: user, app and
context fields) and the seed session's examples. Because the click probability is planted, every
notebook can compare a model with the oracle: the AUC and LogLoss of the true probability
``p_true``, the ceiling no model can beat on average.

Ground-truth logit of one impression (all effects documented in datasets/README.md)::

    logit = bias
          + order 1: user activity + app quality + category + time slot + day type + OS
                     + f(rating), f a hinge: only ratings above 3.5 help
          + order 2: gender x category + age x category + time slot x category
                     + <u_user, a_app>  (a rank-4 user x app affinity, what FM's factorised
                                         pairs are built for)
          + order 3: youth(age) x lateness(time slot) x fun(category), each score centred
                     so the product has no pairwise part; its largest cell is
                     teen x night x games (an effect no pairwise model can represent)
          + hidden noise ~ N(0, NOISE_STD^2), not observable from the row

    click ~ Bernoulli(sigmoid(logit))

``p_true`` is the click probability given the observed fields, i.e. the hidden noise integrated
out (Gauss-Hermite quadrature), so it is the exact Bayes-optimal prediction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WORLD_SEED = 2017
N_USERS = 1000
N_APPS = 600
AFFINITY_RANK = 4
NOISE_STD = 0.25
ACTIVITY_STD = 0.15
QUALITY_STD = 0.3
AFFINITY_SCALE = 0.1
THREE_WAY_SCALE = 2.0

GENDERS = ["female", "male"]
AGE_GROUPS = ["teen", "18-24", "25-34", "35-49", "50+"]
CITY_TIERS = ["tier1", "tier2", "tier3", "tier4"]
CATEGORIES = ["games", "social", "video", "music", "shopping", "education", "finance", "tools"]
TIME_SLOTS = ["morning", "afternoon", "evening", "night"]
DAY_TYPES = ["weekday", "weekend"]
DEVICE_OS = ["android", "ios", "harmony"]

CATEGORICAL = ["user_id", "gender", "age_group", "city_tier", "app_id", "category",
               "time_slot", "day_type", "device_os"]
NUMERIC = ["rating"]
LABEL = "click"

# ---- the planted effects (logit units) ------------------------------------------------------
BIAS = -2.75
CATEGORY_EFFECT = dict(zip(CATEGORIES, [0.3, 0.2, 0.25, 0.0, 0.1, -0.2, -0.4, -0.3]))
TIME_EFFECT = dict(zip(TIME_SLOTS, [-0.15, 0.0, 0.2, 0.1]))
DAY_EFFECT = dict(zip(DAY_TYPES, [0.0, 0.15]))
OS_EFFECT = dict(zip(DEVICE_OS, [0.0, 0.1, -0.05]))
RATING_HINGE = 3.5
RATING_SLOPE = 1.6

#                      games social video music shop  edu   fin   tools
GENDER_X_CATEGORY = {
    "female": [-0.6, 0.5, 0.2, 0.3, 0.8, 0.2, -0.3, -0.2],
    "male": [0.6, -0.3, 0.1, -0.1, -0.6, -0.2, 0.4, 0.3],
}
AGE_X_CATEGORY = {
    "teen": [0.9, 0.6, 0.4, 0.5, -0.6, 0.4, -1.2, -0.6],
    "18-24": [0.4, 0.7, 0.5, 0.4, 0.1, 0.1, -0.5, -0.2],
    "25-34": [-0.1, 0.1, 0.2, 0.0, 0.4, -0.1, 0.3, 0.2],
    "35-49": [-0.5, -0.3, -0.2, -0.3, 0.3, 0.3, 0.7, 0.4],
    "50+": [-1.0, -0.5, -0.3, -0.2, 0.0, -0.3, 0.6, 0.3],
}
TIME_X_CATEGORY = {
    "morning": [-0.4, 0.1, -0.4, 0.2, 0.1, 0.4, 0.5, 0.4],
    "afternoon": [0.0, 0.0, 0.0, 0.0, 0.2, 0.2, 0.1, 0.1],
    "evening": [0.2, 0.2, 0.5, 0.1, 0.1, -0.2, -0.2, -0.2],
    "night": [0.3, 0.1, 0.3, 0.3, -0.4, -0.4, -0.5, -0.3],
}
# The order-3 effect is a product of three per-field scores, each centred to mean zero. Because
# every factor averages to zero, the effect averages to zero over any one field: no sum of
# pairwise terms can represent it (its pairwise projections vanish), while the top cell,
# teen x night x games, gets the largest boost.
YOUTH = [1.0, 0.6, 0.0, -0.6, -1.0]  # per age group
LATENESS = [-0.6, -0.4, 0.2, 0.8]  # per time slot
FUN = [1.0, 0.4, 0.6, 0.3, -0.4, -0.6, -1.0, -0.5]  # per category



def centered(scores: list[float]) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    return array - array.mean()


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def _pick(rng: np.random.Generator, options: list[str], probs, size) -> np.ndarray:
    return rng.choice(len(options), size=size, p=np.asarray(probs) / np.sum(probs))


def _population() -> dict[str, np.ndarray]:
    """The store's users and apps: fixed attributes and latent factors, one world for all seeds.

    The seed of :func:`make_appstore` draws impressions from this world, so two seeds differ the
    way two samples of the same store's traffic differ.
    """
    rng = np.random.default_rng(WORLD_SEED)
    users = {
        "gender": _pick(rng, GENDERS, [0.45, 0.55], N_USERS),
        "age": _pick(rng, AGE_GROUPS, [0.2, 0.25, 0.25, 0.2, 0.1], N_USERS),
        "tier": _pick(rng, CITY_TIERS, [0.2, 0.3, 0.3, 0.2], N_USERS),
        "os": _pick(rng, DEVICE_OS, [0.6, 0.3, 0.1], N_USERS),
        "activity": rng.normal(0.0, ACTIVITY_STD, N_USERS),
        "factors": rng.normal(0.0, 1.0, (N_USERS, AFFINITY_RANK)),
    }
    apps = {
        "category": _pick(rng, CATEGORIES, [0.3, 0.12, 0.12, 0.08, 0.1, 0.1, 0.08, 0.1], N_APPS),
        "rating": np.round(np.clip(rng.normal(3.8, 0.6, N_APPS), 1.0, 5.0), 1),
        "quality": rng.normal(0.0, QUALITY_STD, N_APPS),
        "factors": rng.normal(0.0, 1.0, (N_APPS, AFFINITY_RANK)),
    }
    return {**{f"user_{k}": v for k, v in users.items()},
            **{f"app_{k}": v for k, v in apps.items()}}


def _effect_table(table: dict[str, list[float]], rows: list[str]) -> np.ndarray:
    return np.array([table[name] for name in rows])


def _integrate_noise(logit: np.ndarray, noise_std: float) -> np.ndarray:
    """E[sigmoid(logit + eps)], eps ~ N(0, noise_std^2), by 20-point Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    weights = weights / weights.sum()
    shifted = logit[:, None] + noise_std * nodes[None, :]
    return (weights[None, :] / (1.0 + np.exp(-shifted))).sum(axis=1)


def make_appstore(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` app-store impressions: 9 categorical fields, 1 numeric, ``click``, ``p_true``.

    Deterministic per ``seed``: the same seed gives the same rows; every seed draws from the same
    users and apps.
    """
    if not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    pop = _population()
    rng = np.random.default_rng([seed, 2, n_rows])
    user = rng.choice(N_USERS, size=n_rows, p=_zipf_weights(N_USERS, 0.9))
    app = rng.choice(N_APPS, size=n_rows, p=_zipf_weights(N_APPS, 1.0))
    gender, age = pop["user_gender"][user], pop["user_age"][user]
    tier, os_ = pop["user_tier"][user], pop["user_os"][user]
    category, rating = pop["app_category"][app], pop["app_rating"][app]
    slot = _pick(rng, TIME_SLOTS, [0.25, 0.25, 0.3, 0.2], n_rows)
    day = _pick(rng, DAY_TYPES, [5, 2], n_rows)

    logit = np.full(n_rows, BIAS)
    logit += pop["user_activity"][user] + pop["app_quality"][app]
    logit += np.array(list(CATEGORY_EFFECT.values()))[category]
    logit += np.array(list(TIME_EFFECT.values()))[slot]
    logit += np.array(list(DAY_EFFECT.values()))[day]
    logit += np.array(list(OS_EFFECT.values()))[os_]
    logit += RATING_SLOPE * np.maximum(rating - RATING_HINGE, 0.0)
    logit += _effect_table(GENDER_X_CATEGORY, GENDERS)[gender, category]
    logit += _effect_table(AGE_X_CATEGORY, AGE_GROUPS)[age, category]
    logit += _effect_table(TIME_X_CATEGORY, TIME_SLOTS)[slot, category]
    logit += THREE_WAY_SCALE * (centered(YOUTH)[age] * centered(LATENESS)[slot]
                                * centered(FUN)[category])
    logit += AFFINITY_SCALE * np.einsum("ij,ij->i", pop["user_factors"][user],
                                        pop["app_factors"][app])
    p_true = _integrate_noise(logit, NOISE_STD)
    hidden_noise = rng.normal(0.0, NOISE_STD, n_rows)
    click = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-(logit + hidden_noise)))

    frame = pd.DataFrame({
        "user_id": np.char.add("u", user.astype(str)),
        "gender": np.array(GENDERS)[gender],
        "age_group": np.array(AGE_GROUPS)[age],
        "city_tier": np.array(CITY_TIERS)[tier],
        "app_id": np.char.add("a", app.astype(str)),
        "category": np.array(CATEGORIES)[category],
        "rating": rating,
        "time_slot": np.array(TIME_SLOTS)[slot],
        "day_type": np.array(DAY_TYPES)[day],
        "device_os": np.array(DEVICE_OS)[os_],
        "click": click.astype(np.int64),
        "p_true": p_true,
    })
    return frame
