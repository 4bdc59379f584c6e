"""Leaderboard from an MTEB results folder: loading, the paper's tables, comparisons with CIs, plots, CLI, submission."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from leaderboard_synthetic import (LANGS, MIRACL_LANGS, MODELS, N_MIRACL_QUERIES, N_QUESTIONS, PARAGRAPH_SIZE,
                                   build_seeded_results, build_synthetic_results, synthetic_clusters)
from matplotlib import image

from hybrid_bench.cli import main
from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard import arms, clusters, tables
from hybrid_bench.leaderboard.build import build_leaderboard
from hybrid_bench.leaderboard.per_query import load_per_query
from hybrid_bench.leaderboard.results import load_results
from hybrid_bench.leaderboard.submission import check_submission


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synthetic")
    qrels = build_synthetic_results(root)
    return root, qrels


@pytest.fixture(scope="module")
def board(synthetic: tuple[Path, dict]):  # noqa: ANN201
    root, qrels = synthetic
    return build_leaderboard(root, n_resamples=1000, qrels_loader=lambda task, subsets: qrels, progress=False,
                             cluster_loader=synthetic_clusters)


def test_load_results_tidy_frame(synthetic: tuple[Path, dict]) -> None:
    root, _ = synthetic
    scores = load_results(root)
    assert set(scores["label"]) == set(MODELS)
    assert set(scores["task"]) == {"XQuADRRetrieval", "MIRACLRetrieval"}
    xquad = scores[(scores["task"] == "XQuADRRetrieval") & (scores["metric"] == "map")]
    # every query language against every candidate language plus the pool, per model
    assert len(xquad) == len(MODELS) * len(LANGS) * (len(LANGS) + 1)
    # the bare results/ folder (ResultCache's own layout) reads the same
    assert len(load_results(root / "results")) == len(scores)


def test_load_results_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no MTEB results"):
        load_results(tmp_path)
    with pytest.raises(DataError, match="not found"):
        load_results(tmp_path / "missing")


def test_table1_values_are_macro_means_of_per_query_ap(board, synthetic: tuple[Path, dict]) -> None:  # noqa: ANN001
    root, _ = synthetic
    t1 = board.tables["table1_map"]
    assert t1.shape == (len(MODELS), 3)
    assert list(t1.columns.get_level_values("setting")) == ["mono", "cross", "multi"]
    assert list(t1.index) == ["mono-me5-small", "cross-me5-small", "hybrid-me5-small"]  # the paper's row order
    per_query = pd.concat(pd.read_parquet(f) for f in (root / "predictions").rglob("*_per_query.parquet"))
    rows = per_query[per_query["model"] == "hybrid-bench/hybrid-me5-small"]
    q, c = rows["subset"].str.split("-", expand=True).T.values
    by_subset = rows.groupby("subset")["ap"].mean()
    expected_cross = by_subset[[s for s in by_subset.index if s.split("-")[1] not in ("pool", s.split("-")[0])]].mean()
    assert t1.loc["hybrid-me5-small", ("XQuAD-R", "cross")] == pytest.approx(expected_cross)
    assert len(set(q)) == len(LANGS) and "pool" in set(c)


def test_table2_and_miracl_table_shapes(board) -> None:  # noqa: ANN001
    t2 = board.tables["table2_language_bias"]
    assert t2.shape == (len(MODELS), 1) and (t2.to_numpy() > 0).all()
    miracl = board.tables["per_language_MIRACLRetrieval"]
    assert list(miracl.index) == [*MIRACL_LANGS, "mean"]
    # 60 passages per language: Recall@100 is 1.0 for every model by construction, so it is left out, with a note
    assert {m for m, _ in miracl.columns if m != "n_queries"} == {"nDCG@10"}
    assert "MIRACL: Recall@100 is 1.000 for every model and language: not shown" in board.notes
    assert miracl[("n_queries", "")].tolist() == [N_MIRACL_QUERIES, N_MIRACL_QUERIES, 2 * N_MIRACL_QUERIES]
    mean = miracl.loc["mean", ("nDCG@10", "hybrid-me5-small")]
    assert mean == pytest.approx(miracl.loc[list(MIRACL_LANGS), ("nDCG@10", "hybrid-me5-small")].mean())


def test_comparison_has_ci_for_every_hybrid_vs_specialised_cell(board) -> None:  # noqa: ANN001
    comp = board.tables["comparison"]
    assert set(zip(comp["model"], comp["baseline"])) == {("hybrid-me5-small", "mono-me5-small"),
                                                         ("hybrid-me5-small", "cross-me5-small")}
    assert comp["ci_low"].notna().all() and comp["p_value"].notna().all() and comp["q_value"].notna().all()
    assert (comp["ci_low"] <= comp["diff"] + 1e-12).all() and (comp["diff"] <= comp["ci_high"] + 1e-12).all()
    # planted: mono is much worse cross-lingually than hybrid → the interval excludes 0, p is small
    row = comp[(comp["baseline"] == "mono-me5-small") & (comp["cell"] == "cross")].iloc[0]
    assert row["ci_low"] > 0 and row["p_value"] < 0.01
    # the per-query means agree with the results JSON (MIRACL rescored from mteb predictions with pytrec_eval)
    assert not comp["note"].str.contains("≠", regex=False).any()
    t1 = board.tables["table1_map"]
    assert row["diff"] == pytest.approx(t1.loc["hybrid-me5-small", ("XQuAD-R", "cross")]
                                        - t1.loc["mono-me5-small", ("XQuAD-R", "cross")], abs=1e-4)


def test_cross_cell_resamples_paragraphs_not_rows(board, synthetic: tuple[Path, dict]) -> None:  # noqa: ANN001
    row = board.tables["comparison"].query("cell == 'cross'").iloc[0]
    assert row["n_units"] == N_QUESTIONS // PARAGRAPH_SIZE  # the paragraphs of the parallel questions are the unit
    assert row["n_queries"] == N_QUESTIONS * len(LANGS) * (len(LANGS) - 1)
    assert set(board.per_query.loc[board.per_query["task"] == "MIRACLRetrieval", "cluster"]) == set(
        board.per_query.loc[board.per_query["task"] == "MIRACLRetrieval", "unit"])  # MIRACL: the query
    root, qrels = synthetic
    by_question = build_leaderboard(root, n_resamples=1000, qrels_loader=lambda task, subsets: qrels,
                                    progress=False, make_plots=False, cluster_loader=None)
    assert by_question.tables["comparison"].query("cell == 'cross'").iloc[0]["n_units"] == N_QUESTIONS


def test_lareqa_clusters_on_the_real_data(shared_data: Path) -> None:
    """The issue's counts: held-out XQuAD-R has 582 questions in 120 paragraphs of 24 articles, and the 302 that
    share an answer sentence with another question always share its paragraph."""
    from hybrid_bench.data.splits import load_xquad_r_heldout

    english = load_xquad_r_heldout().questions["en"]
    paragraphs = clusters.lareqa_clusters("XQuADRHeldOutRetrieval", data_dir=shared_data)
    articles = clusters.lareqa_clusters("XQuADRHeldOutRetrieval", level="article", data_dir=shared_data)
    assert len(english) == 582
    assert len({paragraphs[q.qid] for q in english}) == 120 and len({articles[q.qid] for q in english}) == 24
    by_answer: dict[str, set[str]] = {}
    for q in english:
        by_answer.setdefault(q.answer_candidate, set()).add(paragraphs[q.qid])
    assert sum(1 for q in english if sum(x.answer_candidate == q.answer_candidate for x in english) > 1) == 302
    assert all(len(p) == 1 for p in by_answer.values())
    assert clusters.lareqa_clusters("MIRACLRetrieval") is None


def test_without_per_query_files_tables_say_no_ci(tmp_path: Path) -> None:
    build_synthetic_results(tmp_path, with_per_query=False)
    plain = build_leaderboard(tmp_path, n_resamples=500, qrels_loader=None, progress=False)
    comp = plain.tables["comparison"]
    assert comp["ci_low"].isna().all() and comp["p_value"].isna().all()
    assert (comp["note"] == tables.NO_CI_NOTE).all()
    assert comp["diff"].notna().all()  # point estimates stay
    assert any("no CI" in note for note in plain.notes)


def test_unloadable_qrels_degrade_to_no_ci(synthetic: tuple[Path, dict]) -> None:
    root, _ = synthetic

    def broken(task: str, subsets: list[str]) -> dict:
        raise OSError("offline")

    problems: list[str] = []
    per_query = load_per_query(root / "predictions", qrels_loader=broken, problems=problems)
    assert set(per_query["task"]) == {"XQuADRRetrieval"}  # the parquet files still count
    assert len(problems) == 1 and "MIRACLRetrieval" in problems[0] and "offline" in problems[0]
    degraded = build_leaderboard(root, n_resamples=500, qrels_loader=broken, progress=False, make_plots=False)
    comp = degraded.tables["comparison"]
    assert comp.loc[comp["task"] == "MIRACLRetrieval", "ci_low"].isna().all()
    assert comp.loc[comp["task"] == "XQuADRRetrieval", "ci_low"].notna().all()
    assert any("qrels could not be loaded" in note for note in degraded.notes)


def test_write_tables_and_plots(board, tmp_path: Path) -> None:  # noqa: ANN001
    out = board.write(tmp_path / "lb")
    for name in ("table1_map", "table2_language_bias", "per_language_MIRACLRetrieval", "comparison"):
        for ext in ("md", "csv", "html"):
            assert (out / f"{name}.{ext}").stat().st_size > 0
    pngs = sorted((out / "plots").glob("*.png"))
    stems = {p.stem for p in pngs}
    assert {f"heatmap_map_XQuADRRetrieval_{m}" for m in MODELS} <= stems
    assert "diff_map_XQuADRRetrieval_hybrid-me5-small_minus_mono-me5-small" in stems
    assert "language_bias_XQuADRRetrieval" in stems and "MIRACLRetrieval_ndcg_at_10" in stems
    for png in pngs:
        pixels = image.imread(png)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200
        assert pixels[..., :3].std() > 0.05  # not a blank canvas
        with Image.open(png) as stored:  # a palette image: the page embeds every figure, the folder is committed
            assert stored.mode == "P"
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "Table 1" in readme and "plots/language_bias_XQuADRRetrieval.png" in readme
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["n_resamples"] == 1000 and meta["versions"]["mteb"]
    with pytest.raises(FileExistsError):
        board.write(out)


def test_cli_leaderboard_writes_once_and_refuses_to_overwrite(synthetic: tuple[Path, dict], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = synthetic
    out = tmp_path / "cli"
    args = ["leaderboard", str(root), "--out", str(out), "--n-resamples", "500", "--no-plots",
            "--tasks", "XQuADRRetrieval"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "table1_map" in printed and "submission check" in printed
    first = (out / "comparison.csv").read_text(encoding="utf-8")
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "comparison.csv").read_text(encoding="utf-8") == first
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "meta.json").read_text())["lareqa_cluster"] == "paragraph"
    assert main([*args, "--overwrite", "--cluster", "question"]) == 0
    assert json.loads((out / "meta.json").read_text())["lareqa_cluster"] == "question"
    row = pd.read_csv(out / "comparison.csv").query("cell == 'cross'").iloc[0]
    assert row["n_units"] == N_QUESTIONS  # the question is the unit


def test_cli_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_submission_check_loads_back_with_result_cache(synthetic: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synthetic
    report = check_submission(root)
    assert {name for name, _ in report.models} == {f"hybrid-bench/{m}" for m in MODELS}
    assert all(tasks_ == ["MIRACLRetrieval", "XQuADRRetrieval"] for tasks_ in report.models.values())
    broken = tmp_path / "broken"
    shutil.copytree(root / "results", broken / "results")
    next((broken / "results").rglob("model_meta.json")).unlink()
    with pytest.raises(DataError, match="no model_meta.json"):
        check_submission(broken)


def test_default_pairs_come_from_roles_not_names() -> None:
    roles = {"me5-small": arms.Role(None, None, None, None),
             "m-1": arms.Role("mono", 1.0, 1, "me5-small"), "c-1": arms.Role("cross", 0.0, 1, "me5-small"),
             "h-1": arms.Role("hybrid", 0.5, 1, "me5-small"), "h-2": arms.Role("hybrid", 0.5, 2, "me5-small"),
             "h25": arms.Role("hybrid", 0.25, 1, "me5-small"), "m-2": arms.Role("mono", 1.0, 2, "me5-small")}
    found = arms.group_arms(roles)
    assert [a.name for a in found] == ["me5-small", "m-1", "c-1", "h25", "h-1"]  # named by the first seed's model
    assert [a.labels for a in found if a.name == "h-1"] == [("h-1", "h-2")]
    pairs = [(a.name, b.name) for a, b in arms.default_arm_pairs(found)]
    assert pairs[:4] == [("h25", "m-1"), ("h25", "c-1"), ("h-1", "m-1"), ("h-1", "c-1")]
    assert ("m-1", "me5-small") in pairs and len(pairs) == 8
    by_name = {a.name: a for a in found}
    # seed by seed between trained arms (common seeds), every seed against the one base model
    assert arms.seed_pairs(by_name["h-1"], by_name["m-1"]) == [("h-1", "m-1"), ("h-2", "m-2")]
    assert arms.seed_pairs(by_name["h-1"], by_name["c-1"]) == [("h-1", "c-1"), ("h-2", "c-1")]
    with pytest.raises(DataError, match="repeated seeds"):
        arms.group_arms({**roles, "m-1b": arms.Role("mono", 1.0, 1, "me5-small")})


def test_models_trained_on_other_data_are_arms_of_their_own(tmp_path: Path) -> None:
    """hybrid with mined hard negatives vs hybrid without: same strategy, α and seed, another recipe."""
    records = tmp_path / arms.TRAINING_RECORDS_DIR
    records.mkdir()
    config = {"strategy": "hybrid", "alpha": 0.5, "seed": 42, "data": "xquad-r-train", "steps": 300, "save_steps": 100}
    for label, changes in (("hybrid", {}), ("hybrid-mined", {"data": "mined.jsonl"}),
                           ("hybrid-seed43", {"seed": 43, "save_steps": 50})):
        record = {"strategy": "hybrid", "alpha": 0.5, "seed": changes.get("seed", 42), "base": "me5-small",
                  "config": {**config, **changes}}
        (records / f"{label}.json").write_text(json.dumps(record), encoding="utf-8")
    roles = arms.read_roles(["hybrid", "hybrid-mined", "hybrid-seed43"], tmp_path)
    found = {a.name: a.labels for a in arms.group_arms(roles)}
    # another seed (and another checkpoint interval) is the same arm; other data is not
    assert found == {"hybrid": ("hybrid", "hybrid-seed43"), "hybrid-mined": ("hybrid-mined",)}


@pytest.mark.parametrize("stem", ["language_bias_XQuADRRetrieval", "MIRACLRetrieval_ndcg_at_10"])
def test_per_language_plots_carry_bootstrap_error_bars(board, stem: str) -> None:  # noqa: ANN001
    """One dot per model and language (a row per language), each inside its own horizontal bootstrap interval."""
    ax = board.figures[stem].axes[0]
    dots = [c for c in ax.containers if c.get_label() in MODELS]
    assert len(dots) == len(MODELS)
    n_rows = len(ax.get_yticks())
    for container in dots:
        line, _caps, bar_lines = container.lines
        assert bar_lines, f"{container.get_label()} has no error bars"
        segments = bar_lines[0].get_segments()  # one horizontal segment per dot: [low, high]
        values = line.get_xdata()
        assert len(segments) == len(values) == n_rows
        spans = [(seg[0][0], seg[1][0]) for seg in segments]
        assert all(low <= v + 1e-9 and v - 1e-9 <= high for (low, high), v in zip(spans, values))
        assert any(high - low > 0 for low, high in spans)  # real intervals, not zero-width placeholders
    assert "bootstrap CI" in ax.get_title()
    # drawn at a size a page shows unscaled: not a strip many times wider than tall
    width, height = board.figures[stem].get_size_inches()
    assert width <= 7 and height >= 2.5


@pytest.fixture(scope="module")
def seeded_board(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("seeded")
    qrels = build_seeded_results(root)
    return build_leaderboard(root, n_resamples=1000, qrels_loader=lambda task, subsets: qrels, progress=False,
                             cluster_loader=synthetic_clusters)


def test_seeds_are_a_level_arms_from_training_records(seeded_board) -> None:  # noqa: ANN001
    board = seeded_board
    assert board.settings["arms"]["hybrid-me5-small"] == {"1": "hybrid-me5-small", "2": "hybrid-me5-small-r2",
                                                          "3": "hybrid-me5-small-r3"}
    # table 1: one row per arm, the mean over its seeds, the seed SD beside it
    t1, sd = board.tables["table1_map"], board.tables["table1_map_seed_sd"]
    assert list(t1.index) == ["me5-small", "mono-me5-small", "cross-me5-small", "hybrid-me5-small"]
    per_seed = [tables.cell_score(board.results, next(c for c in board.cells if c.name == "mono"), label)
                for label in ("mono-me5-small", "mono-me5-small-r2", "mono-me5-small-r3")]
    assert t1.loc["mono-me5-small", ("XQuAD-R", "mono")] == pytest.approx(np.mean(per_seed))
    assert sd.loc["mono-me5-small", ("XQuAD-R", "mono")] == pytest.approx(np.std(per_seed, ddof=1))
    assert " ± " in board.display["table1_map"].loc["mono-me5-small"].iloc[0]
    assert np.isnan(sd.loc["me5-small"]).all()  # the base has no seeds
    # comparisons: hybrid vs mono / cross seed by seed, every trained arm vs the base
    comp = board.tables["comparison"]
    pairs = set(zip(comp["model"], comp["baseline"]))
    assert {("hybrid-me5-small", "mono-me5-small"), ("hybrid-me5-small", "cross-me5-small"),
            ("mono-me5-small", "me5-small"), ("hybrid-me5-small", "me5-small")} <= pairs
    row = comp[(comp["cell"] == "cross") & (comp["model"] == "hybrid-me5-small")
               & (comp["baseline"] == "mono-me5-small")].iloc[0]
    assert row["n_seeds"] == 3 and row["seed_sd"] > 0 and row["ci_low"] < row["ci90_low"] < row["ci90_high"] < row["ci_high"]
    assert "seed SD (n)" in board.display["comparison"].columns
    # the pre-declared primary endpoint gets decisions, Holm over the two primary comparisons
    decided = board.tables["decisions"]
    primary = decided[decided["endpoint"] == "primary"]
    assert set(primary["baseline"]) == {"mono-me5-small", "cross-me5-small"} and (primary["holm_over"] == 2).all()
    assert set(decided["relevance_decision"]) <= {"equivalent", "worse beyond δ", "better beyond δ", "inconclusive"}
    assert set(decided["superiority_decision"]) <= {"higher", "lower", "not significant"}
    assert "distribution" not in board.display["comparison"].columns


def test_compare_by_arm_name_is_seed_by_seed(seeded_board, tmp_path: Path) -> None:  # noqa: ANN001
    """``--compare hybrid-me5-small:mono-me5-small`` names the arms: all three seeds, exactly as the default pairs;
    a seed's own model label (``-r2``) against an arm's first model stays a one-model comparison."""
    root = tmp_path / "seeded"
    qrels = build_seeded_results(root)
    board = build_leaderboard(root, compare=["hybrid-me5-small:mono-me5-small", "hybrid-me5-small-r2:mono-me5-small"],
                              n_resamples=1000, qrels_loader=lambda task, subsets: qrels, progress=False,
                              cluster_loader=synthetic_clusters, make_plots=False)
    comp = board.tables["comparison"]
    by_arm = comp[comp["model"] == "hybrid-me5-small"].set_index(["task", "cell", "metric"])
    default = seeded_board.tables["comparison"]
    default = default[(default["model"] == "hybrid-me5-small") & (default["baseline"] == "mono-me5-small")]
    default = default.set_index(["task", "cell", "metric"]).loc[by_arm.index]
    assert (by_arm["n_seeds"] == 3).all()
    for column in ("diff", "seed_sd", "ci_low", "ci_high", "ci90_low", "ci90_high", "p_value"):
        np.testing.assert_array_equal(by_arm[column].to_numpy(), default[column].to_numpy())
    assert (comp.loc[comp["model"] == "hybrid-me5-small-r2", "n_seeds"] == 1).all()


def test_alpha_sweep_figures_are_paired_differences_to_mono(seeded_board) -> None:  # noqa: ANN001
    """mono (α = 1), cross (α = 0), hybrid (α = 0.5): per headline metric, each arm − mono seed by seed with the
    comparison table's own interval, mono itself at 0, the untrained base − mono as a dashed reference line."""
    assert {"alpha_sweep_XQuADRRetrieval_map", "alpha_sweep_MIRACLRetrieval_ndcg_at_10"} <= set(seeded_board.figures)
    ax = seeded_board.figures["alpha_sweep_XQuADRRetrieval_map"].axes[0]
    series = {c.get_label(): c for c in ax.containers}
    assert sorted(series) == ["cross", "mono", "multi"]
    line, _caps, (bars,) = series["cross"].lines
    alphas, diffs = np.round(line.get_xdata(), 1), line.get_ydata()
    assert list(alphas) == [0.0, 0.5, 1.0] and diffs[-1] == 0.0  # mono − mono
    comp = seeded_board.tables["comparison"]
    row = comp[(comp["cell"] == "cross") & (comp["model"] == "hybrid-me5-small")
               & (comp["baseline"] == "mono-me5-small") & (comp["task"] == "XQuADRRetrieval")].iloc[0]
    assert diffs[1] == pytest.approx(row["diff"])  # hybrid − mono: the table's paired difference, not a raw score
    hybrid_bar = bars.get_segments()[1]
    assert (hybrid_bar[0][1], hybrid_bar[1][1]) == pytest.approx((row["ci_low"], row["ci_high"]))
    assert all(np.ptp(segment[:, 1]) > 0 for segment in bars.get_segments()[:2])  # real intervals
    # cross − mono is no row of the default comparisons: computed the same way, seed by seed
    assert diffs[0] > 0  # planted: the cross-lingual specialist beats mono cross-lingually (log-rank 0.35 vs 1.2)
    base = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--" and ln.get_label() == "cross: untrained base"]
    assert len(base) == 1
    base_row = comp[(comp["cell"] == "cross") & (comp["model"] == "mono-me5-small")
                    & (comp["baseline"] == "me5-small") & (comp["task"] == "XQuADRRetrieval")].iloc[0]
    assert base[0].get_ydata()[0] == pytest.approx(-base_row["diff"])  # base − mono = −(mono − base)
    assert "3 seed(s)" in ax.get_title() and "paired differences to mono" in ax.get_title()


def test_forest_plot_of_the_decisions(seeded_board) -> None:  # noqa: ANN001
    decided = seeded_board.tables["decisions"]
    ax = seeded_board.figures["forest_decisions"].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(decided) and labels[0].startswith("primary:")
    # per row: 95 % CI (thin), 90 % CI (thick), Δ (dot), in the table's order, top to bottom
    lines = ax.get_lines()[1:]  # after the zero line
    first = decided.iloc[0]
    thin, thick, dot = lines[0], lines[1], lines[2]
    assert list(thin.get_xdata()) == pytest.approx([first["ci_low"], first["ci_high"]])
    assert list(thick.get_xdata()) == pytest.approx([first["ci90_low"], first["ci90_high"]])
    assert dot.get_xdata()[0] == pytest.approx(first["diff"])
    assert [t.get_text() for t in ax.texts] == list(decided["relevance_decision"])


def test_seeded_leaderboard_writes_without_replicates(seeded_board, tmp_path: Path) -> None:  # noqa: ANN001
    out = seeded_board.write(tmp_path / "board")
    header = (out / "comparison.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "distribution" not in header and "seed_sd" in header and "df" in header.split(",")
    assert (out / "decisions.md").is_file() and "Decisions on the pre-declared endpoints" in (out / "README.md").read_text()


def test_row_order_comes_from_the_arms_not_from_label_prefixes() -> None:
    from hybrid_bench.leaderboard.arms import Role, group_arms
    from hybrid_bench.leaderboard.tables import ordered_labels

    # names that say nothing about the strategy: the training records do
    roles = {"zz-base": Role(None, None, None, None), "alpha": Role("hybrid", 0.5, 42, "zz-base"),
             "beta": Role("mono", None, 42, "zz-base"), "gamma": Role("cross", None, 42, "zz-base")}
    order = [label for arm in group_arms(roles) for label in arm.labels]
    results = pd.DataFrame({"label": ["alpha", "beta", "gamma", "zz-base", "other"]})
    assert ordered_labels(results, order) == ["zz-base", "beta", "gamma", "alpha", "other"]


def test_figures_draw_arms_not_seeds(seeded_board) -> None:  # noqa: ANN001
    """Like the tables, the figures show an arm of several seeds once: its seed mean, with intervals over seeds."""
    figures = seeded_board.figures
    assert "heatmap_map_XQuADRRetrieval_hybrid-me5-small" in figures
    assert not [name for name in figures if name.endswith(("-r2", "-r3"))]  # no per-seed heatmaps
    title = figures["heatmap_map_XQuADRRetrieval_hybrid-me5-small"].axes[0].get_title()
    assert "mean of 3 seeds" in title
    diff = figures["diff_map_XQuADRRetrieval_hybrid-me5-small_minus_mono-me5-small"].axes[0]
    assert "mean of 3 seeds" in diff.get_title()
    # the cells are the mean of the seed-by-seed differences (the arms' seed means), not the first seed's
    results = seeded_board.results
    cell = results[(results["task"] == "XQuADRRetrieval") & (results["subset"] == "deu-eng")
                   & (results["metric"] == "map")].set_index("label")["value"]
    expected = np.mean([cell[f"hybrid-me5-small{s}"] - cell[f"mono-me5-small{s}"] for s in ("", "-r2", "-r3")])
    shown = [t.get_text() for t in diff.texts]
    assert f"{expected:+.3f}" in " ".join(shown)
    legend = figures["language_bias_XQuADRRetrieval"].legends[0]
    assert {t.get_text() for t in legend.get_texts()} == {
        "me5-small", "mono-me5-small", "cross-me5-small", "hybrid-me5-small"}


def test_score_and_query_indexes_read_what_filtering_the_frames_reads() -> None:
    """:class:`tables.ScoreIndex` and :class:`comparisons.QueryRows` group the long frames once; a cell must read the
    same numbers, the same rows in the same order, as filtering the whole frame (which the bootstrap relies on)."""
    from hybrid_bench.leaderboard import comparisons

    results = pd.DataFrame({
        "label": ["m1"] * 5 + ["m2"] * 3, "task": "T", "split": "test",
        "metric": ["map"] * 4 + ["ndcg_at_10"] + ["map"] * 3,
        "subset": ["b", "a", "a", "c", "a", "a", "b", "c"],
        "value": [0.5, 0.2, 0.4, np.nan, 0.9, 0.1, 0.2, 0.3],
    })
    scores = tables.ScoreIndex(results)
    cell = tables.Cell("T", "test", "x", "map", ("a", "b"), "setting")
    # m1: subset a is the mean of its two rows, then the macro mean over a and b
    assert scores.score(cell, "m1") == pytest.approx(((0.2 + 0.4) / 2 + 0.5) / 2)
    assert scores.score(cell, "m2") == pytest.approx((0.1 + 0.2) / 2)
    # a subset whose only value is NaN is present (skipped in the mean); a missing subset is left out of that
    # model's mean (the coverage marks say so) and out of the cell two models share
    assert scores.score(tables.Cell("T", "test", "y", "map", ("b", "c"), "setting"), "m1") == pytest.approx(0.5)
    ndcg = tables.Cell("T", "test", "z", "ndcg_at_10", ("a", "b"), "setting")
    assert scores.score(ndcg, "m1") == pytest.approx(0.9) and scores.subsets(ndcg, "m1") == ("a",)
    assert scores.shared(cell, ["m1", "m2"]).subsets == ("a", "b")
    assert scores.shared(tables.Cell("T", "test", "y", "map", ("a", "b", "c", "d"), "setting"),
                         ["m1", "m2"]).subsets == ("a", "b", "c")
    assert np.isnan(scores.score(cell, "nobody"))
    assert scores.score(cell, "m1") == tables.cell_score(results, cell, "m1")

    rng = np.random.default_rng(0)
    n = 60
    per_query = pd.DataFrame({
        "label": rng.choice(["m1", "m2", "m3"], n), "task": rng.choice(["T", "U"], n), "split": "test",
        "subset": rng.choice(["a", "b"], n), "query_id": [f"q{i % 7}" for i in range(n)], "unit": "u",
        "ap": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
    }).drop_duplicates(["label", "task", "subset", "query_id"])
    rows = comparisons.QueryRows(per_query)
    for label in ("m1", "m2", "m3", "absent"):
        expected = per_query[(per_query["task"] == "T") & (per_query["split"] == "test")
                             & (per_query["label"] == label)]
        pd.testing.assert_frame_equal(rows.of("T", "test", label), expected)
    paired = comparisons.paired_rows(rows, cell, "m1", "m2")
    a = per_query[(per_query["task"] == "T") & (per_query["label"] == "m1")].dropna(subset=["ap"])
    b = per_query[(per_query["task"] == "T") & (per_query["label"] == "m2")].dropna(subset=["ap"])
    joined = a.merge(b, on=["subset", "query_id"], suffixes=("_a", "_b"))
    assert paired is not None and paired.n_a == len(a) and paired.n_b == len(b)
    assert paired.frame["a"].tolist() == joined["ap_a"].tolist()
    assert paired.frame["b"].tolist() == joined["ap_b"].tolist()
    assert comparisons.paired_rows(rows, cell, "m1", "absent") is None
