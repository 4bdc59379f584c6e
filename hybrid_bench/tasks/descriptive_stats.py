"""mteb descriptive statistics of hybrid-bench's tasks: committed JSON files, and the task cards' tables made from them.

mteb keeps one statistics file per task (``mteb/descriptive_stats/<type>/<Task>.json``) that
``task.metadata.descriptive_stats`` reads and ``task.calculate_descriptive_statistics()`` writes. hybrid-bench's
tasks use :class:`HybridTaskMetadata`, whose files live in the package instead
(``hybrid_bench/descriptive_stats/Retrieval/<Task>.json``), so mteb finds them the same way without writing into
its own installation. :func:`compute` recomputes one task with mteb's own per-split statistics, over the subsets the
data source holds; ``sources.json`` beside the files records the data revision each was computed on (the MIRACL
tasks' files come from the miracl-lite mirror, not from the hub's full corpora).

The task cards' statistics tables are generated from these files by :mod:`hybrid_bench.tasks.cards`, which is
also the command line that recomputes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mteb.abstasks import AbsTask
from mteb.abstasks.task_metadata import TaskMetadata

from hybrid_bench.io import atomic_write_text

__all__ = ["SOURCES", "STATS_DIR", "HybridTaskMetadata", "compute", "load", "sources", "stats_path", "write"]

logger = logging.getLogger(__name__)

STATS_DIR = Path(__file__).resolve().parent.parent / "descriptive_stats"
SOURCES = STATS_DIR / "sources.json"
_SUBSETS = "hf_subset_descriptive_stats"


class HybridTaskMetadata(TaskMetadata):
    """mteb's ``TaskMetadata`` whose descriptive statistics live in hybrid-bench's package, not in mteb's."""

    @property
    def descriptive_stat_path(self) -> Path:  # noqa: D102 -- see the class docstring
        return stats_path(self.name, str(self.type))


def stats_path(task_name: str, task_type: str = "Retrieval") -> Path:
    """Where the committed statistics of ``task_name`` live."""
    return STATS_DIR / task_type / f"{task_name}.json"


def _available_subsets(task: AbsTask) -> list[str]:
    """The task's subsets that its (possibly mirrored, partial) data source holds, after loading it."""
    if not task.data_loaded:
        task.load_data()
    return [s for s in task.metadata.eval_langs if s in task.dataset]


def compute(task: AbsTask) -> tuple[dict[str, Any], str]:
    """mteb's descriptive statistics of ``task`` over every subset its data source holds, and that source's revision.

    The same loop as mteb's ``calculate_descriptive_statistics`` (one overall block per split plus one block per
    subset, each from ``task._calculate_descriptive_statistics_from_split``), restricted to the subsets present so
    that a mirror without some language (miracl-lite has no Thai) still gets a file; nothing is written.
    """
    subsets = _available_subsets(task)
    if isinstance(task.metadata.eval_langs, dict) and len(subsets) < len(task.metadata.eval_langs):
        # mteb's overall block iterates metadata.eval_langs: let it see the subsets that exist
        task.metadata = task.metadata.model_copy(
            update={"eval_langs": {s: task.metadata.eval_langs[s] for s in subsets}})
    stats: dict[str, Any] = {}
    for split in task.metadata.eval_splits:
        if task.metadata.is_multilingual:
            block = dict(task._calculate_descriptive_statistics_from_split(split, compute_overall=True))
            block[_SUBSETS] = {
                s: task._calculate_descriptive_statistics_from_split(split, hf_subset=s) for s in subsets
            }
        else:
            block = dict(task._calculate_descriptive_statistics_from_split(split))
        stats[split] = block
    return json.loads(json.dumps(stats)), str(task.metadata.revision)


def write(task: AbsTask, stats: Mapping[str, Any], revision: str) -> Path:
    """Write ``stats`` as the committed file of ``task`` (atomically) and record ``revision`` in ``sources.json``."""
    path = task.metadata.descriptive_stat_path
    atomic_write_text(path, json.dumps(stats, indent=4, ensure_ascii=False) + "\n", overwrite=True)
    recorded = sources() | {task.metadata.name: revision}
    atomic_write_text(SOURCES, json.dumps(dict(sorted(recorded.items())), indent=2) + "\n", overwrite=True)
    return path


def load(task_name: str) -> dict[str, Any]:
    """The committed statistics of ``task_name``."""
    return json.loads(stats_path(task_name).read_text(encoding="utf-8"))


def sources() -> dict[str, str]:
    """``{task name: data revision}`` the committed statistics were computed on."""
    return json.loads(SOURCES.read_text(encoding="utf-8")) if SOURCES.is_file() else {}
