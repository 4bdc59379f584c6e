"""Aggregates that hide gaps (issue 27 item 3): every table says when a number averages fewer settings or queries
than its task has, and a complete run's number never depends on another run beside it.

The synthetic results (:mod:`leaderboard_synthetic`) are XQuAD-R-shaped with 3 of XQuAD-R's 11 languages; the
task's own metadata (132 settings: 11 mono, 110 cross, 11 pool) is the full set every number is measured against.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from leaderboard_synthetic import LANGS, build_synthetic_results

from hybrid_bench.leaderboard import coverage, tables
from hybrid_bench.leaderboard.build import build_leaderboard
from hybrid_bench.leaderboard.page_tables import best_cells
from hybrid_bench.leaderboard.results import load_results, pinned_revision

TASK = "XQuADRRetrieval"


def _board(root: Path, compare: list[str] | None = None):  # noqa: ANN202
    return build_leaderboard(root, n_resamples=100, make_plots=False, qrels_loader=None, cluster_loader=None,
                             progress=False, compare=compare)


def _keep_subsets(file: Path, keep: set[str], scale: float = 1.0) -> None:
    """Rewrite a task result JSON with only the ``keep`` subsets (an interrupted run), scores times ``scale``."""
    data = json.loads(file.read_text(encoding="utf-8"))
    for split, entries in data["scores"].items():
        data["scores"][split] = [
            {k: (v * scale if k in ("map", "main_score") else v) for k, v in e.items()}
            for e in entries if e["hf_subset"] in keep]
    file.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("complete")
    build_synthetic_results(root, with_per_query=False, with_miracl=False)
    return root


def test_the_full_set_comes_from_the_task_metadata() -> None:
    assert len(coverage.declared_subsets(TASK)) == 132
    assert len(coverage.declared_subsets("MLQARRetrieval")) == 56
    mono = tables.Cell(TASK, "test", "mono", "map", ("eng-eng",), "setting")
    cross = tables.Cell(TASK, "test", "cross", "map", ("eng-deu",), "setting")
    bias = tables.Cell(TASK, "test", "bias", "language_bias", ("eng-pool",), "setting")
    assert [len(coverage.expected_subsets(c)) for c in (mono, cross, bias)] == [11, 110, 11]
    pools = tables.Cell("MIRACLCrossLingualRetrieval", "dev", "mean (all)", "ndcg_at_10", ("sw-all",), "mean")
    assert all(s.endswith("-all") for s in coverage.expected_subsets(pools))
    assert coverage.expected_subsets(tables.Cell("NoSuchTask", "test", "x", "map", ("a",), "mean")) is None


def test_an_interrupted_run_is_marked_in_the_table_and_the_notes(complete: Path, tmp_path: Path) -> None:
    root = tmp_path / "interrupted"
    shutil.copytree(complete, root)
    # the mono specialist's run stopped after its first setting
    file = next((root / "results").glob(f"*mono-me5-small/*/{TASK}.json"))
    _keep_subsets(file, {"eng-eng"})
    board = _board(root)
    shown = board.display["table1_map"]
    assert shown.loc["mono-me5-small", "XQuAD-R / mono"].endswith("(1/11; 40/1190 queries)")
    assert shown.loc["mono-me5-small", "XQuAD-R / cross"] == "–"
    # the others have 3 of the 11 mono settings (the synthetic task has 3 languages)
    assert shown.loc["hybrid-me5-small", "XQuAD-R / mono"].endswith("(3/11; 120/3570 queries)")
    assert coverage.COVERAGE_NOTE in board.notes
    assert any(n.startswith("XQuAD-R: mono-me5-small has 1 of 132 settings (missing: ara-ara, ara-deu, ")
               and n.endswith("; short of queries: mono-me5-small") for n in board.notes), board.notes
    assert any(n.startswith("XQuAD-R: cross-me5-small, hybrid-me5-small have 12 of 132 settings") for n in board.notes)
    cov = board.tables["coverage"].reset_index()
    row = cov[(cov["model"] == "mono-me5-small") & (cov["cell"] == "mono")].iloc[0]
    assert (row["subsets"], row["subsets_expected"], row["complete"]) == (1, 11, False)
    # the number is that model's own mean over the one setting it has
    per_subset = load_results(root, tasks=[TASK]).query("label == 'mono-me5-small' and metric == 'map'")
    assert board.tables["table1_map"].loc["mono-me5-small", ("XQuAD-R", "mono")] == pytest.approx(
        per_subset["value"].iloc[0])


def test_a_complete_run_keeps_its_number_beside_an_incomplete_revision(complete: Path, tmp_path: Path) -> None:
    alone = _board(complete).tables["table1_map"]
    root = tmp_path / "two-revisions"
    shutil.copytree(complete, root)
    model_dir = next((root / "results").glob("*hybrid-me5-small"))
    (model_dir / "r2").mkdir()
    for file in (model_dir / "r1").iterdir():
        shutil.copy(file, model_dir / "r2" / file.name)
    meta = json.loads((model_dir / "r2" / "model_meta.json").read_text(encoding="utf-8"))
    (model_dir / "r2" / "model_meta.json").write_text(json.dumps({**meta, "revision": "r2"}), encoding="utf-8")
    _keep_subsets(model_dir / "r2" / f"{TASK}.json", {"eng-eng", "eng-deu", "eng-pool"}, scale=0.5)
    board = _board(root, compare=["hybrid-me5-small@r1:hybrid-me5-small@r2"])
    both = board.tables["table1_map"]
    # the complete revision's numbers are those it has alone, every one of them
    pd.testing.assert_series_equal(both.loc["hybrid-me5-small@r1"], alone.loc["hybrid-me5-small"], check_names=False)
    shown = board.display["table1_map"]
    assert shown.loc["hybrid-me5-small@r2", "XQuAD-R / mono"].endswith("(1/11; 40/1190 queries)")
    # the comparison of the two revisions is over the settings both have, and says so
    comparison = board.tables["comparison"].set_index("cell")
    assert "on the 1 of 3 settings both sides have" in comparison.loc["mono", "note"]
    assert "on the 1 of 6 settings both sides have" in comparison.loc["cross", "note"]
    results = load_results(root, tasks=[TASK])
    eng_eng = results.query("subset == 'eng-eng' and metric == 'map'").set_index("label")["value"]
    assert comparison.loc["mono", "baseline_score"] == pytest.approx(eng_eng["hybrid-me5-small@r2"])
    assert comparison.loc["mono", "score"] == pytest.approx(eng_eng["hybrid-me5-small@r1"])
    assert comparison.loc["mono", "diff"] == pytest.approx(eng_eng["hybrid-me5-small@r1"] / 2)


def _complete_frame(n_queries_short: int = 0) -> pd.DataFrame:
    """Results of one model over every setting of XQuAD-R, with the task's own query counts."""
    stats = coverage.expected_queries
    revision = pinned_revision(TASK)
    rows = []
    for subset in coverage.declared_subsets(TASK):
        n = stats(TASK, "test", subset, revision)
        for metric, value in (("map", 0.5), ("n_queries", n - (n_queries_short if subset == "eng-eng" else 0))):
            rows.append({"model": "m", "label": "m", "revision": "r", "task": TASK, "dataset_revision": revision,
                         "split": "test", "subset": subset, "languages": "", "metric": metric, "value": float(value)})
    return pd.DataFrame(rows)


def test_complete_results_carry_no_mark_and_missing_queries_do() -> None:
    results = _complete_frame()
    cells = tables.find_cells(results)
    table = coverage.coverage_table(results, [c for c in cells if c.metric == "map"])
    assert table["complete"].all() and list(table["subsets"]) == [11, 110, 11]
    assert (table["queries"] == table["queries_expected"]).all()
    assert all(coverage.coverage_mark(r) == "" for _, r in table.iterrows())
    assert coverage.coverage_notes(table, results) == []
    short = _complete_frame(n_queries_short=2)
    table = coverage.coverage_table(short, [c for c in tables.find_cells(short) if c.metric == "map"])
    mono = table.set_index("cell").loc["mono"]
    assert not mono["complete"] and coverage.coverage_mark(mono) == (
        f" ({int(mono['queries'])}/{int(mono['queries_expected'])} queries)")
    # numbers on other data than the statistics describe (a mirror) are not compared on queries
    assert coverage.expected_queries(TASK, "test", "eng-eng", "mirror:x@123") is None


def test_the_page_crowns_no_incomplete_number() -> None:
    header = ["model", "XQuAD-R / mono", "data"]
    rows = [["a", "0.814", "official"], ["b", "0.900 (1/11)", "official"], ["c", "0.700", "official"]]
    assert best_cells("table1_map", header, rows) == {(0, 1)}
    # the same coverage everywhere: comparable with each other
    rows = [["a", "0.814 (3/11)", "official"], ["b", "0.900 (3/11)", "official"]]
    assert best_cells("table1_map", header, rows) == {(1, 1)}


def test_synthetic_languages_are_a_strict_subset_of_the_task() -> None:
    """The premise of the tests above: the synthetic task has fewer languages than XQuAD-R declares."""
    declared = {s.split("-")[0] for s in coverage.declared_subsets(TASK)}
    assert set(LANGS) < declared
