"""The experiment's stage kinds, one table: :data:`STAGE_KINDS` maps each kind of :class:`~.plan.Stage` (train,
evaluate, leaderboard) to its :class:`StageKind` — the handler that runs it and whether it still has work to do —,
and :func:`run_stage` dispatches through it. The runner (:mod:`~hybrid_bench.experiment.runner`) and the engines
(:mod:`~hybrid_bench.experiment.engines`) ask this table; a new kind of stage is one handler and one entry here.

A handler runs in the process its :class:`StageContext` belongs to: the coordinating process, or an engine's job
(which builds a context of its own from the run's :class:`~hybrid_bench.experiment.setup.RunSpec`). It reports
notes through the context and returns an :class:`Outcome`; everything it writes goes to the run's output folder and
the model store, atomically.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hybrid_bench.display import texts_encoded
from hybrid_bench.experiment import leaderboard_stage
from hybrid_bench.experiment.cost import CostTracker
from hybrid_bench.experiment.eval_stage import Evaluator, load_encoder, model_identity, mteb_name
from hybrid_bench.experiment.ledger import Ledger
from hybrid_bench.experiment.plan import Stage
from hybrid_bench.experiment.setup import RunSpec
from hybrid_bench.experiment.train_stage import (MODEL_REVISION, export_record, exported_record, stored_is_current,
                                                 train, trained_record, training_data_sha256)

__all__ = ["STAGE_KINDS", "SUPERSEDED_DIR", "Event", "Outcome", "StageContext", "StageKind", "has_work", "run_stage"]

#: where results of an earlier revision of a retrained model go (under the output folder; never committed)
SUPERSEDED_DIR = "superseded"


@dataclass(frozen=True)
class Event:
    """One progress report of a run.

    ``kind``: ``"note"`` (a line worth showing: what the preset leaves out, which MIRACL data, the leaderboard's
    headline tables, where the results went; in ``text``), ``"begin"`` (a stage starts; ``job``: the engine's job
    id when it runs as a job), ``"end"`` (a stage finished: ``wall_s``, ``skipped``; ``failed``: the reason it
    did not finish, when an engine's job failed) or ``"cost"`` (the projected wall time of the whole remaining run
    on this machine, :mod:`hybrid_bench.experiment.cost`: its line in ``text``, its seconds in ``wall_s``, ``None``
    while a rate is unmeasured). ``index`` counts stages from 1 of ``total``.
    """

    kind: Literal["note", "begin", "end", "cost"]
    text: str = ""
    stage: Stage | None = None
    index: int = 0
    total: int = 0
    wall_s: float | None = None
    skipped: bool = False
    job: str = ""
    failed: str = ""

    @property
    def label(self) -> str:
        return self.stage.label if self.stage is not None else ""


@dataclass(frozen=True)
class Outcome:
    """What a stage did: ``ran`` (work was done; ``False``: it was finished before), the wall time of the run that
    did it when skipped (``earlier_wall_s``), and for a training the (mteb name, revision) its evaluations are filed
    under (``identity``), plus the notes it reported (``notes``: what a job hands back to its coordinator)."""

    ran: bool
    earlier_wall_s: float | None = None
    identity: tuple[str, str] | None = None
    notes: tuple[str, ...] = ()


@dataclass
class StageContext:
    """One process's state while it runs stages of one run: the :class:`RunSpec`, the ledger, where notes go, and
    what it keeps between stages (the evaluator's loaded tasks, one loaded model, each model's identity).

    ``pending_notes`` are reported (and emptied) before the first model that is really trained. The leaderboard
    stage also reads ``done`` (the stages so far, for its table), ``notes`` (for its preamble), ``board``,
    ``command`` and ``started`` (``time.perf_counter()`` at the start of the run). ``tracker`` (when set) receives
    the measured step times and evaluation rates of the stages run here, and ``to_train`` names the models it
    counts as still to train (:func:`~hybrid_bench.experiment.cost.tracker_for_run`).
    """

    spec: RunSpec
    ledger: Ledger
    report: Callable[[Event], None]
    board: Path | None = None
    command: str | None = None
    started: float = 0.0
    notes: list[str] = field(default_factory=list)
    pending_notes: list[str] = field(default_factory=list)
    done: list[dict[str, Any]] = field(default_factory=list)
    identities: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    encoders: dict[str, Any] = field(default_factory=dict)
    tracker: CostTracker | None = None
    to_train: set[str] = field(default_factory=set)
    _evaluator: Evaluator | None = None

    @property
    def evaluator(self) -> Evaluator:
        """The run's evaluations (built on first use: a job that only trains never loads a task)."""
        if self._evaluator is None:
            spec = self.spec
            self._evaluator = Evaluator(spec.preset, spec.out, self.ledger, batch_size=spec.batch_size,
                                        miracl_folder=spec.miracl_folder, miracl_languages=spec.miracl_languages,
                                        data_dir=spec.data_dir, train_topics_folder=spec.train_topics_folder)
        return self._evaluator

    def note(self, text: str) -> None:
        self.report(Event("note", text))

    def identity(self, stage: Stage) -> tuple[str, str] | None:
        """(mteb name, revision) of ``stage``'s model, looked up once (no model load)."""
        assert stage.model is not None
        name = stage.model.name
        if name not in self.identities:
            self.identities[name] = model_identity(stage.model, self.spec.base, self.spec.inference)
        return self.identities[name]


@dataclass(frozen=True)
class StageKind:
    """How one kind of stage is run: ``run`` does it (or finds it done) and returns its :class:`Outcome`;
    ``has_work`` says, without doing it, whether it has work left (``False``: ``run`` only finds it done, so an
    engine runs it in the coordinating process instead of as a job); ``job``: an engine may run it as a job."""

    run: Callable[[StageContext, Stage], Outcome]
    has_work: Callable[[StageContext, Stage], bool]
    job: bool = True


# ---- train -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Trained:
    """What is known of a training before it runs: the store's record (``None``: not stored), the content hash of
    its data, the training record exported with the run's results when it is of this recipe, the (mteb name,
    revision) of those results (``old``; ``None``: no such export), and - when the store lacks the model - whether
    every evaluation of the run is recorded under that revision."""

    stored: dict[str, Any] | None
    data_sha256: str
    exported: dict[str, Any] | None
    old: tuple[str, str] | None
    evaluated: bool


def _trained(ctx: StageContext, stage: Stage) -> _Trained:
    spec, run = stage.model, ctx.spec
    assert spec is not None
    stored = trained_record(spec.name, run.paths.models)
    data_sha256 = training_data_sha256(run.preset, run.base, spec, data_dir=run.data_dir)
    exported = exported_record(run.preset, run.base, spec, run.out, data_sha256=data_sha256)
    old = (mteb_name(spec.name), run.inference.revision(exported[MODEL_REVISION]) or "") if exported else None
    evaluated = (stored is None and old is not None
                 and all(ctx.evaluator.recorded(*old, task) for task in run.preset.tasks))
    return _Trained(stored, data_sha256, exported, old, evaluated)


def _train(ctx: StageContext, stage: Stage) -> Outcome:
    """Train ``stage.model`` unless done; export its training record next to the results.

    Not trained (nor loaded) when the model store lacks it and its exported training record names a revision under
    which every evaluation of this run is recorded: a committed results folder continues in a fresh session.
    """
    spec, run = stage.model, ctx.spec
    assert spec is not None
    models, known = run.paths.models, _trained(ctx, stage)
    old, stored = known.old, known.stored
    if old is not None and stored is None:
        if known.evaluated:  # its evaluations are found under the exported revision
            ctx.identities[spec.name] = old
            return Outcome(False, (known.exported or {}).get("wall_time_s"), old)
        ctx.note(f"{spec.name}: not fully evaluated as revision {old[1]} in an earlier run and not in this model "
                 "store: training it again with the same settings")
    ran = not stored_is_current(run.preset, run.base, spec, stored, models / spec.name, data_sha256=known.data_sha256)
    if ran:
        for text in ctx.pending_notes:
            ctx.note(text)
        ctx.pending_notes.clear()
        train(run.preset, run.base, spec, data_dir=run.data_dir,
              on_step_time=ctx.tracker.measured_step if ctx.tracker is not None else None)
    if ctx.tracker is not None and spec.name in ctx.to_train:
        ctx.tracker.trained(run.preset.steps)
    record = trained_record(spec.name, models) if ran else stored  # a new model has a new record
    export_record(spec.name, run.out, record, models=models)
    ctx.identities.pop(spec.name, None)
    identity = ctx.identity(stage)
    if old is not None and identity is not None and identity[1] != old[1]:
        moved = _set_aside_revision(ctx, *old)
        ctx.note(f"{spec.name}: this model is revision {identity[1]}, the earlier results are for revision "
                 f"{old[1]}; never mixed: {len(moved)} folder(s) moved to {run.out / SUPERSEDED_DIR}")
    return Outcome(ran, None if ran else (record or {}).get("wall_time_s"), identity)


def _train_has_work(ctx: StageContext, stage: Stage) -> bool:
    """A training has work unless the store holds the model of this recipe, or the store lacks it and every
    evaluation of its exported revision is recorded (then it is not trained at all)."""
    assert stage.model is not None
    known, run = _trained(ctx, stage), ctx.spec
    if known.stored is None:
        return not known.evaluated
    return not stored_is_current(run.preset, run.base, stage.model, known.stored,
                                 run.paths.models / stage.model.name, data_sha256=known.data_sha256)


def _set_aside_revision(ctx: StageContext, name: str, revision: str) -> list[Path]:
    """Move the results and per-query files of model ``name`` at ``revision`` to ``<out>/superseded/`` (the
    leaderboard then sees only the current revision); returns where they went."""
    out, moved = ctx.spec.out, []
    for folder in ctx.evaluator.cache.model_folders(name, revision):
        if folder.is_dir():
            target = out / SUPERSEDED_DIR / folder.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(target))
            moved.append(target)
    return moved


# ---- evaluate ----------------------------------------------------------------------------------------------------

def _recorded(ctx: StageContext, stage: Stage) -> dict[str, Any] | None:
    """The ledger's record of ``stage``'s finished evaluation, found without loading the model (``None``: none)."""
    assert stage.task is not None
    identity = ctx.identity(stage)
    return ctx.evaluator.recorded(*identity, stage.task) if identity is not None else None


def _evaluate(ctx: StageContext, stage: Stage) -> Outcome:
    """Evaluate ``stage.model`` on ``stage.task`` unless recorded; one model is kept loaded between stages."""
    assert stage.model is not None and stage.task is not None
    recorded = _recorded(ctx, stage)
    if recorded is not None:  # finished: no model load
        return Outcome(False, recorded.get("wall_s"))
    started, encoded_before = time.perf_counter(), texts_encoded()
    name = stage.model.name
    if name not in ctx.encoders:
        ctx.encoders.clear()  # one model in memory at a time
        run = ctx.spec
        ctx.encoders[name] = load_encoder(stage.model, run.base, max_seq_length=run.preset.eval_max_seq_length,
                                          inference=run.inference)
    ran, earlier = ctx.evaluator.run(ctx.encoders[name], stage.task)
    if ctx.tracker is not None:
        ctx.tracker.evaluated(texts_encoded() - encoded_before, time.perf_counter() - started)
    return Outcome(ran, earlier)


# ---- leaderboard -------------------------------------------------------------------------------------------------

def _leaderboard(ctx: StageContext, stage: Stage) -> Outcome:
    """Build the leaderboard of the run's results folder, with the preamble of its stages so far."""
    from hybrid_bench.leaderboard.write import summary_text

    ctx.encoders.clear()
    run = ctx.spec
    text = leaderboard_stage.preamble(run.preset, run.base, ctx.command,
                                      [*ctx.done, {"stage": stage.label, "wall_s": None}],
                                      time.perf_counter() - ctx.started, ctx.notes)
    assert ctx.board is not None
    # per-query MIRACL scores need the qrels of the same (sampled) data: the evaluator's tasks
    written = leaderboard_stage.build(run.out, ctx.board, preset=run.preset, qrels_loader=ctx.evaluator.qrels,
                                      preamble_text=text, data_dir=run.data_dir)
    ctx.note(summary_text(written, headline_only=True))
    return Outcome(True)


#: every kind of stage and how it is run (see :class:`StageKind`)
STAGE_KINDS: dict[str, StageKind] = {
    "train": StageKind(_train, _train_has_work),
    "evaluate": StageKind(_evaluate, lambda ctx, stage: _recorded(ctx, stage) is None),
    # it reads every result and the run's own stage table: always in the coordinating process
    "leaderboard": StageKind(_leaderboard, lambda ctx, stage: True, job=False),
}


def run_stage(ctx: StageContext, stage: Stage) -> Outcome:
    """Run ``stage`` through :data:`STAGE_KINDS`."""
    return STAGE_KINDS[stage.kind].run(ctx, stage)


def has_work(ctx: StageContext, stage: Stage) -> bool:
    """Whether ``stage`` has work left (see :class:`StageKind`)."""
    return STAGE_KINDS[stage.kind].has_work(ctx, stage)
