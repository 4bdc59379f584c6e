"""Paired significance tests over queries: bootstrap confidence intervals and sign-flip p-values.

Two systems evaluated on the *same* queries give paired per-query values ``a[i]``, ``b[i]``. We report the
difference of their means with

* a **percentile bootstrap confidence interval** (:func:`scipy.stats.bootstrap`): queries are resampled with
  replacement and the mean difference is recomputed on each replicate;
* a **two-sided paired randomization (sign-flip) p-value** (:func:`scipy.stats.permutation_test` with
  ``permutation_type="samples"``): under the null hypothesis that the two systems are exchangeable, the labels
  of each pair can be swapped, i.e. the sign of each per-query difference flipped. This is the randomization test
  that Smucker, Allan & Carterette (CIKM 2007, "A comparison of statistical significance tests for information
  retrieval evaluation") recommend for IR; it is exact when ``2**n <= n_resamples``.

**Macro-averaged cells** (e.g. "cross" = the mean over 110 language pairs of XQuAD-R) are averages of *dependent*
per-subset means: the same parallel question appears, translated, in every subset. Resampling each subset on its
own would pretend that the 110 subsets are independent and make the interval far too narrow. So
:func:`macro_paired_bootstrap` resamples **units** (the parallel question id shared by all subsets, see
:func:`hybrid_bench.leaderboard.per_query.unit_id`) *once per replicate* and recomputes every subset mean from
the drawn units, and the macro mean from those. This is a cluster bootstrap (Davison & Hinkley 1997, §3.8); the
sign-flip test likewise flips the sign of all rows of one unit together. Units are resampled within **strata**:
sets of subsets linked by shared units. XQuAD-R / MLQA-R form one stratum; MIRACL, whose queries differ between
languages, has one stratum per language, so every language keeps its query count (a stratified bootstrap).

**Training seeds** are a level above the queries: with ``seeds`` given, every row is one query evaluated on the
models of one training seed, and each replicate draws the seeds with replacement *and*, independently, the units
within their strata; the statistic is the mean over the drawn seeds and the drawn units. Seeds and queries are
crossed (every seed's models answer the same queries), so this is the two-factor "pigeonhole" bootstrap of
Owen (2007, "The pigeonhole bootstrap", Ann. Appl. Stat. 1(2)), which for crossed random effects is mildly
conservative, where a query-only bootstrap treats the seed-to-seed spread as zero. Units are kept intact within a
replicate (Davison & Hinkley 1997, §3.8, strategy 2): a unit is the task's cluster (a LAReQA paragraph, a MIRACL
query), and queries are not resampled again inside it.

References:
    Efron & Tibshirani (1993), "An Introduction to the Bootstrap", ch. 13 (percentile interval) and 15
    (permutation tests). Sakai (2006), "Evaluating evaluation metrics based on the bootstrap", SIGIR.
    Owen (2007), "The pigeonhole bootstrap", The Annals of Applied Statistics 1(2), 386–411.

Example:
    >>> import numpy as np
    >>> from hybrid_bench.leaderboard.stats import paired_bootstrap
    >>> a = np.array([0.5, 0.7, 0.9, 0.4, 0.6, 0.8, 0.3, 0.9])
    >>> result = paired_bootstrap(a, a - 0.1, n_resamples=2000)
    >>> round(result.mean_diff, 3), round(result.ci_low, 3), round(result.ci_high, 3)
    (0.1, 0.1, 0.1)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from hybrid_bench.leaderboard.design import UnitDesign, multiplicities

# replicates per vectorised batch: bounds memory to batch × n_units floats
_BATCH = 500

CIMethod = Literal["percentile", "basic", "BCa"]


@dataclass(frozen=True)
class BootstrapResult:
    """Mean difference ``a − b`` with its bootstrap confidence interval and sign-flip p-value.

    Attributes:
        mean_diff: observed difference of the (macro-)means, ``a − b``.
        ci_low, ci_high: bounds of the ``confidence`` bootstrap interval for ``mean_diff``.
        p_value: two-sided paired randomization (sign-flip) p-value for "no difference"; with several training
            seeds the two-sided bootstrap p-value of the hierarchical replicates instead (a sign flip of queries
            cannot see the seed-to-seed spread).
        n_units: number of resampled units (queries, or parallel questions for macro cells).
        n_rows: number of paired rows (query × subset) that entered the statistic.
        confidence: the confidence level of the interval (e.g. 0.95).
        n_resamples: bootstrap and permutation resamples used.
        method: the bootstrap interval method passed to :func:`scipy.stats.bootstrap`.
        per_group: for :func:`macro_paired_bootstrap`, one row per group (subset) with ``mean_diff``, ``ci_low``,
            ``ci_high``, ``n_rows`` from the *same* joint replicates (no per-group p-values; the interval is NaN for
            a group that some replicates did not draw at all); else ``None``.
        distribution: the bootstrap replicates of ``mean_diff`` (for other interval levels and the equivalence
            test of :mod:`hybrid_bench.leaderboard.decisions`).
        per_seed: with training seeds, ``mean_diff`` of each seed on its own (seed order sorted); else one value.
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_units: int
    n_rows: int
    confidence: float
    n_resamples: int
    method: str = "percentile"
    per_group: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    distribution: np.ndarray | None = field(default=None, compare=False, repr=False)
    per_seed: tuple[float, ...] = field(default=(), compare=False)

    @property
    def excludes_zero(self) -> bool:
        """True when the confidence interval lies entirely above or below zero."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    @property
    def n_seeds(self) -> int:
        """Training seeds that entered the statistic (1 when seeds were not a level)."""
        return max(1, len(self.per_seed))

    @property
    def seed_sd(self) -> float:
        """Seed-to-seed standard deviation of ``mean_diff`` (sample SD, ``ddof=1``); NaN with one seed."""
        return float(np.std(self.per_seed, ddof=1)) if len(self.per_seed) > 1 else float("nan")

    def interval(self, confidence: float) -> tuple[float, float]:
        """Percentile interval of another ``confidence`` from the same replicates (e.g. the 90 % interval of an
        equivalence test next to the reported 95 % one).

        Example:
            >>> res = paired_bootstrap([0.5, 0.7, 0.9, 0.4], [0.4, 0.7, 0.6, 0.4], n_resamples=1000)
            >>> lo90, hi90 = res.interval(0.90)
            >>> res.ci_low <= lo90 <= hi90 <= res.ci_high
            True
        """
        if self.distribution is None:
            raise ValueError("no bootstrap replicates stored with this result")
        tail = (1 - confidence) / 2 * 100
        low, high = np.nanpercentile(self.distribution, [tail, 100 - tail])
        return float(low), float(high)


def _as_paired(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.size} and {b.size}; join them on the query id first")
    if a.size < 2:
        raise ValueError(f"need at least 2 paired values for a bootstrap, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired values contain NaN or inf; drop those queries (or fix the metric) before testing")
    return a, b


def _sign_flip_p(contributions: np.ndarray, *, n_resamples: int, seed: int) -> float:
    """Two-sided sign-flip p-value for ``sum(contributions) == 0`` (one contribution per unit)."""
    if not np.any(contributions):
        return 1.0  # every difference is exactly zero: nothing to test, and scipy would warn about it
    res = stats.permutation_test(
        (contributions,),
        lambda x, axis: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        batch=_BATCH,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(min(1.0, res.pvalue))


def _bootstrap_p(distribution: np.ndarray) -> float:
    """Two-sided bootstrap p-value for "no difference": twice the share of replicates on the far side of zero
    (the test inversion of the percentile interval; Efron & Tibshirani 1993, §16.4)."""
    d = distribution[np.isfinite(distribution)]
    if d.size == 0 or not np.any(d):
        return 1.0
    return float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))


def paired_bootstrap(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    method: CIMethod = "percentile",
) -> BootstrapResult:
    """Paired bootstrap CI and sign-flip p-value for ``mean(a) − mean(b)`` over the same queries.

    Args:
        a: per-query values of system A (e.g. average precision of the hybrid model).
        b: per-query values of system B on the same queries, in the same order.
        n_resamples: bootstrap replicates, also used as the number of random sign flips.
        confidence: confidence level of the interval.
        seed: seed of the random generator (the result is deterministic for a seed).
        method: interval method of :func:`scipy.stats.bootstrap`; ``"percentile"`` by default because
            ``"BCa"`` needs a jackknife over all queries and is undefined for constant differences.

    Returns:
        :class:`BootstrapResult`; ``n_units == n_rows == len(a)``.

    Example:
        >>> res = paired_bootstrap([1, 0, 1, 1, 0], [0, 0, 1, 0, 0], n_resamples=4000)
        >>> res.mean_diff, res.ci_low, res.ci_high, res.p_value
        (0.4, 0.0, 0.8, 0.5)
    """
    a, b = _as_paired(a, b)
    diff = a - b
    observed = float(diff.mean())
    if np.ptp(diff) == 0:
        # constant difference: every bootstrap replicate equals it exactly
        low = high = observed
        distribution = np.full(n_resamples, observed)
    else:
        res = stats.bootstrap(
            (a, b),
            lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            batch=_BATCH,
            confidence_level=confidence,
            method=method,
            rng=np.random.default_rng(seed),
        )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        distribution = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    return BootstrapResult(
        mean_diff=observed,
        ci_low=low,
        ci_high=high,
        p_value=_sign_flip_p(diff, n_resamples=n_resamples, seed=seed),
        n_units=int(a.size),
        n_rows=int(a.size),
        confidence=confidence,
        n_resamples=n_resamples,
        method=method,
        distribution=distribution,
        per_seed=(observed,),
    )


def macro_paired_bootstrap(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    groups: Sequence[object],
    units: Sequence[object],
    seeds: Sequence[object] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    method: CIMethod = "percentile",
) -> BootstrapResult:
    """Cluster-bootstrap CI and sign-flip p-value for a macro average of paired differences.

    The statistic is ``mean over groups g of mean over rows r in g of (a[r] − b[r])`` — e.g. the "cross" mAP of
    Table 1, a mean over language-pair subsets. Each bootstrap replicate draws units with replacement (one draw
    for all groups, which keeps the dependence between subsets that share a parallel question; stratified when
    groups share no units, e.g. MIRACL languages) and recomputes every group mean and their macro mean. With
    ``seeds``, each replicate also draws the training seeds with replacement (hierarchical bootstrap, see the
    module docstring). The p-value flips the sign of all rows of a unit together; with seeds it is the bootstrap
    p-value of the hierarchical replicates.

    Args:
        a: per-row values of system A (one row per query and subset [and seed]).
        b: per-row values of system B, aligned with ``a``.
        groups: per row, the group (subset) the macro average runs over.
        units: per row, the resampling unit (e.g. the parallel question id, or its paragraph); rows of different
            groups that share a unit are resampled together.
        seeds: per row, the training seed of the models that produced ``a`` and ``b`` (per-seed paired
            differences); ``None`` or a single seed: no seed level.
        n_resamples: bootstrap replicates and random sign flips.
        confidence: confidence level of the interval.
        seed: random seed.
        method: interval method of :func:`scipy.stats.bootstrap` (``"BCa"`` is slow: a jackknife over units).

    Returns:
        :class:`BootstrapResult` whose ``per_group`` frame holds each group's mean difference and interval
        taken from the same joint replicates, ``distribution`` the macro replicates and ``per_seed`` each seed's
        macro difference.

    Example:
        >>> res = macro_paired_bootstrap(
        ...     [0.9, 0.8, 0.7, 0.6, 0.9, 0.5], [0.8, 0.8, 0.6, 0.6, 0.7, 0.5],
        ...     groups=["eng-deu"] * 3 + ["deu-eng"] * 3, units=["q1", "q2", "q3"] * 2, n_resamples=1000)
        >>> round(res.mean_diff, 4)
        0.0667
    """
    a, b = _as_paired(a, b)
    if len(groups) != a.size or len(units) != a.size or (seeds is not None and len(seeds) != a.size):
        raise ValueError(f"groups ({len(groups)}), units ({len(units)}) and seeds must have one entry per row "
                         f"({a.size})")
    design = UnitDesign(a - b, groups, units, seeds)
    if design.n_units < 2:
        raise ValueError("need at least 2 distinct units for a bootstrap")
    observed_groups = design.group_means(np.ones(design.n_units))
    observed = float(observed_groups.mean())
    n_groups, n_seeds = len(design.group_names), design.n_seeds

    def statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        # with seeds, the first sample holds the resampled seed indices; each other one a stratum's resampled unit
        # indices, shape (batch, stratum size); together they give the multiplicities of a replicate
        samples_ = [np.moveaxis(np.asarray(s, dtype=np.int64), axis, -1) for s in samples]
        seed_idx = samples_.pop(0) if n_seeds > 1 else None
        idx = np.concatenate(samples_, axis=-1)
        lead = idx.shape[:-1]
        weights = multiplicities(idx.reshape(-1, idx.shape[-1]), design.n_units)
        seed_weights = None if seed_idx is None else multiplicities(seed_idx.reshape(-1, n_seeds), n_seeds)
        means = design.group_means(weights, seed_weights)  # (batch, n_groups); NaN where a group drew no unit
        out = np.concatenate([np.nanmean(means, axis=1, keepdims=True), means], axis=1)
        return np.moveaxis(out.reshape(*lead, n_groups + 1), -1, 0)

    all_diffs = a - b
    if np.ptp(all_diffs) == 0:
        lows = highs = np.concatenate([[observed], observed_groups])
        distribution = np.full(n_resamples, observed)
    else:
        samples = ([np.arange(n_seeds)] if n_seeds > 1 else []) + list(design.strata)
        with warnings.catch_warnings():
            # a group with few units is absent from some replicates (its mean is NaN there), so its own interval
            # is NaN and scipy warns about "BCa"; the macro interval (a nanmean over groups) is unaffected
            warnings.filterwarnings("ignore", message="The BCa confidence interval cannot be calculated")
            res = stats.bootstrap(
                tuple(samples),
                statistic,
                vectorized=True,
                n_resamples=n_resamples,
                batch=max(1, _BATCH // n_seeds),
                confidence_level=confidence,
                method=method,
                rng=np.random.default_rng(seed),
            )
        lows = np.asarray(res.confidence_interval.low, dtype=np.float64)
        highs = np.asarray(res.confidence_interval.high, dtype=np.float64)
        dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
        distribution = dist[0]
        missing = np.isnan(lows) | np.isnan(highs)
        if method == "percentile" and missing.any():
            # a group that some replicates never drew has NaN there, which makes scipy's percentile NaN; its
            # interval is taken over the replicates that did draw it (the rows are the joint replicates)
            tail = (1 - confidence) / 2 * 100
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="All-NaN slice encountered")
                lows[missing] = np.nanpercentile(dist[missing], tail, axis=-1)
                highs[missing] = np.nanpercentile(dist[missing], 100 - tail, axis=-1)
    per_group = pd.DataFrame(
        {
            "group": list(design.group_names),
            "mean_diff": observed_groups,
            "ci_low": lows[1:],
            "ci_high": highs[1:],
            "n_rows": design.n_rows,
        }
    )
    return BootstrapResult(
        mean_diff=observed,
        ci_low=float(lows[0]),
        ci_high=float(highs[0]),
        p_value=(_bootstrap_p(distribution) if n_seeds > 1
                 else _sign_flip_p(design.unit_contributions(), n_resamples=n_resamples, seed=seed)),
        n_units=design.n_units,
        n_rows=int(a.size),
        confidence=confidence,
        n_resamples=n_resamples,
        method=method,
        per_group=per_group,
        distribution=distribution,
        per_seed=tuple(float(x) for x in design.per_seed_macro()),
    )


def bootstrap_mean_ci(
    values: npt.ArrayLike,
    *,
    groups: Sequence[object],
    units: Sequence[object] | None = None,
    seeds: Sequence[object] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-group means of one system with bootstrap intervals, plus a ``"mean"`` row for their macro average.

    Used for error bars (e.g. MIRACL nDCG@10 per language). Units default to one per row; with ``seeds`` (the
    training seed of each row's model) the interval is the hierarchical one over seeds and units.

    Example:
        >>> bootstrap_mean_ci([1.0, 0.0, 1.0, 1.0], groups=["sw", "sw", "yo", "yo"], n_resamples=500)["group"].tolist()
        ['sw', 'yo', 'mean']
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    units = list(units) if units is not None else [f"row{i}" for i in range(values.size)]
    res = macro_paired_bootstrap(
        values, np.zeros_like(values), groups=groups, units=units, seeds=seeds,
        n_resamples=n_resamples, confidence=confidence, seed=seed,
    )
    assert res.per_group is not None
    frame = res.per_group.rename(columns={"mean_diff": "mean"})
    macro = pd.DataFrame(
        [{"group": "mean", "mean": res.mean_diff, "ci_low": res.ci_low, "ci_high": res.ci_high, "n_rows": res.n_rows}]
    )
    return pd.concat([frame, macro], ignore_index=True)
