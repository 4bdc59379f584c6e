"""mteb's standard retrieval score set, computed from a full ranking's sufficient statistics.

A stock mteb retrieval task (``AbsTaskRetrieval._evaluate_subset`` → ``RetrievalEvaluator.evaluate`` →
``mteb._evaluators.retrieval_metrics.calculate_retrieval_scores`` → ``make_score_dict``) reports for every ``k`` of
``AbsTaskRetrieval.k_values`` (1, 3, 5, 10, 20, 100, 1000):

* ``ndcg_at_k``, ``map_at_k``, ``recall_at_k``, ``precision_at_k``, ``hit_rate_at_k`` — pytrec_eval's
  ``ndcg_cut_k``, ``map_cut_k``, ``recall_k``, ``P_k``, ``success_k``;
* ``mrr_at_k`` — mteb's own MRR cut at ``k``; ``accuracy`` — ``recall_at_1``;
* ``nauc_<metric>_at_k_<max|std|diff1>`` for ndcg, map, recall, precision and mrr — the normalised area under the
  abstention curve (Féry et al., arXiv 2402.12997), with a query's confidence taken from its retrieved scores
  (the best one, their standard deviation, the gap between the first two).

mteb derives them from a top-1000 run dictionary. hybrid-bench's tasks rank the whole pool
(:func:`hybrid_bench.tasks.scoring.rank_pool`) and keep exactly what these metrics depend on: the rank of every
relevant document (all cut-off metrics are functions of those ranks) and each query's ``max(k_values)`` best
scores (the confidence). :func:`standard_per_query` computes the per-query values in closed form
(:mod:`hybrid_bench.tasks.metrics`), :func:`standard_scores` averages them, computes the nAUCs with mteb's own
``nauc`` and names everything with mteb's own ``make_score_dict``, so the keys are those of any stock mteb
retrieval result. ``tests/test_retrieval_scores.py`` checks every value against ``calculate_retrieval_scores``
(pytrec_eval) on the same ranking, and every task's scores against mteb's ``RetrievalEvaluator`` on its own split.

Conventions are pytrec_eval's: binary relevance (judgment > 0), a query whose relevant documents are not all in the
pool counts them in every denominator (their rank is :data:`ABSENT`), and a query without any relevant judgment
scores 0 everywhere. Two differences from a stock run: ties are broken by pool position here, by document id
(descending) in pytrec_eval; and the means are not rounded (mteb's evaluator rounds some to 5 digits; results
files are rounded to 6 on save either way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from mteb._evaluators.retrieval_metrics import make_score_dict, nauc

from hybrid_bench.tasks import metrics

__all__ = ["ABSENT", "CONFIDENCES", "per_query_column", "standard_per_query", "standard_scores"]

FloatArray = npt.NDArray[np.float64]

#: the rank given to a relevant document that is not in the pool: past every cut-off
ABSENT = int(np.iinfo(np.int32).max)
#: mteb's confidence functions (``mteb._evaluators.retrieval_metrics.confidence_scores``), in its order
CONFIDENCES: tuple[str, ...] = ("max", "std", "diff1")

# per-query metric → its function of the ranks and k; names are the intermediate ones of mteb's evaluator
_AT_K = {
    "NDCG": metrics.ndcg_at_k,
    "MAP": metrics.average_precision_at_k,
    "Recall": metrics.recall_at_k,
    "P": metrics.precision_at_k,
    "MRR": metrics.reciprocal_rank_at_k,
    "HitRate": metrics.hit_at_k,
}
#: hybrid-bench's per-query column prefixes (:data:`hybrid_bench.tasks.metrics.SCORE_NAMES`) → mteb's names
_COLUMN_PREFIX = {"ndcg": "NDCG", "recall": "Recall", "hit": "HitRate", "precision": "P", "map": "MAP"}


def per_query_column(column: str) -> str | None:
    """The key of :func:`standard_per_query` holding per-query column ``column`` (``"hit_at_10"`` →
    ``"HitRate@10"``), or ``None`` if it is not a standard metric."""
    prefix, sep, k = column.rpartition("_at_")
    if not sep or not k.isdigit() or prefix not in _COLUMN_PREFIX:
        return None
    return f"{_COLUMN_PREFIX[prefix]}@{k}"


def standard_per_query(ranks: npt.ArrayLike, k_values: Sequence[int]) -> dict[str, FloatArray]:
    """Per-query values of mteb's cut-off metrics, keyed like mteb's evaluator (``"NDCG@10"``, ``"P@5"``, ...).

    Args:
        ranks: ``(n_queries, max_relevant)`` ranks of each query's relevant documents, ascending, right-padded with
            0 (:attr:`hybrid_bench.tasks.scoring.Ranking.ranks`); documents not in the pool at :data:`ABSENT`; a
            row of zeros for a query without any relevant document (it scores 0).
        k_values: the cut-offs (mteb's ``AbsTaskRetrieval.k_values``).
    """
    arr = np.atleast_2d(np.asarray(ranks, dtype=np.int64))
    judged = arr[:, 0] > 0
    out: dict[str, FloatArray] = {}
    for name, fn in _AT_K.items():
        for k in k_values:
            values = np.zeros(arr.shape[0])
            if judged.any():
                values[judged] = fn(arr[judged], k)
            out[f"{name}@{k}"] = values
    return out


def _confidence(top_scores: npt.ArrayLike) -> dict[str, FloatArray]:
    """mteb's per-query confidence from each query's retrieved scores, best first (``confidence_scores``)."""
    top = np.atleast_2d(np.asarray(top_scores, dtype=np.float64))
    if top.shape[1] == 0:
        zeros = np.zeros(top.shape[0])
        return {"max": zeros, "std": zeros, "diff1": zeros}
    diff1 = top[:, 0] - top[:, 1] if top.shape[1] > 1 else np.zeros(top.shape[0])
    return {"max": top[:, 0], "std": top.std(axis=1), "diff1": diff1}


def standard_scores(per_query: Mapping[str, npt.ArrayLike], top_scores: npt.ArrayLike,
                    task_scores: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A subset's scores under mteb's names: the means of :func:`standard_per_query`, the nAUCs, ``task_scores``.

    Args:
        per_query: :func:`standard_per_query` output.
        top_scores: ``(n_queries, max(k_values))`` each query's best scores, best first (fewer columns if the pool
            is smaller): the scores a stock mteb run would retrieve.
        task_scores: further scores appended as they are (mteb's ``task_specific_scores``).
    """
    values = {name: np.asarray(v, dtype=np.float64) for name, v in per_query.items()}
    means = {name: float(v.mean()) if v.size else 0.0 for name, v in values.items()}

    def group(name: str) -> dict[str, float]:
        return {key: means[key] for key in means if key.split("@")[0] == name}

    confidence = _confidence(top_scores)

    def naucs(names: Sequence[str]) -> dict[str, float]:
        return {f"nAUC_{key}_{fct}": float(nauc(confidence[fct], values[key]))
                for key in values if key.split("@")[0] in names for fct in CONFIDENCES}

    return make_score_dict(
        ndcg=group("NDCG"), _map=group("MAP"), recall=group("Recall"), precision=group("P"), mrr=group("MRR"),
        naucs=naucs(("NDCG", "MAP", "Recall", "P")), naucs_mrr=naucs(("MRR",)), hit_rate=group("HitRate"),
        task_scores=dict(task_scores or {}),
    )
