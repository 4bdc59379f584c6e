"""Plan a study from a committed one: the seed-paired per-query differences of two arms, and query counts of data.

:func:`paired_differences` reads a leaderboard's per-query export (``<dir>/<model label>/<Task>_per_query.parquet``,
as ``hybrid-bench leaderboard`` writes it next to its tables) for two arms and pairs their models seed by seed: an
arm ``X`` is the model labelled ``X`` (the preset's own seed) and those labelled ``X-seed<N>``; seeds present in
both arms are paired. The result feeds :func:`hybrid_bench.leaderboard.variance.estimate_components`;
:func:`query_counts` counts a MIRACL-layout folder's judged queries per language, for a design that adds data.

Example::

    from hybrid_bench.leaderboard.power import paired_differences
    from hybrid_bench.leaderboard.variance import estimate_components, plan

    diffs = paired_differences("leaderboards/reproduce-seeded/per_query", "hybrid-me5-small", "mono-me5-small",
                               task="MIRACLRetrieval", metric="ndcg_at_10")
    plan(estimate_components(diffs), seeds=[3, 5], queries=[711, 2000])
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.per_query import read_per_query_parquet
from hybrid_bench.tasks.predictions import PER_QUERY_SUFFIX

__all__ = ["arm_members", "paired_differences", "query_counts"]


def arm_members(per_query_dir: str | os.PathLike[str], arm: str) -> dict[str, Path]:
    """``{seed tag: model folder}`` of ``arm`` in a per-query export: ``"base"`` for the folder named ``arm``,
    ``"<N>"`` for ``arm-seed<N>``."""
    root = Path(per_query_dir)
    pattern = re.compile(rf"^{re.escape(arm)}(?:-seed(\d+))?$")
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else ():
        match = pattern.match(folder.name)
        if match:
            found[match.group(1) or "base"] = folder
    return found


def paired_differences(per_query_dir: str | os.PathLike[str], arm: str, baseline: str, *, task: str,
                       metric: str) -> pd.DataFrame:
    """Per (seed pair, query) differences ``arm − baseline`` of ``metric`` on ``task``: columns ``stratum``
    (the subset: a language), ``query_id``, ``seed`` (the pair's seed tag), ``diff``.

    Raises:
        DataError: the folder has no model of an arm, the arms share no seed, a file lacks the task or metric,
            or the two models of a pair scored different queries.
    """
    a, b = arm_members(per_query_dir, arm), arm_members(per_query_dir, baseline)
    for name, members in ((arm, a), (baseline, b)):
        if not members:
            raise DataError(f"no per-query folder named {name!r} or {name}-seed<N>", file=per_query_dir)
    seeds = [s for s in a if s in b]
    if not seeds:
        raise DataError(f"{arm!r} (seeds {sorted(a)}) and {baseline!r} (seeds {sorted(b)}) share no seed",
                        file=per_query_dir)
    frames = []
    for seed in seeds:
        sides = []
        for folder in (a[seed], b[seed]):
            path = folder / f"{task}{PER_QUERY_SUFFIX}"
            if not path.is_file():
                raise DataError(f"no per-query file of task {task!r}", file=path)
            frame = read_per_query_parquet(path)
            if metric not in frame.columns:
                raise DataError(f"no column {metric!r} (has {list(frame.columns)})", file=path)
            sides.append(frame.set_index(["subset", "query_id"])[metric])
        x, y = sides
        if set(x.index) != set(y.index):
            raise DataError(f"{a[seed].name} and {b[seed].name} scored different queries; a paired difference needs "
                            "the same ones", file=per_query_dir, item=task)
        diff = (x - y.reindex(x.index)).rename("diff").reset_index()
        frames.append(diff.rename(columns={"subset": "stratum"}).assign(seed=seed))
    return pd.concat(frames, ignore_index=True)[["stratum", "query_id", "seed", "diff"]]


def query_counts(folder: str | os.PathLike[str]) -> dict[str, int]:
    """Queries with at least one relevant passage, per language, of a folder in the ``mteb/MIRACLRetrieval``
    layout (``<lang>-qrels/*.parquet``): the queries an nDCG@10 endpoint scores.

    Raises:
        DataError: the folder has no ``<lang>-qrels`` folder, or a qrels file lacks its columns.
    """
    root = Path(folder)
    counts: dict[str, int] = {}
    for qrels in sorted(root.glob("*-qrels")):
        files = sorted(qrels.glob("*.parquet"))
        if not files:
            continue
        frame = pd.concat(pd.read_parquet(f) for f in files)
        if not {"query-id", "score"} <= set(frame.columns):
            raise DataError("expected the columns query-id, corpus-id, score", file=qrels)
        counts[qrels.name[: -len("-qrels")]] = int(frame.loc[frame["score"] > 0, "query-id"].nunique())
    if not counts:
        raise DataError("no <lang>-qrels/*.parquet: not a folder in the mteb/MIRACLRetrieval layout", file=root)
    return counts
