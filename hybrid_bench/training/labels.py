"""The ``label`` column of a training dataset: the integers that carry each row's item, languages and passages.

sentence-transformers tokenizes every dataset column as a text input except ``label``, which it hands to the loss
untouched as a tensor. :meth:`~hybrid_bench.training.corpus.ParallelCorpus.to_dataset` therefore writes each row's
item index, query and passage language indices and passage identities (:func:`passage_key`) into one ``label``
column of :data:`LABEL_FIELDS` integers; :class:`~hybrid_bench.training.sampler.HybridBatchSampler` reads it once,
:class:`~hybrid_bench.training.loss.HybridInfoNCELoss` gets it with every batch and decodes it with
:class:`PairLabels`. This module is that contract, shared by the three.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LABEL_FIELDS", "NO_NEGATIVE", "PairLabels", "passage_key"]

#: The integers of a training row's ``label`` (see :class:`PairLabels`).
LABEL_FIELDS: tuple[str, ...] = ("item", "query_lang", "passage_lang", "positive_key", "negative_key")
NO_NEGATIVE = -1  # negative_key of a row without a hard negative; passage keys are never negative


def passage_key(lang: str, text: str) -> int:
    """The identity of a passage: a 63-bit hash of its language and exact text.

    blake2b rather than :func:`hash`, which Python salts per process: DDP ranks and resumed runs must agree.
    """
    digest = hashlib.blake2b(f"{lang}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # non-negative in int64, never NO_NEGATIVE


@dataclass(frozen=True)
class PairLabels:
    """The ``label`` column of a training dataset, decoded: aligned integer arrays, one entry per row.

    Attributes:
        item: Item index into :attr:`ParallelCorpus.items`.
        query_lang: Index of the query's language in :attr:`ParallelCorpus.languages`.
        passage_lang: Index of the passages' language.
        positive_key: :func:`passage_key` of the positive.
        negative_key: :func:`passage_key` of the hard negative, or ``NO_NEGATIVE`` (-1).
    """

    item: np.ndarray
    query_lang: np.ndarray
    passage_lang: np.ndarray
    positive_key: np.ndarray
    negative_key: np.ndarray

    @classmethod
    def from_array(cls, labels: Any) -> PairLabels:
        """Decode an ``(n, 5)`` integer array or tensor (a batch's ``labels`` or the whole column)."""
        array = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
        if array.ndim != 2 or array.shape[1] != len(LABEL_FIELDS):
            raise ValueError(
                f"expected labels of shape (n, {len(LABEL_FIELDS)}) holding {LABEL_FIELDS}, got shape {array.shape}; "
                "build the training dataset with ParallelCorpus.to_dataset()"
            )
        return cls(*(array[:, k].astype(np.int64) for k in range(len(LABEL_FIELDS))))
