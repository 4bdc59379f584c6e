"""The leaderboard reads results with either metric set: the committed ones (a few keys per setting) and the current
tasks' (mteb's whole retrieval set beside them, ``hybrid_bench.tasks.retrieval_scores``), with the same tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mteb.abstasks.retrieval import AbsTaskRetrieval

from hybrid_bench.leaderboard.build import build_leaderboard

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "leaderboards" / "reproduce-full-results"
OUR_TASKS = ("XQuADRHeldOutRetrieval", "MLQARRetrieval", "MIRACLCrossLingualRetrieval")


def _full_set(entry: dict) -> dict:
    """``entry`` with every key of mteb's retrieval set added (values: placeholders, one NaN as mteb can write)."""
    added = {f"{m}_at_{k}": 0.25 for m in ("ndcg", "map", "recall", "precision", "mrr", "hit_rate")
             for k in AbsTaskRetrieval.k_values}
    added |= {f"nauc_{m}_at_{k}_{c}": 0.5 for m in ("ndcg", "map", "recall", "precision", "mrr")
              for k in AbsTaskRetrieval.k_values for c in ("max", "std", "diff1")}
    added |= {"accuracy": 0.25, "nauc_mrr_at_1_diff1": float("nan")}
    return added | entry  # keys the file has keep their values


def _build(results: Path, out: Path) -> Path:
    board = build_leaderboard(results, predictions_dir=out.parent / "no-predictions", n_resamples=1000, make_plots=False,
                              qrels_loader=None, cluster_loader=None, progress=False)
    board.write(out)
    return out


def test_results_with_mtebs_whole_metric_set_give_the_same_tables(tmp_path: Path) -> None:
    if not (RESULTS / "results").is_dir():
        pytest.skip("the committed full-run results are not in this checkout")
    (tmp_path / "no-predictions").mkdir()
    wide = tmp_path / "wide"
    shutil.copytree(RESULTS, wide)
    widened = 0
    for file in (wide / "results").rglob("*.json"):
        if file.stem in OUR_TASKS:
            data = json.loads(file.read_text(encoding="utf-8"))
            for entries in data["scores"].values():
                entries[:] = [_full_set(e) for e in entries]
                widened += len(entries)
            file.write_text(json.dumps(data), encoding="utf-8")
    assert widened > 100
    old, new = _build(RESULTS, tmp_path / "old"), _build(wide, tmp_path / "new")
    tables = sorted(p.name for p in old.glob("*.csv"))
    assert "table1_map.csv" in tables and "per_language_MIRACLCrossLingualRetrieval.csv" in tables
    assert tables == sorted(p.name for p in new.glob("*.csv"))
    for name in tables:  # same process, same numbers in: every table identical (scores_long.csv.gz has more rows)
        assert (new / name).read_bytes() == (old / name).read_bytes(), name
