"""Trainer callbacks of the hybrid trainer: per-batch-type loss logging and a wall clock that survives resumes."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import ProgressCallback

from hybrid_bench.training.loss import HybridInfoNCELoss
from hybrid_bench.training.records import write_run_record

__all__ = ["BatchLogCallback", "CostProjectionCallback", "HybridLossCallback", "ReadableProgressCallback",
           "SamplerEpochCallback", "WallClockCallback", "final_loss", "summary_line"]

logger = logging.getLogger(__name__)


class HybridLossCallback(TrainerCallback):
    """Adds ``loss_mono`` / ``loss_cross`` (and the batch counts) to every training log line.

    The trainer's own ``loss`` averages all batches; this callback splits it by batch type, using the running
    means kept by :class:`~hybrid_bench.training.loss.HybridInfoNCELoss`. The values go into the log dict shown by
    the progress bar / printer and into ``trainer.state.log_history`` (hence ``trainer_state.json`` and the model
    card's training log). Reporting integrations registered before this callback (``report_to``) do not see them.

    Args:
        loss: The loss instance given to the trainer.

    Example::

        loss = HybridInfoNCELoss(model)
        trainer = SentenceTransformerTrainer(..., loss=loss, callbacks=[HybridLossCallback(loss)])
    """

    def __init__(self, loss: HybridInfoNCELoss) -> None:
        if not isinstance(loss, HybridInfoNCELoss):
            raise TypeError(f"HybridLossCallback needs the HybridInfoNCELoss given to the trainer, got {type(loss)}")
        self.loss = loss

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or "loss" not in logs:
            return  # evaluation or end-of-training summary
        extra = self.loss.pop_batch_type_losses()
        logs.update(extra)
        # the trainer appended a copy of `logs` to the history just before calling the callbacks
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(extra)


class BatchLogCallback(TrainerCallback):
    """Logs, on every rank and at every step, the type of the batch the loss saw and its language if monolingual.

    One INFO line per step and rank, ``step 12 rank 1: mono de`` / ``step 13 rank 1: cross`` (``hybrid-bench -v
    train``): in a multi-process run all ranks must print the same type and language at each step
    (:class:`~hybrid_bench.training.sampler.HybridBatchSampler` draws them from the step, not the rank).

    Args:
        loss: The loss given to the trainer (it remembers its last training batch).
        language_names: The corpus' languages, indexed like the ``label`` column (``ParallelCorpus.languages``).
    """

    def __init__(self, loss: HybridInfoNCELoss, language_names: tuple[str, ...]) -> None:
        self.loss = loss
        self.language_names = tuple(language_names)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        if self.loss.last_batch is None:
            return
        kind, language = self.loss.last_batch
        where = f" {self.language_names[language]}" if language is not None else ""
        logger.info("step %d rank %d: %s%s", state.global_step, args.process_index, kind, where)


class SamplerEpochCallback(TrainerCallback):
    """Tells the :class:`~hybrid_bench.training.sampler.HybridBatchSampler` the epoch at every epoch start.

    The trainer passes the epoch down the dataloader's chain of batch samplers, but in a multi-process run
    accelerate wraps the sampler (``BatchSamplerShard``, and ``SkipBatchSampler`` for the partial epoch of a resumed
    run) in wrappers that do not pass it on; the resumed epoch would then be drawn as epoch 0 and differ from the
    uninterrupted run. ``floor(state.epoch)`` is the epoch being started (also when resuming mid-epoch).
    """

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       train_dataloader: Any = None, **kwargs: Any) -> None:
        from hybrid_bench.training.sampler import HybridBatchSampler

        sampler = train_dataloader
        for _ in range(6):  # DataLoader -> BatchSamplerShard / SkipBatchSampler -> ... -> HybridBatchSampler
            if sampler is None or isinstance(sampler, HybridBatchSampler):
                break
            sampler = getattr(sampler, "batch_sampler", None)
        if isinstance(sampler, HybridBatchSampler):
            sampler.set_epoch(math.floor(state.epoch or 0))


class WallClockCallback(TrainerCallback):
    """Measures training wall time across interrupted and resumed runs.

    On every checkpoint save it writes :data:`~hybrid_bench.training.records.RUN_RECORD` (``{"global_step",
    "wall_time_s"}``) into the checkpoint folder, after the trainer wrote everything else, so the file marks a
    complete checkpoint; a resumed run starts its clock from the record of the checkpoint it resumes from.

    Args:
        previous_seconds: Wall time already spent before this process (from the resumed checkpoint's record).
    """

    def __init__(self, previous_seconds: float = 0.0) -> None:
        self.previous_seconds = float(previous_seconds)
        self._start: float | None = None

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, over all runs."""
        return self.previous_seconds + (0.0 if self._start is None else time.monotonic() - self._start)

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._start = time.monotonic()

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        import torch

        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # every rank writes its own files into the checkpoint (rng_state_<rank>.pth): wait for all of them before
            # the run record marks it complete, or a kill in between resumes a rank with fresh dropout randomness
            torch.distributed.barrier()
        if not folder.is_dir() or not state.is_world_process_zero:
            return
        write_run_record(folder, state.global_step, self.elapsed)


class CostProjectionCallback(TrainerCallback):
    """Says, once, what the whole training will cost on this machine, from its first timed steps.

    The first step is left out (it pays for lazy initialisation and the first autocast); steps 2 … ``1 + measure``
    are timed, and the projection — remaining steps × their mean time — is logged as one line at ``level``
    (a warning, so that ``hybrid-bench train`` shows it; the quiet training that ``reproduce`` runs passes
    ``logging.INFO``, as ``reproduce`` reports its own progress), with the CPU kind and, where bf16 is emulated here
    (:func:`hybrid_bench.machine.cpu_kind` ``"no-bf16"``) and the run trains in bf16, that it is emulated.
    ``projection_s`` keeps the figure for callers (e.g. a progress bar).

    Args:
        measure: steps to time after the first.
        bf16: whether the run autocasts to bf16.
        level: the log level of the line.
        on_measure: called once with the measured seconds per step (``reproduce`` projects its whole run from it).
    """

    def __init__(self, measure: int = 3, *, bf16: bool = False, level: int = logging.WARNING,
                 on_measure: Callable[[float], None] | None = None) -> None:
        self.measure, self.bf16, self.level, self.on_measure = measure, bf16, level, on_measure
        self._t0: float | None = None
        self._first_step = 0
        self.projection_s: float | None = None
        self.per_step_s: float | None = None

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        from hybrid_bench.machine import cpu_kind, cpu_model

        if self.projection_s is not None:
            return
        if self._t0 is None:
            self._t0, self._first_step = time.monotonic(), state.global_step
            return
        timed = state.global_step - self._first_step
        if timed < self.measure and state.global_step < state.max_steps:
            return
        per_step = (time.monotonic() - self._t0) / max(timed, 1)
        remaining = max(0, state.max_steps - state.global_step)
        self.projection_s, self.per_step_s = per_step * remaining, per_step
        if self.on_measure is not None and state.is_world_process_zero:
            self.on_measure(per_step)
        emulated = self.bf16 and cpu_kind() == "no-bf16" and args.device.type == "cpu"
        if state.is_world_process_zero:
            logger.log(self.level, "training: %.2f s/step measured over steps %d-%d on %s (%s)%s; projected %s more "
                           "for the remaining %d of %d steps", per_step, self._first_step + 1, state.global_step,
                           cpu_model(), cpu_kind(), ", bf16 emulated on this CPU (about 15x slower than fp32)"
                           if emulated else "", _duration(self.projection_s), remaining, state.max_steps)


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"12.5 min"`` or ``"3.2 h"``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


class ReadableProgressCallback(ProgressCallback):
    """The trainer's progress bar, with its log lines readable: ``step 10/300: loss 1.2345 (mono 1.1, cross 1.3),
    lr 2.0e-05`` instead of the raw dict, and no end-of-training metrics dict (``{'train_runtime': ...}``): the
    caller prints one summary line (:func:`summary_line`) with the model's path."""

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.training_bar is None or not logs or "train_runtime" in logs:
            return
        if "loss" not in logs:  # anything else (an evaluation) as the trainer shows it
            super().on_log(args, state, control, logs=logs, **kwargs)
            return
        parts = [f"loss {float(logs['loss']):.4f}"]
        split = [f"{kind} {float(logs[f'loss_{kind}']):.4f}" for kind in ("mono", "cross") if f"loss_{kind}" in logs]
        if split:
            parts[0] += f" ({', '.join(split)})"
        if "learning_rate" in logs:
            parts.append(f"lr {float(logs['learning_rate']):.1e}")
        if "grad_norm" in logs:
            parts.append(f"grad norm {float(logs['grad_norm']):.3g}")
        self.training_bar.write(f"step {state.global_step}/{state.max_steps}: {', '.join(parts)}")


def final_loss(log_history: list[dict[str, Any]]) -> tuple[float, int] | None:
    """The last logged training loss and its step, from a trainer's ``log_history``; ``None`` if none was logged."""
    for entry in reversed(log_history):
        if "loss" in entry:
            return float(entry["loss"]), int(entry.get("step", 0))
    return None


def summary_line(name: str, path: Path | str, steps: int, wall_s: float, log_history: list[dict[str, Any]],
                 resumed_from_step: int | None = None) -> str:
    """One line for the end of a training: ``hybrid-me5-small: 300 steps in 420 s (1.40 s/step), final loss 0.8123
    (step 300); saved to ...``."""
    rate = f" ({wall_s / steps:.2f} s/step)" if steps else ""
    loss = final_loss(log_history)
    text = f"{name}: {steps} steps in {wall_s:.0f} s{rate}"
    if resumed_from_step is not None:
        text += f" (resumed from step {resumed_from_step})"
    text += f", final loss {loss[0]:.4f} (step {loss[1]})" if loss else ", no loss logged"
    return f"{text}; saved to {path}"
