"""Variance components, the few-seed interval and the planner, checked against simulation with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.variance import estimate_components, plan, simulate_study

STRATA = {"ar": 80, "bn": 30, "sw": 60}
#: (query SD, seed SD, interaction SD): queries dominate, as on MIRACL; seeds dominate
REGIMES = {"query-dominated": (0.12, 0.0015, 0.06), "seed-dominated": (0.01, 0.02, 0.005)}


def _studies(regime: str, n: int, seeds: int = 3, seed: int = 0, true_diff: float = 0.0):
    rng = np.random.default_rng(seed)
    q, b, e = REGIMES[regime]
    for _ in range(n):
        yield estimate_components(simulate_study(rng, n_queries=STRATA, seeds=seeds, true_diff=true_diff,
                                                 query_sd=q, seed_sd=b, interaction_sd=e))


def test_components_are_recovered() -> None:
    rng = np.random.default_rng(1)
    fits = [estimate_components(simulate_study(rng, n_queries={"x": 400, "y": 400}, seeds=6, query_sd=0.1,
                                               seed_sd=0.01, interaction_sd=0.05)) for _ in range(100)]
    assert np.mean([s.query_var for f in fits for s in f.strata]) == pytest.approx(0.1 ** 2, rel=0.05)
    assert np.mean([s.interaction_var for f in fits for s in f.strata]) == pytest.approx(0.05 ** 2, rel=0.03)
    # the endpoint's seed variance: Var(mean of two independent stratum seed effects) = 0.01² / 2
    assert np.mean([f.seed_var for f in fits]) == pytest.approx(0.01 ** 2 / 2, rel=0.3)


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_ninety_percent_intervals_cover_with_three_seeds(regime: str) -> None:
    # a small version of benchmarks/interval_coverage.py (2,000 studies per case): 400 studies, binomial SD 1.5 %
    covered = naive = 0
    for fit in _studies(regime, 400):
        ci = fit.interval(0.90)
        covered += ci.low <= 0.0 <= ci.high
        # the same variance with a normal quantile, as if 3 seeds were many: what the test must tell apart
        naive += abs(fit.estimate) <= 1.6449 * ci.se
    assert 0.86 <= covered / 400 <= 0.94, covered / 400
    if regime == "seed-dominated":
        assert naive / 400 < 0.82  # the normal interval under-covers where seeds dominate


def test_planned_half_width_and_decisions_match_simulation() -> None:
    q, b, e = REGIMES["query-dominated"]
    rng = np.random.default_rng(3)  # a large pilot run: the plan's own estimation noise stays small
    fitted = estimate_components(simulate_study(rng, n_queries={k: 4 * n for k, n in STRATA.items()}, seeds=8,
                                                query_sd=q, seed_sd=b, interaction_sd=e))
    design = {name: 2 * n for name, n in STRATA.items()}
    table = plan(fitted, seeds=[3], queries=[design], true_diffs=[0.0], margin=0.02)
    predicted = table.iloc[0]
    # the truth: simulate the planned design under the true components
    rng = np.random.default_rng(4)
    fits = [estimate_components(simulate_study(rng, n_queries=design, seeds=3, query_sd=q, seed_sd=b,
                                               interaction_sd=e)) for _ in range(300)]
    estimates = np.array([f.estimate for f in fits])
    widths = np.array([f.interval(0.90).half_width for f in fits])
    assert predicted["se"] == pytest.approx(estimates.std(), rel=0.2)
    assert predicted["half_width_90"] == pytest.approx(np.median(widths), rel=0.2)
    equivalent = np.mean([(f.interval(0.90).low > -0.02) and (f.interval(0.90).high < 0.02) for f in fits])
    assert predicted["p_equivalent"] == pytest.approx(equivalent, abs=0.08)
    assert predicted[["p_equivalent", "p_worse", "p_better", "p_inconclusive"]].sum() == pytest.approx(1.0)


def test_more_seeds_or_queries_narrow_the_plan_where_they_are_the_noise() -> None:
    seeds_rule = next(_studies("seed-dominated", 1, seeds=3, seed=5))
    table = plan(seeds_rule, seeds=[3, 10], queries=[170, 1700], true_diffs=[0.0, -0.03], margin=0.01)
    width = table.groupby(["n_seeds", "n_queries"])["half_width_90"].first()
    # seeds are the noise: more seeds narrow the interval, ten times the queries do not
    assert width[(10, 170)] < 0.5 * width[(3, 170)]
    assert width[(3, 1700)] == pytest.approx(width[(3, 170)], rel=0.1)
    worse = table.set_index(["n_seeds", "n_queries", "true_diff"])["p_worse"]
    assert worse[(10, 1700, -0.03)] > worse[(3, 170, -0.03)] and worse[(10, 1700, 0.0)] < 0.01
    queries_rule = next(_studies("query-dominated", 1, seeds=3, seed=6))
    width = plan(queries_rule, seeds=[3], queries=[170, 1700]).set_index("n_queries")["half_width_90"]
    assert width[1700] < 0.5 * width[170]


def test_unbalanced_or_bad_input_is_one_clear_error() -> None:
    frame = simulate_study(np.random.default_rng(0), n_queries={"x": 5}, seeds=2, query_sd=1, seed_sd=1,
                           interaction_sd=1)
    with pytest.raises(DataError, match="balanced design"):
        estimate_components(frame.iloc[1:])
    with pytest.raises(DataError, match="missing"):
        estimate_components(frame.drop(columns="seed"))
    with pytest.raises(DataError, match="finite"):
        estimate_components(frame.assign(diff=np.where(frame.index == 0, np.nan, frame["diff"])))
    assert isinstance(frame, pd.DataFrame)


def test_plan_study_on_the_committed_seeded_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                shared_data: Path) -> None:
    from hybrid_bench.cli import main

    root = Path(__file__).resolve().parent.parent
    data = shared_data / "miracl-lite-train"
    argv = ["plan-study", str(root / "leaderboards/reproduce-seeded/per_query"), "--compare",
            "hybrid-me5-small:mono-me5-small", "--seeds", "3", "10", "--csv", str(tmp_path / "plan.csv"),
            "--add-queries", str(data)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # the committed run's figures (an independent re-analysis found the same): estimate, per-seed and seed SDs
    assert "MIRACLRetrieval ndcg_at_10: -0.0130" in out and "per-seed SD 0.0065" in out and "SD (interaction removed) 0.0025" in out
    table = pd.read_csv(tmp_path / "plan.csv")
    assert set(table["n_seeds"]) == {3, 10}
    assert set(table["n_queries"]) == {711, 711 + 1966}
    widths = table.set_index(["n_seeds", "n_queries"])["half_width_90"]
    assert widths[(10, 711)] < widths[(3, 711)]
