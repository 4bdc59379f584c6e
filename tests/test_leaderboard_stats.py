"""Paired bootstrap and sign-flip tests of :mod:`hybrid_bench.leaderboard.stats` on fixtures with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hybrid_bench.leaderboard.stats import bootstrap_mean_ci, macro_paired_bootstrap, paired_bootstrap


@pytest.fixture
def scores() -> np.ndarray:
    return np.random.default_rng(7).uniform(0, 1, 200)


def test_identical_runs_ci_is_zero_and_p_is_one(scores: np.ndarray) -> None:
    res = paired_bootstrap(scores, scores.copy(), n_resamples=2000)
    assert res.mean_diff == 0.0
    assert res.ci_low <= 0.0 <= res.ci_high
    assert res.p_value == pytest.approx(1.0)
    assert not res.excludes_zero


def test_no_true_difference_ci_contains_zero(scores: np.ndarray) -> None:
    # b is a with symmetric noise: the two systems are equally good in expectation
    noise = np.random.default_rng(3).normal(0, 0.05, scores.size)
    res = paired_bootstrap(scores, scores + noise - noise.mean(), n_resamples=4000)
    assert res.ci_low < 0 < res.ci_high
    assert res.p_value > 0.5


def test_constant_shift_excludes_zero(scores: np.ndarray) -> None:
    res = paired_bootstrap(scores + 0.1, scores, n_resamples=2000)
    assert res.mean_diff == pytest.approx(0.1)
    assert res.ci_low == pytest.approx(0.1) and res.ci_high == pytest.approx(0.1)
    assert res.excludes_zero
    assert res.p_value < 0.001


def test_noisy_shift_excludes_zero_with_small_p(scores: np.ndarray) -> None:
    noise = np.random.default_rng(5).normal(0, 0.1, scores.size)
    res = paired_bootstrap(scores + 0.05 + noise, scores, n_resamples=4000)
    assert 0 < res.ci_low < res.mean_diff < res.ci_high
    assert res.p_value < 0.01


def test_interval_matches_scipy_bootstrap_of_differences(scores: np.ndarray) -> None:
    b = scores + np.random.default_rng(11).normal(0, 0.2, scores.size)
    ours = paired_bootstrap(scores, b, n_resamples=3000, seed=4)
    ref = stats.bootstrap((scores - b,), np.mean, n_resamples=3000, method="percentile",
                          rng=np.random.default_rng(4), vectorized=True)
    # same resampled indices (same generator, same sample size) → the same interval
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=1e-12)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=1e-12)


def test_sign_flip_p_value_is_exact_for_small_samples() -> None:
    # 5 equal positive differences: of the 2^5 sign patterns only all-plus and all-minus are as extreme
    res = paired_bootstrap([1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0], n_resamples=1000)
    assert res.p_value == pytest.approx(2 / 32)


def test_macro_bootstrap_resamples_shared_units_together() -> None:
    """Three subsets holding the *same* per-question differences carry no more information than one subset: the
    cluster bootstrap over shared units must not narrow the interval; treating rows as independent would, by √3."""
    rng = np.random.default_rng(0)
    diff = rng.normal(0.02, 0.3, 80)
    base = rng.uniform(0.2, 0.8, 80)
    single = paired_bootstrap(base + diff, base, n_resamples=4000, seed=1)
    groups = [g for g in ("eng-deu", "deu-eng", "spa-eng") for _ in range(80)]
    shared = macro_paired_bootstrap(np.tile(base + diff, 3), np.tile(base, 3), groups=groups,
                                    units=[f"q{i}" for i in range(80)] * 3, n_resamples=4000, seed=1)
    naive = macro_paired_bootstrap(np.tile(base + diff, 3), np.tile(base, 3), groups=groups,
                                   units=[f"r{i}" for i in range(240)], n_resamples=4000, seed=1)
    width = lambda r: r.ci_high - r.ci_low  # noqa: E731
    assert shared.mean_diff == pytest.approx(single.mean_diff)
    assert width(shared) == pytest.approx(width(single), rel=0.1)
    assert width(naive) < 0.75 * width(shared)
    assert shared.n_units == 80 and shared.n_rows == 240


def test_macro_bootstrap_per_group_and_strata() -> None:
    # MIRACL-like: languages share no queries → one stratum each; a planted gain only in "sw"
    rng = np.random.default_rng(2)
    b = rng.uniform(0, 1, 60)
    a = b.copy()
    a[:30] += 0.3
    groups = ["sw"] * 30 + ["yo"] * 30
    res = macro_paired_bootstrap(a, b, groups=groups, units=[f"{g}|{i}" for g, i in zip(groups, range(60))],
                                 n_resamples=2000)
    per = res.per_group.set_index("group")
    assert per.loc["sw", "mean_diff"] == pytest.approx(0.3)
    assert per.loc["sw", "ci_low"] == pytest.approx(0.3) and per.loc["yo", "ci_high"] == pytest.approx(0.0)
    assert res.mean_diff == pytest.approx(0.15)
    # every replicate keeps 30 queries per language, so the macro mean is exactly 0.15 in all of them
    assert res.ci_low == pytest.approx(0.15) and res.ci_high == pytest.approx(0.15)


def test_bootstrap_mean_ci_rows() -> None:
    values = np.r_[np.ones(20), np.zeros(20)]
    frame = bootstrap_mean_ci(values, groups=["sw"] * 20 + ["yo"] * 20, n_resamples=500).set_index("group")
    assert list(frame.index) == ["sw", "yo", "mean"]
    assert frame.loc["sw", "mean"] == 1.0 and frame.loc["yo", "mean"] == 0.0 and frame.loc["mean", "mean"] == 0.5


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([1.0, 2.0], [1.0], "equal lengths"), ([1.0], [1.0], "at least 2"), ([1.0, np.nan], [1.0, 2.0], "NaN")],
)
def test_bad_input_names_the_problem(a: list[float], b: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b)


def test_group_with_few_units_still_gets_an_interval() -> None:
    # MLQA-R-like: "rare" holds one question of the 30 that the other subset shares, so about a third of the joint
    # replicates never draw it; its interval must come from the replicates that do, not turn into NaN
    rng = np.random.default_rng(3)
    n = 30
    a = np.concatenate([rng.normal(0.6, 0.1, n), [0.9]])
    b = np.concatenate([a[:n] - 0.05 + rng.normal(0, 0.02, n), [0.4]])
    groups = ["common"] * n + ["rare"]
    units = [f"q{i}" for i in range(n)] + ["q7"]
    res = macro_paired_bootstrap(a, b, groups=groups, units=units, n_resamples=2000, seed=1)
    rare = res.per_group.set_index("group").loc["rare"]
    assert np.isfinite(rare["ci_low"]) and np.isfinite(rare["ci_high"])
    assert rare["ci_low"] == pytest.approx(0.5) and rare["ci_high"] == pytest.approx(0.5)  # one unit: no spread
    common = res.per_group.set_index("group").loc["common"]
    assert common["ci_low"] < 0.05 < common["ci_high"]


def test_hierarchical_replicates_have_the_same_bits_on_any_blas_thread_count() -> None:
    """A committed leaderboard rebuilds byte for byte whatever OMP_NUM_THREADS is: a multi-threaded BLAS would sum
    the design's matrix products in another order (last-bit differences that move a percentile bound)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    n_units, n_groups = 711, 17  # the MIRACL design: queries within languages, three seeds
    groups = np.repeat(np.arange(n_groups), -(-n_units // n_groups))[:n_units]
    a = rng.random((3, n_units)).ravel()
    b = rng.random((3, n_units)).ravel()
    kwargs = {"groups": np.tile(groups, 3), "units": np.tile(np.arange(n_units), 3),
              "seeds": np.repeat([42, 43, 44], n_units), "n_resamples": 2000}
    with threadpool_limits(limits=1, user_api="blas"):
        one = macro_paired_bootstrap(a, b, **kwargs)
    with threadpool_limits(limits=2, user_api="blas"):
        two = macro_paired_bootstrap(a, b, **kwargs)
    assert np.array_equal(one.distribution, two.distribution)
    assert (one.ci_low, one.ci_high) == (two.ci_low, two.ci_high)
