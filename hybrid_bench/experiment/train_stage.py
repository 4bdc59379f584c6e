"""The experiment's training stage: train a model unless the model store already holds it with the same settings.

The model store's training record (``hybrid_bench_training.json``, written by
:func:`~hybrid_bench.training.trainer.train_model`) is this stage's resume ledger: a model whose record holds the
same :class:`~hybrid_bench.training.config.TrainConfig` is done; one with other settings is never replaced
silently; an interrupted training continues from its newest complete checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.experiment.plan import ModelSpec, train_config
from hybrid_bench.experiment.presets import Preset

__all__ = ["MODEL_REVISION", "ensure_trained", "export_record", "exported_record", "same_recipe", "stored_is_current",
           "train", "trained_record", "training_data_sha256"]

#: key of an exported training record naming the content hash of the model its results were computed with
MODEL_REVISION = "model_revision"

logger = logging.getLogger(__name__)


def trained_record(name: str, models: Path | None = None) -> dict[str, Any] | None:
    """The training record of the stored model ``name`` in the model store ``models`` (default: the configured one;
    ``None``: not in the store, or no readable record)."""
    from hybrid_bench.training.records import read_training_record

    return read_training_record(_store(models) / name)


def _store(models: Path | None) -> Path:
    from hybrid_bench import paths

    return models if models is not None else paths.models_dir()


def export_record(name: str, results: Path, record: dict[str, Any] | None = None, *,
                  models: Path | None = None) -> Path:
    """Copy the stored model's training record next to the results (``<results>/training/<name>.json``), with the
    content hash of the stored model (:data:`MODEL_REVISION`, the revision its results are filed under).

    The leaderboard reads each model's strategy, α and seed from there (:mod:`hybrid_bench.leaderboard.arms`), so a
    committed results folder rebuilds its leaderboard without the model store; a later session that lacks the model
    finds its finished evaluations by that revision (:func:`exported_record`).

    ``record``: the stored model's training record as the caller read it (default: read from ``models``, the model
    store; default the configured one).

    Raises:
        HybridBenchError: the model store has no training record for ``name``.
    """
    from hybrid_bench.io import atomic_write_text
    from hybrid_bench.leaderboard.arms import TRAINING_RECORDS_DIR
    from hybrid_bench.models.revision import local_revision

    record = record if record is not None else trained_record(name, models)
    if record is None:
        raise HybridBenchError(f"no training record for {name!r} in the model store: train it first")
    record = {**record, MODEL_REVISION: local_revision(_store(models) / name)}
    target = results / TRAINING_RECORDS_DIR / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    # the record of the model these results were computed with; a retrained model replaces it with its results
    return atomic_write_text(target, json.dumps(record, indent=1, ensure_ascii=False) + "\n", overwrite=True)


def training_data_sha256(preset: Preset, base: str, spec: ModelSpec, *, data_dir: str | None = None) -> str:
    """The content hash of the data ``spec`` trains on here (:meth:`ParallelCorpus.fingerprint`), from the files as
    they are now: a trained model is reused only for the data it was trained on."""
    from hybrid_bench.training.parallel_data import load_parallel_data

    config = train_config(preset, base, spec)
    return load_parallel_data(config.data, languages=config.languages, hard_negatives=config.hard_negatives,
                              data_dir=data_dir, seed=config.seed).fingerprint()


def same_recipe(record: dict[str, Any], config: dict[str, Any], data_sha256: str | None) -> bool:
    """Whether a training record is of this recipe: the same :class:`TrainConfig` and the same training data.

    "Done" depends on nothing else — not on the code's version, the machine or the wall time — so a documentation
    commit never retrains a model, and a model is never reused for other data. A record written before data hashes
    were recorded (no ``data_sha256``) counts only for the built-in XQuAD-R training split, whose files are pinned by
    sha256 and refused when changed, so its data is the same by construction. ``data_sha256=None`` skips the data
    check (the caller has not loaded the data).
    """
    from hybrid_bench.training.parallel_data import XQUAD_R_TRAIN

    if record.get("config") != config:
        return False
    if data_sha256 is None:
        return True
    recorded = record.get("data_sha256")
    return recorded == data_sha256 if recorded is not None else config.get("data") == XQUAD_R_TRAIN


def exported_record(preset: Preset, base: str, spec: ModelSpec, results: Path, *,
                    data_sha256: str | None = None) -> dict[str, Any] | None:
    """The training record ``export_record`` left in ``results`` for ``spec`` when it names the model's revision and
    is of this run's recipe (:func:`same_recipe`; ``None`` otherwise: missing, unreadable, older, or of other
    settings or data)."""
    from hybrid_bench.leaderboard.arms import TRAINING_RECORDS_DIR

    try:
        record = json.loads((results / TRAINING_RECORDS_DIR / f"{spec.name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not record.get(MODEL_REVISION):
        return None
    return record if same_recipe(record, train_config(preset, base, spec).to_dict(), data_sha256) else None


def ensure_trained(preset: Preset, base: str, spec: ModelSpec, *, data_dir: str | None = None,
                   models: Path | None = None,
                   on_step_time: Callable[[float], None] | None = None) -> tuple[Path, bool]:
    """Train ``spec`` unless the model store (``models``; default the configured one) already holds it with the
    same settings; returns (folder, trained).

    An interrupted training resumes from its newest checkpoint (``train_model(..., resume=True)``);
    ``on_step_time`` receives the seconds per step measured over its first steps.

    Raises:
        HybridBenchError: the store holds a model of that name trained with other settings (it is never replaced
            silently: remove it, or use another preset name).
    """
    folder = _store(models) / spec.name
    record = trained_record(spec.name, models)
    data_sha256 = training_data_sha256(preset, base, spec, data_dir=data_dir) if record is not None else None
    if stored_is_current(preset, base, spec, record, folder, data_sha256=data_sha256):
        return folder, False
    train(preset, base, spec, data_dir=data_dir, on_step_time=on_step_time)
    return folder, True


def stored_is_current(preset: Preset, base: str, spec: ModelSpec, record: dict[str, Any] | None, folder: Path, *,
                      data_sha256: str | None) -> bool:
    """Whether the stored model ``folder`` (training ``record``, ``None``: not stored) is ``spec`` of this recipe
    (:func:`same_recipe`, on training data of content hash ``data_sha256``); ``False``: it is not stored.

    Raises:
        HybridBenchError: the store holds a model of that name of another recipe, or a folder without a record.
    """
    if record is None:
        if folder.exists():
            raise HybridBenchError(f"{folder} exists but has no training record; remove it or choose another preset")
        return False
    config = train_config(preset, base, spec).to_dict()
    if same_recipe(record, config, data_sha256):
        return True
    changed = sorted(k for k, v in config.items() if record.get("config", {}).get(k) != v)
    raise HybridBenchError(
        f"the model store already has {spec.name!r} ({folder}) trained with other "
        f"{'settings (differs in ' + ', '.join(changed) + ')' if changed else 'training data (another content hash)'}"
        "; remove that folder to retrain it, or run another preset")


def train(preset: Preset, base: str, spec: ModelSpec, *, data_dir: str | None = None,
          on_step_time: Callable[[float], None] | None = None) -> None:
    """Train ``spec`` into the model store, continuing an interrupted run of the same settings from its newest
    complete checkpoint (one of other settings with no complete checkpoint is discarded); ``on_step_time``
    receives the seconds per step measured over its first steps."""
    from hybrid_bench.models.bases import resolve_base
    from hybrid_bench.training import records, trainer
    from hybrid_bench.training.trainer import train_model

    config = train_config(preset, base, spec)
    ckpt = trainer.checkpoint_dir(spec.name)
    stale = records.stale_run(ckpt, config.to_dict())
    if stale:
        logger.info("discarding %s: an interrupted run with other settings and no complete checkpoint", ckpt)
    # resume=True continues an interrupted run of these settings (or starts afresh when there is none)
    train_model(config, spec.name, resume=not stale, overwrite=stale, base_path=resolve_base(base), data_dir=data_dir,
                quiet=True, on_step_time=on_step_time)
