"""The in-memory leaderboard (:class:`Leaderboard`: tables, figures, notes, settings) and how it is written.

:func:`~hybrid_bench.leaderboard.build.build_leaderboard` fills one; :mod:`~hybrid_bench.leaderboard.figures` adds
its figures to it; :meth:`Leaderboard.write` puts it on disk (tables as Markdown / CSV / HTML, ``plots/*.png``,
``README.md``, ``meta.json``, ``per_query/`` and the page ``index.html``). The type lives here, apart from the
builder, so that the modules which fill it depend on it and not on each other.

Example:
    >>> import pandas as pd
    >>> board = Leaderboard(results=pd.DataFrame(), per_query=pd.DataFrame(), cells=[], pairs=[])
    >>> board.display["t"] = pd.DataFrame({"model": ["a"], "map": ["0.500"]})
    >>> print(board.markdown("t"))
    | model   | map   |
    |:--------|:------|
    | a       | 0.500 |
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from hybrid_bench.io import atomic_path
from hybrid_bench.leaderboard import plots, pooled, tables
from hybrid_bench.leaderboard.page import write_index
from hybrid_bench.leaderboard.per_query import JSON_TO_PER_QUERY, PER_QUERY_DIR, write_per_query
from hybrid_bench.leaderboard.tables import Cell

__all__ = ["METHOD_TEXT", "SCORES_LONG", "Leaderboard", "package_versions", "write_gzip_text"]

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
computed over the queries both models answered (paired). With one model per side, the interval is a {conf:.0%} percentile bootstrap interval
({n} resamples, seed {seed}); `p` is a two-sided paired randomization test (random sign flips of the per-query
differences, {n} flips); `q (BH)` is `p` after Benjamini–Hochberg correction over all rows of the table. For a
macro-averaged cell (e.g. *cross* = mean over all X→Y language pairs) the resampling unit is drawn once per
replicate for all language pairs, because the translations of one question are not independent observations; on
XQuAD-R and MLQA-R the unit is the paragraph of the answer (questions sharing an answer sentence or a context are
not independent either: `hybrid_bench/leaderboard/clusters.py`), on MIRACL the query within its language. `↓` marks metrics where lower is better (a negative Δ is then an improvement). Cells without
per-query data show point estimates only and say so: no interval is ever invented.
With several training seeds per strategy, a row compares the strategies seed by seed: Δ is the mean of the per-seed
differences, `seed SD (n)` their spread over the n seeds, and the interval is the Satterthwaite t interval of the
crossed random-effects model (query, seed and seed × query variance per stratum; `interval` gives its degrees of
freedom; see `hybrid_bench/leaderboard/variance.py` and `sampling.py`), not a bootstrap; `p` is then the two-sided t
test of Δ = 0 with those degrees of freedom (a sign flip of queries cannot see the seed-to-seed spread).
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
            "decisions": "Decisions on the pre-declared endpoints (superiority and equivalence margin ±δ, TOST; "
                         "a Holm family each)",
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
                tables.flatten_columns(frame.drop(columns=["distribution"], errors="ignore")).to_csv(tmp / f"{name}.csv")
            for name, frame in self.display.items():
                (tmp / f"{name}.md").write_text(self.markdown(name) + "\n", encoding="utf-8")
                html = frame.to_html(na_rep="–", border=0, index=not isinstance(frame.index, pd.RangeIndex))
                (tmp / f"{name}.html").write_text(html, encoding="utf-8")
            write_gzip_text(tmp / SCORES_LONG, self.results.to_csv(index=False))
            if not self.per_query.empty:
                used = [JSON_TO_PER_QUERY.get(c.metric, c.metric) for c in self.cells]
                own = self.per_query[~self.per_query["task"].map(pooled.is_pooled)]  # a pool is derived again
                write_per_query(own, tmp / PER_QUERY_DIR, metrics=used)
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
