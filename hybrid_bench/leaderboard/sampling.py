"""The sampling distribution of a comparison: a Satterthwaite ``t`` (several seeds) or bootstrap replicates (one).

A comparison ``model − baseline`` of a leaderboard cell is a difference of macro means; its tests and intervals
need the distribution of the estimate. This module owns which one a comparison gets:

* **several training seeds per arm** — the Satterthwaite ``t`` of the crossed random-effects model of
  :mod:`hybrid_bench.leaderboard.variance` (queries × seed pairs, strata; seed pair ``i`` is the model's seed ``i``
  against the baseline's seed ``i``). :func:`seed_query_differences` turns the stacked paired rows of a cell into
  that model's input: one value per (stratum, unit, seed pair), so that the mean over a stratum's units, weighted
  over the strata, is each seed pair's macro mean. MIRACL's strata are its languages (each its own group: the
  value is the query's paired difference); on XQuAD-R and MLQA-R the language pairs of a setting share their
  parallel questions, so they form one stratum and a unit's value is its additive share of the macro mean (the
  linearisation of :meth:`hybrid_bench.leaderboard.design.UnitDesign.unit_contributions`, exact when every
  group's query count is the same under every seed, which a balanced design has);
* **one seed** — the bootstrap replicates of :mod:`hybrid_bench.leaderboard.stats` (a paired or cluster bootstrap
  over queries; there is no seed term to estimate).

Both are :class:`Distribution`\\ s: ``below(x)``, the mass at or below ``x``, is the p-value of the one-sided
test of ``H0: Δ ≤ x`` and ``above(x)``, the mass at or above ``x``, that of ``H0: Δ ≥ x`` (for replicates, the
share of replicates on the far side: the test inversion of the percentile interval, Efron & Tibshirani 1993,
§16.4; for the ``t``, the ``t`` distribution's tail at ``(x − Δ̂) / SE`` with the interval's degrees of freedom). The equivalence and superiority tests of
:mod:`hybrid_bench.leaderboard.decisions` are written once, in these two functions.

Example:
    >>> t = TDistribution(estimate=-0.02, se=0.004, df=12.0)
    >>> p_worse = t.above(-0.01)  # H0: Δ ≥ −δ, rejected: the 90 % interval lies below −δ
    >>> round(p_worse, 4), t.interval(0.90)[1] < -0.01
    (0.014, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.design import UnitDesign
from hybrid_bench.leaderboard.variance import Components, estimate_components

__all__ = ["BOOTSTRAP", "SATTERTHWAITE", "Distribution", "Replicates", "TDistribution", "interval_text",
           "satterthwaite", "seed_query_differences"]

#: the ``interval`` column of a comparison computed from the crossed random-effects model (several seeds)
SATTERTHWAITE = "satterthwaite t"
#: the ``interval`` column of a one-seed comparison: percentile bootstrap CI, sign-flip ``p``
BOOTSTRAP = "bootstrap"


def interval_text(method: str, df: float) -> str:
    """How a row's interval was computed, for reading: ``"t, df 12.5"`` (Satterthwaite), ``"bootstrap"``, ``"–"``."""
    if method == SATTERTHWAITE:
        return f"t, df {df:.1f}"
    return method or "–"


class Distribution(Protocol):
    """What the tests need of a comparison's sampling distribution (see the module docstring)."""

    def below(self, x: float) -> float:
        """The mass at or below ``x``: the p-value of ``H0: Δ ≤ x`` (small when the estimate lies well above ``x``)."""
        ...

    def above(self, x: float) -> float:
        """The mass at or above ``x``: the p-value of ``H0: Δ ≥ x`` (small when the estimate lies well below ``x``)."""
        ...

    def negated(self) -> Distribution:
        """The distribution of ``−Δ`` (a lower-is-better metric is tested as its negation)."""
        ...


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates of a difference (the non-finite ones are dropped)."""

    values: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, values: npt.ArrayLike) -> Replicates:
        d = np.asarray(values, dtype=np.float64).ravel()
        d = d[np.isfinite(d)]
        if d.size == 0:
            raise ValueError("no finite bootstrap replicates")
        return cls(d)

    def below(self, x: float) -> float:
        return float(np.mean(self.values <= x))

    def above(self, x: float) -> float:
        return float(np.mean(self.values >= x))

    def negated(self) -> Replicates:
        return Replicates(-self.values)


@dataclass(frozen=True)
class TDistribution:
    """``Δ̂ + SE · t_ν``: the estimate, its standard error and Satterthwaite degrees of freedom."""

    estimate: float
    se: float
    df: float

    def _z(self, x: float) -> float:
        if self.se > 0:
            return (x - self.estimate) / self.se
        return float(np.sign(x - self.estimate)) * np.inf  # no spread: a step at the estimate

    def below(self, x: float) -> float:
        return float(stats.t.cdf(self._z(x), self.df))

    def above(self, x: float) -> float:
        return float(stats.t.sf(self._z(x), self.df))

    def negated(self) -> TDistribution:
        return TDistribution(-self.estimate, self.se, self.df)

    def interval(self, confidence: float) -> tuple[float, float]:
        """The two-sided ``t`` interval at ``confidence``."""
        half = float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se
        return self.estimate - half, self.estimate + half

    def p_two_sided(self) -> float:
        """p-value of ``H0: Δ = 0`` (twice the smaller tail at 0)."""
        return float(min(1.0, 2 * min(self.below(0.0), self.above(0.0))))


def seed_query_differences(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Stacked paired rows of one cell → the input of :func:`~hybrid_bench.leaderboard.variance.estimate_components`.

    Args:
        frame: one row per (seed pair, group, query): columns ``seed``, ``subset`` (the group: a language or a
            language pair), ``unit`` (the resampling unit: a query, a LAReQA paragraph), ``a`` and ``b``.

    Returns:
        (rows ``stratum``, ``query_id`` (the unit), ``seed``, ``diff``; the stratum weights). The weights are the
        strata's shares of the cell's groups, so a MIRACL language (one group) keeps its per-query differences
        and the languages weigh equally.

    Raises:
        DataError: a unit or a group's query count differs between seed pairs (the design is not balanced).
    """
    design = UnitDesign((frame["a"] - frame["b"]).to_numpy(dtype=float), groups=frame["subset"].tolist(),
                        units=frame["unit"].tolist(), seeds=frame["seed"].tolist())
    if not (design.counts == design.counts[:1]).all():
        raise DataError("every seed pair must score the same queries of every group (a balanced design)")
    n_groups = len(design.group_names)
    group_sizes = design.counts[0].sum(axis=1)  # queries per group (the same under every seed)
    # each unit's additive share of the macro mean, per seed pair: Σ_g sum_{s,g,u} / n_g / G
    shares = np.einsum("sgu,g->su", design.sums, 1.0 / group_sizes) / n_groups
    frames, weights = [], {}
    for units in design.strata:
        groups = np.flatnonzero(design.counts[0][:, units].sum(axis=1) > 0)
        name = "+".join(str(design.group_names[g]) for g in groups)
        weights[name] = len(groups) / n_groups
        values = shares[:, units] * len(units) / weights[name]  # mean over the stratum's units × weight = share
        frames.append(pd.DataFrame({
            "stratum": name, "query_id": np.tile(np.asarray(design.unit_names[units], dtype=str), design.n_seeds),
            "seed": np.repeat(np.arange(design.n_seeds), len(units)), "diff": values.ravel()}))
    return pd.concat(frames, ignore_index=True), weights


def satterthwaite(frame: pd.DataFrame) -> tuple[Components, TDistribution]:
    """The crossed-model fit of a cell's stacked paired rows (:func:`seed_query_differences`) and the ``t``
    distribution of its estimate (the interval of :meth:`~hybrid_bench.leaderboard.variance.Components.interval`)."""
    rows, weights = seed_query_differences(frame)
    components = estimate_components(rows, weights=weights)
    interval = components.interval()
    return components, TDistribution(interval.estimate, interval.se, interval.df)
