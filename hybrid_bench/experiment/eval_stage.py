"""The experiment's evaluation stage: the preset's tasks (cut to its languages and samples) and models, run through
``mteb.evaluate`` into an MTEB results folder with per-query files, skipping results the ledger already holds.

Example::

    from hybrid_bench.experiment import PRESETS, build_task

    task = build_task("XQuADRHeldOutRetrieval", PRESETS["quick"], miracl_folder=None)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.errors import DataError
from hybrid_bench.experiment.ledger import Ledger, settings_hash, stage_key
from hybrid_bench.experiment.plan import ModelSpec, base_label
from hybrid_bench.experiment.presets import LAREQA_TASKS, Preset

if TYPE_CHECKING:
    from hybrid_bench.models.inference import Inference

__all__ = ["ISO3", "LAREQA_LANGS", "Evaluator", "build_task", "load_encoder", "task_qrels"]

#: ISO 639-1 (data and training) → ISO 639-3 (mteb task subsets)
ISO3: dict[str, str] = {
    "ar": "ara", "bn": "ben", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "fa": "fas", "fi": "fin",
    "fr": "fra", "hi": "hin", "id": "ind", "ja": "jpn", "ko": "kor", "ru": "rus", "sw": "swa", "te": "tel",
    "th": "tha", "tr": "tur", "vi": "vie", "yo": "yor", "zh": "zho",
}  # fmt: skip
#: LAReQA languages of each dataset (ISO 639-1), to keep only subsets a dataset has
LAREQA_LANGS = {
    "XQuADRHeldOutRetrieval": ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"),
    "MLQARRetrieval": ("ar", "de", "en", "es", "hi", "vi", "zh"),
}


# ---- models ------------------------------------------------------------------------------------------------------

def load_encoder(spec: ModelSpec, base: str, *, max_seq_length: int | None,
                 inference: Inference | None = None) -> Any:
    """An mteb encoder for ``spec``: through the model table when it names the model, else the store / base folder.

    A model outside the table (a folder base, or a trained model of a folder base) gets a derived ModelMeta named
    ``hybrid-bench/<name>`` with the folder's content hash as revision. ``inference`` (backend and dtype) is
    recorded in the revision (:meth:`hybrid_bench.models.inference.Inference.revision`).
    """
    from hybrid_bench import paths
    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.evaluation import cap_max_seq_length, load_model
    from hybrid_bench.models.registry import get_entry, local_revision

    folder = Path(base).expanduser() if spec.is_base else paths.models_dir() / spec.name
    try:
        get_entry(spec.name)
        in_table = not (spec.is_base and folder.is_dir())
    except ModelNotFoundError:
        in_table = False
    if in_table:
        encoder = load_model(spec.name, inference=inference)
    else:
        from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

        from hybrid_bench.models.inference import REFERENCE, load_sentence_transformer

        if not (folder / "modules.json").is_file():
            raise ModelNotFoundError(f"{folder} is not a sentence-transformers model folder (no modules.json)")
        choice, revision = inference or REFERENCE, local_revision(folder)
        encoder = SentenceTransformerEncoderWrapper(
            load_sentence_transformer(folder, choice, cache_key=(_full_name(spec.name), revision)))
        encoder.mteb_model_meta = _derived_meta(spec, base, folder, choice.revision(revision) or revision)
    return cap_max_seq_length(encoder, max_seq_length)


def _full_name(name: str) -> str:
    from hybrid_bench.models.registry import MODEL_ORG

    return f"{MODEL_ORG}/{name}"


def _derived_meta(spec: ModelSpec, base: str, folder: Path, revision: str) -> Any:
    from mteb.models import ModelMeta

    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.registry import model_meta

    template = None
    for candidate in ([f"{spec.strategy}-{base_label(base)}", base] if not spec.is_base else [base]):
        try:
            template = model_meta(candidate)
            break
        except (ModelNotFoundError, DataError):
            continue
    training = {"XQuADRRetrieval"} if not spec.is_base else set()
    if template is None:
        return ModelMeta.create_empty({"name": _full_name(spec.name), "revision": revision,
                                       "training_datasets": training or None,
                                       "adapted_from": None if spec.is_base else base})
    return template.model_copy(update={
        "name": _full_name(spec.name), "revision": revision, "loader": None,
        "training_datasets": (set(template.training_datasets or ()) | training) or None,
    })


# ---- tasks -------------------------------------------------------------------------------------------------------

def _lareqa_subsets(task: str, languages: Sequence[str] | None) -> list[str] | None:
    if languages is None:
        return None
    langs = [lang for lang in LAREQA_LANGS[task] if lang in languages]
    if not langs:
        raise DataError(f"{task} has none of the languages {list(languages)}; it has {list(LAREQA_LANGS[task])}")
    codes = [ISO3[lang] for lang in langs]
    return [f"{q}-{c}" for q in codes for c in codes] + [f"{q}-pool" for q in codes]


def build_task(name: str, preset: Preset, miracl_folder: Path | None,
               miracl_languages: Sequence[str] | None = None) -> Any:
    """One evaluation task, cut to the preset's languages and samples.

    ``miracl_languages``: the MIRACL languages to evaluate when the preset names none (all), e.g. those the mirror
    holds; ``None`` = all of the task's.
    """
    from hybrid_bench.evaluation import load_tasks

    if name in LAREQA_TASKS:
        (task,) = load_tasks([name], None, _lareqa_subsets(name, preset.languages))
        if preset.languages or preset.max_queries or preset.max_candidates:
            task.set_sample(languages=preset.languages, max_queries=preset.max_queries,
                            max_candidates=preset.max_candidates, seed=preset.seed)
        return task
    chosen = preset.languages or miracl_languages
    languages = [ISO3[lang] for lang in chosen] if chosen else None
    (task,) = load_tasks([name], languages, None)
    if miracl_folder is not None:
        from hybrid_bench.data.mirrors import mirror_revision

        # point this instance at the (sampled) mirror; mteb records the mirror's revision with the results
        dataset = {**task.metadata.dataset, "path": str(miracl_folder.resolve()),
                   "revision": mirror_revision(miracl_folder)}
        task.metadata = task.metadata.model_copy(update={"dataset": dataset})
    return task


def task_qrels(task: Any) -> dict[str, dict[str, Any]]:
    """``{subset: {split: qrels}}`` of a loaded-on-demand retrieval task (to score mteb prediction files)."""
    task.load_data()
    return {subset: {split: data["relevant_docs"] for split, data in by_split.items()}
            for subset, by_split in task.dataset.items()}


# ---- the stage ---------------------------------------------------------------------------------------------------

class Evaluator:
    """Runs the preset's evaluations into ``out`` (MTEB results + per-query files), one model × task at a time.

    Each task's data is loaded (and sampled) once for all models; mteb keeps preloaded data. A result is skipped
    when the ledger records it under the same model revision, task and :meth:`Preset.eval_settings` and mteb's
    result file is still there.
    """

    def __init__(self, preset: Preset, out: Path, ledger: Ledger, *, batch_size: int, miracl_folder: Path | None,
                 miracl_languages: Sequence[str] | None) -> None:
        from hybrid_bench.result_store import ResultStore, result_settings

        self.preset, self.out, self.ledger, self.batch_size = preset, out, ledger, batch_size
        self.miracl_folder, self.miracl_languages = miracl_folder, miracl_languages
        self.cache = ResultStore(out, settings=result_settings(max_seq_length=preset.eval_max_seq_length))
        self.settings = preset.eval_settings()
        self.settings_id = settings_hash(self.settings)
        self._tasks: dict[str, Any] = {}
        self._metadata_tasks: dict[str, Any] = {}

    def task(self, name: str) -> Any:
        """The task ``name`` as this run evaluates it, loaded once."""
        if name not in self._tasks:
            self._tasks[name] = build_task(name, self.preset, self.miracl_folder, self.miracl_languages)
            self._tasks[name].load_data()
        return self._tasks[name]

    def _unloaded(self, name: str) -> Any:
        """The task ``name`` as this run builds it, without its data (for its metadata: the dataset revision)."""
        if name not in self._metadata_tasks:
            self._metadata_tasks[name] = self._tasks.get(name) or build_task(
                name, self.preset, self.miracl_folder, self.miracl_languages)
        return self._metadata_tasks[name]

    def qrels(self, name: str, _subsets: Any = None) -> dict[str, dict[str, Any]]:
        """Qrels of task ``name`` on this run's data (a fresh instance: scoring must not depend on loaded state)."""
        return task_qrels(build_task(name, self.preset, self.miracl_folder, self.miracl_languages))

    def run(self, encoder: Any, task_name: str) -> tuple[bool, float | None]:
        """Evaluate ``encoder`` on ``task_name`` unless done; returns (ran, wall time of the earlier run if not)."""
        import mteb

        from hybrid_bench.evaluation import prediction_folder

        t0 = time.perf_counter()
        meta = encoder.mteb_model_meta
        key = stage_key("eval", meta.name, meta.revision, task_name, self.settings_id)
        result_file = Path(self.cache.get_task_result_path(task_name, meta.name, meta.revision))
        # a damaged (truncated) result is set aside; one of other data (e.g. a changed mirror) is recomputed
        stale = self.cache.stale_reason(self._unloaded(task_name), meta, check_settings=False)  # key has them
        if self.ledger.done(key) and result_file.is_file() and stale is None:
            return False, self.ledger.info(key).get("wall_s")
        mteb.evaluate(
            encoder, [self.task(task_name)], cache=self.cache, prediction_folder=prediction_folder(self.out, encoder),
            # results of other settings in this folder are replaced, never mixed with these
            overwrite_strategy="always" if result_file.exists() else "only-missing",
            encode_kwargs={"batch_size": self.batch_size}, show_progress_bar=False,
        )
        self.ledger.mark(key, model=meta.name, revision=meta.revision, task=task_name, settings=self.settings,
                         wall_s=round(time.perf_counter() - t0, 1))
        return True, None
