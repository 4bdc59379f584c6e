"""Retrieval metrics as small pure functions over a dense score matrix.

LAReQA-style evaluation ranks the *whole* candidate pool (no cut-off), so the natural "run" is the dense
``(queries × candidates)`` similarity matrix rather than a top-k dictionary. Every metric here is derived from
one quantity: the 1-based rank of each relevant candidate in its query's full ranking. Ties are broken by
candidate position (earlier column ranks higher), which makes every metric deterministic.

Rank arrays: one query's ranks are a 1-D array (ascending); many queries' ranks are a 2-D array
``(n_queries, max_relevant)`` sorted ascending per row and right-padded with 0 (see :func:`relevant_ranks`).
Every metric accepts either and returns a float for 1-D input, an array of per-query values for 2-D input.

The standard metrics (AP, RR, recall@k, nDCG@k, hit@k) are checked against ``ranx`` in
``tests/test_metrics.py``, and the cut-off set mteb reports (:mod:`hybrid_bench.tasks.retrieval_scores`) against
mteb's own evaluator and pytrec_eval in ``tests/test_retrieval_scores.py``; language bias (rank distance, arXiv 2408.10536 / LAReQA) and foreign intrusion are
checked on hand-computed fixtures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def relevant_matrix(relevant: Sequence[Sequence[int]], n_candidates: int, *, allow_empty: bool = False) -> IntArray:
    """Each query's relevant column indices as a ``(n_queries, max_relevant)`` array right-padded with -1.

    Raises:
        ValueError: a query without relevant candidates (unless ``allow_empty``), or an index outside
            ``0..n_candidates - 1``.
    """
    width = max((len(r) for r in relevant), default=1)
    rel = np.full((len(relevant), width), -1, dtype=np.int64)
    for i, r in enumerate(relevant):
        if len(r) == 0 and not allow_empty:
            raise ValueError(f"query {i} has no relevant candidate; drop it before scoring")
        rel[i, : len(r)] = r
    if rel.size and (rel.max() >= n_candidates or (rel[rel != -1] < 0).any()):
        raise ValueError(f"a relevant index is out of range 0..{n_candidates - 1}")
    return rel


def count_better(block: npt.NDArray[np.float32], target: npt.NDArray[np.float32], target_col: IntArray,
                 col_offset: int = 0) -> IntArray:
    """Per row, how many columns of ``block`` rank above the candidate ``target_col`` whose score is ``target``.

    A column ranks above when its score is strictly higher, or equal with an earlier column (ties broken by pool
    position); the target's own column never counts. ``block`` may be a slice of the pool's columns starting at
    ``col_offset``, so summing over slices gives exactly the count over the whole pool (rank = count + 1).
    """
    col = np.arange(col_offset, col_offset + block.shape[1])[None, :]
    s, idx = target[:, None], target_col[:, None]
    better = ((block > s) | ((block == s) & (col < idx))) & (col != idx)
    return better.sum(axis=1)


def sort_ranks(ranks: IntArray) -> IntArray:
    """Sort each row's ranks ascending with the padding (0) last, the layout every metric here expects."""
    return np.sort(np.where(ranks > 0, ranks, np.iinfo(np.int64).max), axis=1) % np.iinfo(np.int64).max


def relevant_ranks(scores: npt.ArrayLike, relevant: Sequence[Sequence[int]], *, chunk_size: int = 512) -> IntArray:
    """1-based ranks of each query's relevant candidates in its full ranking.

    Args:
        scores: ``(n_queries, n_candidates)`` similarity matrix (higher = more similar).
        relevant: for each query, the column indices of its relevant candidates (at least one each).
        chunk_size: queries processed per vectorised step (bounds memory to ``chunk_size × n_candidates``).

    Returns:
        ``(n_queries, max_relevant)`` int array, each row ascending, right-padded with 0.

    Example:
        >>> relevant_ranks([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]], [[2], [1, 0]]).tolist()
        [[2, 0], [1, 2]]
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D (queries × candidates) matrix, got shape {scores.shape}")
    n_q, n_cand = scores.shape
    if len(relevant) != n_q:
        raise ValueError(f"relevant has {len(relevant)} entries but scores has {n_q} queries")
    rel = relevant_matrix(relevant, n_cand)
    ranks = np.zeros(rel.shape, dtype=np.int64)
    for start in range(0, n_q, chunk_size):
        block = scores[start : start + chunk_size]
        rel_block = rel[start : start + chunk_size]
        rows = np.arange(block.shape[0])
        for j in range(rel.shape[1]):
            idx = rel_block[:, j]
            found = count_better(block, block[rows, np.maximum(idx, 0)], idx) + 1
            ranks[start : start + block.shape[0], j] = np.where(idx >= 0, found, 0)
    return sort_ranks(ranks)


def _prepare(ranks: npt.ArrayLike) -> tuple[IntArray, npt.NDArray[np.bool_], bool]:
    arr = np.asarray(ranks, dtype=np.int64)
    single = arr.ndim == 1
    arr = np.atleast_2d(arr)
    mask = arr > 0
    if not mask[:, 0].all():
        raise ValueError("every query needs at least one relevant rank (rows must start with a rank ≥ 1)")
    return arr, mask, single


def _out(values: npt.NDArray[np.float64], single: bool) -> Any:
    return float(values[0]) if single else values


def average_precision(ranks: npt.ArrayLike) -> Any:
    """AP over the full ranking: mean over relevant items of (relevant seen so far) / rank."""
    arr, mask, single = _prepare(ranks)
    position = np.arange(1, arr.shape[1] + 1)[None, :]
    prec = np.where(mask, position / np.where(mask, arr, 1), 0.0)
    return _out(prec.sum(axis=1) / mask.sum(axis=1), single)


def reciprocal_rank(ranks: npt.ArrayLike) -> Any:
    arr, _, single = _prepare(ranks)
    return _out(1.0 / arr[:, 0], single)


def average_precision_at_k(ranks: npt.ArrayLike, k: int) -> Any:
    """AP cut at ``k`` (trec_eval's ``map_cut_k``, mteb's ``map_at_k``): precision at each relevant rank ≤ ``k``,
    summed and divided by the number of relevant candidates (all of them, not just those within ``k``)."""
    arr, mask, single = _prepare(ranks)
    position = np.arange(1, arr.shape[1] + 1)[None, :]
    inside = mask & (arr <= k)
    prec = np.where(inside, position / np.where(inside, arr, 1), 0.0)
    return _out(prec.sum(axis=1) / mask.sum(axis=1), single)


def reciprocal_rank_at_k(ranks: npt.ArrayLike, k: int) -> Any:
    """1 / rank of the first relevant candidate if it is in the top ``k``, else 0 (mteb's ``mrr_at_k``)."""
    arr, _, single = _prepare(ranks)
    return _out(np.where(arr[:, 0] <= k, 1.0 / arr[:, 0], 0.0), single)


def precision_at_k(ranks: npt.ArrayLike, k: int) -> Any:
    """Relevant candidates in the top ``k``, divided by ``k`` (trec_eval's ``P_k``: by ``k`` even in a pool
    smaller than ``k``)."""
    arr, mask, single = _prepare(ranks)
    return _out((mask & (arr <= k)).sum(axis=1) / k, single)


def recall_at_k(ranks: npt.ArrayLike, k: int) -> Any:
    """Share of the relevant candidates ranked in the top ``k``."""
    arr, mask, single = _prepare(ranks)
    return _out((mask & (arr <= k)).sum(axis=1) / mask.sum(axis=1), single)


def hit_at_k(ranks: npt.ArrayLike, k: int) -> Any:
    """1.0 if any relevant candidate is in the top ``k`` (a.k.a. success@k / hit rate), else 0.0."""
    arr, _, single = _prepare(ranks)
    return _out((arr[:, 0] <= k).astype(np.float64), single)


def ndcg_at_k(ranks: npt.ArrayLike, k: int) -> Any:
    """Binary-relevance nDCG@k (gain 1 per relevant candidate, log2 discount)."""
    arr, mask, single = _prepare(ranks)
    hit = mask & (arr <= k)
    dcg = np.where(hit, 1.0 / np.log2(np.where(hit, arr, 1) + 1), 0.0).sum(axis=1)
    ideal_discounts = np.cumsum(1.0 / np.log2(np.arange(1, k + 1) + 1))
    idcg = ideal_discounts[np.minimum(mask.sum(axis=1), k) - 1]
    return _out(dcg / idcg, single)


def rank_distance(ranks: npt.ArrayLike) -> Any:
    """Language bias of one query (arXiv 2408.10536's "rank distance").

    In a multilingual pool where a query's relevant candidates are the parallel answers in every language, the
    rank of its lowest-ranked relevant candidate minus the rank of its highest-ranked one. 0 means all parallel
    answers are ranked together (no language preference); lower is better.
    """
    arr, mask, single = _prepare(ranks)
    last = arr[np.arange(arr.shape[0]), mask.sum(axis=1) - 1]
    return _out((last - arr[:, 0]).astype(np.float64), single)


def foreign_intrusion_at_k(top_k_langs: Sequence[str], query_lang: str) -> float:
    """Share of the top-k retrieved candidates whose language differs from the query's language."""
    if len(top_k_langs) == 0:
        raise ValueError("top_k_langs is empty: nothing was retrieved")
    return float(sum(lang != query_lang for lang in top_k_langs) / len(top_k_langs))


def top_k_indices(scores: npt.ArrayLike, k: int) -> IntArray:
    """Column indices of each row's ``k`` best candidates, best first (ties: earlier column first)."""
    scores = np.asarray(scores, dtype=np.float32)
    empty = np.zeros((scores.shape[0], 0), dtype=np.float32)
    return merge_top_k(empty, np.zeros(empty.shape, dtype=np.int64), scores, 0, k)[1]


def merge_top_k(best: npt.NDArray[np.float32], best_cols: IntArray, block: npt.NDArray[np.float32],
                col_offset: int, k: int) -> tuple[npt.NDArray[np.float32], IntArray]:
    """Merge a block of columns (starting at ``col_offset``) into a running top ``k`` per row.

    Returns the new ``(scores, columns)``, best first, ties broken by the earlier column, so merging the slices
    of a pool one after another gives exactly :func:`top_k_indices` of the whole pool.
    """
    cols = np.broadcast_to(np.arange(col_offset, col_offset + block.shape[1]), block.shape)
    if block.shape[1] > k:
        # only columns scoring at least the block's k-th best can enter; keep them (in column order) first
        kth = -np.partition(-block, k - 1, axis=1)[:, k - 1 : k] if k else np.full((block.shape[0], 1), np.inf)
        mask = block >= kth
        order = np.argsort(~mask, axis=1, kind="stable")[:, : int(mask.sum(axis=1).max(initial=0))]
        block = np.where(np.take_along_axis(mask, order, axis=1), np.take_along_axis(block, order, axis=1), -np.inf)
        cols = np.take_along_axis(cols, order, axis=1)
    scores = np.concatenate([best, block], axis=1)
    columns = np.concatenate([best_cols, cols], axis=1)
    order = np.lexsort((columns, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(columns, order, axis=1)


#: the one metric-name table: per-query column → the name of its mean in the task's mteb scores (results JSON).
#: Per-query columns follow the metric functions here (``ap``, ``hit_at_1``), scores follow mteb (``map``,
#: ``hit_rate_at_1``); the leaderboard maps results back to per-query columns with the inverse of this table.
SCORE_NAMES: dict[str, str] = {
    "ap": "map",
    "rr": "mrr",
    "recall_at_1": "recall_at_1",
    "recall_at_10": "recall_at_10",
    "recall_at_100": "recall_at_100",
    "ndcg_at_10": "ndcg_at_10",
    "hit_at_1": "hit_rate_at_1",
    "hit_at_10": "hit_rate_at_10",
    "language_bias": "language_bias",
    "foreign_intrusion_at_10": "foreign_intrusion_at_10",
}

#: per-query values the LAReQA tasks report; keys are the per-query column names
PER_QUERY_METRICS: tuple[str, ...] = ("ap", "rr", "recall_at_1", "recall_at_10", "ndcg_at_10", "hit_at_1", "hit_at_10")


def per_query_metrics(ranks: npt.ArrayLike, *, with_bias: bool = False) -> dict[str, Any]:
    """All per-query values the LAReQA tasks report, from :func:`relevant_ranks` output."""
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


def mean_scores(per_query: Mapping[str, npt.ArrayLike]) -> dict[str, float]:
    """A subset's scores: the mean of every per-query column, under its name in :data:`SCORE_NAMES`."""
    return {SCORE_NAMES[name]: float(np.mean(values)) for name, values in per_query.items()}
