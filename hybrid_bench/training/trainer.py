"""``train_model``: fine-tune a retriever with mono / cross / hybrid batches, resumably, into the model store.

This is what ``hybrid-bench train`` runs. It wires the parts of :mod:`hybrid_bench.training` into a stock
``SentenceTransformerTrainer``: the parallel corpus (:mod:`~hybrid_bench.training.parallel_data`), the
:class:`~hybrid_bench.training.sampler.HybridBatchSampler`, the
:class:`~hybrid_bench.training.loss.HybridInfoNCELoss` and its per-batch-type log
(:class:`~hybrid_bench.training.callbacks.HybridLossCallback`).

Where things go:

* checkpoints: ``$HYBRID_BENCH_HOME/checkpoints/<out>/checkpoint-<step>`` (every ``save_steps``; the two newest
  are kept; removed after the final model is saved). A checkpoint counts as complete once its
  ``hybrid_bench_run.json`` exists: ``resume=True`` continues from the newest complete one, with the same batches
  and learning-rate schedule, and ends at the same global step as an uninterrupted run.
* the finished model: ``models_dir()/<out>`` (:func:`hybrid_bench.paths.models_dir`), written atomically, with a
  model card whose "hybrid-bench training" section records base, strategy, α, data, steps, seed and wall time,
  and the same record as ``hybrid_bench_training.json``.

Example::

    from hybrid_bench.models.bases import resolve_base
    from hybrid_bench.training.config import TrainConfig
    from hybrid_bench.training.trainer import train_model

    config = TrainConfig(base="me5-small", strategy="hybrid", steps=300)
    result = train_model(config, "hybrid-me5-small", base_path=resolve_base(config.base))
    print(result.path, result.wall_time_s)
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from hybrid_bench import paths
from hybrid_bench.errors import HybridBenchError
from hybrid_bench.io import atomic_path, atomic_write_text, out_of_space
from hybrid_bench.machine import machine_facts
from hybrid_bench.training.base_model import (
    choose_device,
    column_prompts,
    folder_or_hub_id,
    freeze_word_embeddings,
    load_base_model,
)
from hybrid_bench.training.config import TrainConfig
from hybrid_bench.training.parallel_data import ParallelCorpus, load_parallel_data
from hybrid_bench.training.records import (
    RUN_CONFIG,
    append_model_card,
    complete_checkpoints,
    read_run_record,
    write_training_record,
)

__all__ = ["TrainResult", "checkpoint_dir", "train_model"]  # TrainConfig: hybrid_bench.training.config

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_model` produced."""

    path: Path
    global_step: int
    wall_time_s: float
    resumed_from_step: int | None
    record: dict[str, Any] = field(repr=False)


def checkpoint_dir(out: str) -> Path:
    """Where the checkpoints of the run that produces model ``out`` live."""
    return paths.home_dir() / "checkpoints" / out


def train_model(
    config: TrainConfig,
    out: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    base_path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    corpus: ParallelCorpus | None = None,
    quiet: bool = False,
    device: str = "auto",
    on_step_time: Callable[[float], None] | None = None,
) -> TrainResult:
    """Train ``config.base`` with the hybrid sampler and loss and save it as model ``out`` in the model store.

    Args:
        config: The run's settings.
        out: Name of the new model (``models_dir()/out``): letters, digits, ``.``, ``_``, ``-``.
        base_path: Where ``config.base``'s weights are: a local folder or a Hugging Face repo id. Default:
            ``config.base`` itself, which must then be one of those. A *name* (``me5-small``, a model-store or
            ``models.toml`` name) is resolved by the caller, through
            :func:`hybrid_bench.models.bases.resolve_base` (as ``hybrid-bench train`` does).
        resume: Continue the interrupted run of ``out`` from its newest complete checkpoint (same ``config``
            required); without a checkpoint, start from scratch.
        overwrite: Replace an existing model ``out`` and discard checkpoints of an earlier run.
        data_dir: Local LAReQA data folder for ``"xquad-r-train"``.
        device: ``"auto"`` (CUDA, then Apple MPS, then CPU), ``"cuda"``, ``"mps"`` or ``"cpu"``; under
            ``torchrun`` each process uses its own GPU (the trainer places the model).
        corpus: Train on this corpus instead of loading ``config.data`` (its name is recorded as the data).
        quiet: No progress bar and no printed loss lines (a caller such as ``reproduce`` shows its own progress).
        on_step_time: Called once with the seconds per step measured over the first steps
            (:class:`~hybrid_bench.training.callbacks.CostProjectionCallback`).

    Raises:
        HybridBenchError: The model exists, stale checkpoints exist, the resumed run's settings differ, ...
        DataError: Bad training data.
    """
    if not _NAME.fullmatch(out):
        raise HybridBenchError(f"invalid model name {out!r}: use letters, digits, '.', '_' and '-' only")
    base_where = folder_or_hub_id(base_path if base_path is not None else config.base)
    if base_where is None:
        raise HybridBenchError(
            f"base model {config.base!r} is a name, not a model folder or a Hugging Face repo id: resolve it with "
            "hybrid_bench.models.bases.resolve_base() and pass the result as base_path"
        )
    target = paths.models_dir() / out
    if target.exists() and not overwrite:
        raise HybridBenchError(f"model {out!r} already exists at {target}; pass overwrite=True (hybrid-bench train: --overwrite) to replace it")
    ckpt_dir = checkpoint_dir(out)
    main_process = _launch_rank() == 0
    resume_from = _prepare_checkpoints(ckpt_dir, config, resume=resume, overwrite=overwrite, main_process=main_process,
                                      quiet=quiet)

    # heavy imports only once the cheap checks passed
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments

    from hybrid_bench.training.cached_loss import CachedHybridInfoNCELoss
    from hybrid_bench.training.callbacks import (
        BatchLogCallback,
        CostProjectionCallback,
        HybridLossCallback,
        ReadableProgressCallback,
        SamplerEpochCallback,
        WallClockCallback,
    )
    from hybrid_bench.training.loss import HybridInfoNCELoss
    from hybrid_bench.training.sampler import HybridBatchSampler, check_batches

    if corpus is None:
        corpus = load_parallel_data(
            config.data, languages=config.languages, hard_negatives=config.hard_negatives, data_dir=data_dir,
            seed=config.seed,
        )
    train_dataset = corpus.to_dataset()
    # batches the data cannot make fail here, naming the language, before the model loads
    check_batches(train_dataset, batch_size=config.batch_size, alpha=config.resolved_alpha,
                  language_sampling=config.language_sampling, language_names=corpus.languages, source=corpus.name)
    logger.info("training data: %s, %d rows", corpus, len(train_dataset))

    device = choose_device(device)
    if config.fp16 and device != "cuda":
        raise HybridBenchError(f"fp16 needs a CUDA GPU (device is {device}); use bf16 on CPUs that have it")
    model = load_base_model(base_where, device=device)

    # the training limit only shortens CPU steps; the saved model keeps the base's limit for evaluation
    base_max_seq_length = model.max_seq_length
    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    frozen = freeze_word_embeddings(model) if config.freeze_embeddings else 0
    prompts = column_prompts(model)

    loss_options = {"scale": config.scale, "symmetric": config.symmetric,
                    "gather_across_devices": config.gather_across_devices}
    if config.mini_batch_size is not None:
        loss = CachedHybridInfoNCELoss(model, mini_batch_size=config.mini_batch_size, **loss_options)
    else:
        loss = HybridInfoNCELoss(model, **loss_options)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(ckpt_dir),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=round(config.warmup_ratio * config.steps),
        seed=config.seed,
        bf16=config.bf16,
        fp16=config.fp16,
        # transformers refuses bf16 without a bf16 GPU unless told to run on the CPU explicitly
        use_cpu=device == "cpu",
        batch_sampler=HybridBatchSampler.factory(
            alpha=config.resolved_alpha, language_sampling=config.language_sampling
        ),
        prompts=prompts,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=config.logging_steps,
        report_to="none",
        dataloader_pin_memory=device == "cuda",
        disable_tqdm=quiet,
    )
    previous = read_run_record(resume_from)["wall_time_s"] if resume_from else 0.0
    clock = WallClockCallback(previous)
    if quiet:  # the trainer's model-card callback would draw a bar of its own for the card's widget examples
        _widget_examples_without_a_bar(model, train_dataset)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_dataset, loss=loss,
        callbacks=[HybridLossCallback(loss), BatchLogCallback(loss, corpus.languages),
                   SamplerEpochCallback(), clock, CostProjectionCallback(
                       bf16=config.bf16, level=logging.INFO if quiet else logging.WARNING, on_measure=on_step_time)],
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if quiet:  # without its progress bar the trainer would print every log dict instead
        trainer.remove_callback(PrinterCallback)
    elif trainer.pop_callback(ProgressCallback) is not None:  # readable log lines, no raw metrics dict
        trainer.add_callback(ReadableProgressCallback())
    if resume_from:
        logger.info("resuming from %s", resume_from)
    if main_process:
        atomic_write_text(ckpt_dir / RUN_CONFIG, json.dumps(config.to_dict(), indent=2) + "\n", overwrite=True)
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except BaseException as err:
        full = out_of_space(err, ckpt_dir) if isinstance(err, Exception) else None  # before freeing anything
        if main_process:
            _discard_unfinished(ckpt_dir)
        if full is not None:
            raise full from err  # one line naming the checkpoint folder (torch's writer says "unexpected pos")
        raise
    global_step = trainer.state.global_step
    if global_step != config.steps:
        raise HybridBenchError(f"training stopped at step {global_step} instead of {config.steps}")

    wall = clock.elapsed
    record = {
        "name": out,
        "base": config.base,
        "base_path": str(base_where),
        "strategy": config.strategy,
        "alpha": config.resolved_alpha,
        "data": corpus.name,
        "data_sha256": corpus.fingerprint(),
        "languages": list(corpus.languages),
        "items": len(corpus),
        "steps": global_step,
        "seed": config.seed,
        "wall_time_s": round(wall, 1),
        "steps_per_s": round(global_step / wall, 4) if wall > 0 else None,
        "resumed_from_step": _step_of(resume_from) if resume_from else None,
        "frozen_parameters": frozen,
        "config": config.to_dict(),
        "machine": machine_facts(),
        "log_history": trainer.state.log_history,
    }
    result = TrainResult(target, global_step, round(wall, 1), record["resumed_from_step"], record)
    if not trainer.is_world_process_zero():
        return result  # one model, saved by rank 0
    model.model_card_data.model_name = f"{out}: {config.base} fine-tuned with {config.strategy} batches"
    model.max_seq_length = base_max_seq_length
    with atomic_path(target, overwrite=overwrite) as tmp:
        model.save(str(tmp))
        append_model_card(tmp / "README.md", record)
        write_training_record(tmp, record)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    logger.info("saved %s (%d steps, %.0f s)", target, global_step, wall)
    return result


def _discard_unfinished(ckpt_dir: Path) -> None:
    """After a failed or interrupted training: remove the checkpoint being written when it stopped (a full disk,
    Ctrl-C mid-save), or the whole run folder when it holds no complete checkpoint (nothing to resume)."""
    complete = complete_checkpoints(ckpt_dir)
    if not complete:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return
    for partial in ckpt_dir.glob("checkpoint-*"):
        if partial.is_dir() and partial not in complete:
            logger.warning("removing incomplete checkpoint %s", partial)
            shutil.rmtree(partial, ignore_errors=True)


def _step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])


def _launch_rank() -> int:
    """This process's rank in a ``torchrun`` / ``accelerate launch`` run (their ``RANK`` variable), else 0.

    Read before the trainer sets up ``torch.distributed``, so that only rank 0 touches the checkpoint folder.
    """
    return int(os.environ.get("RANK", "0"))


def _widget_examples_without_a_bar(model: Any, dataset: Any) -> None:  # noqa: ANN401
    """Fill the model card's widget examples as sentence-transformers' trainer would, but without its tqdm bar
    (``set_widget_examples`` draws one unconditionally; with examples set, the trainer's callback skips it)."""
    from sentence_transformers.base import model_card

    bar = getattr(model_card, "tqdm", None)
    with mock.patch.object(model_card, "tqdm", functools.partial(bar, disable=True)) if bar else nullcontext():
        model.model_card_data.set_widget_examples(dataset)


def _prepare_checkpoints(
    ckpt_dir: Path, config: TrainConfig, *, resume: bool, overwrite: bool, main_process: bool = True,
    quiet: bool = False,
) -> Path | None:
    """Check the checkpoint folder against the request; return the checkpoint to resume from, if any.

    Only the main process changes the folder; the other ranks of a multi-process run just find the same newest
    complete checkpoint (the main process removes only incomplete ones).
    """
    if not main_process:
        complete = complete_checkpoints(ckpt_dir) if resume and ckpt_dir.is_dir() else []
        return complete[-1] if complete else None
    existing = [p for p in ckpt_dir.glob("checkpoint-*") if p.is_dir()] if ckpt_dir.is_dir() else []
    if not resume:
        if existing and not overwrite:
            raise HybridBenchError(
                f"an earlier run of this model left checkpoints in {ckpt_dir}: pass --resume to continue it, or "
                "--overwrite to discard them and start over"
            )
        # RUN_CONFIG is written when training starts (train_model): a run that fails before leaves nothing here
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    config_file = ckpt_dir / RUN_CONFIG
    if not config_file.is_file():
        # a warning for a user who asked to resume; a caller that always resumes when it can (reproduce) is quiet
        logger.log(logging.INFO if quiet else logging.WARNING, "--resume: no earlier run in %s; starting from scratch",
                   ckpt_dir)
        return _prepare_checkpoints(ckpt_dir, config, resume=False, overwrite=True)
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    if diff := {k: (saved.get(k), v) for k, v in config.to_dict().items() if saved.get(k) != v}:
        details = ", ".join(f"{k}: was {old!r}, now {new!r}" for k, (old, new) in sorted(diff.items()))
        raise HybridBenchError(
            f"--resume needs the settings of the interrupted run ({details}); repeat its command with --resume, or "
            "start over with --overwrite"
        )
    complete = complete_checkpoints(ckpt_dir)
    for partial in set(existing) - set(complete):
        # killed while the trainer was writing it: unusable, and it would count against save_total_limit
        logger.warning("removing incomplete checkpoint %s", partial)
        shutil.rmtree(partial, ignore_errors=True)
    if not complete:
        logger.warning("--resume: no complete checkpoint in %s yet; starting from scratch", ckpt_dir)
        return None
    return complete[-1]
