"""Models by name: ``me5-small``, ``{mono,cross,hybrid}-me5-small``, ``{mono,cross,hybrid}-{xlmr,labse}`` and yours.

The names live in a declarative table, ``hybrid_bench/models/models.toml`` (read it: its header documents every
key), extended or overridden by ``$HYBRID_BENCH_HOME/models.toml``; :mod:`hybrid_bench.models.table` reads them
(its names are re-exported here). Each name becomes an mteb :class:`~mteb.models.ModelMeta` called
``hybrid-bench/<name>`` whose loader is :func:`load_model`, so
``mteb.get_model("hybrid-bench/hybrid-xlmr")`` - and, through :mod:`hybrid_bench.mteb_plugin`,
``mteb run -m hybrid-xlmr`` - work like any model in mteb's own registry.

A name resolves, in order, to the local model store (``$HYBRID_BENCH_HOME/models/<name>``, written by
``hybrid-bench train --out <name>``), the entry's ``builder`` (``me5-small`` is built offline on first use), the
entry's ``hf_repo``, and otherwise a :class:`~hybrid_bench.errors.ModelNotFoundError` that prints the
``hybrid-bench train`` command that would create the model.

Metadata mteb cares about comes from the stored folder, the table and mteb's own entry for the base model. What
the weights decide - parameter count, embedding size, token limit, saved prompts - is read from the folder when the
model is in the store (:mod:`hybrid_bench.models.folder_facts`), never copied from the declared base; languages and
licence come from the base's mteb entry, their scripts corrected (:mod:`hybrid_bench.models.language_scripts`).
``adapted_from`` is the base the model was actually trained from (its training record; the table's ``base`` for
a model not trained yet), so mteb's zero-shot flags see the base's training data *and* the entry's
``training_datasets`` (the trained models saw the XQuAD-R training articles, so they are not zero-shot on
``XQuADRRetrieval``); ``revision`` is the entry's ``revision`` or, for a local folder, a content hash that mteb
uses as the results sub-folder, so results of two different trainings never mix.

Example::

    from hybrid_bench.models.registry import get_entry, model_meta

    get_entry("hybrid-xlmr").train_command()
    # 'hybrid-bench train --base FacebookAI/xlm-roberta-base --strategy hybrid --alpha 0.5 --out hybrid-xlmr'
    meta = model_meta("me5-small")
    meta.name, meta.adapted_from, meta.embed_dim      # ('hybrid-bench/me5-small', 'intfloat/multilingual-e5-small', 384)
    model = meta.load_model(device="cpu")             # an mteb encoder, prompts "query: " / "passage: "
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.errors import DataError, ModelNotFoundError
from hybrid_bench.models.folder_check import check_model_folder
from hybrid_bench.models.folder_facts import folder_facts
from hybrid_bench.models.language_scripts import correct_scripts
from hybrid_bench.models.revision import local_revision
from hybrid_bench.models.table import MODEL_ORG, ModelEntry, get_entry, model_table, user_table_file
from hybrid_bench.training.base_model import PAPER_PROMPTS
from hybrid_bench.training.records import read_training_record

if TYPE_CHECKING:
    from mteb.models import ModelMeta
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

__all__ = [
    "MODEL_ORG",
    "ModelEntry",
    "get_entry",
    "load_model",
    "local_revision",
    "model_meta",
    "model_metas",
    "model_table",
    "resolve_model",
    "user_table_file",
]

logger = logging.getLogger(__name__)

# Metadata copied from the base model's ModelMeta unless the stored folder or the entry sets it.
_INHERITED = (
    "languages", "license", "embed_dim", "max_tokens", "n_parameters", "n_embedding_parameters", "memory_usage_mb",
)  # fmt: skip
# ... of which the stored folder's own weights and configs decide these
_MEASURED = ("embed_dim", "max_tokens", "n_parameters", "n_embedding_parameters", "memory_usage_mb")


def _is_model_folder(path: Path) -> bool:
    return (path / "modules.json").is_file() or (path / "config.json").is_file()


def _call_builder(entry: ModelEntry) -> Path:
    module_name, _, func_name = (entry.builder or "").partition(":")
    try:
        builder: Callable[..., Path] = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as err:
        raise DataError(f"builder {entry.builder!r} cannot be imported ({err}); expected 'module:function'",
                        file=entry.source, item=entry.name) from None
    return Path(builder())


def resolve_model(name: str | ModelEntry) -> Path | str:
    """Where ``name``'s weights come from: a local folder (store or builder) or a Hugging Face repo id.

    Raises:
        ModelNotFoundError: not in the store, no builder and no ``hf_repo``; the message names the
            ``hybrid-bench train`` command that creates the model.
    """
    entry = name if isinstance(name, ModelEntry) else get_entry(name)
    if _is_model_folder(entry.store_path):
        return check_model_folder(entry.store_path)  # a broken folder: one line naming the file, not a traceback
    if entry.builder:
        return _call_builder(entry)
    if entry.hf_repo:
        return entry.hf_repo
    how = f"create it with `{entry.train_command()}`" if entry.strategy else "put a sentence-transformers folder there"
    raise ModelNotFoundError(
        f"model {entry.name!r} is not in the local model store ({entry.store_path} does not exist) and no Hugging "
        f"Face repo is configured for it: {how}, or set hf_repo under [models.{entry.name}] in {user_table_file()}."
    )


def _revision(entry: ModelEntry) -> str | None:
    if entry.revision:
        return entry.revision
    if _is_model_folder(entry.store_path):
        return local_revision(entry.store_path)
    return None


def _mteb_meta(name: str) -> ModelMeta | None:
    import mteb

    try:
        return mteb.get_model_meta(name, fetch_from_hf=False)
    except (KeyError, ValueError):
        logger.debug("%s is not in mteb's registry; its metadata stays unknown", name)
        return None


def _base_meta(base: str, table: dict[str, ModelEntry], seen: tuple[str, ...]) -> ModelMeta | None:
    if base in table:
        return _build_meta(table[base], table, seen)
    return _mteb_meta(base)


def _actual_base(entry: ModelEntry, folder: Path | None) -> str:
    """The base a stored model was trained from (its training record), else the entry's declared base."""
    record = read_training_record(folder) if folder is not None else None
    base = str(record["base"]) if record and record.get("base") else entry.base
    where = Path(base).expanduser()
    return str(where.resolve()) if where.is_absolute() or where.is_dir() else base


def _own_facts(folder: Path | None) -> dict[str, Any]:
    """ModelMeta fields the stored folder itself decides (:mod:`hybrid_bench.models.folder_facts`)."""
    facts = folder_facts(folder) if folder is not None else None
    if facts is None:
        return {}
    own = {key: getattr(facts, key) for key in _MEASURED if getattr(facts, key) is not None}
    if facts.prompts:
        # mteb's convention (its own entries' loader_kwargs): recorded in model_meta.json, passed back to the loader
        own["loader_kwargs"] = {"model_prompts": {k: v for k, v in facts.prompts.items() if k != "passage"}}
    return own


def _build_meta(entry: ModelEntry, table: dict[str, ModelEntry], seen: tuple[str, ...] = ()) -> ModelMeta:
    from mteb.models import ModelMeta

    if entry.name in seen:
        raise DataError(f"`base` entries form a cycle: {' -> '.join((*seen, entry.name))}", file=entry.source,
                        item=entry.name)
    folder = entry.store_path if _is_model_folder(entry.store_path) else None
    actual = _actual_base(entry, folder)
    # a base given as a folder has no registry entry: what only a registry knows (languages, licence) is then the
    # declared base's; what the weights decide is always read from the folder
    base = _base_meta(actual, table, (*seen, entry.name))
    if base is None and actual != entry.base:
        base = _base_meta(entry.base, table, (*seen, entry.name))
    inherited = {key: getattr(base, key) for key in _INHERITED} if base is not None else {}
    if inherited.get("languages"):
        inherited["languages"] = correct_scripts(inherited["languages"])
    over = dict(entry.overrides)
    over.pop("description", None)  # for people reading the table; ModelMeta has no such field
    adapted_from = table[actual].full_name if actual in table else actual
    fields: dict[str, Any] = {key: None for key in _INHERITED} | inherited | _own_facts(folder) | over
    return ModelMeta(
        loader=load_model,
        name=entry.full_name,
        revision=_revision(entry),
        release_date=fields.pop("release_date", None),
        open_weights=True,
        public_training_code=None,
        public_training_data=None,
        framework=["Sentence Transformers", "PyTorch"],
        similarity_fn_name="cosine",
        use_instructions=True,  # E5-style "query: " / "passage: " prefixes count as instructions in mteb
        training_datasets=set(entry.training_datasets),
        adapted_from=adapted_from,
        reference=fields.pop("reference", None) or (f"https://huggingface.co/{entry.hf_repo}" if entry.hf_repo else None),
        **fields,
    )


def model_meta(name: str) -> ModelMeta:
    """The mteb :class:`~mteb.models.ModelMeta` for ``name`` (short or ``hybrid-bench/`` name)."""
    return _build_meta(get_entry(name), model_table())


def model_metas() -> list[ModelMeta]:
    """ModelMeta for every name in the table, in table order (what :mod:`hybrid_bench.mteb_plugin` registers)."""
    table = model_table()
    return [_build_meta(entry, table) for entry in table.values()]


def _folder_prompts(folder: Path) -> dict[str, str]:
    try:
        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in (config.get("prompts") or {}).items() if v}


def fallback_prompts(entry: ModelEntry, table: dict[str, ModelEntry] | None = None,
                     seen: tuple[str, ...] = ()) -> dict[str, str] | None:
    """The prompts ``entry``'s model gets when its folder or repo saves none of its own.

    One convention, owned where it is applied: the entry's ``prompts``; else those of its base in the table (the
    base's saved folder - me5-small's E5 ``"query: "`` / ``"passage: "``, :data:`hybrid_bench.models.me5_small.PROMPTS`
    - or the base entry's own fallback), which ``hybrid-bench train`` kept; else, for a trained model of a base
    without prompts (XLM-R, LaBSE), the paper's ``"Query: "`` / ``"Passage: "`` that the trainer gave it
    (:data:`hybrid_bench.training.base_model.PAPER_PROMPTS`); else none.
    """
    if entry.prompts:
        return entry.prompts
    table = model_table() if table is None else table
    base = table.get(entry.base)
    if base is not None and base.name not in seen:
        saved = _folder_prompts(base.store_path)
        if {"query", "document"} <= set(saved):
            return saved
        inherited = fallback_prompts(base, table, (*seen, entry.name))
        if inherited:
            return inherited
    return dict(PAPER_PROMPTS) if entry.strategy else None


def folder_model_meta(name: str, folder: str | os.PathLike[str]) -> ModelMeta:
    """ModelMeta for a sentence-transformers folder outside the table (e.g. a base model given as a folder):
    ``hybrid-bench/<name>``, the folder's content hash as revision, the folder's own facts (parameters,
    embedding size, token limit, prompts), nothing inherited, no loader (the caller loads the folder itself)."""
    folder = Path(folder)
    entry = ModelEntry(name=name, base=str(folder), source=str(folder), revision=local_revision(folder))
    meta = _build_meta(entry, model_table())
    return meta.model_copy(update={"loader": None, "adapted_from": None, **_own_facts(folder)})


def load_model(
    model_name: str, revision: str | None = None, device: str | None = None, **kwargs: Any
) -> SentenceTransformerEncoderWrapper:
    """mteb loader for a table name: resolve it (see :func:`resolve_model`) and wrap it for mteb.

    mteb calls this as ``loader(meta.name, revision=meta.revision, **loader_kwargs)``. A local folder is loaded
    as saved, its own prompts included (the trainer saves the prompts it trained with); the entry's ``prompts``
    fill in only when the folder or repo has none. ``revision`` is passed on only for Hugging Face repos: for a
    local folder it is the content hash, not something to check out. A revision suffix such as
    ``+openvino-bfloat16`` selects the inference backend and dtype (:mod:`hybrid_bench.models.inference`).

    Raises:
        ModelNotFoundError: the name resolves nowhere, or its Hugging Face repo cannot be loaded (e.g. offline).
    """
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    from hybrid_bench.models.inference import load_sentence_transformer, split_revision

    entry = get_entry(model_name)
    # the record of the folder's own saved prompts in ModelMeta.loader_kwargs (_own_facts): the folder stays the owner
    kwargs.pop("model_prompts", None)
    revision, choice = split_revision(revision)
    location = resolve_model(entry)
    key = (entry.full_name, revision)
    if isinstance(location, Path):
        has_prompts = {"query", "document"} <= set(_folder_prompts(location))
        logger.info("loading %s from %s (%s)", entry.full_name, location, choice.label)
        model = load_sentence_transformer(location, choice, cache_key=key, device=device, **kwargs)
        if has_prompts and model.prompts.get("passage") == model.prompts.get("document"):
            # the E5 folders save "passage" as an alias of "document"; mteb knows no such prompt key and would warn
            del model.prompts["passage"]
        return SentenceTransformerEncoderWrapper(model, model_prompts=None if has_prompts else fallback_prompts(entry))
    logger.info("loading %s from the Hugging Face repo %s (%s)", entry.full_name, location, choice.label)
    try:
        model = load_sentence_transformer(location, choice, cache_key=key, device=device, revision=revision, **kwargs)
    except OSError as err:
        raise ModelNotFoundError(
            f"model {entry.name!r}: the configured Hugging Face repo {location} could not be loaded ({err}). "
            f"Check the repo id and your connection, or create the model locally with `{entry.train_command()}`."
        ) from None
    return SentenceTransformerEncoderWrapper(model, model_prompts=fallback_prompts(entry))
