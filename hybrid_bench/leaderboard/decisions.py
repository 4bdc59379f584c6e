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

from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

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
