"""Variance components of a seed-paired difference, an interval valid for few seeds, and a sample-size planner.

**The model.** A comparison ``A − B`` of two training strategies, each trained with the same ``S`` seeds and scored
on the same queries, gives one paired difference per (seed pair ``s``, query ``q``) in stratum (language) ``l``::

    d(s, q) = μ + a_q + b_{s,l} + e_{s,q},   a_q ~ (0, σ²_q,l),  b_{s,l} ~ (0, σ²_b,l),  e ~ (0, σ²_e,l)

— a crossed random-effects model (Searle, Casella & McCulloch 1992, *Variance Components*, ch. 4): ``a_q`` is how
much more A than B a query gains whatever the seeds, ``b`` how much a seed pair favours A on every query of a
language, ``e`` the seed × query interaction (a query that one seed's model happens to get right). The endpoint is
the macro mean over strata, ``D = Σ_l w_l · mean_{s, q ∈ l} d(s, q)`` (``w_l = 1/L``: languages weighted equally, as
MIRACL is reported), so with ``n_l`` queries per stratum::

    Var(D̂) = σ²_S / S + Σ_l w_l² (σ²_q,l + σ²_e,l / S) / n_l,        σ²_S = Var_s(Σ_l w_l b_{s,l})

**Estimates** by the method of moments (the two-way ANOVA without replication of each stratum): with ``MS_q`` the
query and ``MS_r`` the residual mean square, ``E[MS_r] = σ²_e`` and ``E[MS_q] = σ²_e + S σ²_q``. The endpoint's
per-seed values ``D_s`` have ``E[var_s(D_s)] = σ²_S + Σ_l w_l² σ²_e,l / n_l``. Hence the unbiased variance estimate
of ``D̂`` (Satterthwaite 1946, *Biometrics Bulletin* 2(6)) as a linear combination of mean squares::

    V̂ = var_s(D_s) / S + Σ_l w_l² (MS_q,l − MS_r,l) / (S n_l)

and the interval ``D̂ ± t_{ν, 1−α/2} √V̂`` with Satterthwaite's degrees of freedom ``ν = V̂² / Σ_i c_i² / ν_i`` over
the terms ``c_i`` (``ν = S − 1`` for the seed term, ``n_l − 1`` for ``MS_q``, ``(S − 1)(n_l − 1)`` for ``MS_r``).
Where seeds dominate, ``ν`` falls towards ``S − 1`` and the ``t`` quantile widens the interval as three seeds
require (2.92 instead of 1.64 at 90 % with 3 seeds); where queries dominate it is the usual normal interval. A
percentile bootstrap that resamples 3 seeds treats them as many: it understates the seed term by ``(S − 1)/S`` and
has no small-sample correction. Coverage is checked by simulation (``benchmarks/interval_coverage.py``).

**Planning.** With components estimated on one run, :func:`plan` gives for other numbers of seeds and queries the
expected half-width (the Satterthwaite interval at the expected mean squares) and the probability of each decision
of :mod:`hybrid_bench.leaderboard.decisions` (equivalent within ``±δ`` by TOST, worse or better beyond ``δ``,
inconclusive) and of a significant two-sided superiority test, for a true difference ``Δ`` — in the normal
approximation ``D̂ ~ N(Δ, Var(D̂))`` with the interval's expected half-width.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = [{"stratum": l, "query_id": f"{l}{q}", "seed": s, "diff": -0.01 + a + b + rng.normal(0, 0.05)}
    ...         for l in "xy" for q, a in enumerate(rng.normal(0, 0.1, 200)) for s, b in enumerate([0.0, 0.004, -0.002])]
    >>> c = estimate_components(pd.DataFrame(rows))
    >>> round(c.estimate, 3), c.n_seeds, c.interval(0.90).df > 2
    (-0.015, 3, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hybrid_bench.errors import DataError

__all__ = ["Components", "Interval", "StratumComponents", "estimate_components", "plan", "simulate_study"]

COLUMNS = ("stratum", "query_id", "seed", "diff")


@dataclass(frozen=True)
class StratumComponents:
    """One stratum's sizes and mean squares, and the variance components they estimate."""

    stratum: str
    n_queries: int
    ms_query: float
    ms_resid: float
    n_seeds: int

    @property
    def query_var(self) -> float:
        """σ²_q: the variance of the queries' seed-averaged differences beyond the interaction (≥ 0)."""
        return max(0.0, (self.ms_query - self.ms_resid) / self.n_seeds) if self.n_seeds > 1 else self.ms_query

    @property
    def interaction_var(self) -> float:
        """σ²_e: seed × query interaction (0 with one seed: not separable from σ²_q)."""
        return self.ms_resid if self.n_seeds > 1 else 0.0


@dataclass(frozen=True)
class Interval:
    """``estimate`` with its standard error, Satterthwaite degrees of freedom and the two-sided bounds."""

    estimate: float
    se: float
    df: float
    confidence: float

    @property
    def half_width(self) -> float:
        return float(stats.t.ppf(0.5 + self.confidence / 2, self.df) * self.se)

    @property
    def low(self) -> float:
        return self.estimate - self.half_width

    @property
    def high(self) -> float:
        return self.estimate + self.half_width


@dataclass(frozen=True)
class Components:
    """Variance components of a seed-paired difference (see the module docstring) and what they were fitted on."""

    estimate: float
    per_seed: tuple[float, ...]
    strata: tuple[StratumComponents, ...]
    weights: Mapping[str, float]

    @property
    def n_seeds(self) -> int:
        return len(self.per_seed)

    @property
    def n_queries(self) -> int:
        return sum(s.n_queries for s in self.strata)

    @property
    def per_seed_var(self) -> float:
        """var_s(D_s): the spread of the per-seed endpoint values (seed effect + interaction noise)."""
        return float(np.var(self.per_seed, ddof=1)) if self.n_seeds > 1 else float("nan")

    @property
    def seed_var(self) -> float:
        """σ²_S: the endpoint's true between-seed variance, interaction noise removed (≥ 0)."""
        noise = sum(self.weights[s.stratum] ** 2 * s.interaction_var / s.n_queries for s in self.strata)
        return max(0.0, self.per_seed_var - noise) if self.n_seeds > 1 else float("nan")

    def _terms(self, seeds: int, n: Mapping[str, float], expected: bool) -> list[tuple[float, float]]:
        """(value, degrees of freedom) of each term of V̂ for a design of ``seeds`` × ``n`` queries per stratum; at
        the fitted design with ``expected=False`` from the observed mean squares, else from their expectations."""
        terms: list[tuple[float, float]] = []
        if expected:
            seed_term = self.seed_var + sum(self.weights[s.stratum] ** 2 * s.interaction_var / n[s.stratum]
                                            for s in self.strata)
        else:
            seed_term = self.per_seed_var
        if seeds > 1:
            terms.append((seed_term / seeds, seeds - 1))
        for s in self.strata:
            w2, n_l = self.weights[s.stratum] ** 2, n[s.stratum]
            if expected:
                ms_q, ms_r = s.interaction_var + seeds * s.query_var, s.interaction_var
            else:
                ms_q, ms_r = s.ms_query, s.ms_resid
            if seeds > 1:
                terms += [(w2 * ms_q / (seeds * n_l), n_l - 1), (-w2 * ms_r / (seeds * n_l), (seeds - 1) * (n_l - 1))]
            else:  # one seed: the query mean square holds everything the data can see
                terms.append((w2 * ms_q / n_l, n_l - 1))
        return terms

    @staticmethod
    def _combine(terms: list[tuple[float, float]], seeds: int) -> tuple[float, float]:
        """V̂ and its Satterthwaite degrees of freedom; the query part of V̂ is floored at 0 (it estimates a sum of
        variances), so V̂ is never below the seed term."""
        seed_part = terms[0][0] if seeds > 1 else 0.0
        variance = max(sum(v for v, _ in terms), seed_part)
        df = variance ** 2 / sum(v ** 2 / d for v, d in terms if d > 0) if variance > 0 else float("inf")
        return variance, df

    def interval(self, confidence: float = 0.90) -> Interval:
        """The Satterthwaite ``t`` interval of the fitted run's estimate."""
        n = {s.stratum: s.n_queries for s in self.strata}
        variance, df = self._combine(self._terms(self.n_seeds, n, expected=False), self.n_seeds)
        return Interval(self.estimate, float(np.sqrt(variance)), df, confidence)

    def expected_interval(self, seeds: int, n: Mapping[str, float], confidence: float = 0.90) -> Interval:
        """The interval a design of ``seeds`` × ``n`` queries per stratum is expected to give (estimate 0)."""
        missing = sorted({s.stratum for s in self.strata} - set(n))
        if missing:
            raise ValueError(f"no query count for strata {missing}")
        variance, df = self._combine(self._terms(seeds, n, expected=True), seeds)
        return Interval(0.0, float(np.sqrt(variance)), df, confidence)


def estimate_components(frame: pd.DataFrame, *, weights: Mapping[str, float] | None = None) -> Components:
    """Fit the crossed model of the module docstring to paired differences.

    Args:
        frame: one row per (seed pair, query): columns ``stratum``, ``query_id``, ``seed``, ``diff``; every query
            scored under every seed (a balanced design).
        weights: stratum weights of the endpoint (default: equal, ``1/L``); normalised to sum to 1.

    Raises:
        DataError: a column is missing, a value is not finite, or a query lacks a seed (unbalanced).
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"per-query differences need the columns {list(COLUMNS)}; missing {missing}")
    if not np.isfinite(frame["diff"].to_numpy(dtype=float)).all():
        raise DataError("a per-query difference is not a finite number")
    seeds = sorted(frame["seed"].unique())
    strata: list[StratumComponents] = []
    per_seed_by_stratum: dict[str, np.ndarray] = {}
    for stratum, part in frame.groupby("stratum", sort=True):
        ordered = part.sort_values(["query_id", "seed"], kind="stable")
        n_q = ordered["query_id"].nunique()
        grid = ordered["seed"].to_numpy().reshape(n_q, -1) if n_q * len(seeds) == len(part) else None
        if grid is None or not (grid == np.asarray(seeds)[None, :]).all():
            raise DataError("every query must be scored once under every seed pair (a balanced design)",
                            item=str(stratum))
        y = ordered["diff"].to_numpy(dtype=float).reshape(n_q, len(seeds))
        n, s = y.shape
        grand, q_means, s_means = y.mean(), y.mean(axis=1), y.mean(axis=0)
        ms_query = s * float(np.sum((q_means - grand) ** 2)) / (n - 1) if n > 1 else 0.0
        resid = y - q_means[:, None] - s_means[None, :] + grand
        ms_resid = float(np.sum(resid ** 2)) / ((n - 1) * (s - 1)) if n > 1 and s > 1 else 0.0
        strata.append(StratumComponents(str(stratum), n, ms_query, ms_resid, s))
        per_seed_by_stratum[str(stratum)] = s_means
    names = [c.stratum for c in strata]
    raw = {name: 1.0 for name in names} if weights is None else {name: float(weights[name]) for name in names}
    total = sum(raw.values())
    w = {name: value / total for name, value in raw.items()}
    per_seed = np.sum([w[name] * per_seed_by_stratum[name] for name in names], axis=0)
    return Components(float(per_seed.mean()), tuple(float(v) for v in per_seed), tuple(strata), w)


def _decision_probabilities(true_diff: float, se: float, h90: float, h95: float, margin: float) -> dict[str, float]:
    dist = stats.norm(true_diff, se)
    equivalent = max(0.0, dist.cdf(margin - h90) - dist.cdf(-margin + h90)) if h90 < margin else 0.0
    return {
        "p_equivalent": float(equivalent),
        "p_worse": float(dist.cdf(-margin - h90)),
        "p_better": float(dist.sf(margin + h90)),
        "p_inconclusive": float(max(0.0, 1 - equivalent - dist.cdf(-margin - h90) - dist.sf(margin + h90))),
        "p_superiority_rejects": float(dist.cdf(-h95) + dist.sf(h95)),
    }


def plan(components: Components, *, seeds: Sequence[int], queries: Sequence[Mapping[str, float] | int],
         true_diffs: Sequence[float] = (0.0,), margin: float = 0.01, alpha: float = 0.05) -> pd.DataFrame:
    """Expected 90 % half-width and decision probabilities for each design of ``seeds`` × ``queries``.

    Args:
        components: fitted on a run (:func:`estimate_components`).
        seeds: numbers of seed pairs.
        queries: per-stratum query counts (a mapping), or totals split over the strata in the fitted run's
            proportions.
        true_diffs: true differences ``Δ`` to give the decision probabilities for.
        margin: the equivalence margin ``δ``.
        alpha: level of the TOST (the ``1 − 2α`` interval) and of the two-sided superiority test; pass ``α/m``
            for the strictest step of a Holm family of ``m`` comparisons.

    Returns:
        One row per (seeds, queries, true difference): ``n_seeds``, ``n_queries``, ``true_diff``, ``se``, ``df``,
        ``half_width_90`` (at ``1 − 2α``), ``half_width_95`` (at ``1 − α``) and the ``p_*`` of each decision.
    """
    total = components.n_queries
    rows = []
    for q in queries:
        n = dict(q) if isinstance(q, Mapping) else {s.stratum: q * s.n_queries / total for s in components.strata}
        for s in seeds:
            tost = components.expected_interval(s, n, confidence=1 - 2 * alpha)
            two_sided = Interval(0.0, tost.se, tost.df, 1 - alpha)
            for delta in true_diffs:
                rows.append({"n_seeds": s, "n_queries": round(sum(n.values())), "true_diff": delta, "se": tost.se,
                             "df": tost.df, "half_width_90": tost.half_width, "half_width_95": two_sided.half_width,
                             **_decision_probabilities(delta, tost.se, tost.half_width, two_sided.half_width, margin)})
    return pd.DataFrame(rows)


def simulate_study(rng: np.random.Generator, *, n_queries: Mapping[str, int], seeds: int, true_diff: float = 0.0,
                   query_sd: float, seed_sd: float, interaction_sd: float) -> pd.DataFrame:
    """Paired differences drawn from the model of the module docstring with known components (for tests,
    coverage benchmarks and checking a plan): per stratum ``n_queries[l]`` queries, ``seeds`` seed pairs, normal
    effects with the given standard deviations (``seed_sd`` per stratum and seed: ``σ_b``)."""
    frames = []
    for stratum, n in n_queries.items():
        a = rng.normal(0.0, query_sd, size=(n, 1))
        b = rng.normal(0.0, seed_sd, size=(1, seeds))
        d = true_diff + a + b + rng.normal(0.0, interaction_sd, size=(n, seeds))
        frames.append(pd.DataFrame({"stratum": stratum, "query_id": np.repeat(np.arange(n).astype(str), seeds),
                                    "seed": np.tile(np.arange(seeds), n), "diff": d.ravel()}))
    return pd.concat(frames, ignore_index=True)
