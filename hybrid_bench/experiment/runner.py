"""Run the reproduction experiment: the stages of :func:`~hybrid_bench.experiment.plan.plan`, resumably, reporting
progress through a callback (nothing here prints).

:func:`reproduce` settles the run once (its paths, :class:`~hybrid_bench.experiment.setup.RunPaths`; its data and
facts, :class:`~hybrid_bench.experiment.setup.RunSpec`) and hands the stages to an engine
(:mod:`~hybrid_bench.experiment.engines`: this process by default, or submitit jobs), which runs each through the
stage table (:data:`~hybrid_bench.experiment.stages.STAGE_KINDS`).

Everything is resumable: a finished training (same settings) or evaluation (same model revision, task and settings)
is skipped on a rerun; an interrupted training continues from its last checkpoint. Bookkeeping is in
``<output-folder>/reproduce_state.json`` (:mod:`hybrid_bench.experiment.ledger`). Across sessions (a fresh model
store, the output folder committed): a model whose every evaluation is recorded under the revision its exported
training record names (``<output-folder>/training/<name>.json``) is neither retrained nor loaded; one that is only
partly evaluated is retrained, and results of an earlier revision are moved to ``<output-folder>/superseded/``.

Example::

    from hybrid_bench.experiment import PRESETS, reproduce

    summary = reproduce(PRESETS["quick"], "results/reproduce-quick", on_event=lambda e: print(e.text or e.label))
    print(summary.leaderboard, summary.wall_s)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.display import encode_rate, on_encoded
from hybrid_bench.errors import HybridBenchError
from hybrid_bench.experiment.cost import tracker_for_run
from hybrid_bench.experiment.engines import Engine, LocalEngine
from hybrid_bench.experiment.ledger import LEDGER_FILE, Ledger
from hybrid_bench.experiment.plan import model_specs, plan
from hybrid_bench.experiment.presets import EXPERIMENT_TASKS, Preset
from hybrid_bench.experiment.setup import RunPaths, RunSpec, miracl_data, train_topics_data
from hybrid_bench.experiment.stages import SUPERSEDED_DIR, Event, Outcome, StageContext

if TYPE_CHECKING:
    from hybrid_bench.models.inference import Inference

__all__ = ["SUPERSEDED_DIR", "Event", "ReproduceSummary", "default_leaderboard", "reproduce"]


@dataclass
class ReproduceSummary:
    """What :func:`reproduce` did."""

    output_folder: Path
    leaderboard: Path | None
    models: list[str]
    stages: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


def default_leaderboard(output_folder: Path) -> Path:
    """Where a run's leaderboard goes unless named: inside its own results folder (``<output_folder>/leaderboard``),
    so ``bash scripts/main.sh --quick`` never rewrites the committed ``leaderboards/`` of a checkout."""
    return Path(output_folder) / "leaderboard"


def _ignore(_event: Event) -> None:
    return None


def reproduce(
    preset: Preset,
    output_folder: str | os.PathLike[str],
    *,
    base: str = "me5-small",
    alpha_sweep: bool = False,
    leaderboard_out: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    miracl_mirror: str | os.PathLike[str] | None = None,
    train_topics_mirror: str | os.PathLike[str] | None = None,
    locations: RunPaths | None = None,
    batch_size: int = 32,
    inference: Inference | None = None,
    command: str | None = None,
    engine: Engine | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> ReproduceSummary:
    """Train, evaluate and build the leaderboard; skip whatever a previous run with the same settings finished.

    Args:
        preset: sizes of the run (:data:`~hybrid_bench.experiment.presets.PRESETS` or your own ``Preset``).
        output_folder: MTEB results root (``results/``, ``predictions/``, ``reproduce_state.json``).
        base: base model: ``me5-small`` or a sentence-transformers folder (tests use a tiny one).
        alpha_sweep: also train hybrid models with α = 0.25 and 0.75 (each with the preset's seeds).
        leaderboard_out: leaderboard folder (default ``<output_folder>/leaderboard``: a run writes only where it
            was asked to, never over the committed ``leaderboards/`` of a checkout).
        data_dir: local data folder (``lareqa/``, ``miracl-lite/``); ``None``: ``$HYBRID_BENCH_DATA``, then the
            download cache.
        miracl_mirror: MIRACL folder in the ``mteb/MIRACLRetrieval`` layout; ``None``: ``<data_dir>/miracl-lite``.
        train_topics_mirror: the MIRACL train-topic folder (when the preset evaluates
            :data:`~hybrid_bench.experiment.presets.MIRACL_TRAIN_TOPICS`); ``None``: ``<data_dir>/miracl-lite-train``.
        locations: all of the run's paths at once, as the command line resolves them (:class:`RunPaths`, with the
            configured mirrors); instead of ``data_dir`` and the mirrors (default: those, and the model store of
            ``$HYBRID_BENCH_HOME``, read now).
        batch_size: encoding batch size of the evaluations.
        inference: backend and dtype of every evaluation (default torch float32), recorded in each model's
            revision, so the ledger and the results never mix settings.
        command: the command line, recorded in the leaderboard.
        engine: where the stages run (:mod:`hybrid_bench.experiment.engines`; default this process, in order).
        on_event: called with every :class:`Event` (default: ignore them).

    Returns:
        :class:`ReproduceSummary` with each stage's wall time.

    Raises:
        HybridBenchError: bad settings or data; with an engine, stages whose jobs failed (after every other stage
            that could run ran).
    """
    report = on_event or _ignore
    start = time.perf_counter()
    out = Path(output_folder)
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(preset.tasks) - set(EXPERIMENT_TASKS))
    if unknown:
        raise HybridBenchError(f"reproduce evaluates {list(EXPERIMENT_TASKS)}; unknown task(s) {unknown}")
    if locations is None:
        locations = RunPaths.resolve(data_dir, miracl_mirror=miracl_mirror, train_topics_mirror=train_topics_mirror)
    elif data_dir is not None or miracl_mirror is not None or train_topics_mirror is not None:
        raise HybridBenchError("reproduce: give either locations or data_dir / miracl_mirror / train_topics_mirror")
    specs = model_specs(preset, base, alpha_sweep=alpha_sweep)
    stages = plan(preset, base, alpha_sweep=alpha_sweep)
    ledger = Ledger(out / LEDGER_FILE)
    ledger.data["preset"] = dataclasses.asdict(preset)
    ledger.data["base"] = base
    report(Event("note", preset.describe()))

    def note(text: str) -> None:
        report(Event("note", text))

    miracl_folder, miracl_languages, notes = miracl_data(preset, out, locations, note)
    from hybrid_bench.models.inference import REFERENCE, bf16_training_warning, cpu_facts

    choice = inference or REFERENCE
    notes = [*notes, f"evaluation inference: {choice.label} (backend-dtype, also the suffix of every "
             "evaluated model's revision unless torch-float32)"]
    spec = RunSpec(preset, base, out, locations, choice, batch_size=batch_size, miracl_folder=miracl_folder,
                   miracl_languages=miracl_languages,
                   train_topics_folder=train_topics_data(preset, out, locations, note))
    board = Path(leaderboard_out) if leaderboard_out else default_leaderboard(out)
    # said once, before the first model that is really trained
    warning = bf16_training_warning() if preset.bf16 else None
    ctx = StageContext(spec, ledger, report, board=board, command=command, started=start, notes=notes,
                       pending_notes=[warning] if warning else [])
    finished: dict[int, dict[str, Any]] = {}

    def begin(position: int, job: str) -> None:
        report(Event("begin", stage=stages[position - 1], index=position, total=len(stages), job=job))

    def end(position: int, outcome: Outcome | None, wall: float, failed: str) -> None:
        stage = stages[position - 1]
        if outcome is not None:
            finished[position] = {"stage": stage.label, "wall_s": round(wall, 1), "skipped": not outcome.ran,
                                  "earlier_wall_s": outcome.earlier_wall_s}
            ctx.done[:] = [finished[p] for p in sorted(finished)]
        report(Event("end", stage=stage, index=position, total=len(stages), wall_s=wall,
                     skipped=outcome is not None and not outcome.ran, failed=failed))

    # what the rest of the run will cost here: said once measured, then kept current (hybrid_bench.experiment.cost;
    # stages an engine runs as jobs elsewhere are counted when they end, not while they run)
    ctx.tracker, ctx.to_train = tracker_for_run(
        stages, preset=preset, evaluator=ctx.evaluator, ledger=ledger, models=spec.paths.models,
        report=lambda line, seconds: report(Event("cost", line, wall_s=seconds, total=len(stages))),
        bf16_emulated=bool(warning) and not cpu_facts().cuda)
    tracker = ctx.tracker
    try:
        with on_encoded(lambda n: tracker.encoded(n, encode_rate())):
            (engine or LocalEngine()).execute(ctx, stages, begin, end)
    finally:
        ledger.merge_marks()  # an engine's jobs' marks, also when stages failed
    wall = time.perf_counter() - start
    ledger.data.setdefault("runs", []).append({"command": command, "wall_s": round(wall, 1), "stages": ctx.done})
    ledger.save()
    report(Event("note", f"reproduce ({preset.name}) finished in {wall:.0f} s; results: {out}; leaderboard: {board}"))
    if miracl_folder is not None:
        from hybrid_bench.data.miracl import MIRACL_REPO

        report(Event("note", "to rebuild the leaderboard with MIRACL intervals, point the mirror at the same data: "
                     f"HYBRID_BENCH_MIRRORS='{MIRACL_REPO}={miracl_folder}' hybrid-bench leaderboard {out} --out DIR"))
    return ReproduceSummary(out, board, [s.name for s in specs], list(ctx.done), round(wall, 1))
