"""``index.html``: one self-contained page per leaderboard, made from the files of a written leaderboard folder.

The page needs no network access and no other file: styles are inline, the figures (``plots/*.png``) are embedded
as base64 data URIs, there is no script. It is laid out the way a reader reads:

1. **the answer** in one sentence, with its interval, made from ``decisions.csv``
   (:mod:`~hybrid_bench.leaderboard.page_answer`), then the decision table (as wide as the page, no scrollbar)
   and the forest plot of its comparisons;
2. the claims in turn, each table next to the figures that back it: the α sweep, each per-language table with
   its plot (the datasets of the decisions first, primary first), Table 1 with its per-pair heatmaps, Table 2
   with the language-bias plots, the comparisons with their difference heatmaps (tables of :mod:`~hybrid_bench.leaderboard.page_tables`);
3. the notes; then how the board was made (the README's preamble: command, machine, preset, stage wall times) and
   the provenance from ``meta.json`` (:mod:`~hybrid_bench.leaderboard.page_parts`).

Long tables and figure series are collapsed (``<details>``), so the page is a few screens until a reader opens one.

:func:`write_index` (re)writes ``index.html`` from a folder's committed files only; ``Leaderboard.write`` calls it,
and ``python -m hybrid_bench.leaderboard.page leaderboards/NAME`` regenerates a committed leaderboard's page.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from hybrid_bench.io import atomic_write_text
from hybrid_bench.leaderboard.page_answer import answer_html
from hybrid_bench.leaderboard.page_parts import CSS, details, figures_html, markdown, provenance_html, split_preamble
from hybrid_bench.leaderboard.page_tables import table_html
from hybrid_bench.leaderboard.tables import dataset_name

__all__ = ["INDEX", "LONG_TABLE", "render_index", "write_index"]

INDEX = "index.html"
#: tables with more rows than this are collapsed
LONG_TABLE = 40
#: the tables in page order; any other ``<name>.md`` of the folder follows them
_ORDER = ("decisions", "table1_map", "table2_language_bias", "comparison", "comparison_per_language")
_TITLES = {
    "decisions": "Decisions on the pre-declared endpoints",
    "table1_map": "Table 1 — mAP (mono X→X, cross X→Y, multi X→pool)",
    "table2_language_bias": "Table 2 — language bias (rank distance; lower is better)",
    "comparison": "Paired differences with confidence intervals",
    "comparison_per_language": "Per-language differences",
}
_RULE = ("Decision rules, declared before the run (<code>leaderboards/replication-plan.md</code>, "
         "<code>hybrid_bench/leaderboard/decisions.py</code>), in two Holm families over the primary comparisons, "
         "each in its own columns. <b>Superiority</b>: a two-sided test of Δ = 0 (<b>higher</b> / <b>lower</b> "
         "when rejected, else <b>not significant</b>). <b>Relevance</b>: TOST at ±δ with one candidate claim per "
         "comparison — <b>equivalent</b> (the 90 % CI inside ±δ), <b>worse beyond δ</b> or <b>better beyond δ</b> — "
         "made when its Holm-adjusted p is below 0.05, else <b>inconclusive</b>. Secondary rows are each decided on "
         "their own (nominal, uncorrected). On a lower-is-better metric (foreign intrusion, language bias) a "
         "positive Δ is a loss.")
_MARKS = ('<p class="legend"><span style="font-weight:700;background:#dafbe1;padding:0 .3rem">bold green</span>: '
          "best per column (rows are models) or per row and metric (rows are languages); lower is better for "
          'language bias and foreign intrusion. <span style="background:#fff8c5;padding:0 .3rem">yellow</span>: '
          'the difference\'s confidence interval excludes 0. <span class="noci">no CI</span>: no per-query values, '
          "so no interval was computed (see the notes).</p>")


def _title(name: str) -> str:
    if name in _TITLES:
        return _TITLES[name]
    if name.startswith("per_language_"):
        return f"{dataset_name(name.removeprefix('per_language_'))} per language"
    return name.replace("_", " ")


def _preamble(readme: Path) -> tuple[str, str]:
    """Title and the Markdown before the tables of a leaderboard's README (its first line is the title)."""
    if not readme.is_file():
        return "Leaderboard", ""
    lines = readme.read_text(encoding="utf-8").splitlines()
    title = lines[0].lstrip("# ").replace("`", "").strip() if lines and lines[0].startswith("#") else "Leaderboard"
    body = "\n".join(lines[1:])
    cut = body.find("\nResults: `")
    return title, (body[:cut] if cut >= 0 else "")


class _Figures:
    """The folder's figure stems, each handed out once, to the first section that claims it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.left = sorted(p.stem for p in (folder / "plots").glob("*.png"))

    def take(self, wanted: Callable[[str], bool]) -> list[str]:
        chosen = [s for s in self.left if wanted(s)]
        self.left = [s for s in self.left if s not in chosen]
        return chosen

    def html(self, stems: list[str], *, wide: bool = False) -> str:
        return figures_html(self.folder, stems, wide=stems if wide else ())


def _table_section(folder: Path, name: str, *, fit: bool = False, collapse: bool | None = None,
                   group_by: str | None = None) -> str:
    table, n_rows, n_ties = table_html(name, folder / f"{name}.md", fit=fit, group_by=group_by,
                                       drop_ties=name.startswith("comparison"))
    ties = (f"; {n_ties} more rows, where the two models score every query alike (Δ = 0.000 [0.000, 0.000]), are "
            f"left out here and kept in {name}.md / .csv") if n_ties else ""
    if collapse if collapse is not None else n_rows > LONG_TABLE:
        return details(f"the table ({n_rows} rows{ties})", table)
    return table + (f'<p class="legend">{html.escape(ties.removeprefix("; ").capitalize())}.</p>' if ties else "")


def _sections(folder: Path, names: list[str], figures: _Figures) -> list[str]:
    """The page's body between the answer and the notes: each table with the figures that back it."""
    out = []

    def section(name: str, title: str, body: str) -> None:
        out.append(f'<h2 id="h-{html.escape(name)}">{html.escape(title)}</h2>{body}')

    if "decisions" in names:
        # the primary rows on the first screen; the secondary ones (nominal, each on its own) folded under them
        primary, _, _ = table_html("decisions", folder / "decisions.md", fit=True, group_by="endpoint",
                                   keep=lambda row: row.get("endpoint") == "primary")
        secondary, n_secondary, _ = table_html("decisions", folder / "decisions.md", fit=True, group_by="endpoint",
                                               keep=lambda row: row.get("endpoint") != "primary",
                                               table_id="decisions-secondary")
        folded = details(f"secondary decisions ({n_secondary} rows; nominal: each on its own, uncorrected)",
                         secondary) if n_secondary else ""
        section("decisions", _title("decisions"), primary + folded
                + f'<p class="legend">{_RULE}</p>' + figures.html(figures.take(lambda s: s.startswith("forest_")),
                                                                  wide=True))
    sweep = figures.take(lambda s: s.startswith("alpha_sweep_"))
    if sweep:
        section("alpha-sweep", "The α sweep: each α − mono, paired (exploratory, not a pre-declared decision)",
                figures.html(sweep))
    out.append(_MARKS)
    for name in names:
        if name == "decisions":
            continue
        if name == "table1_map":
            heatmaps = figures.take(lambda s: s.startswith("heatmap_"))
            body = _table_section(folder, name) + (details(f"mAP per language pair: {len(heatmaps)} heatmaps",
                                                           figures.html(heatmaps)) if heatmaps else "")
        elif name == "table2_language_bias":
            body = _table_section(folder, name) + figures.html(figures.take(lambda s: s.startswith("language_bias_")))
        elif name.startswith("per_language_"):
            task = name.removeprefix("per_language_")
            body = figures.html(figures.take(lambda s, t=task: s.startswith(f"{t}_"))) +                 _table_section(folder, name, collapse=True)
        elif name == "comparison":
            diffs = figures.take(lambda s: s.startswith("diff_map_"))
            body = _table_section(folder, name) + (details(f"differences per language pair: {len(diffs)} heatmaps",
                                                           figures.html(diffs)) if diffs else "")
        else:
            body = _table_section(folder, name, collapse=True if name == "comparison_per_language" else None)
        section(name, _title(name), body)
    if figures.left:
        section("other-figures", "Other figures", details(f"{len(figures.left)} figures", figures.html(figures.left)))
    return out


def _how_made(preamble: str, meta: dict[str, Any]) -> str:
    """The end of the page: how the board was made (collapsed timings and sub-sections) and its provenance."""
    prose, timing_tables, subsections = split_preamble(preamble)
    parts = ['<h2 id="h-how-made">How this leaderboard was made</h2>', markdown(prose) if prose.strip() else ""]
    parts += [details("Stage wall times" if "wall time" in t.splitlines()[0] else "Table",
                      markdown(t).replace("<table>", '<table class="kv">', 1)) for t in timing_tables]
    parts += [details(title, markdown(body)) for title, body in subsections
              if not (title == "Submission check" and meta.get("submission_check"))]  # shown under provenance
    parts += ['<h2 id="h-provenance">Provenance</h2>',
              details("Inputs, options, package versions and the submission check (meta.json)",
                      provenance_html(meta))]
    return "".join(parts)


def _table_order(folder: Path) -> list[str]:
    """The folder's tables in page order: the decisions (without them, the comparisons), then the per-language
    tables of the datasets the decisions name (primary first), then :data:`_ORDER`'s, then any other."""
    present = sorted(p.stem for p in folder.glob("*.md") if p.stem != "README")
    decided = folder / "decisions.csv"
    datasets = list(dict.fromkeys(pd.read_csv(decided)["dataset"])) if decided.is_file() else []
    per_language = sorted((n for n in present if n.startswith("per_language_")),
                          key=lambda n: (datasets.index(dataset_name(n.removeprefix("per_language_")))
                                         if dataset_name(n.removeprefix("per_language_")) in datasets
                                         else len(datasets), n))
    # without decisions the paired comparisons are the board's claims: they come first
    first = ("decisions",) if datasets else ("comparison",)
    names = [n for n in (*first, *per_language, *_ORDER) if n in present]
    return list(dict.fromkeys(names + present))


def render_index(folder: str | Path) -> str:
    """The ``index.html`` of a written leaderboard folder, from its files only."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8")) if (folder / "meta.json").is_file() else {}
    title, preamble = _preamble(folder / "README.md")
    names = _table_order(folder)
    notes = meta.get("notes") or []
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>", answer_html(folder),
        *_sections(folder, names, _Figures(folder)),
        "<h2 id=\"h-notes\">Notes</h2>" + ("<ul>" + "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
                                           + "</ul>" if notes else "<p>None.</p>"),
        _how_made(preamble, meta),
        f'<p class="legend">Generated by <code>hybrid_bench.leaderboard.page</code> from the files of '
        f"<code>{html.escape(folder.name)}/</code>.</p>",
        "</body></html>", ""])


def write_index(folder: str | Path) -> Path:
    """(Re)write ``folder/index.html`` from the folder's files (atomically)."""
    path = Path(folder) / INDEX
    atomic_write_text(path, render_index(folder), overwrite=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hybrid_bench.leaderboard.page",
        description="Regenerate the self-contained index.html of written leaderboard folders from their files.",
        epilog="example:\n  python -m hybrid_bench.leaderboard.page leaderboards/reproduce-full leaderboards/reproduce-quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folders", nargs="+", type=Path, help="leaderboard folders (with meta.json)")
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not (folder / "meta.json").is_file():
            parser.error(f"{folder}: not a leaderboard folder (no meta.json)")
        print(f"wrote {write_index(folder)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
