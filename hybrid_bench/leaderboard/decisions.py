"""Pre-declared decisions on the primary comparisons: a superiority test and an equivalence test (TOST), each in
its own Holm family.

A superiority test that finds "no significant difference" does not show that two systems are equally good: its
interval may still contain differences that matter. An **equivalence test** fixes a margin ``δ`` (the largest
difference that does not matter) before the run and asks whether the data exclude every difference beyond it.
The two one-sided tests (TOST; Schuirmann 1987, J. Pharmacokinet. Biopharm. 15(6); Lakens 2017, Soc. Psychol.
Personal. Sci. 8(4)) test ``H0: Δ ≤ −δ`` and ``H0: Δ ≥ +δ``, each at level α; both rejected ⇔ the ``1 − 2α``
(e.g. 90 %) confidence interval lies inside ``(−δ, +δ)``.

**Two families** (``leaderboards/replication-plan.md``, "Margin, interval and decision rules"), for a difference
``Δ = model − baseline`` with its sampling distribution (:mod:`hybrid_bench.leaderboard.sampling`: the Satterthwaite
``t`` with several seeds, bootstrap replicates with one; ``below(x)``, its mass at or below ``x``, is the p-value of
``H0: Δ ≤ x``, ``above(x)`` that of ``H0: Δ ≥ x``):

1. *Superiority* — ``H0: Δ = 0``, two-sided: the comparison table's ``p_value`` (the ``t`` test with the
   interval's degrees of freedom; with one seed the sign-flip test over queries). Rejected: the metric is
   ``"higher"`` or ``"lower"`` in the direction of the estimate; else ``"not significant"``.
2. *Relevance* — with a lower-is-better metric negated first, three one-sided p-values:

   * ``equivalent``: ``max(below(−δ), above(+δ))`` — TOST: rejects when the 90 % CI lies inside ``(−δ, +δ)``;
   * ``worse beyond δ``: ``above(−δ)`` — rejects ``Δ ≥ −δ`` when the 90 % CI lies entirely below ``−δ``;
   * ``better beyond δ``: ``below(+δ)`` — rejects ``Δ ≤ +δ`` when the 90 % CI lies entirely above ``+δ``.

   The three claims exclude each other (at most one p-value can be below 0.5), so each comparison has one
   candidate claim, the one with the smallest p-value; the decision is that claim if its Holm-adjusted p-value is
   below α, else ``"inconclusive"``.

Each family is **Holm**-adjusted over the ``m`` primary comparisons on its own (Holm 1979, Scand. J. Statist.
6(2): the step-down Bonferroni procedure, valid under any dependence, which the comparisons sharing a model have);
the two families' p-values are never mixed. With one comparison the relevance rule is exactly "90 % CI inside ±δ
→ equivalent, entirely below −δ → worse, entirely above +δ → better, otherwise inconclusive" (α = 0.05). With two,
Holm asks the comparison with the smaller p-value to pass at α/2 (its 95 % interval) and the other at α.

A CI that excludes zero but crosses the margin (say ``[−0.015, −0.002]`` with δ = 0.01) is "lower" for the
superiority family and "inconclusive" for the relevance family: a difference exists, but the data cannot say
whether it matters.

Example:
    >>> import numpy as np
    >>> replicates = {"hybrid − mono": np.random.default_rng(0).normal(-0.002, 0.003, 10_000),
    ...               "hybrid − cross": np.random.default_rng(1).normal(-0.030, 0.003, 10_000)}
    >>> decide(replicates, margin=0.01)["relevance_decision"].tolist()
    ['equivalent', 'worse beyond δ']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from hybrid_bench.leaderboard.pooled import POOLED_TASKS
from hybrid_bench.leaderboard.sampling import Distribution, Replicates, interval_text

if TYPE_CHECKING:
    from hybrid_bench.leaderboard.arms import Arm

Claim = Literal["equivalent", "worse beyond δ", "better beyond δ"]
#: the claims of the relevance family, and the short name of each one's p-value column (``relevance_p_<name>``)
CLAIMS: dict[Claim, str] = {"equivalent": "equivalent", "worse beyond δ": "worse", "better beyond δ": "better"}
#: the relevance decision without a claim, and the superiority decision without a rejection
INCONCLUSIVE = "inconclusive"
NOT_SIGNIFICANT = "not significant"
#: the columns of each family in :func:`decide`, in order (the families never share a column)
SUPERIORITY_COLUMNS = ("superiority_p", "superiority_p_holm", "superiority_decision")
RELEVANCE_COLUMNS = (*(f"relevance_p_{name}" for name in CLAIMS.values()), "relevance_claim", "relevance_p",
                     "relevance_p_holm", "relevance_decision")


def holm(p_values: npt.ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order.

    Sorted ascending, the ``i``-th smallest (0-based) of ``m`` gets ``min(1, max_{j ≤ i} (m − j) p_(j))``; reject
    where the adjusted value is below α. NaN p-values (untested) stay NaN and do not count in ``m``.

    Example:
        >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def _distribution(values: Distribution | npt.ArrayLike) -> Distribution:
    return values if hasattr(values, "below") else Replicates.of(values)  # type: ignore[arg-type,return-value]


def claim_p_values(distribution: Distribution | npt.ArrayLike, margin: float) -> dict[str, float]:
    """The p-value of each relevance claim (keys: :data:`CLAIMS`' short names) of one difference, from its
    sampling distribution or its bootstrap replicates.

    Example:
        >>> claim_p_values([-0.02, -0.005, 0.0, 0.004, 0.02], margin=0.01)
        {'equivalent': 0.2, 'worse': 0.8, 'better': 0.8}
    """
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    d = _distribution(distribution)
    return {"equivalent": max(d.below(-margin), d.above(margin)), "worse": d.above(-margin),
            "better": d.below(margin)}


def decide(
    distributions: Mapping[str, Distribution | npt.ArrayLike],
    *,
    margin: float,
    alpha: float = 0.05,
    lower_is_better: bool = False,
    superiority_p: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Both families' decisions of each comparison, each family Holm-corrected over all of them (see the module
    docstring).

    Args:
        distributions: comparison name → the sampling distribution of its difference (model − baseline), or its
            bootstrap replicates.
        margin: the equivalence margin δ (in the metric's units), declared before the run.
        alpha: family-wise error rate of each family.
        lower_is_better: the metric improves downwards (the relevance tests negate the difference first).
        superiority_p: comparison name → its two-sided p-value of ``H0: Δ = 0`` (the comparison table's); default
            twice the smaller tail of the distribution at 0.

    Returns:
        One row per comparison (input order): ``comparison``, :data:`SUPERIORITY_COLUMNS`,
        :data:`RELEVANCE_COLUMNS`.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha}")
    rows = []
    for name, values in distributions.items():
        d = _distribution(values)
        p_zero = (superiority_p or {}).get(name, min(1.0, 2 * min(d.below(0.0), d.above(0.0))))
        p = claim_p_values(d.negated() if lower_is_better else d, margin)
        claim = min(CLAIMS, key=lambda c: p[CLAIMS[c]])
        rows.append({"comparison": name, "superiority_p": float(p_zero),
                     "direction": "higher" if d.below(0.0) < d.above(0.0) else "lower",
                     **{f"relevance_p_{key}": value for key, value in p.items()},
                     "relevance_claim": claim, "relevance_p": p[CLAIMS[claim]]})
    frame = pd.DataFrame(rows, columns=["comparison", "superiority_p", "direction",
                                        *RELEVANCE_COLUMNS[:len(CLAIMS) + 2]])
    for family, claimed, negative in (("superiority", "direction", NOT_SIGNIFICANT),
                                      ("relevance", "relevance_claim", INCONCLUSIVE)):
        adjusted = holm(frame[f"{family}_p"].to_numpy()) if len(frame) else np.array([])
        frame[f"{family}_p_holm"] = adjusted
        frame[f"{family}_decision"] = np.where(adjusted < alpha, frame[claimed], negative)
    return frame[["comparison", *SUPERIORITY_COLUMNS, *RELEVANCE_COLUMNS]]


# ---- the pre-declared endpoints (leaderboards/README.md and replication-plan.md state them in words; this is their
# one definition) --------------------------------------------------------------------------------------------------

#: the equivalence margin δ, in the units of nDCG@10 / mAP / intrusion@10 (a share of queries)
MARGIN = 0.01
#: family-wise error rate of each family of primary decisions
ALPHA = 0.05


@dataclass(frozen=True)
class Endpoint:
    """One cell of the comparison table that gets a decision: ``task``'s ``cell`` of ``metric``."""

    task: str
    cell: str
    metric: str
    primary: bool


#: Primary endpoints in order of preference: a board's primary endpoint is the first of them it has, and a later one
#: it also has is reported as secondary — the replication's pooled MIRACL dev + train topics first (its dev-only
#: and train-only versions are then its nominal consistency checks), the first run's MIRACL dev. Secondary: the
#: mixed-language MIRACL pool and LAReQA.
ENDPOINTS: tuple[Endpoint, ...] = (
    *(Endpoint(pool.task, "mean", metric, True) for pool in POOLED_TASKS for metric in pool.metrics),
    Endpoint("MIRACLRetrieval", "mean", "ndcg_at_10", True),
    Endpoint("MIRACLTrainTopicsRetrieval", "mean", "ndcg_at_10", False),
    Endpoint("MIRACLCrossLingualRetrieval", "mean (all)", "ndcg_at_10", False),
    Endpoint("MIRACLCrossLingualRetrieval", "mean (all)", "foreign_intrusion_at_10", False),
    *(Endpoint(task, setting, "map", False) for task in ("XQuADRHeldOutRetrieval", "MLQARRetrieval")
      for setting in ("mono", "cross", "multi")),
)


def decision_table(comparison: pd.DataFrame, arms: Sequence[Arm], *, margin: float = MARGIN,
                   alpha: float = ALPHA) -> pd.DataFrame:
    """Decisions for hybrid (α = 0.5) − mono and hybrid − cross on :data:`ENDPOINTS`.

    The primary comparisons are Holm-corrected together, each family on its own; each secondary one is decided on
    its own (nominal, no multiplicity correction). Rows without a sampling distribution (no per-query data) are
    left out.

    Args:
        comparison: the frame of :func:`hybrid_bench.leaderboard.comparisons.comparison_table` (with
            ``distribution``).
        arms: the experiment's arms (to find the hybrid, mono and cross ones).
    """
    names = {a.name: a for a in arms}

    def wanted(model: str, baseline: str) -> bool:
        a, b = names.get(model), names.get(baseline)
        return bool(a and b and a.strategy == "hybrid" and a.alpha == 0.5 and b.strategy in ("mono", "cross")
                    and a.base == b.base)

    def rows_of(endpoint: Endpoint) -> pd.DataFrame:
        rows = comparison[(comparison["task"] == endpoint.task) & (comparison["cell"] == endpoint.cell)
                          & (comparison["metric"] == endpoint.metric)
                          & np.array([wanted(m, b) for m, b in zip(comparison["model"], comparison["baseline"])],
                                     dtype=bool)]
        return rows[rows["distribution"].map(lambda d: d is not None)]

    found = [(endpoint, rows) for endpoint in ENDPOINTS if not (rows := rows_of(endpoint)).empty]
    primary = next((endpoint for endpoint, _ in found if endpoint.primary), None)
    frames = []
    for endpoint, rows in sorted(found, key=lambda item: item[0] != primary):
        lower = endpoint.metric == "foreign_intrusion_at_10"
        if endpoint == primary:
            frames.append(_decided(rows, "primary", margin, alpha, lower))
        else:
            frames.extend(_decided(rows.loc[[i]], "secondary", margin, alpha, lower) for i in rows.index)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _decided(rows: pd.DataFrame, kind: str, margin: float, alpha: float, lower: bool) -> pd.DataFrame:
    names = [f"{m} − {b}" for m, b in zip(rows["model"], rows["baseline"])]
    decided = decide(dict(zip(names, rows["distribution"])), margin=margin, alpha=alpha, lower_is_better=lower,
                     superiority_p=dict(zip(names, rows["p_value"])))
    keep = ["dataset", "cell", "metric", "model", "baseline", "diff", "ci90_low", "ci90_high", "ci_low", "ci_high",
            "interval", "se", "df", "seed_sd", "n_seeds", "n_queries", "n_units"]
    out = rows[keep].reset_index(drop=True)
    out.insert(0, "endpoint", kind)
    out["margin"] = margin
    out["holm_over"] = len(out)
    for column in (*SUPERIORITY_COLUMNS, *RELEVANCE_COLUMNS):
        out[column] = decided[column].to_numpy()
    return out


def format_decisions(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The decision table for reading: estimate, 90 % and 95 % intervals and how they were computed, then each
    family's Holm-adjusted p-value and decision in columns of its own."""
    def num(v: float, signed: bool = True) -> str:
        return "–" if not np.isfinite(v) else (f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}")

    def holm_p(p: float, k: float) -> str:
        return f"{p:.3f}" + (f" (over {int(k)})" if k > 1 else "")

    return pd.DataFrame({
        "endpoint": frame["endpoint"],
        "dataset": frame["dataset"] + " " + frame["cell"],
        "metric": frame["metric"],
        "comparison": frame["model"] + " − " + frame["baseline"],
        "Δ": frame["diff"].map(num),
        "90% CI": [f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(frame["ci90_low"], frame["ci90_high"])],
        "95% CI": [f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(frame["ci_low"], frame["ci_high"])],
        "interval": [interval_text(m, df) for m, df in zip(frame["interval"], frame["df"])],
        "seeds × queries": [f"{int(s)} × {int(q)}" for s, q in zip(frame["n_seeds"], frame["n_queries"])],
        "seed SD": [num(sd, False) for sd in frame["seed_sd"]],
        "δ": frame["margin"].map(lambda m: f"±{m:g}"),
        "superiority p (Holm)": [holm_p(p, k) for p, k in zip(frame["superiority_p_holm"], frame["holm_over"])],
        "superiority": frame["superiority_decision"],
        "relevance claim": frame["relevance_claim"],
        "relevance p (Holm)": [holm_p(p, k) for p, k in zip(frame["relevance_p_holm"], frame["holm_over"])],
        "relevance": frame["relevance_decision"],
    })
