"""InfoNCE with in-batch negatives that never counts a parallel translation of the positive as a negative.

Reference: Elmahdy, Lin, Ahmad, "Synergistic Approach for Simultaneous Optimization of Monolingual, Cross-lingual,
and Multilingual Information Retrieval", arXiv 2408.10536 (contrastive loss over (query, positive, negative)
triplets with in-batch negatives), and van den Oord et al. 2018 (InfoNCE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import torch
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.sentence_transformer.model import SentenceTransformer
from sentence_transformers.util import all_gather, all_gather_with_grad, cos_sim, get_rank, similarity_fct_name
from torch import Tensor, nn

from hybrid_bench.training.labels import LABEL_FIELDS

__all__ = ["HybridInfoNCELoss"]

logger = logging.getLogger(__name__)

_ITEM, _QLANG, _PLANG, _POS, _NEG = range(len(LABEL_FIELDS))
BATCH_KINDS = ("mono", "cross", "mixed")


def _distributed() -> bool:
    """Whether a process group is up: one process has nothing to gather (and sentence-transformers warns if asked)."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class HybridInfoNCELoss(nn.Module):
    def __init__(
        self,
        model: SentenceTransformer,
        scale: float = 20.0,
        symmetric: bool = False,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mask_parallel: bool = True,
        gather_across_devices: bool = False,
    ) -> None:
        """InfoNCE over (anchor, positive[, negative]) with in-batch negatives, masking parallel duplicates.

        For every query (anchor) the positive must score higher than every other passage of the batch: the other
        rows' positives and all hard negatives. With a dataset from
        :meth:`~hybrid_bench.training.parallel_data.ParallelCorpus.to_dataset`, each batch also carries its
        ``label`` tensor (item, languages, passage identities) and the loss drops from the softmax denominator
        every passage that is not a true negative for that query:

        * another row's positive of the **same item** (a translation of the query's own positive; a batch from
          sentence-transformers' ``NoDuplicatesBatchSampler`` can hold one item in two languages);
        * any positive or hard negative that **is the query's own positive** (same language and text, e.g. two
          XQuAD-R questions about one sentence).

        :class:`~hybrid_bench.training.sampler.HybridBatchSampler` already keeps such items apart, so with it the
        masks are a safety net; conflicts the batch cannot reveal (an item sharing the answer in a language absent
        from the batch) are only prevented by that sampler. Without labels, or with ``mask_parallel=False``, the
        loss equals ``MultipleNegativesRankingLoss`` (``symmetric=False``) or ``MultipleNegativesRankingLoss(
        directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction")`` (``symmetric=True``).

        The loss also keeps the mean loss of monolingual and cross-lingual batches (a batch whose rows are all
        X-X, or all X≠Y) since the last :meth:`pop_batch_type_losses`; add
        :class:`~hybrid_bench.training.callbacks.HybridLossCallback` to the trainer to log them as ``loss_mono``
        and ``loss_cross``.

        Args:
            model: The SentenceTransformer model.
            scale: Multiplies the similarities (``scale = 1 / temperature``; 20 is temperature 0.05).
            symmetric: Also add the passage → query direction (each positive must find its query among the
                batch's queries); the two directions are averaged.
            similarity_fct: Similarity of two embedding matrices (default cosine).
            mask_parallel: Apply the masks above when labels are present.
            gather_across_devices: In multi-process training (``torchrun``, ``accelerate launch``), score each
                rank's queries against the passages of *every* rank: embeddings are gathered with their gradient
                (sentence-transformers' ``util.all_gather_with_grad``) and the labels with them, so the masks
                also hold across ranks (a translation of the query's positive on another rank is never a
                negative). With DDP's gradient averaging, loss and gradients equal one process's on the
                concatenated global batch. Every rank must use the same per-device batch size. Without an
                initialised process group it changes nothing.

        References:
            - Elmahdy et al., arXiv 2408.10536 (hybrid batching); Roy et al., LAReQA, arXiv 2004.05484.
            - van den Oord et al., "Representation Learning with Contrastive Predictive Coding", arXiv 1807.03748.

        Requirements:
            1. (anchor, positive) pairs or (anchor, positive, negative) triplets, plus the ``label`` column of
               :data:`~hybrid_bench.training.labels.LABEL_FIELDS` for the masks.

        Inputs:
            +---------------------------------------+---------------------------------------------+
            | Texts                                 | Labels                                      |
            +=======================================+=============================================+
            | (anchor, positive) pairs              | none, or (item, langs, passage keys) per row |
            +---------------------------------------+---------------------------------------------+
            | (anchor, positive, negative) triplets | none, or (item, langs, passage keys) per row |
            +---------------------------------------+---------------------------------------------+

        Example:
            ::

                from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
                from sentence_transformers import SentenceTransformerTrainingArguments
                from hybrid_bench.training.callbacks import HybridLossCallback
                from hybrid_bench.training.loss import HybridInfoNCELoss
                from hybrid_bench.training.parallel_data import load_parallel_data
                from hybrid_bench.training.sampler import HybridBatchSampler

                model = SentenceTransformer("intfloat/multilingual-e5-small")
                train_dataset = load_parallel_data("xquad-r-train").to_dataset()
                loss = HybridInfoNCELoss(model, scale=20.0)
                args = SentenceTransformerTrainingArguments(
                    output_dir="checkpoints/hybrid", max_steps=300, per_device_train_batch_size=32,
                    batch_sampler=HybridBatchSampler.factory(alpha=0.5),
                    prompts={"anchor": "query: ", "positive": "passage: "},
                )
                trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset,
                                                     loss=loss, callbacks=[HybridLossCallback(loss)])
                trainer.train()
        """
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be positive (it is 1 / temperature), got {scale!r}")
        self.model = model
        self.scale = float(scale)
        self.symmetric = bool(symmetric)
        self.similarity_fct = similarity_fct
        self.mask_parallel = bool(mask_parallel)
        self.gather_across_devices = bool(gather_across_devices)
        self._sums: dict[str, Tensor] = {}
        #: (kind, language index of a monolingual batch) of the last training batch (see BatchLogCallback)
        self.last_batch: tuple[str, int | None] | None = None
        self._counts: dict[str, int] = {}

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        embeddings = embed_columns(self.model, sentence_features)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss of one batch from its column embeddings (anchor, positive, optional negatives)."""
        if len(embeddings) < 2:
            raise ValueError(f"expected at least 2 text columns (anchor, positive), got {len(embeddings)}")
        queries, docs = embeddings[0], embeddings[1:]
        batch_size = queries.size(0)
        labels = self._check_labels(labels, batch_size, len(docs))
        masked = labels is not None and self.mask_parallel
        all_queries, all_docs, all_labels, offset = queries, docs, labels, 0
        if self.gather_across_devices and _distributed():
            # this rank's queries against every rank's passages; gradients flow back to the owning rank
            all_queries = all_gather_with_grad(queries)
            all_docs = [all_gather_with_grad(doc) for doc in docs]
            all_labels = all_gather(labels) if labels is not None else None
            offset = get_rank() * batch_size  # 0 without a process group
        rows = torch.arange(batch_size, device=queries.device)

        # (batch, world batch * columns): column block c holds the c-th passage column of every row of every rank
        q2d = self.similarity_fct(queries, torch.cat(all_docs, dim=0)) * self.scale
        if masked:
            q2d = q2d.masked_fill(self._query_to_doc_mask(labels, all_labels, offset, len(docs)), -torch.inf)
        positive_scores = q2d[rows, rows + offset]
        log_z = torch.logsumexp(q2d, dim=1)
        if self.symmetric:
            # each of this rank's positives against the queries of every rank
            d2q = self.similarity_fct(docs[0], all_queries) * self.scale
            if masked:
                d2q = d2q.masked_fill(self._same_positive(labels, all_labels, offset), -torch.inf)
            log_z = (log_z + torch.logsumexp(d2q, dim=1)) / 2
        loss = -(positive_scores - log_z).mean()
        self._record(loss, labels)
        return loss

    def _check_labels(self, labels: Tensor | None, batch_size: int, n_doc_columns: int) -> Tensor | None:
        if labels is None:
            return None
        if labels.dim() != 2 or labels.shape != (batch_size, len(LABEL_FIELDS)):
            raise ValueError(
                f"HybridInfoNCELoss expects labels of shape (batch, {len(LABEL_FIELDS)}) holding {LABEL_FIELDS} "
                f"(the 'label' column of ParallelCorpus.to_dataset()), got shape {tuple(labels.shape)}; drop the "
                "dataset's label column to train without masks"
            )
        if n_doc_columns > 2 and self.mask_parallel:
            raise ValueError(
                f"labels describe one hard negative per row, but the batch has {n_doc_columns - 1} negative columns; "
                "keep one 'negative' column (ParallelCorpus.to_dataset()) or pass mask_parallel=False"
            )
        return labels

    @staticmethod
    def _same_positive(labels: Tensor, all_labels: Tensor, offset: int = 0) -> Tensor:
        """(batch, world batch): True where row j's positive is not a negative for query i (j ≠ i).

        ``labels`` are this rank's rows, ``all_labels`` every rank's (the same tensor in one process); row i is
        row ``offset + i`` of ``all_labels``.
        """
        item, key = labels[:, _ITEM], labels[:, _POS]
        clash = (item[:, None] == all_labels[None, :, _ITEM]) | (key[:, None] == all_labels[None, :, _POS])
        own = torch.arange(len(labels), device=labels.device)[:, None] + offset
        return clash & (torch.arange(len(all_labels), device=labels.device)[None, :] != own)

    def _query_to_doc_mask(self, labels: Tensor, all_labels: Tensor, offset: int, n_doc_columns: int) -> Tensor:
        blocks = [self._same_positive(labels, all_labels, offset)]
        if n_doc_columns == 2:
            # a hard negative is masked only when it is the query's own positive passage
            blocks.append(all_labels[None, :, _NEG] == labels[:, None, _POS])
        return torch.cat(blocks, dim=1)

    # ------------------------------------------------------------------ per batch type bookkeeping

    @staticmethod
    def batch_kind(labels: Tensor | None) -> str:
        """``"mono"`` (all rows X-X), ``"cross"`` (all rows X≠Y) or ``"mixed"`` (either, or no labels)."""
        if labels is None:
            return "mixed"
        same = labels[:, _QLANG] == labels[:, _PLANG]
        if bool(same.all()):
            return "mono"
        if not bool(same.any()):
            return "cross"
        return "mixed"

    def _record(self, loss: Tensor, labels: Tensor | None) -> None:
        if not getattr(self.model, "training", False):
            return  # evaluation losses are reported by the trainer itself
        kind = self.batch_kind(labels)
        mono_language = int(labels[0, _QLANG]) if kind == "mono" and labels is not None else None
        self.last_batch = (kind, mono_language)
        # a detached tensor: no device synchronisation per step; pop_batch_type_losses reads it once per log
        value = loss.detach().float()
        self._sums[kind] = self._sums[kind] + value if kind in self._sums else value
        self._counts[kind] = self._counts.get(kind, 0) + 1

    def pop_batch_type_losses(self) -> dict[str, float]:
        """Mean training loss per batch kind since the last call, and the number of batches of each kind.

        Returns e.g. ``{"loss_mono": 1.93, "loss_cross": 2.41, "batches_mono": 4, "batches_cross": 6}``; kinds
        without batches are left out. The running sums are reset.
        """
        out: dict[str, float] = {}
        for kind in BATCH_KINDS:
            if self._counts.get(kind):
                out[f"loss_{kind}"] = round(float(self._sums[kind]) / self._counts[kind], 4)
                out[f"batches_{kind}"] = self._counts[kind]
        self._sums.clear()
        self._counts.clear()
        return out

    # ------------------------------------------------------------------ sentence-transformers conventions

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "symmetric": self.symmetric,
            "similarity_fct": similarity_fct_name(self.similarity_fct),
            "mask_parallel": self.mask_parallel,
            "gather_across_devices": self.gather_across_devices,
        }

    @property
    def temperature(self) -> float:
        return 1.0 / self.scale

    @property
    def citation(self) -> str:
        return """
@misc{elmahdy2024synergistic,
      title={Synergistic Approach for Simultaneous Optimization of Monolingual, Cross-lingual, and Multilingual Information Retrieval},
      author={Adel Elmahdy and Sheng-Chieh Lin and Amin Ahmad},
      year={2024},
      eprint={2408.10536},
      archivePrefix={arXiv},
      primaryClass={cs.IR},
      url={https://arxiv.org/abs/2408.10536},
}
"""
