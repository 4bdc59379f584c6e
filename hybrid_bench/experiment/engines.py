"""Where a run's stages execute: in this process one after another (:class:`LocalEngine`, the default), or as jobs
of `submitit <https://github.com/facebookincubator/submitit>`_ on a Slurm cluster or on this machine
(:class:`SubmititEngine`).

An engine is handed the plan's stages and a :class:`~hybrid_bench.experiment.stages.StageContext`; it keeps the
plan's order where it matters (:func:`~hybrid_bench.experiment.plan.dependencies`: a model's evaluations after its
training, the leaderboard after every other stage) and says when each stage begins and ends. With submitit, this
process coordinates: a stage that has work (:func:`~hybrid_bench.experiment.stages.has_work`) becomes one job
(:func:`run_stage_job`), at most ``max_jobs`` at once; a finished or cheap one (the leaderboard, a training whose
model is stored) runs here. A job writes its results, model and training record into the shared output folder and
model store atomically, and its ledger marks as files of its own (:class:`~hybrid_bench.experiment.ledger.Ledger`
``own_marks``), which this process merges when the job ends. A job that fails or is killed fails its stage and
the stages that need it; the others go on, and the run ends with one error naming them. Rerunning the same command
reruns exactly those: finished stages are skipped as in a local run, an interrupted training resumes from its last
checkpoint. When this process stops early (Ctrl-C, an error of its own), it cancels its running jobs first.

submitit carries a job's function and arguments (a :class:`~hybrid_bench.experiment.setup.RunSpec` and a
:class:`~hybrid_bench.experiment.plan.Stage`: plain values) and its returned
:class:`~hybrid_bench.experiment.stages.Outcome` in its own pickle files under ``folder``: that is the engine's
protocol; everything hybrid-bench itself writes stays JSON, parquet and model folders.

Example::

    from hybrid_bench.experiment import PRESETS, reproduce
    from hybrid_bench.experiment.engines import SubmititEngine

    engine = SubmititEngine("results/reproduce/engine", cluster="slurm", slurm_partition="gpu", gpus_per_job=1)
    reproduce(PRESETS["full"], "results/reproduce", engine=engine)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.experiment.ledger import LEDGER_FILE, Ledger
from hybrid_bench.experiment.plan import Stage, dependencies
from hybrid_bench.experiment.setup import RunSpec
from hybrid_bench.experiment.stages import STAGE_KINDS, Event, Outcome, StageContext, has_work, run_stage

__all__ = ["CLUSTERS", "Begin", "End", "Engine", "LocalEngine", "SubmititEngine", "run_stage_job"]

logger = logging.getLogger(__name__)

#: submitit's executors a run may ask for: ``auto`` is Slurm where ``srun`` exists, else this machine
CLUSTERS = ("auto", "slurm", "local")

#: ``begin(position, job id or "")``: a stage (by its 1-based position in the stages given) starts
Begin = Callable[[int, str], None]
#: ``end(position, outcome or None, wall seconds, why it failed or "")``: a stage finished or failed
End = Callable[[int, "Outcome | None", float, str], None]


class Engine(Protocol):
    """Runs a plan's stages (see the module doc)."""

    def execute(self, ctx: StageContext, stages: Sequence[Stage], begin: Begin, end: End) -> None: ...


class LocalEngine:
    """Every stage in this process, in the plan's order (an exception ends the run)."""

    def execute(self, ctx: StageContext, stages: Sequence[Stage], begin: Begin, end: End) -> None:
        for position, stage in enumerate(stages, 1):
            begin(position, "")
            t0 = time.perf_counter()
            outcome = run_stage(ctx, stage)
            end(position, outcome, time.perf_counter() - t0, "")


def run_stage_job(spec: RunSpec, stage: Stage) -> Outcome:
    """One stage as an engine's job, in a process of its own: the run's model store and data from ``spec``, its
    ledger marks as files of their own, its notes handed back in the :class:`Outcome`."""
    spec.paths.activate()
    notes: list[str] = []
    ctx = StageContext(spec, Ledger(spec.out / LEDGER_FILE, own_marks=True),
                       lambda event: notes.append(event.text) if event.kind == "note" else None)
    return dataclasses.replace(run_stage(ctx, stage), notes=tuple(notes))


class SubmititEngine:
    """Stages with work as submitit jobs (see the module doc).

    Args:
        folder: submitit's folder (job scripts, pickles, logs: ``<job id>_0_log.err``); on a cluster, on a file
            system the compute nodes share, as must be the output folder and ``$HYBRID_BENCH_HOME``.
        cluster: one of :data:`CLUSTERS`.
        max_jobs: at most this many jobs at once (default: no limit on Slurm, which queues them; 2 on this machine).
        timeout_min: each job's time limit in minutes (Slurm ``--time``; default one day).
        gpus_per_job: GPUs per job (Slurm ``--gpus-per-node``).
        cpus_per_job: CPU cores per job (Slurm ``--cpus-per-task``).
        mem_gb: memory per job.
        slurm_partition: the Slurm partition.
        slurm_extra: more ``sbatch`` options by name without the dashes (e.g. ``{"account": "proj"}``).
        poll_s: seconds between looks at the running jobs.
    """

    def __init__(self, folder: str | os.PathLike[str], *, cluster: str = "auto", max_jobs: int | None = None,
                 timeout_min: int = 24 * 60, gpus_per_job: int | None = None, cpus_per_job: int | None = None,
                 mem_gb: float | None = None, slurm_partition: str | None = None,
                 slurm_extra: Mapping[str, str] | None = None, poll_s: float = 2.0) -> None:
        import submitit

        if cluster not in CLUSTERS:
            raise HybridBenchError(f"engine cluster {cluster!r}: expected one of {', '.join(CLUSTERS)}")
        self.folder = Path(folder)
        try:
            self.executor = submitit.AutoExecutor(folder=self.folder, cluster=None if cluster == "auto" else cluster)
        except (RuntimeError, ValueError) as err:
            raise HybridBenchError(f"submitit cannot use cluster {cluster!r}: {err}") from None
        self.cluster = self.executor.cluster
        self.max_jobs = max_jobs if max_jobs is not None else (None if self.cluster == "slurm" else 2)
        self.executor.update_parameters(
            timeout_min=timeout_min, gpus_per_node=gpus_per_job, cpus_per_task=cpus_per_job, mem_gb=mem_gb,
            slurm_partition=slurm_partition, slurm_additional_parameters=dict(slurm_extra or {}) or None)
        self.poll_s = poll_s

    def execute(self, ctx: StageContext, stages: Sequence[Stage], begin: Begin, end: End) -> None:
        running: dict[int, tuple[Any, float]] = {}
        try:
            failed = self._schedule(ctx, stages, begin, end, running)
        except BaseException:
            # this process stops (Ctrl-C, an error here): its jobs stop too, so a rerun never runs a stage twice
            for job, _ in running.values():
                with contextlib.suppress(Exception):
                    job.cancel(check=False)
            raise
        if failed:
            shown = "; ".join(f"{stages[p - 1].label}: {why}" for p, why in sorted(failed.items())[:3])
            raise HybridBenchError(f"{len(failed)} of {len(stages)} stage(s) did not finish ({shown}"
                                   f"{'; ...' if len(failed) > 3 else ''}); rerun the same command to run them "
                                   f"(finished stages are skipped). Job logs: {self.folder}")

    def _schedule(self, ctx: StageContext, stages: Sequence[Stage], begin: Begin, end: End,
                  running: dict[int, tuple[Any, float]]) -> dict[int, str]:
        """Run every stage as soon as what it needs has finished; returns the stages that did not, with why."""
        needs = {i + 1: {j + 1 for j in js} for i, js in dependencies(stages).items()}
        pending, finished, failed = set(needs), set(), {}
        while pending or running:
            started = len(pending)
            for position in sorted(pending):
                stage = stages[position - 1]
                blocked = sorted(failed.keys() & needs[position])
                if blocked:
                    pending.discard(position)
                    failed[position] = f"not run: {stages[blocked[0] - 1].label} did not finish"
                    end(position, None, 0.0, failed[position])
                    continue
                if not needs[position] <= finished:
                    continue
                if not STAGE_KINDS[stage.kind].job or not has_work(ctx, stage):
                    pending.discard(position)
                    self._here(ctx, position, stage, begin, end)
                    finished.add(position)
                elif self.max_jobs is None or len(running) < self.max_jobs:
                    pending.discard(position)
                    running[position] = (self._submit(ctx, stage), time.perf_counter())
                    begin(position, running[position][0].job_id)
            progressed = False
            for position, (job, t0) in list(running.items()):
                if not job.done():
                    continue
                progressed = True
                del running[position]
                outcome, why = self._collect(ctx, stages[position - 1], job)
                if outcome is None:
                    failed[position] = why
                else:
                    finished.add(position)
                end(position, outcome, time.perf_counter() - t0, why)
            if running and not progressed:
                time.sleep(self.poll_s)
            elif not running and not progressed and pending and len(pending) == started:
                raise HybridBenchError(f"stages {sorted(pending)} wait for stages that never run")  # a plan bug
        return failed

    @staticmethod
    def _here(ctx: StageContext, position: int, stage: Stage, begin: Begin, end: End) -> None:
        begin(position, "")
        t0 = time.perf_counter()
        outcome = run_stage(ctx, stage)
        end(position, outcome, time.perf_counter() - t0, "")

    def _submit(self, ctx: StageContext, stage: Stage) -> Any:  # noqa: ANN401 -- a submitit Job
        for text in ctx.pending_notes:  # said before the first stage that has work
            ctx.note(text)
        ctx.pending_notes.clear()
        self.executor.update_parameters(name=f"hybrid-bench-{stage.kind}")
        job = self.executor.submit(run_stage_job, ctx.spec, stage)
        logger.info("%s: submitit job %s (logs in %s)", stage.label, job.job_id, self.folder)
        return job

    @staticmethod
    def _collect(ctx: StageContext, stage: Stage, job: Any) -> tuple[Outcome | None, str]:  # noqa: ANN401
        """A finished job's outcome (its notes reported, its ledger marks merged), or ``None`` and why it failed."""
        ctx.ledger.merge_marks()  # also the marks of a job that failed after finishing some work
        try:
            outcome: Outcome = job.result()
        except Exception as err:  # noqa: BLE001 -- submitit's UncompletedJobError / FailedJobError
            return None, f"job {job.job_id} failed ({_why(err)[:300]}); log: {job.paths.stderr}"
        for text in outcome.notes:
            ctx.report(Event("note", text))
        if stage.model is not None and stage.kind == "train":
            ctx.identities[stage.model.name] = outcome.identity
        return outcome, ""


def _why(err: Exception) -> str:
    """The line of a submitit job error that says what went wrong: the exception that ended the job (the last line
    of the traceback that ``FailedJobError`` quotes), or why the job left no result (``UncompletedJobError``: killed,
    timed out)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip() and set(line.strip()) != {"-"}]
    if not lines:
        return type(err).__name__
    trace_end = next((i for i, line in enumerate(lines) if line.startswith("You can check full logs")), 0)
    if trace_end:
        return lines[trace_end - 1]
    return next((line for line in lines if "has not produced any output" in line), lines[0])
