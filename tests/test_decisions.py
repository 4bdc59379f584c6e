"""Equivalence decisions (TOST + Holm) and the seed level of the bootstrap, on fixtures with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_bench.leaderboard.decisions import claim_p_values, decide, holm
from hybrid_bench.leaderboard.stats import macro_paired_bootstrap


def test_holm_matches_hand_computed_values() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # two comparisons (the primary endpoint): the smaller one is doubled, the larger one kept but never below it
    assert holm([0.02, 0.03]) == pytest.approx([0.04, 0.04])
    assert holm([0.001, 0.2]) == pytest.approx([0.002, 0.2])
    assert holm([0.3, 0.8]) == pytest.approx([0.6, 0.8])
    # capped at one; an untested comparison stays NaN and does not count in m
    adjusted = holm([0.6, np.nan, 0.7])
    assert adjusted[0] == pytest.approx(1.0) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="p-values"):
        holm([1.5])


def _replicates(center: float, spread: float, n: int = 20_000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(center, spread, n)


@pytest.mark.parametrize(
    ("center", "spread", "expected"),
    [
        (0.000, 0.003, "equivalent"),    # 90 % CI ≈ ±0.005, inside ±0.01
        (-0.004, 0.003, "equivalent"),   # shifted but still inside: a real, irrelevant difference
        (-0.020, 0.003, "worse beyond δ"),  # CI ≈ [−0.025, −0.015], entirely below −δ
        (+0.020, 0.003, "better beyond δ"),
        (-0.008, 0.004, "inconclusive"),  # CI ≈ [−0.015, −0.001]: excludes 0, crosses −δ
        (0.000, 0.010, "inconclusive"),   # too wide to say anything
    ],
)
def test_single_comparison_decision_is_the_90_percent_ci_rule(center: float, spread: float, expected: str) -> None:
    reps = _replicates(center, spread)
    low, high = np.percentile(reps, [5, 95])
    by_ci = ("equivalent" if -0.01 < low and high < 0.01 else "worse beyond δ" if high < -0.01
             else "better beyond δ" if low > 0.01 else "inconclusive")
    assert by_ci == expected  # the fixture is what its comment says
    assert decide({"x": reps}, margin=0.01)["relevance_decision"].tolist() == [expected]


def test_lower_is_better_flips_worse_and_better() -> None:
    # intrusion@10 going up by 0.03 is worse
    assert decide({"x": _replicates(0.03, 0.003)}, margin=0.01, lower_is_better=True)["relevance_decision"].tolist() == [
        "worse beyond δ"]


def test_holm_makes_two_borderline_equivalences_harder() -> None:
    # each 90 % CI is inside ±δ (p_equivalent ≈ 0.03 < 0.05), but Holm asks the smaller p to pass at 0.025
    reps = {"a": _replicates(0.0, 0.0108 / 1.881, seed=1), "b": _replicates(0.0, 0.0108 / 1.881, seed=2)}
    for name, values in reps.items():
        assert 0.025 < claim_p_values(values, 0.01)["equivalent"] < 0.05, name
        assert decide({name: values}, margin=0.01)["relevance_decision"].item() == "equivalent"
    both = decide(reps, margin=0.01)
    assert both["relevance_decision"].tolist() == ["inconclusive", "inconclusive"]
    assert (both["relevance_p_holm"] >= 0.05).all()
    # a clear equivalence next to it lets the borderline one pass at α
    clear = decide({"a": reps["a"], "c": _replicates(0.0, 0.001, seed=3)}, margin=0.01)
    assert clear["relevance_decision"].tolist() == ["equivalent", "equivalent"]


def test_claim_p_values_count_replicates_past_the_margin() -> None:
    reps = np.r_[np.full(3, -0.02), np.full(6, 0.0), np.full(1, 0.03)]
    assert claim_p_values(reps, 0.01) == {"equivalent": 0.3, "worse": 0.7, "better": 0.9}
    with pytest.raises(ValueError, match="margin"):
        claim_p_values(reps, 0.0)


def test_seed_level_widens_the_interval_when_seed_variance_dominates() -> None:
    """Three training seeds whose models differ by ±0.03 on every query, tiny query noise: the seed-to-seed spread
    is the uncertainty. A query-only bootstrap of the seed-averaged differences misses it; the hierarchical one
    must not, and it must keep the same point estimate."""
    rng = np.random.default_rng(0)
    n_queries, offsets = 200, (-0.03, 0.0, 0.03)
    base = rng.uniform(0.3, 0.9, n_queries)
    langs = np.repeat(["sw", "yo"], n_queries // 2)
    rows = {"a": [], "b": [], "group": [], "unit": [], "seed": []}
    for s, offset in enumerate(offsets):
        noise = rng.normal(0, 0.01, n_queries)
        rows["a"] += list(base + 0.005 + offset + noise)
        rows["b"] += list(base)
        rows["group"] += list(langs)
        rows["unit"] += [f"{g}|q{i}" for i, g in enumerate(langs)]
        rows["seed"] += [s] * n_queries
    a, b = np.array(rows["a"]), np.array(rows["b"])
    hier = macro_paired_bootstrap(a, b, groups=rows["group"], units=rows["unit"], seeds=rows["seed"],
                                  n_resamples=4000, seed=1)
    averaged = (a - b).reshape(len(offsets), n_queries).mean(axis=0)
    query_only = macro_paired_bootstrap(averaged, np.zeros(n_queries), groups=list(langs),
                                        units=rows["unit"][:n_queries], n_resamples=4000, seed=1)
    assert hier.mean_diff == pytest.approx(query_only.mean_diff)
    assert hier.per_seed == pytest.approx([0.005 + o for o in offsets], abs=0.003)
    assert hier.seed_sd == pytest.approx(0.03, abs=0.003) and hier.n_seeds == 3
    assert (hier.ci_high - hier.ci_low) > 5 * (query_only.ci_high - query_only.ci_low)
    # the p-value sees the seeds too: the query-only test finds the +0.005 gain, the hierarchical one does not
    assert query_only.p_value < 0.01 and hier.p_value > 0.5
    # the query-only interval claims equivalence with δ = 0.01; with the seeds it cannot
    assert decide({"q": query_only.distribution}, margin=0.01)["relevance_decision"].item() == "equivalent"
    assert decide({"h": hier.distribution}, margin=0.01)["relevance_decision"].item() == "inconclusive"


def test_one_seed_is_the_query_bootstrap() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
    kwargs = {"groups": ["x"] * 50, "units": [f"q{i}" for i in range(50)], "n_resamples": 1000, "seed": 2}
    plain = macro_paired_bootstrap(a, b, **kwargs)
    one = macro_paired_bootstrap(a, b, seeds=[7] * 50, **kwargs)
    assert (one.ci_low, one.ci_high) == (plain.ci_low, plain.ci_high)
    assert one.n_seeds == 1 and np.isnan(one.seed_sd)
    assert one.interval(0.9)[0] >= one.ci_low
