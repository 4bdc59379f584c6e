"""How much of its task each number of a leaderboard table averages: settings (subsets) and queries.

A table cell is a macro mean over subsets (:class:`~hybrid_bench.leaderboard.tables.Cell`); a model whose results
hold fewer subsets than the task defines for that cell — an interrupted run, ``mteb run --languages``, a mirror
without some language — gets the mean over the subsets it has, and the table must say so. The full set is the
task's own: the ``hf_subsets`` of its metadata in mteb's registry (hybrid-bench's tasks included, through
:mod:`hybrid_bench.mteb_plugin`), grouped as the cell groups them (mono / cross / multi of a LAReQA task, the pool
suffix of MIRACL's cross-lingual variant, a plain language code otherwise). The expected number of queries of a
subset is ``num_queries`` of the task's descriptive statistics (``task.metadata.descriptive_stats``), compared only
with results computed on the data those statistics describe.

* :func:`coverage_table` — one row per (model, cell): subsets and queries present and expected.
* :func:`coverage_mark` — the text a table puts after an incomplete number, e.g. ``(1/7)``; :data:`COVERAGE_NOTE`
  explains it in the notes and :func:`coverage_notes` names each incomplete model × task.
* :func:`mark_coverage` — a formatted Table 1 / Table 2 / per-language table with those marks.

Example:
    >>> from hybrid_bench.leaderboard import coverage, results, tables
    >>> scores = results.load_results("results/")  # doctest: +SKIP
    >>> coverage.coverage_table(scores, tables.find_cells(scores))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hybrid_bench.leaderboard.results import task_class
from hybrid_bench.leaderboard.tables import SETTINGS, Cell, dataset_name, metric_name

__all__ = ["COVERAGE_COLUMNS", "COVERAGE_NOTE", "coverage_mark", "coverage_notes", "coverage_table",
           "declared_subsets", "expected_queries", "expected_subsets", "mark_coverage"]

#: columns of :func:`coverage_table`
COVERAGE_COLUMNS: tuple[str, ...] = ("model", "task", "split", "cell", "metric", "subsets", "subsets_expected",
                                     "queries", "queries_expected", "complete")
#: the notes' explanation of the marks of :func:`coverage_mark`
COVERAGE_NOTE = ("(k/n) after a number: it averages only k of the n settings (subsets) its task defines for that "
                 "cell; (q/Q queries): its subsets hold q of the task's Q queries. Such a number is the model's mean "
                 "over what it has, not comparable with a complete one; coverage.csv lists every cell")


@functools.cache
def declared_subsets(task: str) -> tuple[str, ...] | None:
    """Every subset (``hf_subset``) ``task`` defines, from its metadata; ``None`` for a task not known here."""
    cls = task_class(task)
    if cls is None:
        return None
    langs = cls.metadata.eval_langs
    return tuple(langs) if isinstance(langs, dict) else ("default",)


def _group(subset: str, cell: Cell) -> str:
    """The group a subset belongs to in ``cell``'s kind of cell: its setting, its pool suffix, or ``""``."""
    if cell.kind == "setting":
        from hybrid_bench.tasks.lareqa import setting_of

        return setting_of(subset)
    return subset.split("-", 1)[1] if "-" in subset else ""


def expected_subsets(cell: Cell) -> tuple[str, ...] | None:
    """The subsets of its task that ``cell`` would average over complete results; ``None`` when not known."""
    declared = declared_subsets(cell.task)
    if declared is None:
        return None
    if cell.kind == "subset":
        return cell.subsets
    if cell.kind == "setting":
        wanted = {"multi"} if cell.name not in SETTINGS else {cell.name}
    else:
        wanted = {_group(s, cell) for s in cell.subsets}
    return tuple(s for s in declared if _group(s, cell) in wanted)


@functools.cache
def _stats_queries(task: str) -> tuple[str | None, dict[tuple[str, str], int]]:
    """(data revision the task's statistics were computed on, ``{(split, subset): num_queries}``)."""
    cls = task_class(task)
    if cls is None:
        return None, {}
    try:
        stats = cls.metadata.descriptive_stats or {}
    except (OSError, ValueError):  # no statistics file for this task
        return None, {}
    from hybrid_bench.tasks.descriptive_stats import sources

    revision = sources().get(task) or str(cls.metadata.revision)
    counts = {(split, subset): int(block["num_queries"])
              for split, by_split in stats.items() if isinstance(by_split, dict)
              for subset, block in (by_split.get("hf_subset_descriptive_stats") or {}).items()
              if isinstance(block, dict) and block.get("num_queries") is not None}
    return revision, counts


def expected_queries(task: str, split: str, subset: str, dataset_revision: str) -> int | None:
    """The queries ``subset`` of ``task`` has on the data of ``dataset_revision``; ``None`` where the task's
    statistics describe other data (a mirror, another revision) or do not exist."""
    revision, counts = _stats_queries(task)
    return counts.get((split, subset)) if revision == dataset_revision else None


def coverage_table(results: pd.DataFrame, cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per model label and cell it has a number for: columns :data:`COVERAGE_COLUMNS`.

    ``subsets`` / ``subsets_expected`` count the cell's subsets the model has and the task defines;
    ``queries`` / ``queries_expected`` sum ``n_queries`` of the results and of the task's statistics over the
    subsets the model has (NaN where either is unknown); ``complete`` is false when either falls short.
    """
    have = results.groupby(["label", "task", "split", "metric"])["subset"].agg(frozenset).to_dict()
    n_queries = results[results["metric"] == "n_queries"].groupby(
        ["label", "task", "split", "subset"])["value"].max().to_dict()
    revision = results.groupby(["label", "task", "split", "subset"])["dataset_revision"].first().to_dict()
    rows = []
    for cell in cells:
        expected = expected_subsets(cell)
        for label in sorted(results["label"].unique()):
            present = [s for s in cell.subsets if s in have.get((label, cell.task, cell.split, cell.metric), ())]
            if not present:
                continue
            keys = [(label, cell.task, cell.split, s) for s in present]
            got = [n_queries.get(k) for k in keys]
            want = [expected_queries(cell.task, cell.split, s, str(revision.get(k))) for s, k in zip(present, keys)]
            known = all(v is not None for v in got + want)
            queries = float(sum(got)) if known else np.nan  # type: ignore[arg-type]
            queries_expected = float(sum(want)) if known else np.nan  # type: ignore[arg-type]
            n_expected = len(expected) if expected is not None else len(present)
            rows.append({"model": label, "task": cell.task, "split": cell.split, "cell": cell.name,
                         "metric": cell.metric, "subsets": len(present), "subsets_expected": n_expected,
                         "queries": queries, "queries_expected": queries_expected,
                         "complete": len(present) >= n_expected and not (known and queries < queries_expected)})
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def coverage_mark(row: Mapping[str, Any]) -> str:
    """``" (1/7)"``, ``" (50/582 queries)"``, both, or ``""`` for a complete row of :func:`coverage_table`."""
    parts = []
    if row["subsets"] < row["subsets_expected"]:
        parts.append(f"{int(row['subsets'])}/{int(row['subsets_expected'])}")
    if np.isfinite(row["queries"]) and row["queries"] < row["queries_expected"]:
        parts.append(f"{int(row['queries'])}/{int(row['queries_expected'])} queries")
    return f" ({'; '.join(parts)})" if parts else ""


def coverage_notes(coverage: pd.DataFrame, results: pd.DataFrame) -> list[str]:
    """:data:`COVERAGE_NOTE` and one line per task and coverage (``MLQA-R: mono-me5-small has 1 of 56 settings``,
    ``MIRACL: all 16 models have 17 of 18 settings (missing: th)``); nothing when every cell is complete."""
    incomplete = coverage[~coverage["complete"].astype(bool)]
    if incomplete.empty:
        return []
    notes = [COVERAGE_NOTE]
    have = results.groupby(["task", "label"])["subset"].agg(frozenset)
    for task in sorted(incomplete["task"].unique()):
        declared = declared_subsets(str(task))
        rows = incomplete[incomplete["task"] == task]
        short = set(rows.loc[rows["queries"] < rows["queries_expected"], "model"])
        labels = sorted(set(rows["model"]))
        groups: dict[frozenset[str], list[str]] = {}
        for label in labels:
            groups.setdefault(have.get((task, label), frozenset()), []).append(label)
        n_models = results.loc[results["task"] == task, "label"].nunique()
        for subsets, members in sorted(groups.items(), key=lambda g: g[1]):
            who = (f"all {len(members)} models have" if len(members) == n_models > 1 else
                   f"{', '.join(members)} {'has' if len(members) == 1 else 'have'}")
            text = f"{dataset_name(str(task))}: {who} {len(subsets)}"
            if declared is not None:
                missing = [x for x in declared if x not in subsets]
                text += f" of {len(declared)} settings"
                if missing:
                    text += f" (missing: {', '.join(missing[:6])}{', …' if len(missing) > 6 else ''})"
            else:
                text += " settings"
            lacking = [m for m in members if m in short]
            if lacking:
                text += f"; short of queries: {', '.join(lacking)}"
            notes.append(text)
    return notes


def mark_coverage(shown: pd.DataFrame, coverage: pd.DataFrame, cells: Sequence[Cell], *, table: str,
                  task: str | None = None, members: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """A formatted score table with :func:`coverage_mark` after every number that averages less than its task.

    Args:
        shown: the formatted (string) table, before :func:`~hybrid_bench.leaderboard.tables.mark_data`.
        coverage: :func:`coverage_table` of the results behind it.
        cells: the cells the table was made from.
        table: ``"table1"`` (columns ``(dataset, setting)``, rows models), ``"table2"`` (columns datasets, rows
            models) or ``"subset"`` (the per-language table of ``task``: columns ``(metric, model)``, rows cells).
        members: a model name of the table → the result labels behind it (an arm's seeds); a number over seeds
            gets the mark of its least complete seed.
    """
    index = {(r.model, r.task, r.cell, r.metric): r._asdict() for r in coverage.itertuples(index=False)}

    def mark(model: str, cell: Cell) -> str:
        found = [index[k] for label in (members or {}).get(model, [model])
                 if (k := (label, cell.task, cell.name, cell.metric)) in index]
        if not found:
            return ""
        worst = min(found, key=lambda r: (r["subsets"] / r["subsets_expected"],
                                          r["queries"] / r["queries_expected"] if np.isfinite(r["queries"]) else 1))
        return coverage_mark(worst)

    out = shown.copy()
    if table == "subset":
        by_key = {(metric_name(c.metric), c.name): c for c in cells if c.task == task and c.kind in ("subset", "mean")}
        for column in out.columns:
            if not isinstance(column, tuple) or column[0] == "n_queries":
                continue
            out[column] = [v if v == "–" or (cell := by_key.get((column[0], row))) is None else f"{v}{mark(column[1], cell)}"
                           for row, v in zip(out.index, out[column])]
        return out
    by_column = ({(dataset_name(c.task), c.name): c for c in cells if c.kind == "setting" and c.name in SETTINGS}
                 if table == "table1" else
                 {dataset_name(c.task): c for c in cells if c.kind == "setting" and c.name == "bias"})
    for column in out.columns:
        cell = by_column.get(column)
        if cell is None:
            continue
        out[column] = [v if v == "–" else f"{v}{mark(model, cell)}" for model, v in zip(out.index, out[column])]
    return out
