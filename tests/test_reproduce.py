"""``hybrid-bench reproduce`` end to end with a tiny base model and a tiny preset (real data, offline, ~1-2 min).

The base model is injected (a 2-layer BERT built in the test session) and the preset is shrunk to two languages,
a handful of queries and two training steps, so the whole pipeline — train three models, evaluate four models on
four tasks through mteb, build the leaderboard, check the submission — runs in CI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from hybrid_bench.cli import main
from hybrid_bench.data.miracl_sample import pool_summary
from hybrid_bench.experiment import (
    MIRACL_FALLBACK,
    PRESETS,
    Preset,
    ensure_trained,
    build_task,
    model_specs,
    reproduce,
    sample_miracl_mirror,
)
from hybrid_bench.data.miracl import available_languages
from hybrid_bench.errors import HybridBenchError
from hybrid_bench.leaderboard.submission import check_submission

TINY = Preset(
    name="tiny", steps=2, batch_size=4, max_seq_length=16, bf16=False, train_languages=("de", "en"),
    languages=("de", "en"), max_queries=6, max_candidates=15, miracl_queries=3, miracl_fill=5,
    eval_max_seq_length=24, n_resamples=200,
)
TASKS = ("XQuADRHeldOutRetrieval", "MLQARRetrieval", "MIRACLRetrieval", "MIRACLCrossLingualRetrieval")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, shared_data: Path) -> dict:
    out = tmp_path_factory.mktemp("reproduce")
    home = out / "home"
    with pytest.MonkeyPatch.context() as mp:
        # module-scoped: set the model store here (the autouse per-test home is not active yet)
        mp.setenv("HYBRID_BENCH_HOME", str(home))
        # the data folder reaches every stage as an argument: nothing may read it from (or write it to) the env
        mp.delenv("HYBRID_BENCH_DATA", raising=False)
        mp.delenv("HYBRID_BENCH_MIRRORS", raising=False)
        t0 = time.perf_counter()
        events: list = []
        summary = reproduce(TINY, out / "results", base=str(tiny_model_dir), leaderboard_out=out / "board",
                            data_dir=str(shared_data), on_event=events.append)
        first = time.perf_counter() - t0
        env_after = {k: os.environ.get(k) for k in ("HYBRID_BENCH_DATA", "HYBRID_BENCH_MIRRORS")}
    return {"summary": summary, "out": out / "results", "board": out / "board", "home": home, "first_s": first,
            "base": str(tiny_model_dir), "events": events, "env_after": env_after}


@pytest.fixture
def same_home(tiny_run: dict, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tiny_run["home"]))
    return tiny_run


def test_trains_three_models_with_identical_settings_but_alpha(tiny_run: dict) -> None:
    records = {}
    for strategy in ("mono", "cross", "hybrid"):
        path = tiny_run["home"] / "models" / f"{strategy}-st-tiny" / "hybrid_bench_training.json"
        records[strategy] = json.loads(path.read_text(encoding="utf-8"))
    assert {s: r["alpha"] for s, r in records.items()} == {"mono": 1.0, "cross": 0.0, "hybrid": 0.5}
    assert all(r["steps"] == TINY.steps for r in records.values())
    strip = lambda c: {k: v for k, v in c.items() if k not in ("strategy", "alpha")}  # noqa: E731
    configs = [strip(r["config"]) for r in records.values()]
    assert configs[0] == configs[1] == configs[2]
    assert configs[0]["seed"] == TINY.seed and configs[0]["languages"] == ["de", "en"]
    # the records travel with the results, where the leaderboard reads strategy, α and seed
    for strategy, record in records.items():
        exported = tiny_run["out"] / "training" / f"{strategy}-st-tiny.json"
        assert json.loads(exported.read_text(encoding="utf-8"))["config"] == record["config"]


def test_every_model_has_every_task_and_loads_back_with_result_cache(tiny_run: dict) -> None:
    report = check_submission(tiny_run["out"])
    names = {name for name, _ in report.models}
    assert names == {"hybrid-bench/st", "hybrid-bench/mono-st-tiny", "hybrid-bench/cross-st-tiny",
                     "hybrid-bench/hybrid-st-tiny"}
    assert all(task_names == sorted(TASKS) for task_names in report.models.values())
    assert report.mirror_tasks  # MIRACL ran on the sampled mirror and says so
    for meta_file in (tiny_run["out"] / "results").rglob("model_meta.json"):
        assert json.loads(meta_file.read_text(encoding="utf-8"))["name"].startswith("hybrid-bench/")


def test_evaluation_follows_the_preset(tiny_run: dict) -> None:
    result = next((tiny_run["out"] / "results").rglob("XQuADRHeldOutRetrieval.json"))
    scores = json.loads(result.read_text(encoding="utf-8"))["scores"]["test"]
    assert {s["hf_subset"] for s in scores} == {"deu-deu", "deu-eng", "eng-deu", "eng-eng", "deu-pool", "eng-pool"}
    assert all(s["n_queries"] == TINY.max_queries for s in scores)
    assert all(s["n_candidates"] <= TINY.max_candidates * (2 if s["hf_subset"].endswith("pool") else 1)
               for s in scores)
    miracl = json.loads(next((tiny_run["out"] / "results").rglob("MIRACLRetrieval.json")).read_text())
    assert miracl["dataset_revision"].startswith("mirror:miracl-tiny@")


def test_per_query_files_and_leaderboard_with_cis(tiny_run: dict) -> None:
    preds = tiny_run["out"] / "predictions"
    assert len(list(preds.rglob("XQuADRHeldOutRetrieval_per_query.parquet"))) == 4
    assert len(list(preds.rglob("MIRACLCrossLingualRetrieval_per_query.parquet"))) == 4
    # stock task: its ranked lists are scored per query after each evaluation (small enough to commit), then set aside
    assert len(list(preds.rglob("MIRACLRetrieval_per_query.parquet"))) == 4 and not list(preds.rglob("*.json"))
    assert len(list((tiny_run["out"] / "raw-predictions").rglob("MIRACLRetrieval_predictions.json"))) == 4
    board = tiny_run["board"]
    for name in ("table1_map", "table2_language_bias", "per_language_MIRACLRetrieval",
                 "per_language_MIRACLCrossLingualRetrieval", "comparison"):
        assert (board / f"{name}.md").is_file() and (board / f"{name}.csv").is_file()
    comparison = pd.read_csv(board / "comparison.csv")
    # hybrid vs each specialist, and every trained model vs the base (roles from the training records)
    assert set(comparison["baseline"]) == {"mono-st-tiny", "cross-st-tiny", "st"}
    assert set(comparison.loc[comparison["baseline"] == "st", "model"]) == {"mono-st-tiny", "cross-st-tiny",
                                                                            "hybrid-st-tiny"}
    # every cell has per-query data here, so every difference has an interval, MIRACL included
    assert comparison["ci_low"].notna().all(), comparison[comparison["ci_low"].isna()]
    assert {"MIRACL", "MIRACL cross-lingual", "XQuAD-R held-out", "MLQA-R"} <= set(comparison["dataset"])
    plots = {p.stem for p in (board / "plots").glob("*.png")}
    assert "heatmap_map_XQuADRHeldOutRetrieval_hybrid-st-tiny" in plots
    assert "diff_map_XQuADRHeldOutRetrieval_hybrid-st-tiny_minus_mono-st-tiny" in plots
    assert "MIRACLRetrieval_ndcg_at_10" in plots
    readme = (board / "README.md").read_text(encoding="utf-8")
    # LAReQA intervals resample the answers' paragraphs, found in the run's LAReQA data
    assert "not paragraphs" not in readme
    exported = pd.read_parquet(next((board / "per_query").rglob("XQuADRHeldOutRetrieval_per_query.parquet")))
    assert exported["cluster"].str.fullmatch(r"en:\d{4}:\d{2}").all()
    assert "preset 'tiny'" in readme and "train mono-st-tiny" in readme and "Submission check" in readme


def test_configuration_travels_as_arguments_not_through_the_environment(tiny_run: dict) -> None:
    assert tiny_run["env_after"] == {"HYBRID_BENCH_DATA": None, "HYBRID_BENCH_MIRRORS": None}


def test_progress_is_reported_through_the_callback(tiny_run: dict) -> None:
    events = tiny_run["events"]
    ends = [e for e in events if e.kind == "end"]
    assert len(ends) == len([e for e in events if e.kind == "begin"]) == 3 + 4 * len(TASKS) + 1
    assert [e.index for e in ends] == list(range(1, len(ends) + 1)) and all(e.total == len(ends) for e in ends)
    assert [e.label for e in ends] == [s["stage"] for s in tiny_run["summary"].stages]
    notes = [e.text for e in events if e.kind == "note"]
    assert notes[0] == TINY.describe()
    assert any("table1_map" in n and "leaderboard written to" in n for n in notes)


def test_rerun_skips_finished_work(same_home: dict) -> None:
    t0 = time.perf_counter()
    summary = reproduce(TINY, same_home["out"], base=same_home["base"], leaderboard_out=same_home["board"])
    ran = [s["stage"] for s in summary.stages if s["stage"] != "leaderboard" and not s["skipped"]]
    assert ran == []
    assert len(summary.stages) == 3 + 4 * len(TASKS) + 1
    assert time.perf_counter() - t0 < same_home["first_s"]


def test_bf16_on_slow_hardware_is_said_once_before_the_first_training(tiny_model_dir: Path, shared_data: Path,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid_bench.models import inference

    monkeypatch.setattr(inference, "bf16_training_warning", lambda device="auto", facts=None: "BF16 IS EMULATED")
    preset = dataclasses.replace(TINY, name="tinybf", bf16=True, tasks=("XQuADRHeldOutRetrieval",))
    kwargs = {"base": str(tiny_model_dir), "leaderboard_out": None, "data_dir": str(shared_data)}
    events: list = []
    reproduce(preset, tmp_path / "results", on_event=events.append, **kwargs)
    said = [i for i, e in enumerate(events) if e.kind == "note" and e.text == "BF16 IS EMULATED"]
    first_train_end = next(i for i, e in enumerate(events) if e.kind == "end" and e.stage.kind == "train")
    assert len(said) == 1 and said[0] < first_train_end
    # the whole run's projection names the emulation, with the slowdown measured here, and becomes complete
    # (seconds per step and texts per second measured) before the run ends
    costs = [e for e in events if e.kind == "cost"]
    assert costs and all("bf16 training is emulated on this CPU" in e.text and "x slower than fp32 here" in e.text
                         for e in costs)
    complete = [i for i, e in enumerate(events) if e.kind == "cost" and e.wall_s is not None]
    assert complete and complete[0] < len(events) - 1
    assert re.search(r"training \d+ steps × \d+\.\d\d s/step", events[complete[0]].text), events[complete[0]].text
    # a rerun trains nothing: nothing to warn about
    again: list = []
    reproduce(preset, tmp_path / "results", on_event=again.append, **kwargs)
    assert not any(e.kind == "note" and e.text == "BF16 IS EMULATED" for e in again)
    assert not any("emulated" in e.text for e in again if e.kind == "cost")
    # fp32 presets never ask
    monkeypatch.setattr(inference, "bf16_training_warning", lambda *a, **k: pytest.fail("asked for an fp32 preset"))
    reproduce(TINY, tmp_path / "fp32", on_event=lambda e: None, **kwargs)


def test_changed_settings_reevaluate_but_keep_trained_models(same_home: dict) -> None:
    changed = dataclasses.replace(TINY, max_queries=4, tasks=("XQuADRHeldOutRetrieval",))
    summary = reproduce(changed, same_home["out"], base=same_home["base"], leaderboard_out=same_home["board"])
    stages = {s["stage"]: s["skipped"] for s in summary.stages}
    assert all(skipped for stage, skipped in stages.items() if stage.startswith("train"))
    assert not any(skipped for stage, skipped in stages.items() if stage.startswith("evaluate"))
    result = next((same_home["out"] / "results").rglob("XQuADRHeldOutRetrieval.json"))
    assert {s["n_queries"] for s in json.loads(result.read_text())["scores"]["test"]} == {4}


def test_other_training_settings_never_replace_a_stored_model(same_home: dict) -> None:
    more_steps = dataclasses.replace(TINY, steps=3)
    spec = model_specs(more_steps, same_home["base"])[1]
    with pytest.raises(HybridBenchError, match="other settings"):
        ensure_trained(more_steps, same_home["base"], spec)


def test_model_names_keep_presets_apart() -> None:
    quick = {s.name for s in model_specs(PRESETS["quick"], "me5-small", alpha_sweep=True)}
    full = {s.name for s in model_specs(PRESETS["full"], "me5-small", alpha_sweep=True)}
    assert quick & full == {"me5-small"}  # only the (untrained) base is shared
    first_seed = {"mono-me5-small", "cross-me5-small", "hybrid-me5-small", "hybrid-me5-small-a0.25",
                  "hybrid-me5-small-a0.75"}
    assert full - {"me5-small"} == first_seed | {f"{name}-seed{s}" for name in first_seed for s in (43, 44)}


def test_lareqa_sample_keeps_parallel_questions_and_answers(shared_data: Path) -> None:
    from hybrid_bench.data.splits import load_xquad_r_heldout

    data = load_xquad_r_heldout()
    small = data.sample(languages=["de", "en"], max_queries=10, max_candidates=30, seed=1)
    assert small.langs == ("de", "en")
    qids = {lang: {q.qid for q in small.questions[lang]} for lang in small.langs}
    assert len(qids["de"]) == 10 and qids["de"] == qids["en"]
    for lang in small.langs:
        ids = {c.id for c in small.candidates[lang]}
        assert len(ids) <= 30
        assert all(q.answer_candidate in ids for q in small.questions[lang])
    again = data.sample(languages=["de", "en"], max_queries=10, max_candidates=30, seed=1)
    assert qids["de"] == {q.qid for q in again.questions["de"]}  # deterministic for a seed
    # the task applies the same sample through its public hook, also for the held-out task's own loader
    from hybrid_bench.tasks.lareqa import XQuADRHeldOutRetrieval

    task = XQuADRHeldOutRetrieval()
    task.set_sample(languages=["de", "en"], max_queries=10, max_candidates=30, seed=1)
    assert task.lareqa_data.langs == ("de", "en")
    assert {q.qid for q in task.lareqa_data.questions["en"]} == qids["en"]


def _pool_frames(target: Path, lang: str) -> dict[str, pd.DataFrame]:
    return {kind: pd.read_parquet(next((target / f"{lang}-{kind}").glob("*.parquet")))
            for kind in ("queries", "qrels", "corpus")}


def test_sample_miracl_mirror(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "miracl-lite"
    target = sample_miracl_mirror(source, tmp_path / "m", queries=2, fill=8, seed=0)
    for lang in ("sw", "yo"):
        frames = _pool_frames(target, lang)
        queries, qrels, corpus = frames["queries"], frames["qrels"], frames["corpus"]
        assert len(queries) == 2 and set(qrels["query-id"].astype(str)) <= set(queries["_id"].astype(str))
        assert set(qrels["corpus-id"]) <= set(corpus["_id"])  # every judged passage is kept
        assert len(corpus) == qrels["corpus-id"].nunique() + 8  # the fill comes on top of the judged passages
    assert (target / "SHA256SUMS").read_text() != (source / "SHA256SUMS").read_text()
    stamp = (target / "SHA256SUMS").stat().st_mtime_ns
    sample_miracl_mirror(source, target, queries=2, fill=8, seed=0)
    assert (target / "SHA256SUMS").stat().st_mtime_ns == stamp  # same settings: reused


def test_fallback_pool_keeps_every_judged_passage_and_states_the_fill(shared_data: Path, tmp_path: Path) -> None:
    """Issue 11's fallback: every passage of a language with >= 30 queries; the others every judged passage (no
    cap: ar/id/sw got no fill at all under the old 150-passage cap) plus 1,000 random ones; stated per language."""
    source = shared_data / "miracl-lite"
    target = sample_miracl_mirror(source, tmp_path / "pool", queries=None, seed=42, **{
        "fill": MIRACL_FALLBACK["miracl_fill"], "full_min_queries": MIRACL_FALLBACK["miracl_full_min_queries"]})
    pool = json.loads((target / "pool.json").read_text())
    for lang, stated in pool.items():
        src = _pool_frames(source, lang)
        got = _pool_frames(target, lang)
        assert len(got["queries"]) == len(src["queries"]) == stated["queries"]  # every query
        judged = set(src["qrels"]["corpus-id"].astype(str)) & set(src["corpus"]["_id"].astype(str))
        assert judged <= set(got["corpus"]["_id"].astype(str)), lang  # no cap on judged passages
        if stated["queries"] >= 30:
            assert stated["all"] and len(got["corpus"]) == len(src["corpus"]), lang
        else:
            expected = min(len(src["corpus"]), len(judged) + 1000)
            assert len(got["corpus"]) == stated["passages"] == expected, lang
            assert stated["fill"] == expected - len(judged), lang
    assert {lang for lang, p in pool.items() if p["queries"] >= 30} == {"ar", "fa", "hi", "id", "sw", "te"}
    line = pool_summary(target)
    assert line.startswith("MIRACL pool: ") and "ar: all 4,253" in line and "bn: 41 judged + 1,000 random of 1,727" in line
    assert "yo: all 705" in line  # fewer passages than judged + fill: the whole language


def test_all_language_preset_evaluates_miracl_on_what_the_mirror_holds(shared_data: Path, tmp_path: Path) -> None:
    # miracl-lite has no Thai; a preset over all languages must not ask the mirror for it (it would stop the run)
    target = sample_miracl_mirror(shared_data / "miracl-lite", tmp_path / "m", queries=1, fill=3, seed=0)
    held = available_languages(target)
    assert "th" not in held and {"sw", "yo", "ar"} <= set(held)
    everything = dataclasses.replace(PRESETS["full"], languages=None)
    mono = build_task("MIRACLRetrieval", everything, target, held)
    assert sorted(mono.hf_subsets) == sorted(held)
    cross = build_task("MIRACLCrossLingualRetrieval", everything, target, held)
    assert {s.split("-")[0] for s in cross.hf_subsets} == set(held)
    # an explicit preset language list wins over the mirror's
    assert build_task("MIRACLRetrieval", PRESETS["quick"], target, held).hf_subsets == ["de", "en", "es"]


def test_cli_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = capsys.readouterr().out
    assert "--quick" in text and "--alpha-sweep" in text and "examples:" in text
    assert os.environ.get("HYBRID_BENCH_MIRRORS") is None or "miracl-tiny" not in os.environ["HYBRID_BENCH_MIRRORS"]


def test_seeded_run_end_to_end(tmp_path: Path, tiny_model_dir: Path, shared_data: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two training seeds per strategy through the real pipeline: the trainings differ only in their seed, the
    leaderboard finds the arms in the exported training records, shows seed spreads, decides the primary endpoint
    and draws the α figure, and rebuilds from its own per-query files."""
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    preset = dataclasses.replace(TINY, name="tinyseeds", seeds=2, tasks=("XQuADRHeldOutRetrieval", "MIRACLRetrieval"))
    reproduce(preset, tmp_path / "results", base=str(tiny_model_dir), leaderboard_out=tmp_path / "board")
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "results" / "training").glob("*.json")}
    assert set(records) == {f"{s}-st-tinyseeds{suffix}" for s in ("mono", "cross", "hybrid")
                            for suffix in ("", f"-seed{TINY.seed + 1}")}
    assert {r["seed"] for r in records.values()} == {TINY.seed, TINY.seed + 1}
    meta = json.loads((tmp_path / "board" / "meta.json").read_text())
    assert meta["arms"]["hybrid-st-tinyseeds"] == {str(TINY.seed): "hybrid-st-tinyseeds",
                                                   str(TINY.seed + 1): f"hybrid-st-tinyseeds-seed{TINY.seed + 1}"}
    decisions = pd.read_csv(tmp_path / "board" / "decisions.csv")
    primary = decisions[decisions["endpoint"] == "primary"]
    assert len(primary) == 2 and (primary["n_seeds"] == 2).all() and primary["seed_sd"].notna().all()
    assert (tmp_path / "board" / "table1_map_seed_sd.csv").is_file()
    assert (tmp_path / "board" / "plots" / "alpha_sweep_MIRACLRetrieval_ndcg_at_10.png").is_file()
    assert sorted(p.parent.name for p in (tmp_path / "board" / "per_query").rglob("MIRACLRetrieval_per_query.parquet")) \
        == sorted(["st", *records])
