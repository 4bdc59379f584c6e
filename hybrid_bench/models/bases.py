"""The base model of a training run, by name: what ``hybrid-bench train --base`` and the experiment accept.

The trainer (:mod:`hybrid_bench.training`, a lower layer) loads a base from a folder or a Hugging Face repo id;
names - ``me5-small`` (built on first use), trained models, ``models.toml`` entries - are resolved here, through the
model registry, by the caller, which passes the answer down as ``train_model(..., base_path=...)``.

Example::

    from hybrid_bench.models.bases import resolve_base
    from hybrid_bench.training.config import TrainConfig
    from hybrid_bench.training.trainer import train_model

    config = TrainConfig(base="me5-small", strategy="hybrid", steps=300)
    train_model(config, "hybrid-me5-small", base_path=resolve_base(config.base))
"""

from __future__ import annotations

from pathlib import Path

from hybrid_bench.errors import ModelNotFoundError
from hybrid_bench.models.registry import model_table, resolve_model
from hybrid_bench.paths import models_dir
from hybrid_bench.training.base_model import folder_or_hub_id

__all__ = ["resolve_base"]


def resolve_base(base: str) -> Path | str:
    """Where a training run loads its base ``base`` from (what ``hybrid-bench train --base`` accepts).

    A name in the model table (``me5-small``, built on first use; a trained model), a model-store folder name, a
    model folder, or a Hugging Face repo id (``"FacebookAI/xlm-roberta-base"``, returned unchanged for
    :func:`~hybrid_bench.training.base_model.load_base_model` to download). Cheap (no model is loaded), so a wrong
    ``--base`` fails before data and model are read.

    Raises:
        ModelNotFoundError: none of these.

    Example:
        >>> resolve_base("sentence-transformers/LaBSE")
        'sentence-transformers/LaBSE'
    """
    table = model_table()
    if base in table:
        return resolve_model(table[base])
    stored = models_dir() / base
    if "/" not in base and (stored / "modules.json").is_file():
        return stored
    where = folder_or_hub_id(base)
    if where is not None:
        return where
    raise ModelNotFoundError(
        f"base model {base!r} not found: use a name from `hybrid-bench models list` (e.g. me5-small), a name in the "
        f"model store ({models_dir()}), a sentence-transformers folder or a Hugging Face repo id such as "
        "FacebookAI/xlm-roberta-base"
    )
