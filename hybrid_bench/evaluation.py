"""Running models on tasks through mteb: load tasks and models by name, cap the encoding length, and say where the
per-query files of a model go.

Shared by ``hybrid-bench eval``, the reproduction experiment (:mod:`hybrid_bench.experiment`) and the benchmarks.
Everything resolves through mteb's registries after hybrid-bench's tasks, models and mirrors are registered
(:func:`hybrid_bench.mteb_plugin.register`), so a name means the same here as in ``mteb run``.

Example::

    import mteb
    from hybrid_bench.evaluation import load_model, load_tasks, prediction_folder

    tasks = load_tasks(["XQuADRHeldOutRetrieval"], ["deu", "eng"], None)
    model = load_model("me5-small", max_seq_length=128)
    mteb.evaluate(model, tasks, prediction_folder=prediction_folder(Path("results"), model))
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.errors import HybridBenchError, ModelNotFoundError

if TYPE_CHECKING:
    from hybrid_bench.models.inference import Inference

__all__ = ["cap_max_seq_length", "effective_max_seq_length", "encode_plan", "load_model", "load_tasks", "planned_texts",
           "prediction_folder", "resolve_inference"]


def load_tasks(names: Sequence[str], languages: Sequence[str] | None, hf_subsets: Sequence[str] | None, *,
               data_dir: str | os.PathLike[str] | None = None, miracl_source: str | os.PathLike[str] | None = None,
               allow_modified_data: bool = False) -> list[Any]:
    """mteb tasks by name (ours are registered first), filtered to the requested languages / settings.

    Args:
        names: mteb task names.
        languages: ISO 639-3 codes; keeps the subsets that involve any of them.
        hf_subsets: keep only these subsets.
        data_dir: the LAReQA tasks' data folder (their ``data_dir``; ``None``: their default).
        miracl_source: the cross-lingual MIRACL task's folder (its ``source``; ``None``: its default).
        allow_modified_data: the LAReQA tasks accept data that fails its pinned checksum, filed under its own hash
            (see :class:`hybrid_bench.tasks.lareqa.XQuADRRetrieval`).
    """
    import mteb

    from hybrid_bench.mteb_plugin import register

    register()
    given = {"data_dir": data_dir, "source": miracl_source, "allow_modified_data": allow_modified_data or None}
    tasks = []
    for name in names:
        try:
            task = mteb.get_task(name)
        except (KeyError, ValueError) as err:
            raise HybridBenchError(f"unknown task {name!r}: {err}") from None
        accepted = inspect.signature(type(task)).parameters
        kwargs = {key: value for key, value in given.items() if value is not None and key in accepted}
        if kwargs:
            task = type(task)(**kwargs)  # the same task reading the given data
        if languages or hf_subsets:
            try:
                task = task.filter_languages(
                    list(languages) if languages else None, hf_subsets=list(hf_subsets) if hf_subsets else None)
            except ValueError as err:
                raise HybridBenchError(f"{name}: {err}") from None
        tasks.append(task)
    return tasks


def load_model(name: str, *, max_seq_length: int | None = None, inference: Inference | None = None,
               meta: Any = None) -> Any:  # noqa: ANN401 -- mteb's ModelMeta
    """An mteb model by name or folder (:func:`_load_model`), whose encoded batches advance the progress bar of
    :func:`hybrid_bench.display.encode_bar` and a run's cost projection (:func:`hybrid_bench.display.track_encoder`)."""
    from hybrid_bench.display import track_encoder

    return track_encoder(_load_model(name, max_seq_length=max_seq_length, inference=inference, meta=meta))


def _load_model(name: str, *, max_seq_length: int | None = None, inference: Inference | None = None,
                meta: Any = None) -> Any:  # noqa: ANN401 -- mteb's ModelMeta
    """An mteb model by hybrid-bench / mteb name (resolved through the hybrid-bench registry), or a local
    sentence-transformers folder (filed under its path with its content hash as revision, so results of changed
    weights are never reused; ``meta``: under this :class:`~mteb.models.ModelMeta` instead, e.g. the experiment's
    base given as a folder, :func:`~hybrid_bench.models.registry.folder_model_meta`).

    ``max_seq_length`` lowers the model's token limit for encoding (never raises it). ``inference`` (a concrete
    backend and dtype, see :func:`resolve_inference`) is recorded in the model's revision, which is how mteb's
    loader receives it; it applies to hybrid-bench's model table (torch float32, the default, to any model).

    Raises:
        ModelNotFoundError: a broken folder, or a name that is nowhere (offline: without asking the hub).
    """
    import mteb

    from hybrid_bench.models.registry import MODEL_ORG
    from hybrid_bench.mteb_plugin import register

    register()
    folder = Path(name).expanduser()
    if folder.is_dir():
        from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

        from hybrid_bench.models.folder_check import check_model_folder
        from hybrid_bench.models.inference import REFERENCE, load_sentence_transformer
        from hybrid_bench.models.registry import local_revision

        location = check_model_folder(folder).resolve()
        choice = inference or REFERENCE
        if meta is None:
            identity = (str(location), local_revision(folder))
        else:
            identity = (meta.name, meta.revision)
        model = load_sentence_transformer(location, choice, cache_key=identity)
        encoder = SentenceTransformerEncoderWrapper(model)
        encoder.mteb_model_meta = (meta or encoder.mteb_model_meta).model_copy(
            update={"name": identity[0], "revision": choice.revision(identity[1]) or identity[1]})
        return cap_max_seq_length(encoder, max_seq_length)
    check_model_name(name)
    if inference is None or inference.is_reference:
        try:
            return cap_max_seq_length(mteb.get_model(name), max_seq_length)
        except (OSError, ValueError) as err:  # huggingface_hub's not-found / offline errors derive from these
            raise ModelNotFoundError(f"model {name!r} could not be loaded ({type(err).__name__}: "
                                     f"{str(err).splitlines()[0] if str(err) else 'no details'})") from None
    meta = mteb.get_model_meta(name)
    if not (meta.name or "").startswith(f"{MODEL_ORG}/"):
        raise HybridBenchError(f"--backend/--dtype other than torch float32 apply to hybrid-bench's models "
                               f"(`hybrid-bench models list`), not to {name!r}")
    meta = meta.model_copy(update={"revision": inference.revision(meta.revision)})
    return cap_max_seq_length(meta.load_model(), max_seq_length)


def check_model_name(name: str) -> None:
    """Fail fast, in one line, on a model name that is neither registered nor a folder while offline (instead of
    ``huggingface_hub``'s ``OfflineModeIsEnabled`` traceback); online, mteb may still find it on the hub."""
    from huggingface_hub import is_offline_mode
    from mteb.models.get_model_meta import _MODEL_RENAMES, MODEL_REGISTRY

    if name not in MODEL_REGISTRY and name not in _MODEL_RENAMES and is_offline_mode():
        raise ModelNotFoundError(
            f"unknown model {name!r}: not a hybrid-bench or mteb model name and not a folder, and the Hugging Face "
            "hub is not asked while offline (HF_HUB_OFFLINE=1); see `hybrid-bench models list`")


def resolve_inference(name: str, backend: str = "auto", dtype: str = "auto", *, device: str | None = None) -> Inference:
    """The concrete :class:`~hybrid_bench.models.inference.Inference` for a requested backend / dtype on model
    ``name`` (a model-table name or a sentence-transformers folder): ``auto`` takes the fastest choice this machine
    supports that passes the fidelity gate on this model (measured once per model revision, see
    :func:`hybrid_bench.models.inference.model_gate`)."""
    from hybrid_bench.models.inference import load_sentence_transformer, model_gate, resolve
    from hybrid_bench.models.registry import MODEL_ORG

    if backend != "auto" and dtype != "auto":
        return resolve(backend, dtype, device=device)
    folder = Path(name).expanduser()
    if folder.is_dir():
        from hybrid_bench.models.folder_check import check_model_folder
        from hybrid_bench.models.registry import local_revision

        check_model_folder(folder)
        key = (str(folder.resolve()), local_revision(folder))
        gate = model_gate(lambda c: load_sentence_transformer(folder, c, cache_key=key, device=device),
                          name=key[0], revision=key[1])
    else:
        import mteb

        from hybrid_bench.mteb_plugin import register

        register()
        check_model_name(name)
        meta = mteb.get_model_meta(name)
        if not (meta.name or "").startswith(f"{MODEL_ORG}/"):  # mteb's own loaders take no backend / dtype
            return resolve(backend if backend != "auto" else "torch", dtype if dtype != "auto" else "float32")
        gate = model_gate(lambda choice: load_model(name, inference=choice).model, name=meta.name or name,
                          revision=meta.revision)
    return resolve(backend, dtype, device=device, gate=gate)


def cap_max_seq_length(encoder: Any, max_seq_length: int | None) -> Any:
    """Lower a wrapped sentence-transformers model's token limit to ``max_seq_length`` (never raise it)."""
    model = getattr(encoder, "model", None)
    if max_seq_length is not None and getattr(model, "max_seq_length", None):
        model.max_seq_length = min(int(model.max_seq_length), max_seq_length)
    return encoder


def effective_max_seq_length(encoder: Any, requested: int | None) -> int | None:
    """The token cap that ``requested`` really imposes on ``encoder`` (before :func:`cap_max_seq_length`): ``None``
    when it is absent or not below the model's own limit (``--max-seq-length 512`` on a 512-token model is the
    default, and its results are the default's)."""
    own = getattr(getattr(encoder, "model", None), "max_seq_length", None)
    if requested is None or (own and requested >= int(own)):
        return None
    return requested


def prediction_folder(output: Path, model: Any) -> Path:
    """``<output>/predictions/<model>__<revision>``: mteb's ``prediction_folder`` of ``model`` under a results
    root, where the leaderboard looks for per-query files (:func:`hybrid_bench.result_store.prediction_folder`)."""
    from hybrid_bench.result_store import prediction_folder as folder_of

    meta = model.mteb_model_meta
    return folder_of(output, meta.name, meta.revision)


def encode_plan(task: Any) -> tuple[list[Any], int]:  # noqa: ANN401 -- an mteb task
    """What evaluating ``task`` embeds: (its :data:`~hybrid_bench.tasks.encoding.EncodePlan` of cached texts, the
    count of texts encoded outside any cache). Loads the task's data (mteb reuses it).

    hybrid-bench's tasks declare their plan (``task.encode_plan()``); a stock mteb retrieval task encodes each
    selected subset's queries and corpus, the corpus through the embedding cache where it is shared
    (:data:`~hybrid_bench.tasks.shared_embeddings.STOCK_EMBEDDING_GROUPS`), else once per subset.
    """
    from mteb.types import PromptType

    from hybrid_bench.tasks.shared_embeddings import STOCK_EMBEDDING_GROUPS

    if hasattr(task, "encode_plan"):
        return list(task.encode_plan()), 0
    task.load_data()
    group = STOCK_EMBEDDING_GROUPS.get(task.metadata.name)
    plan, uncached = [], 0
    subsets = set(getattr(task, "hf_subsets", None) or task.dataset)
    for subset, splits in (task.dataset or {}).items():
        if subset not in subsets:
            continue
        for split, data in splits.items():
            if split not in task.eval_splits or not isinstance(data, dict):
                continue
            corpus, queries = data.get("corpus"), data.get("queries")
            uncached += len(queries) if queries is not None else 0
            if corpus is None:
                continue
            if group is None:
                uncached += len(corpus)
            else:
                titles = corpus["title"] if "title" in corpus.column_names else None
                plan.append((group, PromptType.document, corpus["text"], titles))
    return plan, uncached


def planned_texts(tasks: Sequence[Any], model: Any = None) -> int:  # noqa: ANN401
    """How many texts evaluating ``model`` on ``tasks`` will encode (texts its embedding cache holds left out;
    every distinct text without a ``model``): the total of the progress bar and of cost projections."""
    from hybrid_bench.tasks.encoding import texts_to_encode

    plan, uncached = [], 0
    for task in tasks:
        cached, other = encode_plan(task)
        plan += cached
        uncached += other
    return texts_to_encode(plan, model) + uncached
