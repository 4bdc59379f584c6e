"""Hybrid batches through the ``model.fit`` API: a DataLoader that ``SentenceTransformer.old_fit`` trains on as is.

sentence-transformers 6 keeps two fit APIs. ``model.fit(train_objectives=[(loader, loss)])`` converts each
DataLoader into a ``datasets.Dataset`` and trains it with the ``SentenceTransformerTrainer`` in random batches:
a custom ``batch_sampler`` is dropped (with a warning), so plain ``fit`` cannot train hybrid batches. Use the
trainer (:func:`hybrid_bench.training.trainer.train_model`, or ``batch_sampler=HybridBatchSampler.factory(...)``)
or ``model.old_fit``, which iterates the DataLoader itself: with ``batch_sampler=`` a
:class:`~hybrid_bench.training.sampler.HybridBatchSampler` every batch is monolingual or cross-lingual as the
sampler decides. ``old_fit`` collates ``InputExample`` objects with ``model.smart_batching_collate``, which hands
each example's ``label`` (the row's item, languages and passage keys) to the loss, so
:class:`~hybrid_bench.training.loss.HybridInfoNCELoss` applies its masks too.

Example::

    from hybrid_bench.training.fit import hybrid_dataloader
    from hybrid_bench.training.loss import HybridInfoNCELoss
    from hybrid_bench.training.parallel_data import load_parallel_data

    dataset = load_parallel_data("xquad-r-train").to_dataset()
    loader = hybrid_dataloader(dataset, batch_size=32, alpha=0.5, prompts={"query": "query: ", "document": "passage: "})
    model.old_fit(train_objectives=[(loader, HybridInfoNCELoss(model))], epochs=1, warmup_steps=30)

``old_fit`` does not tell the sampler the epoch, so a run of several epochs repeats the first epoch's batch plan
(call ``loader.batch_sampler.set_epoch(k)`` between single-epoch calls to vary it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hybrid_bench.training.sampler import HybridBatchSampler

__all__ = ["hybrid_dataloader", "input_examples"]

# the dataset's text columns and the prompt each one gets
_COLUMNS = (("anchor", "query"), ("positive", "document"), ("negative", "document"))


def input_examples(dataset: Any, prompts: Mapping[str, str] | None = None) -> list[Any]:
    """The rows of :meth:`ParallelCorpus.to_dataset` as ``InputExample`` objects, in row order.

    Args:
        dataset: A dataset with ``anchor``, ``positive`` (optionally ``negative``) and ``label`` columns.
        prompts: ``{"query": ..., "document": ...}`` prefixes (``old_fit`` adds none itself); default none.
    """
    from sentence_transformers.sentence_transformer.readers import InputExample

    prompts = prompts or {}
    columns = [(name, prompts.get(kind, "")) for name, kind in _COLUMNS if name in dataset.column_names]
    texts = [[prefix + text for text in dataset[name]] for name, prefix in columns]
    labels = np.asarray(dataset["label"], dtype=np.int64)
    return [InputExample(texts=[column[i] for column in texts], label=labels[i]) for i in range(len(dataset))]


def hybrid_dataloader(
    dataset: Any,
    batch_size: int,
    *,
    alpha: float = 0.5,
    seed: int = 0,
    prompts: Mapping[str, str] | None = None,
    **sampler_options: Any,
) -> Any:
    """A ``torch`` DataLoader of hybrid batches for ``model.old_fit`` (one process).

    Args:
        dataset: From :meth:`~hybrid_bench.training.corpus.ParallelCorpus.to_dataset`.
        batch_size: Examples per batch.
        alpha: Probability that a batch is monolingual.
        seed: Seed of the batch plan.
        prompts: Query / document prefixes (see :func:`input_examples`).
        **sampler_options: More :class:`~hybrid_bench.training.sampler.HybridBatchSampler` options
            (``language_sampling``, ``cross_pairs``, ``drop_last``).
    """
    from torch.utils.data import DataLoader

    sampler = HybridBatchSampler(dataset, batch_size, alpha=alpha, seed=seed, world_size=1, **sampler_options)
    # old_fit replaces collate_fn with model.smart_batching_collate; the identity keeps the loader usable alone
    return DataLoader(input_examples(dataset, prompts), batch_sampler=sampler, collate_fn=_identity)


def _identity(batch: list[Any]) -> list[Any]:
    return batch
