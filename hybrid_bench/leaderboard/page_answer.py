"""The answer at the top of a leaderboard's page: one sentence, made from the folder's ``decisions.csv``.

Nothing in it is written by hand: each primary comparison's decisions in both Holm families (relevance: TOST at
±δ; superiority: two-sided test of Δ = 0; :mod:`hybrid_bench.leaderboard.decisions`), its estimate and its 90 %
interval are read from the table, and the words
that explain an ``inconclusive`` decision follow from where that interval lies relative to 0 and ±δ (the rule
itself is stated under the decision table). A second
sentence counts the secondary decisions. A board without a decision table says so instead.

Example:
    >>> import pandas as pd
    >>> row = {"endpoint": "primary", "dataset": "MIRACL", "cell": "mean", "metric": "ndcg_at_10", "model": "h",
    ...        "baseline": "m", "diff": -0.013, "ci90_low": -0.025, "ci90_high": -0.002, "margin": 0.01,
    ...        "relevance_decision": "inconclusive", "superiority_decision": "not significant", "holm_over": 1}
    >>> print(answer_text(pd.DataFrame([row])))  # doctest: +NORMALIZE_WHITESPACE
    On the primary endpoint (MIRACL mean nDCG@10, margin ±0.01): h − m is inconclusive (relevance, TOST ±δ) and
    not significant (superiority), Δ −0.013 [90 % CI −0.025, −0.002] (the interval excludes 0 but crosses −0.01).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.tables import metric_name

__all__ = ["REQUIRED", "answer_html", "answer_text"]

#: the columns of ``decisions.csv`` the answer is made from
REQUIRED = ("endpoint", "dataset", "cell", "metric", "model", "baseline", "diff", "ci90_low", "ci90_high", "margin",
            "relevance_decision", "superiority_decision")


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def _why(decision: str, low: float, high: float, margin: float) -> str:
    """Why an ``inconclusive`` decision is one, from where the interval ``[low, high]`` lies (empty otherwise)."""
    if decision != "inconclusive":
        return ""
    d = f"{margin:g}"
    if low > 0 or high < 0:
        return f" (the interval excludes 0 but crosses {'+' if low > 0 else '−'}{d})"
    return f" (the interval contains 0 and reaches beyond ±{d})"


def _endpoint(row: pd.Series) -> str:
    return f"{row['dataset']} {row['cell']} {metric_name(str(row['metric']))}"


def answer_text(decided: pd.DataFrame, *, bold: Callable[[str], str] = str) -> str:
    """The answer sentence (and the secondary count) from a decision table's rows (the columns of :data:`REQUIRED`);
    ``bold`` wraps each decision (HTML: ``<b>``)."""
    primary = decided[decided["endpoint"] == "primary"]
    if primary.empty:
        return "No primary endpoint was decided (the decision table has secondary rows only)."
    endpoints = list(dict.fromkeys(_endpoint(row) for _, row in primary.iterrows()))
    margins = sorted(set(primary["margin"].astype(float)))
    holm = int(primary["holm_over"].max()) if "holm_over" in primary.columns else 1
    scope = (f"{endpoints[0]}, " if len(endpoints) == 1 else "") + "margin " + \
        " / ".join(f"±{m:g}" for m in margins) + (f", Holm over {holm}" if holm > 1 else "")
    clauses = []
    for _, row in primary.iterrows():
        low, high = float(row["ci90_low"]), float(row["ci90_high"])
        where = "" if len(endpoints) == 1 else f" on {_endpoint(row)}"
        decision = str(row["relevance_decision"])
        clauses.append(f"{row['model']} − {row['baseline']}{where} is {bold(decision)} (relevance, TOST ±δ) and "
                       f"{bold(str(row['superiority_decision']))} (superiority), "
                       f"Δ {_signed(row['diff'])} [90 % CI {_signed(low)}, {_signed(high)}]"
                       f"{_why(decision, low, high, float(row['margin']))}")
    text = f"On the primary endpoint ({scope}): " + "; ".join(clauses) + "."
    secondary = decided[decided["endpoint"] != "primary"]
    if len(secondary):
        counts = secondary["relevance_decision"].value_counts()
        listed = ", ".join(f"{counts[d]} {d}" for d in ("equivalent", "better beyond δ", "worse beyond δ",
                                                         "inconclusive") if d in counts)
        text += (f" Secondary comparisons (relevance family, each on its own: nominal, uncorrected): {listed}, "
                 f"of {len(secondary)}.")
    return text


def answer_html(folder: Path) -> str:
    """The answer paragraph of ``folder``'s page (``id="answer"``), from its ``decisions.csv``.

    Raises:
        DataError: ``decisions.csv`` lacks a column of :data:`REQUIRED`.
    """
    path = folder / "decisions.csv"
    if not path.is_file():
        return ('<p id="answer" class="answer">This leaderboard has no pre-declared decisions (no '
                "<code>decisions.csv</code>): the comparisons below are descriptive.</p>")
    decided = pd.read_csv(path)
    missing = [c for c in REQUIRED if c not in decided.columns]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(missing)}; the page's answer is made from them")
    escaped = decided.assign(**{c: decided[c].map(lambda v: html.escape(str(v)))
                                for c in ("dataset", "cell", "model", "baseline", "relevance_decision",
                                          "superiority_decision")})
    return f'<p id="answer" class="answer">{answer_text(escaped, bold=lambda d: f"<b>{d}</b>")}</p>'
