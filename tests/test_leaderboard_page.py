"""The leaderboard's self-contained index.html: content from the folder's files, a real browser renders it without
console errors, and it reads the way a reader reads — the answer and the decisions on the first screen, the rest
collapsed (headless Chromium through the DevTools protocol)."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from headless_chromium import chromium_binary, open_page
from leaderboard_synthetic import build_seeded_results, build_synthetic_results, synthetic_clusters
from matplotlib import image

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.build import build_leaderboard
from hybrid_bench.leaderboard.page import INDEX, render_index

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(p.parent for p in (ROOT / "leaderboards").glob("*/meta.json"))
needs_chromium = pytest.mark.skipif(
    chromium_binary() is None,
    reason="no chromium binary: scripts/test.sh installs it with `apt-get install -y chromium` where apt and root "
           "are available; install it by hand elsewhere")


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two written leaderboards: one with per-query values (intervals), one without (``no CI``)."""
    out = {}
    for name, with_per_query in (("ci", True), ("no-ci", False)):
        root = tmp_path_factory.mktemp(name)
        qrels = build_synthetic_results(root, with_per_query=with_per_query)
        board = build_leaderboard(root, n_resamples=500, progress=False, cluster_loader=synthetic_clusters,
                                  qrels_loader=(lambda task, subsets, q=qrels: q) if with_per_query else None)
        out[name] = board.write(root / "board")
    # three training seeds per arm and the untrained base: decisions, a forest plot, an α sweep
    root = tmp_path_factory.mktemp("seeded")
    qrels = build_seeded_results(root)
    board = build_leaderboard(root, n_resamples=500, progress=False, cluster_loader=synthetic_clusters,
                              qrels_loader=lambda task, subsets, q=qrels: q)
    out["seeded"] = board.write(root / "board")
    return out


def _self_contained(page: str) -> None:
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


def test_page_written_with_the_leaderboard(boards: dict[str, Path]) -> None:
    folder = boards["ci"]
    page = (folder / INDEX).read_text(encoding="utf-8")
    _self_contained(page)
    assert page == render_index(folder)  # made from the folder's files alone
    assert page.count("<img") == len(list((folder / "plots").glob("*.png"))) > 0
    # every table of the folder is on the page, best values marked, intervals shown and highlighted
    for md in folder.glob("*.md"):
        if md.stem != "README":
            assert f'id="{md.stem}"' in page, md.stem
    table1 = re.search(r'<table id="table1_map">.*?</table>', page, re.S).group(0)
    assert table1.count('class="best"') >= 1
    assert re.search(r'class="sig">[+-]\d\.\d+ <span class="ci">\[', page)
    assert "hybrid-bench" in page and "Package versions" in page and "mteb" in page


def test_best_is_the_highest_mAP_and_the_lowest_bias(boards: dict[str, Path]) -> None:
    page = (boards["ci"] / INDEX).read_text(encoding="utf-8")
    for table, pick in (("table1_map", max), ("table2_language_bias", min)):
        body = re.search(rf'<table id="{table}">.*?</table>', page, re.S).group(0)
        rows = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]
        rows = [r for r in rows if r]
        marked = [m.split(" (")[0] for m in re.findall(r'<td class="best">([^<]*)</td>', body)]
        for col in range(1, len(rows[0]) - 1):  # the last column names the data of the row
            assert rows[0][-1] == "official"
            values = [float(r[col].split(" (")[0]) for r in rows]  # past a coverage mark (k/n)
            assert f"{pick(values):.{len(rows[0][col].split(' (')[0].split('.')[1])}f}" in marked, (table, col)


def test_missing_intervals_say_no_ci(boards: dict[str, Path]) -> None:
    page = (boards["no-ci"] / INDEX).read_text(encoding="utf-8")
    comparison = re.search(r'<table id="comparison">.*?</table>', page, re.S).group(0)
    assert comparison.count('<span class="noci">') >= 2  # the Δ cell and the note of each row
    assert 'sig"' not in comparison and "no CI" in page.split('<h2 id="h-notes">Notes</h2>')[1]


@pytest.mark.parametrize("folder", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_pages_are_current(folder: Path) -> None:
    """Each committed leaderboard has its index.html, regenerated from its committed files only."""
    page = (folder / INDEX).read_text(encoding="utf-8")
    assert page == render_index(folder), f"regenerate: python -m hybrid_bench.leaderboard.page {folder}"
    _self_contained(page)
    assert len(page.encode()) < 2 * 1024 * 1024


def _not_blank(png: bytes) -> None:
    pixels = image.imread(io.BytesIO(png), format="png")[..., :3]
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    ink = (pixels.mean(axis=2) < 0.9).mean()
    assert ink > 0.01 and float(np.std(pixels)) > 0.05, f"screenshot looks blank (ink {ink:.4f})"


@needs_chromium
def test_chromium_detects_errors_and_blank_pages(tmp_path: Path) -> None:
    """The check below can fail: a console error, a missing resource and a blank page are all caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><script>console.error("boom")</script><img src="gone.png">'
                   "</body></html>", encoding="utf-8")
    report = open_page(bad, tmp_path / "profile")
    assert any("boom" in e for e in report.errors) and any("gone.png" in e for e in report.errors)
    with pytest.raises(AssertionError, match="blank"):
        _not_blank(report.screenshot)


@needs_chromium
@pytest.mark.parametrize("which", ["ci", "no-ci", "committed"])
def test_chromium_renders_the_page_without_errors(which: str, boards: dict[str, Path], tmp_path: Path) -> None:
    folder = (ROOT / "leaderboards" / "reproduce-full") if which == "committed" else boards[which]
    report = open_page(folder / INDEX, tmp_path / "profile")
    assert report.errors == []
    _not_blank(report.screenshot)


# ---- the page reads the way a reader reads: the answer first, made from the decision table ----------------------

def _answer(page: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(r'<p id="answer"[^>]*>(.*?)</p>', page, re.S).group(1))


def test_the_answer_is_made_from_the_decision_table(boards: dict[str, Path], tmp_path: Path) -> None:
    """Each primary comparison's decision, Δ and 90 % interval come from ``decisions.csv``; change the file and the
    sentence changes with it (nothing in it is written by hand)."""
    folder = boards["seeded"]
    decided = pd.read_csv(folder / "decisions.csv")
    primary = decided[decided["endpoint"] == "primary"]
    answer = _answer(render_index(folder))
    assert answer.startswith("On the primary endpoint (MIRACL mean nDCG@10, margin ±0.01, Holm over 2)")
    for row in primary.itertuples():
        diff, low, high = (f"{v:+.3f}".replace("-", "−") for v in (row.diff, row.ci90_low, row.ci90_high))
        assert (f"{row.model} − {row.baseline} is {row.relevance_decision} (relevance, TOST ±δ) and "
                f"{row.superiority_decision} (superiority), Δ {diff} [90 % CI {low}, {high}]") in answer
    # another table, another answer: a hybrid − mono that is equivalent, and one more secondary loss
    copy = tmp_path / "board"
    shutil.copytree(folder, copy)
    changed = decided.copy()
    first = changed.index[changed["endpoint"] == "primary"][0]
    changed.loc[first, ["diff", "ci90_low", "ci90_high", "relevance_decision"]] = [0.001, -0.004, 0.006, "equivalent"]
    secondary = changed.loc[[first]].assign(endpoint="secondary", relevance_decision="worse beyond δ")
    changed = pd.concat([changed, secondary, secondary], ignore_index=True)
    changed.to_csv(copy / "decisions.csv", index=False)
    answer = _answer(render_index(copy))
    assert f"{changed.loc[first, 'model']} − {changed.loc[first, 'baseline']} is equivalent (relevance, TOST ±δ)" in answer
    assert "Δ +0.001 [90 % CI −0.004, +0.006]" in answer
    n_secondary = int((changed["endpoint"] != "primary").sum())
    assert (f"Secondary comparisons (relevance family, each on its own: nominal, uncorrected): "
            f"{int((changed.loc[changed['endpoint'] != 'primary', 'relevance_decision'] == 'worse beyond δ').sum())} "
            f"worse beyond δ") in answer and f"of {n_secondary}." in answer
    # a decision table without the columns the answer needs is one clear error, not a wrong sentence
    changed.drop(columns=["ci90_low"]).to_csv(copy / "decisions.csv", index=False)
    with pytest.raises(DataError, match=r"decisions\.csv: no column\(s\) ci90_low"):
        render_index(copy)


def test_a_board_without_decisions_says_so(boards: dict[str, Path]) -> None:
    assert not (boards["no-ci"] / "decisions.csv").exists()  # no per-query values, no intervals, no decisions
    assert "no pre-declared decisions" in _answer(render_index(boards["no-ci"]))


def _section(page: str, anchor: str) -> str:
    """The HTML from the ``<h2>`` with id ``anchor`` to the next ``<h2``."""
    start = page.index(f'<h2 id="{anchor}"')
    end = page.find("<h2", start + 3)
    return page[start:end if end > 0 else len(page)]


def test_figures_sit_next_to_the_claims_they_back(boards: dict[str, Path]) -> None:
    page = render_index(boards["seeded"])
    assert 'alt="forest_decisions"' in _section(page, "h-decisions")
    assert 'alt="alpha_sweep_MIRACLRetrieval_ndcg_at_10"' in _section(page, "h-alpha-sweep")
    assert 'alt="heatmap_map_XQuADRRetrieval_hybrid-me5-small"' in _section(page, "h-table1_map")
    assert 'alt="language_bias_XQuADRRetrieval"' in _section(page, "h-table2_language_bias")
    assert 'alt="MIRACLRetrieval_ndcg_at_10"' in _section(page, "h-per_language_MIRACLRetrieval")
    assert 'alt="diff_map_XQuADRRetrieval_hybrid-me5-small_minus_mono-me5-small"' in _section(page, "h-comparison")
    # long things collapsed: per-pair heatmaps, the per-language tables, stage times and provenance at the end
    assert re.search(r"<details><summary>mAP per language pair: \d+ heatmaps</summary>", page)
    assert re.search(r'<details><summary>the table \(\d+ rows\)</summary><table id="per_language_MIRACLRetrieval"',
                     page)
    order = [page.index(f'<h2 id="{a}"') for a in ("h-decisions", "h-alpha-sweep", "h-per_language_MIRACLRetrieval",
                                                     "h-table1_map", "h-notes", "h-how-made", "h-provenance")]
    assert order == sorted(order)
    assert "<details><summary>Inputs, options, package versions" in _section(page, "h-provenance")


MEASURE = """(() => {
  const box = e => e.getBoundingClientRect(), d = document.getElementById('decisions');
  return {answer: box(document.getElementById('answer')).bottom, decisions: box(d).bottom,
          decisions_right: box(d).right, decisions_scroll: d.scrollWidth - d.clientWidth,
          height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth};
})()"""
OPEN_ALL = """(() => {
  document.querySelectorAll('details').forEach(e => e.open = true);
  const kv = [...document.querySelectorAll('table.kv')].map(t => t.scrollWidth - t.clientWidth);
  return {height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth, kv: kv};
})()"""


@needs_chromium
@pytest.mark.parametrize("which", ["seeded", "committed-seeded"])
def test_the_answer_and_the_decisions_are_on_the_first_screen(which: str, boards: dict[str, Path],
                                                               tmp_path: Path) -> None:
    """At 1,400 px: the answer and the whole decision table within the first 1,000 px, the decision table without a
    horizontal scrollbar, the page at most 15,000 px tall while collapsed; opened, it is longer, and still no
    wider than the window (provenance wraps)."""
    folder = ROOT / "leaderboards" / "reproduce-seeded" if which == "committed-seeded" else boards[which]
    report = open_page(folder / INDEX, tmp_path / "profile", width=1400, height=1000, evaluate=(MEASURE, OPEN_ALL))
    assert report.errors == []
    closed, opened = report.values
    assert closed["answer"] <= 1000 and closed["decisions"] <= 1000, closed
    assert closed["decisions_scroll"] <= 0 and closed["decisions_right"] <= 1400, closed
    assert closed["width"] <= 1400 and closed["height"] <= 15_000, closed
    assert opened["height"] > closed["height"] + 1000 and opened["width"] <= 1400, opened
    assert opened["kv"] and max(opened["kv"]) <= 0, opened
    _not_blank(report.screenshot)


def test_rows_without_any_difference_are_counted_not_shown(tmp_path: Path) -> None:
    """A comparison row of Δ 0.000 [0.000, 0.000] (e.g. Recall@100 1.000 vs 1.000 on every query) is left out of the
    page's table and counted in its summary; every other row, ties with a non-zero interval included, stays."""
    from hybrid_bench.leaderboard.page_tables import table_html

    md = tmp_path / "comparison_per_language.md"
    md.write_text("| cell | model | baseline | Δ [95% CI] |\n|:--|:--|:--|:--|\n"
                  "| ar | 1.000 | 1.000 | +0.000 [+0.000, +0.000] |\n| bn | 0.900 | 0.910 | -0.010 [-0.020, +0.001] |\n"
                  "| de | 0.800 | 0.800 | +0.000 [-0.004, +0.004] |\n", encoding="utf-8")
    table, shown, left_out = table_html(md.stem, md, drop_ties=True)
    assert (shown, left_out) == (2, 1) and "<td>ar</td>" not in table and "<td>de</td>" in table
    assert table_html(md.stem, md)[1:] == (3, 0)
