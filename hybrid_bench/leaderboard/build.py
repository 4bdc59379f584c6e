"""Build a whole leaderboard — tables, paired-bootstrap comparisons, figures — from an MTEB results folder.

This is what ``hybrid-bench leaderboard`` runs and what ``hybrid-bench reproduce`` calls at its end. The tables are
:mod:`~hybrid_bench.leaderboard.tables`, :mod:`~hybrid_bench.leaderboard.comparisons` and
:mod:`~hybrid_bench.leaderboard.decisions`, the figures :mod:`~hybrid_bench.leaderboard.figures`; the result is a
:class:`~hybrid_bench.leaderboard.board.Leaderboard` (re-exported here), which writes itself.

Example:
    >>> from hybrid_bench.leaderboard.build import build_leaderboard
    >>> board = build_leaderboard("results/", n_resamples=2000)  # doctest: +SKIP
    >>> print(board.markdown("table1_map"))  # doctest: +SKIP
    >>> board.write("leaderboards/mine")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard import arms, clusters, comparisons, coverage, decisions, pooled, tables
from hybrid_bench.leaderboard.board import METHOD_TEXT, SCORES_LONG, Leaderboard, package_versions, write_gzip_text
from hybrid_bench.leaderboard.figures import add_alpha_sweeps, add_figures, add_forest
from hybrid_bench.leaderboard.per_query import KEY_COLUMNS, QrelsLoader, load_per_query, load_task_qrels
from hybrid_bench.leaderboard.results import DATA_MARK_MEANING, DATA_MARKS, data_kind, load_results

__all__ = ["METHOD_TEXT", "SCORES_LONG", "Leaderboard", "build_leaderboard", "package_versions", "write_gzip_text"]

logger = logging.getLogger(__name__)


def _formatted(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """Numbers as fixed-width strings (``–`` for missing) so Markdown and HTML show the same digits."""
    def fmt(value: object, column: object) -> str:
        if value is None or not np.isfinite(float(value)):  # type: ignore[arg-type]
            return "–"
        if "n_queries" in str(column):
            return f"{int(value)}"  # type: ignore[call-overload]
        return f"{float(value):.{digits}f}"  # type: ignore[arg-type]

    out = frame.copy().astype(object)
    for column in out.columns:
        out[column] = [fmt(v, column) for v in frame[column]]
    return out


def build_leaderboard(
    results_dir: str | os.PathLike[str],
    *,
    predictions_dir: str | os.PathLike[str] | None = None,
    compare: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    make_plots: bool = True,
    qrels_loader: QrelsLoader | None = load_task_qrels,
    cluster_loader: clusters.ClusterLoader | None = clusters.lareqa_clusters,
    progress: bool = True,
) -> Leaderboard:
    """Load results and per-query values, build every table, comparison and figure.

    Args:
        results_dir: an MTEB results folder (``mteb run --output-folder``, ``ResultCache`` root or ``results/``).
        predictions_dir: where per-query files are searched (recursively); default ``results_dir/predictions``.
        compare: ``"A:B"`` pairs to compare; default every ``hybrid-X`` against ``mono-X`` and ``cross-X``. Two arm
            names (the label of an arm's first-seed model) compare the arms seed by seed, as the default pairs do.
        models: restrict to these models (labels or full names).
        tasks: restrict to these tasks.
        n_resamples: bootstrap resamples and sign flips per comparison.
        confidence: confidence level of the intervals.
        seed: random seed of the resampling.
        make_plots: build the figures.
        qrels_loader: task → qrels for stock-mteb ``*_predictions.json`` files (``None``: ignore those files).
        cluster_loader: task → ``{qid: cluster}``, the bootstrap's unit (default: the paragraph of a LAReQA
            question, :mod:`hybrid_bench.leaderboard.clusters`; ``None``: the question).
        progress: show a progress bar over the comparisons.

    Raises:
        DataError: no results, malformed files, unknown models in ``compare``.
    """
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 100:
        raise DataError(f"n_resamples={n_resamples} is too few for a {confidence:.0%} interval; use at least 1000")
    results = load_results(results_dir, models=models, tasks=tasks)
    pred_dir = Path(predictions_dir) if predictions_dir is not None else Path(results_dir) / "predictions"
    problems: list[str] = []
    per_query = load_per_query(pred_dir, qrels_loader=qrels_loader, tasks=set(results["task"]), problems=problems)
    per_query = clusters.assign_clusters(comparisons.attach_labels(per_query, results, problems), cluster_loader, problems)
    # one row order whatever the files' layout, so a rebuild from the exported per-query files resamples identically
    per_query = per_query.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    loaded_tasks = sorted(results["task"].unique())
    results, per_query, pooled_notes = pooled.add_pooled(results, per_query)
    problems.extend(pooled_notes)
    cells = tables.find_cells(results)
    labels = sorted(results["label"].unique())
    arm_list = arms.group_arms(arms.read_roles(labels, results_dir))
    seed_pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    if compare:
        pairs = comparisons.parse_pairs(compare, results)
        # an arm's name (its first seed's label) on both sides means the arms, compared seed by seed
        by_name = {a.name: a for a in arm_list}
        seed_pairs = {(a, b): arms.seed_pairs(by_name[a], by_name[b]) for a, b in pairs
                      if a in by_name and b in by_name}
    else:
        arm_pairs = arms.default_arm_pairs(arm_list)
        pairs = [(a.name, b.name) for a, b in arm_pairs]
        seed_pairs = {(a.name, b.name): arms.seed_pairs(a, b) for a, b in arm_pairs}
    board = Leaderboard(results=results, per_query=per_query, cells=cells, pairs=pairs, settings={
        "results_dir": str(results_dir), "predictions_dir": str(pred_dir), "n_resamples": n_resamples,
        "confidence": confidence, "seed": seed, "models": labels, "tasks": loaded_tasks,
        **({"pooled": {p.task: [t for t, _ in p.members] for p in pooled.POOLED_TASKS
                       if (results["task"] == p.task).any()}} if (results["task"].map(pooled.is_pooled)).any() else {}),
        "arms": {a.name: dict(zip(map(str, a.seeds), a.labels)) for a in arm_list},
        "margin": decisions.MARGIN,
    })
    if not pairs:
        board.notes.append("no comparisons: no hybrid model with a mono / cross counterpart of the same base in the "
                           "training records (pass --compare A:B)")
    board.notes.extend(problems)
    if per_query.empty:
        board.notes.append(f"{tables.NO_CI_NOTE}: nothing found under {pred_dir}")
    for task in sorted(results["task"].unique()):
        for metric in tables.saturated_metrics(results[results["task"] == task]):
            board.notes.append(f"{tables.dataset_name(task)}: {tables.metric_name(metric)} is 1.000 for every model "
                               "and language: not shown")
    _add_score_tables(board, arm_list, per_query)

    if pairs:
        headline = [c for c in cells if c.kind in ("setting", "mean")]
        detail = [c for c in cells if c.kind == "subset"]
        kwargs = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed, "progress": progress,
                  "seed_pairs": seed_pairs}
        comparison = comparisons.comparison_table(results, per_query, headline, pairs, **kwargs)
        board.tables["comparison"] = comparison
        board.display["comparison"] = comparisons.format_comparison(comparison, confidence=confidence)
        decided = decisions.decision_table(comparison, arm_list)
        if not decided.empty:
            board.tables["decisions"] = decided
            board.display["decisions"] = decisions.format_decisions(decided)
        if detail:
            per_language = comparisons.comparison_table(results, per_query, detail, pairs, **kwargs)
            board.tables["comparison_per_language"] = per_language
            board.display["comparison_per_language"] = comparisons.format_comparison(per_language, confidence=confidence)
        missing = comparison[comparison["note"].str.startswith(tables.NO_CI_NOTE)]
        for task in sorted(set(missing["task"])):
            board.notes.append(f"{tables.dataset_name(task)}: {tables.NO_CI_NOTE}")
        for note in comparison.loc[comparison["note"].str.contains("≠ results JSON", regex=False), "note"]:
            board.notes.append(note)
    if make_plots:
        add_forest(board)
        add_figures(board, arm_list, seed_pairs=seed_pairs, n_resamples=n_resamples, confidence=confidence, seed=seed)
        add_alpha_sweeps(board, arm_list, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return board


def _add_score_tables(board: Leaderboard, arm_list: Sequence[arms.Arm], per_query: pd.DataFrame) -> None:
    """Table 1, Table 2 and the per-language tables; with several seeds per arm, each arm's mean over its seeds
    with the seed-to-seed SD next to it (``*_seed_sd`` CSVs hold the SDs)."""
    results, cells = board.results, board.cells
    seeded = any(len(a.labels) > 1 for a in arm_list)
    members = {a.name: list(a.labels) for a in arm_list} if seeded else None
    covered = coverage.coverage_table(results, cells)

    def add(name: str, frame: pd.DataFrame, digits: int, flatten: bool, level: int | None = None,
            task: str | None = None, table: str = "subset") -> None:
        if frame.empty:
            return
        if not seeded:
            board.tables[name] = frame
            shown = _formatted(frame, digits)
        else:
            extra = [c for c in frame.columns if "n_queries" in str(c)]
            values = frame.drop(columns=extra)
            mean, sd = arms.collapse_seeds(values, arm_list, axis=0 if level is None else 1, level=level)
            shown = arms.format_with_spread(mean, sd, digits)
            if extra:  # per-language tables: the query counts do not depend on the model
                mean = pd.concat([mean, frame[extra]], axis=1)
                shown = pd.concat([shown, _formatted(frame[extra], digits)], axis=1)
            board.tables[name], board.tables[f"{name}_seed_sd"] = mean, sd
        # the numeric tables (CSV) stay numbers; each score's dataset revision is in scores_long.csv.gz, each
        # number's coverage in coverage.csv
        shown = coverage.mark_coverage(shown, covered, cells, table=table, task=task, members=members)
        shown = tables.mark_data(shown, results, task=task, members=members)
        board.display[name] = tables.flatten_columns(shown) if flatten else shown

    order = _row_order(arm_list)
    add("table1_map", tables.table1(results, cells, order), 3, True, table="table1")
    add("table2_language_bias", tables.table2(results, cells, order), 1, False, table="table2")
    for task in sorted({c.task for c in cells if c.kind in ("subset", "mean")}):
        add(f"per_language_{task}", tables.subset_table(results, cells, task, per_query, order), 4, True, level=1,
            task=task)
    pairs = results[["task", "dataset_revision"]].drop_duplicates().itertuples(index=False)
    kinds = {data_kind(task, revision) for task, revision in pairs}
    board.notes.extend(f"{mark} {DATA_MARK_MEANING[kind]}" for kind, mark in DATA_MARKS.items() if kind in kinds)
    board.tables["coverage"] = covered.set_index(["model", "task", "split", "cell", "metric"])
    board.notes.extend(coverage.coverage_notes(covered, results))


def _row_order(arm_list: Sequence[arms.Arm]) -> list[str]:
    """Model labels in the paper's row order (bases, mono, cross, hybrid), from the arms' training records."""
    return [label for arm in arm_list for label in arm.labels]
