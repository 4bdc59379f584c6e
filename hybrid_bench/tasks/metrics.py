"""Retrieval metrics as small pure functions over a dense score matrix.

LAReQA-style evaluation ranks the *whole* candidate pool (no cut-off), so the natural "run" is the dense
``(queries × candidates)`` similarity matrix rather than a top-k dictionary. Every metric here is derived from
one quantity: the 1-based rank of each relevant candidate in its query's full ranking. Ties are broken by
candidate position (earlier column ranks higher), which makes every metric deterministic.

The standard metrics (AP, RR, recall@k, nDCG@k, hit@k) are checked against ``ranx`` in
``tests/test_metrics.py``; the language-bias (rank distance, arXiv 2408.10536 / LAReQA) and foreign-intrusion
metrics are checked on hand-computed fixtures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def relevant_ranks(
    scores: npt.ArrayLike, relevant: Sequence[Sequence[int]], *, chunk_size: int = 256
) -> list[npt.NDArray[np.int64]]:
    """1-based ranks of each query's relevant candidates in its full ranking, sorted ascending.

    Args:
        scores: ``(n_queries, n_candidates)`` similarity matrix (higher = more similar).
        relevant: for each query, the column indices of its relevant candidates (at least one each).
        chunk_size: queries processed per vectorised step (bounds memory to ``chunk_size × n_candidates``).

    Example:
        >>> relevant_ranks([[0.1, 0.9, 0.5]], [[2]])
        [array([2])]
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D (queries × candidates) matrix, got shape {scores.shape}")
    if len(relevant) != scores.shape[0]:
        raise ValueError(f"relevant has {len(relevant)} entries but scores has {scores.shape[0]} queries")
    n_cand = scores.shape[1]
    col = np.arange(n_cand)
    out: list[npt.NDArray[np.int64]] = []
    for start in range(0, scores.shape[0], chunk_size):
        block = scores[start : start + chunk_size]
        for row, rel in zip(block, relevant[start : start + chunk_size]):
            rel = np.asarray(rel, dtype=np.int64)
            if rel.size == 0:
                raise ValueError(f"query {len(out)} has no relevant candidate; drop it before scoring")
            if rel.min() < 0 or rel.max() >= n_cand:
                raise ValueError(f"query {len(out)}: relevant index out of range 0..{n_cand - 1}")
            s = row[rel][:, None]
            # strictly better candidates, plus equal-score candidates that come earlier in the pool
            better = (row[None, :] > s) | ((row[None, :] == s) & (col[None, :] < rel[:, None]))
            out.append(np.sort(better.sum(axis=1) + 1))
    return out


def average_precision(ranks: npt.NDArray[np.int64]) -> float:
    """AP over the full ranking: mean over relevant items of (relevant seen so far) / rank."""
    ranks = np.sort(np.asarray(ranks))
    return float(np.mean(np.arange(1, ranks.size + 1) / ranks))


def reciprocal_rank(ranks: npt.NDArray[np.int64]) -> float:
    return float(1.0 / np.min(ranks))


def recall_at_k(ranks: npt.NDArray[np.int64], k: int) -> float:
    """Share of the relevant candidates ranked in the top ``k``."""
    ranks = np.asarray(ranks)
    return float(np.count_nonzero(ranks <= k) / ranks.size)


def hit_at_k(ranks: npt.NDArray[np.int64], k: int) -> float:
    """1.0 if any relevant candidate is in the top ``k`` (a.k.a. success@k), else 0.0."""
    return float(np.min(ranks) <= k)


def ndcg_at_k(ranks: npt.NDArray[np.int64], k: int) -> float:
    """Binary-relevance nDCG@k (gain 1 per relevant candidate, log2 discount)."""
    ranks = np.asarray(ranks)
    hits = ranks[ranks <= k]
    dcg = float(np.sum(1.0 / np.log2(hits + 1)))
    ideal = float(np.sum(1.0 / np.log2(np.arange(1, min(ranks.size, k) + 1) + 1)))
    return dcg / ideal


def rank_distance(ranks: npt.NDArray[np.int64]) -> float:
    """Language bias of one query (arXiv 2408.10536's "rank distance").

    In a multilingual pool where a query's relevant candidates are the parallel answers in every language, the
    rank of its lowest-ranked relevant candidate minus the rank of its highest-ranked one. 0 means all parallel
    answers are ranked together (no language preference); lower is better.
    """
    ranks = np.asarray(ranks)
    return float(ranks.max() - ranks.min())


def foreign_intrusion_at_k(top_k_langs: Sequence[str], query_lang: str) -> float:
    """Share of the top-k retrieved candidates whose language differs from the query's language."""
    if len(top_k_langs) == 0:
        raise ValueError("top_k_langs is empty: nothing was retrieved")
    return float(sum(lang != query_lang for lang in top_k_langs) / len(top_k_langs))


def top_k_indices(scores: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Column indices of each row's ``k`` best candidates, best first (ties: earlier column first)."""
    scores = np.asarray(scores, dtype=np.float32)
    k = min(k, scores.shape[1])
    # stable sort on negated scores keeps earlier columns first among ties, consistent with relevant_ranks
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(
        np.arange(scores.shape[1]), (scores.shape[0], 1)
    )
    out = np.empty_like(part)
    for i, (row, idx) in enumerate(zip(scores, part)):
        order = np.lexsort((idx, -row[idx]))
        out[i] = idx[order]
    return out


PER_QUERY_METRICS: tuple[str, ...] = ("ap", "rr", "recall_at_1", "recall_at_10", "ndcg_at_10", "hit_at_1", "hit_at_10")


def per_query_metrics(ranks: npt.NDArray[np.int64], *, with_bias: bool = False) -> dict[str, float]:
    """All per-query values the LAReQA tasks report, from one query's relevant ranks."""
    values = {
        "ap": average_precision(ranks),
        "rr": reciprocal_rank(ranks),
        "recall_at_1": recall_at_k(ranks, 1),
        "recall_at_10": recall_at_k(ranks, 10),
        "ndcg_at_10": ndcg_at_k(ranks, 10),
        "hit_at_1": hit_at_k(ranks, 1),
        "hit_at_10": hit_at_k(ranks, 10),
    }
    if with_bias:
        values["language_bias"] = rank_distance(ranks)
    return values
