"""Exact full-ranking retrieval over a document pool streamed in chunks: memory bounded by the chunk, not the pool.

Every hybrid-bench metric needs only two things per query (see :mod:`hybrid_bench.tasks.metrics`): the rank of each
relevant document in the full ranking (mAP over the whole LAReQA pool, MRR, recall@k, nDCG@k, hit@k, language
bias) and, for foreign intrusion@10, the ``k`` best documents. Both can be computed one chunk of the pool at a time:

* a relevant document's rank is 1 + the number of documents that score higher (or equal and earlier in the pool),
  a count that adds up over chunks (:func:`~hybrid_bench.tasks.metrics.count_better`);
* the top ``k`` is a running merge of each chunk's best (:func:`~hybrid_bench.tasks.metrics.merge_top_k`).

So :func:`rank_pool` holds one ``(query block × chunk)`` score block at a time, and the pool may be a :class:`Pool`
of :data:`Rows`: in-memory arrays, memory-mapped ``.npy`` files, or :class:`LazyRows` — rows picked from the
persistent embedding cache's memory-mapped shards, which is what the tasks get when the cache is on
(:mod:`hybrid_bench.tasks.encoding`). Scoring then holds, besides the queries (in memory: ``n_queries × dim``),
one chunk of document rows (float32 and float64 copies), one ``query_block × chunk`` score block, the relevant
documents' rows of one query block, and per query the ranks and the running top ``k``: nothing that grows with the
pool. With ``chunk_size=None`` the chunk is sized to :data:`BLOCK_CELLS` scores and :data:`CHUNK_CELLS` document
cells; any chunk size gives exactly the same ranks (``tests/test_scoring.py``). Ties are broken by pool position.

Imports numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hybrid_bench.tasks import metrics

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

__all__ = ["SIMILARITIES", "LazyRows", "Pool", "Ranking", "Rows", "rank_pool", "score_block"]

#: mteb ``similarity_fn_name`` values scored here
SIMILARITIES = ("cosine", "dot")
#: default bound on one score block, in float32 cells (64 MB)
BLOCK_CELLS = 1 << 24
#: default bound on the document rows of one chunk, in cells (its float64 copy: 64 MB; 21,845 rows of 384 dims).
#: Wider chunks cost memory and, past the CPU caches, time too (``benchmarks/large_corpus.py``, benchmarks/README.md)
CHUNK_CELLS = 1 << 23


class LazyRows:
    """Rows picked from several arrays (e.g. memory-mapped cache shards), read only when asked for.

    Row ``i`` of the view is row ``starts[s] + i - offsets[s]`` of ``sources[source_of[s]]``, where ``s`` is the run
    holding ``i``: the view stores *runs* of consecutive source rows, so a corpus encoded in order costs a few
    integers per shard, not per row. Reading a slice or an index array copies just those rows; ``np.asarray(view)``
    reads all of them (used for queries, which are small).
    """

    def __init__(self, sources: Sequence[npt.NDArray[np.float32]], source_of: IntArray, starts: IntArray,
                 offsets: IntArray, dim: int) -> None:
        self.sources = list(sources)
        self.source_of, self.starts, self.offsets = source_of, starts, offsets
        self.shape = (int(offsets[-1]), dim)
        self.dtype = np.dtype(np.float32)

    @staticmethod
    def runs(source: IntArray, row: IntArray) -> tuple[IntArray, IntArray, IntArray]:
        """``(source, first row, length)`` of each run of consecutive rows of one source in ``(source[i], row[i])``."""
        new_run = np.ones(len(row), dtype=bool)
        new_run[1:] = (source[1:] != source[:-1]) | (row[1:] != row[:-1] + 1)
        first = np.flatnonzero(new_run)
        return source[first].astype(np.int64), row[first].astype(np.int64), np.diff(np.append(first, len(row)))

    @classmethod
    def from_runs(cls, sources: Sequence[npt.NDArray[np.float32]], source_of: IntArray, starts: IntArray,
                  lengths: IntArray, dim: int) -> LazyRows:
        """The view of run ``s`` = rows ``starts[s]`` … ``starts[s] + lengths[s] - 1`` of ``sources[source_of[s]]``,
        runs one after the other."""
        return cls(sources, source_of, starts, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), dim)

    @classmethod
    def from_locations(cls, sources: Sequence[npt.NDArray[np.float32]], source: IntArray, row: IntArray,
                       dim: int) -> LazyRows:
        """The view whose row ``i`` is ``sources[source[i]][row[i]]``, stored as runs of consecutive rows."""
        return cls.from_runs(sources, *cls.runs(source, row), dim)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: npt.DTypeLike = None, copy: bool | None = None) -> FloatArray:
        return self[0 : len(self)].astype(dtype or np.float32, copy=False)

    def __getitem__(self, index: slice | IntArray) -> FloatArray:
        if isinstance(index, slice):
            lo, hi, step = index.indices(len(self))
            if step != 1:
                return self[np.arange(lo, hi, step)]
            first, last = (np.searchsorted(self.offsets, [lo, max(lo, hi - 1)], side="right") - 1).tolist()
            pieces = []
            for s in range(first, last + 1 if hi > lo else first):
                a, b = max(lo, self.offsets[s]), min(hi, self.offsets[s + 1])
                begin = self.starts[s] + a - self.offsets[s]
                pieces.append(self.sources[self.source_of[s]][begin : begin + b - a])
            if not pieces:
                return np.zeros((0, self.shape[1]), dtype=np.float32)
            return np.asarray(pieces[0] if len(pieces) == 1 else np.concatenate(pieces), dtype=np.float32)
        index = np.asarray(index, dtype=np.int64)
        run = np.searchsorted(self.offsets, index, side="right") - 1
        source, row = self.source_of[run], self.starts[run] + index - self.offsets[run]
        out = np.empty((len(index), self.shape[1]), dtype=np.float32)
        for s in np.unique(source):
            sel = source == s
            out[sel] = self.sources[s][row[sel]]
        return out


#: what a :class:`Pool` part may be: an array (in memory or memory-mapped) or a :class:`LazyRows`
Rows = npt.NDArray[np.float32] | LazyRows


class Pool:
    """Rows of several parts (arrays, memory-mapped arrays, :class:`LazyRows`) seen as one pool, without copying
    them; anything else is converted to an array."""

    def __init__(self, parts: Sequence[Rows | npt.ArrayLike]) -> None:
        self.parts: list[Rows] = [p if isinstance(p, np.ndarray | LazyRows) else np.asarray(p, dtype=np.float32)
                                  for p in parts]
        dims = {p.shape[1] for p in self.parts if p.shape[0]}
        if len(dims) > 1:
            raise ValueError(f"pool parts have different embedding sizes {sorted(dims)}")
        self.offsets = np.cumsum([0, *(p.shape[0] for p in self.parts)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def rows(self, index: IntArray) -> FloatArray:
        """The embeddings at pool positions ``index`` (any order)."""
        part = np.searchsorted(self.offsets, index, side="right") - 1
        out = np.empty((len(index), self.parts[0].shape[1] if self.parts else 0), dtype=np.float32)
        for p in np.unique(part):
            sel = part == p
            out[sel] = self.parts[p][index[sel] - self.offsets[p]]
        return out

    def chunks(self, size: int) -> Iterator[tuple[int, FloatArray]]:
        """``(start, embeddings)`` of consecutive slices of at most ``size`` rows, in pool order."""
        for start in range(0, len(self), size):
            stop = min(start + size, len(self))
            first = int(np.searchsorted(self.offsets, start, side="right") - 1)
            pieces, pos, p = [], start, first
            while pos < stop:
                lo, hi = pos - self.offsets[p], min(stop, self.offsets[p + 1]) - self.offsets[p]
                pieces.append(np.asarray(self.parts[p][lo:hi], dtype=np.float32))
                pos, p = int(self.offsets[p] + hi), p + 1
            yield start, pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


@dataclass(frozen=True)
class Ranking:
    """What the metrics need from a full ranking.

    Attributes:
        ranks: ``(n_queries, max_relevant)`` 1-based ranks of the relevant documents, ascending, right-padded with 0
            (the layout of :func:`~hybrid_bench.tasks.metrics.relevant_ranks`); a query without any relevant
            document in the pool has a row of zeros.
        top: ``(n_queries, top_k)`` pool positions of each query's best documents, best first.
        top_scores: ``(n_queries, top_k)`` their scores (float32), best first: what mteb's abstention metrics
            (nAUC) read as a query's retrieved scores.
    """

    ranks: IntArray
    top: IntArray
    top_scores: FloatArray


def _prepare(x: FloatArray, similarity: str) -> npt.NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    if similarity == "cosine":
        return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    return x


def score_block(queries: npt.NDArray[np.float64], docs: FloatArray, similarity: str) -> FloatArray:
    """Query × document scores, accumulated in float64 and rounded to float32.

    BLAS sums a dot product in an order that depends on the matrix shapes, so float32 products of one pair can
    differ in the last bit between a big and a small chunk. Accumulating in float64 and rounding makes every
    score the same whatever the chunking (a shape-dependent float64 error would have to straddle a float32
    rounding boundary), so chunked ranks equal in-memory ranks, ties included.
    """
    return (queries @ _prepare(docs, similarity).T).astype(np.float32)


def rank_pool(
    queries: npt.ArrayLike,
    pool: Pool | npt.ArrayLike,
    relevant: Sequence[Sequence[int]],
    *,
    top_k: int = 0,
    similarity: str = "cosine",
    chunk_size: int | None = None,
    query_block: int = 256,
) -> Ranking:
    """Ranks of the relevant documents and the top ``top_k`` of every query over ``pool``.

    Args:
        queries: ``(n_queries, dim)`` query embeddings.
        pool: the documents' embeddings, an array or a :class:`Pool`.
        relevant: per query, the pool positions of its relevant documents (may be empty).
        top_k: how many best documents (and their scores) to return per query.
        similarity: ``"cosine"`` or ``"dot"`` (the model's ``similarity_fn_name``).
        chunk_size: pool rows scored at once; ``None`` = as many as fit in :data:`BLOCK_CELLS` next to a query block
            and in :data:`CHUNK_CELLS` as document rows.
        query_block: queries scored at once.
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity {similarity!r} is not supported here; use one of {SIMILARITIES}")
    pool = pool if isinstance(pool, Pool) else Pool([pool])
    q_all = _prepare(np.atleast_2d(np.asarray(queries, dtype=np.float32)), similarity)
    n_q, n_docs = q_all.shape[0], len(pool)
    if len(relevant) != n_q:
        raise ValueError(f"relevant has {len(relevant)} entries but there are {n_q} queries")
    rel = metrics.relevant_matrix(relevant, n_docs, allow_empty=True)
    dim = q_all.shape[1] if q_all.size else 1
    size = chunk_size or max(1, min(BLOCK_CELLS // max(1, min(query_block, n_q)), CHUNK_CELLS // max(1, dim)))
    ranks = np.zeros(rel.shape, dtype=np.int64)
    top = np.zeros((n_q, min(top_k, n_docs)), dtype=np.int64)
    top_scores = np.zeros(top.shape, dtype=np.float32)
    for qs in range(0, n_q, query_block):
        q, r = q_all[qs : qs + query_block], rel[qs : qs + query_block]
        # each relevant document's own score, computed once, is what every chunk is compared against
        target = np.stack([
            np.einsum("ij,ij->i", q, _prepare(pool.rows(np.maximum(r[:, j], 0)), similarity)).astype(np.float32)
            for j in range(r.shape[1])
        ], axis=1) if n_docs else np.zeros(r.shape, np.float32)
        better = np.zeros(r.shape, dtype=np.int64)
        best = np.zeros((q.shape[0], 0), dtype=np.float32)
        best_cols = np.zeros((q.shape[0], 0), dtype=np.int64)
        # consecutive blocks narrower than top_k wait and are merged together: merging any grouping of consecutive
        # columns gives the same top k, and a merge then costs O(top_k) per row per top_k columns, not per block
        pending: list[FloatArray] = []
        pending_start = 0
        for start, chunk in pool.chunks(size):
            block = score_block(q, chunk, similarity)
            for j in range(r.shape[1]):
                better[:, j] += metrics.count_better(block, target[:, j], r[:, j], start)
            if top_k:
                pending_start = pending_start if pending else start
                pending.append(block)
                if sum(b.shape[1] for b in pending) >= top_k:
                    best, best_cols = metrics.merge_top_k(best, best_cols, np.concatenate(pending, axis=1),
                                                          pending_start, top_k)
                    pending = []
        if pending:
            best, best_cols = metrics.merge_top_k(best, best_cols, np.concatenate(pending, axis=1), pending_start, top_k)
        ranks[qs : qs + q.shape[0]] = np.where(r >= 0, better + 1, 0)
        top[qs : qs + q.shape[0]] = best_cols
        top_scores[qs : qs + q.shape[0]] = best
    return Ranking(ranks=metrics.sort_ranks(ranks), top=top, top_scores=top_scores)
