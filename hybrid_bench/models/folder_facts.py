"""What a model folder itself says about the model: parameters, embedding size, token limit, pooling, prompts.

The model registry describes a stored model to mteb (``model_meta.json`` next to every result). Inheriting those
facts from mteb's registry entry for the *declared* base is wrong as soon as the folder is something else - a
trained LaBSE records LaBSE's 471M parameters and 768 dimensions, a 2-layer test stand-in the same. These facts are
read from the folder instead, cheaply (only JSON configs and safetensors headers, never the weights), because the
registry builds every stored model's metadata at each ``import mteb``.

Example::

    from hybrid_bench.models.folder_facts import folder_facts

    facts = folder_facts("~/.cache/hybrid_bench/models/me5-small")
    facts.embed_dim, facts.max_tokens, facts.pooling       # (384, 512, 'mean')
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FolderFacts", "folder_facts"]

#: pre-training heads saved with a hub checkpoint that sentence-transformers' ``AutoModel`` never loads
_UNUSED_PREFIXES = ("lm_head.", "cls.")
_MB = 1024**2


@dataclass(frozen=True)
class FolderFacts:
    """Facts about the model in one folder (``None``: the folder does not say).

    Attributes:
        n_parameters: the saved weights of every module, counted from the safetensors headers (pre-training heads
            such as XLM-R's ``lm_head``, which sentence-transformers never loads, excluded).
        n_embedding_parameters: size of the word-embedding matrix.
        memory_usage_mb: the float32 weights in MiB (mteb's own estimate, ``n_parameters * 4``).
        embed_dim: size of the sentence embedding: the last ``Dense`` layer's output, else the pooling dimension,
            else the transformer's hidden size.
        max_tokens: the token limit the model encodes with (capped at what its position embeddings hold).
        pooling: the pooling mode (``mean``, ``cls`` ...); ``mean`` for a plain transformers folder, which
            sentence-transformers mean-pools.
        prompts: the saved non-empty prompts (``{"query": ..., "document": ...}``).
    """

    n_parameters: int | None = None
    n_embedding_parameters: int | None = None
    memory_usage_mb: int | None = None
    embed_dim: int | None = None
    max_tokens: int | None = None
    pooling: str | None = None
    prompts: dict[str, str] = field(default_factory=dict)


def _json(path: Path) -> Any:  # noqa: ANN401 - parsed JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _count_parameters(folder: Path) -> tuple[int | None, int | None]:
    from safetensors import safe_open

    total, embedding, seen = 0, None, False
    for weights in sorted(folder.glob("model*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
                    if key.startswith(_UNUSED_PREFIXES):
                        continue
                    shape = handle.get_slice(key).get_shape()
                    count = 1
                    for size in shape:
                        count *= int(size)
                    total += count
                    seen = True
                    if key.endswith("word_embeddings.weight"):
                        embedding = count
        except Exception:  # noqa: BLE001 - a damaged file is reported by folder_check, not here
            return None, None
    return (total if seen else None), embedding


def _transformer_facts(folder: Path) -> dict[str, Any]:
    config = _json(folder / "config.json") or {}
    params, embedding = _count_parameters(folder)
    positions = config.get("max_position_embeddings")
    # XLM-R / RoBERTa number positions from padding_idx + 1 (hybrid_bench.training.base_model.cap_max_seq_length)
    offset = (config.get("pad_token_id") or 0) + 1 if "roberta" in str(config.get("model_type", "")) else 0
    limit = positions - offset if isinstance(positions, int) else None
    tokenizer = _json(folder / "tokenizer_config.json") or {}
    saved = (_json(folder / "sentence_bert_config.json") or {}).get("max_seq_length") or tokenizer.get("model_max_length")
    limits = [x for x in (saved, limit) if isinstance(x, int)]
    return {"n_parameters": params, "n_embedding_parameters": embedding, "embed_dim": config.get("hidden_size"),
            "max_tokens": min(limits) if limits else None}


def folder_facts(folder: str | os.PathLike[str]) -> FolderFacts | None:
    """The :class:`FolderFacts` of a sentence-transformers or plain transformers folder; ``None`` for neither."""
    folder = Path(folder).expanduser()
    modules = _json(folder / "modules.json")
    if not isinstance(modules, list):
        if not (folder / "config.json").is_file():
            return None
        facts = _transformer_facts(folder)
        return FolderFacts(**facts, memory_usage_mb=_memory(facts["n_parameters"]), pooling="mean")
    facts: dict[str, Any] = {"n_parameters": 0}
    pooling = None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        sub = folder / str(module.get("path", ""))
        if kind == "Transformer":
            found = _transformer_facts(sub)
            facts |= {k: v for k, v in found.items() if k != "n_parameters"}
            facts["n_parameters"] += found["n_parameters"] or 0
        elif kind == "Pooling":
            config = _json(sub / "config.json") or {}
            pooling = config.get("pooling_mode") or next(
                (k.removeprefix("pooling_mode_").removesuffix("_tokens") for k, v in config.items()
                 if k.startswith("pooling_mode_") and v is True), None)
            facts["embed_dim"] = config.get("embedding_dimension") or config.get("word_embedding_dimension") or \
                facts.get("embed_dim")
        elif kind == "Dense":
            facts["embed_dim"] = (_json(sub / "config.json") or {}).get("out_features", facts.get("embed_dim"))
            facts["n_parameters"] += _count_parameters(sub)[0] or 0
    st_config = _json(folder / "config_sentence_transformers.json") or {}
    prompts = {k: v for k, v in (st_config.get("prompts") or {}).items() if isinstance(v, str) and v}
    n_parameters = facts.pop("n_parameters") or None
    return FolderFacts(n_parameters=n_parameters, memory_usage_mb=_memory(n_parameters), pooling=pooling,
                       prompts=prompts, **facts)


def _memory(n_parameters: int | None) -> int | None:
    return round(n_parameters * 4 / _MB) if n_parameters else None
