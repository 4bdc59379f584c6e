"""Experimental arms: the models of one training strategy over several training seeds, read from training records.

A training *seed* is a level of the experiment (issue: "one seed" is not a result): ``reproduce --seeds 3`` trains
mono, cross and hybrid three times each, with identical data, steps and batch size. The leaderboard groups those
models into **arms** — (base, strategy, α, the other training settings) — and reports each arm's mean over seeds with the seed-to-seed spread,
and compares arms seed by seed (the hierarchical bootstrap of :mod:`hybrid_bench.leaderboard.stats`).

Who a model is (strategy, α, seed, base) is read from its **training record** (``hybrid_bench_training.json``,
written by :func:`hybrid_bench.training.trainer.train_model`), never from its name:

1. ``<results>/training/<model label>.json`` — a copy of the record that the experiment stores next to the MTEB
   results, so that a committed results folder rebuilds its leaderboard on any machine;
2. else the registry's entry for the label (``models.toml`` or a trained model in the local store,
   :func:`hybrid_bench.models.registry.get_entry`), with the seed from the store's record when there is one;
3. else the model is an untrained base: an arm of its own.

Example:
    >>> roles = {"m1": Role("mono", None, 1, "me5-small"), "m2": Role("mono", None, 2, "me5-small"),
    ...          "me5-small": Role(None, None, None, None)}
    >>> {a.name: a.labels for a in group_arms(roles)}
    {'me5-small': ('me5-small',), 'm1': ('m1', 'm2')}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_bench.errors import DataError
from hybrid_bench.training.records import StrategyOf

logger = logging.getLogger(__name__)

#: folder of a results root that holds the trained models' training records, one ``<label>.json`` each
TRAINING_RECORDS_DIR = "training"
#: strategy order of the paper's tables (base models first)
_ORDER = {None: 0, "mono": 1, "cross": 2, "hybrid": 3}


@dataclass(frozen=True)
class Role:
    """What a model is in the experiment. ``strategy is None``: an untrained base model."""

    strategy: str | None
    alpha: float | None
    seed: int | None
    base: str | None
    #: the rest of the training settings (data, steps, batch size, ... - all but the seed and run control), as
    #: canonical JSON; models that differ here are different arms even at one strategy, α and seed
    recipe: str | None = None


#: training settings that do not make another arm: the seed is the arm's level, the rest only control the run
_NOT_RECIPE = frozenset({"seed", "save_steps", "logging_steps"})


def _recipe(record: Mapping[str, object]) -> str | None:
    config = record.get("config")
    if not isinstance(config, Mapping):
        return None
    return json.dumps({k: v for k, v in config.items() if k not in _NOT_RECIPE}, sort_keys=True, default=str)


@dataclass(frozen=True)
class Arm(StrategyOf):
    """The models of one (base, strategy, α), one per training seed (``seeds[i]`` trained ``labels[i]``)."""

    name: str
    strategy: str | None
    alpha: float | None
    base: str | None
    labels: tuple[str, ...]
    seeds: tuple[int | None, ...]


def _role_from_record(record: Mapping[str, object], source: object) -> Role:
    from hybrid_bench.training.records import STRATEGIES

    strategy = record.get("strategy")
    if strategy not in STRATEGIES:
        raise DataError(f"training record has strategy {strategy!r}, expected one of {', '.join(STRATEGIES)}",
                        file=source)
    alpha, seed = record.get("alpha"), record.get("seed")
    return Role(str(strategy), float(alpha) if isinstance(alpha, (int, float)) else None,  # type: ignore[arg-type]
                int(seed) if isinstance(seed, int) else None, str(record.get("base") or "") or None, _recipe(record))


def read_roles(labels: Sequence[str], results_dir: str | os.PathLike[str] | None = None) -> dict[str, Role]:
    """The :class:`Role` of each model label (sources in the module docstring).

    Raises:
        DataError: a training record in ``<results>/training/`` is not valid JSON or names no strategy.
    """
    from hybrid_bench import paths
    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.registry import get_entry
    from hybrid_bench.training.records import TRAINING_RECORD

    folder = Path(results_dir) / TRAINING_RECORDS_DIR if results_dir is not None else None
    roles: dict[str, Role] = {}
    for label in labels:
        file = folder / f"{label}.json" if folder is not None else None
        if file is not None and file.is_file():
            try:
                roles[label] = _role_from_record(json.loads(file.read_text(encoding="utf-8")), file)
            except json.JSONDecodeError as err:
                raise DataError(f"training record is not valid JSON ({err})", file=file) from None
            continue
        try:
            entry = get_entry(label)
        except (ModelNotFoundError, DataError):
            roles[label] = Role(None, None, None, None)
            continue
        seed, recipe = None, None
        try:
            record = json.loads((paths.models_dir() / label / TRAINING_RECORD).read_text(encoding="utf-8"))
            seed = record.get("seed") if isinstance(record.get("seed"), int) else None
            recipe = _recipe(record) if isinstance(record, dict) else None
        except (OSError, ValueError):
            pass
        roles[label] = Role(entry.strategy, entry.alpha if entry.strategy == "hybrid" else None, seed,
                            entry.base if entry.strategy else None, recipe)
    return roles


def group_arms(roles: Mapping[str, Role]) -> list[Arm]:
    """Group models into arms, in the paper's order (bases, mono, cross, hybrid by α); seeds sorted.

    An arm is named by the label of its first-seed model: ``reproduce`` gives that model the plain name
    (``hybrid-me5-small``; the other seeds add ``-seed43``, ...), and a one-seed leaderboard reads as before.

    Models of one (base, strategy, α) trained with other settings (e.g. other data, such as mined negatives) are
    arms of their own.

    Raises:
        DataError: two models of one arm share a seed (the same training twice).
    """
    grouped: dict[tuple[object, ...], list[tuple[int | None, str]]] = {}
    for label, role in roles.items():
        key = (role.strategy, role.alpha, role.base, role.recipe) if role.strategy else (None, None, label, None)
        grouped.setdefault(key, []).append((role.seed, label))
    arms = []
    for (strategy, alpha, base, _), members in grouped.items():
        members.sort(key=lambda m: (m[0] is None, m[0] or 0, m[1]))
        seeds = [s for s, _ in members]
        if len(members) > 1 and len(set(seeds)) < len(seeds):
            raise DataError(f"models {[m for _, m in members]} are one arm ({strategy}, α={alpha}) with repeated "
                            f"seeds {seeds}: keep one model per seed")
        name = members[0][1]
        arms.append(Arm(name, strategy, alpha, base if strategy else None,  # type: ignore[arg-type]
                        tuple(m for _, m in members), tuple(seeds)))
    return sorted(arms, key=lambda a: (_ORDER.get(a.strategy, 4), a.alpha or 0.0, a.name))


def default_arm_pairs(arms: Sequence[Arm]) -> list[tuple[Arm, Arm]]:
    """Every hybrid arm against the mono and cross arms of its base, then every trained arm against its base."""
    by_key = {(a.strategy, a.base): a for a in arms if a.strategy in ("mono", "cross")}
    bases = {a.name: a for a in arms if a.is_base}
    pairs = [(a, by_key[(role, a.base)]) for a in arms if a.strategy == "hybrid"
             for role in ("mono", "cross") if (role, a.base) in by_key]
    for arm in arms:
        base = bases.get(Path(str(arm.base)).name) if not arm.is_base else None
        if base is not None:
            pairs.append((arm, base))
    return pairs


def seed_pairs(a: Arm, b: Arm) -> list[tuple[str, str]]:
    """The (model, baseline) label pairs of a comparison, one per training seed.

    Two trained arms pair seed by seed (the seeds both have); an arm against a one-model arm (the base) pairs
    each of its seeds with that model.
    """
    if len(b.labels) == 1:
        return [(label, b.labels[0]) for label in a.labels]
    if len(a.labels) == 1:
        return [(a.labels[0], label) for label in b.labels]
    b_of = dict(zip(b.seeds, b.labels))
    pairs = [(label, b_of[s]) for s, label in zip(a.seeds, a.labels) if s in b_of]
    if len(pairs) < max(len(a.labels), len(b.labels)):
        logger.warning("%s vs %s: compared on their %d common seed(s) only", a.name, b.name, len(pairs))
    return pairs


def collapse_seeds(frame: pd.DataFrame, arms: Sequence[Arm], *, axis: int = 0,
                   level: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean over seeds, seed SD) of a table whose rows (``axis=0``) or columns (``axis=1``, ``level`` of a
    MultiIndex) are model labels; labels of no arm stay as they are (SD NaN).

    Example:
        >>> t = pd.DataFrame({"x": [0.5, 0.7, 0.9]}, index=["m1", "m2", "b"])
        >>> arms = [Arm("mono", "mono", None, "b", ("m1", "m2"), (1, 2)), Arm("b", None, None, None, ("b",), (None,))]
        >>> mean, sd = collapse_seeds(t, arms)
        >>> mean["x"].round(2).tolist(), sd["x"].round(3).tolist()
        ([0.6, 0.9], [0.141, nan])
    """
    arm_of = {label: arm.name for arm in arms for label in arm.labels}
    data = frame if axis == 0 else frame.T
    keys = data.index.get_level_values(level) if level is not None else data.index
    names = [arm_of.get(k, k) for k in keys]
    if level is not None:
        index = data.index.to_frame(index=False)
        index.iloc[:, level] = names
        grouper = [index[c] for c in index.columns]
    else:
        grouper = [pd.Series(names, index=data.index)]
    grouped = data.groupby([g.to_numpy() for g in grouper], sort=False)
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    if level is not None:
        mean.index = pd.MultiIndex.from_tuples(mean.index, names=data.index.names)
        sd.index = mean.index
    else:
        mean.index.name = sd.index.name = data.index.name
    return (mean, sd) if axis == 0 else (mean.T, sd.T)


def format_with_spread(mean: pd.DataFrame, sd: pd.DataFrame, digits: int) -> pd.DataFrame:
    """``"0.912 ± 0.003"`` where a seed SD exists, else ``"0.912"``; ``–`` for missing."""
    out = mean.copy().astype(object)
    for column in mean.columns:
        out[column] = [
            "–" if not np.isfinite(m) else f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if np.isfinite(s) else "")
            for m, s in zip(mean[column].astype(float), sd[column].astype(float))
        ]
    return out
