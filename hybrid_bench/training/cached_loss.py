"""The GradCache form of :class:`~hybrid_bench.training.loss.HybridInfoNCELoss`: batches larger than memory.

Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup" (GradCache), arXiv 2101.06983.
The three steps (embed every mini-batch without a graph; compute the loss on the whole batch and cache the gradients
of the embeddings; re-embed each mini-batch with a graph, replaying its dropout, and back-propagate the cached
gradient) are sentence-transformers' own ``CachedLossMixin`` (the machinery of
``CachedMultipleNegativesRankingLoss``); this class only supplies the loss on the whole batch, which is
:meth:`HybridInfoNCELoss.compute_loss_from_embeddings` unchanged - so the translation masks, the cross-device
gathering and the per-type (mono / cross) loss log behave exactly as in the uncached loss, and loss and gradients
are the same (up to float rounding). Peak activation memory is that of one mini-batch; each step embeds every text
twice (the first time without a graph), so a step costs about one extra forward pass.

Example::

    from hybrid_bench.training.cached_loss import CachedHybridInfoNCELoss

    loss = CachedHybridInfoNCELoss(model, mini_batch_size=32)   # then per_device_train_batch_size=256 fits
    trainer = SentenceTransformerTrainer(..., loss=loss, callbacks=[HybridLossCallback(loss)])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from sentence_transformers.base.losses.gradcache import CachedLossMixin, has_static_embedding_input
from sentence_transformers.sentence_transformer.model import SentenceTransformer
from sentence_transformers.util import cos_sim
from torch import Tensor

from hybrid_bench.training.loss import HybridInfoNCELoss

__all__ = ["CachedHybridInfoNCELoss"]


class CachedHybridInfoNCELoss(CachedLossMixin, HybridInfoNCELoss):
    def __init__(
        self,
        model: SentenceTransformer,
        mini_batch_size: int = 32,
        scale: float = 20.0,
        symmetric: bool = False,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mask_parallel: bool = True,
        gather_across_devices: bool = False,
        show_progress_bar: bool = False,
    ) -> None:
        """:class:`~hybrid_bench.training.loss.HybridInfoNCELoss` computed with a gradient cache.

        Args:
            model: The SentenceTransformer model.
            mini_batch_size: Texts embedded at once (bounds the activation memory; the batch size itself is the
                trainer's ``per_device_train_batch_size``). Does not change the loss or its gradients.
            scale: As in :class:`~hybrid_bench.training.loss.HybridInfoNCELoss`.
            symmetric: As there.
            similarity_fct: As there.
            mask_parallel: As there.
            gather_across_devices: As there (gathering happens on the whole batch's embeddings, in step 2).
            show_progress_bar: Show a bar over the mini-batches of each step.

        References:
            Gao et al., arXiv 2101.06983 (GradCache); sentence-transformers' ``CachedMultipleNegativesRankingLoss``.
        """
        super().__init__(model, scale=scale, symmetric=symmetric, similarity_fct=similarity_fct,
                         mask_parallel=mask_parallel, gather_across_devices=gather_across_devices)
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be at least 1, got {mini_batch_size}")
        if has_static_embedding_input(model):
            raise ValueError(f"{type(self).__name__} cannot split a StaticEmbedding model's inputs into mini-batches")
        self.mini_batch_size = int(mini_batch_size)
        self.show_progress_bar = bool(show_progress_bar)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        return self.forward_cached(sentence_features, labels)

    def calculate_loss(
        self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False
    ) -> Tensor:
        """The loss of the whole batch from its mini-batch embeddings (``CachedLossMixin``'s step 2)."""
        loss = self.compute_loss_from_embeddings([torch.cat(column) for column in reps], labels)
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "mini_batch_size": self.mini_batch_size}
