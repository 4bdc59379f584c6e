"""``index.html``: one self-contained page per leaderboard, made from the files of a written leaderboard folder.

The page needs no network access and no other file: styles are inline, the figures (``plots/*.png``) are embedded
as base64 data URIs, there is no script. It shows

* the leaderboard's preamble from its ``README.md`` (for ``hybrid-bench reproduce``: the command, machine, preset
  and stage times), rendered from Markdown;
* every table of the folder (``<name>.md``, exactly the digits of the Markdown / CSV files), with the **best value
  per column** marked in score tables (highest, or lowest for language bias and foreign intrusion; tables whose
  rows are languages mark the best model per row and metric) and, in comparison tables, the confidence interval
  of every difference, significant ones highlighted and missing intervals shown as a ``no CI`` badge;
* the notes, the figures, and the provenance from ``meta.json``: inputs, options and package versions.

:func:`write_index` (re)writes ``index.html`` from a folder's committed files only; ``Leaderboard.write`` calls it,
and ``python -m hybrid_bench.leaderboard.page leaderboards/NAME`` regenerates a committed leaderboard's page.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from hybrid_bench.io import atomic_write_text

__all__ = ["INDEX", "render_index", "write_index"]

INDEX = "index.html"
#: the tables in page order; any other ``<name>.md`` of the folder follows them
_ORDER = ("decisions", "table1_map", "table2_language_bias", "comparison", "comparison_per_language")
_TITLES = {
    "decisions": "Decisions on the pre-declared endpoints",
    "table1_map": "Table 1 — mAP (mono X→X, cross X→Y, multi X→pool)",
    "table2_language_bias": "Table 2 — language bias (rank distance; lower is better)",
    "comparison": "Hybrid vs specialised: paired differences with confidence intervals",
    "comparison_per_language": "Per-language differences",
}
_LOWER_IS_BETTER = re.compile(r"bias|intrusion|rank distance", re.I)
# a number, with the marks of non-official data and the coverage mark of hybrid_bench.leaderboard.coverage
_NUMBER = re.compile(r"^(?P<value>[+-]?\d+(\.\d+)?)(?P<coverage> \([^)]*\))?[†‡§]*$")
_CI = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*\[([+-]?\d+(?:\.\d+)?),\s*([+-]?\d+(?:\.\d+)?)\]$")
_NOT_DATA = ("n_queries", "n", "p", "q (BH)", "model", "baseline", "data")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1300px;padding:0 1rem;
color:#1b1f24;background:#fff;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.86rem;display:block;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f6f8fa;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
td.best{font-weight:700;background:#dafbe1}td.sig{background:#fff8c5}
.noci{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:#eaeef2;color:#57606a;font-size:.78rem}
.ci{color:#57606a}figure{display:inline-block;margin:.5rem;vertical-align:top;max-width:48%}
figure img{max-width:100%;border:1px solid #d0d7de}figcaption{font-size:.8rem;color:#57606a}
.legend{font-size:.85rem;color:#57606a}code,pre{background:#f6f8fa;border-radius:4px}pre{padding:.6rem;overflow-x:auto}
"""


def _read_markdown_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a pipe table written by ``DataFrame.to_markdown`` (cells stripped, as strings)."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    if len(cells) < 2:
        return [], []
    return cells[0], [row for row in cells[2:] if len(row) == len(cells[0])]


def _number(cell: str) -> float | None:
    match = _NUMBER.match(cell)
    return float(match["value"]) if match else None


def _coverage(cell: str) -> str:
    """The coverage mark of a number (``" (1/7)"``), ``""`` for a number over its whole task."""
    match = _NUMBER.match(cell)
    return (match["coverage"] or "") if match else ""


def _best_cells(name: str, header: list[str], rows: list[list[str]]) -> set[tuple[int, int]]:
    """(row, column) of the best value per column (rows are models) or per row and metric (rows are languages)."""
    if name.startswith("comparison") or name == "decisions" or not rows:
        return set()
    best: set[tuple[int, int]] = set()

    def pick(cells: list[tuple[int, int]], label: str) -> None:
        values = [(v, rc) for rc in cells if (v := _number(rows[rc[0]][rc[1]])) is not None]
        if len({_coverage(rows[r][c]) for _, (r, c) in values}) > 1:  # best only among numbers over the same data
            values = [(v, (r, c)) for v, (r, c) in values if not _coverage(rows[r][c])]
        if len(values) < 2:
            return
        target = (min if _LOWER_IS_BETTER.search(f"{name} {label}") else max)(v for v, _ in values)
        best.update(rc for v, rc in values if v == target)

    if header[0].lower() == "model":
        for col in range(1, len(header)):
            if header[col] not in _NOT_DATA:
                pick([(r, col) for r in range(len(rows))], header[col])
        return best
    groups: dict[str, list[int]] = {}
    for col, title in enumerate(header[1:], start=1):
        metric, sep, _model = title.partition(" / ")
        if sep:
            groups.setdefault(metric, []).append(col)
    for metric, cols in groups.items():
        for r in range(len(rows)):
            pick([(r, c) for c in cols], metric)
    return best


def _cell(text: str, *, best: bool, ci_column: bool = False) -> str:
    if "no CI" in text:
        return f'<td><span class="noci">{html.escape(text)}</span></td>'
    match = _CI.match(text)
    if ci_column and not match and text not in ("", "–"):  # a difference without its interval
        return f'<td>{html.escape(text)} <span class="noci">no CI</span></td>'
    if match:
        low, high = float(match.group(2)), float(match.group(3))
        significant = low > 0 or high < 0
        body = f'{html.escape(match.group(1))} <span class="ci">[{html.escape(match.group(2))}, ' \
               f'{html.escape(match.group(3))}]</span>'
        return f'<td class="sig">{body}</td>' if significant else f"<td>{body}</td>"
    return f'<td class="best">{html.escape(text)}</td>' if best else f"<td>{html.escape(text)}</td>"


def _table_html(name: str, path: Path) -> str:
    header, rows = _read_markdown_table(path)
    if not header:
        return ""
    best = _best_cells(name, header, rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    ci_columns = {i for i, h in enumerate(header) if h.startswith("Δ [")}
    body = "".join("<tr>" + "".join(_cell(c, best=(r, i) in best, ci_column=i in ci_columns)
                                    for i, c in enumerate(row)) + "</tr>"
                   for r, row in enumerate(rows))
    return f'<table id="{html.escape(name)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _title(name: str) -> str:
    if name in _TITLES:
        return _TITLES[name]
    if name.startswith("per_language_"):
        return f"{name.removeprefix('per_language_')} per language"
    return name.replace("_", " ")


def _preamble(readme: Path) -> tuple[str, str]:
    """Title and the Markdown before the tables of a leaderboard's README (its first line is the title)."""
    if not readme.is_file():
        return "Leaderboard", ""
    text = readme.read_text(encoding="utf-8")
    lines = text.splitlines()
    title = lines[0].lstrip("# ").replace("`", "").strip() if lines and lines[0].startswith("#") else "Leaderboard"
    body = "\n".join(lines[1:])
    cut = body.find("\nResults: `")
    return title, (body[:cut] if cut >= 0 else "")


def _markdown(text: str) -> str:
    import markdown

    return markdown.markdown(text, extensions=["tables", "fenced_code"])


def _figures(folder: Path) -> str:
    parts = []
    for png in sorted((folder / "plots").glob("*.png")):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(png.stem)}</figcaption></figure>")
    return "".join(parts)


def _provenance(meta: dict[str, Any]) -> str:
    versions = meta.get("versions") or {}
    if isinstance(versions, str):  # older meta.json files hold the dict's repr
        pairs = re.findall(r"'([^']+)': (?:'([^']*)'|None)", versions)
        versions = {k: v or None for k, v in pairs}
    options = {k: v for k, v in meta.items() if k not in ("versions", "notes", "submission_check")}
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
                   for k, v in options.items())
    vrows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                    for k, v in versions.items())
    check = meta.get("submission_check")
    return (f"<h3>Inputs and options</h3><table>{rows}</table><h3>Package versions</h3><table>{vrows}</table>"
            + (f"<h3>Submission check</h3><pre>{html.escape(str(check))}</pre>" if check else ""))


def render_index(folder: str | Path) -> str:
    """The ``index.html`` of a written leaderboard folder, from its files only."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8")) if (folder / "meta.json").is_file() else {}
    title, preamble = _preamble(folder / "README.md")
    names = [n for n in _ORDER if (folder / f"{n}.md").is_file()]
    names += sorted(p.stem for p in folder.glob("*.md") if p.stem not in names and p.stem not in ("README",))
    sections = [f'<h2 id="h-{html.escape(n)}">{html.escape(_title(n))}</h2>{_table_html(n, folder / f"{n}.md")}'
                for n in names]
    notes = meta.get("notes") or []
    figures = _figures(folder)
    legend = ('<p class="legend"><span class="best" style="font-weight:700;background:#dafbe1;padding:0 .3rem">'
              "bold green</span>: best per column (rows are models) or per row and metric (rows are languages); "
              "lower is better for language bias and foreign intrusion. "
              '<span style="background:#fff8c5;padding:0 .3rem">yellow</span>: the difference\'s confidence '
              'interval excludes 0. <span class="noci">no CI</span>: no per-query values, so no interval was '
              "computed (see the notes).</p>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>", _markdown(preamble) if preamble.strip() else "", legend,
        *sections,
        "<h2>Notes</h2>" + ("<ul>" + "".join(f"<li>{html.escape(str(n))}</li>" for n in notes) + "</ul>"
                            if notes else "<p>None.</p>"),
        f"<h2>Figures</h2>{figures}" if figures else "",
        "<h2>Provenance</h2>", _provenance(meta),
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
