"""Build a whole leaderboard — tables, paired-bootstrap comparisons, figures — from an MTEB results folder.

This is what ``hybrid-bench leaderboard`` runs and what ``hybrid-bench reproduce`` calls at its end. The tables are
:mod:`~hybrid_bench.leaderboard.tables` and :mod:`~hybrid_bench.leaderboard.comparisons`, the figures
:mod:`~hybrid_bench.leaderboard.figures`.

Example:
    >>> from hybrid_bench.leaderboard.build import build_leaderboard
    >>> board = build_leaderboard("results/", n_resamples=2000)  # doctest: +SKIP
    >>> print(board.markdown("table1_map"))  # doctest: +SKIP
    >>> board.write("leaderboards/mine")  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_path
from hybrid_bench.leaderboard import arms, clusters, comparisons, decisions, plots, tables
from hybrid_bench.leaderboard.figures import add_alpha_sweeps, add_figures
from hybrid_bench.leaderboard.page import write_index
from hybrid_bench.leaderboard.per_query import (JSON_TO_PER_QUERY, KEY_COLUMNS, PER_QUERY_DIR, QrelsLoader,
                                                load_per_query, load_task_qrels, write_per_query)
from hybrid_bench.leaderboard.results import DATA_MARK_MEANING, DATA_MARKS, data_kind, load_results
from hybrid_bench.leaderboard.tables import Cell

logger = logging.getLogger(__name__)

_VERSIONED = ("hybrid-bench", "mteb", "sentence-transformers", "torch", "numpy", "scipy", "pandas", "pytrec-eval-terrier",
              "matplotlib")

#: every score of every result, one row per (model, task, subset, metric): gzip-compressed (10 models' rows are
#: megabytes of CSV; the folder is committed), written reproducibly (no timestamp or name in the gzip header)
SCORES_LONG = "scores_long.csv.gz"


def write_gzip_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, gzip-compressed, with the same bytes for the same text (``pd.read_csv`` reads it)."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
        packed.write(text.encode("utf-8"))


METHOD_TEXT = """\
**How to read the comparisons.** Each row is a difference `model − baseline` of one cell of the tables above,
computed over the queries both models answered (paired). The interval is a {conf:.0%} percentile bootstrap interval
({n} resamples, seed {seed}); `p` is a two-sided paired randomization test (random sign flips of the per-query
differences, {n} flips); `q (BH)` is `p` after Benjamini–Hochberg correction over all rows of the table. For a
macro-averaged cell (e.g. *cross* = mean over all X→Y language pairs) the resampling unit is drawn once per
replicate for all language pairs, because the translations of one question are not independent observations; on
XQuAD-R and MLQA-R the unit is the paragraph of the answer (questions sharing an answer sentence or a context are
not independent either: `hybrid_bench/leaderboard/clusters.py`), on MIRACL the query within its language. `↓` marks metrics where lower is better (a negative Δ is then an improvement). Cells without
per-query data show point estimates only and say so: no interval is ever invented.
With several training seeds per strategy, a row compares the strategies seed by seed: Δ is the mean of the per-seed
differences, `seed SD (n)` their spread over the n seeds, and the interval comes from a hierarchical bootstrap that
draws the seeds and, independently, the questions (see `hybrid_bench/leaderboard/stats.py`); `p` is then the
two-sided bootstrap p-value of those replicates (a sign flip of queries cannot see the seed-to-seed spread).
"""


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that produced a leaderboard (written to ``meta.json``)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass
class Leaderboard:
    """Everything ``hybrid-bench leaderboard`` writes, in memory.

    Attributes:
        results: tidy scores (:func:`~hybrid_bench.leaderboard.results.load_results`).
        per_query: per-query values with model labels (may be empty).
        cells: the table cells found in ``results``.
        pairs: the ``(model, baseline)`` label pairs compared.
        tables: name → numeric table (CSV content).
        display: name → formatted table (Markdown / HTML content).
        figures: file stem → figure.
        notes: warnings worth printing next to the tables (missing CIs, dropped subsets, ...).
        settings: the inputs and options, written to ``meta.json``.
    """

    results: pd.DataFrame
    per_query: pd.DataFrame
    cells: list[Cell]
    pairs: list[tuple[str, str]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    display: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)

    def markdown(self, name: str) -> str:
        """One table as GitHub Markdown."""
        frame = self.display[name]
        # disable_numparse: keep "1.000" / "<0.001" exactly as formatted
        return frame.to_markdown(index=not isinstance(frame.index, pd.RangeIndex), disable_numparse=True)

    def readme(self, preamble: str | None = None) -> str:
        """The ``README.md`` of the written leaderboard: all tables, the method and the figures."""
        titles = {
            "table1_map": "Table 1 — mAP (mono: X→X, cross: X→Y with X≠Y, multi: X→pool of all languages)",
            "table2_language_bias": "Table 2 — language bias (mean rank distance in the multilingual pool; lower is better)",
            "comparison": "Hybrid vs specialised: paired differences over queries",
            "comparison_per_language": "Per-language differences",
            "decisions": "Decisions on the pre-declared endpoints (equivalence margin ±δ, TOST)",
        }
        parts = [preamble.rstrip() + "\n" if preamble else "# Leaderboard\n",
                 f"Results: `{self.settings.get('results_dir')}`; per-query values: "
                 f"`{self.settings.get('predictions_dir')}`.\n"]
        for name in self.display:
            title = titles.get(name) or f"{tables.dataset_name(name.removeprefix('per_language_'))} per language"
            parts.append(f"## {title}\n\n{self.markdown(name)}\n")
            if name == "comparison":
                parts.append(METHOD_TEXT.format(conf=self.settings.get("confidence", 0.95),
                                                n=self.settings.get("n_resamples"), seed=self.settings.get("seed")))
        if self.notes:
            parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in dict.fromkeys(self.notes)) + "\n")
        if self.figures:
            parts.append("## Figures\n\n" + "\n".join(f"![{stem}](plots/{stem}.png)" for stem in self.figures) + "\n")
        return "\n".join(parts)

    def write(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False, preamble: str | None = None) -> Path:
        """Write tables (``.md``, ``.csv``, ``.html``), ``plots/*.png``, ``README.md``, ``meta.json`` and the
        per-query values the intervals came from (``per_query/``, zstd parquet; with the results JSON they rebuild
        the leaderboard: ``hybrid-bench leaderboard RESULTS --predictions OUT/per_query``) at once.

        The folder appears complete or not at all (:func:`hybrid_bench.io.atomic_path`); an existing ``out_dir``
        raises :class:`~hybrid_bench.io.ResultExistsError` unless ``overwrite``.
        """
        with atomic_path(out_dir, overwrite=overwrite) as tmp:
            tmp.mkdir(parents=True)
            for name, frame in self.tables.items():
                tables.flatten_columns(frame.drop(columns=["replicates"], errors="ignore")).to_csv(tmp / f"{name}.csv")
            for name, frame in self.display.items():
                (tmp / f"{name}.md").write_text(self.markdown(name) + "\n", encoding="utf-8")
                html = frame.to_html(na_rep="–", border=0, index=not isinstance(frame.index, pd.RangeIndex))
                (tmp / f"{name}.html").write_text(html, encoding="utf-8")
            write_gzip_text(tmp / SCORES_LONG, self.results.to_csv(index=False))
            if not self.per_query.empty:
                used = [JSON_TO_PER_QUERY.get(c.metric, c.metric) for c in self.cells]
                write_per_query(self.per_query, tmp / PER_QUERY_DIR, metrics=used)
            for stem, fig in self.figures.items():
                plots.save_figure(fig, tmp / "plots" / f"{stem}.png")
            (tmp / "README.md").write_text(self.readme(preamble), encoding="utf-8")
            meta = {**self.settings, "per_query_dir": PER_QUERY_DIR if not self.per_query.empty else None,
                    "pairs": [list(p) for p in self.pairs], "versions": package_versions(),
                    "notes": list(dict.fromkeys(self.notes))}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
            write_index(tmp)  # the self-contained page, from the files just written
        logger.info("leaderboard written to %s", out_dir)
        return Path(out_dir)


def _formatted(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """Numbers as fixed-width strings (``–`` for missing) so Markdown and HTML show the same digits."""
    def fmt(value: object, column: object) -> str:
        if value is None or not np.isfinite(float(value)):  # type: ignore[arg-type]
            return "–"
        if "n_queries" in str(column):
            return f"{int(value)}"  # type: ignore[call-overload]
        return f"{float(value):.{digits}f}"  # type: ignore[arg-type]

    out = frame.copy().astype(object)
    for column in out.columns:
        out[column] = [fmt(v, column) for v in frame[column]]
    return out


def build_leaderboard(
    results_dir: str | os.PathLike[str],
    *,
    predictions_dir: str | os.PathLike[str] | None = None,
    compare: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    make_plots: bool = True,
    qrels_loader: QrelsLoader | None = load_task_qrels,
    cluster_loader: clusters.ClusterLoader | None = clusters.lareqa_clusters,
    progress: bool = True,
) -> Leaderboard:
    """Load results and per-query values, build every table, comparison and figure.

    Args:
        results_dir: an MTEB results folder (``mteb run --output-folder``, ``ResultCache`` root or ``results/``).
        predictions_dir: where per-query files are searched (recursively); default ``results_dir/predictions``.
        compare: ``"A:B"`` pairs to compare; default every ``hybrid-X`` against ``mono-X`` and ``cross-X``. Two arm
            names (the label of an arm's first-seed model) compare the arms seed by seed, as the default pairs do.
        models: restrict to these models (labels or full names).
        tasks: restrict to these tasks.
        n_resamples: bootstrap resamples and sign flips per comparison.
        confidence: confidence level of the intervals.
        seed: random seed of the resampling.
        make_plots: build the figures.
        qrels_loader: task → qrels for stock-mteb ``*_predictions.json`` files (``None``: ignore those files).
        cluster_loader: task → ``{qid: cluster}``, the bootstrap's unit (default: the paragraph of a LAReQA
            question, :mod:`hybrid_bench.leaderboard.clusters`; ``None``: the question).
        progress: show a progress bar over the comparisons.

    Raises:
        DataError: no results, malformed files, unknown models in ``compare``.
    """
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 100:
        raise DataError(f"n_resamples={n_resamples} is too few for a {confidence:.0%} interval; use at least 1000")
    results = load_results(results_dir, models=models, tasks=tasks)
    pred_dir = Path(predictions_dir) if predictions_dir is not None else Path(results_dir) / "predictions"
    problems: list[str] = []
    per_query = load_per_query(pred_dir, qrels_loader=qrels_loader, tasks=set(results["task"]), problems=problems)
    per_query = clusters.assign_clusters(comparisons.attach_labels(per_query, results, problems), cluster_loader, problems)
    # one row order whatever the files' layout, so a rebuild from the exported per-query files resamples identically
    per_query = per_query.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    cells = tables.find_cells(results)
    labels = sorted(results["label"].unique())
    arm_list = arms.group_arms(arms.read_roles(labels, results_dir))
    seed_pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    if compare:
        pairs = comparisons.parse_pairs(compare, results)
        # an arm's name (its first seed's label) on both sides means the arms, compared seed by seed
        by_name = {a.name: a for a in arm_list}
        seed_pairs = {(a, b): arms.seed_pairs(by_name[a], by_name[b]) for a, b in pairs
                      if a in by_name and b in by_name}
    else:
        arm_pairs = arms.default_arm_pairs(arm_list)
        pairs = [(a.name, b.name) for a, b in arm_pairs]
        seed_pairs = {(a.name, b.name): arms.seed_pairs(a, b) for a, b in arm_pairs}
    board = Leaderboard(results=results, per_query=per_query, cells=cells, pairs=pairs, settings={
        "results_dir": str(results_dir), "predictions_dir": str(pred_dir), "n_resamples": n_resamples,
        "confidence": confidence, "seed": seed, "models": labels, "tasks": sorted(results["task"].unique()),
        "arms": {a.name: dict(zip(map(str, a.seeds), a.labels)) for a in arm_list},
        "margin": decisions.MARGIN,
    })
    if not pairs:
        board.notes.append("no comparisons: no hybrid model with a mono / cross counterpart of the same base in the "
                           "training records (pass --compare A:B)")
    board.notes.extend(problems)
    if per_query.empty:
        board.notes.append(f"{tables.NO_CI_NOTE}: nothing found under {pred_dir}")
    for task in sorted(results["task"].unique()):
        for metric in tables.saturated_metrics(results[results["task"] == task]):
            board.notes.append(f"{tables.dataset_name(task)}: {tables.metric_name(metric)} is 1.000 for every model "
                               "and language: not shown")
    _add_score_tables(board, arm_list, per_query)

    if pairs:
        headline = [c for c in cells if c.kind in ("setting", "mean")]
        detail = [c for c in cells if c.kind == "subset"]
        kwargs = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed, "progress": progress,
                  "seed_pairs": seed_pairs}
        comparison = comparisons.comparison_table(results, per_query, headline, pairs, **kwargs)
        board.tables["comparison"] = comparison
        board.display["comparison"] = comparisons.format_comparison(comparison, confidence=confidence)
        decided = decisions.decision_table(comparison, arm_list)
        if not decided.empty:
            board.tables["decisions"] = decided
            board.display["decisions"] = decisions.format_decisions(decided)
        if detail:
            per_language = comparisons.comparison_table(results, per_query, detail, pairs, **kwargs)
            board.tables["comparison_per_language"] = per_language
            board.display["comparison_per_language"] = comparisons.format_comparison(per_language, confidence=confidence)
        missing = comparison[comparison["note"] == tables.NO_CI_NOTE]
        for task in sorted(set(missing["task"])):
            board.notes.append(f"{tables.dataset_name(task)}: {tables.NO_CI_NOTE}")
        for note in comparison.loc[comparison["note"].str.contains("≠ results JSON", regex=False), "note"]:
            board.notes.append(note)
    if make_plots:
        add_figures(board, arm_list, seed_pairs=seed_pairs, n_resamples=n_resamples, confidence=confidence, seed=seed)
        add_alpha_sweeps(board, arm_list, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return board


def _add_score_tables(board: Leaderboard, arm_list: Sequence[arms.Arm], per_query: pd.DataFrame) -> None:
    """Table 1, Table 2 and the per-language tables; with several seeds per arm, each arm's mean over its seeds
    with the seed-to-seed SD next to it (``*_seed_sd`` CSVs hold the SDs)."""
    results, cells = board.results, board.cells
    seeded = any(len(a.labels) > 1 for a in arm_list)
    members = {a.name: list(a.labels) for a in arm_list} if seeded else None

    def add(name: str, frame: pd.DataFrame, digits: int, flatten: bool, level: int | None = None,
            task: str | None = None) -> None:
        if frame.empty:
            return
        if not seeded:
            board.tables[name] = frame
            shown = _formatted(frame, digits)
        else:
            extra = [c for c in frame.columns if "n_queries" in str(c)]
            values = frame.drop(columns=extra)
            mean, sd = arms.collapse_seeds(values, arm_list, axis=0 if level is None else 1, level=level)
            shown = arms.format_with_spread(mean, sd, digits)
            if extra:  # per-language tables: the query counts do not depend on the model
                mean = pd.concat([mean, frame[extra]], axis=1)
                shown = pd.concat([shown, _formatted(frame[extra], digits)], axis=1)
            board.tables[name], board.tables[f"{name}_seed_sd"] = mean, sd
        # the numeric tables (CSV) stay numbers; each score's dataset revision is in scores_long.csv.gz
        shown = tables.mark_data(shown, results, task=task, members=members)
        board.display[name] = tables.flatten_columns(shown) if flatten else shown

    order = _row_order(arm_list)
    add("table1_map", tables.table1(results, cells, order), 3, True)
    add("table2_language_bias", tables.table2(results, cells, order), 1, False)
    for task in sorted({c.task for c in cells if c.kind in ("subset", "mean")}):
        add(f"per_language_{task}", tables.subset_table(results, cells, task, per_query, order), 4, True, level=1,
            task=task)
    pairs = results[["task", "dataset_revision"]].drop_duplicates().itertuples(index=False)
    kinds = {data_kind(task, revision) for task, revision in pairs}
    board.notes.extend(f"{mark} {DATA_MARK_MEANING[kind]}" for kind, mark in DATA_MARKS.items() if kind in kinds)


def _row_order(arm_list: Sequence[arms.Arm]) -> list[str]:
    """Model labels in the paper's row order (bases, mono, cross, hybrid), from the arms' training records."""
    return [label for arm in arm_list for label in arm.labels]
