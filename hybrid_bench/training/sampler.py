"""Hybrid batch sampler: each batch is monolingual with probability α, else cross-lingual (arXiv 2408.10536).

The paper's batch types, after LAReQA (Roy et al. 2020, arXiv 2004.05484):

* **X-X-mono**: every (query, passage) pair of the batch is in one language X.
* **X-Y**: every pair has query language ≠ passage language, and each pair draws its own (query language, passage
  language), so one batch mixes language pairs and its in-batch negatives span languages.
* **Hybrid**: X-X-mono with probability α, else X-Y; α = 1 is the X-X-mono baseline, α = 0 the X-Y baseline,
  α = 0.5 the paper's best.

:class:`HybridBatchSampler` is a sentence-transformers batch sampler over a dataset made by
:meth:`~hybrid_bench.training.parallel_data.ParallelCorpus.to_dataset`; it learns what each row is (item, query
language, passage language, passage identities) from the dataset's ``label`` column.

Example::

    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments
    from hybrid_bench.training.loss import HybridInfoNCELoss
    from hybrid_bench.training.parallel_data import load_parallel_data
    from hybrid_bench.training.sampler import HybridBatchSampler

    model = SentenceTransformer("intfloat/multilingual-e5-small")
    train_dataset = load_parallel_data("xquad-r-train").to_dataset()
    args = SentenceTransformerTrainingArguments(
        output_dir="checkpoints/hybrid",
        per_device_train_batch_size=32,
        max_steps=300,
        batch_sampler=HybridBatchSampler.factory(alpha=0.5),   # a factory, never a sampler instance
        prompts={"anchor": "query: ", "positive": "passage: "},
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset,
                                         loss=HybridInfoNCELoss(model))
    trainer.train()
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

from hybrid_bench.errors import DataError
from hybrid_bench.training.labels import LABEL_FIELDS, NO_NEGATIVE, PairLabels

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["HybridBatchSampler", "check_batches"]

logger = logging.getLogger(__name__)

LanguageSampling = Literal["uniform", "proportional"]
CrossPairs = Literal["per_example", "per_batch"]

# Extra full passes over the items that one slot may scan before giving up (only reachable with tiny or
# heavily conflicting data; the constructor's checks catch the common cases).
_MAX_SCAN_PASSES = 2
_MAX_PAIR_REDRAWS = 20


class HybridBatchSampler(DefaultBatchSampler):
    """Homogeneous batches: monolingual with probability ``alpha``, else cross-lingual with a pair per example.

    **Batches.** At every optimisation step a generator seeded by ``(seed, epoch, step)`` decides the batch type:
    monolingual (probability ``alpha``) in one language X, or cross-lingual. In a cross-lingual batch every
    example draws its own ordered language pair (query language ≠ passage language) unless
    ``cross_pairs="per_batch"`` (one pair for the whole batch: *not* the paper's X-Y, offered for ablations).
    ``language_sampling`` draws X, and each cross-lingual pair, uniformly (``"uniform"``, the default) or in
    proportion to the number of items available in that language / language pair (``"proportional"``: the
    paper's "sampled based on dataset size" reading; identical to uniform on fully parallel data).

    **Items.** The items of an epoch come from a random permutation (seeded by ``(seed, epoch)``); each slot takes
    the next item that has the slot's language(s) and does not *conflict* with an item already in the batch.
    Items conflict when they are the same item or share a positive passage (same language and text) in any
    language, or when one's hard negative is the other's positive: so no item, and none of its translations,
    appears twice in a batch and no positive ever serves as a false negative. Skipped items are used by later
    batches.

    **Length and** ``drop_last``. An epoch has ``steps = n_items // (batch_size * world_size)`` steps with
    ``drop_last=True`` (up to ``batch_size * world_size - 1`` items sit out that epoch), or
    ``ceil(n_items / (batch_size * world_size))`` steps with ``drop_last=False`` (the default of
    sentence-transformers), in which case the last step is filled with items drawn again from a fresh permutation.
    Every batch therefore has exactly ``batch_size`` examples, and ``len(sampler) = steps * world_size``.

    **Multi-GPU (DDP).** With ``world_size`` W > 1 (default: the initialised ``torch.distributed`` world size) the
    sampler yields W consecutive batches per step: accelerate's ``BatchSamplerShard`` hands batch ``k`` to rank
    ``k % W``, so step ``s`` on every rank reads batches ``s*W ... s*W+W-1``. All W come from the same step
    decision (type, language) and never share or conflict on an item, so the global batch is homogeneous. With
    accelerate's ``split_batches=True`` pass ``world_size=1`` and the global batch size instead.

    **Determinism.** Batches depend only on the dataset's labels, ``seed`` and the epoch (:meth:`set_epoch`); the
    ``generator`` passed by sentence-transformers is not used (the trainer shares one generator among samplers,
    which makes draws repeat), so a resumed run sees the same batches.

    Args:
        dataset: A dataset from :meth:`~hybrid_bench.training.parallel_data.ParallelCorpus.to_dataset` (any row
            order or subset), or any dataset with an equivalent ``label_column``.
        batch_size: Examples per batch (per device).
        drop_last: See above.
        valid_label_columns: Accepted for sentence-transformers compatibility; unused.
        generator: Accepted for sentence-transformers compatibility; unused (see above).
        seed: Base seed of every random decision.
        alpha: Probability that a step is monolingual, in [0, 1].
        language_sampling: ``"uniform"`` or ``"proportional"`` (see above).
        cross_pairs: ``"per_example"`` (faithful X-Y, default) or ``"per_batch"``.
        world_size: Number of data-parallel ranks; ``None`` detects it from ``torch.distributed``.
        label_column: The dataset column holding the :data:`~hybrid_bench.training.labels.LABEL_FIELDS`.

    Raises:
        ValueError: Bad parameters, a dataset without the label column, or too few items for one batch.

    sentence-transformers builds samplers itself, so give ``batch_sampler=`` the class or
    :meth:`HybridBatchSampler.factory`, never an instance (an instance would otherwise be ignored and training
    would silently run with batches of one; this class raises a ``ValueError`` instead).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool = False,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        alpha: float = 0.5,
        language_sampling: LanguageSampling = "uniform",
        cross_pairs: CrossPairs = "per_example",
        world_size: int | None = None,
        label_column: str = "label",
        language_names: Sequence[str] | None = None,
    ) -> None:
        _check_options(alpha, language_sampling, cross_pairs, world_size)
        self.language_names = tuple(language_names) if language_names is not None else None
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if seed is None or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        super().__init__(
            dataset, batch_size=batch_size, drop_last=drop_last, valid_label_columns=valid_label_columns,
            generator=generator, seed=seed,
        )
        self.alpha = float(alpha)
        self.language_sampling = language_sampling
        self.cross_pairs = cross_pairs
        self.world_size = world_size if world_size is not None else _detected_world_size()
        self.label_column = label_column
        self._index(_read_labels(dataset, label_column))
        self._check_feasible()
        logger.info(
            "HybridBatchSampler: %d items, %d languages, alpha=%.2f, %d steps per epoch of %d x %d examples",
            self.num_items, self.num_languages, self.alpha, self.steps_per_epoch, self.world_size, batch_size,
        )

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def factory(
        cls,
        *,
        alpha: float = 0.5,
        language_sampling: LanguageSampling = "uniform",
        cross_pairs: CrossPairs = "per_example",
        world_size: int | None = None,
        label_column: str = "label",
    ) -> Callable[..., HybridBatchSampler]:
        """A ``batch_sampler=`` value for ``SentenceTransformerTrainingArguments`` with these options.

        sentence-transformers calls it as ``factory(dataset, batch_size=, drop_last=, valid_label_columns=,
        generator=, seed=)``. The options are checked now, not when training starts.
        """
        _check_options(alpha, language_sampling, cross_pairs, world_size)
        return functools.partial(
            cls, alpha=alpha, language_sampling=language_sampling, cross_pairs=cross_pairs,
            world_size=world_size, label_column=label_column,
        )

    def __call__(self, *args: object, **kwargs: object) -> HybridBatchSampler:
        # sentence-transformers calls a callable batch_sampler= with the dataset; a BatchSampler instance would
        # otherwise not be callable, be silently dropped, and train with batches of one.
        raise ValueError(
            "a HybridBatchSampler instance was passed as batch_sampler=; sentence-transformers builds the sampler "
            "itself, so pass the class or HybridBatchSampler.factory(alpha=..., ...) instead"
        )

    def _index(self, labels: PairLabels) -> None:
        items, item_of_row = np.unique(labels.item, return_inverse=True)
        n_items = len(items)
        n_langs = int(max(labels.query_lang.max(), labels.passage_lang.max())) + 1
        if min(labels.query_lang.min(), labels.passage_lang.min()) < 0:
            raise ValueError(f"negative language index in the {self.label_column!r} column")
        rows = np.full((n_items, n_langs, n_langs), -1, dtype=np.int64)
        flat = (item_of_row * n_langs + labels.query_lang) * n_langs + labels.passage_lang
        if len(np.unique(flat)) != len(flat):
            raise ValueError("the dataset has two rows for the same (item, query language, passage language)")
        rows.reshape(-1)[flat] = np.arange(len(flat))
        positive_key = np.full((n_items, n_langs), NO_NEGATIVE, dtype=np.int64)
        negative_key = np.full((n_items, n_langs), NO_NEGATIVE, dtype=np.int64)
        positive_key[item_of_row, labels.passage_lang] = labels.positive_key
        negative_key[item_of_row, labels.passage_lang] = labels.negative_key
        self.num_items = n_items
        self.num_languages = n_langs
        self._rows = rows
        self._negative_key = negative_key
        # conflict keys of an item: its positive passages in every language it has
        self._item_keys: list[frozenset[int]] = [
            frozenset(int(k) for k in positive_key[i] if k != NO_NEGATIVE) for i in range(n_items)
        ]
        has = rows >= 0
        self._mono_counts = np.array([has[:, x, x].sum() for x in range(n_langs)], dtype=np.int64)
        pairs = [(q, p) for q in range(n_langs) for p in range(n_langs) if q != p and has[:, q, p].any()]
        self._pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        self._pair_counts = np.array([has[:, q, p].sum() for q, p in pairs], dtype=np.int64)
        self._mono_langs = np.flatnonzero(self._mono_counts > 0)

    def _check_feasible(self) -> None:
        slots = self.batch_size * self.world_size
        if self.num_items < slots:
            raise ValueError(
                f"only {self.num_items} items for batches of batch_size * world_size = {slots}; lower the batch size"
            )
        if self.alpha > 0:
            if len(self._mono_langs) == 0:
                raise ValueError("alpha > 0 needs monolingual rows, but the dataset has none")
            short = {self._lang(x): int(self._mono_counts[x]) for x in self._mono_langs if self._mono_counts[x] < slots}
            if short:
                raise ValueError(
                    f"language(s) {short} (language: items) have fewer monolingual items than batch_size * world_size "
                    f"= {slots}; drop them from the training languages or lower the batch size"
                )
        if self.alpha < 1 and len(self._pairs) == 0:
            only = ", ".join(str(self._lang(x)) for x in self._mono_langs)
            raise ValueError(f"alpha < 1 needs cross-lingual rows, but the dataset has none (only language(s): {only}); "
                             "train with --strategy mono or add languages")

    def _lang(self, index: int) -> str | int:
        """A language index as its code when the names were given (for messages)."""
        index = int(index)
        names = self.language_names
        return names[index] if names is not None and index < len(names) else index

    # ------------------------------------------------------------------ sampling

    @property
    def steps_per_epoch(self) -> int:
        """Optimisation steps in one epoch (each of ``world_size`` batches)."""
        slots = self.batch_size * self.world_size
        return self.num_items // slots if self.drop_last else math.ceil(self.num_items / slots)

    def __len__(self) -> int:
        return self.steps_per_epoch * self.world_size

    def _weights(self, counts: np.ndarray) -> np.ndarray:
        weights = counts.astype(np.float64) if self.language_sampling == "proportional" else (counts > 0) * 1.0
        return weights / weights.sum()

    def step_plan(self, step: int) -> tuple[bool, np.ndarray]:
        """The decision for ``step`` of the current epoch: (is monolingual, (query, passage) language per slot).

        Depends only on ``(seed, epoch, step)``, never on the rank, so every DDP rank decides the same.
        """
        rng = np.random.default_rng([self.seed, self.epoch, 1, step])
        slots = self.batch_size * self.world_size
        if rng.random() < self.alpha:
            lang = rng.choice(len(self._mono_counts), p=self._weights(self._mono_counts))
            return True, np.full((slots, 2), lang, dtype=np.int64)
        weights = self._weights(self._pair_counts)
        if self.cross_pairs == "per_batch":
            return False, np.repeat(self._pairs[[rng.choice(len(self._pairs), p=weights)]], slots, axis=0)
        return False, self._pairs[rng.choice(len(self._pairs), size=slots, p=weights)]

    def __iter__(self) -> Iterator[list[int]]:
        item_rng = np.random.default_rng([self.seed, self.epoch, 0])
        stream = _ItemStream(self.num_items, item_rng)
        for step in range(self.steps_per_epoch):
            is_mono, plan = self.step_plan(step)
            rows = self._fill(step, is_mono, plan, stream)
            for rank in range(self.world_size):
                yield rows[rank * self.batch_size : (rank + 1) * self.batch_size]

    def _fill(self, step: int, is_mono: bool, plan: np.ndarray, stream: _ItemStream) -> list[int]:
        used_positive: set[int] = set()
        used_negative: set[int] = set()
        rows: list[int] = []
        redraw_rng: np.random.Generator | None = None
        for q, p in plan:
            q, p = int(q), int(p)
            for attempt in range(_MAX_PAIR_REDRAWS + 1):
                item = stream.take(functools.partial(self._fits, q=q, p=p, pos=used_positive, neg=used_negative))
                if item is not None:
                    break
                if is_mono or self.cross_pairs == "per_batch" or attempt == _MAX_PAIR_REDRAWS:
                    raise RuntimeError(
                        f"step {step}: no item left for languages ({q}, {p}) that does not conflict with the "
                        f"{len(rows)} items already in the batch; the data has too few distinct items for "
                        f"batch_size * world_size = {len(plan)}"
                    )
                # this pair's items are all in the batch already: draw another pair for this slot
                redraw_rng = redraw_rng or np.random.default_rng([self.seed, self.epoch, 2, step])
                q, p = (int(x) for x in self._pairs[redraw_rng.choice(len(self._pairs), p=self._weights(self._pair_counts))])
            used_positive |= self._item_keys[item]
            negative = int(self._negative_key[item, p])
            if negative != NO_NEGATIVE:
                used_negative.add(negative)
            rows.append(int(self._rows[item, q, p]))
        return rows

    def _fits(self, item: int, *, q: int, p: int, pos: set[int], neg: set[int]) -> bool:
        if self._rows[item, q, p] < 0:
            return False
        keys = self._item_keys[item]
        if not pos.isdisjoint(keys) or not neg.isdisjoint(keys):
            return False
        negative = int(self._negative_key[item, p])
        return negative == NO_NEGATIVE or negative not in pos


class _ItemStream:
    """Items in random order, pass after pass; items a slot rejects wait in a queue for later slots."""

    def __init__(self, n_items: int, rng: np.random.Generator) -> None:
        self._n = n_items
        self._rng = rng
        self._order = rng.permutation(n_items)
        self._pos = 0
        self._deferred: list[int] = []

    def take(self, fits: Callable[[int], bool]) -> int | None:
        for k, item in enumerate(self._deferred):
            if fits(item):
                del self._deferred[k]
                return item
        for _ in range(_MAX_SCAN_PASSES * self._n):
            if self._pos == self._n:
                # a new pass re-offers every item, so the waiting queue would only hold duplicates
                self._order = self._rng.permutation(self._n)
                self._pos = 0
                self._deferred.clear()
            item = int(self._order[self._pos])
            self._pos += 1
            if fits(item):
                return item
            self._deferred.append(item)
        return None


def check_batches(dataset: Dataset, *, batch_size: int, alpha: float, language_sampling: LanguageSampling = "uniform",
                  language_names: Sequence[str] | None = None, source: object = None) -> None:
    """Check, before any model loads, that ``dataset`` can make the asked batches (what the sampler's constructor
    checks: enough items per batch, per monolingual language, cross-lingual rows for alpha < 1).

    Raises:
        DataError: naming ``source`` (the data) and the language codes of ``language_names``.
    """
    try:
        HybridBatchSampler(dataset, batch_size, alpha=alpha, language_sampling=language_sampling,
                           language_names=language_names)
    except ValueError as err:
        raise DataError(str(err), file=source) from None


def _check_options(alpha: float, language_sampling: str, cross_pairs: str, world_size: int | None) -> None:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (1 = all monolingual, 0 = all cross-lingual), got {alpha!r}")
    if language_sampling not in ("uniform", "proportional"):
        raise ValueError(f"language_sampling must be 'uniform' or 'proportional', got {language_sampling!r}")
    if cross_pairs not in ("per_example", "per_batch"):
        raise ValueError(f"cross_pairs must be 'per_example' or 'per_batch', got {cross_pairs!r}")
    if world_size is not None and (not isinstance(world_size, int) or world_size < 1):
        raise ValueError(f"world_size must be a positive integer or None, got {world_size!r}")


def _detected_world_size() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def _read_labels(dataset: Dataset, column: str) -> PairLabels:
    names = getattr(dataset, "column_names", None)
    if names is None or column not in names:
        raise ValueError(
            f"HybridBatchSampler needs a {column!r} column with {LABEL_FIELDS} per row, but the dataset has columns "
            f"{names}; build it with ParallelCorpus.to_dataset()"
        )
    values = dataset.select_columns([column]).with_format("numpy")[:][column]
    if len(dataset) == 0:
        raise ValueError("the training dataset is empty")
    return PairLabels.from_array(np.stack(values) if values.dtype == object else values)
