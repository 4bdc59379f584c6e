"""The leaderboard's figures: which plots a board gets, and the bootstrap intervals drawn on them.

:func:`add_figures` adds the per-pair heatmaps, difference heatmaps, language-bias and per-language dot plots;
:func:`add_alpha_sweeps` the paired differences to mono against α of bases with at least three trained α values;
:func:`add_forest` the forest plot of the decision table. The drawing is :mod:`hybrid_bench.leaderboard.plots`; the
intervals are :mod:`hybrid_bench.leaderboard.stats`' (through :mod:`~hybrid_bench.leaderboard.comparisons` for
differences). :func:`~hybrid_bench.leaderboard.build.build_leaderboard` calls all three on a
:class:`~hybrid_bench.leaderboard.board.Leaderboard`.

Example:
    >>> from hybrid_bench.leaderboard.figures import slug
    >>> slug("hybrid me5/small")
    'hybrid_me5_small'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_bench.leaderboard import arms, comparisons, plots, tables
from hybrid_bench.leaderboard.board import Leaderboard
from hybrid_bench.leaderboard.results import is_pair_task
from hybrid_bench.leaderboard.stats import bootstrap_mean_ci, macro_paired_bootstrap
from hybrid_bench.leaderboard.tables import Cell


def slug(text: str) -> str:
    """``text`` as a file-name stem: runs of characters other than letters, digits, ``_``, ``.``, ``-`` → ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def add_forest(board: Leaderboard) -> None:
    """The forest plot of ``board``'s decision table (``forest_decisions``), where it has one."""
    decided = board.tables.get("decisions")
    if decided is not None and not decided.empty:
        board.figures["forest_decisions"] = plots.plot_forest(decided)


def add_alpha_sweeps(board: Leaderboard, arm_list: Sequence[arms.Arm], *, n_resamples: int, confidence: float,
                     seed: int) -> None:
    """One figure per headline metric (LAReQA mAP mono/cross/multi, MIRACL nDCG@10 mean) against α, where the
    trained arms of one base span at least three values of α (mono = 1, cross = 0, hybrid = 0.5, sweep arms).

    Each point is the paired difference ``arm − mono`` seed by seed with its hierarchical-bootstrap interval,
    exactly as the comparison table computes it (its rows are reused where it has them); the untrained base's
    difference to mono is the reference line. Differences, not raw scores: the arms share the queries, so their
    raw intervals overlap even where the paired difference is clear.
    """
    cells = [c for c in board.cells if (c.kind == "setting" and c.name in tables.SETTINGS)
             or (c.kind == "mean" and c.metric == "ndcg_at_10")]
    trained_bases = sorted({str(a.base) for a in arm_list if not a.is_base})
    untrained = {a.name: a for a in arm_list if a.is_base}
    for base in trained_bases:
        swept = sorted((a for a in arm_list if not a.is_base and str(a.base) == base),
                       key=lambda a: a.resolved_alpha or 0.0)
        mono = next((a for a in swept if a.resolved_alpha == 1.0), None)
        if len({a.resolved_alpha for a in swept}) < 3 or mono is None or not cells:
            continue
        base_arm = untrained.get(Path(base).name)
        sides = [a for a in swept if a is not mono] + ([base_arm] if base_arm is not None else [])
        diffs = _differences_to(board, cells, sides, mono, n_resamples=n_resamples, confidence=confidence, seed=seed)
        suffix = f"_{slug(base)}" if len(trained_bases) > 1 else ""
        for (task, metric), group in diffs.groupby(["task", "metric"], sort=False):
            alpha_of = {a.name: a.resolved_alpha for a in swept}
            points = group[group["model"].isin(list(alpha_of))].assign(
                series=lambda g: g["cell"], alpha=lambda g: g["model"].map(alpha_of))
            zero = pd.DataFrame({"series": list(dict.fromkeys(points["series"])), "alpha": 1.0, "diff": 0.0,
                                 "ci_low": np.nan, "ci_high": np.nan, "n_seeds": len(mono.labels)})
            reference = group[group["model"] == (base_arm.name if base_arm else None)].assign(series=lambda g: g["cell"])
            board.figures[f"alpha_sweep_{slug(task)}_{metric}{suffix}"] = plots.plot_alpha_sweep(
                pd.concat([points, zero], ignore_index=True), reference=reference, confidence=confidence,
                title=f"{tables.dataset_name(task)}: {tables.metric_name(metric)} against α",
                ylabel=tables.metric_name(metric), margin=float(board.settings.get("margin") or 0) or None)


def _differences_to(board: Leaderboard, cells: Sequence[Cell], sides: Sequence[arms.Arm], reference: arms.Arm, *,
                    n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    """``side − reference`` on ``cells`` for every arm of ``sides`` (rows of the comparison table's layout): the
    board's comparison rows where it has them, the others computed the same way (seed by seed, same seed)."""
    keys = ["task", "cell", "metric", "model", "baseline"]
    wanted = pd.DataFrame([(c.task, c.name, c.metric, a.name, reference.name) for a in sides for c in cells],
                          columns=keys)
    known = board.tables.get("comparison")
    have = wanted.merge(known.drop(columns=["distribution"], errors="ignore"), on=keys) \
        if known is not None else wanted.iloc[0:0]
    done = set(map(tuple, have[keys].to_numpy().tolist()))
    missing = [a for a in sides if any((c.task, c.name, c.metric, a.name, reference.name) not in done for c in cells)]
    computed = comparisons.comparison_table(
        board.results, board.per_query, cells, [(a.name, reference.name) for a in missing],
        seed_pairs={(a.name, reference.name): arms.seed_pairs(a, reference) for a in missing},
        n_resamples=n_resamples, confidence=confidence, seed=seed, progress=False) if missing else None
    frames = [have] + ([computed.drop(columns=["distribution"], errors="ignore")] if computed is not None else [])
    out = pd.concat(frames, ignore_index=True).drop_duplicates(keys)
    return out.merge(wanted, on=keys)  # in the order of ``wanted``


def arm_results(results: pd.DataFrame, arm_list: Sequence[arms.Arm]) -> pd.DataFrame:
    """``results`` with each arm of several seeds as one model, labelled by the arm's name, each value its mean
    over the seeds (the tables' arm means); one-model arms stay as they are.

    Example:
        >>> r = pd.DataFrame({"model": ["o/m1", "o/m2"], "label": ["m1", "m2"], "revision": ["r1", "r2"],
        ...                   "task": "T", "split": "test", "subset": "de-de", "languages": "deu-Latn",
        ...                   "metric": "map", "value": [0.5, 0.7]})
        >>> arm = arms.Arm("m1", "mono", None, "b", ("m1", "m2"), (1, 2))
        >>> arm_results(r, [arm])[["label", "value"]].round(2).values.tolist()
        [['m1', 0.6]]
    """
    arm_of = {label: arm.name for arm in arm_list if len(arm.labels) > 1 for label in arm.labels}
    if not arm_of:
        return results
    seeded = results["label"].isin(list(arm_of))
    keys = ["label", "task", "split", "subset", "languages", "metric"]
    data = {"dataset_revision": ("dataset_revision", lambda r: ",".join(sorted(set(r))))} \
        if "dataset_revision" in results else {}  # the seeds' data, all of it
    collapsed = (results[seeded].assign(label=results.loc[seeded, "label"].map(arm_of))
                 .groupby(keys, sort=False, dropna=False)
                 .agg(model=("model", "first"), revision=("revision", "first"), **data, value=("value", "mean"))
                 .reset_index())
    return pd.concat([results[~seeded], collapsed[list(results.columns)]], ignore_index=True)


def _arm_rows(per_query: pd.DataFrame, members: Sequence[str]) -> pd.DataFrame:
    """The per-query rows of an arm's models (all its seeds)."""
    return per_query[per_query["label"].isin(list(members))] if not per_query.empty else per_query


def _mean_ci(rows: pd.DataFrame, column: str, groups: list[str], *, n_resamples: int, confidence: float,
             seed: int) -> pd.DataFrame:
    """:func:`bootstrap_mean_ci` over ``rows``; with several models (an arm's seeds) hierarchically over them."""
    seeds = rows["label"].tolist() if rows["label"].nunique() > 1 else None
    return bootstrap_mean_ci(rows[column], groups=groups, units=rows["unit"].tolist(), seeds=seeds,
                             n_resamples=n_resamples, confidence=confidence, seed=seed)


def add_figures(board: Leaderboard, arm_list: Sequence[arms.Arm], *, seed_pairs: dict[tuple[str, str], list[
        tuple[str, str]]], n_resamples: int, confidence: float, seed: int) -> None:
    """The heatmaps (mAP per language pair, model − baseline differences with per-pair CIs), language-bias bars and
    per-language score bars of ``board``, with bootstrap CIs where per-query values exist.

    One plot element per **arm**, as in the tables: an arm of several training seeds is drawn as its mean over the
    seeds (:func:`arm_results`), its intervals come from the hierarchical bootstrap over seeds and queries, and a
    difference heatmap of two arms averages the seed-by-seed differences (``seed_pairs``, as the comparisons do).
    """
    results, cells = arm_results(board.results, arm_list), board.cells
    members = {arm.name: arm.labels for arm in arm_list}
    labels = tables.ordered_labels(results, [arm.name for arm in arm_list])
    query_rows = comparisons.QueryRows(board.per_query)
    pair_tasks = sorted({c.task for c in cells if c.kind == "setting"})
    for task in pair_tasks:
        task_rows = results[(results["task"] == task) & (results["metric"] == "map")
                            & ~results["subset"].str.endswith("-pool")]
        if task_rows.empty or not is_pair_task(task_rows["subset"].unique().tolist()):
            continue
        vmin, vmax = float(task_rows["value"].min()), float(task_rows["value"].max())
        for label in labels:
            if (task_rows["label"] == label).any():
                n = len(members.get(label, (label,)))
                board.figures[f"heatmap_map_{slug(task)}_{slug(label)}"] = plots.plot_pair_heatmap(
                    results, task, label, vmin=vmin, vmax=vmax,
                    caption=f"{label} (mean of {n} seeds)" if n > 1 else None)
        pair_cells = [c for c in cells if c.task == task and c.kind == "setting" and c.name in ("mono", "cross")]
        subsets = tuple(s for c in pair_cells for s in c.subsets)
        everything = Cell(task, pair_cells[0].split, "all pairs", "map", subsets, "setting") if pair_cells else None
        for model, baseline in board.pairs:
            if not ((task_rows["label"] == model).any() and (task_rows["label"] == baseline).any()):
                continue
            per_group = None
            by_seed = seed_pairs.get((model, baseline), [(model, baseline)])
            stacked = comparisons.seed_paired_rows(query_rows, everything, by_seed) if everything else None
            if stacked is not None and stacked.frame.groupby("seed").size().min() >= 2:
                frame = stacked.frame
                per_group = macro_paired_bootstrap(
                    frame["a"], frame["b"], groups=frame["subset"].tolist(), units=frame["unit"].tolist(),
                    seeds=frame["seed"].tolist() if len(by_seed) > 1 else None,
                    n_resamples=n_resamples, confidence=confidence, seed=seed,
                ).per_group
            board.figures[f"diff_map_{slug(task)}_{slug(model)}_minus_{slug(baseline)}"] = plots.plot_diff_heatmap(
                results, task, model, baseline, per_group=per_group, confidence=confidence, n_seeds=len(by_seed))
        if any(c.task == task and c.name == "bias" for c in cells):
            pq = board.per_query
            cis = {}
            for label in labels:
                rows = _arm_rows(pq, members.get(label, (label,)))
                rows = rows[(rows["task"] == task) & rows["subset"].str.endswith("-pool")] \
                    if len(rows) and "language_bias" in rows.columns else rows.iloc[0:0]
                rows = rows.dropna(subset=["language_bias"]) if len(rows) else rows
                if len(rows) >= 2:
                    cis[label] = _mean_ci(rows, "language_bias", rows["subset"].str.removesuffix("-pool").tolist(),
                                          n_resamples=n_resamples, confidence=confidence, seed=seed)
            board.figures[f"language_bias_{slug(task)}"] = plots.plot_language_bias(
                results, task, labels, cis=cis, confidence=confidence)

    for task in sorted({c.task for c in cells if c.kind == "subset"}):
        metric = "ndcg_at_10" if any(c.task == task and c.metric == "ndcg_at_10" for c in cells) else None
        if metric is None:
            continue
        subsets = [c.subsets[0] for c in cells if c.task == task and c.kind == "subset" and c.metric == metric]
        for suffix, in_group in tables.suffix_groups(subsets).items():
            scope = results[(results["task"] == task) & results["subset"].isin(in_group)]
            cis = {}
            for label in labels:
                rows = _arm_rows(board.per_query, members.get(label, (label,)))
                rows = rows[(rows["task"] == task) & rows["subset"].isin(in_group)] if len(rows) else rows
                rows = rows.dropna(subset=[metric]) if metric in rows.columns else rows.iloc[0:0]
                if rows["subset"].nunique() == len(in_group) and len(rows) >= 2:
                    cis[label] = _mean_ci(rows, metric, rows["subset"].tolist(), n_resamples=n_resamples,
                                          confidence=confidence, seed=seed)
            stem = f"{slug(task)}_{metric}" + (f"_{slug(suffix)}" if suffix else "")
            board.figures[stem] = plots.plot_subset_bars(scope, task, labels, metric=metric, cis=cis,
                                                         confidence=confidence)
