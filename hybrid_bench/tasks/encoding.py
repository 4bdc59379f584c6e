"""Encode-once: every unique (text, query-or-document) is encoded once per model per evaluation.

mteb's stock retrieval loop re-encodes the corpus for every subset. Our tasks have many subsets over the same
texts (XQuAD-R: 132 settings over 11 languages' questions and candidates), so they encode each language's texts
once through mteb's own encode path (same dataloader, prompts and model wrappers as a stock task, so a model's
``query`` / ``document`` prompt handling is exactly what mteb would do) and score every subset from the cached
embeddings.

Memory (see :class:`EmbeddingCache`): with the persistent cache on (the default), documents and queries are
encoded at most ``encode_chunk`` (:data:`ENCODE_CHUNK`) texts per model call, each slice is written to the store as
one shard and dropped, and a task gets a :class:`~hybrid_bench.tasks.scoring.LazyRows` over the memory-mapped
shards, so encoding holds one slice and scoring one chunk (:mod:`hybrid_bench.tasks.scoring`) — never the corpus's
embeddings. What does grow with the corpus: the store's key index (40 bytes per stored text), the runs of shard rows
of each task's view (a few integers per slice when the corpus is encoded in order), and whatever the data layer
holds. Queries are small and read into memory whole for scoring. With the cache off (:func:`use_persistent_cache`,
used by benchmarks that time encoding) every embedding is held in memory, as one array per dataset.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from datasets import Dataset
from mteb._create_dataloaders import create_dataloader
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.types import PromptType

from hybrid_bench.display import count_encoded, texts_encoded
from hybrid_bench.tasks.embedding_store import EmbeddingStore, text_key
from hybrid_bench.tasks.scoring import LazyRows, Rows

logger = logging.getLogger(__name__)


def encode_dataset(
    model: Any,
    dataset: Dataset,
    *,
    prompt_type: PromptType,
    task_metadata: TaskMetadata,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
) -> npt.NDArray[np.float32]:
    """Encode ``dataset`` (columns ``id``, ``text`` and for documents optionally ``title``) with an mteb model.

    Duplicate rows (same text and title) are encoded once and their embedding is shared.
    """
    columns = [c for c in ("title", "text") if c in dataset.column_names]
    keys = list(zip(*(dataset[c] for c in columns))) if columns else []
    unique: dict[tuple[str, ...], int] = {}
    inverse = np.fromiter((unique.setdefault(k, len(unique)) for k in keys), dtype=np.int64, count=len(keys))
    if len(unique) < len(keys):
        first = sorted({v: i for i, v in reversed(list(enumerate(inverse)))}.values())
        dataset = dataset.select(first)
    logger.debug(
        "encoding %d unique %s texts (%d rows) for %s/%s",
        len(unique), prompt_type.value, len(keys), task_metadata.name, hf_subset,
    )
    loader = create_dataloader(
        dataset, task_metadata=task_metadata, prompt_type=prompt_type, **encode_kwargs
    )
    emb = model.encode(
        loader,
        task_metadata=task_metadata,
        hf_split=hf_split,
        hf_subset=hf_subset,
        prompt_type=prompt_type,
        **encode_kwargs,
    )
    emb = _to_numpy(emb)
    if emb.shape[0] != len(unique):
        raise RuntimeError(f"model returned {emb.shape[0]} embeddings for {len(unique)} texts")
    return emb[inverse]


def similarity_name(model: Any) -> str:  # noqa: ANN401 -- any mteb model
    """The model's similarity function as :func:`hybrid_bench.tasks.scoring.rank_pool` names it (default cosine)."""
    meta = getattr(model, "mteb_model_meta", None)
    name = getattr(meta, "similarity_fn_name", None)
    return str(getattr(name, "value", name) or "cosine")


def _to_numpy(x: Any) -> npt.NDArray[np.float32]:  # noqa: ANN401 -- numpy array or torch tensor
    if hasattr(x, "detach"):  # a torch tensor (any dtype, any device)
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32)


def texts_dataset(ids: Sequence[str], texts: Sequence[str], titles: Sequence[str] | None = None) -> Dataset:
    """A ``datasets.Dataset`` in mteb's retrieval layout (``id``, ``text``[, ``title``])."""
    data: dict[str, list[str]] = {"id": list(ids), "text": list(texts)}
    if titles is not None:
        data["title"] = list(titles)
    return Dataset.from_dict(data)


#: texts sent to the model per call, and rows per stored shard, when the persistent cache is on (``encode_chunk``)
ENCODE_CHUNK = 1 << 14


class EmbeddingCache:
    """Embeddings of one model, keyed by (cache group, prompt type, title, text).

    mteb calls ``task.evaluate`` once per subset, so encode-once has to outlive a single call: the cache lives as
    long as the model object (see :func:`cache_for`). The *cache group* is the task's declared embedding context —
    tasks that feed the model identical inputs (XQuAD-R and its held-out variant) share one group, so their common
    texts are encoded once per run too.

    With a ``store`` (an :class:`~hybrid_bench.tasks.embedding_store.EmbeddingStore`, the default) embeddings stay
    on disk: texts are looked up in the persistent cache, the missing ones are encoded ``encode_chunk`` at a time,
    each slice is written as one shard and dropped from memory, and :meth:`get_or_encode` returns a
    :class:`~hybrid_bench.tasks.scoring.LazyRows` over the memory-mapped shards. Memory then holds the store's key
    index (40 bytes per stored text), one slice of texts and embeddings while encoding, and nothing per row of the
    result but runs of consecutive shard rows. Only if a shard cannot be written are that slice's vectors kept
    in memory (``_memory``), so that they are still encoded once.

    Without a store (:func:`use_persistent_cache` ``(False)``, or a model without a name and revision) every
    embedding is kept in memory and :meth:`get_or_encode` returns a plain array of the whole dataset.
    """

    def __init__(self, store: EmbeddingStore | None = None) -> None:
        self._memory: dict[str, npt.NDArray[np.float32]] = {}
        self._views: weakref.WeakKeyDictionary[Dataset, dict[tuple[str, str], LazyRows]] = weakref.WeakKeyDictionary()
        self.store = store
        self.encoded_texts = 0  # how many texts were actually sent to the model (for tests and benchmarks)

    def get_or_encode(
        self,
        model: Any,
        dataset: Dataset,
        *,
        group: str,
        prompt_type: PromptType,
        task_metadata: TaskMetadata,
        hf_split: str,
        hf_subset: str,
        encode_kwargs: dict[str, Any],
        encode_chunk: int | None = None,
    ) -> Rows:
        """Embeddings for every row of ``dataset``, encoding only rows not cached yet (see the class docstring)."""
        encode = dict(prompt_type=prompt_type, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset,
                      encode_kwargs=encode_kwargs)
        if self.store is None:
            keys = dataset_keys(dataset, group, prompt_type)
            self._encode_missing(model, dataset, keys, range(len(keys)), encode)
            return np.stack([self._memory[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        views = self._views.setdefault(dataset, {})
        if (group, prompt_type.value) in views:  # the same dataset object again (a MIRACL corpus in every pool)
            return views[(group, prompt_type.value)]
        store, step = self.store, encode_chunk or ENCODE_CHUNK
        runs: list[tuple[npt.NDArray[np.int64], ...]] = []  # per slice: runs of consecutive rows of one shard
        spill: list[npt.NDArray[np.float32]] = []  # slices whose shard could not be written
        for start in range(0, len(dataset), step):
            piece = dataset.select(range(start, min(start + step, len(dataset))))
            keys = dataset_keys(piece, group, prompt_type)
            shard, row = store.locate(keys)
            absent = [i for i in np.flatnonzero(shard < 0).tolist() if keys[i] not in self._memory]
            new = self._encode_missing(model, piece, keys, absent, encode)
            if new is not None:
                number, distinct = new
                if number is not None:
                    where = {key: (number, r) for r, key in enumerate(distinct)}
                    for i in absent:
                        shard[i], row[i] = where[keys[i]]
            if (shard < 0).any():  # held in memory: put them in a source of their own
                held = np.flatnonzero(shard < 0)
                spill.append(np.stack([self._memory[keys[i]] for i in held.tolist()]))
                shard[held], row[held] = -len(spill), np.arange(len(held))
            runs.append(LazyRows.runs(shard, row))
        view = _view(store, runs, spill)
        views[(group, prompt_type.value)] = view
        return view

    def _encode_missing(self, model: Any, dataset: Dataset, keys: list[str], wanted: Sequence[int],  # noqa: ANN401
                        encode: dict[str, Any]) -> tuple[int | None, list[str]] | None:
        """Encode the distinct texts of rows ``wanted`` not in memory; store them as one shard (its number and
        keys are returned) or, without a store or when the shard cannot be written, keep them in memory."""
        first = sorted({keys[i]: i for i in reversed(wanted) if keys[i] not in self._memory}.values())
        if not first:
            return None
        counted = texts_encoded()
        emb = encode_dataset(model, dataset.select(first), **encode)
        new = [keys[i] for i in first]
        self.encoded_texts += len(new)
        count_encoded(len(new) - (texts_encoded() - counted))  # what a tracked model's batches did not count
        number = self.store.put(new, emb) if self.store is not None else None
        if number is None:
            self._memory.update(zip(new, emb))
        return number, new


def dataset_keys(dataset: Dataset, group: str, prompt_type: PromptType) -> list[str]:
    """The cache key (:func:`~hybrid_bench.tasks.embedding_store.text_key`) of every row of ``dataset``."""
    titles = dataset["title"] if "title" in dataset.column_names else [""] * len(dataset)
    return [text_key(group, prompt_type.value, t or "", x) for t, x in zip(titles, dataset["text"])]


def _view(store: EmbeddingStore, runs: list[tuple[npt.NDArray[np.int64], ...]],
          spill: list[npt.NDArray[np.float32]]) -> LazyRows:
    """The :class:`LazyRows` of per-slice runs ``(shard number, first row, length)`` (shard ``-j``: ``spill[j-1]``)."""
    empty = np.zeros(0, dtype=np.int64)
    shard, start, length = (np.concatenate(column) for column in zip(*runs)) if runs else (empty, empty, empty)
    numbers = np.unique(shard)
    sources = [spill[-n - 1] if n < 0 else store.array(int(n)) for n in numbers.tolist()]
    dims = {a.shape[1] for a in sources if a is not None and a.shape[0]}
    return LazyRows.from_runs(sources, np.searchsorted(numbers, shard), start, length, dims.pop() if dims else 0)


_CACHES: "weakref.WeakKeyDictionary[Any, EmbeddingCache]" = weakref.WeakKeyDictionary()
_PERSISTENT = [True]


def cache_for(model: Any) -> EmbeddingCache:  # noqa: ANN401 -- any mteb model
    """The in-memory embedding cache of ``model``: created on first use, dropped with the model object.

    Keyed by the object itself (a weak reference), never by ``id()``: an id can be reused by another model after
    garbage collection, which would hand it the first model's embeddings. A model that cannot be weakly
    referenced gets a fresh cache per call (encode-once then holds within one subset only) and a warning.
    """
    try:
        cache = _CACHES.get(model)
    except TypeError:
        logger.warning("%s cannot be weakly referenced: its embeddings are not kept between subsets",
                       type(model).__name__)
        return EmbeddingCache(EmbeddingStore.for_model(model) if _PERSISTENT[0] else None)
    if cache is None:
        cache = _CACHES[model] = EmbeddingCache(EmbeddingStore.for_model(model) if _PERSISTENT[0] else None)
    return cache


def use_persistent_cache(enabled: bool) -> None:
    """Switch the persistent cache on (default) or off for models whose cache is created from now on (benchmarks
    that time encoding switch it off)."""
    _PERSISTENT[0] = enabled


#: what a task will embed, for the progress bar and cost projections: ``(cache group, prompt type, texts, titles)``
#: per dataset it sends through :func:`embed` (``titles`` ``None`` for datasets without a title column)
EncodePlan = list[tuple[str, PromptType, Sequence[str], Sequence[str] | None]]


def plan_keys(plan: EncodePlan) -> set[str]:
    """The distinct cache keys of ``plan`` (a text is encoded once per group and prompt type)."""
    keys: set[str] = set()
    for group, prompt_type, texts, titles in plan:
        keys.update(text_key(group, prompt_type.value, (titles[i] if titles is not None else "") or "", text)
                    for i, text in enumerate(texts))
    return keys


def texts_to_encode(plan: EncodePlan, model: Any = None) -> int:  # noqa: ANN401 -- any mteb model
    """How many texts of ``plan`` the model will really encode: its distinct texts, less those ``model``'s cache
    (memory and persistent store) already holds; all of them without a ``model``."""
    keys = plan_keys(plan)
    if model is None or not keys:
        return len(keys)
    cache = cache_for(model)
    missing = [k for k in keys if k not in cache._memory]
    if cache.store is None or not missing:
        return len(missing)
    shard, _ = cache.store.locate(missing)
    return int((shard < 0).sum())


def embed(model: Any, dataset: Dataset, *, group: str, prompt_type: PromptType,  # noqa: ANN401
          task_metadata: TaskMetadata, hf_split: str, hf_subset: str, encode_kwargs: dict[str, Any],
          encode_chunk: int | None = None) -> Rows:
    """Embeddings of every row of ``dataset`` through ``model``'s cache (see :class:`EmbeddingCache`): a
    :class:`~hybrid_bench.tasks.scoring.LazyRows` over the persistent cache, or an in-memory array without it."""
    return cache_for(model).get_or_encode(
        model, dataset, group=group, prompt_type=prompt_type, task_metadata=task_metadata, hf_split=hf_split,
        hf_subset=hf_subset, encode_kwargs=encode_kwargs, encode_chunk=encode_chunk,
    )
