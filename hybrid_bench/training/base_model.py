"""The model a run starts from: loading it so that every checkpoint and the saved model load the same way again.

sentence-transformers reads a ``Transformer`` module's loading arguments (``model_kwargs``, ``processor_kwargs``,
``config_kwargs``) from its ``sentence_bert_config.json`` but never writes them back when it saves the module. A
base whose folder needs them - ``me5-small`` is a ``BertModel`` without its pooler, saved with
``model_kwargs = {"add_pooling_layer": false}`` - would lose them in every checkpoint and trained model: loading a
checkpoint then creates a randomly initialised pooler (``--resume`` fails on the unexpected ``pooler.*`` keys) and
every load of the trained model reports the pooler as missing. :func:`persist_loading_kwargs` makes a module save
them; :func:`load_base_model` applies it to every ``Transformer`` module of the loaded base.

Example::

    from hybrid_bench.training.base_model import load_base_model

    model = load_base_model("/path/to/me5-small")
    model.save("/tmp/copy")  # sentence_bert_config.json keeps "model_kwargs": {"add_pooling_layer": false}
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybrid_bench.errors import ModelNotFoundError

__all__ = [
    "LOADING_KWARGS",
    "PAPER_PROMPTS",
    "cap_max_seq_length",
    "column_prompts",
    "choose_device",
    "folder_or_hub_id",
    "freeze_word_embeddings",
    "load_base_model",
    "persist_loading_kwargs",
    "saved_loading_kwargs",
]

logger = logging.getLogger(__name__)

#: the keys of ``sentence_bert_config.json`` that sentence-transformers reads but does not save
LOADING_KWARGS = ("model_kwargs", "processor_kwargs", "config_kwargs")
# the older spellings sentence-transformers still reads (``Transformer._load_init_kwargs``)
_OLD_NAMES = {"model_args": "model_kwargs", "tokenizer_args": "processor_kwargs", "config_args": "config_kwargs"}

_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")

#: the paper's input prefixes (E5 style), given to a base model that defines no query / document prompts
PAPER_PROMPTS: dict[str, str] = {"query": "Query: ", "document": "Passage: "}


def persist_loading_kwargs(module: Any, kwargs: Mapping[str, Mapping[str, Any]]) -> None:
    """Make a sentence-transformers ``Transformer`` module write ``kwargs`` into every config it saves.

    Args:
        module: A ``sentence_transformers`` ``Transformer`` module.
        kwargs: ``{"model_kwargs": {...}, ...}``, keys from :data:`LOADING_KWARGS`.

    The keys are added to this instance's ``config_keys`` (what ``Module.get_config_dict`` serialises), so
    ``model.save`` - and hence every trainer checkpoint - keeps them, and loading the folder passes them on.
    """
    unknown = set(kwargs) - set(LOADING_KWARGS)
    if unknown:
        raise ValueError(f"not loading kwargs: {sorted(unknown)}; expected keys of {LOADING_KWARGS}")
    keys = list(module.config_keys)
    for key, value in kwargs.items():
        setattr(module, key, dict(value))
        if key not in keys:
            keys.append(key)
    module.config_keys = keys


def saved_loading_kwargs(folder: str | os.PathLike[str]) -> dict[int, dict[str, dict[str, Any]]]:
    """The loading kwargs stored for each ``Transformer`` module of a sentence-transformers folder.

    Returns:
        ``{module index: {"model_kwargs": {...}, ...}}`` for the modules that have any; ``{}`` for a folder
        without ``modules.json`` (a plain transformers checkpoint).
    """
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for index, entry in enumerate(modules):
        if not str(entry.get("type", "")).endswith(".Transformer"):
            continue
        config_file = folder / entry.get("path", "") / "sentence_bert_config.json"
        if not config_file.is_file():
            continue
        config = json.loads(config_file.read_text(encoding="utf-8"))
        kwargs = {_OLD_NAMES.get(key, key): value for key, value in config.items()
                  if _OLD_NAMES.get(key, key) in LOADING_KWARGS and value}
        if kwargs:
            found[index] = kwargs
    return found


def folder_or_hub_id(base: str | os.PathLike[str]) -> Path | str | None:
    """``base`` as a model folder (checked) or a Hugging Face repo id; ``None`` for anything else (e.g. a name).

    Raises:
        ModelNotFoundError: ``base`` is a folder but neither a sentence-transformers (``modules.json``) nor a
            transformers (``config.json``) one.

    Example:
        >>> folder_or_hub_id("sentence-transformers/LaBSE")
        'sentence-transformers/LaBSE'
    """
    folder = Path(base).expanduser()
    if folder.is_dir():
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ModelNotFoundError(
                f"{folder} is neither a sentence-transformers folder (modules.json) nor a transformers one (config.json)"
            )
        return folder
    if isinstance(base, str) and _HUB_ID.fullmatch(base):
        return base
    return None


def load_base_model(where: str | os.PathLike[str], *, device: str | None = None) -> Any:
    """The ``SentenceTransformer`` to fine-tune: a local folder, or a Hugging Face repo id (downloaded).

    The loading kwargs of a local folder's ``Transformer`` modules are kept for every later save
    (:func:`persist_loading_kwargs`). A plain transformers checkpoint such as XLM-R gets mean pooling. A hub id
    that cannot be loaded (offline, no access) is one :class:`ModelNotFoundError` saying how to fix it, not a
    traceback from ``huggingface_hub``.
    """
    from sentence_transformers import SentenceTransformer

    if isinstance(where, Path) or Path(where).is_dir():
        folder = Path(where)
        model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        for index, kwargs in saved_loading_kwargs(folder).items():
            persist_loading_kwargs(model[index], kwargs)
        cap_max_seq_length(model)
        return model
    try:
        model = SentenceTransformer(str(where), device=device)
    except (OSError, ValueError) as err:  # huggingface_hub's offline / not-found errors derive from these
        raise ModelNotFoundError(
            f"base model {where!r} could not be loaded from the Hugging Face hub ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no details'}). Without hub access, download it elsewhere "
            f"(`huggingface-cli download {where} --local-dir DIR`), copy DIR here and pass --base DIR"
        ) from err
    cap_max_seq_length(model)
    return model


def cap_max_seq_length(model: Any) -> int | None:
    """Lower ``model.max_seq_length`` to what its position embeddings hold; returns the limit (``None``: unknown).

    A folder in the hub layout of ``FacebookAI/xlm-roberta-base`` (no ``tokenizer_config.json``) loads with
    ``max_seq_length`` 514, its ``max_position_embeddings``; but XLM-R / RoBERTa number positions from
    ``padding_idx + 1``, so 512 tokens is the most they embed and a longer passage fails with an index error in
    the middle of an evaluation. The trainer saves the base's limit with the model, so the cap is applied here.
    """
    limit = None
    for module in model:
        embeddings = getattr(getattr(module, "auto_model", None), "embeddings", None)
        positions = getattr(embeddings, "position_embeddings", None)
        if positions is None:
            continue
        offset = embeddings.padding_idx + 1 if getattr(embeddings, "padding_idx", None) is not None else 0
        limit = positions.num_embeddings - offset
    if limit is not None and (model.max_seq_length is None or model.max_seq_length > limit):
        logger.info("max_seq_length %s exceeds the %d positions the model embeds; capped", model.max_seq_length, limit)
        model.max_seq_length = limit
    return limit


def choose_device(device: str = "auto") -> str:
    """``"auto"``: ``"cuda"`` if a CUDA GPU is there, else ``"mps"`` (Apple GPU), else ``"cpu"``; others unchanged."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def freeze_word_embeddings(model: Any) -> int:
    """Stop training the word-embedding matrix of every transformer module; returns the number of frozen weights.

    For me5-small that is 96M of 118M parameters: the optimizer then keeps no AdamW state for them and no step
    computes or applies their gradient.
    """
    frozen = 0
    for module in model:
        auto_model = getattr(module, "auto_model", None)
        if auto_model is None or not hasattr(auto_model, "get_input_embeddings"):
            continue
        weight = auto_model.get_input_embeddings().weight
        weight.requires_grad_(False)
        frozen += weight.numel()
    if not frozen:
        logger.warning("freeze_embeddings: the model has no transformer word embeddings to freeze")
    return frozen


def column_prompts(model: Any) -> dict[str, str]:
    """Training-column prompts from the model's own ``query`` / ``document`` prompts.

    A base without them (XLM-R, LaBSE from the hub) gets the paper's ``"Query: "`` / ``"Passage: "``, set on the
    model so that they are saved with it and mteb sends the same prefixes at evaluation.
    """
    prompts = getattr(model, "prompts", None) or {}
    query = prompts.get("query") or ""
    passage = prompts.get("document") or prompts.get("passage") or ""
    if not query and not passage:  # sentence-transformers 6 fills absent prompts with ""
        logger.info("the base model defines no 'query' / 'document' prompts; using the paper's %s", PAPER_PROMPTS)
        model.prompts = {**prompts, **PAPER_PROMPTS}
        query, passage = PAPER_PROMPTS["query"], PAPER_PROMPTS["document"]
    return {"anchor": query, "positive": passage, "negative": passage}
