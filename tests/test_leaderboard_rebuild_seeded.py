"""The committed seeded leaderboard (issue 11) rebuilds, intervals and decisions included, from the repository alone.

``leaderboards/reproduce-seeded-results`` holds the run's MTEB result files and training records;
``leaderboards/reproduce-seeded/per_query`` the per-query values (with each row's resampling cluster) its intervals
came from. Rebuilding with the settings in its ``meta.json`` (resamples, seed, confidence) — without qrels, LAReQA
data or any model — must give the committed tables: every label, decision, model name and count identical, every
number within 1e-6 absolute (:mod:`table_compare`; the last bits of bootstrap bounds depend on the CPU's SIMD paths,
the tables report three decimals).

Two rebuilds:

* the **primary** one (always run, ≈ 1 min): only the two pre-declared comparisons, hybrid − mono and hybrid − cross,
  named by their arms (``--compare hybrid-me5-small:mono-me5-small ...``, compared seed by seed). It must give every
  score table, the seed-SD tables and ``decisions.csv``, and the committed ``comparison.csv`` rows of
  those two pairs (each comparison resamples from the same seed, whatever else is compared; only the
  Benjamini–Hochberg q-value depends on the other rows);
* the **full** one (``pytest --full-rebuild``: 16 models, 11 arm pairs; the seeded comparisons are Satterthwaite
  intervals, the figures' bootstrap is not built): every committed CSV, the per-language comparisons and q-values
  included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from table_compare import ATOL, assert_frames_match, assert_tables_match

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "leaderboards" / "reproduce-seeded-results"
COMMITTED = ROOT / "leaderboards" / "reproduce-seeded"
PRIMARY = ["hybrid-me5-small:mono-me5-small", "hybrid-me5-small:cross-me5-small"]
#: every committed CSV that does not depend on which pairs are compared
PAIR_INDEPENDENT = ("table1_map.csv", "table1_map_seed_sd.csv", "table2_language_bias.csv",
                    "table2_language_bias_seed_sd.csv", "per_language_MIRACLRetrieval.csv",
                    "per_language_MIRACLRetrieval_seed_sd.csv", "per_language_MIRACLCrossLingualRetrieval.csv",
                    "per_language_MIRACLCrossLingualRetrieval_seed_sd.csv", "scores_long.csv.gz", "decisions.csv")
ROW_KEY = ["task", "cell", "metric", "model", "baseline"]

pytestmark = pytest.mark.slow  # a minute or more of CPU: 16 models' per-query values, hundreds of cells


def rebuild(results: Path, committed: Path, out: Path, compare: list[str] | None = None) -> Path:
    """Rebuild ``committed`` from ``results`` and its own ``per_query/`` with the settings of its ``meta.json``."""
    from hybrid_bench.leaderboard.build import build_leaderboard

    meta = json.loads((committed / "meta.json").read_text(encoding="utf-8"))
    board = build_leaderboard(results, predictions_dir=committed / meta["per_query_dir"], compare=compare,
                              n_resamples=meta["n_resamples"], confidence=meta["confidence"], seed=meta["seed"],
                              make_plots=False, qrels_loader=None, cluster_loader=None, progress=False)
    return board.write(out / "board")


def committed_tables(committed: Path) -> list[str]:
    """Every table the committed leaderboard holds as CSV, and its long score file."""
    return sorted(p.name for p in committed.iterdir() if p.name.endswith((".csv", ".csv.gz")))


def _check_committed_run() -> None:
    # the committed run must be complete: a missing folder is a failure, not a skip
    assert (RESULTS / "results").is_dir(), f"{RESULTS}/results is missing"
    assert (COMMITTED / "meta.json").is_file(), f"{COMMITTED} has no meta.json"


@pytest.fixture(scope="module")
def rebuilt_primary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _check_committed_run()
    return rebuild(RESULTS, COMMITTED, tmp_path_factory.mktemp("seeded-primary"), compare=PRIMARY)


def test_the_committed_run_is_the_declared_design() -> None:
    meta = json.loads((COMMITTED / "meta.json").read_text(encoding="utf-8"))
    assert meta["n_resamples"] >= 10_000 and meta["margin"] == 0.01 and meta["lareqa_cluster"] == "paragraph"
    assert set(meta["tasks"]) == {"MIRACLRetrieval", "MIRACLCrossLingualRetrieval", "XQuADRHeldOutRetrieval",
                                  "MLQARRetrieval"}
    seeds = {arm: sorted(per_seed) for arm, per_seed in meta["arms"].items() if arm != "me5-small"}
    # the three arms of the primary comparisons and the α sweep's two inner points, each with seeds 42–44
    arms = ["mono-me5-small", "cross-me5-small", "hybrid-me5-small", "hybrid-me5-small-a0.25", "hybrid-me5-small-a0.75"]
    assert seeds == {arm: ["42", "43", "44"] for arm in arms}
    assert set(PAIR_INDEPENDENT) | {"comparison.csv"} <= set(committed_tables(COMMITTED))
    # the α sweep's figure on the primary endpoint and on held-out XQuAD-R
    assert {"alpha_sweep_MIRACLRetrieval_ndcg_at_10.png", "alpha_sweep_XQuADRHeldOutRetrieval_map.png"} <= {
        p.name for p in (COMMITTED / "plots").iterdir()}


def test_score_tables_and_decisions_rebuild(rebuilt_primary: Path) -> None:
    # labels and decisions identical, numbers within ATOL (1e-6) of the committed ones, whatever the CPU
    for name in PAIR_INDEPENDENT:
        assert_tables_match(rebuilt_primary / name, COMMITTED / name, key=["label", "model", "endpoint", "task"])


def test_the_primary_comparisons_rebuild_row_for_row(rebuilt_primary: Path) -> None:
    rebuilt = pd.read_csv(rebuilt_primary / "comparison.csv", index_col=0).drop(columns="q_value")
    committed = pd.read_csv(COMMITTED / "comparison.csv", index_col=0).drop(columns="q_value")
    pairs = {tuple(spec.split(":")) for spec in PRIMARY}
    assert set(zip(rebuilt["model"], rebuilt["baseline"])) == pairs
    committed = committed[[(m, b) in pairs for m, b in zip(committed["model"], committed["baseline"])]]
    assert len(rebuilt) == len(committed) > 20
    assert_frames_match(rebuilt.sort_values(ROW_KEY).reset_index(drop=True),
                        committed.sort_values(ROW_KEY).reset_index(drop=True), name="comparison.csv", key=ROW_KEY,
                        atol=ATOL)
    # seed by seed: the arms' three seeds each, not the first seed's models alone
    assert (rebuilt["n_seeds"] == 3).all()


def test_the_primary_decisions_have_seed_spread_and_intervals(rebuilt_primary: Path) -> None:
    decisions = pd.read_csv(rebuilt_primary / "decisions.csv")
    primary = decisions[decisions["endpoint"] == "primary"]
    assert len(primary) == 2  # hybrid − mono, hybrid − cross on MIRACL nDCG@10
    assert set(primary["relevance_decision"]) <= {"equivalent", "worse beyond δ", "better beyond δ", "inconclusive"}
    assert (primary["interval"] == "satterthwaite t").all() and (primary["df"] > 2).all()
    assert primary.notna().all().all(), "a primary comparison lacks its interval, seed spread or p-value"
    assert (primary["holm_over"] == 2).all() and (primary["n_seeds"] == 3).all()


def test_every_table_rebuilds(request: pytest.FixtureRequest,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    if not request.config.getoption("--full-rebuild"):
        pytest.skip("the full rebuild (every arm pair, ≈ 4 min) runs with pytest --full-rebuild")
    _check_committed_run()
    rebuilt = rebuild(RESULTS, COMMITTED, tmp_path_factory.mktemp("seeded-full"))
    names = committed_tables(COMMITTED)
    assert committed_tables(rebuilt) == names
    for name in names:
        assert_tables_match(rebuilt / name, COMMITTED / name, key=["label", "model", "baseline", "task", "cell"])
