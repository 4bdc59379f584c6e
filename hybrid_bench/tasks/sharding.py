"""Corpus encoding sharded over processes or devices, through the persistent embedding cache.

A MIRACL language has up to 33M passages, and encoding them is nearly all of an evaluation's time. With ``N``
processes - ``torchrun --nproc_per_node N`` on one machine, or ``N`` processes started by hand or by a cluster
with ``RANK`` / ``WORLD_SIZE`` set and one ``HYBRID_BENCH_HOME`` between them - each process (*rank*) encodes one
contiguous share of every corpus (:meth:`Shard.rows`) and writes it to the embedding cache as ordinary cache shards
(:meth:`~hybrid_bench.tasks.embedding_store.EmbeddingStore.put`: the ``.npy`` file, then its index, each written
atomically), so ``N`` devices encode a corpus in about ``1/N`` of the time.

Nothing is copied to merge the shares: cache shards are keyed by their texts, so the model's cache folder simply
holds every rank's shards, and any reader of the cache finds them all - rank 0 after the ranks' barrier
(:func:`missing_rows` re-reads the folder with
:meth:`~hybrid_bench.tasks.embedding_store.EmbeddingStore.refresh`), or a later ``hybrid-bench eval`` or
``mteb run`` on the same model. That evaluation then encodes no passage and searches the memory-mapped shards
chunk by chunk (:func:`hybrid_bench.tasks.scoring.rank_pool` for hybrid-bench's tasks, mteb's chunked
``torch.topk`` search for the stock ones), so its memory does not grow with the corpus beyond the cache's key index.

The shares are encoded under the evaluation's own cache keys (:func:`corpora`): the same model (name, revision
with backend and dtype, token limit, prompts), cache group, prompt type, title and text as the task's evaluation
uses - hybrid-bench's MIRACL tasks through
:meth:`~hybrid_bench.tasks.miracl.MIRACLCrossLingualRetrieval.language_corpora`, stock tasks that share their
documents (:data:`~hybrid_bench.tasks.shared_embeddings.STOCK_EMBEDDING_GROUPS`) as
:class:`~hybrid_bench.tasks.shared_embeddings.SharedDocumentEncoder` reads mteb's corpus rows.

Example (two GPUs; ``hybrid-bench encode`` is this module's command)::

    torchrun --nproc_per_node 2 -m hybrid_bench.cli encode -m hybrid-xlmr -t MIRACLRetrieval -l swa
    hybrid-bench eval -m hybrid-xlmr -t MIRACLRetrieval -l swa      # encodes the queries only
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from datasets import Dataset
from mteb.types import PromptType

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.tasks.encoding import ENCODE_CHUNK, cache_for, dataset_keys, embed, texts_dataset
from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval
from hybrid_bench.tasks.miracl_pools import ENCODE_AS
from hybrid_bench.tasks.shared_embeddings import STOCK_EMBEDDING_GROUPS

__all__ = ["CorpusJob", "Shard", "ShareReport", "barrier", "corpora", "encode_share", "finish", "missing_rows"]


@dataclass(frozen=True)
class Shard:
    """This process's place among the ``world_size`` processes of a sharded encoding."""

    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise HybridBenchError(f"rank {self.rank} of {self.world_size} processes: the rank must be in "
                                   f"0..world size - 1 and the world size at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Shard:
        """``RANK`` and ``WORLD_SIZE`` as torchrun (and Slurm wrappers) set them; one process when absent."""
        env = os.environ if environ is None else environ
        values = {}
        for name in ("RANK", "WORLD_SIZE"):
            raw = env.get(name, "0" if name == "RANK" else "1")
            try:
                values[name] = int(raw)
            except ValueError:
                raise HybridBenchError(f"environment variable {name}={raw!r} is not an integer") from None
        return cls(values["RANK"], values["WORLD_SIZE"])

    def rows(self, n: int) -> range:
        """This rank's contiguous share of ``n`` rows: every row in exactly one share, sizes differ by at most 1."""
        return range(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)

    @property
    def coordinated(self) -> bool:
        """Whether the ranks can meet at a barrier: several ranks started by torchrun (``MASTER_ADDR`` set)."""
        return self.world_size > 1 and "MASTER_ADDR" in os.environ


@dataclass(frozen=True)
class CorpusJob:
    """One corpus to encode: its rows and the cache key parts its evaluation encodes them under.

    ``stock``: rows are a stock mteb corpus (``id``, ``text``, ``title`` possibly missing or ``None``), read the way
    :class:`~hybrid_bench.tasks.shared_embeddings.SharedDocumentEncoder` reads them; else the rows are encoded as
    they are.
    """

    label: str
    dataset: Dataset
    group: str
    task_metadata: Any
    hf_split: str
    hf_subset: str
    stock: bool = False

    def rows(self, start: int, stop: int) -> Dataset:
        """Rows ``start`` … ``stop - 1`` as evaluation hands them to the embedding cache."""
        piece = self.dataset.select(range(start, stop))
        if not self.stock:
            return piece
        titles = [t or "" for t in piece["title"]] if "title" in piece.column_names else None
        return texts_dataset(piece["id"], piece["text"], titles)


def corpora(task: Any) -> list[CorpusJob]:  # noqa: ANN401 -- any mteb task
    """The corpora of ``task`` (loading its data) that its evaluation encodes through the embedding cache; ``[]``
    for a task that encodes its documents itself (LAReQA's pools: at most a few thousand sentences)."""
    name = task.metadata.name
    if isinstance(task, MIRACLCrossLingualRetrieval):
        return [CorpusJob(f"{name} {lang}", corpus, task.embedding_group, ENCODE_AS, task.eval_splits[0], lang)
                for lang, corpus in task.language_corpora().items()]
    if name not in STOCK_EMBEDDING_GROUPS:
        return []
    task.load_data()
    return [CorpusJob(f"{name} {subset}", task.dataset[subset][split]["corpus"], STOCK_EMBEDDING_GROUPS[name],
                      task.metadata, split, subset, stock=True)
            for subset in task.hf_subsets for split in task.eval_splits]


@dataclass(frozen=True)
class ShareReport:
    """What one rank did for one corpus."""

    label: str
    rows: range
    total: int
    encoded: int
    seconds: float

    @property
    def passages_per_s(self) -> float:
        """Passages encoded per second (``nan`` when every one was cached already)."""
        return self.encoded / self.seconds if self.encoded and self.seconds > 0 else float("nan")


def _slices(rows: range, step: int) -> Iterator[tuple[int, int]]:
    for start in range(rows.start, rows.stop, step):
        yield start, min(start + step, rows.stop)


def encode_share(model: Any, job: CorpusJob, shard: Shard, *, encode_kwargs: dict[str, Any],  # noqa: ANN401
                 encode_chunk: int | None = None) -> ShareReport:
    """Encode ``shard``'s rows of ``job`` into ``model``'s persistent cache, ``encode_chunk`` rows per model call
    and cache shard (rows already stored are skipped, so a rerun after a crash continues)."""
    cache = cache_for(model)
    if cache.store is None:
        raise HybridBenchError(f"model {getattr(model.mteb_model_meta, 'name', model)!r} has no name and revision, so "
                               "it has no persistent embedding cache for the ranks to share")
    rows, before, start = shard.rows(len(job.dataset)), cache.encoded_texts, time.perf_counter()
    for lo, hi in _slices(rows, encode_chunk or ENCODE_CHUNK):
        embed(model, job.rows(lo, hi), group=job.group, prompt_type=PromptType.document,
              task_metadata=job.task_metadata, hf_split=job.hf_split, hf_subset=job.hf_subset,
              encode_kwargs=encode_kwargs, encode_chunk=encode_chunk)
    return ShareReport(job.label, rows, len(job.dataset), cache.encoded_texts - before, time.perf_counter() - start)


def missing_rows(model: Any, job: CorpusJob, *, step: int = ENCODE_CHUNK) -> int:  # noqa: ANN401
    """How many rows of ``job`` the cache lacks, after reading the shards other ranks wrote (0: merged)."""
    store = cache_for(model).store
    if store is None:
        return len(job.dataset)
    store.refresh()
    absent = 0
    for lo, hi in _slices(range(len(job.dataset)), step):
        shard, _ = store.locate(dataset_keys(job.rows(lo, hi), job.group, PromptType.document))
        absent += int(np.count_nonzero(shard < 0))
    return absent


#: how long a rank waits at :func:`barrier` for the slowest one (torch's default, 30 minutes, is shorter than the
#: spread of finishing times a corpus of millions of passages can have; a rank that fails ends the others through
#: torchrun instead)
BARRIER_TIMEOUT = timedelta(hours=12)


def barrier(shard: Shard) -> bool:
    """Wait for every rank (torch.distributed over gloo, which needs no GPU); ``False`` when the ranks were not
    started together (:attr:`Shard.coordinated`), so there is nothing to wait for."""
    if not shard.coordinated:
        return False
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", rank=shard.rank, world_size=shard.world_size, timeout=BARRIER_TIMEOUT)
    dist.barrier()
    return True


def finish() -> None:
    """Leave the process group :func:`barrier` joined, if any."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
