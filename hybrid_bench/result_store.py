"""An MTEB results folder whose results are written atomically and never reused for other settings or data.

mteb files a result under ``results/<model>/<revision>/<Task>.json`` and reuses it when the task's
``dataset_revision`` matches. Two things decide a score besides the model and the data, and mteb records neither:
the evaluation settings (``--max-seq-length``, and the inference dtype / backend). :func:`result_settings` is the one
place that says which settings identify a result; :class:`ResultStore`, a :class:`mteb.cache.ResultCache`, records
them inside every ``<Task>.json`` it writes (under :data:`SETTINGS_KEY`; mteb ignores unknown keys when loading)
and :meth:`ResultStore.check_reuse` refuses to reuse - or silently replace - a result computed with other settings.
Data identity is the task's ``dataset_revision`` (pinned upstream revision, ``modified:<hash>`` or
``mirror:<name>@<hash>``; see :mod:`hybrid_bench.data.sources` and :mod:`hybrid_bench.data.mirrors`), which mteb
already compares.

mteb's own ``TaskResult.to_disk`` writes in place: a process killed mid-write leaves a truncated ``<Task>.json``.
:class:`ResultStore` lets mteb write into a staging folder next to the results and moves each finished file into
place with one rename; a damaged result found later is set aside (``<Task>.json.bad-0``), reported in one log line
and recomputed (:meth:`ResultStore.check_reuse`).

Two processes writing one result would both compute it and the second would replace the first's files:
:meth:`ResultStore.task_unit` holds a lock per model x revision x task (``.<Task>.lock`` next to the result, via
:mod:`filelock`; parallel jobs of different models or tasks share one results folder freely). A second process
asking for the same unit says so in one line and waits; once it has the lock it re-checks the result the first
wrote (reusing it, or refusing it for other settings). The unit also covers the task's prediction files
(``<Task>_*`` in the prediction folder: mteb's predictions, the per-query parquet): a run that fails or is
interrupted before its result JSON is in place puts them back as they were, so no per-query file is left without
its result.

Example::

    import mteb
    from hybrid_bench.result_store import ResultStore, result_settings

    store = ResultStore("results", settings=result_settings(max_seq_length=128))
    store.check_reuse(tasks, model.mteb_model_meta, overwrite=False)   # raises on a result of other settings
    mteb.evaluate(model, tasks, cache=store, overwrite_strategy="only-missing")
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
from mteb.cache import ResultCache

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.io import remove_dead_writers, set_aside, writer_tag

logger = logging.getLogger(__name__)

__all__ = ["PREDICTIONS_DIR", "SETTINGS_KEY", "ResultStore", "prediction_folder", "recorded_settings",
           "result_settings"]

#: the folder under a results root that holds each model's prediction files (mteb's ``prediction_folder``)
PREDICTIONS_DIR = "predictions"

#: the key of a result JSON under which hybrid-bench records the settings it was computed with
SETTINGS_KEY = "hybrid_bench_settings"


def result_settings(*, max_seq_length: int | None = None, **more: Any) -> dict[str, Any]:
    """The evaluation settings that change a score, i.e. that identify a result besides model and data.

    Args:
        max_seq_length: the encoding token cap (``None``: the model's own limit).
        more: further score-changing settings (e.g. inference ``dtype`` / ``backend``); a value of ``None`` means
            "the default" and is left out, so adding a new setting does not invalidate results computed before it
            existed with its default.

    Returns:
        A JSON-serialisable dict; equal dicts mean comparable results.
    """
    settings = {"max_seq_length": max_seq_length, **more}
    return {key: value for key, value in sorted(settings.items()) if value is not None}


def recorded_settings(result: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a result JSON (parsed) was computed with; a result without a record used the defaults (``{}``;
    e.g. one written by plain ``mteb run``)."""
    return dict(result.get(SETTINGS_KEY) or {})


def prediction_folder(root: str | os.PathLike[str], name: str, revision: str | None) -> Path:
    """``<root>/predictions/<model>__<revision>``: where the prediction and per-query files of model ``name`` at
    ``revision`` go under a results root (the model's name as mteb makes it a path)."""
    from mteb.models import ModelMeta

    path_name = ModelMeta.create_empty({"name": name, "revision": revision}).model_name_as_path()
    return Path(root) / PREDICTIONS_DIR / f"{path_name}__{revision or 'no_revision_available'}"


class ResultStore(ResultCache):
    """A :class:`mteb.cache.ResultCache` that writes atomically and records :func:`result_settings`.

    Args:
        directory: the results root (holds ``results/``), as for ``ResultCache``.
        settings: the settings of the results this run writes (from :func:`result_settings`).
    """

    def __init__(self, directory: str | os.PathLike[str], *, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(directory)
        self.settings = dict(settings or {})

    def model_folders(self, name: str, revision: str) -> tuple[Path, Path]:
        """The results folder (``results/<model>/<revision>``) and the prediction folder (:func:`prediction_folder`)
        of model ``name`` at ``revision`` in this store."""
        results = Path(self.get_task_result_path("_", name, revision)).parent
        return results, prediction_folder(self.cache_path, name, revision)

    def stale_reason(self, task: Any, meta: Any, *, check_settings: bool = True) -> str | None:
        """Why the existing result of ``task`` for model ``meta`` must not be reused by this run, or ``None`` (no
        result, or one of the same data and settings). A damaged result (truncated JSON) is set aside first.
        ``check_settings=False`` compares the data only, for callers that track the settings themselves (the
        experiment's ledger, whose keys hold them, also for results written before settings were recorded).

        mteb itself reuses a result that covers every subset without comparing its ``dataset_revision``, so the
        data is compared here too.
        """
        path = Path(self.get_task_result_path(task.metadata.name, meta))
        if not path.is_file():
            return None
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            set_aside(path, f"not a complete result ({type(err).__name__}: {err})")
            return None
        if result.get("dataset_revision") != task.metadata.revision:
            return (f"{path} was computed on data {result.get('dataset_revision')!r}, this run's data is "
                    f"{task.metadata.revision!r}")
        recorded = recorded_settings(result)
        if check_settings and recorded != self.settings:
            return (f"{path} was computed with settings {recorded or 'defaults'}, this run asks for "
                    f"{self.settings or 'defaults'}")
        return None

    def check_reuse(self, tasks: Iterable[Any], meta: Any, *, overwrite: bool) -> None:
        """Before a run: set aside damaged results of ``tasks`` and refuse results of other data or settings.

        Args:
            tasks: the mteb tasks about to run.
            meta: the model's :class:`~mteb.models.ModelMeta`.
            overwrite: the run replaces existing results (``--overwrite``): other data or settings are then fine.

        Raises:
            HybridBenchError: without ``overwrite``, a task's result exists for other data or settings (naming
                both).
        """
        for task in tasks:
            reason = self.stale_reason(task, meta)
            if reason is not None and not overwrite:
                raise HybridBenchError(f"{reason}; pass --overwrite to replace it, or another --output-folder")

    @contextlib.contextmanager
    def task_unit(self, task: Any, meta: Any, *, prediction_folder: Path | None = None,
                  overwrite: bool = False) -> Iterator[None]:
        """Compute ``task``'s result for model ``meta`` as one unit: locked against other processes, and its
        prediction files restored if the body fails before the result is saved (see the module doc).

        Waits, with one log line, while another process holds the unit; then re-runs :meth:`check_reuse` for it.
        """
        target = Path(self.get_task_result_path(task.metadata.name, meta))
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(target.parent / f".{target.stem}.lock")
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            logger.warning("another process is computing %s of %s @ %s into %s (lock %s); waiting for it to finish "
                           "(Ctrl-C to stop)", task.metadata.name, meta.name, meta.revision, target.parent,
                           lock.lock_file)
            lock.acquire()
        try:
            self.check_reuse([task], meta, overwrite=overwrite)
            before = target.stat().st_mtime_ns if target.is_file() else None
            with _restored_on_failure(prediction_folder, f"{task.metadata.name}_",
                                      done=lambda: target.is_file() and target.stat().st_mtime_ns != before):
                yield
        finally:
            lock.release()

    def save_to_cache(self, task_result: Any, model_name: Any, model_revision: str | None = None, *,
                      encode_kwargs: Mapping[str, Any] | None = None) -> None:
        """mteb's ``save_to_cache``, staged next to the results and moved into place file by file (one rename
        each), with :attr:`settings` recorded in the result JSON."""
        target = Path(self.get_task_result_path(task_result.task_name, model_name, model_revision))
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_writers(target.parent, ".staging-")  # a killed writer's (its pid is in the name)
        staging_root = Path(tempfile.mkdtemp(prefix=f".staging-{writer_tag()}-", dir=target.parent))
        # the revision's run_settings.jsonl is shared by its tasks: parallel jobs of one model merge into it in turn
        # (the lock lives next to the revision folder, which holds nothing but mteb's files)
        lock = filelock.FileLock(target.parent.parent / f".{target.parent.name}.run_settings.lock")
        try:
            lock.acquire()
            staging = ResultCache(staging_root)
            staged = Path(staging.get_task_result_path(task_result.task_name, model_name, model_revision))
            staged.parent.mkdir(parents=True, exist_ok=True)
            merged = target.parent / "run_settings.jsonl"
            if merged.is_file():  # mteb merges its run settings into the existing file
                shutil.copy2(merged, staged.parent / merged.name)
            ResultCache.save_to_cache(staging, task_result, model_name, model_revision, encode_kwargs=encode_kwargs)
            result = json.loads(staged.read_text(encoding="utf-8"))
            result[SETTINGS_KEY] = self.settings
            staged.write_text(json.dumps(result, indent=2), encoding="utf-8")
            # the result last: a kill before it leaves the previous result (or none), never a mixed one
            for file in sorted(staged.parent.iterdir(), key=lambda f: f == staged):
                os.replace(file, target.parent / file.name)
        finally:
            lock.release()
            shutil.rmtree(staging_root, ignore_errors=True)


@contextlib.contextmanager
def _restored_on_failure(folder: Path | None, prefix: str, *, done: Any) -> Iterator[None]:
    """Snapshot the files ``folder/prefix*`` (hard links: writers replace files, never modify them); if the body
    raises (an exception or Ctrl-C) before ``done()`` is true, put the snapshot back and remove files it did not
    have."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    remove_dead_writers(folder, f".{prefix}snapshot-")
    snapshot = Path(tempfile.mkdtemp(prefix=f".{prefix}snapshot-{writer_tag()}-", dir=folder))
    try:
        for file in folder.glob(f"{prefix}*"):
            if file.is_file():
                try:
                    os.link(file, snapshot / file.name)
                except OSError:
                    shutil.copy2(file, snapshot / file.name)
        try:
            yield
        except BaseException:
            if not done():
                for file in folder.glob(f"{prefix}*"):
                    if file.is_file() and not (snapshot / file.name).exists():
                        logger.info("removing %s: its task's result was not saved", file)
                        file.unlink()
                for kept in snapshot.iterdir():
                    os.replace(kept, folder / kept.name)
            raise
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
