"""The paper's tables (arXiv 2408.10536, Tables 1–3), as DataFrames.

* :func:`table1` — mAP per model and dataset in the three settings: **mono** (mean over the ``q == c``
  subsets), **cross** (mean over the ``q != c`` subsets) and **multi** (mean over the ``{q}-pool`` subsets).
* :func:`table2` — language bias (mean rank distance over the pool subsets; lower is better).
* :func:`subset_table` — per-language scores (MIRACL nDCG@10 and Recall@100; the cross-lingual variant adds
  foreign intrusion@10) with a mean row and the number of queries.

The hybrid − specialised differences of these cells, with paired bootstrap CIs, are
:mod:`hybrid_bench.leaderboard.comparisons`.

All inputs are the tidy frames of :func:`~hybrid_bench.leaderboard.results.load_results` and
:func:`~hybrid_bench.leaderboard.per_query.load_per_query`; a "cell" (:class:`Cell`) names a task, a metric and the
subsets it averages.

Example:
    >>> from hybrid_bench.leaderboard import results, tables
    >>> scores = results.load_results("results/")  # doctest: +SKIP
    >>> tables.table1(scores, tables.find_cells(scores))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.pooled import POOLED_TASKS
from hybrid_bench.leaderboard.results import data_label, data_mark, is_pair_task, parse_pair_subset

logger = logging.getLogger(__name__)

DATASET_NAMES: dict[str, str] = {
    "XQuADRRetrieval": "XQuAD-R",
    "XQuADRHeldOutRetrieval": "XQuAD-R held-out",
    "MLQARRetrieval": "MLQA-R",
    "MIRACLRetrieval": "MIRACL",
    "MIRACLCrossLingualRetrieval": "MIRACL cross-lingual",
    "MIRACLTrainTopicsRetrieval": "MIRACL train topics",
    **{pool.task: pool.dataset for pool in POOLED_TASKS},
}
METRIC_NAMES: dict[str, str] = {
    "map": "mAP",
    "language_bias": "language bias",
    "ndcg_at_10": "nDCG@10",
    "recall_at_100": "Recall@100",
    "foreign_intrusion_at_10": "intrusion@10",
}
#: metrics where a smaller value is better
LOWER_IS_BETTER: frozenset[str] = frozenset({"language_bias", "foreign_intrusion_at_10"})
#: metrics shown for per-language (non pair) tasks, when present
SUBSET_METRICS: tuple[str, ...] = ("ndcg_at_10", "recall_at_100", "foreign_intrusion_at_10")
SETTINGS: tuple[str, ...] = ("mono", "cross", "multi")
#: the note of a comparison row without CI (:mod:`hybrid_bench.leaderboard.comparisons`)
NO_CI_NOTE = "no CI: per-query results missing (run with --prediction-folder)"
_SPLIT_PREFERENCE = ("test", "dev", "validation")


def task_sort_key(task: str) -> tuple[int, str]:
    """The paper's order: XQuAD-R, XQuAD-R held-out, MLQA-R, MIRACL, then anything else by name."""
    order = list(DATASET_NAMES)
    return (order.index(task) if task in order else len(order), task)


def dataset_name(task: str) -> str:
    return DATASET_NAMES.get(task, task)


def metric_name(metric: str) -> str:
    name = METRIC_NAMES.get(metric, metric)
    return f"{name} ↓" if metric in LOWER_IS_BETTER else name


@dataclass(frozen=True)
class Cell:
    """One number of a table: ``metric`` of ``task`` averaged (macro) over ``subsets`` of ``split``.

    ``kind`` is ``"setting"`` (mono/cross/multi/bias of a pair task), ``"subset"`` (one language) or ``"mean"``
    (the mean row of a per-language table).
    """

    task: str
    split: str
    name: str
    metric: str
    subsets: tuple[str, ...]
    kind: str

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER


def _main_split(splits: Sequence[str]) -> str:
    for split in _SPLIT_PREFERENCE:
        if split in splits:
            return split
    return sorted(splits)[0]


def _present_subsets(task_scores: pd.DataFrame, metric: str) -> list[str]:
    """Subsets that at least one model evaluated on the task has ``metric`` for.

    A cell spans all of them; each model's number averages the subsets it has (:meth:`ScoreIndex.score`), so a
    complete run's number never depends on an incomplete run beside it, and
    :mod:`hybrid_bench.leaderboard.coverage` marks the numbers that average less than the task defines.
    """
    return sorted(set(task_scores.loc[task_scores["metric"] == metric, "subset"]))


def find_cells(results: pd.DataFrame) -> list[Cell]:
    """All cells the tables report, derived from the tasks, subsets and metrics present in ``results``."""
    from hybrid_bench.tasks.lareqa import setting_of

    cells: list[Cell] = []
    for task in sorted(results["task"].unique(), key=task_sort_key):
        task_scores = results[results["task"] == task]
        split = _main_split(task_scores["split"].unique().tolist())
        task_scores = task_scores[task_scores["split"] == split]
        if is_pair_task(task_scores["subset"].unique().tolist()):
            maps = _present_subsets(task_scores, "map")
            for name in SETTINGS:
                subsets = [s for s in maps if setting_of(s) == name]
                if subsets:
                    cells.append(Cell(task, split, name, "map", tuple(subsets), "setting"))
            bias = [s for s in _present_subsets(task_scores, "language_bias") if setting_of(s) == "multi"]
            if bias:
                cells.append(Cell(task, split, "bias", "language_bias", tuple(bias), "setting"))
            continue
        saturated = saturated_metrics(task_scores)
        metrics = [m for m in SUBSET_METRICS if m in set(task_scores["metric"]) and m not in saturated] \
            or ["main_score"]
        for metric in metrics:
            subsets = _present_subsets(task_scores, metric)
            cells.extend(Cell(task, split, s, metric, (s,), "subset") for s in subsets)
            for suffix, members in suffix_groups(subsets).items():
                if len(members) > 1:
                    name = f"mean ({suffix})" if suffix else "mean"
                    cells.append(Cell(task, split, name, metric, tuple(members), "mean"))
    return cells


#: metrics left out of the per-language tables when every model scores exactly 1.0 on every subset (a pool too
#: small to separate models on recall says nothing)
SATURABLE_METRICS: frozenset[str] = frozenset({"recall_at_100"})


def saturated_metrics(results: pd.DataFrame) -> list[str]:
    """The :data:`SATURABLE_METRICS` that are 1.0 for every model and subset of a task present in ``results``."""
    out = []
    for metric in sorted(SATURABLE_METRICS):
        rows = results[results["metric"] == metric]
        if not rows.empty and bool((rows["value"] >= 1.0).all()):
            out.append(metric)
    return out


def suffix_groups(subsets: Sequence[str]) -> dict[str, list[str]]:
    """``["sw-all", "yo-all", "sw-train"]`` → ``{"all": [...], "train": [...]}``; plain codes go under ``""``."""
    groups: dict[str, list[str]] = {}
    for subset in subsets:
        suffix = subset.split("-", 1)[1] if "-" in subset else ""
        groups.setdefault(suffix, []).append(subset)
    return groups


class ScoreIndex:
    """The per-subset mean scores of ``results``, grouped once by (model label, task, split, metric).

    A table or comparison reads hundreds to thousands of cells (a 16-model seeded board: ~7,000); filtering the
    whole long results frame for each one took about a minute, a dictionary read per cell takes milliseconds.

    Example:
        >>> scores = ScoreIndex(results)  # doctest: +SKIP
        >>> scores.score(cell, "hybrid-me5-small")  # doctest: +SKIP
    """

    def __init__(self, results: pd.DataFrame) -> None:
        means = results.groupby(["label", "task", "split", "metric", "subset"], sort=True)["value"].mean()
        self._subsets: dict[tuple[str, str, str, str], dict[str, float]] = {}
        for (label, task, split, metric, subset), value in means.items():  # subsets in sorted order
            self._subsets.setdefault((label, task, split, metric), {})[subset] = value

    def subsets(self, cell: Cell, label: str) -> tuple[str, ...]:
        """The subsets of ``cell`` one model has a value for (sorted)."""
        per_subset = self._subsets.get((label, cell.task, cell.split, cell.metric), {})
        return tuple(s for s in per_subset if s in set(cell.subsets))

    def score(self, cell: Cell, label: str) -> float:
        """Macro mean of ``cell.metric`` over the subsets of ``cell.subsets`` the model has (each subset's mean
        first, subsets in sorted order): the model's own number, whatever other models have; NaN if it has none.
        :mod:`hybrid_bench.leaderboard.coverage` says how many of the task's subsets that is."""
        per_subset = self._subsets.get((label, cell.task, cell.split, cell.metric), {})
        wanted = set(cell.subsets)
        values = [value for subset, value in per_subset.items() if subset in wanted]
        if not values:
            return float("nan")
        return float(pd.Series(values, dtype="float64").mean())

    def shared(self, cell: Cell, labels: Sequence[str]) -> Cell:
        """``cell`` restricted to the subsets every model of ``labels`` has: what a comparison of them averages."""
        common = set(cell.subsets)
        for label in labels:
            common &= set(self.subsets(cell, label))
        return replace(cell, subsets=tuple(s for s in cell.subsets if s in common))


def cell_score(results: pd.DataFrame, cell: Cell, label: str) -> float:
    """Macro mean of ``cell.metric`` over the subsets of ``cell.subsets`` the model has; NaN if it has none.

    One cell; for many, build a :class:`ScoreIndex` once and call its :meth:`~ScoreIndex.score`."""
    return ScoreIndex(results[results["label"] == label]).score(cell, label)


def ordered_labels(results: pd.DataFrame, order: Sequence[str] | None = None) -> list[str]:
    """The model labels of ``results`` in ``order`` (the paper's: base, mono, cross, hybrid, as the leaderboard's
    arms read it from the training records, :func:`hybrid_bench.leaderboard.arms.group_arms`); others after, sorted."""
    present = set(results["label"].unique())
    first = [label for label in dict.fromkeys(order or ()) if label in present]
    return first + sorted(present - set(first))


def table1(results: pd.DataFrame, cells: Sequence[Cell], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 1 of the paper: rows = models (in ``order``, see :func:`ordered_labels`), columns = (dataset,
    mono/cross/multi) mAP."""
    setting_cells = [c for c in cells if c.kind == "setting" and c.name in SETTINGS]
    labels, scores = ordered_labels(results, order), ScoreIndex(results)
    data = {(dataset_name(c.task), c.name): {label: scores.score(c, label) for label in labels}
            for c in setting_cells}
    frame = pd.DataFrame(data, index=ordered_labels(results, order))
    frame.index.name = "model"
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["dataset", "setting"]) if data else frame.columns
    return frame.dropna(how="all")


def table2(results: pd.DataFrame, cells: Sequence[Cell], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 2 of the paper: rows = models, columns = datasets, values = language bias (lower is better)."""
    bias_cells = [c for c in cells if c.kind == "setting" and c.name == "bias"]
    scores = ScoreIndex(results)
    data = {dataset_name(c.task): {label: scores.score(c, label) for label in ordered_labels(results, order)}
            for c in bias_cells}
    frame = pd.DataFrame(data, index=ordered_labels(results, order))
    frame.index.name = "model"
    return frame.dropna(how="all")


def subset_table(results: pd.DataFrame, cells: Sequence[Cell], task: str,
                 per_query: pd.DataFrame | None = None, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-language table of a task: rows = subsets + mean rows, columns = (metric, model) + ``n_queries``.

    ``n_queries`` comes from the results JSON when the task reports it, else from the per-query rows.
    """
    task_cells = [c for c in cells if c.task == task and c.kind in ("subset", "mean")]
    if not task_cells:
        raise DataError(f"no per-language scores for task {task!r}", item=task)
    labels = [lb for lb in ordered_labels(results, order) if (results[(results["label"] == lb)]["task"] == task).any()]
    row_names = list(dict.fromkeys(c.name for c in task_cells))
    scores = ScoreIndex(results[results["task"] == task])
    columns: dict[tuple[str, str], list[float]] = {}
    for metric in dict.fromkeys(c.metric for c in task_cells):
        by_name = {c.name: c for c in task_cells if c.metric == metric}
        for label in labels:
            columns[(metric_name(metric), label)] = [
                scores.score(by_name[n], label) if n in by_name else np.nan for n in row_names
            ]
    frame = pd.DataFrame(columns, index=pd.Index(row_names, name="language"))
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["metric", "model"])
    frame[("n_queries", "")] = [_n_queries(results, per_query, task, c) for c in
                                [next(c for c in task_cells if c.name == n) for n in row_names]]
    return frame


def _n_queries(results: pd.DataFrame, per_query: pd.DataFrame | None, task: str, cell: Cell) -> float:
    rows = results[(results["task"] == task) & (results["metric"] == "n_queries") & results["subset"].isin(cell.subsets)
                   & (results["split"] == cell.split)]
    if not rows.empty:
        return float(rows.groupby("subset")["value"].max().sum())
    if per_query is not None and not per_query.empty:
        rows = per_query[(per_query["task"] == task) & per_query["subset"].isin(cell.subsets)
                         & (per_query["split"] == cell.split)]
        if not rows.empty:
            return float(rows.groupby("subset")["query_id"].nunique().sum() if cell.kind == "mean"
                         else rows["query_id"].nunique())
    return float("nan")


def pair_matrix(results: pd.DataFrame, task: str, label: str, metric: str = "map") -> pd.DataFrame:
    """``metric`` of one model as a query-language × candidate-language matrix (pool subsets left out)."""
    rows = results[(results["task"] == task) & (results["label"] == label) & (results["metric"] == metric)]
    split = _main_split(rows["split"].unique().tolist()) if not rows.empty else None
    from hybrid_bench.tasks.lareqa import setting_of

    cells = {}
    for subset, value in rows[rows["split"] == split].groupby("subset")["value"].mean().items():
        parsed = parse_pair_subset(str(subset))
        if parsed and setting_of(str(subset)) != "multi":
            cells[parsed] = value
    if not cells:
        return pd.DataFrame()
    langs = sorted({q for q, _ in cells} | {c for _, c in cells})
    matrix = pd.DataFrame(np.nan, index=pd.Index(langs, name="query"), columns=pd.Index(langs, name="candidates"))
    for (q, c), value in cells.items():
        matrix.loc[q, c] = value
    return matrix


# ---- display ----------------------------------------------------------------------------------------------------

#: the column of a displayed score table that names the data of its row (see :func:`mark_data`)
DATA_COLUMN = "data"


def mark_data(shown: pd.DataFrame, results: pd.DataFrame, *, task: str | None = None,
              members: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """A formatted score table with its data identity: each number computed on other data than its task's pinned
    revision gets the mark of :data:`~hybrid_bench.leaderboard.results.DATA_MARKS`, and a :data:`DATA_COLUMN`
    says for every row which data its numbers come from (``official``, or the recorded dataset revisions).

    Args:
        shown: Table 1 / 2 (rows are models, each column's first level a dataset name) or, with ``task``, a
            per-language table of ``task`` (columns ``(metric, model)``; other columns are left alone).
        results: the results the table was computed from (:func:`~hybrid_bench.leaderboard.results.load_results`).
        members: a model name of the table → the result labels behind it (an arm's seeds); default itself.
    """
    revisions = results.groupby(["label", "task"])["dataset_revision"].agg(lambda r: sorted(set(r))).to_dict()
    task_of = {dataset_name(t): t for t in results["task"].unique()}

    def data_of(model: str, of_task: str) -> list[str]:
        return [r for label in (members or {}).get(model, [model]) for r in revisions.get((label, of_task), [])]

    out = shown.copy()
    if task is None:
        row_data = []
        for model in out.index:
            tasks = [task_of[c[0] if isinstance(c, tuple) else c] for c in out.columns
                     if (c[0] if isinstance(c, tuple) else c) in task_of]
            for column in out.columns:
                name = column[0] if isinstance(column, tuple) else column
                mark = data_mark(task_of[name], data_of(model, task_of[name])) if name in task_of else ""
                if mark and out.at[model, column] != "–":
                    out.at[model, column] = f"{out.at[model, column]}{mark}"
            labels = {t: data_label(t, data_of(model, t)) for t in dict.fromkeys(tasks)}
            row_data.append("official" if set(labels.values()) <= {"official"} else
                            "; ".join(f"{dataset_name(t)}: {label}" for t, label in labels.items()))
    else:
        models = [c for c in out.columns if isinstance(c, tuple) and data_of(c[-1], task)]
        for column in models:
            mark = data_mark(task, data_of(column[-1], task))
            if mark:
                out[column] = [v if v == "–" else f"{v}{mark}" for v in out[column]]
        labels = {c[-1]: data_label(task, data_of(c[-1], task)) for c in models}
        text = (next(iter(labels.values())) if len(set(labels.values())) == 1 else
                "; ".join(f"{model}: {label}" for model, label in labels.items()))
        row_data = [text] * len(out)
    out[(DATA_COLUMN, "") if isinstance(out.columns, pd.MultiIndex) else DATA_COLUMN] = row_data
    return out


def flatten_columns(frame: pd.DataFrame, sep: str = " / ") -> pd.DataFrame:
    """MultiIndex columns → single strings (Markdown and CSV readers cope badly with two header rows)."""
    out = frame.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [sep.join(str(p) for p in col if str(p)) for col in out.columns]
    return out
