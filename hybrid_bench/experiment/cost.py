"""What a ``reproduce`` run will cost on this machine, said before it costs it.

The remaining work of a run (:func:`remaining_work`: the training steps of the models still to train, the distinct
texts of the evaluations still to run, read from the tasks' encode plans) times the speeds measured *here*: seconds
per step from a training's first timed steps
(:class:`~hybrid_bench.training.callbacks.CostProjectionCallback`), texts per second from the first encoded
batches (:func:`hybrid_bench.display.encode_rate`), then from whole evaluation stages (scoring included).
:class:`CostTracker` says the projection of the **whole run** once, as one line, as soon as every rate it needs
is measured, and keeps it current for the progress bar as measurements come in. Where the preset trains in bf16
and this CPU has no native bf16 (no AMX or AVX512-BF16), the line says so, with the slowdown measured here
(:func:`measure_bf16_slowdown`). Measured figures per CPU kind are in ``docs/reproduction.md``.

Example::

    tracker = CostTracker(lambda line, seconds: print(line), train_steps=2700, texts=540_000)
    tracker.measured_step(2.1)   # from the first training's steps 2-4
    tracker.evaluated(60_277, 850.0)  # an evaluation stage: texts encoded, wall seconds
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CostTracker", "Projection", "duration", "measure_bf16_slowdown", "remaining_work", "tracker_for_run"]


def duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min"`` or ``"3.2 h"``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


@dataclass
class Projection:
    """The remaining work of a run and the speeds measured for it (``None``: not measured yet)."""

    train_steps: int
    texts: int
    s_per_step: float | None = None
    texts_per_s: float | None = None
    #: bf16 / fp32 time measured here, where the preset's bf16 training is emulated on this CPU
    emulated_factor: float | None = None
    cpu: str = ""

    @property
    def seconds(self) -> float | None:
        """Projected wall seconds of the remaining work; ``None`` while a rate it needs is unmeasured."""
        if (self.train_steps and self.s_per_step is None) or (self.texts and not self.texts_per_s):
            return None
        training = self.train_steps * (self.s_per_step or 0.0)
        return training + (self.texts / self.texts_per_s if self.texts and self.texts_per_s else 0.0)

    def line(self) -> str:
        """The one line: the whole run's projected wall time and how it is made up."""
        total = self.seconds
        parts = []
        if self.train_steps:
            parts.append(f"training {self.train_steps:,} steps × " + (
                f"{self.s_per_step:.2f} s/step = {duration(self.train_steps * self.s_per_step)}"
                if self.s_per_step is not None else "(not measured yet)"))
        if self.texts:
            parts.append(f"encoding {self.texts:,} texts ÷ " + (
                f"{self.texts_per_s:.1f} texts/s = {duration(self.texts / self.texts_per_s)}"
                if self.texts_per_s else "(not measured yet)"))
        head = (f"projected wall time of the whole run on this machine: {duration(total)}" if total is not None
                else "projected wall time of the whole run on this machine: not known yet")
        text = f"{head} ({'; '.join(parts) or 'nothing left to compute'}"
        text += f"; measured on {self.cpu})" if self.cpu else ")"
        if self.emulated_factor is not None:
            text += (f"; bf16 training is emulated on this CPU (no AMX or AVX512-BF16): bf16 matrix products "
                     f"measured {self.emulated_factor:.1f}x slower than fp32 here")
        return text


class CostTracker:
    """Keeps a run's :class:`Projection` current and reports it: ``report(line, seconds)``.

    ``report`` is called with the full line at most every ``min_interval`` seconds when a measurement changes the
    projection, and always at stage ends; :attr:`said` turns true the first time the projection is complete (the
    caller prints that line once, and shows later ones in its progress bar).

    Args:
        report: receives the line of :meth:`Projection.line` and the projected seconds (``None``: incomplete).
        train_steps: training steps still to run.
        texts: texts still to encode.
        emulated_factor: see :attr:`Projection.emulated_factor`.
        cpu: the CPU the rates are measured on (model and kind).
        clock: the time source (tests inject one).
    """

    def __init__(self, report: Callable[[str, float | None], None], *, train_steps: int, texts: int,
                 emulated_factor: float | None = None, cpu: str = "", min_interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.report, self.clock, self.min_interval = report, clock, min_interval
        self.projection = Projection(train_steps, texts, emulated_factor=emulated_factor, cpu=cpu)
        self.said = False
        self._last = -float("inf")
        self._stage_rate = False  # texts/s from whole evaluation stages (includes scoring) once there is one

    def measured_step(self, seconds_per_step: float) -> None:
        """A training's measured seconds per step (its first timed steps)."""
        self.projection.s_per_step = seconds_per_step
        self._update(force=True)

    def encoded(self, n: int, rate: float | None) -> None:
        """``n`` more texts encoded; ``rate``: the forward passes' texts/s so far (until a stage gives one)."""
        self.projection.texts = max(0, self.projection.texts - n)
        if not self._stage_rate and rate:
            self.projection.texts_per_s = rate
        self._update()

    def evaluated(self, texts: int, seconds: float) -> None:
        """An evaluation stage ended: ``texts`` encoded in ``seconds`` of wall time (scoring included)."""
        if texts > 0 and seconds > 0:
            self.projection.texts_per_s, self._stage_rate = texts / seconds, True
        self._update(force=True)

    def trained(self, steps: int) -> None:
        """A training stage ended (or was found done): its ``steps`` are no longer ahead."""
        self.projection.train_steps = max(0, self.projection.train_steps - steps)
        self._update(force=True)

    def _update(self, force: bool = False) -> None:
        now = self.clock()
        seconds = self.projection.seconds
        first = seconds is not None and not self.said
        if not (force or first or now - self._last >= self.min_interval):
            return
        self._last = now
        self.said = self.said or seconds is not None
        self.report(self.projection.line(), seconds)


def measure_bf16_slowdown(size: int = 384, repeat: int = 3) -> float:
    """How many times slower a bf16 matrix product is than an fp32 one on this CPU (best of ``repeat``): about 1
    or less where bf16 is native, far above 1 where it is emulated (the project measured 15x on a training step)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)

    def best(x: Any, y: Any) -> float:  # noqa: ANN401 -- torch tensors
        x @ y  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            x @ y
            times.append(time.perf_counter() - start)
        return min(times)

    return best(a.bfloat16(), b.bfloat16()) / max(best(a, b), 1e-9)


def remaining_work(stages: Sequence[Any], *, steps: int, is_trained: Callable[[Any], bool],
                   is_evaluated: Callable[[Any, str], bool],
                   texts_of: Callable[[Sequence[str]], int]) -> tuple[int, int]:
    """(training steps, texts to encode) of the ``stages`` still to run.

    Args:
        stages: the run's :class:`~hybrid_bench.experiment.plan.Stage` list.
        steps: training steps per trained model.
        is_trained: whether a stage's model needs no training.
        is_evaluated: whether the model has a finished result of the task.
        texts_of: the distinct texts of evaluating one model on these tasks (their encode plans together: tasks
            that share passages encode them once).
    """
    train_steps, pending = 0, {}
    for stage in stages:
        if stage.kind == "train" and not is_trained(stage.model):
            train_steps += steps
        elif stage.kind == "evaluate" and not is_evaluated(stage.model, stage.task):
            pending.setdefault(stage.model.name, []).append(stage.task)
    return train_steps, sum(texts_of(tasks) for tasks in pending.values())


def tracker_for_run(stages: Sequence[Any], *, preset: Any, evaluator: Any, ledger: Any,  # noqa: ANN401
                    report: Callable[[str, float | None], None], bf16_emulated: bool,
                    models: Path | None = None) -> tuple[CostTracker, set[str]]:
    """The :class:`CostTracker` of a ``reproduce`` run about to run ``stages``, and the names of the models it
    counts as still to train (``models``: the model store, default the configured one).

    A model needs no training when the model store holds it or the ledger records all its evaluations (a committed
    output folder continued in a fresh session); an evaluation is done when the ledger records it for the run's
    settings under any revision of the model (a retrained model's new revision is then not foreseen: a projection,
    not a promise). Texts are counted from the tasks' encode plans, as if no embedding cache held any.
    """
    from hybrid_bench.evaluation import planned_texts
    from hybrid_bench.experiment.eval_stage import mteb_name
    from hybrid_bench.experiment.train_stage import trained_record
    from hybrid_bench.machine import cpu_kind, cpu_model

    done = [key.split("|") for key in ledger.data.get("done", {})]

    def evaluated(spec: Any, task: str) -> bool:  # noqa: ANN401
        name = mteb_name(spec.name)
        return any(len(k) == 5 and k[0] == "eval" and k[1] == name and k[3] == task and k[4] == evaluator.settings_id
                   for k in done)

    def trained(spec: Any) -> bool:  # noqa: ANN401
        return trained_record(spec.name, models) is not None or all(evaluated(spec, t) for t in preset.tasks)

    to_train = {s.model.name for s in stages if s.kind == "train" and not trained(s.model)}
    steps, texts = remaining_work(stages, steps=preset.steps, is_trained=lambda spec: spec.name not in to_train,
                                  is_evaluated=evaluated,
                                  texts_of=lambda tasks: planned_texts([evaluator.task(t) for t in tasks]))
    factor = measure_bf16_slowdown() if bf16_emulated and to_train else None
    return CostTracker(report, train_steps=steps, texts=texts, emulated_factor=factor,
                       cpu=f"{cpu_model()} ({cpu_kind()})"), to_train
