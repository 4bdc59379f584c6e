"""Helpers for hand-made mteb encoders in tests."""

from __future__ import annotations

from mteb.models.model_meta import ModelMeta


def fake_meta(name: str, *, embed_dim: int | None = None, revision: str = "r1") -> ModelMeta:
    """A minimal cosine-similarity :class:`ModelMeta` for a test encoder that is never loaded from a hub."""
    return ModelMeta(
        loader=None, name=name, revision=revision, release_date=None, languages=None, n_parameters=None,
        memory_usage_mb=None, max_tokens=None, embed_dim=embed_dim, license=None, open_weights=True,
        public_training_code=None, public_training_data=None, framework=["NumPy"],
        similarity_fn_name="cosine", use_instructions=False, training_datasets=None,
    )
