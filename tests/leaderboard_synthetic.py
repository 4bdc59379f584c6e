"""A synthetic MTEB results folder for the leaderboard tests: 3 models, XQuAD-R-shaped and MIRACL-shaped tasks.

Written the way the real producers write it: task results and ``model_meta.json`` through
:meth:`mteb.ResultCache.save_to_cache`, per-query parquet files in hybrid-bench's format, and stock-mteb
``<Task>_predictions.json`` files whose aggregate scores come from mteb's own evaluator.

Ground truth is planted: per question a shared difficulty (so subsets are correlated, as with parallel questions),
and model effects — ``mono`` is weak cross-lingually, ``cross`` slightly weaker monolingually, ``hybrid`` is as good
as ``mono`` on mono and as good as ``cross`` on cross.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import mteb
import numpy as np
import pandas as pd
from mteb import ResultCache, TaskResult
from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores
from mteb.models import ModelMeta

from hybrid_bench.leaderboard.results import pinned_revision

ORG = "hybrid-bench"
MODELS = ("mono-me5-small", "cross-me5-small", "hybrid-me5-small")
LANGS = ("eng", "deu", "spa")
SCRIPT = {"eng": "eng-Latn", "deu": "deu-Latn", "spa": "spa-Latn", "sw": "swa-Latn", "yo": "yor-Latn"}
N_QUESTIONS = 40
MIRACL_LANGS = ("sw", "yo")
N_MIRACL_QUERIES = 30
N_DOCS = 60

# log-rank offsets per model and setting: larger = worse
EFFECT = {
    "mono-me5-small": {"mono": 0.0, "cross": 1.2, "pool_foreign": 1.6},
    "cross-me5-small": {"mono": 0.35, "cross": 0.35, "pool_foreign": 0.4},
    "hybrid-me5-small": {"mono": 0.0, "cross": 0.35, "pool_foreign": 0.4},
}
MIRACL_BOOST = {"mono-me5-small": 1.6, "cross-me5-small": 1.3, "hybrid-me5-small": 1.5}


def _planted(model: str) -> str:
    """The planted effects of a model: a seeded copy ``mono-me5-small-r2`` has those of ``mono-me5-small``."""
    return model.rsplit("-r", 1)[0] if model not in EFFECT else model


def _metrics_from_ranks(ranks: np.ndarray) -> dict[str, float]:
    ranks = np.sort(ranks)
    hits10 = ranks[ranks <= 10]
    ideal = np.sum(1 / np.log2(np.arange(1, min(ranks.size, 10) + 1) + 1))
    return {
        "ap": float(np.mean(np.arange(1, ranks.size + 1) / ranks)),
        "rr": float(1 / ranks[0]),
        "recall_at_1": float(np.mean(ranks <= 1)),
        "recall_at_10": float(np.mean(ranks <= 10)),
        "ndcg_at_10": float(np.sum(1 / np.log2(hits10 + 1)) / ideal),
        "hit_at_1": float(ranks[0] <= 1),
        "hit_at_10": float(ranks[0] <= 10),
    }


JSON_NAMES = {"ap": "map", "rr": "mrr", "recall_at_1": "recall_at_1", "recall_at_10": "recall_at_10",
              "ndcg_at_10": "ndcg_at_10", "hit_at_1": "hit_rate_at_1", "hit_at_10": "hit_rate_at_10",
              "language_bias": "language_bias"}


def xquad_per_query(model: str, seed: int = 0, task: str = "XQuADRRetrieval") -> pd.DataFrame:
    """Per-query rows of one model in hybrid-bench's parquet format."""
    rng = np.random.default_rng(seed)  # same seed for every model: difficulties are shared
    difficulty = rng.normal(0.8, 0.6, N_QUESTIONS)
    model_rng = np.random.default_rng(zlib.crc32(model.encode()))
    rows = []
    for q in LANGS:
        for c in [*LANGS, "pool"]:
            for i in range(N_QUESTIONS):
                effect = EFFECT[_planted(model)]
                if c == "pool":
                    own = 1 + np.floor(np.exp(difficulty[i] + effect["mono"] + model_rng.normal(0, 0.5)))
                    foreign = 1 + np.floor(np.exp(difficulty[i] + effect["pool_foreign"]
                                                  + model_rng.normal(0, 0.5, len(LANGS) - 1)))
                    ranks = np.sort(np.concatenate([[own], foreign]))
                    for k in range(1, ranks.size):  # distinct candidates cannot share a rank
                        ranks[k] = max(ranks[k], ranks[k - 1] + 1)
                    values = {**_metrics_from_ranks(ranks), "language_bias": float(ranks.max() - ranks.min())}
                else:
                    setting = "mono" if q == c else "cross"
                    rank = 1 + np.floor(np.exp(difficulty[i] + effect[setting] + model_rng.normal(0, 0.5)))
                    values = {**_metrics_from_ranks(np.array([rank])), "language_bias": np.nan}
                rows.append({"model": f"{ORG}/{model}", "revision": "r1", "task": task, "split": "test",
                             "subset": f"{q}-{c}", "query_id": f"{q}:q{i:03d}", **values})
    return pd.DataFrame(rows)


def _xquad_scores(per_query: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    scores: dict[str, dict[str, float]] = {}
    for subset, rows in per_query.groupby("subset"):
        entry = {JSON_NAMES[k]: float(rows[k].mean()) for k in JSON_NAMES if rows[k].notna().any()}
        entry["main_score"] = entry["map"]
        entry["n_queries"] = len(rows)
        scores[str(subset)] = entry
    return {"test": scores}


def miracl_qrels(seed: int = 1) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    """``{subset: {"dev": qrels}}``; query ids repeat across languages on purpose ("0", "1", ...)."""
    rng = np.random.default_rng(seed)
    out = {}
    for lang in MIRACL_LANGS:
        qrels = {}
        for i in range(N_MIRACL_QUERIES):
            relevant = rng.choice(N_DOCS, size=int(rng.integers(1, 3)), replace=False)
            qrels[str(i)] = {f"{lang}-d{d}": 1 for d in relevant}
        out[lang] = {"dev": qrels}
    return out


def miracl_run(model: str, qrels: dict, seed: int = 2) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    rng = np.random.default_rng([seed, zlib.crc32(model.encode())])
    out = {}
    for lang in MIRACL_LANGS:
        run = {}
        for qid, rels in qrels[lang]["dev"].items():
            scores = rng.normal(0, 1, N_DOCS)
            for doc in rels:
                scores[int(doc.split("-d")[1])] += MIRACL_BOOST[_planted(model)] + rng.normal(0, 0.5)
            run[qid] = {f"{lang}-d{d}": float(s) for d, s in enumerate(scores)}
        out[lang] = {"dev": run}
    return out


def _pair_languages(subset: str) -> list[str]:
    q, c = subset.split("-")
    return sorted({SCRIPT[q], *(SCRIPT[x] for x in LANGS)}) if c == "pool" else sorted({SCRIPT[q], SCRIPT[c]})


def _task_result(task: str, scores: dict[str, dict[str, dict[str, float]]], langs_of) -> TaskResult:  # noqa: ANN001
    flat = {
        split: [{**entry, "hf_subset": subset, "languages": langs_of(subset)} for subset, entry in by_subset.items()]
        for split, by_subset in scores.items()
    }
    # the revision the task pins: the tables show these scores as computed on official data
    return TaskResult(dataset_revision=pinned_revision(task) or "synthetic", task_name=task, mteb_version=mteb.__version__, scores=flat,
                      evaluation_time=1.0)


def build_synthetic_results(root: Path, *, models: tuple[str, ...] = MODELS, with_per_query: bool = True,
                            with_miracl: bool = True) -> dict:
    """Write ``root/results/...`` (+ ``root/predictions/<model>/...``); return the MIRACL qrels."""
    cache = ResultCache(root)
    qrels = miracl_qrels()
    for model in models:
        meta = ModelMeta.create_empty({"name": f"{ORG}/{model}", "revision": "r1"})
        per_query = xquad_per_query(model)
        xquad = _task_result("XQuADRRetrieval", _xquad_scores(per_query), _pair_languages)
        cache.save_to_cache(xquad, meta)
        pred_dir = root / "predictions" / model
        pred_dir.mkdir(parents=True, exist_ok=True)
        if with_per_query:
            per_query.to_parquet(pred_dir / "XQuADRRetrieval_per_query.parquet", index=False)
        if with_miracl:
            run = miracl_run(model, qrels)
            scores = {}
            for lang in MIRACL_LANGS:
                res = calculate_retrieval_scores(run[lang]["dev"], qrels[lang]["dev"], [1, 10, 100])
                scores[lang] = {"ndcg_at_10": res.ndcg["NDCG@10"], "recall_at_100": res.recall["Recall@100"],
                                "recall_at_10": res.recall["Recall@10"], "main_score": res.ndcg["NDCG@10"]}
            cache.save_to_cache(_task_result("MIRACLRetrieval", {"dev": scores}, lambda s: [SCRIPT[s]]), meta)
            if with_per_query:
                payload = {"mteb_model_meta": {"model_name": f"{ORG}/{model}", "revision": "r1"}, **run}
                (pred_dir / "MIRACLRetrieval_predictions.json").write_text(json.dumps(payload), encoding="utf-8")
    return qrels


#: questions per synthetic paragraph (the bootstrap's cluster unit of the LAReQA-shaped task)
PARAGRAPH_SIZE = 4


def synthetic_clusters(task: str) -> dict[str, str] | None:
    """The cluster loader of the synthetic results: XQuAD-R-shaped questions in paragraphs of 4, others none."""
    if task != "XQuADRRetrieval":
        return None
    return {f"q{i:03d}": f"p{i // PARAGRAPH_SIZE}" for i in range(N_QUESTIONS)}


def build_seeded_results(root: Path, seeds: tuple[int, ...] = (1, 2, 3), *, with_base: bool = True) -> dict:
    """Like :func:`build_synthetic_results`, with each strategy trained under several ``seeds`` (the first seed's
    model keeps the plain name, the others are ``<name>-r<seed>``, each with its own noise) plus the untrained base
    ``me5-small``; the training records go to ``root/training/<label>.json`` as the experiment stores them."""
    names = {(m, s): m if s == seeds[0] else f"{m}-r{s}" for m in MODELS for s in seeds}
    models = tuple(names.values())
    qrels = build_synthetic_results(root, models=models)
    (root / "training").mkdir(exist_ok=True)
    for (plain, seed), model in names.items():
        strategy = plain.split("-", 1)[0]
        record = {"name": model, "base": "me5-small", "strategy": strategy, "alpha": 0.5 if strategy == "hybrid"
                  else (1.0 if strategy == "mono" else 0.0), "seed": seed, "steps": 300}
        (root / "training" / f"{model}.json").write_text(json.dumps(record), encoding="utf-8")
    if with_base:
        EFFECT.setdefault("me5-small", {"mono": 0.2, "cross": 0.6, "pool_foreign": 0.2})
        MIRACL_BOOST.setdefault("me5-small", 1.7)
        build_synthetic_results(root, models=("me5-small",))
    return qrels
