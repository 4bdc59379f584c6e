"""Run the reproduction experiment: the stages of :func:`~hybrid_bench.experiment.plan.plan`, resumably, reporting
progress through a callback (nothing here prints).

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
from typing import TYPE_CHECKING, Any, Literal

from hybrid_bench import paths
from hybrid_bench.errors import DataError, HybridBenchError
from hybrid_bench.display import encode_rate, on_encoded, texts_encoded
from hybrid_bench.experiment import leaderboard_stage
from hybrid_bench.experiment.cost import CostTracker, tracker_for_run
from hybrid_bench.experiment.eval_stage import Evaluator, load_encoder, model_identity, mteb_name
from hybrid_bench.experiment.ledger import LEDGER_FILE, Ledger
from hybrid_bench.experiment.plan import ModelSpec, Stage, model_specs, plan
from hybrid_bench.experiment.presets import EXPERIMENT_TASKS, MIRACL_TASKS, MIRACL_TRAIN_TOPICS, Preset
from hybrid_bench.experiment.train_stage import (MODEL_REVISION, ensure_trained, export_record, exported_record,
                                                 trained_record, training_data_sha256)
from hybrid_bench.leaderboard.write import summary_text

if TYPE_CHECKING:
    from hybrid_bench.models.inference import Inference

__all__ = ["SUPERSEDED_DIR", "Event", "ReproduceSummary", "default_leaderboard", "reproduce"]

#: where results of an earlier revision of a retrained model go (under the output folder; never committed)
SUPERSEDED_DIR = "superseded"


@dataclass(frozen=True)
class Event:
    """One progress report of :func:`reproduce`.

    ``kind``: ``"note"`` (a line worth showing: what the preset leaves out, which MIRACL data, the leaderboard's
    headline tables, where the results went; in ``text``), ``"begin"`` (a stage starts), ``"end"`` (a stage
    finished: ``wall_s``, ``skipped``) or ``"cost"`` (the projected wall time of the whole remaining run on this
    machine, :mod:`hybrid_bench.experiment.cost`: its line in ``text``, its seconds in ``wall_s``, ``None`` while a
    rate is unmeasured). ``index`` counts stages from 1 of ``total``.
    """

    kind: Literal["note", "begin", "end", "cost"]
    text: str = ""
    stage: Stage | None = None
    index: int = 0
    total: int = 0
    wall_s: float | None = None
    skipped: bool = False

    @property
    def label(self) -> str:
        return self.stage.label if self.stage is not None else ""


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
    batch_size: int = 32,
    inference: Inference | None = None,
    command: str | None = None,
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
        data_dir: local data folder (``lareqa/``, ``miracl-lite/``); ``None``: the default of
            :func:`hybrid_bench.paths.configured_data_dir` (``$HYBRID_BENCH_DATA``), then the download cache.
        miracl_mirror: MIRACL folder in the ``mteb/MIRACLRetrieval`` layout (the CLI passes the configured mirror);
            ``None``: ``<data_dir>/miracl-lite``.
        train_topics_mirror: the MIRACL train-topic folder (when the preset evaluates
            :data:`~hybrid_bench.experiment.presets.MIRACL_TRAIN_TOPICS`; the CLI passes the configured mirror);
            ``None``: ``<data_dir>/miracl-lite-train``.
        batch_size: encoding batch size of the evaluations.
        inference: backend and dtype of every evaluation (default torch float32), recorded in each model's
            revision, so the ledger and the results never mix settings.
        command: the command line, recorded in the leaderboard.
        on_event: called with every :class:`Event` (default: ignore them).

    Returns:
        :class:`ReproduceSummary` with each stage's wall time.
    """
    report = on_event or _ignore
    start = time.perf_counter()
    out = Path(output_folder)
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(preset.tasks) - set(EXPERIMENT_TASKS))
    if unknown:
        raise HybridBenchError(f"reproduce evaluates {list(EXPERIMENT_TASKS)}; unknown task(s) {unknown}")
    specs = model_specs(preset, base, alpha_sweep=alpha_sweep)
    stages_planned = plan(preset, base, alpha_sweep=alpha_sweep)
    total = len(stages_planned)
    ledger = Ledger(out / LEDGER_FILE)
    ledger.data["preset"] = dataclasses.asdict(preset)
    ledger.data["base"] = base
    report(Event("note", preset.describe()))

    miracl_folder, miracl_languages, notes = _miracl_data(preset, out, report, data_dir, miracl_mirror)
    from hybrid_bench.models.inference import REFERENCE, bf16_training_warning, cpu_facts

    notes = [*notes, f"evaluation inference: {(inference or REFERENCE).label} (backend-dtype, also the suffix of every "
             "evaluated model's revision unless torch-float32)"]
    train_topics = _train_topics_data(preset, out, report, data_dir, train_topics_mirror)
    evaluator = Evaluator(preset, out, ledger, batch_size=batch_size, miracl_folder=miracl_folder,
                          miracl_languages=miracl_languages, data_dir=data_dir, train_topics_folder=train_topics)
    board = Path(leaderboard_out) if leaderboard_out else default_leaderboard(out)
    choice = inference or REFERENCE
    # said once, before the first model that is really trained (see _train)
    warning = bf16_training_warning() if preset.bf16 else None
    pending_notes = [warning] if warning else []
    # (mteb name, revision) of each model, to find its finished evaluations without loading it
    identities: dict[str, tuple[str, str] | None] = {}
    # what the rest of the run will cost here: said once measured, then kept current (hybrid_bench.experiment.cost)
    tracker, to_train = tracker_for_run(stages_planned, preset=preset, evaluator=evaluator, ledger=ledger,
                                        report=lambda line, s: report(Event("cost", line, wall_s=s, total=total)),
                                        bf16_emulated=bool(warning) and not cpu_facts().cuda)
    with on_encoded(lambda n: tracker.encoded(n, encode_rate())):
        done = _run_stages(stages_planned, preset=preset, base=base, out=out, evaluator=evaluator, choice=choice,
                           inference=inference, data_dir=data_dir, report=report, pending_notes=pending_notes,
                           identities=identities, tracker=tracker, to_train=to_train, board=board, command=command,
                           notes=notes, start=start)
    wall = time.perf_counter() - start
    ledger.data.setdefault("runs", []).append({"command": command, "wall_s": round(wall, 1), "stages": done})
    ledger.save()
    report(Event("note", f"reproduce ({preset.name}) finished in {wall:.0f} s; results: {out}; leaderboard: {board}"))
    if miracl_folder is not None:
        from hybrid_bench.data.miracl import MIRACL_REPO

        report(Event("note", "to rebuild the leaderboard with MIRACL intervals, point the mirror at the same data: "
                     f"HYBRID_BENCH_MIRRORS='{MIRACL_REPO}={miracl_folder}' hybrid-bench leaderboard {out} --out DIR"))
    return ReproduceSummary(out, board, [s.name for s in specs], done, round(wall, 1))


def _run_stages(stages_planned: list[Stage], *, preset: Preset, base: str, out: Path, evaluator: Evaluator,
                choice: Inference, inference: Inference | None, data_dir: str | None,
                report: Callable[[Event], None], pending_notes: list[str],
                identities: dict[str, tuple[str, str] | None], tracker: CostTracker, to_train: set[str],
                board: Path, command: str | None, notes: list[str], start: float) -> list[dict[str, Any]]:
    """Run every stage in order (see :func:`reproduce`); returns each stage's record (label, wall time, skipped)."""
    done: list[dict[str, Any]] = []
    encoders: dict[str, Any] = {}
    total = len(stages_planned)
    for index, stage in enumerate(stages_planned, 1):
        t0, encoded_before = time.perf_counter(), texts_encoded()
        report(Event("begin", stage=stage, index=index, total=total))
        earlier: float | None = None
        if stage.kind == "train":
            assert stage.model is not None
            ran, earlier, identities[stage.model.name] = _train(preset, base, stage.model, out, evaluator, choice,
                                                                data_dir, report, pending_notes,
                                                                on_step_time=tracker.measured_step)
            if stage.model.name in to_train:
                tracker.trained(preset.steps)
        elif stage.kind == "evaluate":
            assert stage.model is not None and stage.task is not None
            name = stage.model.name
            if name not in identities:
                identities[name] = model_identity(stage.model, base, choice)
            identity = identities[name]
            recorded = evaluator.recorded(*identity, stage.task) if identity is not None else None
            if recorded is not None:  # finished: no model load
                ran, earlier = False, recorded.get("wall_s")
            else:
                if name not in encoders:
                    encoders.clear()  # one model in memory at a time
                    encoders[name] = load_encoder(stage.model, base, max_seq_length=preset.eval_max_seq_length,
                                                  inference=inference)
                ran, earlier = evaluator.run(encoders[name], stage.task)
                tracker.evaluated(texts_encoded() - encoded_before, time.perf_counter() - t0)
        else:
            encoders.clear()
            # per-query MIRACL scores need the qrels of the same (sampled) data: the evaluator's tasks
            text = leaderboard_stage.preamble(preset, base, command, [*done, {"stage": stage.label,
                                              "wall_s": None}], time.perf_counter() - start, notes)
            written = leaderboard_stage.build(out, board, preset=preset, qrels_loader=evaluator.qrels,
                                              preamble_text=text, data_dir=data_dir)
            report(Event("note", summary_text(written, headline_only=True)))
            ran = True
        wall = time.perf_counter() - t0
        done.append({"stage": stage.label, "wall_s": round(wall, 1), "skipped": not ran,
                     "earlier_wall_s": earlier})
        report(Event("end", stage=stage, index=index, total=total, wall_s=wall, skipped=not ran))
    return done


def _train(preset: Preset, base: str, spec: ModelSpec, out: Path, evaluator: Evaluator, inference: Inference,
           data_dir: str | None, report: Callable[[Event], None], pending_notes: list[str], *,
           on_step_time: Callable[[float], None] | None = None) -> tuple[bool, float | None, tuple[str, str] | None]:
    """The train stage of ``spec``: (trained, earlier wall time, (mteb name, revision) of its evaluations).

    ``pending_notes`` are reported (and emptied) before the first model that is not in the model store already.

    Not trained (nor loaded) when the model store lacks it and its exported training record names a revision under
    which every evaluation of this run is recorded: a committed results folder continues in a fresh session.
    """
    exported = exported_record(preset, base, spec, out,
                               data_sha256=training_data_sha256(preset, base, spec, data_dir=data_dir))
    old = (mteb_name(spec.name), inference.revision(exported[MODEL_REVISION]) or "") if exported else None
    if old is not None and trained_record(spec.name) is None:
        if all(evaluator.recorded(*old, task) for task in preset.tasks):
            return False, exported.get("wall_time_s") if exported else None, old
        report(Event("note", f"{spec.name}: not fully evaluated as revision {old[1]} in an earlier run and not in "
                     "this model store: training it again with the same settings"))
    if pending_notes and trained_record(spec.name) is None:
        for note in pending_notes:
            report(Event("note", note))
        pending_notes.clear()
    _, ran = ensure_trained(preset, base, spec, data_dir=data_dir, on_step_time=on_step_time)
    export_record(spec.name, out)
    identity = model_identity(spec, base, inference)
    if old is not None and identity is not None and identity[1] != old[1]:
        moved = _set_aside_revision(out, *old)
        report(Event("note", f"{spec.name}: this model is revision {identity[1]}, the earlier results are for "
                     f"revision {old[1]}; never mixed: {len(moved)} folder(s) moved to {out / SUPERSEDED_DIR}"))
    return ran, None if ran else (trained_record(spec.name) or {}).get("wall_time_s"), identity


def _set_aside_revision(out: Path, name: str, revision: str) -> list[Path]:
    """Move the results and per-query files of model ``name`` at ``revision`` to ``<out>/superseded/`` (the
    leaderboard then sees only the current revision); returns where they went."""
    import shutil

    path_name = name.replace("/", "__")
    moved = []
    for folder in (out / "results" / path_name / revision, out / "predictions" / f"{path_name}__{revision}"):
        if folder.is_dir():
            target = out / SUPERSEDED_DIR / folder.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(target))
            moved.append(target)
    return moved


def _miracl_data(preset: Preset, out: Path, report: Callable[[Event], None], data_dir: str | os.PathLike[str] | None,
                 mirror: str | os.PathLike[str] | None) -> tuple[Path | None, tuple[str, ...] | None, list[str]]:
    """The MIRACL folder this run evaluates on (sampled per preset), the languages to evaluate when the preset names
    none (those the folder holds), and notes for the leaderboard."""
    if not any(t in MIRACL_TASKS for t in preset.tasks):
        return None, None, []
    from hybrid_bench.data.miracl import MIRACL_LANGS, MIRACL_REPO, available_languages
    from hybrid_bench.data.miracl_sample import pool_summary, sample_miracl_mirror

    source = Path(mirror) if mirror is not None else _default_miracl_folder(data_dir, MIRACL_REPO)
    if preset.samples_miracl:
        folder = sample_miracl_mirror(source, out / "data" / f"miracl-{preset.name}", queries=preset.miracl_queries,
                                      fill=preset.miracl_fill, seed=preset.seed,
                                      full_min_queries=preset.miracl_full_min_queries)
        pool = pool_summary(folder)
    else:
        folder = source
        pool = "MIRACL pool: the whole mirror, every passage of every language"
    report(Event("note", f"MIRACL data: {folder} (a local mirror: not comparable with official MIRACL numbers)"))
    report(Event("note", pool))
    notes = [pool]
    held = available_languages(folder)
    absent = [lang for lang in MIRACL_LANGS if lang not in held]
    if absent and not preset.languages:
        # e.g. miracl-lite has no Thai: evaluate what the mirror holds and say so in the leaderboard
        # (a preset that names its languages gets a clear error for a missing one instead)
        note = (f"MIRACL: the mirror has no data for {', '.join(absent)}; both MIRACL tasks are evaluated "
                f"on the other {len(held)} languages")
        report(Event("note", note))
        return folder, tuple(held), [*notes, note]
    return folder, None, notes


def _train_topics_data(preset: Preset, out: Path, report: Callable[[Event], None],
                       data_dir: str | os.PathLike[str] | None, mirror: str | os.PathLike[str] | None) -> Path | None:
    """The MIRACL train-topic folder this run evaluates on (sampled like MIRACL when the preset samples it)."""
    if MIRACL_TRAIN_TOPICS not in preset.tasks:
        return None
    from hybrid_bench.data.miracl_sample import sample_miracl_mirror
    from hybrid_bench.tasks.miracl_train_topics import FOLDER, REPO

    source = Path(mirror) if mirror is not None else None
    if source is None:
        data = paths.configured_data_dir(data_dir)
        source = data / FOLDER if data is not None else None
    if source is None or not (source / "README.md").is_file():
        raise DataError(f"no MIRACL train-topic data: give a data folder containing {FOLDER}/ (--data-dir / "
                        f"HYBRID_BENCH_DATA) or configure a mirror (HYBRID_BENCH_MIRRORS='{REPO}=/path/to/{FOLDER}'),"
                        f" or leave {MIRACL_TRAIN_TOPICS} out of --tasks", item=REPO)
    folder = source
    if preset.samples_miracl:
        folder = sample_miracl_mirror(source, out / "data" / f"miracl-train-{preset.name}",
                                      queries=preset.miracl_queries, fill=preset.miracl_fill, seed=preset.seed,
                                      full_min_queries=preset.miracl_full_min_queries)
    report(Event("note", f"MIRACL train topics: {folder} (queries the base model saw in fine-tuning; see the task card)"))
    return folder


def _default_miracl_folder(data_dir: str | os.PathLike[str] | None, repo: str) -> Path:
    """``<data_dir>/miracl-lite`` (the local data folder's MIRACL mirror), when there is one."""
    data = paths.configured_data_dir(data_dir)
    if data is not None and (data / "miracl-lite" / "README.md").is_file():
        return data / "miracl-lite"
    raise DataError(
        f"no MIRACL data: configure a mirror (HYBRID_BENCH_MIRRORS='{repo}=/path/to/miracl-lite'), or give a data "
        "folder containing miracl-lite/ (--data-dir / HYBRID_BENCH_DATA), or leave the MIRACL tasks out with --tasks",
        item=repo)
