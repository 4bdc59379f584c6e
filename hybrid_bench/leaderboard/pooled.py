"""Pooled endpoints: one task's table made of several tasks' queries, e.g. MIRACL dev and train topics together.

The replication's primary endpoint (``leaderboards/replication-plan.md``) is MIRACL nDCG@10 over
``MIRACLRetrieval`` (dev) and ``MIRACLTrainTopicsRetrieval``: for each language the mean over *all* judged queries of
both topic sets, then the mean over the languages (a language with dev queries only contributes those). A
:class:`PooledTask` declares such an endpoint once, as data (:data:`POOLED_TASKS`); :func:`add_pooled` derives its
rows, and from then on it is a task like any other — its per-language table, its comparisons (query ids prefixed
by their topic set, so the dev and train queries of a language are separate queries of one stratum) and its
decisions (:data:`hybrid_bench.leaderboard.decisions.ENDPOINTS`). Each member task keeps its own tables and
comparisons: the topic sets reported apart, as the plan's consistency check.

The pooled rows are derived from the members' **per-query** values (the results JSON of a task has per-language
means, not the query counts that pooling needs): a model without per-query values of every member gets no pooled
rows, and the board says so. Derived rows are not written to a leaderboard's ``per_query/`` export (the members'
rows are, and a rebuild derives the pool again).

Example:
    >>> import pandas as pd
    >>> pq = pd.DataFrame({"model": "m", "revision": "1", "label": "m", "task": ["MIRACLRetrieval",
    ...     "MIRACLTrainTopicsRetrieval", "MIRACLTrainTopicsRetrieval"], "split": "dev", "subset": "sw",
    ...     "query_id": ["1", "1", "2"], "unit": ["sw|1", "sw|1", "sw|2"], "ndcg_at_10": [0.2, 0.5, 0.8]})
    >>> rows = pooled_per_query(POOLED_TASKS[0], pq)
    >>> rows["query_id"].tolist(), round(float(rows["ndcg_at_10"].mean()), 3)
    (['MIRACLRetrieval/1', 'MIRACLTrainTopicsRetrieval/1', 'MIRACLTrainTopicsRetrieval/2'], 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["POOLED_TASKS", "PooledTask", "add_pooled", "is_pooled", "pooled_per_query", "pooled_results"]


@dataclass(frozen=True)
class PooledTask:
    """An endpoint over the queries of several tasks that share their subsets (languages)."""

    #: the pooled endpoint's task name in the tables
    task: str
    #: its dataset name in the tables
    dataset: str
    #: the (task, split) pairs whose queries are pooled; a query id is prefixed by its member task
    members: tuple[tuple[str, str], ...]
    #: the per-query metrics pooled
    metrics: tuple[str, ...]
    #: the split the pooled rows are filed under
    split: str


#: the pre-declared pooled endpoints (replication-plan.md, "Primary endpoint")
POOLED_TASKS: tuple[PooledTask, ...] = (
    PooledTask("MIRACLDevTrainTopicsRetrieval", "MIRACL dev + train topics",
               (("MIRACLRetrieval", "dev"), ("MIRACLTrainTopicsRetrieval", "dev")), ("ndcg_at_10",), "dev"),
)


def is_pooled(task: str) -> bool:
    """Whether ``task`` is a pooled endpoint (derived rows, not a task of its own)."""
    return any(pool.task == task for pool in POOLED_TASKS)


def _member_rows(pool: PooledTask, frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [frame[(frame["task"] == task) & (frame["split"] == split)] for task, split in pool.members]


def pooled_per_query(pool: PooledTask, per_query: pd.DataFrame) -> pd.DataFrame:
    """The pooled task's per-query rows: the members' rows of the models (labels) that have every member, each query
    id and resampling unit prefixed by its member task (empty when no model has them all)."""
    needed = ["label", "task", "split", "subset", "query_id", *pool.metrics]
    if per_query.empty or not set(needed) <= set(per_query.columns):
        return per_query.iloc[0:0]
    members = _member_rows(pool, per_query)
    complete = set.intersection(*(set(rows["label"]) for rows in members))
    frames = []
    for (task, _), rows in zip(pool.members, members):
        rows = rows[rows["label"].isin(complete)].dropna(subset=list(pool.metrics)).copy()
        rows["query_id"] = task + "/" + rows["query_id"].astype(str)
        if "unit" in rows.columns:
            rows["unit"] = task + "/" + rows["unit"].astype(str)
        frames.append(rows)
    out = pd.concat(frames, ignore_index=True)
    out["task"], out["split"] = pool.task, pool.split
    return out


def pooled_results(pool: PooledTask, results: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Results rows of the pooled task from its per-query ``rows``: per (model, subset) each metric's mean over the
    pooled queries and their count (``n_queries``); ``dataset_revision`` joins the members' revisions."""
    if rows.empty:
        return results.iloc[0:0]
    members = pd.concat(_member_rows(pool, results))
    info = members.groupby(["label", "subset"]).agg(
        model=("model", "first"), revision=("revision", "first"), languages=("languages", "first"),
        dataset_revision=("dataset_revision", lambda r: " + ".join(sorted(set(r))))).reset_index()
    grouped = rows.groupby(["label", "subset"])
    values = pd.concat([grouped[list(pool.metrics)].mean(), grouped["query_id"].size().rename("n_queries")], axis=1)
    long = values.reset_index().melt(id_vars=["label", "subset"], var_name="metric", value_name="value")
    out = long.merge(info, on=["label", "subset"], how="inner").assign(task=pool.task, split=pool.split)
    return out[list(results.columns)]


def add_pooled(results: pd.DataFrame, per_query: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """``results`` and ``per_query`` with the rows of every :data:`POOLED_TASKS` entry whose members are all in the
    results, and a note for each model left out of a pool (no per-query values of every member)."""
    notes: list[str] = []
    for pool in POOLED_TASKS:
        with_results = [set(rows["label"]) for rows in _member_rows(pool, results)]
        labels = set.intersection(*with_results) if with_results else set()
        if not labels:
            continue
        rows = pooled_per_query(pool, per_query)
        missing = sorted(labels - set(rows["label"]))
        if missing:
            notes.append(f"{pool.dataset}: no pooled endpoint for {', '.join(missing)}: it needs the per-query "
                         f"values of {' and '.join(task for task, _ in pool.members)}")
        if rows.empty:
            continue
        results = pd.concat([results, pooled_results(pool, results, rows)], ignore_index=True)
        per_query = pd.concat([per_query, rows], ignore_index=True)
    return results, per_query, notes
