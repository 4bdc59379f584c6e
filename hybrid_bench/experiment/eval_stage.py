"""The experiment's evaluation stage: the preset's tasks (cut to its languages and samples) and models, run through
``mteb.evaluate`` into an MTEB results folder with per-query files, skipping results the ledger already holds.

Example::

    from hybrid_bench.experiment import PRESETS, build_task

    task = build_task("XQuADRHeldOutRetrieval", PRESETS["quick"], miracl_folder=None)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_path
from hybrid_bench.machine import machine_facts
from hybrid_bench.experiment.ledger import Ledger, settings_hash, stage_key
from hybrid_bench.experiment.plan import ModelSpec
from hybrid_bench.experiment.presets import LAREQA_TASKS, MIRACL_TRAIN_TOPICS, Preset

if TYPE_CHECKING:
    from hybrid_bench.models.inference import Inference

__all__ = ["RAW_PREDICTIONS_DIR", "Evaluator", "build_task", "load_encoder", "model_identity", "mteb_name",
           "task_qrels"]

#: where mteb's ranked lists go once scored per query (under the output folder; never committed)
RAW_PREDICTIONS_DIR = "raw-predictions"

logger = logging.getLogger(__name__)


# ---- models ------------------------------------------------------------------------------------------------------

def _base_folder_meta(spec: ModelSpec, base: str) -> Any:  # noqa: ANN401 -- mteb's ModelMeta
    """The ModelMeta of ``spec`` when it is a base given as a folder (filed as ``hybrid-bench/<label>`` with the
    folder's own facts, :func:`~hybrid_bench.models.registry.folder_model_meta`); ``None`` for every model the
    model table names (the trained ones too: ``hybrid-bench train`` puts them in the store)."""
    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.registry import folder_model_meta

    folder = Path(base).expanduser()
    if not (spec.is_base and folder.is_dir()):
        return None
    if not (folder / "modules.json").is_file():
        raise ModelNotFoundError(f"{folder} is not a sentence-transformers model folder (no modules.json)")
    return folder_model_meta(spec.name, folder)


def load_encoder(spec: ModelSpec, base: str, *, max_seq_length: int | None,
                 inference: Inference | None = None) -> Any:
    """An mteb encoder for ``spec``, through :func:`hybrid_bench.evaluation.load_model`: a base given as a
    sentence-transformers folder is loaded from there under its experiment name; every other model by name through
    the model table. ``inference`` (backend and dtype) is recorded in the revision
    (:meth:`hybrid_bench.models.inference.Inference.revision`)."""
    from hybrid_bench.evaluation import load_model

    meta = _base_folder_meta(spec, base)
    return load_model(str(Path(base).expanduser()) if meta is not None else spec.name,
                      max_seq_length=max_seq_length, inference=inference, meta=meta)


def model_identity(spec: ModelSpec, base: str, inference: Inference | None = None) -> tuple[str, str] | None:
    """(mteb name, revision) that :func:`load_encoder` gives ``spec``, without loading it; ``None`` when the model
    is not here (a trained model missing from the store). Used to skip finished evaluations without a model load."""
    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.inference import REFERENCE
    from hybrid_bench.models.registry import model_meta

    try:
        meta = _base_folder_meta(spec, base) or model_meta(spec.name)
    except ModelNotFoundError:
        return None
    choice = inference or REFERENCE
    return (meta.name, choice.revision(meta.revision) or meta.revision) if meta.revision else None


def mteb_name(name: str) -> str:
    """The mteb name of a model of the experiment (``hybrid-bench/<name>``), also when it is not here."""
    from hybrid_bench.models.registry import MODEL_ORG

    return f"{MODEL_ORG}/{name}"


# ---- tasks -------------------------------------------------------------------------------------------------------

def _miracl_codes(languages: Sequence[str]) -> list[str]:
    """mteb's ISO 639-3 codes of MIRACL languages given by their MIRACL (ISO 639-1) codes."""
    from hybrid_bench.data.miracl import MIRACL_LANGSCRIPTS

    unknown = [lang for lang in languages if lang not in MIRACL_LANGSCRIPTS]
    if unknown:
        raise DataError(f"MIRACL has no language(s) {unknown}; it has {list(MIRACL_LANGSCRIPTS)}")
    return [MIRACL_LANGSCRIPTS[lang][0].partition("-")[0] for lang in languages]


def build_task(name: str, preset: Preset, miracl_folder: Path | None,
               miracl_languages: Sequence[str] | None = None, *, data_dir: str | os.PathLike[str] | None = None,
               train_topics_folder: Path | None = None) -> Any:
    """One evaluation task, cut to the preset's languages and samples, reading its data from ``data_dir``
    (LAReQA) or ``miracl_folder`` (MIRACL; ``None``: as the task is configured).

    ``miracl_languages``: the MIRACL languages to evaluate when the preset names none (all), e.g. those the mirror
    holds; ``None`` = all of the task's. ``train_topics_folder``: the (sampled) MIRACL train-topic folder of
    :data:`~hybrid_bench.experiment.presets.MIRACL_TRAIN_TOPICS`; it is evaluated on the languages it holds.
    """
    from hybrid_bench.evaluation import load_tasks

    if name in LAREQA_TASKS:
        from hybrid_bench.tasks.lareqa import LAREQA_TASKS as LAREQA_CLASSES
        from hybrid_bench.tasks.lareqa import lareqa_subsets

        dataset = next(cls.lareqa_name for cls in LAREQA_CLASSES if cls.metadata.name == name)
        subsets = lareqa_subsets(dataset, preset.languages) if preset.languages else None
        (task,) = load_tasks([name], None, subsets, data_dir=data_dir)
        if preset.languages or preset.max_queries or preset.max_candidates:
            task.set_sample(languages=preset.languages, max_queries=preset.max_queries,
                            max_candidates=preset.max_candidates, seed=preset.seed)
        return task
    if name == MIRACL_TRAIN_TOPICS:
        from hybrid_bench.data.miracl import available_languages
        from hybrid_bench.data.mirrors import Mirror, use_mirror
        from hybrid_bench.tasks.miracl_train_topics import REPO

        (task,) = load_tasks([name], None, None)
        if train_topics_folder is not None:
            held = available_languages(train_topics_folder)
            chosen = [lang for lang in (preset.languages or held) if lang in held]
            task = task.filter_languages(_miracl_codes(chosen))
            use_mirror(task, Mirror(REPO, train_topics_folder.resolve()))
        return task
    chosen = preset.languages or miracl_languages
    (task,) = load_tasks([name], _miracl_codes(chosen) if chosen else None, None, miracl_source=miracl_folder)
    if miracl_folder is not None:
        from hybrid_bench.data.miracl import MIRACL_REPO
        from hybrid_bench.data.mirrors import Mirror, use_mirror

        # point this instance at the (sampled) mirror from the start: mteb records the mirror's revision with the
        # results, and a rerun compares it before loading anything. The cross-lingual task (it takes the folder as
        # its `source`) checks its "<lang>-<pool>" subsets against the folder itself.
        use_mirror(task, Mirror(MIRACL_REPO, miracl_folder.resolve()), check_subsets=not hasattr(task, "source"))
    return task


def task_qrels(task: Any) -> dict[str, dict[str, Any]]:
    """``{subset: {split: qrels}}`` of a retrieval task, loaded on demand (to score mteb prediction files)."""
    from hybrid_bench.leaderboard.per_query import loaded_qrels

    task.load_data()
    return loaded_qrels(task)


# ---- the stage ---------------------------------------------------------------------------------------------------

class Evaluator:
    """Runs the preset's evaluations into ``out`` (MTEB results + per-query files), one model × task at a time.

    Each task's data is loaded (and sampled) once for all models; mteb keeps preloaded data. A result is skipped
    when the ledger records it under the same model revision, task and :meth:`Preset.eval_settings` and mteb's
    result file is still there.
    """

    def __init__(self, preset: Preset, out: Path, ledger: Ledger, *, batch_size: int, miracl_folder: Path | None,
                 miracl_languages: Sequence[str] | None, data_dir: str | os.PathLike[str] | None = None,
                 train_topics_folder: Path | None = None) -> None:
        from hybrid_bench.result_store import ResultStore, result_settings

        self.preset, self.out, self.ledger, self.batch_size = preset, out, ledger, batch_size
        self.miracl_folder, self.miracl_languages, self.data_dir = miracl_folder, miracl_languages, data_dir
        self.train_topics_folder = train_topics_folder
        self.cache = ResultStore(out, settings=result_settings(max_seq_length=preset.eval_max_seq_length))
        self.settings = preset.eval_settings()
        self.settings_id = settings_hash(self.settings)
        self._tasks: dict[str, Any] = {}
        self._metadata_tasks: dict[str, Any] = {}
        self._qrels: dict[str, Any] = {}

    def task(self, name: str) -> Any:
        """The task ``name`` as this run evaluates it, loaded once."""
        if name not in self._tasks:
            self._tasks[name] = self._build(name)
            self._tasks[name].load_data()
        return self._tasks[name]

    def _unloaded(self, name: str) -> Any:
        """The task ``name`` as this run builds it, without its data (for its metadata: the dataset revision)."""
        if name not in self._metadata_tasks:
            self._metadata_tasks[name] = self._tasks.get(name) or self._build(name)
        return self._metadata_tasks[name]

    def qrels(self, name: str, _subsets: Any = None) -> dict[str, dict[str, Any]]:
        """Qrels of task ``name`` on this run's data (a fresh instance: scoring must not depend on loaded state)."""
        return task_qrels(self._build(name))

    def _build(self, name: str) -> Any:
        """A fresh instance of task ``name`` on this run's data (:func:`build_task`)."""
        return build_task(name, self.preset, self.miracl_folder, self.miracl_languages, data_dir=self.data_dir,
                          train_topics_folder=self.train_topics_folder)

    def recorded(self, name: str, revision: str, task_name: str) -> dict[str, Any] | None:
        """The ledger's record of model ``name`` at ``revision`` on ``task_name`` when it may be reused: recorded for
        this run's settings, its result file still there and of this run's data; else ``None``. Needs no model."""
        from mteb.models import ModelMeta

        key = stage_key("eval", name, revision, task_name, self.settings_id)
        result_file = Path(self.cache.get_task_result_path(task_name, name, revision))
        # a damaged (truncated) result is set aside; one of other data (e.g. a changed mirror) is recomputed
        meta = ModelMeta.create_empty({"name": name, "revision": revision})
        stale = self.cache.stale_reason(self._unloaded(task_name), meta, check_settings=False)  # key has them
        return self.ledger.info(key) if self.ledger.done(key) and result_file.is_file() and stale is None else None

    def run(self, encoder: Any, task_name: str) -> tuple[bool, float | None]:
        """Evaluate ``encoder`` on ``task_name`` unless done; returns (ran, wall time of the earlier run if not).

        Holds the model x revision x task lock of :meth:`hybrid_bench.result_store.ResultStore.task_unit` while it
        computes, so two processes never compute (or write) the same result."""
        from hybrid_bench.evaluation import prediction_folder

        t0 = time.perf_counter()
        meta = encoder.mteb_model_meta
        earlier = self.recorded(meta.name, meta.revision, task_name)
        if earlier is not None:
            return False, earlier.get("wall_s")
        predictions = prediction_folder(self.out, encoder)
        # the lock `hybrid-bench eval` takes: one process computes a model x revision x task; a second one waits,
        # then finds the first one's result in the ledger (re-read from disk) and skips it. overwrite: results of other
        # settings in this folder are replaced, never mixed with these (see _compute)
        with self.cache.task_unit(self._unloaded(task_name), meta, prediction_folder=predictions, overwrite=True):
            self.ledger.refresh()
            earlier = self.recorded(meta.name, meta.revision, task_name)
            if earlier is not None:
                return False, earlier.get("wall_s")
            self._compute(encoder, task_name, predictions)
            key = stage_key("eval", meta.name, meta.revision, task_name, self.settings_id)
            self.ledger.mark(key, model=meta.name, revision=meta.revision, task=task_name, settings=self.settings,
                             wall_s=round(time.perf_counter() - t0, 1), machine=machine_facts())  # before unlocking
        return True, None

    def _compute(self, encoder: Any, task_name: str, predictions: Path) -> None:
        """Run mteb on ``task_name`` into the results folder, then score its ranked lists per query."""
        import mteb

        from hybrid_bench.tasks.shared_embeddings import share_embeddings

        meta = encoder.mteb_model_meta
        result_file = Path(self.cache.get_task_result_path(task_name, meta.name, meta.revision))
        self._drop_unfinished(predictions, task_name)
        # stock MIRACLRetrieval's passages are those of the cross-lingual variant: encoded once for both
        mteb.evaluate(
            share_embeddings(encoder, task_name), [self.task(task_name)], cache=self.cache,
            prediction_folder=predictions,
            # results of other settings in this folder are replaced, never mixed with these
            overwrite_strategy="always" if result_file.exists() else "only-missing",
            encode_kwargs={"batch_size": self.batch_size, "show_progress_bar": False}, show_progress_bar=False,
        )
        self._score_predictions(predictions, task_name)

    @staticmethod
    def _drop_unfinished(folder: Path, task_name: str) -> None:
        """Remove mteb's ranked lists left by an interrupted run of this stage (the stage recomputes every subset).

        mteb rewrites ``<Task>_predictions.json`` in place after each subset (``AbsTask._save_task_predictions``),
        so a run killed mid-stage leaves a partial - possibly truncated - file that mteb would read back and fail
        on, or merge into the new run. A finished stage never leaves one (:meth:`_score_predictions` moves it)."""
        from hybrid_bench.leaderboard.per_query import PREDICTIONS_SUFFIX

        leftover = folder / f"{task_name}{PREDICTIONS_SUFFIX}"
        if leftover.is_file():
            logger.warning("%s: ranked lists of an interrupted run; removing them and recomputing %s",
                           leftover, task_name)
            leftover.unlink()

    def _score_predictions(self, folder: Path, task_name: str) -> None:
        """Replace mteb's ranked lists ``<Task>_predictions.json`` (megabytes for MIRACL's whole pool) by the
        per-query scores the leaderboard reads (``<Task>_per_query.parquet``, kilobytes) and the top-100 TREC runs
        (``<Task>_top100/``, :mod:`hybrid_bench.tasks.trec_run`), so that a results folder can be committed between
        sessions and re-scored by anyone; the full ranked lists move to ``<out>/raw-predictions/`` (not
        committed)."""
        from hybrid_bench.leaderboard.per_query import PREDICTIONS_SUFFIX, per_query_from_predictions
        from hybrid_bench.tasks.predictions import PER_QUERY_SUFFIX
        from hybrid_bench.tasks.trec_run import runs_from_predictions

        ranked = folder / f"{task_name}{PREDICTIONS_SUFFIX}"
        if not ranked.is_file():
            return
        if task_name not in self._qrels:
            self._qrels[task_name] = self.qrels(task_name)
        frame = per_query_from_predictions(ranked, self._qrels[task_name])
        with atomic_path(folder / f"{task_name}{PER_QUERY_SUFFIX}", overwrite=True) as tmp:
            frame.to_parquet(tmp, index=False, compression="zstd")
        # the top 100 of every query as TREC runs (kilobytes per language), for re-scoring with any evaluator
        runs_from_predictions(ranked, folder)
        raw = self.out / RAW_PREDICTIONS_DIR / folder.name / ranked.name
        raw.parent.mkdir(parents=True, exist_ok=True)
        os.replace(ranked, raw)
