"""Encode-once for *stock* mteb retrieval tasks: document encodes go through hybrid-bench's embedding cache.

mteb's stock retrieval loop (``SearchEncoderWrapper``) encodes a task's corpus with ``model.encode`` and keeps
nothing. hybrid-bench's MIRACL cross-lingual variant encodes the very same MIRACL passages through
:func:`~hybrid_bench.tasks.encoding.embed` (cache group :data:`~hybrid_bench.tasks.miracl.EMBEDDING_GROUP`), so an
experiment that runs stock ``MIRACLRetrieval`` and the variant on one model used to encode every passage twice -
and MIRACL passages dominate evaluation time. :func:`share_embeddings` wraps the model given to a stock task named
in :data:`STOCK_EMBEDDING_GROUPS` in a :class:`SharedDocumentEncoder`: its *document* encodes are looked up in, and
added to, the model's cache (this process and the persistent store), under the group of the hybrid-bench task that
feeds the model identical inputs. Everything else is mteb's own: the corpus chunking, the similarity, the top-k,
pytrec_eval; queries are encoded exactly as mteb does, uncached. The cached rows are the model's own output for
the same input text, prompt and token limit, so the scores are those of the unwrapped model (a test compares).

Example::

    from hybrid_bench.tasks.shared_embeddings import share_embeddings

    encoder = share_embeddings(encoder, "MIRACLRetrieval")   # other task names: the encoder itself
"""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset
from mteb.types import PromptType

from hybrid_bench.tasks.encoding import embed, texts_dataset
from hybrid_bench.tasks.miracl import EMBEDDING_GROUP as MIRACL_GROUP

__all__ = ["STOCK_EMBEDDING_GROUPS", "SharedDocumentEncoder", "share_embeddings"]

#: stock mteb tasks whose documents a hybrid-bench task also encodes, with that task's cache group. mteb prepares a
#: corpus row as ``title + " " + text`` in both (``mteb._create_dataloaders``) and the model's prompt is chosen
#: from the prompt type (``passage: `` for me5-small), so the inputs are identical.
STOCK_EMBEDDING_GROUPS: dict[str, str] = {"MIRACLRetrieval": MIRACL_GROUP, "MIRACLMonolingualRetrieval": MIRACL_GROUP,
                                          # the train topics' passages are the dev mirror's (same ids and texts)
                                          "MIRACLTrainTopicsRetrieval": MIRACL_GROUP}


class SharedDocumentEncoder:
    """An mteb encoder that forwards to ``encoder``, except that document encodes go through its embedding cache.

    Args:
        encoder: an mteb encoder (``EncoderProtocol``), e.g. a ``SentenceTransformerEncoderWrapper``.
        group: the cache group whose inputs are identical to this task's (see :data:`STOCK_EMBEDDING_GROUPS`).
    """

    def __init__(self, encoder: Any, *, group: str) -> None:  # noqa: ANN401 -- any mteb encoder
        self.encoder, self.group = encoder, group

    @property
    def mteb_model_meta(self) -> Any:  # noqa: ANN401 -- mteb's ModelMeta
        return self.encoder.mteb_model_meta

    def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str,  # noqa: ANN401
               prompt_type: PromptType | None = None, **kwargs: Any) -> Any:
        """Documents: from the cache, encoding (and caching) only the rows it lacks; anything else: ``encoder``'s."""
        rows = getattr(inputs, "dataset", None)
        if prompt_type != PromptType.document or not isinstance(rows, Dataset) or "body" not in rows.column_names:
            return self.encoder.encode(inputs, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset,
                                       prompt_type=prompt_type, **kwargs)
        # mteb's prepared corpus rows keep the original text as "body" and the title (when there is one) as "title"
        titles = [t or "" for t in rows["title"]] if "title" in rows.column_names else None
        raw = texts_dataset(rows["id"], rows["body"], titles)
        # mteb holds the rows of its corpus chunk in memory anyway: read them out of the (possibly stored) cache
        return np.asarray(embed(self.encoder, raw, group=self.group, prompt_type=PromptType.document,
                                task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset,
                                encode_kwargs=kwargs))

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:  # noqa: ANN401
        return self.encoder.similarity(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:  # noqa: ANN401
        return self.encoder.similarity_pairwise(embeddings1, embeddings2)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 -- everything else is the wrapped encoder's
        if name == "encoder":  # not set yet (copy / unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.encoder, name)


def share_embeddings(encoder: Any, task_name: str) -> Any:  # noqa: ANN401
    """``encoder`` wrapped for stock task ``task_name`` when that task shares documents with a hybrid-bench task
    (:data:`STOCK_EMBEDDING_GROUPS`), else ``encoder`` itself."""
    group = STOCK_EMBEDDING_GROUPS.get(task_name)
    return encoder if group is None else SharedDocumentEncoder(encoder, group=group)
