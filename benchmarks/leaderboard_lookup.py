"""Leaderboard cell lookups: filtering the long frames per cell ÷ the indexes built once.

A leaderboard reads every cell's score for every model (:class:`~hybrid_bench.leaderboard.tables.ScoreIndex`) and,
for every comparison, both models' per-query rows (:class:`~hybrid_bench.leaderboard.comparisons.QueryRows`).
Until 2026-12-03 each lookup filtered the whole results frame (75k rows for the committed 16-model seeded board)
and the whole per-query frame (1.6 M rows); this script times that way, written out here as the baseline, against
the indexes, on the same cells in one process, and checks that both read the same numbers and rows.

Target: ratio ≥ 10 for both (the indexes include their one-off build time).

Examples:
  OMP_NUM_THREADS=1 python benchmarks/leaderboard_lookup.py                    # the committed seeded board
  python benchmarks/leaderboard_lookup.py --cells 10 --board leaderboards/reproduce-seeded  # quicker
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_bench.leaderboard import comparisons, tables
from hybrid_bench.leaderboard.per_query import JSON_TO_PER_QUERY, load_per_query
from hybrid_bench.leaderboard.results import load_results

ROOT = Path(__file__).resolve().parent.parent


def filtered_score(results: pd.DataFrame, cell: tables.Cell, label: str) -> float:
    """The per-cell filter the leaderboard used before :class:`tables.ScoreIndex`."""
    rows = results[(results["label"] == label) & (results["task"] == cell.task) & (results["split"] == cell.split)
                   & (results["metric"] == cell.metric) & (results["subset"].isin(cell.subsets))]
    if rows["subset"].nunique() < len(cell.subsets):
        return float("nan")
    return float(rows.groupby("subset")["value"].mean().mean())


def filtered_rows(per_query: pd.DataFrame, cell: tables.Cell, label: str) -> pd.DataFrame:
    """The per-comparison filter the leaderboard used before :class:`comparisons.QueryRows`."""
    column = JSON_TO_PER_QUERY.get(cell.metric, cell.metric)
    scope = per_query[(per_query["task"] == cell.task) & (per_query["split"] == cell.split)
                      & per_query["subset"].isin(cell.subsets)].dropna(subset=[column])
    return scope[scope["label"] == label]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "leaderboards" / "reproduce-seeded-results")
    parser.add_argument("--board", type=Path, default=ROOT / "leaderboards" / "reproduce-seeded",
                        help="a written leaderboard: its per_query/ folder is read")
    parser.add_argument("--cells", type=int, default=40,
                        help="cells looked up (spread over all of them), each for every model, as a table does")
    args = parser.parse_args()

    results = load_results(args.results)
    per_query = comparisons.attach_labels(load_per_query(args.board / "per_query", qrels_loader=None), results)
    labels = sorted(results["label"].unique())
    cells = tables.find_cells(results)
    picked = [cells[i] for i in np.linspace(0, len(cells) - 1, min(args.cells, len(cells))).astype(int)]
    jobs = [(cell, label) for cell in picked for label in labels]
    print(f"{len(results):,} result rows, {len(per_query):,} per-query rows, {len(jobs)} lookups of each kind")

    t0 = time.perf_counter()
    slow_scores = [filtered_score(results, cell, label) for cell, label in jobs]
    t1 = time.perf_counter()
    index = tables.ScoreIndex(results)
    fast_scores = [index.score(cell, label) for cell, label in jobs]
    t2 = time.perf_counter()
    np.testing.assert_array_equal(slow_scores, fast_scores)
    print(f"cell scores: filter {t1 - t0:.2f} s, index {t2 - t1:.3f} s (build included), "
          f"ratio {(t1 - t0) / (t2 - t1):.1f}")

    t0 = time.perf_counter()
    slow_rows = [filtered_rows(per_query, cell, label) for cell, label in jobs]
    t1 = time.perf_counter()
    rows = comparisons.QueryRows(per_query)
    fast_rows = []
    for cell, label in jobs:
        group = rows.of(cell.task, cell.split, label)
        column = JSON_TO_PER_QUERY.get(cell.metric, cell.metric)
        fast_rows.append(group[group["subset"].isin(cell.subsets)].dropna(subset=[column]))
    t2 = time.perf_counter()
    for slow, fast in zip(slow_rows, fast_rows):
        pd.testing.assert_frame_equal(slow, fast)
    print(f"per-query rows: filter {t1 - t0:.2f} s, index {t2 - t1:.2f} s (build included), "
          f"ratio {(t1 - t0) / (t2 - t1):.1f}")


if __name__ == "__main__":
    main()
