"""The experiment's plan: which models exist and which stages (train / evaluate / leaderboard) a run goes through.

Pure functions of a :class:`~hybrid_bench.experiment.presets.Preset` and a base model: nothing here reads or writes
files, so a plan can be printed, tested and compared before any work starts. From one base (``me5-small``) three
retrievers are fine-tuned with identical data, step budget and batch size; only the batch composition differs:
X-X-mono (α = 1), X-Y (α = 0) and hybrid (α = 0.5; ``alpha_sweep`` adds 0.25 and 0.75, so that the sweep covers
α ∈ {0, 0.25, 0.5, 0.75, 1}). Each of them is trained once per training seed (``preset.seeds`` seeds: the preset's
seed, then the next integers), the same seeds for every strategy, so that the leaderboard can compare strategies
seed by seed and show the seed-to-seed spread. Every model is evaluated on every task of the preset right after it
is trained (the base first, then seed by seed: mono, cross, hybrid), so a run cut short leaves finished models, and
one leaderboard is built last.

Example::

    from hybrid_bench.experiment import PRESETS, plan

    for stage in plan(PRESETS["quick"], "me5-small"):
        print(stage.label)  # "evaluate me5-small on ...", "train mono-me5-small-quick (α=1)", ..., "leaderboard"
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hybrid_bench.experiment.presets import Preset
from hybrid_bench.training.records import StrategyOf

__all__ = ["ModelSpec", "Stage", "base_label", "dependencies", "model_specs", "plan", "train_config",
           "training_seeds"]


@dataclass(frozen=True)
class ModelSpec(StrategyOf):
    """One model of the experiment: the base (``strategy is None``) or a training run."""

    name: str
    strategy: str | None = None
    alpha: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Stage:
    """One unit of work of a run; ``label`` is what progress reports and the leaderboard's stage table show."""

    kind: Literal["train", "evaluate", "leaderboard"]
    model: ModelSpec | None = None
    task: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "train":
            assert self.model is not None
            return f"train {self.model.name} (α={self.model.resolved_alpha:g})"
        if self.kind == "evaluate":
            assert self.model is not None
            return f"evaluate {self.model.name} on {self.task}"
        return "leaderboard"


def base_label(base: str) -> str:
    """Short name of the base for model names: ``me5-small`` or a folder's name."""
    return Path(base).name if os.sep in base or Path(base).is_dir() else base


def training_seeds(preset: Preset) -> list[int]:
    """The training seeds of a run: the first (``preset.first_seed``, else ``preset.seed``) and the next
    ``preset.seeds − 1`` integers (42, 43, 44; a replication with ``first_seed = 45``: 45, 46, ...)."""
    first = preset.training_seed_start
    return [first + i for i in range(preset.seeds)]


def model_specs(preset: Preset, base: str, *, alpha_sweep: bool = False) -> list[ModelSpec]:
    """The base plus mono (α=1), cross (α=0), hybrid (α=0.5) [+ hybrid α=0.25, 0.75], per training seed.

    Names follow the preset; the preset's own seed (``preset.seed``) keeps the plain name — so the full preset's
    first-seed models are the model-table names ``mono-me5-small`` etc. — and every other seed adds ``-seed<N>``,
    so a replication with new seeds (``first_seed``) never reuses or replaces a model of an earlier run.
    For the quick preset (one seed) and ``me5-small``: ``me5-small``, ``mono-me5-small-quick``,
    ``cross-me5-small-quick``, ``hybrid-me5-small-quick``; with ``seeds = 2`` also ``mono-me5-small-quick-seed43``, ...
    """
    label, suffix = base_label(base), preset.model_suffix
    arms: list[tuple[str, str, float | None]] = [(f"mono-{label}{suffix}", "mono", None),
                                                 (f"cross-{label}{suffix}", "cross", None),
                                                 (f"hybrid-{label}{suffix}", "hybrid", 0.5)]
    if alpha_sweep:
        arms += [(f"hybrid-{label}{suffix}-a{a:g}", "hybrid", a) for a in (0.25, 0.75)]
    plain = preset.seed
    return [ModelSpec(label), *(ModelSpec(name if seed == plain else f"{name}-seed{seed}", strategy, alpha, seed)
                                for seed in training_seeds(preset) for name, strategy, alpha in arms)]


def plan(preset: Preset, base: str, *, alpha_sweep: bool = False) -> list[Stage]:
    """Every stage of a run in order: the base's evaluations, then model by model (seed-major, as
    :func:`model_specs` lists them) its training and its evaluations, the leaderboard last.

    Each model is finished before the next starts, so a run that ends early (a session's time limit) leaves
    evaluated models whose results can be committed, not a row of trained but unevaluated ones.
    """
    stages: list[Stage] = []
    for spec in model_specs(preset, base, alpha_sweep=alpha_sweep):
        stages += [*([] if spec.is_base else [Stage("train", spec)]),
                   *(Stage("evaluate", spec, task) for task in preset.tasks)]
    return [*stages, Stage("leaderboard")]


def dependencies(stages: Sequence[Stage]) -> dict[int, frozenset[int]]:
    """What each stage of ``stages`` (by its position) needs finished before it starts: a model's evaluations need
    its training, the leaderboard needs every other stage; the rest (the trainings, the base's evaluations) need
    nothing, so an engine may run them at once."""
    trainings = {stage.model.name: i for i, stage in enumerate(stages) if stage.kind == "train" and stage.model}
    needs: dict[int, frozenset[int]] = {}
    for i, stage in enumerate(stages):
        if stage.kind == "leaderboard":
            needs[i] = frozenset(range(len(stages))) - {i}
        elif stage.kind == "evaluate" and stage.model is not None and stage.model.name in trainings:
            needs[i] = frozenset({trainings[stage.model.name]})
        else:
            needs[i] = frozenset()
    return needs


def train_config(preset: Preset, base: str, spec: ModelSpec) -> Any:
    """The :class:`~hybrid_bench.training.config.TrainConfig` of one trained model (identical but for α and seed)."""
    from hybrid_bench.training.config import TrainConfig

    return TrainConfig(
        base=base, strategy=spec.strategy, alpha=spec.alpha if spec.strategy == "hybrid" else None,  # type: ignore[arg-type]
        languages=preset.train_languages, steps=preset.steps, batch_size=preset.batch_size,
        max_seq_length=preset.max_seq_length, bf16=preset.bf16,
        seed=spec.seed if spec.seed is not None else preset.seed,
        save_steps=max(1, min(100, preset.steps // 3 or 1)),
        logging_steps=max(1, min(10, preset.steps)),
    )
