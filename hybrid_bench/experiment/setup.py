"""What a reproduction run is, settled before its first stage: where things are (:class:`RunPaths`, resolved once
from the command line and the environment) and the run's facts (:class:`RunSpec`), which every stage reads instead
of asking the environment again.

Both are frozen and made of plain values, so a :class:`RunSpec` is all a stage needs to run in another process (an
engine's job, :mod:`hybrid_bench.experiment.engines`): the job takes its model store and data from it, not from the
environment of wherever it runs.

Example::

    from hybrid_bench.experiment.setup import RunPaths

    locations = RunPaths.resolve("/data/hybrid-bench", configured_mirrors=True)
    print(locations.models, locations.data_dir, locations.miracl_mirror)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hybrid_bench import paths
from hybrid_bench.errors import DataError
from hybrid_bench.experiment.presets import MIRACL_TASKS, MIRACL_TRAIN_TOPICS, Preset

if TYPE_CHECKING:
    from hybrid_bench.models.inference import Inference

__all__ = ["RunPaths", "RunSpec", "miracl_data", "train_topics_data"]


@dataclass(frozen=True)
class RunPaths:
    """Where a run reads and writes besides its output folder.

    Attributes:
        home: the hybrid-bench home (``$HYBRID_BENCH_HOME``): the model store is ``home/models``.
        data_dir: the local data folder (``lareqa/``, ``miracl-lite/``); ``None``: the download cache.
        miracl_mirror: the MIRACL folder in the ``mteb/MIRACLRetrieval`` layout; ``None``: ``data_dir/miracl-lite``.
        train_topics_mirror: the MIRACL train-topic folder; ``None``: ``data_dir/miracl-lite-train``.
    """

    home: Path
    data_dir: Path | None = None
    miracl_mirror: Path | None = None
    train_topics_mirror: Path | None = None

    @property
    def models(self) -> Path:
        """The model store (``home/models``)."""
        return self.home / "models"

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None, *,
                miracl_mirror: str | os.PathLike[str] | None = None,
                train_topics_mirror: str | os.PathLike[str] | None = None,
                configured_mirrors: bool = False) -> RunPaths:
        """The paths of a run, read from the environment now: ``home`` from ``$HYBRID_BENCH_HOME``, ``data_dir``
        given or ``$HYBRID_BENCH_DATA``; the mirrors given, else (``configured_mirrors``: the command line) the
        configured ones (``HYBRID_BENCH_MIRRORS`` / ``mirrors.toml``, :func:`hybrid_bench.data.mirrors.resolve_mirror`).
        """
        if configured_mirrors:
            from hybrid_bench.data.miracl import MIRACL_REPO
            from hybrid_bench.data.mirrors import resolve_mirror
            from hybrid_bench.tasks.miracl_train_topics import REPO as TRAIN_TOPICS_REPO

            miracl_mirror = miracl_mirror if miracl_mirror is not None else resolve_mirror(MIRACL_REPO)
            train_topics_mirror = (train_topics_mirror if train_topics_mirror is not None
                                   else resolve_mirror(TRAIN_TOPICS_REPO))
        return cls(paths.home_dir(), paths.configured_data_dir(data_dir),
                   Path(miracl_mirror) if miracl_mirror is not None else None,
                   Path(train_topics_mirror) if train_topics_mirror is not None else None)

    def activate(self) -> None:
        """Make this process's lower layers (the trainer, the model table) use :attr:`home`: what a job does first,
        wherever the engine started it."""
        os.environ[paths.HOME_ENV] = str(self.home)


@dataclass(frozen=True)
class RunSpec:
    """One run's facts, everything a stage reads (see the module doc).

    ``miracl_folder`` / ``train_topics_folder`` are the (sampled) folders the run evaluates on, prepared by
    :func:`miracl_data` / :func:`train_topics_data` before the first stage; ``miracl_languages``: the MIRACL languages
    to evaluate when the preset names none (those the folder holds; ``None``: all).
    """

    preset: Preset
    base: str
    out: Path
    paths: RunPaths
    inference: Inference
    batch_size: int = 32
    miracl_folder: Path | None = None
    miracl_languages: tuple[str, ...] | None = None
    train_topics_folder: Path | None = None

    @property
    def data_dir(self) -> str | None:
        """The local data folder as the lower layers take it."""
        return str(self.paths.data_dir) if self.paths.data_dir is not None else None


def miracl_data(preset: Preset, out: Path, locations: RunPaths,
                note: Callable[[str], None]) -> tuple[Path | None, tuple[str, ...] | None, list[str]]:
    """The MIRACL folder this run evaluates on (sampled per preset into ``out/data``), the languages to evaluate when
    the preset names none (those the folder holds), and notes for the leaderboard; ``note`` gets each line worth
    showing."""
    if not any(t in MIRACL_TASKS for t in preset.tasks):
        return None, None, []
    from hybrid_bench.data.miracl import MIRACL_LANGS, MIRACL_REPO, available_languages
    from hybrid_bench.data.miracl_sample import pool_summary, sample_miracl_mirror

    source = locations.miracl_mirror or _default_miracl_folder(locations.data_dir, MIRACL_REPO)
    if preset.samples_miracl:
        folder = sample_miracl_mirror(source, out / "data" / f"miracl-{preset.name}", queries=preset.miracl_queries,
                                      fill=preset.miracl_fill, seed=preset.seed,
                                      full_min_queries=preset.miracl_full_min_queries)
        pool = pool_summary(folder)
    else:
        folder = source
        pool = "MIRACL pool: the whole mirror, every passage of every language"
    note(f"MIRACL data: {folder} (a local mirror: not comparable with official MIRACL numbers)")
    note(pool)
    notes = [pool]
    held = available_languages(folder)
    absent = [lang for lang in MIRACL_LANGS if lang not in held]
    if absent and not preset.languages:
        # e.g. miracl-lite has no Thai: evaluate what the mirror holds and say so in the leaderboard
        # (a preset that names its languages gets a clear error for a missing one instead)
        text = (f"MIRACL: the mirror has no data for {', '.join(absent)}; both MIRACL tasks are evaluated "
                f"on the other {len(held)} languages")
        note(text)
        return folder, tuple(held), [*notes, text]
    return folder, None, notes


def train_topics_data(preset: Preset, out: Path, locations: RunPaths, note: Callable[[str], None]) -> Path | None:
    """The MIRACL train-topic folder this run evaluates on (sampled like MIRACL when the preset samples it)."""
    if MIRACL_TRAIN_TOPICS not in preset.tasks:
        return None
    from hybrid_bench.data.miracl_sample import sample_miracl_mirror
    from hybrid_bench.tasks.miracl_train_topics import FOLDER, REPO

    source = locations.train_topics_mirror
    if source is None and locations.data_dir is not None:
        source = locations.data_dir / FOLDER
    if source is None or not (source / "README.md").is_file():
        raise DataError(f"no MIRACL train-topic data: give a data folder containing {FOLDER}/ (--data-dir / "
                        f"HYBRID_BENCH_DATA) or configure a mirror (HYBRID_BENCH_MIRRORS='{REPO}=/path/to/{FOLDER}'),"
                        f" or leave {MIRACL_TRAIN_TOPICS} out of --tasks", item=REPO)
    folder = source
    if preset.samples_miracl:
        folder = sample_miracl_mirror(source, out / "data" / f"miracl-train-{preset.name}",
                                      queries=preset.miracl_queries, fill=preset.miracl_fill, seed=preset.seed,
                                      full_min_queries=preset.miracl_full_min_queries)
    note(f"MIRACL train topics: {folder} (queries the base model saw in fine-tuning; see the task card)")
    return folder


def _default_miracl_folder(data_dir: Path | None, repo: str) -> Path:
    """``<data_dir>/miracl-lite`` (the local data folder's MIRACL mirror), when there is one."""
    if data_dir is not None and (data_dir / "miracl-lite" / "README.md").is_file():
        return data_dir / "miracl-lite"
    raise DataError(
        f"no MIRACL data: configure a mirror (HYBRID_BENCH_MIRRORS='{repo}=/path/to/miracl-lite'), or give a data "
        "folder containing miracl-lite/ (--data-dir / HYBRID_BENCH_DATA), or leave the MIRACL tasks out with --tasks",
        item=repo)
