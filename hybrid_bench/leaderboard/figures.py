"""The leaderboard's figures: which plots a board gets, and the bootstrap intervals drawn on them.

:func:`add_figures` adds the per-pair heatmaps, difference heatmaps, language-bias and per-language bars;
:func:`add_alpha_sweeps` the score-against-α curves of bases with at least three trained α values. The drawing is
:mod:`hybrid_bench.leaderboard.plots`; the intervals are :mod:`hybrid_bench.leaderboard.stats`'.
:func:`~hybrid_bench.leaderboard.build.build_leaderboard` calls both.

Example:
    >>> from hybrid_bench.leaderboard.figures import slug
    >>> slug("hybrid me5/small")
    'hybrid_me5_small'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hybrid_bench.leaderboard import arms, comparisons, plots, tables
from hybrid_bench.leaderboard.per_query import JSON_TO_PER_QUERY
from hybrid_bench.leaderboard.results import is_pair_task
from hybrid_bench.leaderboard.stats import bootstrap_mean_ci, macro_paired_bootstrap
from hybrid_bench.leaderboard.tables import Cell

if TYPE_CHECKING:
    from hybrid_bench.leaderboard.build import Leaderboard


def slug(text: str) -> str:
    """``text`` as a file-name stem: runs of characters other than letters, digits, ``_``, ``.``, ``-`` → ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def add_alpha_sweeps(board: Leaderboard, arm_list: Sequence[arms.Arm], *, n_resamples: int, confidence: float,
                     seed: int) -> None:
    """One figure per headline metric (LAReQA mAP mono/cross/multi, MIRACL nDCG@10 mean) against α, where the
    trained arms of one base span at least three values of α (mono = 1, cross = 0, hybrid = 0.5, sweep arms)."""
    per_query = board.per_query
    for base in sorted({str(a.base) for a in arm_list if not a.is_base}):
        swept = sorted((a for a in arm_list if not a.is_base and str(a.base) == base),
                       key=lambda a: a.resolved_alpha or 0.0)
        if len({a.resolved_alpha for a in swept}) < 3:
            continue
        cells = [c for c in board.cells if (c.kind == "setting" and c.name in tables.SETTINGS)
                 or (c.kind == "mean" and c.metric == "ndcg_at_10")]
        by_metric: dict[tuple[str, str], list[Cell]] = {}
        for cell in cells:
            by_metric.setdefault((cell.task, cell.metric), []).append(cell)
        for (task, metric), group in by_metric.items():
            rows = []
            for cell in group:
                for arm in swept:
                    scores = [tables.cell_score(board.results, cell, label) for label in arm.labels]
                    point = {"series": cell.name, "alpha": arm.resolved_alpha, "mean": float(np.mean(scores)),
                             "ci_low": np.nan, "ci_high": np.nan, "n_seeds": len(arm.labels)}
                    column = JSON_TO_PER_QUERY.get(metric, metric)
                    scope = per_query[per_query["label"].isin(arm.labels) & (per_query["task"] == task)
                                      & per_query["subset"].isin(cell.subsets)] if not per_query.empty else per_query
                    scope = scope.dropna(subset=[column]) if column in scope.columns else scope.iloc[0:0]
                    if scope["subset"].nunique() == len(cell.subsets) and len(scope) >= 2:
                        ci = bootstrap_mean_ci(scope[column], groups=scope["subset"].tolist(),
                                               units=scope["unit"].tolist(), seeds=scope["label"].tolist(),
                                               n_resamples=n_resamples, confidence=confidence, seed=seed)
                        macro = ci.set_index("group").loc["mean"]
                        point.update(ci_low=float(macro["ci_low"]), ci_high=float(macro["ci_high"]))
                    rows.append(point)
            suffix = f"_{slug(base)}" if len({str(a.base) for a in arm_list if not a.is_base}) > 1 else ""
            board.figures[f"alpha_sweep_{slug(task)}_{metric}{suffix}"] = plots.plot_alpha_sweep(
                pd.DataFrame(rows), title=f"{tables.dataset_name(task)}: {tables.metric_name(metric)} against α",
                ylabel=tables.metric_name(metric), confidence=confidence)


def add_figures(board: Leaderboard, *, order: Sequence[str], n_resamples: int, confidence: float, seed: int) -> None:
    """The heatmaps (mAP per language pair, model − baseline differences with per-pair CIs), language-bias bars and
    per-language score bars of ``board``, with bootstrap CIs where per-query values exist."""
    results, cells = board.results, board.cells
    labels = tables.ordered_labels(results, order)
    pair_tasks = sorted({c.task for c in cells if c.kind == "setting"})
    for task in pair_tasks:
        task_rows = results[(results["task"] == task) & (results["metric"] == "map")
                            & ~results["subset"].str.endswith("-pool")]
        if task_rows.empty or not is_pair_task(task_rows["subset"].unique().tolist()):
            continue
        vmin, vmax = float(task_rows["value"].min()), float(task_rows["value"].max())
        for label in labels:
            if (task_rows["label"] == label).any():
                board.figures[f"heatmap_map_{slug(task)}_{slug(label)}"] = plots.plot_pair_heatmap(
                    results, task, label, vmin=vmin, vmax=vmax)
        pair_cells = [c for c in cells if c.task == task and c.kind == "setting" and c.name in ("mono", "cross")]
        subsets = tuple(s for c in pair_cells for s in c.subsets)
        everything = Cell(task, pair_cells[0].split, "all pairs", "map", subsets, "setting") if pair_cells else None
        for model, baseline in board.pairs:  # (arms of several seeds have no single model's heatmap)
            if not ((task_rows["label"] == model).any() and (task_rows["label"] == baseline).any()):
                continue
            per_group = None
            paired = comparisons.paired_rows(board.per_query, everything, model, baseline) if everything else None
            if paired is not None and len(paired.frame) >= 2:
                per_group = macro_paired_bootstrap(
                    paired.frame["a"], paired.frame["b"], groups=paired.frame["subset"].tolist(),
                    units=paired.frame["unit"].tolist(), n_resamples=n_resamples, confidence=confidence, seed=seed,
                ).per_group
            board.figures[f"diff_map_{slug(task)}_{slug(model)}_minus_{slug(baseline)}"] = plots.plot_diff_heatmap(
                results, task, model, baseline, per_group=per_group, confidence=confidence)
        if any(c.task == task and c.name == "bias" for c in cells):
            pq = board.per_query
            cis = {}
            for label in labels:
                rows = pq[(pq["label"] == label) & (pq["task"] == task) & pq["subset"].str.endswith("-pool")] \
                    if not pq.empty and "language_bias" in pq.columns else pq.iloc[0:0]
                rows = rows.dropna(subset=["language_bias"]) if len(rows) else rows
                if len(rows) >= 2:
                    cis[label] = bootstrap_mean_ci(rows["language_bias"], groups=rows["subset"].str.removesuffix(
                        "-pool").tolist(), units=rows["unit"].tolist(), n_resamples=n_resamples,
                        confidence=confidence, seed=seed)
            board.figures[f"language_bias_{slug(task)}"] = plots.plot_language_bias(
                results, task, labels, cis=cis, confidence=confidence)

    for task in sorted({c.task for c in cells if c.kind == "subset"}):
        metric = "ndcg_at_10" if any(c.task == task and c.metric == "ndcg_at_10" for c in cells) else None
        if metric is None:
            continue
        subsets = [c.subsets[0] for c in cells if c.task == task and c.kind == "subset" and c.metric == metric]
        for suffix, members in tables.suffix_groups(subsets).items():
            scope = results[(results["task"] == task) & results["subset"].isin(members)]
            cis = {}
            pq = board.per_query
            for label in labels:
                rows = pq[(pq["label"] == label) & (pq["task"] == task) & pq["subset"].isin(members)] \
                    if not pq.empty else pq
                rows = rows.dropna(subset=[metric]) if metric in rows.columns else rows.iloc[0:0]
                if rows["subset"].nunique() == len(members) and len(rows) >= 2:
                    cis[label] = bootstrap_mean_ci(rows[metric], groups=rows["subset"].tolist(),
                                                   units=rows["unit"].tolist(), n_resamples=n_resamples,
                                                   confidence=confidence, seed=seed)
            stem = f"{slug(task)}_{metric}" + (f"_{slug(suffix)}" if suffix else "")
            board.figures[stem] = plots.plot_subset_bars(scope, task, labels, metric=metric, cis=cis,
                                                         confidence=confidence)
