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


class CountingEncoder:
    """Deterministic hash embeddings (8 dims) that counts the texts it is sent; an mteb EncoderProtocol."""

    def __init__(self, revision: str = "r1") -> None:
        self.mteb_model_meta = fake_meta("test/counting", embed_dim=8, revision=revision)
        self.texts_encoded = 0
        self.largest_call = 0  # the most texts sent in one encode call

    def encode(self, inputs, **kwargs):  # noqa: ANN001, ANN003, ANN201 -- mteb's encode protocol
        import hashlib

        import numpy as np

        out = []
        for batch in inputs:
            for text in batch["text"]:
                self.texts_encoded += 1
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
                out.append(np.random.default_rng(seed).normal(size=8))
        self.largest_call = max(self.largest_call, len(out))
        return np.asarray(out, dtype=np.float32)

    def similarity(self, a, b):  # noqa: ANN001, ANN201
        raise NotImplementedError

    def similarity_pairwise(self, a, b):  # noqa: ANN001, ANN201
        raise NotImplementedError


class HashEncoder:
    """Deterministic hash embeddings (16 dims) with mteb's own similarity functions, an mteb EncoderProtocol that
    mteb's stock retrieval search can run: identical texts embed identically, other texts (almost surely) never tie.
    Counts the texts it is sent."""

    def __init__(self) -> None:
        self.mteb_model_meta = fake_meta("test/hash", embed_dim=16)
        self.texts_encoded = 0

    def encode(self, inputs, **kwargs):  # noqa: ANN001, ANN003, ANN201 -- mteb's encode protocol
        import hashlib

        import numpy as np

        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for b in inputs for t in b["text"]]
        self.texts_encoded += len(seeds)
        return np.asarray([np.random.default_rng(s).normal(size=16) for s in seeds], dtype=np.float32)

    def similarity(self, a, b):  # noqa: ANN001, ANN201
        from mteb.similarity_functions import cos_sim

        return cos_sim(a, b)

    def similarity_pairwise(self, a, b):  # noqa: ANN001, ANN201
        from mteb.similarity_functions import pairwise_cos_sim

        return pairwise_cos_sim(a, b)
