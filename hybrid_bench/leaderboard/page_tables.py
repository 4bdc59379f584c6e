"""The tables of a leaderboard's page: a folder's ``<name>.md`` pipe tables as HTML, best values and intervals marked.

Exactly the digits of the Markdown / CSV files are shown. Score tables mark the **best value per column**
(highest, or lowest for language bias and foreign intrusion; tables whose rows are languages mark the best model per
row and metric); comparison tables show the confidence interval of every difference, significant ones highlighted,
missing intervals as a ``no CI`` badge; the decision table colours each decision. Text cells may wrap and numbers
may not, so a table as wide as the decision table fits a 1,400 px window without a scrollbar.

Example:
    >>> header, rows = ["model", "map"], [["a", "0.5"], ["b", "0.7"]]
    >>> sorted(best_cells("table1_map", header, rows))
    [(1, 1)]
    >>> _no_difference("+0.000 [-0.000, +0.000]"), _no_difference("+0.000 [-0.001, +0.001]")
    (True, False)
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["best_cells", "read_markdown_table", "table_html"]

_LOWER_IS_BETTER = re.compile(r"bias|intrusion|rank distance", re.I)
# a number, with the marks of non-official data and the coverage mark of hybrid_bench.leaderboard.coverage
_NUMBER = re.compile(r"^(?P<value>[+-]?\d+(\.\d+)?)(?P<coverage> \([^)]*\))?[†‡§]*$")
_CI = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*\[([+-]?\d+(?:\.\d+)?),\s*([+-]?\d+(?:\.\d+)?)\]$")
#: a cell that must not wrap: numbers, intervals, p-values, "0.814 ± 0.005", "±0.01", "0.006 (3)"
_NUMERIC = re.compile(r"^[\s\d.,+\-−±<>\[\]()%†‡§–]*$|^[+-]?\d")
_NOT_DATA = ("n_queries", "n", "p", "q (BH)", "model", "baseline", "data")
DECISIONS = ("equivalent", "better", "worse", "inconclusive")


def read_markdown_table(path: Path) -> tuple[list[str], list[list[str]]]:
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


def best_cells(name: str, header: list[str], rows: list[list[str]]) -> set[tuple[int, int]]:
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


def _cell(text: str, *, best: bool, ci_column: bool = False, decision_column: bool = False,
          fit: bool = False) -> str:
    """One ``<td>``; in a ``fit`` table numbers are marked ``num`` (they keep from wrapping; elsewhere nothing wraps,
    and the mark on every cell of a table of thousands of rows would cost hundreds of kB of page)."""
    if decision_column and text in DECISIONS:
        return f'<td class="decision d-{text}">{html.escape(text)}</td>'
    if "no CI" in text:
        return f'<td><span class="noci">{html.escape(text)}</span></td>'
    match = _CI.match(text)
    num = "num " if fit else ""
    if ci_column and not match and text not in ("", "–"):  # a difference without its interval
        opening = '<td class="num">' if fit else "<td>"
        return f'{opening}{html.escape(text)} <span class="noci">no CI</span></td>'
    if match:
        low, high = float(match.group(2)), float(match.group(3))
        significant = low > 0 or high < 0
        body = f'{html.escape(match.group(1))} <span class="ci">[{html.escape(match.group(2))}, ' \
               f'{html.escape(match.group(3))}]</span>'
        classes = (num + ("sig" if significant else "")).strip()
        return f'<td class="{classes}">{body}</td>' if classes else f"<td>{body}</td>"
    classes = " ".join(c for c, on in (("num", fit and bool(_NUMERIC.match(text))), ("best", best)) if on)
    return f'<td class="{classes}">{html.escape(text)}</td>' if classes else f"<td>{html.escape(text)}</td>"


def _no_difference(text: str) -> bool:
    """``text`` is a difference of exactly 0 with the interval [0, 0]: the two models scored every query alike."""
    match = _CI.match(text)
    return bool(match) and all(float(g) == 0.0 for g in match.groups())


#: the decision columns of a decision table (:mod:`hybrid_bench.leaderboard.decisions`): never folded into the caption
DECISION_HEADERS = ("decision", "superiority", "relevance")


def table_html(name: str, path: Path, *, fit: bool = False, group_by: str | None = None,
               drop_ties: bool = False, keep: Callable[[dict[str, str]], bool] | None = None,
               table_id: str | None = None) -> tuple[str, int, int]:
    """The HTML table of ``path`` (``id`` = ``name``), its number of rows shown and of rows left out.

    ``fit``: as wide as the page, text cells wrapping (no horizontal scrollbar), instead of a block that scrolls
    sideways when it is wider; a column with one value in every row is then stated once in the caption.
    ``group_by``: a column whose runs of equal values become header rows (e.g. the decisions' ``endpoint``).
    ``drop_ties``: leave out the rows whose difference is 0.000 [0.000, 0.000] (e.g. Recall@100 1.000 vs 1.000 on
    every query of a language); the caller says how many, and the files keep them.
    ``keep``: show only the rows for which it is true (given the row as ``{header: cell}``); ``table_id``: the
    table's ``id`` (default ``name``).
    """
    header, rows = read_markdown_table(path)
    if not header:
        return "", 0, 0
    ci_columns = [i for i, h in enumerate(header) if h.startswith("Δ [")]
    if keep is not None:
        rows = [row for row in rows if keep(dict(zip(header, row)))]
    n_all = len(rows)
    if drop_ties and ci_columns:
        rows = [row for row in rows if not all(_no_difference(row[i]) for i in ci_columns)]
    best = best_cells(name, header, rows)
    group = header.index(group_by) if group_by in header else None
    constant = [i for i in range(len(header))
                if fit and len(rows) > 1 and i != group and header[i] not in DECISION_HEADERS
                and len({row[i] for row in rows}) == 1]
    shown = [i for i in range(len(header)) if i not in constant and i != group]
    head = "".join(f"<th>{html.escape(header[i])}</th>" for i in shown)
    decision_columns = {i for i, h in enumerate(header) if h in DECISION_HEADERS}
    body, current = [], None
    for r, row in enumerate(rows):
        if group is not None and row[group] != current:
            current = row[group]
            body.append(f'<tr class="group"><th colspan="{len(shown)}">{html.escape(header[group])}: '
                        f"{html.escape(current)}</th></tr>")
        body.append("<tr>" + "".join(_cell(row[i], best=(r, i) in best, ci_column=i in ci_columns,
                                           decision_column=i in decision_columns, fit=fit) for i in shown)
                    + "</tr>")
    caption = "; ".join(f"{html.escape(header[i])} = {html.escape(rows[0][i])} in every row" for i in constant)
    kind = ' class="fit"' if fit else ""
    return (f'<table id="{html.escape(table_id or name)}"{kind}>' + (f"<caption>{caption}</caption>" if caption else "")
            + f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>', len(rows), n_all - len(rows))
