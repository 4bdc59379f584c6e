"""Parts of a leaderboard's page other than its tables: the style, embedded figures, the run's preamble, provenance.

* :func:`figures_html` embeds ``plots/<stem>.png`` files as base64 data URIs in a two-column grid (a figure drawn
  6.2 in wide is shown about unscaled; ``wide`` ones span both columns);
* :func:`split_preamble` separates a README preamble's prose (the command, machine, preset) from its tables (stage
  wall times) and its sub-sections (the submission check), which the page shows collapsed at its end;
* :func:`provenance_html` shows ``meta.json`` as a two-column table whose long values wrap, not as one row
  thousands of pixels wide.

Example:
    >>> prose, tables, sections = split_preamble("Command: `x`\\n\\n| stage | s |\\n|---|---|\\n| a | 1 |\\n")
    >>> prose.strip(), tables[0].splitlines()[0]
    ('Command: `x`', '| stage | s |')
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CSS", "details", "figures_html", "markdown", "provenance_html", "split_preamble"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.2rem auto;max-width:1300px;padding:0 1rem;
color:#1b1f24;background:#fff;line-height:1.45}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;
padding-bottom:.3rem}h3{font-size:1rem}
.answer{font-size:1.05rem;background:#f6f8fa;border-left:4px solid #0969da;padding:.6rem .9rem;margin:.4rem 0 .8rem}
table{border-collapse:collapse;margin:.5rem 0 .9rem;font-size:.84rem;display:block;overflow-x:auto;max-width:100%}
table.fit{display:table;width:100%;overflow:visible;font-size:.8rem}table.fit td,table.fit th{white-space:normal;
padding:.18rem .35rem}table.fit td:not(.num),table.fit th{text-align:left}table.fit td.num{white-space:nowrap}
tr.group th{text-align:left;background:#eef1f4;position:static}caption{caption-side:top;text-align:left;
font-size:.8rem;color:#57606a;padding:.2rem 0}
th,td{border:1px solid #d0d7de;padding:.22rem .45rem;text-align:right;white-space:nowrap}
th{background:#f6f8fa;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
td.best{font-weight:700;background:#dafbe1}td.sig{background:#fff8c5}
td.decision{font-weight:700;text-align:left}.d-equivalent{color:#0550ae}.d-better{color:#1a7f37}
.d-worse{color:#cf222e}.d-inconclusive{color:#57606a}
.noci{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:#eaeef2;color:#57606a;font-size:.78rem}
.ci{color:#57606a}.figs{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:.8rem;margin:.6rem 0}
figure{margin:0}figure.wide{grid-column:1 / -1}figure img{max-width:100%;height:auto;border:1px solid #d0d7de}
figcaption{font-size:.78rem;color:#57606a}details{margin:.4rem 0}
summary{cursor:pointer;color:#0969da;font-size:.92rem}
.legend{font-size:.84rem;color:#57606a}code,pre{background:#f6f8fa;border-radius:4px}
pre{padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere}
table.kv{display:table;width:100%;table-layout:fixed}table.kv td{white-space:normal;overflow-wrap:anywhere;
text-align:left}table.kv td:first-child{width:14rem}
"""


def markdown(text: str) -> str:
    """Markdown (tables, fenced code) as HTML."""
    import markdown as md

    return md.markdown(text, extensions=["tables", "fenced_code"])


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """``body`` collapsed under a one-line ``summary`` (HTML ``<details>``; shown without any script)."""
    return f"<details{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>{body}</details>"


def figures_html(folder: Path, stems: Sequence[str], *, wide: Sequence[str] = ()) -> str:
    """The figures ``plots/<stem>.png`` of ``folder`` (in ``stems`` order; missing ones skipped), embedded."""
    parts = []
    for stem in stems:
        png = folder / "plots" / f"{stem}.png"
        if not png.is_file():
            continue
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        kind = ' class="wide"' if stem in wide else ""
        parts.append(f'<figure{kind}><img alt="{html.escape(stem)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(stem)}</figcaption></figure>")
    return f'<div class="figs">{"".join(parts)}</div>' if parts else ""


def split_preamble(text: str) -> tuple[str, list[str], list[tuple[str, str]]]:
    """A README preamble as (prose, its pipe tables, its ``## title`` sub-sections as (title, Markdown))."""
    head, *rest = re.split(r"^## ", text, flags=re.M)
    sections = [(part.splitlines()[0].strip(), "\n".join(part.splitlines()[1:])) for part in rest if part.strip()]
    blocks = re.split(r"\n\s*\n", head)
    tables = [b.strip() for b in blocks if b.strip().startswith("|")]
    prose = "\n\n".join(b for b in blocks if b.strip() and not b.strip().startswith("|"))
    return prose, tables, sections


def _versions(meta: dict[str, Any]) -> dict[str, Any]:
    versions = meta.get("versions") or {}
    if isinstance(versions, str):  # older meta.json files hold the dict's repr
        pairs = re.findall(r"'([^']+)': (?:'([^']*)'|None)", versions)
        versions = {k: v or None for k, v in pairs}
    return versions


def _value(value: object) -> str:
    """A ``meta.json`` value for a table cell: lists and mappings one item a line, the rest as JSON."""
    if isinstance(value, dict):
        return "<br>".join(f"{html.escape(str(k))}: {html.escape(json.dumps(v, default=str))}"
                           for k, v in value.items())
    if isinstance(value, list):
        return "<br>".join(html.escape(json.dumps(v, default=str)) for v in value)
    return html.escape(json.dumps(value, default=str))


def provenance_html(meta: dict[str, Any]) -> str:
    """Inputs and options, package versions and the submission check of ``meta.json``, as wrapped tables."""
    options = {k: v for k, v in meta.items() if k not in ("versions", "notes", "submission_check")}
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_value(v)}</td></tr>" for k, v in options.items())
    versions = _versions(meta)
    vrows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                    for k, v in versions.items())
    check = meta.get("submission_check")
    return (f'<h3>Inputs and options</h3><table class="kv">{rows}</table>'
            f'<h3>Package versions</h3><table class="kv">{vrows}</table>'
            + (f"<h3>Submission check</h3><pre>{html.escape(str(check))}</pre>" if check else ""))
