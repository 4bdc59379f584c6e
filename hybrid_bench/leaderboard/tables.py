"""The paper's tables (arXiv 2408.10536, Tables 1–3) and the hybrid − specialised comparison, as DataFrames.

* :func:`table1` — mAP per model and dataset in the three settings: **mono** (mean over the ``q == c``
  subsets), **cross** (mean over the ``q != c`` subsets) and **multi** (mean over the ``{q}-pool`` subsets).
* :func:`table2` — language bias (mean rank distance over the pool subsets; lower is better).
* :func:`subset_table` — per-language scores (MIRACL nDCG@10 and Recall@100; the cross-lingual variant adds
  foreign intrusion@10) with a mean row and the number of queries.
* :func:`comparison_table` — every hybrid − specialised difference of those cells with a paired bootstrap CI
  and sign-flip p-value over queries (:mod:`hybrid_bench.leaderboard.stats`), or an explicit note where the
  per-query values needed for them are missing.

All inputs are the tidy frames of :func:`~hybrid_bench.leaderboard.results.load_results` and
:func:`~hybrid_bench.leaderboard.per_query.load_per_query`; a "cell" (:class:`Cell`) names a task, a metric and the
subsets it averages.

Example:
    >>> from hybrid_bench.leaderboard import results, tables
    >>> scores = results.load_results("results/")  # doctest: +SKIP
    >>> tables.table1(scores, tables.find_cells(scores))  # doctest: +SKIP
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
from hybrid_bench.leaderboard.results import is_pair_task, parse_pair_subset
from hybrid_bench.leaderboard.stats import BootstrapResult, macro_paired_bootstrap, paired_bootstrap

logger = logging.getLogger(__name__)

DATASET_NAMES: dict[str, str] = {
    "XQuADRRetrieval": "XQuAD-R",
    "XQuADRHeldOutRetrieval": "XQuAD-R held-out",
    "MLQARRetrieval": "MLQA-R",
    "MIRACLRetrieval": "MIRACL",
    "MIRACLCrossLingualRetrieval": "MIRACL cross-lingual",
}
METRIC_NAMES: dict[str, str] = {
    "map": "mAP",
    "language_bias": "language bias",
    "ndcg_at_10": "nDCG@10",
    "recall_at_100": "Recall@100",
    "foreign_intrusion_at_10": "intrusion@10",
}
#: metrics where a smaller value is better
LOWER_IS_BETTER: frozenset[str] = frozenset({"language_bias", "foreign_intrusion_at_10"})
#: metrics shown for per-language (non pair) tasks, when present
SUBSET_METRICS: tuple[str, ...] = ("ndcg_at_10", "recall_at_100", "foreign_intrusion_at_10")
SETTINGS: tuple[str, ...] = ("mono", "cross", "multi")
NO_CI_NOTE = "no CI: per-query results missing (run with --prediction-folder)"
_SPLIT_PREFERENCE = ("test", "dev", "validation")


def task_sort_key(task: str) -> tuple[int, str]:
    """The paper's order: XQuAD-R, XQuAD-R held-out, MLQA-R, MIRACL, then anything else by name."""
    order = list(DATASET_NAMES)
    return (order.index(task) if task in order else len(order), task)


def dataset_name(task: str) -> str:
    return DATASET_NAMES.get(task, task)


def metric_name(metric: str) -> str:
    name = METRIC_NAMES.get(metric, metric)
    return f"{name} ↓" if metric in LOWER_IS_BETTER else name


@dataclass(frozen=True)
class Cell:
    """One number of a table: ``metric`` of ``task`` averaged (macro) over ``subsets`` of ``split``.

    ``kind`` is ``"setting"`` (mono/cross/multi/bias of a pair task), ``"subset"`` (one language) or ``"mean"``
    (the mean row of a per-language table).
    """

    task: str
    split: str
    name: str
    metric: str
    subsets: tuple[str, ...]
    kind: str

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER


def _main_split(splits: Sequence[str]) -> str:
    for split in _SPLIT_PREFERENCE:
        if split in splits:
            return split
    return sorted(splits)[0]


def _common_subsets(task_scores: pd.DataFrame, metric: str) -> list[str]:
    """Subsets that every model evaluated on the task has ``metric`` for (so that model means are comparable)."""
    have = task_scores[task_scores["metric"] == metric].groupby("label")["subset"].agg(set)
    if have.empty:
        return []
    common = set.intersection(*have.tolist())
    dropped = set.union(*have.tolist()) - common
    if dropped:
        logger.warning("%s/%s: subsets %s are missing for some models and left out of the means", 
                       task_scores["task"].iloc[0], metric, sorted(dropped))
    return sorted(common)


def find_cells(results: pd.DataFrame) -> list[Cell]:
    """All cells the tables report, derived from the tasks, subsets and metrics present in ``results``."""
    from hybrid_bench.tasks.lareqa import setting_of

    cells: list[Cell] = []
    for task in sorted(results["task"].unique(), key=task_sort_key):
        task_scores = results[results["task"] == task]
        split = _main_split(task_scores["split"].unique().tolist())
        task_scores = task_scores[task_scores["split"] == split]
        if is_pair_task(task_scores["subset"].unique().tolist()):
            maps = _common_subsets(task_scores, "map")
            for name in SETTINGS:
                subsets = [s for s in maps if setting_of(s) == name]
                if subsets:
                    cells.append(Cell(task, split, name, "map", tuple(subsets), "setting"))
            bias = [s for s in _common_subsets(task_scores, "language_bias") if setting_of(s) == "multi"]
            if bias:
                cells.append(Cell(task, split, "bias", "language_bias", tuple(bias), "setting"))
            continue
        saturated = saturated_metrics(task_scores)
        metrics = [m for m in SUBSET_METRICS if m in set(task_scores["metric"]) and m not in saturated] \
            or ["main_score"]
        for metric in metrics:
            subsets = _common_subsets(task_scores, metric)
            cells.extend(Cell(task, split, s, metric, (s,), "subset") for s in subsets)
            for suffix, members in suffix_groups(subsets).items():
                if len(members) > 1:
                    name = f"mean ({suffix})" if suffix else "mean"
                    cells.append(Cell(task, split, name, metric, tuple(members), "mean"))
    return cells


#: metrics left out of the per-language tables when every model scores exactly 1.0 on every subset (a pool too
#: small to separate models on recall says nothing)
SATURABLE_METRICS: frozenset[str] = frozenset({"recall_at_100"})


def saturated_metrics(results: pd.DataFrame) -> list[str]:
    """The :data:`SATURABLE_METRICS` that are 1.0 for every model and subset of a task present in ``results``."""
    out = []
    for metric in sorted(SATURABLE_METRICS):
        rows = results[results["metric"] == metric]
        if not rows.empty and bool((rows["value"] >= 1.0).all()):
            out.append(metric)
    return out


def suffix_groups(subsets: Sequence[str]) -> dict[str, list[str]]:
    """``["sw-all", "yo-all", "sw-train"]`` → ``{"all": [...], "train": [...]}``; plain codes go under ``""``."""
    groups: dict[str, list[str]] = {}
    for subset in subsets:
        suffix = subset.split("-", 1)[1] if "-" in subset else ""
        groups.setdefault(suffix, []).append(subset)
    return groups


def cell_score(results: pd.DataFrame, cell: Cell, label: str) -> float:
    """Macro mean of ``cell.metric`` over ``cell.subsets`` for one model; NaN if the model lacks a subset."""
    rows = results[
        (results["label"] == label) & (results["task"] == cell.task) & (results["split"] == cell.split)
        & (results["metric"] == cell.metric) & (results["subset"].isin(cell.subsets))
    ]
    if rows["subset"].nunique() < len(cell.subsets):
        return float("nan")
    return float(rows.groupby("subset")["value"].mean().mean())


def ordered_labels(results: pd.DataFrame, order: Sequence[str] | None = None) -> list[str]:
    """The model labels of ``results`` in ``order`` (the paper's: base, mono, cross, hybrid, as the leaderboard's
    arms read it from the training records, :func:`hybrid_bench.leaderboard.arms.group_arms`); others after, sorted."""
    present = set(results["label"].unique())
    first = [label for label in dict.fromkeys(order or ()) if label in present]
    return first + sorted(present - set(first))


def table1(results: pd.DataFrame, cells: Sequence[Cell], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 1 of the paper: rows = models (in ``order``, see :func:`ordered_labels`), columns = (dataset,
    mono/cross/multi) mAP."""
    setting_cells = [c for c in cells if c.kind == "setting" and c.name in SETTINGS]
    labels = ordered_labels(results, order)
    data = {(dataset_name(c.task), c.name): {label: cell_score(results, c, label) for label in labels}
            for c in setting_cells}
    frame = pd.DataFrame(data, index=ordered_labels(results, order))
    frame.index.name = "model"
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["dataset", "setting"]) if data else frame.columns
    return frame.dropna(how="all")


def table2(results: pd.DataFrame, cells: Sequence[Cell], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 2 of the paper: rows = models, columns = datasets, values = language bias (lower is better)."""
    bias_cells = [c for c in cells if c.kind == "setting" and c.name == "bias"]
    data = {dataset_name(c.task): {label: cell_score(results, c, label) for label in ordered_labels(results, order)}
            for c in bias_cells}
    frame = pd.DataFrame(data, index=ordered_labels(results, order))
    frame.index.name = "model"
    return frame.dropna(how="all")


def subset_table(results: pd.DataFrame, cells: Sequence[Cell], task: str,
                 per_query: pd.DataFrame | None = None, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-language table of a task: rows = subsets + mean rows, columns = (metric, model) + ``n_queries``.

    ``n_queries`` comes from the results JSON when the task reports it, else from the per-query rows.
    """
    task_cells = [c for c in cells if c.task == task and c.kind in ("subset", "mean")]
    if not task_cells:
        raise DataError(f"no per-language scores for task {task!r}", item=task)
    labels = [lb for lb in ordered_labels(results, order) if (results[(results["label"] == lb)]["task"] == task).any()]
    row_names = list(dict.fromkeys(c.name for c in task_cells))
    columns: dict[tuple[str, str], list[float]] = {}
    for metric in dict.fromkeys(c.metric for c in task_cells):
        by_name = {c.name: c for c in task_cells if c.metric == metric}
        for label in labels:
            columns[(metric_name(metric), label)] = [
                cell_score(results, by_name[n], label) if n in by_name else np.nan for n in row_names
            ]
    frame = pd.DataFrame(columns, index=pd.Index(row_names, name="language"))
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["metric", "model"])
    frame[("n_queries", "")] = [_n_queries(results, per_query, task, c) for c in
                                [next(c for c in task_cells if c.name == n) for n in row_names]]
    return frame


def _n_queries(results: pd.DataFrame, per_query: pd.DataFrame | None, task: str, cell: Cell) -> float:
    rows = results[(results["task"] == task) & (results["metric"] == "n_queries") & results["subset"].isin(cell.subsets)
                   & (results["split"] == cell.split)]
    if not rows.empty:
        return float(rows.groupby("subset")["value"].max().sum())
    if per_query is not None and not per_query.empty:
        rows = per_query[(per_query["task"] == task) & per_query["subset"].isin(cell.subsets)
                         & (per_query["split"] == cell.split)]
        if not rows.empty:
            return float(rows.groupby("subset")["query_id"].nunique().sum() if cell.kind == "mean"
                         else rows["query_id"].nunique())
    return float("nan")


# ---- comparisons ------------------------------------------------------------------------------------------------

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


def attach_labels(per_query: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Add the results' ``label`` to per-query rows (matched on full model name, else on label; revision when one
    model has several)."""
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
    return out[out["label"].notna()]


@dataclass(frozen=True)
class PairedRows:
    frame: pd.DataFrame  # columns: subset, unit, a, b
    n_a: int
    n_b: int


def paired_rows(per_query: pd.DataFrame, cell: Cell, a: str, b: str) -> PairedRows | None:
    column = JSON_TO_PER_QUERY.get(cell.metric, cell.metric)
    if per_query.empty or column not in per_query.columns:
        return None
    scope = per_query[(per_query["task"] == cell.task) & (per_query["split"] == cell.split)
                      & per_query["subset"].isin(cell.subsets)].dropna(subset=[column])
    side_a = scope[scope["label"] == a][["subset", "query_id", "unit", column]]
    side_b = scope[scope["label"] == b][["subset", "query_id", column]]
    if side_a.empty or side_b.empty or side_a["subset"].nunique() < len(cell.subsets) \
            or side_b["subset"].nunique() < len(cell.subsets):
        return None
    joined = side_a.merge(side_b, on=["subset", "query_id"], suffixes=("_a", "_b"))
    joined = joined.rename(columns={f"{column}_a": "a", f"{column}_b": "b"})
    return PairedRows(joined[["subset", "unit", "a", "b"]], len(side_a), len(side_b))


def compare_cell(
    results: pd.DataFrame, per_query: pd.DataFrame, cell: Cell, a: str, b: str, *,
    seed_pairs: Sequence[tuple[str, str]] | None = None,
    n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0,
) -> dict[str, object]:
    """One row of the comparison table: ``a − b`` on ``cell`` with CI and p-value (or a note why there is none).

    ``a``, ``b`` name the two sides (model labels, or arm names of :mod:`hybrid_bench.leaderboard.arms`);
    ``seed_pairs`` are the (model, baseline) labels compared, one pair per training seed (default ``[(a, b)]``).
    With several seeds the estimate is the mean of the per-seed differences, ``seed_sd`` their spread, and the
    interval comes from the hierarchical bootstrap over seeds and queries. The row keeps the bootstrap replicates
    (``replicates``) for the equivalence decisions; they are not written out.
    """
    pairs = list(seed_pairs or [(a, b)])
    per_seed = [cell_score(results, cell, x) - cell_score(results, cell, y) for x, y in pairs]
    score_a = float(np.mean([cell_score(results, cell, x) for x in dict.fromkeys(x for x, _ in pairs)]))
    score_b = float(np.mean([cell_score(results, cell, y) for y in dict.fromkeys(y for _, y in pairs)]))
    row: dict[str, object] = {
        "dataset": dataset_name(cell.task), "task": cell.task, "cell": cell.name, "metric": cell.metric,
        "better": "lower" if cell.lower_is_better else "higher", "model": a, "baseline": b,
        "score": score_a, "baseline_score": score_b, "diff": float(np.mean(per_seed)),
        "n_seeds": len(pairs), "seed_sd": float(np.std(per_seed, ddof=1)) if len(pairs) > 1 else np.nan,
        "ci_low": np.nan, "ci_high": np.nan, "ci90_low": np.nan, "ci90_high": np.nan, "p_value": np.nan,
        "n_units": np.nan, "n_queries": np.nan, "note": "", "replicates": None,
    }
    frames, n_a, n_b = [], 0, 0
    for i, (x, y) in enumerate(pairs):
        paired = paired_rows(per_query, cell, x, y)
        if paired is None:
            row["note"] = NO_CI_NOTE
            return row
        frames.append(paired.frame.assign(seed=i))
        n_a, n_b = n_a + paired.n_a, n_b + paired.n_b
    frame = pd.concat(frames, ignore_index=True)
    if len(frame) < 2 * len(pairs):
        row["note"] = "no CI: fewer than 2 queries evaluated by both models"
        return row
    notes = []
    if len(frame) < max(n_a, n_b):
        notes.append(f"paired on {len(frame)} of {max(n_a, n_b)} queries")
    kwargs = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    res: BootstrapResult
    if len(cell.subsets) == 1 and len(pairs) == 1:
        res = paired_bootstrap(frame["a"], frame["b"], **kwargs)
    else:
        res = macro_paired_bootstrap(frame["a"], frame["b"], groups=frame["subset"].tolist(),
                                     units=frame["unit"].tolist(),
                                     seeds=frame["seed"].tolist() if len(pairs) > 1 else None, **kwargs)
    score_a, score_b = float(row["score"]), float(row["baseline_score"])  # type: ignore[arg-type]
    tolerance = 1e-3 * max(1.0, abs(score_a), abs(score_b))
    if np.isfinite(row["diff"]) and abs(res.mean_diff - float(row["diff"])) > tolerance:  # type: ignore[arg-type]
        notes.append(f"per-query mean diff {res.mean_diff:+.4f} ≠ results JSON diff {row['diff']:+.4f}: "
                     "stale prediction files?")
        logger.warning("%s %s %s − %s: %s", cell.task, cell.name, a, b, notes[-1])
    ci90 = res.interval(0.90)
    row.update(diff=res.mean_diff, ci_low=res.ci_low, ci_high=res.ci_high, ci90_low=ci90[0], ci90_high=ci90[1],
               p_value=res.p_value, n_units=res.n_units, n_queries=res.n_rows // len(pairs), note="; ".join(notes),
               replicates=res.distribution)
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
    The ``replicates`` column holds each row's bootstrap replicates (an object column; drop it before writing).
    """
    per_query = attach_labels(per_query, results) if "label" not in per_query.columns else per_query
    seed_pairs = seed_pairs or {}
    jobs = [(cell, a, b) for a, b in pairs for cell in cells]
    rows = [
        compare_cell(results, per_query, cell, a, b, seed_pairs=seed_pairs.get((a, b)), n_resamples=n_resamples,
                     confidence=confidence, seed=seed)
        for cell, a, b in tqdm(jobs, desc="paired bootstrap", unit="cell", disable=not progress or not jobs)
    ]
    frame = pd.DataFrame(rows, columns=list(_COMPARISON_COLUMNS))
    frame["q_value"] = np.nan
    tested = frame["p_value"].notna()
    if tested.any():
        frame.loc[tested, "q_value"] = sstats.false_discovery_control(frame.loc[tested, "p_value"].to_numpy())
    return frame[[*_COMPARISON_COLUMNS[:-2], "q_value", "note", "replicates"]]


_COMPARISON_COLUMNS = ("dataset", "task", "cell", "metric", "better", "model", "baseline", "score", "baseline_score",
                       "diff", "n_seeds", "seed_sd", "ci_low", "ci_high", "ci90_low", "ci90_high", "p_value",
                       "n_units", "n_queries", "note", "replicates")


def pair_matrix(results: pd.DataFrame, task: str, label: str, metric: str = "map") -> pd.DataFrame:
    """``metric`` of one model as a query-language × candidate-language matrix (pool subsets left out)."""
    rows = results[(results["task"] == task) & (results["label"] == label) & (results["metric"] == metric)]
    split = _main_split(rows["split"].unique().tolist()) if not rows.empty else None
    from hybrid_bench.tasks.lareqa import setting_of

    cells = {}
    for subset, value in rows[rows["split"] == split].groupby("subset")["value"].mean().items():
        parsed = parse_pair_subset(str(subset))
        if parsed and setting_of(str(subset)) != "multi":
            cells[parsed] = value
    if not cells:
        return pd.DataFrame()
    langs = sorted({q for q, _ in cells} | {c for _, c in cells})
    matrix = pd.DataFrame(np.nan, index=pd.Index(langs, name="query"), columns=pd.Index(langs, name="candidates"))
    for (q, c), value in cells.items():
        matrix.loc[q, c] = value
    return matrix


# ---- display ----------------------------------------------------------------------------------------------------

def flatten_columns(frame: pd.DataFrame, sep: str = " / ") -> pd.DataFrame:
    """MultiIndex columns → single strings (Markdown and CSV readers cope badly with two header rows)."""
    out = frame.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [sep.join(str(p) for p in col if str(p)) for col in out.columns]
    return out


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
        "p": frame["p_value"].map(fmt_p),
        "q (BH)": frame["q_value"].map(fmt_p),
        "n": [("–" if not np.isfinite(n) else f"{int(n)}") for n in frame["n_queries"].astype(float)],
        "note": frame["note"],
    })
    return out
