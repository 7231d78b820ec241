"""Re-measure, over several seeds, every range the notebooks quote as "measured over N seeds".

A notebook trains once or twice, but its prose and its assertion margins rest on how far a
result moves from seed to seed. This script repeats each such measurement for every seed and
writes one CSV per claim into ``datasets/seed_ranges/`` (one row per seed), then prints the
range of each quantity. The notebooks cite the claim's name next to the range they quote.

    python scripts/seed_ranges.py                 # every claim (about 25 min on 2 quiet cores)
    python scripts/seed_ranges.py 04-three-way    # one claim
    python scripts/seed_ranges.py --list          # the claims and where they are quoted

A seed here is the seed of everything that is random in the notebook's experiment: the sample
of impressions (where the notebook draws one), its split, the initial weights and the batch
order. Same machine, same seeds: the same numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import deepfm_lite as dl
from deepfm_lite import experiments, layers
from deepfm_lite.course import analysis, interview
from deepfm_lite.course.budget import COURSE_BUDGET, train_model
from deepfm_lite.data import SplitData, appstore, encode_splits, load_dataset, make_appstore

OUT = Path(__file__).resolve().parent.parent / "datasets" / "seed_ranges"


# ---- 00 · the preview: DeepFM against LR and the oracle ------------------------------------------


def preview(seed: int) -> dict:
    """Notebook 00, section 6: LR and DeepFM on 100,000 app-store rows, course budget.

    ``*_gap`` columns: sample, split and training all use the seed. ``deepfm_auc_same_rows``:
    the notebook's rows (sample seed 0), only the model's seed changes.
    """
    data = load_dataset("appstore", 100_000, seed=seed)
    lr, deepfm = train_model("lr", data, seed=seed), train_model("deepfm", data, seed=seed)
    oracle = dl.oracle_metrics(data.test)
    same_rows = load_dataset("appstore", 100_000, seed=0)
    return {"deepfm_minus_lr_auc_gap": deepfm.test["auc"] - lr.test["auc"],
            "lr_minus_deepfm_logloss_gap": lr.test["logloss"] - deepfm.test["logloss"],
            "oracle_minus_deepfm_auc_gap": oracle["auc"] - deepfm.test["auc"],
            "deepfm_auc_same_rows": train_model("deepfm", same_rows, seed=seed).test["auc"]}


# ---- 02 · an FM scores the pair it never saw (teen x games) --------------------------------------


def _pair_scores(model: torch.nn.Module, schema) -> pd.DataFrame:
    """<V_age, V_category> for every age group and category, as in notebook 02, section 5."""
    def vectors(field: str, values) -> np.ndarray:
        start = int(layers.field_offsets(schema.field_dims)[schema.field_names.index(field)])
        rows = [start + 2 + schema[field].vocabulary.index(value) for value in values]
        return model.embedding.weight.detach().double().numpy()[rows]

    scores = vectors("age_group", appstore.AGE_GROUPS) @ vectors("category", appstore.CATEGORIES).T
    return pd.DataFrame(scores, index=appstore.AGE_GROUPS, columns=appstore.CATEGORIES)


def _centred(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its row means and column means (the pure interaction)."""
    values = table.to_numpy()
    return table - values.mean(1, keepdims=True) - values.mean(0, keepdims=True) + values.mean()


def unseen_pair(seed: int) -> dict:
    """Notebook 02, section 5: FM trained without any teen x games row, learning rate 1e-2.

    The notebook's sample is fixed (seed 0); the seed here is the FM's (weights, batch order).
    """
    df = make_appstore(100_000, seed=0)
    descriptive = [name for name in appstore.CATEGORICAL if name not in ("user_id", "app_id")]
    data = encode_splits(df, descriptive, appstore.NUMERIC, appstore.LABEL, seed=0)
    is_pair = [((f["age_group"] == "teen") & (f["category"] == "games")).to_numpy(copy=True)
               for f in data.frames]
    held_out = dataclasses.replace(data, train=data.train.subset(~is_pair[0]),
                                   valid=data.valid.subset(~is_pair[1]))
    trained = train_model("fm", held_out, seed=seed, lr=1e-2)
    scores = _pair_scores(trained.model, data.schema)
    planted = _centred(pd.DataFrame([appstore.AGE_X_CATEGORY[a] for a in appstore.AGE_GROUPS],
                                    index=appstore.AGE_GROUPS, columns=appstore.CATEGORIES))
    centred = _centred(scores)
    return {"centred_score": centred.loc["teen", "games"],
            "agreement_r": np.corrcoef(centred.to_numpy().ravel(),
                                       planted.to_numpy().ravel())[0, 1],
            "predicted_rate": dl.predict_proba(trained.model,
                                               data.test.subset(is_pair[2])).mean()}


# ---- 04 · the deep part against FM on the three-way cells ----------------------------------------


def _audit(data) -> tuple[pd.DataFrame, object]:
    audit = make_appstore(200_000, seed=2024)  # the notebook's fresh traffic, never trained on
    return audit, data.schema.transform(audit)


def pairwise_share(seed: int) -> dict:
    """Notebook 04, section 1: the share of the three-way effect a sum of pairs can represent,
    on a fresh 200,000-row sample drawn with this seed (the notebook's is seed 2024)."""
    cells = analysis.cell_calibration(make_appstore(200_000, seed=seed), {})
    return {"pairwise_share": analysis.pairwise_share(cells)}


def deep_vs_fm(seed: int) -> dict:
    """Notebook 04, sections 3 and 4: DNN against FM, overall and in the three-way cells, the
    DNN's order-3 difference as a share of the truth's, and FNN (FM pre-training) against DNN.

    Sample, split and training all use the seed (the notebook's is seed 0).
    """
    data = load_dataset("appstore", 100_000, seed=seed)
    fm, dnn = train_model("fm", data, seed=seed), train_model("dnn", data, seed=seed)
    audit, audit_data = _audit(data)
    cells = analysis.cell_calibration(audit, {"FM": dl.predict_proba(fm.model, audit_data),
                                              "DNN": dl.predict_proba(dnn.model, audit_data)})
    box = cells.set_index(list(analysis.CELL_FIELDS)).loc[
        [("teen", "night", "games"), ("50+", "morning", "games"),
         ("teen", "morning", "games"), ("50+", "night", "games")]]
    fnn = train_model("fnn", data, seed=seed, pretrain_epochs=COURSE_BUDGET["epochs"])
    rows = data.frames[2].head(500)
    order3 = analysis.three_way_contrast(dnn.model, data.schema, rows).mean()
    return {"dnn_minus_fm_auc": dnn.test["auc"] - fm.test["auc"],
            "dnn_order3_share": order3 / analysis.planted_contrast(),
            "fnn_minus_dnn_auc": fnn.test["auc"] - dnn.test["auc"],
            "fm_box_error": box["FM_gap"].abs().mean(),
            "dnn_box_error": box["DNN_gap"].abs().mean(),
            "dnn_top_cell_gap": box["DNN_gap"].iloc[0],  # teen / night / games
            "fm_sign_opposite_in_box": bool(((box["FM_gap"] * box["three_way"]) < 0).all()),
            "fm_captured": analysis.three_way_captured(cells, "FM"),
            "dnn_captured": analysis.three_way_captured(cells, "DNN")}


# ---- 08 · the ladder LR < FM < LR + crosses < DeepFM ---------------------------------------------


CROSSES = (("gender", "category"), ("age_group", "category"), ("time_slot", "category"))


def ladder(seed: int) -> dict:
    """Notebook 08, section 3: LR, LR with the three planted crosses, FM and DeepFM on one split,
    and DeepFM's order-3 difference at the top cell as a share of the planted one. The notebook
    reads these rows. Sample, split and training all use the seed."""
    data = load_dataset("appstore", 100_000, seed=seed)
    names = [f"{a}_x_{b}" for a, b in CROSSES]
    frames = tuple(f.assign(**{n: f[a] + "|" + f[b] for n, (a, b) in zip(names, CROSSES)})
                   for f in data.frames)
    schema = dl.Schema.fit(frames[0], appstore.CATEGORICAL + names, appstore.NUMERIC,
                           appstore.LABEL)
    crossed = SplitData(schema, *(schema.transform(f) for f in frames), frames)
    runs = {"lr": train_model("lr", data, seed=seed),
            "lr_crosses": train_model("lr", crossed, seed=seed),
            "fm": train_model("fm", data, seed=seed),
            "deepfm": train_model("deepfm", data, seed=seed)}
    auc = {name: run.test["auc"] for name, run in runs.items()}
    fields = [data.schema.field_names.index(name) for name in analysis.CELL_FIELDS]
    def ids(levels):
        return [data.schema[name].vocabulary.index(level) + 2
                for name, level in zip(analysis.CELL_FIELDS, levels)]
    records = data.test.subset(slice(0, 2000))
    order3 = interview.mixed_difference(runs["deepfm"].model, records.ids, records.values, fields,
                                        ids(analysis.TOP_CELL), ids(analysis.OPPOSITE_CELL))
    return {"fm_minus_lr": auc["fm"] - auc["lr"],
            "crosses_minus_lr": auc["lr_crosses"] - auc["lr"],
            "crosses_minus_fm": auc["lr_crosses"] - auc["fm"],
            "deepfm_minus_fm": auc["deepfm"] - auc["fm"],
            "deepfm_minus_crosses": auc["deepfm"] - auc["lr_crosses"],
            "deepfm_order3": order3.mean().item(),
            "deepfm_order3_share": order3.mean().item() / analysis.planted_contrast()}


# ---- 05 · DeepFM against its parts and against FM&DNN --------------------------------------------


def deepfm_gaps(seed: int) -> dict:
    """Notebook 05, section 4: four models on 100,000 app-store rows, course budget.

    Sample, split and training all use the seed; the notebook trains seed 0 live and reads
    the recorded seeds from this claim's file.
    """
    data = load_dataset("appstore", 100_000, seed=seed)
    test = {name: train_model(name, data, seed=seed).test
            for name in ("fm", "dnn", "fm_dnn", "deepfm")}
    row = {}
    for other in ("fm", "dnn", "fm_dnn"):
        row[f"deepfm_minus_{other}_auc"] = test["deepfm"]["auc"] - test[other]["auc"]
        row[f"deepfm_minus_{other}_logloss"] = test["deepfm"]["logloss"] - test[other]["logloss"]
    return row


SHARING_SCALES = ("ci", "class")  # experiments.SCALES: the notebooks' small one, an evening's


def sharing(seed: int) -> list[dict]:
    """DeepFM against FM&DNN (same parts, separate tables) on both data sets at two scales.

    Each scale's rows, epochs and network come from ``experiments.SCALES``; the sample, split
    and training use the seed. One row per data set and scale, with both models' test AUC and
    LogLoss and the oracle's.
    """
    rows = []
    for dataset in ("appstore", "criteo-like"):
        for scale in SHARING_SCALES:
            setting = experiments.SCALES[scale]
            data = load_dataset(dataset, setting["n_rows"], seed=seed)
            configs = [c for c in experiments.table2_configs(scale)
                       if c["model"] in ("deepfm", "fm_dnn")]
            runs = experiments.run_experiments(
                configs, data, [seed], epochs=setting["epochs"],
                batch_size=setting["batch_size"], lr=setting["lr"],
                num_threads=setting["threads"], progress=False).set_index("model")
            oracle = dl.oracle_metrics(data.test)
            rows.append({"dataset": dataset, "scale": scale, "rows": setting["n_rows"],
                         "deepfm_auc": runs.loc["deepfm", "auc"],
                         "fm_dnn_auc": runs.loc["fm_dnn", "auc"],
                         "deepfm_logloss": runs.loc["deepfm", "logloss"],
                         "fm_dnn_logloss": runs.loc["fm_dnn", "logloss"],
                         "oracle_auc": oracle["auc"]})
    return rows


# ---- 05 · sharing where it should matter most: rare ids, a small budget --------------------------

RARE_ROWS, RARE_EPOCHS, RARE_AT_MOST = 10_000, 3, 5  # as notebook 05, section 6


def rare_ids(seed: int) -> dict:
    """Notebook 05, section 6: DeepFM against FM&DNN trained on 10,000 app-store rows for three
    epochs (no early stopping), scored on 100,000 fresh rows (sample seed 2024), overall and on
    the rows whose user or app was seen at most five times in training.

    Sample, split and training use the seed; the fresh rows are the same for every seed.
    """
    data = load_dataset("appstore", RARE_ROWS, seed=seed)
    train = data.frames[0]
    fresh = make_appstore(100_000, seed=2024)
    rare = analysis.rare_id_rows(train, fresh, at_most=RARE_AT_MOST)
    fresh_ids = data.schema.transform(fresh)
    row = {f"{field}_rare_share": float((train[field].value_counts() <= RARE_AT_MOST).mean())
           for field in ("user_id", "app_id")}
    row["rare_row_share"] = float(rare.mean())
    row["oracle_auc"] = dl.auc(fresh["click"], fresh["p_true"])
    row["oracle_rare_auc"] = dl.auc(fresh["click"][rare], fresh["p_true"][rare])
    for name in ("deepfm", "fm_dnn"):
        model = train_model(name, data, seed=seed, epochs=RARE_EPOCHS, patience=None).model
        scores = dl.predict_proba(model, fresh_ids)
        row[f"{name}_auc"] = dl.auc(fresh["click"], scores)
        row[f"{name}_rare_auc"] = dl.auc(fresh["click"][rare], scores[rare])
    row["deepfm_minus_fm_dnn_auc"] = row["deepfm_auc"] - row["fm_dnn_auc"]
    row["deepfm_minus_fm_dnn_rare_auc"] = row["deepfm_rare_auc"] - row["fm_dnn_rare_auc"]
    return row


# ---- 05 and 07 · the playground's "what if" runs ------------------------------------------------


def drop_fm_part(seed: int) -> dict:
    """Notebook 05, section 7: the playground's DeepFM against its network alone (defaults)."""
    from deepfm_lite.course import playground

    deepfm, dnn = playground.run(model="deepfm", seed=seed), playground.run(model="dnn", seed=seed)
    return {"deepfm_minus_dnn_auc": deepfm["auc"] - dnn["auc"],
            "deepfm_minus_dnn_logloss": deepfm["logloss"] - dnn["logloss"]}


def keep_half(seed: int) -> dict:
    """Notebook 07: the playground's DeepFM keeping every neuron against keeping half."""
    from deepfm_lite.course import playground

    keep_all = playground.run(dropout=0.0, seed=seed)
    half = playground.run(dropout=0.5, seed=seed)
    return {"keep_all_minus_keep_half_auc": keep_all["auc"] - half["auc"],
            "keep_all_minus_keep_half_logloss": keep_all["logloss"] - half["logloss"]}


# ---- 09 · minimum count against hashing ------------------------------------------------------


def hashing(seed: int) -> dict:
    """Notebook 09, section 3: the same small DeepFM on 100,000 Criteo-format rows encoded with a
    minimum count of 10 and with hashing into as many ids; paired AUC on the same held-out rows.

    The file and both encodings are the notebook's (sample seed 0); the seed is the model's.
    """
    import tempfile

    from deepfm_lite.data import make_criteo_like, write_criteo_tsv
    from deepfm_lite.data.prepared import load_prepared, prepare_file

    network = {"embed_dim": 10, "hidden": (64, 64), "dropout": 0.0}
    budget = {"epochs": 1, "batch_size": 1024, "lr": 3e-3, "seed": seed, "device": "cpu",
              "progress": False}
    with tempfile.TemporaryDirectory() as folder:
        source = write_criteo_tsv(make_criteo_like(100_000, seed=0), Path(folder) / "train.txt")
        prepare_file(source, Path(folder) / "mapped", progress=False)
        mapped = load_prepared(Path(folder) / "mapped")
        buckets = sum(mapped.field_dims) // len(mapped.field_dims) - 2
        prepare_file(source, Path(folder) / "hashed", hash_buckets=buckets, progress=False)
        hashed = load_prepared(Path(folder) / "hashed")
        scores = {}
        for name, data in (("min_count", mapped), ("hashing", hashed)):
            model = dl.build_model("deepfm", data.field_dims, seed=seed, **network)
            dl.fit(model, data.train, **budget)
            scores[name] = dl.evaluate(model, data.valid)["auc"]
        del mapped, hashed  # close the memory maps before the folder goes
    return {"min_count_auc": scores["min_count"], "hashing_auc": scores["hashing"],
            "min_count_minus_hashing_auc": scores["min_count"] - scores["hashing"]}


# ---- the claims ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Claim:
    measure: Callable[[int], dict | list[dict]]
    seeds: tuple[int, ...]
    quoted_in: str


CLAIMS: dict[str, Claim] = {
    "00-preview": Claim(preview, (0, 1, 2), "00_course_map, section 6"),
    "02-unseen-pair": Claim(unseen_pair, tuple(range(8)), "02_fm_math, section 5"),
    "04-pairwise-share": Claim(pairwise_share, (2024, 2025, 2026, 2027),
                               "04_deep_part, section 1"),
    "04-deep-vs-fm": Claim(deep_vs_fm, tuple(range(5)), "04_deep_part, sections 3 and 4"),
    "05-deepfm-gaps": Claim(deepfm_gaps, tuple(range(5)), "05_deepfm, section 4"),
    "05-sharing": Claim(sharing, tuple(range(5)), "05_deepfm, section 5; 06; 08"),
    "05-rare-ids": Claim(rare_ids, tuple(range(5)), "05_deepfm, section 6; 08"),
    "05-playground": Claim(drop_fm_part, (0, 1, 2), "05_deepfm, section 7"),
    "07-playground": Claim(keep_half, (0, 1, 2), "07_hyperparameters, section 4"),
    "08-ladder": Claim(ladder, (0, 1, 2), "08_review, section 3"),
    "09-hashing": Claim(hashing, tuple(range(5)), "09_full_criteo, section 3"),
}


def measure(name: str, seeds: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Run one claim for each seed; one row per seed (and per setting, for 05-sharing)."""
    claim = CLAIMS[name]
    rows = []
    for seed in seeds or claim.seeds:
        start = time.perf_counter()
        result = claim.measure(seed)
        for row in result if isinstance(result, list) else [result]:
            rows.append({"seed": seed, **row})
        print(f"  {name} seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return pd.DataFrame(rows)


def ranges(table: pd.DataFrame) -> pd.DataFrame:
    """Minimum, maximum and mean of every measured number, per setting where there are several."""
    keys = [c for c in ("dataset", "scale") if c in table.columns]
    numbers = [c for c in table.columns
               if c not in ("seed", "rows", *keys) and table[c].dtype.kind == "f"]
    grouped = table.groupby(keys, sort=False)[numbers] if keys else table[numbers]
    return grouped.agg(["min", "max", "mean"]).round(4) if keys else \
        table[numbers].agg(["min", "max", "mean"]).T.round(4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("claims", nargs="*", help="claims to measure (default: all)")
    parser.add_argument("--list", action="store_true", help="list the claims and stop")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the CSV files")
    args = parser.parse_args(argv)
    if args.list:
        for name, claim in CLAIMS.items():
            seeds = f"seeds {claim.seeds[0]}-{claim.seeds[-1]}"
            print(f"{name:20} {seeds:15} quoted in {claim.quoted_in}")
        return 0
    unknown = sorted(set(args.claims) - set(CLAIMS))
    if unknown:
        parser.error(f"unknown claim(s) {', '.join(unknown)}; see --list")
    # One thread: the course's small models gain nothing from more, and a busy machine makes
    # threads that wait for each other many times slower. (A different thread count can change
    # the last float32 digits of a run, so seed 0 may differ from a notebook in the 4th decimal.)
    torch.set_num_threads(1)
    dl.settings.progress = False
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.claims or CLAIMS:
        table = measure(name)
        table.to_csv(args.out / f"{name}.csv", index=False, float_format="%.6g")
        print(f"\n## {name} (quoted in {CLAIMS[name].quoted_in})\n")
        print(ranges(table).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
