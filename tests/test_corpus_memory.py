"""Corpora that do not fit in memory: with the persistent cache on, a task encodes ``encode_chunk`` texts at a time
into shards, scores from memory-mapped shards ``chunk_size`` rows at a time, holds no document vector in memory,
and still gives exactly the in-memory scores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest

from fake_models import CountingEncoder

from hybrid_bench.tasks import encoding, scoring
from hybrid_bench.tasks.embedding_store import EmbeddingStore, _KeyIndex
from hybrid_bench.tasks.lareqa import XQuADRHeldOutRetrieval, XQuADRRetrieval
from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval
from hybrid_bench.tasks.miracl_pools import QUERY_LANGUAGE_ONLY, cross_lingual_metadata
from hybrid_bench.tasks.scoring import LazyRows, Pool


_USER_MODELS = Path(os.environ.get("HYBRID_BENCH_HOME") or platformdirs.user_cache_dir("hybrid_bench")) / "models"


class _SwYoPool(MIRACLCrossLingualRetrieval):
    language_pools = {"mono": QUERY_LANGUAGE_ONLY, "swyo": ("sw", "yo")}
    metadata = cross_lingual_metadata(language_pools, name="MIRACLSwYoPoolRetrieval")


@pytest.fixture
def in_memory() -> Iterator[None]:
    """Models whose cache is created inside use no persistent cache: today's all-in-memory path."""
    encoding.use_persistent_cache(False)
    try:
        yield
    finally:
        encoding.use_persistent_cache(True)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The most rows ever scored in one block and ever read from a :class:`LazyRows` in one call."""
    seen = {"block": 0, "lazy": 0}
    score_block, getitem = scoring.score_block, LazyRows.__getitem__

    def block(queries: Any, docs: Any, similarity: str) -> Any:  # noqa: ANN401
        seen["block"] = max(seen["block"], len(docs))
        return score_block(queries, docs, similarity)

    def read(self: LazyRows, index: Any) -> Any:  # noqa: ANN401
        out = getitem(self, index)
        seen["lazy"] = max(seen["lazy"], len(out))
        return out

    monkeypatch.setattr(scoring, "score_block", block)
    monkeypatch.setattr(LazyRows, "__getitem__", read)
    return seen


def _evaluate(task: Any, model: Any, split: str) -> dict[str, Any]:  # noqa: ANN401
    return task.evaluate(model, split, encode_kwargs={"batch_size": 16})


def test_miracl_streams_a_stored_corpus_and_scores_exactly_as_in_memory(
        shared_data: Path, in_memory: None, reads: dict[str, int]) -> None:
    source, langs = shared_data / "miracl-lite", ["swa", "yor"]
    reference = _evaluate(_SwYoPool(source=source).filter_languages(langs), CountingEncoder(), "dev")
    assert reads["lazy"] == 0  # the reference never touched the store
    reads["block"] = 0
    encoding.use_persistent_cache(True)

    model = CountingEncoder()
    task = _SwYoPool(source=source, chunk_size=37, encode_chunk=50).filter_languages(langs)
    assert _evaluate(task, model, "dev") == reference
    n_docs, n_queries = reference["sw-swyo"]["n_documents"], reference["sw-swyo"]["n_queries"]
    assert n_docs > 20 * max(37, 50, n_queries)  # the corpus is far larger than anything held at once
    # encoded 50 texts per call at most, scored 37 passages per block, never read more rows than a block or the
    # queries of one language (which are materialised), and kept no vector in memory
    assert 0 < model.largest_call <= 50
    assert reads["block"] <= 37
    assert 0 < reads["lazy"] <= max(37, n_queries)
    cache = encoding.cache_for(model)
    assert cache._memory == {}
    assert 0 < cache.encoded_texts == model.texts_encoded <= n_docs + sum(  # every text once at most
        reference[s]["n_queries"] for s in ("sw-mono", "yo-mono"))

    # a new cache over the same store (as a second process would have) encodes nothing and scores the same
    again = CountingEncoder()
    assert _evaluate(_SwYoPool(source=source, chunk_size=37).filter_languages(langs), again, "dev") == reference
    assert again.texts_encoded == 0


def test_lareqa_group_is_encoded_once_in_slices_and_scores_as_in_memory(shared_data: Path, in_memory: None) -> None:
    def task(cls: type, **kwargs: Any) -> Any:  # noqa: ANN401
        out = cls(data_dir=shared_data, **kwargs).filter_languages(None, hf_subsets=["eng-eng", "deu-pool"])
        out.set_sample(languages=["de", "en"])
        return out

    reference = {cls: _evaluate(task(cls), CountingEncoder(), "test") for cls in (XQuADRRetrieval,
                                                                                  XQuADRHeldOutRetrieval)}
    encoding.use_persistent_cache(True)
    model = CountingEncoder()
    assert _evaluate(task(XQuADRRetrieval, chunk_size=5, encode_chunk=64), model, "test") == reference[XQuADRRetrieval]
    first = model.texts_encoded
    assert 0 < model.largest_call <= 64 and encoding.cache_for(model)._memory == {}
    # the held-out variant shares the embedding group: its texts (a subset of the full pool's) are all stored
    held_out = _evaluate(task(XQuADRHeldOutRetrieval, chunk_size=5, encode_chunk=64), model, "test")
    assert held_out == reference[XQuADRHeldOutRetrieval] and model.texts_encoded == first


def test_me5_small_scores_the_same_encoded_in_slices_into_the_store(shared_data: Path, in_memory: None) -> None:
    """The base model, built as me5-small is: its texts encoded 7 per call into the store give the scores of one
    call per dataset held in memory (batches differ; fp32 embeddings of a text do not depend on its batch here)."""
    from hybrid_bench.evaluation import load_model
    from hybrid_bench.models.me5_small import me5_small_path

    home = Path(os.environ["HYBRID_BENCH_HOME"])
    if (_USER_MODELS / "me5-small").is_dir():  # the built base model, read-only (else built on first use)
        (home / "models").mkdir(parents=True, exist_ok=True)
        (home / "models" / "me5-small").symlink_to(_USER_MODELS / "me5-small")
    path = str(me5_small_path())

    def task(**kwargs: Any) -> Any:  # noqa: ANN401
        out = XQuADRRetrieval(data_dir=shared_data, **kwargs).filter_languages(None, hf_subsets=["deu-pool"])
        out.set_sample(languages=["de", "en"], max_queries=20, max_candidates=60)
        return out

    reference = _evaluate(task(), load_model(path), "test")
    encoding.use_persistent_cache(True)
    model = load_model(path)
    assert _evaluate(task(chunk_size=5, encode_chunk=7), model, "test") == reference
    assert encoding.cache_for(model)._memory == {} and encoding.cache_for(model).encoded_texts > 7


def test_lazy_rows_gather_exactly_the_rows_they_point_at() -> None:
    rng = np.random.default_rng(0)
    sources = [rng.normal(size=(n, 3)).astype(np.float32) for n in (10, 4, 7)]
    source = np.array([0, 0, 0, 2, 2, 1, 0, 0, 1, 2, 2, 2], dtype=np.int64)
    row = np.array([2, 3, 4, 0, 1, 3, 9, 8, 0, 4, 5, 6], dtype=np.int64)
    view = LazyRows.from_locations(sources, source, row, 3)
    dense = np.stack([sources[s][r] for s, r in zip(source, row)])
    assert len(view.starts) == 7  # consecutive rows of one source are one run
    assert np.array_equal(np.asarray(view), dense)
    for lo, hi in ((0, 12), (1, 4), (2, 3), (5, 5), (4, 11), (11, 12), (3, 100)):
        assert np.array_equal(view[lo:hi], dense[lo:hi]), (lo, hi)
    index = rng.integers(0, 12, size=30)
    assert np.array_equal(view[index], dense[index]) and np.array_equal(view[::3], dense[::3])
    pool = Pool([dense[:5], view])  # a Pool keeps the view lazy and reads it chunk by chunk
    assert pool.parts[1] is view
    assert np.array_equal(np.concatenate([c for _, c in pool.chunks(4)]), np.concatenate([dense[:5], dense]))


def test_key_index_finds_every_stored_key_and_forgets_a_dropped_shard() -> None:
    rng = np.random.default_rng(1)
    index, truth = _KeyIndex(), {}
    for shard, n in enumerate((5, 40, 3, 3, 17, 1, 60, 2)):
        keys = rng.bytes(32 * n)
        digests = np.frombuffer(keys, dtype="S32")
        index.add(digests, (shard << 32) + np.arange(n, dtype=np.int64))
        truth.update({keys[32 * i : 32 * i + 32]: (shard << 32) + i for i in range(n)})
    assert len(index._runs) < 8  # runs merged
    stored = np.array(list(truth), dtype="S32")
    unknown = np.frombuffer(rng.bytes(32 * 20), dtype="S32")
    assert index.find(stored).tolist() == list(truth.values())
    assert (index.find(unknown) == -1).all()
    index.drop(6)
    expected = [v if v >> 32 != 6 else -1 for v in truth.values()]
    assert index.find(stored).tolist() == expected


def test_store_put_then_locate_across_store_objects(tmp_path: Path) -> None:
    key = {"model": "test/x", "revision": "r1"}
    store = EmbeddingStore(key, root=tmp_path)
    keys = [f"{i:064x}" for i in range(6)]
    emb = np.arange(18, dtype=np.float32).reshape(6, 3)
    number = store.put(keys[:4], emb[:4])
    assert number is not None and np.array_equal(store.array(number), emb[:4])
    store.put(keys[4:], emb[4:])
    other = EmbeddingStore(key, root=tmp_path)
    shard, row = other.locate([keys[5], "f" * 64, keys[1]])
    assert shard[1] == row[1] == -1
    assert np.array_equal(other.array(int(shard[0]))[row[0]], emb[5])
    assert np.array_equal(other.array(int(shard[2]))[row[2]], emb[1])
