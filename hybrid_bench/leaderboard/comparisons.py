"""The hybrid − specialised comparison of the paper's table cells (arXiv 2408.10536), as DataFrames.

* :func:`comparison_table` — every ``model − baseline`` difference of the cells of
  :mod:`hybrid_bench.leaderboard.tables` with a CI and p-value: for arms with several training seeds the
  Satterthwaite ``t`` of the crossed random-effects model (:mod:`hybrid_bench.leaderboard.sampling`), for one seed
  a paired bootstrap CI and sign-flip p-value over queries (:mod:`hybrid_bench.leaderboard.stats`); or an
  explicit note (``NO_CI_NOTE``) where the per-query values needed for them are missing; Benjamini–Hochberg
  q-values over the rows.
* :func:`format_comparison` — the same frame as human-readable ``Δ [low, high]`` strings.
* :func:`parse_pairs`, :func:`attach_labels`, :class:`QueryRows`, :func:`paired_rows` — the model pairs asked for,
  per-query rows labelled like the results and grouped by model, and the queries both sides of a pair evaluated.

Example:
    >>> from hybrid_bench.leaderboard import comparisons, results, tables
    >>> scores = results.load_results("results/")  # doctest: +SKIP
    >>> pairs = comparisons.parse_pairs(["hybrid-me5-small:mono-me5-small"], scores)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sstats
from tqdm.auto import tqdm

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.per_query import JSON_TO_PER_QUERY
from hybrid_bench.leaderboard.sampling import BOOTSTRAP, SATTERTHWAITE, Replicates, interval_text, satterthwaite
from hybrid_bench.leaderboard.stats import BootstrapResult, macro_paired_bootstrap, paired_bootstrap
from hybrid_bench.leaderboard.tables import NO_CI_NOTE, Cell, ScoreIndex, dataset_name, metric_name

logger = logging.getLogger(__name__)

def parse_pairs(specs: Sequence[str], results: pd.DataFrame) -> list[tuple[str, str]]:
    """``["hybrid-me5-small:mono-me5-small"]`` → label pairs; full model names are accepted too."""
    to_label = {**dict(zip(results["model"], results["label"])), **dict(zip(results["label"], results["label"]))}
    pairs = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 2 or not all(parts):
            raise DataError("expected A:B, e.g. hybrid-me5-small:mono-me5-small", item=spec)
        unknown = [p for p in parts if p not in to_label]
        if unknown:
            raise DataError(f"unknown model(s) {unknown}; available: {sorted(set(results['label']))}", item=spec)
        pairs.append((to_label[parts[0]], to_label[parts[1]]))
    return pairs


def attach_labels(per_query: pd.DataFrame, results: pd.DataFrame, problems: list[str] | None = None) -> pd.DataFrame:
    """Add the results' ``label`` to per-query rows (matched on full model name, else on label; revision when one
    model has several) and keep only rows that have a result: a per-query file without its result JSON (an eval
    killed before it saved the result) is ignored, never counted, with a line in ``problems`` naming it."""
    if per_query.empty:
        return per_query.assign(label=pd.Series(dtype=object))
    pairs = results[["model", "revision", "label"]].drop_duplicates()
    by_name = pairs.groupby("model")["label"].agg(list).to_dict()
    by_label = dict(zip(pairs["label"], pairs["label"]))
    by_short = {}
    for model, labels in by_name.items():
        by_short.setdefault(model.rsplit("/", 1)[-1], []).extend(labels)
    by_rev = {(m, r): lb for m, r, lb in pairs.itertuples(index=False)}

    def label_of(model: str, revision: str) -> str | None:
        for candidates in (by_name.get(model), by_short.get(model)):
            if candidates:
                if len(candidates) == 1:
                    return candidates[0]
                return by_rev.get((model, revision))
        return by_label.get(model)

    keys = per_query[["model", "revision"]].drop_duplicates()
    mapping = {(m, r): label_of(m, r) for m, r in keys.itertuples(index=False)}
    unknown = sorted({m for (m, _), lb in mapping.items() if lb is None})
    if unknown:
        logger.warning("per-query rows of models absent from the results are ignored: %s", unknown)
    out = per_query.copy()
    out["label"] = [mapping[k] for k in zip(out["model"], out["revision"])]
    out = out[out["label"].notna()]
    return _drop_orphans(out, results, problems)


def _drop_orphans(per_query: pd.DataFrame, results: pd.DataFrame, problems: list[str] | None) -> pd.DataFrame:
    """Labelled per-query rows whose (label, revision, task) has a result; the others are reported and dropped."""
    have = set(results[["label", "revision", "task"]].itertuples(index=False, name=None))
    keys = list(zip(per_query["label"], per_query["revision"], per_query["task"]))
    kept = [key in have for key in keys]
    for label, revision, task in sorted({key for key, keep in zip(keys, kept) if not keep}):
        line = (f"ignored per-query values of {label} @ {revision} on {task}: no result JSON of that model, revision "
                "and task (an eval stopped before saving its result?); rerun that eval to complete it")
        logger.warning("%s", line)
        if problems is not None:
            problems.append(line)
    return per_query[kept]


@dataclass(frozen=True)
class PairedRows:
    frame: pd.DataFrame  # columns: subset, unit, a, b
    n_a: int
    n_b: int


class QueryRows:
    """Labelled per-query rows (:func:`attach_labels`), grouped once by (task, split, model label).

    A comparison reads its two models' groups instead of filtering the whole long frame: a 16-model seeded board
    has 1.6 M per-query rows and compares ~350 cells, three model pairs each; filtering for every one took minutes.
    Each group keeps the frame's row order, so the bootstrap sees the rows in the same order either way.
    """

    def __init__(self, per_query: pd.DataFrame) -> None:
        self.frame = per_query
        self._groups: dict[tuple[str, str, str], pd.DataFrame] = (
            {} if per_query.empty else dict(iter(per_query.groupby(["task", "split", "label"], sort=False))))

    def of(self, task: str, split: str, label: str) -> pd.DataFrame:
        """The rows of one model on one task split (empty when it has none)."""
        return self._groups.get((task, split, label), self.frame.iloc[0:0])


def paired_rows(rows: QueryRows, cell: Cell, a: str, b: str) -> PairedRows | None:
    """The queries of ``cell`` that models ``a`` and ``b`` both evaluated, with each side's value (``None`` when a
    side lacks a subset of the cell or the metric)."""
    column = JSON_TO_PER_QUERY.get(cell.metric, cell.metric)
    if rows.frame.empty or column not in rows.frame.columns:
        return None
    sides = []
    for label in (a, b):
        group = rows.of(cell.task, cell.split, label)
        sides.append(group[group["subset"].isin(cell.subsets)].dropna(subset=[column]))
    side_a, side_b = sides[0][["subset", "query_id", "unit", column]], sides[1][["subset", "query_id", column]]
    if side_a.empty or side_b.empty or side_a["subset"].nunique() < len(cell.subsets) \
            or side_b["subset"].nunique() < len(cell.subsets):
        return None
    joined = side_a.merge(side_b, on=["subset", "query_id"], suffixes=("_a", "_b"))
    joined = joined.rename(columns={f"{column}_a": "a", f"{column}_b": "b"})
    return PairedRows(joined[["subset", "unit", "a", "b"]], len(side_a), len(side_b))


def seed_paired_rows(rows: QueryRows, cell: Cell, pairs: Sequence[tuple[str, str]]) -> PairedRows | None:
    """The paired rows of every (model, baseline) pair in ``pairs`` (one per training seed) stacked, with a
    ``seed`` column (the pair's index), and each side's per-query row count summed over the pairs; ``None`` when a
    pair has no paired rows."""
    frames, n_a, n_b = [], 0, 0
    for i, (x, y) in enumerate(pairs):
        paired = paired_rows(rows, cell, x, y)
        if paired is None:
            return None
        frames.append(paired.frame.assign(seed=i))
        n_a, n_b = n_a + paired.n_a, n_b + paired.n_b
    return PairedRows(pd.concat(frames, ignore_index=True), n_a, n_b)


def compare_cell(
    scores: ScoreIndex, rows: QueryRows, cell: Cell, a: str, b: str, *,
    seed_pairs: Sequence[tuple[str, str]] | None = None,
    n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0,
) -> dict[str, object]:
    """One row of the comparison table: ``a − b`` on ``cell`` with CI and p-value (or a note why there is none).

    ``scores`` are the results' cell scores, ``rows`` the labelled per-query rows. ``a``, ``b`` name the two sides
    (model labels, or arm names of :mod:`hybrid_bench.leaderboard.arms`);
    ``seed_pairs`` are the (model, baseline) labels compared, one pair per training seed (default ``[(a, b)]``).
    With several seeds the estimate is the mean of the per-seed differences, ``seed_sd`` their spread, and the
    interval and the two-sided ``p_value`` come from the Satterthwaite ``t`` of the crossed random-effects model
    (:mod:`hybrid_bench.leaderboard.sampling`; ``se`` and ``df`` are kept); with one seed from the paired
    bootstrap and sign-flip test over queries (:mod:`hybrid_bench.leaderboard.stats`). ``interval`` names the
    method. The row keeps the estimate's sampling distribution (``distribution``: a
    :class:`~hybrid_bench.leaderboard.sampling.Distribution`) for the decisions; it is not written out.
    """
    pairs = list(seed_pairs or [(a, b)])
    # both sides over the same settings: those every model of the comparison has (each side's table number may
    # average more, see hybrid_bench.leaderboard.coverage)
    full, cell = cell, scores.shared(cell, [label for pair in pairs for label in pair])
    shared_note = ("" if len(cell.subsets) == len(full.subsets) else
                   f"on the {len(cell.subsets)} of {len(full.subsets)} settings both sides have")
    per_seed = [scores.score(cell, x) - scores.score(cell, y) for x, y in pairs]
    score_a = float(np.mean([scores.score(cell, x) for x in dict.fromkeys(x for x, _ in pairs)]))
    score_b = float(np.mean([scores.score(cell, y) for y in dict.fromkeys(y for _, y in pairs)]))
    row: dict[str, object] = {
        "dataset": dataset_name(cell.task), "task": cell.task, "cell": cell.name, "metric": cell.metric,
        "better": "lower" if cell.lower_is_better else "higher", "model": a, "baseline": b,
        "score": score_a, "baseline_score": score_b, "diff": float(np.mean(per_seed)),
        "n_seeds": len(pairs), "seed_sd": float(np.std(per_seed, ddof=1)) if len(pairs) > 1 else np.nan,
        "ci_low": np.nan, "ci_high": np.nan, "ci90_low": np.nan, "ci90_high": np.nan, "p_value": np.nan,
        "interval": "", "se": np.nan, "df": np.nan, "n_units": np.nan, "n_queries": np.nan, "note": "",
        "distribution": None,
    }
    if not cell.subsets:
        row["note"] = "no setting evaluated by both sides"
        return row
    stacked = seed_paired_rows(rows, cell, pairs)
    if stacked is None:
        row["note"] = "; ".join(filter(None, [NO_CI_NOTE, shared_note]))
        return row
    frame, n_a, n_b = stacked.frame, stacked.n_a, stacked.n_b
    if len(frame) < 2 * len(pairs):
        row["note"] = "; ".join(filter(None, ["no CI: fewer than 2 queries evaluated by both models", shared_note]))
        return row
    notes = [shared_note] if shared_note else []
    if len(frame) < max(n_a, n_b):
        notes.append(f"paired on {len(frame)} of {max(n_a, n_b)} queries")
    if len(pairs) > 1:
        return _seeded(row, frame, len(pairs), notes, confidence, cell, a, b)
    kwargs = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    res: BootstrapResult
    if len(cell.subsets) == 1:
        res = paired_bootstrap(frame["a"], frame["b"], **kwargs)
    else:
        res = macro_paired_bootstrap(frame["a"], frame["b"], groups=frame["subset"].tolist(),
                                     units=frame["unit"].tolist(), **kwargs)
    _check_mean(row, res.mean_diff, notes, cell, a, b)
    ci90 = res.interval(0.90)
    row.update(diff=res.mean_diff, ci_low=res.ci_low, ci_high=res.ci_high, ci90_low=ci90[0], ci90_high=ci90[1],
               p_value=res.p_value, interval=BOOTSTRAP, n_units=res.n_units, n_queries=res.n_rows,
               note="; ".join(notes), distribution=Replicates.of(res.distribution))
    return row


def _check_mean(row: dict[str, object], mean_diff: float, notes: list[str], cell: Cell, a: str, b: str) -> None:
    """Note (and log) a per-query mean difference that disagrees with the results JSON: stale prediction files."""
    score_a, score_b = float(row["score"]), float(row["baseline_score"])  # type: ignore[arg-type]
    tolerance = 1e-3 * max(1.0, abs(score_a), abs(score_b))
    if np.isfinite(row["diff"]) and abs(mean_diff - float(row["diff"])) > tolerance:  # type: ignore[arg-type]
        notes.append(f"per-query mean diff {mean_diff:+.4f} ≠ results JSON diff {row['diff']:+.4f}: "
                     "stale prediction files?")
        logger.warning("%s %s %s − %s: %s", cell.task, cell.name, a, b, notes[-1])


def _seeded(row: dict[str, object], frame: pd.DataFrame, n_pairs: int, notes: list[str], confidence: float,
            cell: Cell, a: str, b: str) -> dict[str, object]:
    """``row`` completed with the Satterthwaite ``t`` interval of the seed-paired rows ``frame``."""
    try:
        components, dist = satterthwaite(frame)
    except DataError as err:
        row["note"] = "; ".join([*notes, f"no CI: {err}"])
        return row
    _check_mean(row, components.estimate, notes, cell, a, b)
    low, high = dist.interval(confidence)
    low90, high90 = dist.interval(0.90)
    row.update(diff=components.estimate, ci_low=low, ci_high=high, ci90_low=low90, ci90_high=high90,
               p_value=dist.p_two_sided(), interval=SATTERTHWAITE, se=dist.se, df=dist.df,
               n_units=frame["unit"].nunique(), n_queries=len(frame) // n_pairs, note="; ".join(notes),
               distribution=dist)
    return row


def comparison_table(
    results: pd.DataFrame, per_query: pd.DataFrame, cells: Sequence[Cell], pairs: Sequence[tuple[str, str]], *,
    seed_pairs: dict[tuple[str, str], list[tuple[str, str]]] | None = None,
    n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0, progress: bool = True,
) -> pd.DataFrame:
    """All ``model − baseline`` differences on ``cells`` with paired bootstrap CIs and sign-flip p-values.

    ``seed_pairs``: for a pair of arm names, the model labels compared seed by seed (see :func:`compare_cell`).
    ``q_value`` is the Benjamini–Hochberg adjusted p-value over the rows of this table that have a p-value
    (many cells are tested at once; read ``q_value < 0.05`` as "significant after correcting for that").
    The ``distribution`` column holds each row's sampling distribution (an object column; drop it before writing).
    """
    per_query = attach_labels(per_query, results) if "label" not in per_query.columns else per_query
    scores, query_rows = ScoreIndex(results), QueryRows(per_query)
    seed_pairs = seed_pairs or {}
    jobs = [(cell, a, b) for a, b in pairs for cell in cells]
    rows = [
        compare_cell(scores, query_rows, cell, a, b, seed_pairs=seed_pairs.get((a, b)), n_resamples=n_resamples,
                     confidence=confidence, seed=seed)
        for cell, a, b in tqdm(jobs, desc="paired bootstrap", unit="cell", disable=not progress or not jobs)
    ]
    frame = pd.DataFrame(rows, columns=list(_COMPARISON_COLUMNS))
    frame["q_value"] = np.nan
    tested = frame["p_value"].notna()
    if tested.any():
        frame.loc[tested, "q_value"] = sstats.false_discovery_control(frame.loc[tested, "p_value"].to_numpy())
    return frame[[*_COMPARISON_COLUMNS[:-2], "q_value", "note", "distribution"]]


_COMPARISON_COLUMNS = ("dataset", "task", "cell", "metric", "better", "model", "baseline", "score", "baseline_score",
                       "diff", "n_seeds", "seed_sd", "ci_low", "ci_high", "ci90_low", "ci90_high", "p_value",
                       "interval", "se", "df", "n_units", "n_queries", "note", "distribution")


def format_comparison(frame: pd.DataFrame, *, confidence: float = 0.95, digits: int = 3) -> pd.DataFrame:
    """Human-readable comparison table: ``Δ [low, high]`` strings, p and q values, notes."""
    def fmt(value: object, metric: str, signed: bool = False) -> str:
        if value is None or not np.isfinite(float(value)):  # type: ignore[arg-type]
            return "–"
        d = 1 if metric == "language_bias" else digits  # rank distances are in the hundreds
        return f"{float(value):+.{d}f}" if signed else f"{float(value):.{d}f}"  # type: ignore[arg-type]

    def fmt_p(value: object) -> str:
        if value is None or not np.isfinite(float(value)):  # type: ignore[arg-type]
            return "–"
        return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"  # type: ignore[arg-type]

    out = pd.DataFrame({
        "dataset": frame["dataset"],
        "cell": frame["cell"],
        "metric": frame["metric"].map(metric_name),
        "comparison": frame["model"] + " − " + frame["baseline"],
        "model": [fmt(v, m) for v, m in zip(frame["score"], frame["metric"])],
        "baseline": [fmt(v, m) for v, m in zip(frame["baseline_score"], frame["metric"])],
        f"Δ [{confidence:.0%} CI]": [
            f"{fmt(d, m, True)} [{fmt(lo, m, True)}, {fmt(hi, m, True)}]" if np.isfinite(lo) else fmt(d, m, True)
            for d, lo, hi, m in zip(frame["diff"], frame["ci_low"], frame["ci_high"], frame["metric"])
        ],
        **({"seed SD (n)": [f"{fmt(sd, m)} ({int(n)})" if n > 1 else "–"
                            for sd, n, m in zip(frame["seed_sd"], frame["n_seeds"], frame["metric"])]}
           if "n_seeds" in frame.columns and (frame["n_seeds"] > 1).any() else {}),
        **({"interval": [interval_text(method, df) for method, df in zip(frame["interval"], frame["df"])]}
           if "interval" in frame.columns and (frame["interval"] == SATTERTHWAITE).any() else {}),
        "p": frame["p_value"].map(fmt_p),
        "q (BH)": frame["q_value"].map(fmt_p),
        "n": [("–" if not np.isfinite(n) else f"{int(n)}") for n in frame["n_queries"].astype(float)],
        "note": frame["note"],
    })
    return out

