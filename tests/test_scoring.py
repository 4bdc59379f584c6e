"""Chunked scoring: any chunk size gives exactly the in-memory ranks, top-k and task scores; metrics stay light."""

from __future__ import annotations

import gc
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mteb.models.abs_encoder import AbsEncoder

from fake_models import fake_meta

from hybrid_bench.tasks import lareqa as L
from hybrid_bench.tasks import metrics as M
from hybrid_bench.tasks import miracl as T
from hybrid_bench.tasks.encoding import EmbeddingCache, cache_for
from hybrid_bench.tasks.scoring import Pool, rank_pool, score_block


class HashEncoder(AbsEncoder):
    """Deterministic coarse embeddings from a hash of the text: 4 dims rounded to 0.5, so many exact ties."""

    def __init__(self) -> None:
        self.mteb_model_meta = fake_meta("test/hash", embed_dim=4)

    def encode(self, inputs: Any, **kwargs: Any) -> np.ndarray:
        out = []
        for batch in inputs:
            for text in batch["text"]:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
                out.append(np.round(np.random.default_rng(seed).normal(size=4) * 2) / 2 + 0.01)
        return np.asarray(out, dtype=np.float32)


def test_any_chunking_equals_in_memory_ranks_and_top_k() -> None:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(60, 8)).astype(np.float32)
    d = np.round(rng.normal(size=(301, 8)), 1).astype(np.float32)
    d[100] = d[50]  # an exact tie between two relevant documents
    relevant = [sorted(rng.choice(301, size=rng.integers(0, 4), replace=False).tolist()) for _ in range(60)]
    relevant[0] = [50, 100]
    full = rank_pool(q, d, relevant, top_k=10)
    for chunk, block in ((1, 1), (2, 7), (13, 60), (300, 3)):
        part = rank_pool(q, Pool([d[:17], d[17:200], d[200:]]), relevant, top_k=10, chunk_size=chunk,
                         query_block=block)
        assert np.array_equal(part.ranks, full.ranks) and np.array_equal(part.top, full.top), (chunk, block)
    # and both equal the dense-matrix reference functions
    scores = score_block(q.astype(np.float64) / np.linalg.norm(q, axis=1, keepdims=True), d, "cosine")
    scored = [i for i, r in enumerate(relevant) if r]
    ref = M.relevant_ranks(scores[scored], [relevant[i] for i in scored])
    assert np.array_equal(ref, full.ranks[scored][:, : ref.shape[1]])
    assert np.array_equal(M.top_k_indices(scores, 10), full.top)
    assert full.ranks[0].tolist()[:2] == [full.ranks[0][0], full.ranks[0][0] + 1]  # tie broken by position


@pytest.mark.parametrize("task_cls", [L.XQuADRRetrieval, L.XQuADRHeldOutRetrieval, L.MLQARRetrieval])
def test_lareqa_tasks_score_the_same_in_tiny_chunks(task_cls: type, shared_data: Path) -> None:
    model = HashEncoder()
    subsets = ["eng-eng", "eng-deu", "eng-pool"]
    full = task_cls(data_dir=shared_data).filter_languages(None, hf_subsets=subsets)
    tiny = task_cls(data_dir=shared_data, chunk_size=7).filter_languages(None, hf_subsets=subsets)
    expected = full.evaluate(model, "test", encode_kwargs={"batch_size": 512})
    assert tiny.evaluate(model, "test", encode_kwargs={"batch_size": 512}) == expected
    assert 0 < expected["eng-pool"]["map"] < 1


def test_miracl_cross_lingual_scores_the_same_in_tiny_chunks(shared_data: Path) -> None:
    model = HashEncoder()
    source = shared_data / "miracl-lite"
    langs = ["swa", "yor"]
    full = T.MIRACLCrossLingualRetrieval(source=source).filter_languages(langs)
    tiny = T.MIRACLCrossLingualRetrieval(source=source, chunk_size=37).filter_languages(langs)
    expected = full.evaluate(model, "dev", encode_kwargs={"batch_size": 512})
    assert tiny.evaluate(model, "dev", encode_kwargs={"batch_size": 512}) == expected
    assert full.metadata.revision.startswith("mirror:miracl-lite@")  # the explicit source is recorded
    assert expected["sw-all"]["foreign_intrusion_at_10"] > 0


def test_embedding_cache_is_never_handed_to_another_model() -> None:
    first = HashEncoder()
    cache_for(first).encoded_texts = 99
    del first
    gc.collect()
    assert cache_for(HashEncoder()).encoded_texts == 0

    class NoWeakref:
        __slots__ = ()

    assert cache_for(NoWeakref()) is not cache_for(NoWeakref())
    assert isinstance(cache_for(NoWeakref()), EmbeddingCache)


def test_metrics_import_without_mteb_or_torch() -> None:
    code = ("import sys, hybrid_bench.tasks.metrics, hybrid_bench.tasks.scoring; "
            "print(sorted(m for m in ('mteb', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_metric_name_table_bridges_per_query_and_scores() -> None:
    from hybrid_bench.leaderboard.per_query import JSON_TO_PER_QUERY

    per_query = M.per_query_metrics(np.array([[1, 3], [2, 0]]), with_bias=True)
    scores = M.mean_scores(per_query)
    assert scores["map"] == pytest.approx(np.mean([(1 + 2 / 3) / 2, 0.5])) and "hit_rate_at_1" in scores
    assert all(JSON_TO_PER_QUERY[name] in per_query for name in scores)
