"""A written leaderboard is rebuilt, intervals included, from the results JSON and its own per-query files alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from leaderboard_synthetic import build_seeded_results, synthetic_clusters

from hybrid_bench.leaderboard.build import build_leaderboard
from hybrid_bench.leaderboard.per_query import PER_QUERY_DIR

ROOT = Path(__file__).resolve().parents[1]


def _rebuild(results: Path, board: Path) -> dict[str, str]:
    """Rebuild ``board`` from ``results`` + ``board/per_query`` with the settings in its meta.json; CSV texts."""
    meta = json.loads((board / "meta.json").read_text(encoding="utf-8"))
    rebuilt = build_leaderboard(results, predictions_dir=board / meta["per_query_dir"],
                                n_resamples=meta["n_resamples"], confidence=meta["confidence"], seed=meta["seed"],
                                make_plots=False, qrels_loader=None, cluster_loader=None, progress=False)
    out = board.parent / f"{board.name}-rebuilt"
    rebuilt.write(out, overwrite=True)
    try:
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.csv"))}
    finally:
        shutil.rmtree(out)


def test_rebuild_from_results_and_exported_per_query_files(tmp_path: Path) -> None:
    """Seeds, clusters and MIRACL predictions (rescored with qrels at build time): the rebuild needs none of the
    qrels, the LAReQA data or the model store, and gives the same tables, intervals and decisions."""
    root = tmp_path / "results"
    qrels = build_seeded_results(root)
    board = build_leaderboard(root, n_resamples=500, qrels_loader=lambda task, subsets: qrels,
                              cluster_loader=synthetic_clusters, make_plots=False, progress=False)
    written = board.write(tmp_path / "board")
    files = sorted((written / PER_QUERY_DIR).rglob("*_per_query.parquet"))
    assert len(files) == 10 * 2  # every model × (XQuAD-R, MIRACL)
    sample = pd.read_parquet(next(f for f in files if f.name.startswith("XQuADR")))
    assert {"cluster", "ap", "language_bias"} <= set(sample.columns) and "rr" not in sample.columns  # only what is used
    shutil.rmtree(root / "predictions")  # the original per-query files and mteb predictions are gone
    original = {p.name: p.read_text(encoding="utf-8") for p in sorted(written.glob("*.csv"))}
    assert "decisions.csv" in original and "comparison.csv" in original
    assert _rebuild(root, written) == original


def _committed() -> list[Path]:
    """Committed leaderboards that carry their per-query files, next to their committed results folder."""
    return [meta.parent for meta in sorted((ROOT / "leaderboards").glob("*/meta.json"))
            if (meta.parent / PER_QUERY_DIR).is_dir() and (meta.parent.parent / f"{meta.parent.name}-results").is_dir()]


@pytest.mark.slow
@pytest.mark.parametrize("board", _committed(), ids=lambda p: p.name)
def test_committed_leaderboards_rebuild_from_the_repository(board: Path) -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in sorted(board.glob("*.csv"))}
    assert _rebuild(board.parent / f"{board.name}-results", board) == committed
