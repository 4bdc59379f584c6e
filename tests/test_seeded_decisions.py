"""The seeded leaderboard's interval and decisions: the Satterthwaite ``t`` against hand-computed ANOVA, the two Holm
families against references, and a board whose planted arms are clearly worse and clearly equal (issue 24)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_synthetic import ORG, SCRIPT, _task_result
from mteb import ResultCache
from mteb.models import ModelMeta
from scipy import stats

from hybrid_bench.leaderboard.decisions import MARGIN, RELEVANCE_COLUMNS, SUPERIORITY_COLUMNS, decide, holm
from hybrid_bench.leaderboard.pooled import POOLED_TASKS
from hybrid_bench.leaderboard.sampling import TDistribution, satterthwaite

POOL = POOLED_TASKS[0]


def _stacked(diffs: np.ndarray, groups: list[str], units: list[str]) -> pd.DataFrame:
    """Rows of :func:`~hybrid_bench.leaderboard.comparisons.seed_paired_rows` from a (seeds, rows) array."""
    seeds, n = diffs.shape
    return pd.DataFrame({"seed": np.repeat(np.arange(seeds), n), "subset": groups * seeds, "unit": units * seeds,
                         "a": diffs.ravel(), "b": 0.0})


def _anova_by_least_squares(y: np.ndarray) -> tuple[float, float, float]:
    """(MS_seed, MS_query, MS_resid) of a seeds × queries table from the residuals of nested OLS fits (no formula
    shared with the module under test)."""
    s, n = y.shape
    seed = np.kron(np.eye(s), np.ones((n, 1)))
    query = np.kron(np.ones((s, 1)), np.eye(n))
    target = y.ravel()

    def rss(design: np.ndarray) -> float:
        fit = np.linalg.lstsq(design, target, rcond=None)[0]
        return float(np.sum((target - design @ fit) ** 2))

    full, without_seed, without_query = (rss(np.hstack([seed, query])), rss(query), rss(seed))
    return (without_seed - full) / (s - 1), (without_query - full) / (n - 1), full / ((s - 1) * (n - 1))


def test_satterthwaite_se_and_df_match_the_hand_computed_crossed_anova() -> None:
    rng = np.random.default_rng(5)
    s, n = 3, 40
    y = rng.normal(0, 0.1, (1, n)) + rng.normal(0, 0.02, (s, 1)) + rng.normal(0, 0.05, (s, n)) - 0.01
    ms_seed, ms_query, ms_resid = _anova_by_least_squares(y)
    # Var(grand mean) = σ²_S/S + σ²_q/n + σ²_e/(nS), estimated by (MS_seed + MS_query − MS_resid) / (nS)
    terms = [(ms_seed, s - 1), (ms_query, n - 1), (-ms_resid, (s - 1) * (n - 1))]
    variance = sum(ms for ms, _ in terms) / (n * s)
    df = variance ** 2 / sum((ms / (n * s)) ** 2 / d for ms, d in terms)
    components, dist = satterthwaite(_stacked(y, ["sw"] * n, [f"sw|{q}" for q in range(n)]))
    assert dist.estimate == pytest.approx(y.mean()) and components.n_seeds == s
    assert dist.se == pytest.approx(np.sqrt(variance), rel=1e-9)
    assert dist.df == pytest.approx(df, rel=1e-9)
    low, high = dist.interval(0.90)
    assert high - dist.estimate == pytest.approx(stats.t.ppf(0.95, df) * np.sqrt(variance), rel=1e-9)
    assert dist.p_two_sided() == pytest.approx(2 * stats.t.sf(abs(y.mean()) / np.sqrt(variance), df), rel=1e-9)
    assert low < dist.estimate < high


def test_languages_are_equal_weight_strata_and_shared_units_one_stratum() -> None:
    rng = np.random.default_rng(6)
    # MIRACL-shaped: two languages of 10 and 30 queries, each its own stratum, each weighing 1/2
    groups = ["sw"] * 10 + ["yo"] * 30
    y = rng.normal(0, 0.1, (3, 40))
    components, _ = satterthwaite(_stacked(y, groups, [f"{g}|{i}" for i, g in enumerate(groups)]))
    per_seed = (y[:, :10].mean(axis=1) + y[:, 10:].mean(axis=1)) / 2
    assert components.per_seed == pytest.approx(per_seed) and dict(components.weights) == {"sw": 0.5, "yo": 0.5}
    # LAReQA-shaped: two language pairs sharing their 8 parallel questions: one stratum, same per-seed macro means
    shared = _stacked(y[:, :16], ["de-en"] * 8 + ["en-de"] * 8, [f"q{i % 8}" for i in range(16)])
    components, _ = satterthwaite(shared)
    assert len(components.strata) == 1 and components.strata[0].n_queries == 8
    assert components.per_seed == pytest.approx((y[:, :8].mean(axis=1) + y[:, 8:16].mean(axis=1)) / 2)


def test_t_relevance_p_values_are_one_sided_t_tests() -> None:
    x = np.random.default_rng(7).normal(-0.004, 0.01, 12)
    dist = TDistribution(float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)), x.size - 1.0)
    row = decide({"x": dist}, margin=MARGIN).iloc[0]
    equivalent = max(stats.ttest_1samp(x, -MARGIN, alternative="greater").pvalue,
                     stats.ttest_1samp(x, MARGIN, alternative="less").pvalue)
    assert row["relevance_p_equivalent"] == pytest.approx(equivalent, rel=1e-9)
    assert row["relevance_p_worse"] == pytest.approx(stats.ttest_1samp(x, -MARGIN, alternative="less").pvalue)
    assert row["relevance_p_better"] == pytest.approx(stats.ttest_1samp(x, MARGIN, alternative="greater").pvalue)
    assert row["superiority_p"] == pytest.approx(stats.ttest_1samp(x, 0.0).pvalue, rel=1e-9)


def test_holm_matches_statsmodels() -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    for p in ([0.01, 0.04, 0.03, 0.005], [0.2, 0.01], np.random.default_rng(8).uniform(0, 0.2, 7)):
        assert holm(p) == pytest.approx(multitest.multipletests(p, method="holm")[1])


def test_the_two_families_are_adjusted_apart() -> None:
    # superiority p 0.01 and 0.04 → Holm 0.02, 0.04; relevance p 0.03 and 0.2 → 0.06, 0.2: no p crosses families
    dists = {"a": TDistribution(-0.030, 0.0075, 1e6), "b": TDistribution(0.012, 0.0058, 1e6)}
    out = decide(dists, margin=MARGIN, superiority_p={"a": 0.01, "b": 0.04})
    assert out["superiority_p_holm"].tolist() == pytest.approx([0.02, 0.04])
    assert out["superiority_decision"].tolist() == ["lower", "higher"]
    assert out["relevance_p_holm"].tolist() == pytest.approx(holm(out["relevance_p"]).tolist())
    assert list(out.columns) == ["comparison", *SUPERIORITY_COLUMNS, *RELEVANCE_COLUMNS]


# ---- a board with planted arms ---------------------------------------------------------------------------------

DEV = {"sw": 40, "yo": 30, "fi": 20}
TRAIN = {"sw": 60, "fi": 25}  # no train topics of yo, as MIRACL's have none of de / yo
LANGUAGES = {**SCRIPT, "fi": "fin-Latn"}
SEEDS = (1, 2, 3)
#: per-query offsets from mono: hybrid clearly worse than mono (−0.05 ≫ δ), cross equal to hybrid (±0.0005)
OFFSET = {"mono": 0.0, "hybrid": -0.05, "cross": -0.05}


def _planted_board(root: Path) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(9)
    cache = ResultCache(root)
    base = {(task, lang): rng.uniform(0.3, 0.9, n) for task, sizes in (("MIRACLRetrieval", DEV),
            ("MIRACLTrainTopicsRetrieval", TRAIN)) for lang, n in sizes.items()}
    (root / "training").mkdir(parents=True)
    written: dict[str, pd.DataFrame] = {}
    for strategy, offset in OFFSET.items():
        for seed in SEEDS:
            label = f"{strategy}-me5-small" + ("" if seed == SEEDS[0] else f"-seed{seed}")
            meta = ModelMeta.create_empty({"name": f"{ORG}/{label}", "revision": "r1"})
            record = {"base": "me5-small", "strategy": strategy, "seed": seed,
                      "alpha": {"mono": 1.0, "cross": 0.0, "hybrid": 0.5}[strategy]}
            (root / "training" / f"{label}.json").write_text(json.dumps(record), encoding="utf-8")
            for (task, lang), values in base.items():
                noise = rng.normal(0, 0.0005 if strategy == "cross" else 0.01, values.size)
                written[f"{label}/{task}/{lang}"] = pd.DataFrame({
                    "model": f"{ORG}/{label}", "revision": "r1", "task": task, "split": "dev", "subset": lang,
                    "query_id": [str(i) for i in range(values.size)], "ndcg_at_10": values + offset + noise})
            for task in ("MIRACLRetrieval", "MIRACLTrainTopicsRetrieval"):
                rows = pd.concat(v for k, v in written.items() if k.startswith(f"{label}/{task}/"))
                scores = {lang: {"ndcg_at_10": float(g["ndcg_at_10"].mean()),
                                 "main_score": float(g["ndcg_at_10"].mean())} for lang, g in rows.groupby("subset")}
                cache.save_to_cache(_task_result(task, {"dev": scores}, lambda s: [LANGUAGES[s]]), meta)
                (root / "predictions" / label).mkdir(parents=True, exist_ok=True)
                rows.to_parquet(root / "predictions" / label / f"{task}_per_query.parquet", index=False)
    return written


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    from hybrid_bench.leaderboard.build import build_leaderboard

    root = tmp_path_factory.mktemp("planted")
    written = _planted_board(root)
    board = build_leaderboard(root, n_resamples=200, make_plots=False, qrels_loader=None, cluster_loader=None,
                              progress=False)
    return board.write(root / "board"), written


def test_decisions_csv_has_both_families_and_the_planted_answers(planted) -> None:  # noqa: ANN001
    out, _ = planted
    decisions = pd.read_csv(out / "decisions.csv", index_col=0)
    assert set(SUPERIORITY_COLUMNS) | set(RELEVANCE_COLUMNS) | {"interval", "df", "n_seeds", "n_queries"} \
        <= set(decisions.columns)
    assert "decision" not in decisions.columns and "p_holm" not in decisions.columns  # no mixed family
    primary = decisions[decisions["endpoint"] == "primary"].set_index("baseline")
    # the pooled dev + train-topic endpoint is the primary one; each topic set alone is a secondary check
    assert set(primary["dataset"]) == {POOL.dataset} and (primary["holm_over"] == 2).all()
    assert (primary["interval"] == "satterthwaite t").all() and (primary["n_seeds"] == 3).all()
    assert (primary["n_queries"] == sum(DEV.values()) + sum(TRAIN.values())).all()
    worse, equal = primary.loc["mono-me5-small"], primary.loc["cross-me5-small"]
    assert worse["relevance_decision"] == "worse beyond δ" and worse["superiority_decision"] == "lower"
    assert equal["relevance_decision"] == "equivalent" and equal["superiority_decision"] == "not significant"
    assert -MARGIN < equal["ci90_low"] < equal["ci90_high"] < MARGIN and worse["ci90_high"] < -MARGIN
    secondary = decisions[decisions["endpoint"] == "secondary"]
    assert {"MIRACL", "MIRACL train topics"} <= set(secondary["dataset"]) and (secondary["holm_over"] == 1).all()


def test_the_pooled_endpoint_averages_all_queries_per_language_then_languages(planted) -> None:  # noqa: ANN001
    out, written = planted
    table = pd.read_csv(out / "per_language_MIRACLDevTrainTopicsRetrieval.csv", index_col=0)
    for label in ("mono-me5-small", "hybrid-me5-small-seed2"):
        per_language = {lang: np.mean(np.concatenate([written[f"{label}/{task}/{lang}"]["ndcg_at_10"].to_numpy()
                                                      for task, _ in POOL.members
                                                      if f"{label}/{task}/{lang}" in written])) for lang in DEV}
        arm = label.split("-seed")[0]
        seeds = [arm] + [f"{arm}-seed{s}" for s in SEEDS[1:]]
        expected = np.mean([np.mean([np.mean(np.concatenate([written[f"{m}/{t}/{lang}"]["ndcg_at_10"].to_numpy()
                                     for t, _ in POOL.members if f"{m}/{t}/{lang}" in written])) for lang in DEV])
                            for m in seeds])
        assert table.loc["mean", f"nDCG@10 / {arm}"] == pytest.approx(expected)
        assert np.mean(list(per_language.values())) != pytest.approx(
            np.mean(np.concatenate([w["ndcg_at_10"].to_numpy() for k, w in written.items() if k.startswith(label)])))
    assert table.loc["sw", "n_queries"] == DEV["sw"] + TRAIN["sw"] and table.loc["yo", "n_queries"] == DEV["yo"]
    assert table.loc["mean", "n_queries"] == sum(DEV.values()) + sum(TRAIN.values())
    # derived rows are not exported: a rebuild from per_query/ derives the pool again
    assert not list((out / "per_query").rglob(f"{POOL.task}*"))
