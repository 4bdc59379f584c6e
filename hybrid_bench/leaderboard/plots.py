"""Leaderboard figures (matplotlib, PNG): X→Y heatmaps, difference heatmaps, language-bias and per-language dot
plots, the α sweep as paired differences to mono, and the forest plot of the decisions.

Figures are built with the object-oriented :class:`matplotlib.figure.Figure` API (no ``pyplot`` state, no GUI
backend), so they can be made from worker threads and in headless CI.

Example:
    >>> from hybrid_bench.leaderboard import plots, results
    >>> scores = results.load_results("results/")  # doctest: +SKIP
    >>> fig = plots.plot_pair_heatmap(scores, "XQuADRRetrieval", "hybrid-me5-small")  # doctest: +SKIP
    >>> plots.save_figure(fig, "xquad_hybrid.png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hybrid_bench.leaderboard.results import parse_pair_subset
from hybrid_bench.leaderboard.tables import dataset_name, metric_name, pair_matrix

#: 110 dpi: an 11 × 11 heatmap stays legible (≈ 930 px wide) and a 16-model page with its 44 figures embedded stays
#: under 2 MiB (at 130 dpi it was 2.3 MB)
_DPI = 110


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG to ``path`` (parent folders are created), as an optimised 256-colour palette image.

    A leaderboard's page embeds every figure (:mod:`hybrid_bench.leaderboard.page`), and its folder is committed:
    the palette (Pillow's median-cut quantisation, no dithering: flat chart colours and anti-aliased text survive
    it) makes a heatmap about a third of its 24-bit size.
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=_DPI, format="png", bbox_inches="tight")
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    palette.save(path, format="PNG", optimize=True)
    return path


def _heatmap(
    matrix: pd.DataFrame, *, title: str, cbar_label: str, norm: colors.Normalize, cmap: str,
    fmt: str, marks: pd.DataFrame | None = None, footnote: str | None = None,
) -> Figure:
    n_rows, n_cols = matrix.shape
    fig = Figure(figsize=(1.6 + 0.62 * n_cols, 1.4 + 0.52 * n_rows), layout="constrained")
    ax = fig.add_subplot()
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(n_cols), labels=list(matrix.columns))
    ax.set_yticks(range(n_rows), labels=list(matrix.index))
    ax.set_xlabel("candidate language Y")
    ax.set_ylabel("query language X")
    ax.set_title(title, fontsize=10)
    ax.tick_params(length=0, labelsize=8)
    colormap = image.get_cmap()
    for i in range(n_rows):
        for j in range(n_cols):
            value = values[i, j]
            if not np.isfinite(value):
                continue
            red, green, blue, _ = colormap(norm(value))
            # dark text on light cells and vice versa (relative luminance)
            color = "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5 else "white"
            text = format(value, fmt)
            if marks is not None and bool(marks.iloc[i, j]):
                text += "*"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    for k in range(min(n_rows, n_cols)):  # outline the monolingual diagonal
        ax.add_patch(_square(k))
    fig.colorbar(image, ax=ax, label=cbar_label, shrink=0.85)
    if footnote:
        fig.text(0.01, -0.01, footnote, fontsize=7, ha="left", va="top")
    return fig


def _square(k: int):  # noqa: ANN202 - matplotlib patch
    from matplotlib.patches import Rectangle

    return Rectangle((k - 0.5, k - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=0.8)


def plot_pair_heatmap(
    results: pd.DataFrame, task: str, label: str, *, metric: str = "map",
    vmin: float | None = None, vmax: float | None = None, caption: str | None = None,
) -> Figure:
    """X→Y heatmap of one model: ``metric`` for queries in X against candidates in Y (diagonal = mono).
    ``caption`` names what is drawn (default ``label``; e.g. an arm's mean over its seeds)."""
    matrix = pair_matrix(results, task, label, metric)
    if matrix.empty:
        raise ValueError(f"no {metric} scores of {label!r} on pair subsets of {task!r}")
    values = matrix.to_numpy(dtype=float)
    norm = colors.Normalize(vmin=np.nanmin(values) if vmin is None else vmin,
                            vmax=np.nanmax(values) if vmax is None else vmax)
    return _heatmap(matrix, title=f"{dataset_name(task)}: {metric_name(metric)} X→Y\n{caption or label}",
                    cbar_label=metric_name(metric), norm=norm, cmap="viridis", fmt=".2f")


def plot_diff_heatmap(
    results: pd.DataFrame, task: str, model: str, baseline: str, *, metric: str = "map",
    per_group: pd.DataFrame | None = None, confidence: float = 0.95, n_seeds: int = 1,
) -> Figure:
    """Heatmap of ``model − baseline`` per X→Y pair (blue: model better for higher-is-better metrics).

    ``per_group``: the ``per_group`` frame of :func:`~hybrid_bench.leaderboard.stats.macro_paired_bootstrap` over
    the pair subsets; cells whose interval excludes 0 get a ``*``. ``n_seeds``: the difference is a mean over that
    many seed-by-seed differences (``results`` holds the arms' seed means) and the interval is over seeds too.
    """
    diff = pair_matrix(results, task, model, metric) - pair_matrix(results, task, baseline, metric)
    if diff.empty or not np.isfinite(diff.to_numpy(dtype=float)).any():
        raise ValueError(f"{model!r} and {baseline!r} share no {metric} pair subsets on {task!r}")
    limit = float(np.nanmax(np.abs(diff.to_numpy(dtype=float)))) or 1e-6
    norm = colors.TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    marks = None
    footnote = "no CI: per-query results missing (run with --prediction-folder)"
    if per_group is not None and not per_group.empty:
        marks = pd.DataFrame(False, index=diff.index, columns=diff.columns)
        for group, low, high in per_group[["group", "ci_low", "ci_high"]].itertuples(index=False):
            parsed = parse_pair_subset(str(group))
            if parsed and parsed[0] in marks.index and parsed[1] in marks.columns:
                marks.loc[parsed[0], parsed[1]] = bool(low > 0 or high < 0)
        footnote = (f"* paired bootstrap {confidence:.0%} CI over queries excludes 0" if n_seeds == 1 else
                    f"* hierarchical bootstrap {confidence:.0%} CI over {n_seeds} seeds and queries excludes 0")
    # model names are long: one line for what is plotted, one for who minus whom, so the title fits the axes
    seeds = f" (mean of {n_seeds} seeds)" if n_seeds > 1 else ""
    return _heatmap(diff, title=f"{dataset_name(task)}: Δ {metric_name(metric)}\n{model} − {baseline}{seeds}",
                    cbar_label=f"Δ {metric_name(metric)}", norm=norm, cmap="RdBu", fmt="+.3f", marks=marks,
                    footnote=footnote)


def _dot_rows(
    ax, groups: Sequence[str], series: dict[str, Sequence[float]],  # noqa: ANN001 - matplotlib Axes
    errors: dict[str, np.ndarray] | None = None,
) -> None:
    """One row per group (top to bottom), one marker per series with its horizontal error bar, dodged vertically.

    A dot plot rather than grouped bars: 6 models × 18 languages as bars is a figure 30 inches wide that a page
    can only show shrunk to illegibility; as rows it is a readable column (Cleveland & McGill 1984, JASA 79(387):
    position on a common scale is read more accurately than bar length).
    """
    n = max(len(series), 1)
    step = 0.8 / n
    y = np.arange(len(groups))[::-1].astype(float)
    for k, (label, values) in enumerate(series.items()):
        xerr = errors.get(label) if errors else None
        ax.errorbar(values, y + 0.4 - step * (k + 0.5), xerr=xerr, fmt="o", markersize=3.5, label=label,
                    capsize=1.5 if xerr is not None else 0, elinewidth=0.8)
    ax.set_yticks(y, labels=list(groups))
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.grid(axis="x", linewidth=0.4, alpha=0.6)
    for boundary in y[:-1] - 0.5:
        ax.axhline(boundary, color="#e5e5e5", linewidth=0.5, zorder=0)
    ax.set_axisbelow(True)
    per_row = max(1, min(n, 3, int(75 // max(len(str(label)) for label in series)) if series else 1))
    ax.figure.legend(fontsize=8, ncols=per_row, loc="outside lower center", frameon=False)


def _rows_figure(n_groups: int, n_series: int) -> Figure:
    """A figure sized for :func:`_dot_rows`: 6.2 in (≈ 680 px) wide, shown unscaled two to a row of the page."""
    height = 1.9 + n_groups * max(0.22, 0.07 * n_series) + 0.18 * -(-n_series // 3)
    return Figure(figsize=(6.2, height), layout="constrained")


def _ci_errors(table: pd.DataFrame, order: Sequence[str], cis: dict[str, pd.DataFrame] | None) -> dict[str, np.ndarray]:
    """Asymmetric error bars (2 x n) per model from :func:`~hybrid_bench.leaderboard.stats.bootstrap_mean_ci`
    frames, aligned to ``table``'s rows (groups without an interval get no bar)."""
    errors: dict[str, np.ndarray] = {}
    for label in order:
        ci = (cis or {}).get(label)
        if ci is None:
            continue
        ci = ci.set_index("group").reindex(table.index)
        centre = table[label].to_numpy()
        errors[label] = np.nan_to_num(np.vstack([np.clip(centre - ci["ci_low"].to_numpy(), 0, None),
                                                 np.clip(ci["ci_high"].to_numpy() - centre, 0, None)]))
    return errors


def _ci_note(errors: dict[str, np.ndarray], confidence: float) -> str:
    return (f"error bars: {confidence:.0%} bootstrap CI over queries" if errors
            else "no CI: per-query results missing (run with --prediction-folder)")


def plot_language_bias(
    results: pd.DataFrame, task: str, labels: Sequence[str], *,
    cis: dict[str, pd.DataFrame] | None = None, confidence: float = 0.95,
) -> Figure:
    """Per-query-language language bias (mean rank distance in the multilingual pool; lower is better).

    ``cis``: per model label, a :func:`~hybrid_bench.leaderboard.stats.bootstrap_mean_ci` frame whose groups are
    query languages (the subset without ``-pool``); models without one are drawn without error bars.
    """
    rows = results[(results["task"] == task) & (results["metric"] == "language_bias")
                   & results["subset"].str.endswith("-pool") & results["label"].isin(labels)]
    if rows.empty:
        raise ValueError(f"no language_bias scores on {task!r}")
    table = rows.assign(lang=rows["subset"].str.removesuffix("-pool")).pivot_table(
        index="lang", columns="label", values="value", aggfunc="mean")
    order = [lb for lb in labels if lb in table.columns]
    errors = _ci_errors(table, order, cis)
    fig = _rows_figure(len(table), len(order))
    ax = fig.add_subplot()
    _dot_rows(ax, list(table.index), {lb: table[lb].to_numpy() for lb in order}, errors)
    ax.set_ylabel("query language")
    ax.set_xlabel("mean rank distance (lower is better)")
    ax.set_title(f"{dataset_name(task)}: language bias in the multilingual pool\n{_ci_note(errors, confidence)}",
                 fontsize=10)
    return fig


def plot_subset_bars(
    results: pd.DataFrame, task: str, labels: Sequence[str], *, metric: str = "ndcg_at_10",
    cis: dict[str, pd.DataFrame] | None = None, confidence: float = 0.95,
) -> Figure:
    """Per-language bars of ``metric`` (e.g. MIRACL nDCG@10) with CI error bars where per-query data exist.

    ``cis``: per model label, the frame of :func:`~hybrid_bench.leaderboard.stats.bootstrap_mean_ci`
    (``group``, ``mean``, ``ci_low``, ``ci_high``); models without one are drawn without error bars.
    """
    rows = results[(results["task"] == task) & (results["metric"] == metric) & results["label"].isin(labels)]
    if rows.empty:
        raise ValueError(f"no {metric} scores on {task!r}")
    table = rows.pivot_table(index="subset", columns="label", values="value", aggfunc="mean").dropna()
    table.loc["mean"] = table.mean()
    order = [lb for lb in labels if lb in table.columns]
    errors = _ci_errors(table, order, cis)
    fig = _rows_figure(len(table), len(order))
    ax = fig.add_subplot()
    _dot_rows(ax, list(table.index), {lb: table[lb].to_numpy() for lb in order}, errors)
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")  # separates the mean (bottom row) from languages
    ax.set_ylabel("language")
    ax.set_xlabel(metric_name(metric))
    ax.set_title(f"{dataset_name(task)}: {metric_name(metric)} per language\n{_ci_note(errors, confidence)}",
                 fontsize=10)
    return fig


def plot_alpha_sweep(points: pd.DataFrame, *, title: str, ylabel: str, confidence: float = 0.95,
                     reference: pd.DataFrame | None = None, margin: float | None = None) -> Figure:
    """Paired differences to the monolingual specialist against α, the probability of a monolingual batch
    (arXiv 2408.10536's figure, drawn as differences): one line per ``series`` (e.g. mono / cross / multi).

    Args:
        points: ``series``, ``alpha``, ``diff`` (arm − mono, the mean of the seed-by-seed differences),
            ``ci_low``, ``ci_high`` (its hierarchical-bootstrap interval; NaN: no bar) and ``n_seeds``. α = 1 is
            mono itself (Δ = 0 by definition), α = 0 the cross-lingual specialist.
        reference: ``series``, ``diff`` of the untrained base − mono, drawn as a dashed line per series.
        margin: the equivalence margin δ of the decisions, shaded around 0.
    """
    if points.empty:
        raise ValueError("no points to plot against alpha")
    fig = Figure(figsize=(6.2, 4.4), layout="constrained")
    ax = fig.add_subplot()
    if margin:
        ax.axhspan(-margin, margin, color="#e8e8e8", zorder=0, label=f"±δ = {margin:g} (equivalence margin)")
    ax.axhline(0.0, color="black", linewidth=0.8)
    names = list(dict.fromkeys(points["series"]))
    dodge = 0.012 * (np.arange(len(names)) - (len(names) - 1) / 2)
    for k, (series, rows) in enumerate((s, points[points["series"] == s].sort_values("alpha")) for s in names):
        centre = rows["diff"].to_numpy(dtype=float)
        err = np.nan_to_num(np.vstack([np.clip(centre - rows["ci_low"].to_numpy(dtype=float), 0, None),
                                       np.clip(rows["ci_high"].to_numpy(dtype=float) - centre, 0, None)]))
        line = ax.errorbar(rows["alpha"].to_numpy(dtype=float) + dodge[k], centre, yerr=err, marker="o",
                           markersize=4, capsize=3, label=f"{series}")
        base = reference[reference["series"] == series] if reference is not None else None
        if base is not None and len(base):
            ax.axhline(float(base["diff"].iloc[0]), color=line.lines[0].get_color(), linestyle="--", linewidth=1,
                       label=f"{series}: untrained base")
    ax.set_xticks(sorted(points["alpha"].unique()))
    ax.set_xlabel("α = P(monolingual batch)   (0: cross-lingual, 1: monolingual)")
    ax.set_ylabel(f"Δ {ylabel} vs mono (α = 1)")
    seeds = int(points["n_seeds"].max())
    ax.set_title(f"{title}\npaired differences to mono, error bars: {confidence:.0%} bootstrap CI over {seeds} "
                 "seed(s) and queries", fontsize=10)
    ax.grid(axis="y", linewidth=0.4, alpha=0.6)
    fig.legend(fontsize=7, frameon=False, ncols=2, loc="outside lower center")
    return fig


#: colour of each decision of :mod:`hybrid_bench.leaderboard.decisions` in the forest plot
DECISION_COLOURS = {"equivalent": "#1f6feb", "better beyond δ": "#1a7f37", "worse beyond δ": "#cf222e",
                    "inconclusive": "#6e7781"}


def plot_forest(decided: pd.DataFrame) -> Figure:
    """A forest plot of the decision table: per comparison its Δ, 90 % interval (thick, the TOST interval) and 95 %
    interval (thin) against the ±δ equivalence zone, coloured by its decision; primary rows first.

    ``decided``: the rows of :func:`hybrid_bench.leaderboard.decisions.decision_table` (``endpoint``, ``dataset``,
    ``cell``, ``metric``, ``model``, ``baseline``, ``diff``, ``ci90_low``, ``ci90_high``, ``ci_low``,
    ``ci_high``, ``margin``, ``relevance_decision``: the TOST family's decision). Δ is drawn as stored (model − baseline), so on a lower-is-better
    metric (marked ↓) a positive Δ is a loss; the colour reads the same way on every row.
    """
    if decided.empty:
        raise ValueError("no decisions to plot")
    n = len(decided)
    fig = Figure(figsize=(11.0, 1.5 + 0.34 * n), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)[::-1].astype(float)
    margins = sorted(set(decided["margin"].astype(float)))
    for margin in margins[:1]:
        ax.axvspan(-margin, margin, color="#eef1f4", zorder=0)
    ax.axvline(0.0, color="black", linewidth=0.8)
    labels = []
    for pos, row in zip(y, decided.itertuples(index=False)):
        decision = str(getattr(row, "relevance_decision", getattr(row, "decision", "")))
        colour = DECISION_COLOURS.get(decision, "#6e7781")
        ax.plot([row.ci_low, row.ci_high], [pos, pos], color=colour, linewidth=1.2)
        ax.plot([row.ci90_low, row.ci90_high], [pos, pos], color=colour, linewidth=4.5, solid_capstyle="butt")
        ax.plot([row.diff], [pos], "o", color="white", markeredgecolor=colour, markersize=5)
        ax.annotate(decision, (1.005, pos), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                    color=colour, fontweight="bold")
        labels.append(f"{row.endpoint}: {row.dataset} {row.cell} · {metric_name(str(row.metric))}\n"
                      f"{row.model} − {row.baseline}")
    primary = int((decided["endpoint"] == "primary").sum())
    if 0 < primary < n:
        ax.axhline(y[primary - 1] - 0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_yticks(y, labels=labels, fontsize=7.5)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Δ = model − baseline (dot); thick: 90 % CI (the equivalence test's), thin: 95 % CI; "
                  f"grey band: ±δ = {margins[0]:g}")
    ax.grid(axis="x", linewidth=0.4, alpha=0.6)
    ax.set_title("Pre-declared comparisons: primary endpoint above the dotted line, secondary below", fontsize=10)
    return fig
