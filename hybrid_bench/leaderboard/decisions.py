"""Pre-declared decisions on the primary comparisons: an equivalence test (TOST) with a margin, Holm-corrected.

A superiority test that finds "no significant difference" does not show that two systems are equally good: its
interval may still contain differences that matter. An **equivalence test** fixes a margin ``δ`` (the largest
difference that does not matter) before the run and asks whether the data exclude every difference beyond it.
The two one-sided tests (TOST; Schuirmann 1987, J. Pharmacokinet. Biopharm. 15(6); Lakens 2017, Soc. Psychol.
Personal. Sci. 8(4)) test ``H0: Δ ≤ −δ`` and ``H0: Δ ≥ +δ``, each at level α; both rejected ⇔ the ``1 − 2α``
(e.g. 90 %) confidence interval lies inside ``(−δ, +δ)``.

**The decision rule** for a difference ``Δ = model − baseline`` (higher is better; a lower-is-better metric is
negated first), its bootstrap replicates ``Δ*`` and a margin ``δ > 0``. Three one-sided bootstrap p-values, each
the share of replicates on the wrong side (the test inversion of the percentile interval, Efron & Tibshirani 1993,
§16.4 — so that at a single comparison each test rejects exactly when the matching 90 % interval bound is past the
margin):

* ``p_equivalent = max(P*(Δ* ≤ −δ), P*(Δ* ≥ +δ))`` — TOST: rejects when the 90 % CI lies inside ``(−δ, +δ)``;
* ``p_worse = P*(Δ* ≥ −δ)`` — rejects ``Δ ≥ −δ`` when the 90 % CI lies entirely below ``−δ``;
* ``p_better = P*(Δ* ≤ +δ)`` — rejects ``Δ ≤ +δ`` when the 90 % CI lies entirely above ``+δ``.

The three claims exclude each other (at most one p-value can be below 0.5), so each comparison has one candidate
claim, the one with the smallest p-value. Over the ``m`` primary comparisons these p-values are **Holm**-adjusted
(Holm 1979, Scand. J. Statist. 6(2): the step-down Bonferroni procedure, valid under any dependence, which the
comparisons sharing a model have); a comparison's decision is its claim if the adjusted p-value is below α, else
``"inconclusive"``. With one comparison this is exactly the rule "90 % CI inside ±δ → equivalent, entirely below
−δ → worse, entirely above +δ → better, otherwise inconclusive" (α = 0.05). With two, Holm asks the comparison with
the smaller p-value to pass at α/2 (its 95 % interval) and the other at α (its 90 % interval).

A CI that excludes zero but crosses the margin (say ``[−0.015, −0.002]`` with δ = 0.01) is "inconclusive" under
this rule: a difference exists, but the data cannot say whether it matters. The table shows the 95 % interval and
the superiority p-value next to the decision for that reading.

Example:
    >>> import numpy as np
    >>> replicates = {"hybrid − mono": np.random.default_rng(0).normal(-0.002, 0.003, 10_000),
    ...               "hybrid − cross": np.random.default_rng(1).normal(-0.030, 0.003, 10_000)}
    >>> decide(replicates, margin=0.01)["decision"].tolist()
    ['equivalent', 'worse']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from hybrid_bench.leaderboard.arms import Arm

Decision = Literal["equivalent", "worse", "better", "inconclusive"]
#: the claims a comparison can support, in the column order of :func:`decide`
CLAIMS: tuple[Decision, ...] = ("equivalent", "worse", "better")


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


def claim_p_values(replicates: npt.ArrayLike, margin: float) -> dict[str, float]:
    """``p_equivalent``, ``p_worse`` and ``p_better`` of one difference from its bootstrap replicates.

    Example:
        >>> claim_p_values([-0.02, -0.005, 0.0, 0.004, 0.02], margin=0.01)
        {'equivalent': 0.2, 'worse': 0.8, 'better': 0.8}
    """
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    d = np.asarray(replicates, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise ValueError("no finite bootstrap replicates")
    return {
        "equivalent": float(max(np.mean(d <= -margin), np.mean(d >= margin))),
        "worse": float(np.mean(d >= -margin)),
        "better": float(np.mean(d <= margin)),
    }


def decide(
    replicates: Mapping[str, npt.ArrayLike],
    *,
    margin: float,
    alpha: float = 0.05,
    lower_is_better: bool = False,
) -> pd.DataFrame:
    """The decision of each primary comparison, Holm-corrected over all of them (see the module docstring).

    Args:
        replicates: comparison name → bootstrap replicates of its difference (model − baseline).
        margin: the equivalence margin δ (in the metric's units), declared before the run.
        alpha: family-wise error rate over the comparisons.
        lower_is_better: the metric improves downwards (the differences are negated before testing).

    Returns:
        One row per comparison (input order): ``comparison``, ``p_equivalent``, ``p_worse``, ``p_better``,
        ``claim`` (the claim with the smallest p-value), ``p_holm`` (its Holm-adjusted p-value), ``decision``.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha}")
    sign = -1.0 if lower_is_better else 1.0
    rows = []
    for name, values in replicates.items():
        p = claim_p_values(sign * np.asarray(values, dtype=np.float64), margin)
        claim = min(CLAIMS, key=lambda c: p[c])
        rows.append({"comparison": name, **{f"p_{c}": p[c] for c in CLAIMS}, "claim": claim, "p_claim": p[claim]})
    frame = pd.DataFrame(rows, columns=["comparison", *(f"p_{c}" for c in CLAIMS), "claim", "p_claim"])
    frame["p_holm"] = holm(frame["p_claim"].to_numpy()) if len(frame) else []
    frame["decision"] = np.where(frame["p_holm"] < alpha, frame["claim"], "inconclusive")
    return frame.drop(columns="p_claim")


# ---- the pre-declared endpoints (leaderboards/README.md states them in words; this is their one definition) -----

#: the equivalence margin δ, in the units of nDCG@10 / mAP / intrusion@10 (a share of queries)
MARGIN = 0.01
#: family-wise error rate of the primary decisions
ALPHA = 0.05


@dataclass(frozen=True)
class Endpoint:
    """One cell of the comparison table that gets a decision: ``task``'s ``cell`` of ``metric``."""

    task: str
    cell: str
    metric: str
    primary: bool


#: primary: MIRACL nDCG@10 averaged over the languages; secondary: the mixed-language MIRACL pool and LAReQA
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("MIRACLRetrieval", "mean", "ndcg_at_10", True),
    Endpoint("MIRACLCrossLingualRetrieval", "mean (all)", "ndcg_at_10", False),
    Endpoint("MIRACLCrossLingualRetrieval", "mean (all)", "foreign_intrusion_at_10", False),
    *(Endpoint(task, setting, "map", False) for task in ("XQuADRHeldOutRetrieval", "MLQARRetrieval")
      for setting in ("mono", "cross", "multi")),
)


def decision_table(comparison: pd.DataFrame, arms: Sequence[Arm], *, margin: float = MARGIN,
                   alpha: float = ALPHA) -> pd.DataFrame:
    """Decisions for hybrid (α = 0.5) − mono and hybrid − cross on :data:`ENDPOINTS`.

    The primary comparisons are Holm-corrected together; each secondary one is decided on its own (descriptive,
    no multiplicity correction). Rows without bootstrap replicates (no per-query data) are left out.

    Args:
        comparison: the frame of :func:`hybrid_bench.leaderboard.comparisons.comparison_table` (with ``replicates``).
        arms: the experiment's arms (to find the hybrid, mono and cross ones).
    """
    names = {a.name: a for a in arms}

    def wanted(model: str, baseline: str) -> bool:
        a, b = names.get(model), names.get(baseline)
        return bool(a and b and a.strategy == "hybrid" and a.alpha == 0.5 and b.strategy in ("mono", "cross")
                    and a.base == b.base)

    frames = []
    for primary in (True, False):
        for endpoint in (e for e in ENDPOINTS if e.primary == primary):
            rows = comparison[(comparison["task"] == endpoint.task) & (comparison["cell"] == endpoint.cell)
                              & (comparison["metric"] == endpoint.metric)
                              & np.array([wanted(m, b) for m, b in zip(comparison["model"], comparison["baseline"])],
                                         dtype=bool)]
            rows = rows[rows["replicates"].map(lambda r: r is not None)]
            if rows.empty:
                continue
            lower = endpoint.metric == "foreign_intrusion_at_10"
            if primary:
                frames.append(_decided(rows, "primary", margin, alpha, lower))
            else:
                frames.extend(_decided(rows.loc[[i]], "secondary", margin, alpha, lower) for i in rows.index)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    primary_rows = out["endpoint"] == "primary"
    out.loc[primary_rows, "holm_over"] = int(primary_rows.sum())
    return out


def _decided(rows: pd.DataFrame, kind: str, margin: float, alpha: float, lower: bool) -> pd.DataFrame:
    names = [f"{m} − {b}" for m, b in zip(rows["model"], rows["baseline"])]
    decided = decide(dict(zip(names, rows["replicates"])), margin=margin, alpha=alpha, lower_is_better=lower)
    keep = ["dataset", "cell", "metric", "model", "baseline", "diff", "ci90_low", "ci90_high", "ci_low", "ci_high",
            "seed_sd", "n_seeds"]
    out = rows[keep].reset_index(drop=True)
    out.insert(0, "endpoint", kind)
    out["margin"] = margin
    out["holm_over"] = 1
    for column in ("p_equivalent", "p_worse", "p_better", "p_holm", "decision"):
        out[column] = decided[column].to_numpy()
    return out


def format_decisions(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The decision table for reading: estimate, 90 % and 95 % intervals, seed SD, Holm-adjusted p, decision."""
    def num(v: float, signed: bool = True) -> str:
        return "–" if not np.isfinite(v) else (f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}")

    return pd.DataFrame({
        "endpoint": frame["endpoint"],
        "dataset": frame["dataset"] + " " + frame["cell"],
        "metric": frame["metric"],
        "comparison": frame["model"] + " − " + frame["baseline"],
        "Δ": frame["diff"].map(num),
        "90% CI": [f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(frame["ci90_low"], frame["ci90_high"])],
        "95% CI": [f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(frame["ci_low"], frame["ci_high"])],
        "seed SD (n)": [f"{num(sd, False)} ({int(n)})" if n > 1 else "– (1)"
                        for sd, n in zip(frame["seed_sd"], frame["n_seeds"])],
        "δ": frame["margin"].map(lambda m: f"±{m:g}"),
        "p (Holm)": [f"{p:.3f}" + (f" (over {int(k)})" if k > 1 else "") for p, k in
                     zip(frame["p_holm"], frame["holm_over"])],
        "decision": frame["decision"],
    })
