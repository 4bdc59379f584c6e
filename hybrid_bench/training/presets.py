"""Named sets of training settings for ``hybrid-bench train --preset``: one place for the paper's recipe.

``paper`` is the recipe of Elmahdy et al. (arXiv 2408.10536) for ``hybrid-xlmr`` / ``hybrid-labse``: AdamW with
learning rate 3e-5 and weight decay 0.01, batch 100, the whole model trained (no frozen embeddings), base
XLM-R base (``--base sentence-transformers/LaBSE`` for the LaBSE variant). Its data are mMARCO's parallel
triples (:func:`hybrid_bench.training.mmarco.convert_mmarco` writes them as a parallel ``.jsonl``) plus any
parallel QA file in the same format; concatenate the files (distinct ids) and pass the result as ``--data``.
An option given on the command line wins over the preset.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

__all__ = ["TRAINING_PRESETS"]

TRAINING_PRESETS: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType({
    "paper": MappingProxyType({
        "base": "FacebookAI/xlm-roberta-base",
        "learning_rate": 3e-5,
        "weight_decay": 0.01,
        "batch_size": 100,
        "freeze_embeddings": False,
    }),
})
