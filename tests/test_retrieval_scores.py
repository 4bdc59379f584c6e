"""mteb's standard retrieval score set from ranks: equal to mteb's own evaluator (pytrec_eval) on the same ranking.

The tasks' end-to-end parity (every task's scores against mteb's ``RetrievalEvaluator`` on the task's own split) is in
``tests/test_lareqa_tasks.py`` and ``tests/test_miracl.py``; this file checks the computation itself on random
rankings, at the edges pytrec_eval has conventions for: pools smaller and larger than the largest cut-off (1000),
relevant documents missing from the pool, a query whose judgments are all 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores, make_score_dict
from mteb.abstasks.retrieval import AbsTaskRetrieval

from hybrid_bench.tasks import metrics
from hybrid_bench.tasks.retrieval_scores import ABSENT, per_query_column, standard_per_query, standard_scores
from hybrid_bench.tasks.scoring import rank_pool

K_VALUES = tuple(AbsTaskRetrieval.k_values)
# mteb's evaluator rounds these means to 5 digits; compared unrounded through pytrec_eval's per-query values
_PYTREC = {"ndcg_at": "ndcg_cut_", "map_at": "map_cut_", "recall_at": "recall_", "precision_at": "P_",
           "hit_rate_at": "success_"}


def _random_case(seed: int, n_q: int, n_docs: int) -> tuple[np.ndarray, list[list[int]], list[int], list[bool]]:
    """Scores (continuous: no ties), relevant pool positions, relevant documents absent from the pool, and which
    queries have only non-relevant judgments."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n_q, n_docs)).astype(np.float32)
    relevant = [sorted(rng.choice(n_docs, size=int(rng.integers(1, 8)), replace=False).tolist()) for _ in range(n_q)]
    absent = [int(rng.integers(0, 3)) if i % 3 == 0 else 0 for i in range(n_q)]
    zero_only = [i == n_q - 1 for i in range(n_q)]
    # a relevant document ranked just inside / just outside a cut-off, where off-by-one errors would show
    first = np.argsort(-scores[0], kind="stable")
    relevant[0] = sorted({int(first[min(999, n_docs - 1)]), int(first[min(1000, n_docs - 1)]), int(first[9])})
    relevant[-1] = []
    return scores, relevant, absent, zero_only


def _mteb(scores: np.ndarray, relevant: list[list[int]], absent: list[int], zero_only: list[bool]) -> tuple[dict, dict]:
    """mteb's evaluator on the same ranking: a top-1000 run, as a stock mteb search returns it."""
    qrels = {}
    for i, rel in enumerate(relevant):
        judged = {f"d{j}": 1 for j in rel} | {f"gone{a}": 1 for a in range(absent[i])}
        qrels[f"q{i}"] = {"d0": 0, "d1": 0} if zero_only[i] else judged
    top = np.argsort(-scores, axis=1, kind="stable")[:, : max(K_VALUES)]
    run = {f"q{i}": {f"d{j}": float(scores[i, j]) for j in row} for i, row in enumerate(top)}
    result = calculate_retrieval_scores(run, qrels, list(K_VALUES))
    written = make_score_dict(ndcg=result.ndcg, _map=result.map, recall=result.recall, precision=result.precision,
                              mrr=result.mrr, naucs=result.naucs, naucs_mrr=result.naucs_mrr,
                              hit_rate=result.hit_rate, task_scores={})
    return written, result.all_scores


def _ours(scores: np.ndarray, relevant: list[list[int]], absent: list[int]) -> tuple[dict, dict]:
    # one-hot queries against documents whose coordinates are the scores: the dot products are the scores exactly
    ranking = rank_pool(np.eye(len(scores), dtype=np.float32), scores.T.copy(), relevant, top_k=max(K_VALUES),
                        similarity="dot", chunk_size=257)
    width = max(1, max(absent))
    missing = np.where(np.arange(width)[None, :] < np.asarray(absent)[:, None], ABSENT, 0)
    ranks = metrics.sort_ranks(np.concatenate([ranking.ranks, missing], axis=1))
    per_query = standard_per_query(ranks, K_VALUES)
    return standard_scores(per_query, ranking.top_scores, {"n_queries": len(scores)}), per_query


@pytest.mark.parametrize(("seed", "n_q", "n_docs"), [(0, 24, 1300), (1, 30, 60)])
def test_standard_scores_equal_mtebs_evaluator_on_the_same_ranking(seed: int, n_q: int, n_docs: int) -> None:
    scores, relevant, absent, zero_only = _random_case(seed, n_q, n_docs)
    stock, per_query_trec = _mteb(scores, relevant, absent, zero_only)
    ours, _ = _ours(scores, relevant, absent)
    assert set(ours) == set(stock) | {"n_queries"}
    assert len(stock) == 6 * len(K_VALUES) + 1 + 5 * 3 * len(K_VALUES)  # the set is mteb's whole set
    for key, value in stock.items():
        prefix, _, k = key.rpartition("_")
        if prefix in _PYTREC:  # mteb rounds these: compare with pytrec_eval's own per-query values, unrounded
            exact = np.mean([q[f"{_PYTREC[prefix]}{k}"] for q in per_query_trec.values()])
            assert ours[key] == pytest.approx(exact, abs=1e-9), key
            assert ours[key] == pytest.approx(value, abs=5e-6 + 1e-9), key  # half a 5th digit
        elif isinstance(value, float) and math.isnan(value):
            assert math.isnan(ours[key]), key
        else:  # mrr_at_k, accuracy, the nAUCs: unrounded in mteb
            assert ours[key] == pytest.approx(value, abs=1e-9), key
    # the case exercises what it should: absent documents lower recall, a cut-off is straddled
    assert ours["recall_at_1000"] < 1 and ours["ndcg_at_1000"] > ours["ndcg_at_10"]


def test_a_query_without_relevant_documents_scores_zero_and_others_are_unaffected() -> None:
    ranks = np.array([[1, 3], [0, 0]])
    per_query = standard_per_query(ranks, (1, 3))
    assert per_query["NDCG@3"][1] == per_query["P@3"][1] == per_query["MRR@1"][1] == 0.0
    assert per_query["P@3"][0] == pytest.approx(2 / 3) and per_query["MAP@1"][0] == pytest.approx(0.5)
    assert per_query["Recall@1"][0] == 0.5 and per_query["HitRate@1"][0] == 1.0


def test_per_query_columns_name_standard_metrics() -> None:
    assert [per_query_column(c) for c in ("ndcg_at_10", "hit_at_1", "recall_at_100", "precision_at_5")] == [
        "NDCG@10", "HitRate@1", "Recall@100", "P@5"]
    assert per_query_column("ap") is None and per_query_column("foreign_intrusion_at_10") is None
