"""The leaderboard's self-contained index.html: content from the folder's files, and a real browser renders it
without console errors (headless Chromium through the DevTools protocol)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from headless_chromium import chromium_binary, open_page
from leaderboard_synthetic import build_synthetic_results, synthetic_clusters
from matplotlib import image

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
    assert 'class="sig"' not in comparison and "no CI" in page.split("<h2>Notes</h2>")[1]


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
