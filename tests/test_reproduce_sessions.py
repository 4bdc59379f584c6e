"""``reproduce`` across sessions: a run cut short leaves finished models in its (committed) output folder, and the
next session — a fresh checkout, an empty model store — neither retrains nor loads them (tiny base, real data)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from test_reproduce import TINY

from hybrid_bench.experiment import reproduce
from hybrid_bench.experiment.eval_stage import RAW_PREDICTIONS_DIR
from hybrid_bench.experiment.train_stage import MODEL_REVISION
from hybrid_bench.training import trainer

PRESET = dataclasses.replace(TINY, tasks=("XQuADRHeldOutRetrieval", "MIRACLRetrieval"))


class _SessionEnds(Exception):
    """Stands for the end of a session (its time limit) in the middle of a run."""


def _stop_after(label: str, events: list):
    def on_event(event) -> None:
        events.append(event)
        if event.kind == "end" and event.label == label:
            raise _SessionEnds(label)
    return on_event


def test_next_session_skips_finished_models_without_the_model_store(
        tmp_path: Path, tiny_model_dir: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, base = tmp_path / "committed-results", str(tiny_model_dir)
    trained: list[str] = []
    real_train = trainer.train_model

    def counting_train(config, name, **kwargs):
        trained.append(name)
        return real_train(config, name, **kwargs)

    monkeypatch.setattr(trainer, "train_model", counting_train)

    # session 1: the base, then mono trained and evaluated; the session ends before cross is trained
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home-1"))
    first: list = []
    with pytest.raises(_SessionEnds):
        reproduce(PRESET, out, base=base, on_event=_stop_after("evaluate mono-st-tiny on MIRACLRetrieval", first))
    assert trained == ["mono-st-tiny"]
    assert [e.label for e in first if e.kind == "end"] == [
        "evaluate st on XQuADRHeldOutRetrieval", "evaluate st on MIRACLRetrieval", "train mono-st-tiny (α=1)",
        "evaluate mono-st-tiny on XQuADRHeldOutRetrieval", "evaluate mono-st-tiny on MIRACLRetrieval"]
    record_file = out / "training" / "mono-st-tiny.json"
    record = json.loads(record_file.read_text(encoding="utf-8"))
    assert record[MODEL_REVISION].startswith("local-")
    assert (out / "results" / "hybrid-bench__mono-st-tiny" / record[MODEL_REVISION] / "MIRACLRetrieval.json").is_file()
    # what is committed holds per-query scores, not mteb's ranked lists (megabytes for MIRACL's whole pool)
    predictions = out / "predictions" / f"hybrid-bench__mono-st-tiny__{record[MODEL_REVISION]}"
    assert (predictions / "MIRACLRetrieval_per_query.parquet").is_file()
    assert not list((out / "predictions").rglob("*_predictions.json"))
    assert (out / RAW_PREDICTIONS_DIR / predictions.name / "MIRACLRetrieval_predictions.json").is_file()
    stamp = record_file.stat().st_mtime_ns

    # session 2: a fresh model store (the trained model is gone), the same output folder
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home-2"))
    trained.clear()
    loaded: list[str] = []
    from hybrid_bench.experiment import stages

    real_load = stages.load_encoder
    monkeypatch.setattr(stages, "load_encoder",
                        lambda spec, *a, **k: loaded.append(spec.name) or real_load(spec, *a, **k))
    second: list = []
    summary = reproduce(PRESET, out, base=base, on_event=second.append)
    assert trained == ["cross-st-tiny", "hybrid-st-tiny"]  # mono is not trained again
    assert "mono-st-tiny" not in loaded and "st" not in loaded  # nor are finished models loaded
    assert not (tmp_path / "home-2" / "models" / "mono-st-tiny").exists()
    assert record_file.stat().st_mtime_ns == stamp
    skipped = [e.label for e in second if e.kind == "end" and e.skipped]
    assert skipped == ["evaluate st on XQuADRHeldOutRetrieval", "evaluate st on MIRACLRetrieval",
                       "train mono-st-tiny (α=1)", "evaluate mono-st-tiny on XQuADRHeldOutRetrieval",
                       "evaluate mono-st-tiny on MIRACLRetrieval"]
    # the leaderboard has every model, mono from the earlier session, with per-query intervals for MIRACL
    scores = pd.read_csv(summary.leaderboard / "scores_long.csv.gz")
    assert {"mono-st-tiny", "cross-st-tiny", "hybrid-st-tiny"} <= set(scores["label"])
    exported = {p.parent.name for p in (summary.leaderboard / "per_query").rglob("MIRACLRetrieval_per_query.parquet")}
    assert {"st", "mono-st-tiny", "cross-st-tiny", "hybrid-st-tiny"} <= exported

    # session 3: cross's committed results are for a revision the retrained model does not have (simulated: its
    # record names another hash, whose results folder holds a partial copy): retrained, the old results set aside
    import shutil

    cross_file = out / "training" / "cross-st-tiny.json"
    cross = json.loads(cross_file.read_text(encoding="utf-8"))
    real, fake = cross[MODEL_REVISION], "local-000000000000"
    cross_file.write_text(json.dumps({**cross, MODEL_REVISION: fake}), encoding="utf-8")
    results = out / "results" / "hybrid-bench__cross-st-tiny"
    shutil.copytree(results / real, results / fake)
    (results / fake / "MIRACLRetrieval.json").unlink()  # partly evaluated
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home-3"))
    trained.clear()
    third: list = []
    reproduce(PRESET, out, base=base, on_event=third.append)
    assert trained == ["cross-st-tiny"]  # hybrid, mono: finished in earlier sessions
    notes = [e.text for e in third if e.kind == "note"]
    assert any(f"cross-st-tiny: not fully evaluated as revision {fake}" in n for n in notes)
    assert any(f"the earlier results are for revision {fake}; never mixed" in n for n in notes)
    assert (out / "superseded" / "results" / "hybrid-bench__cross-st-tiny" / fake).is_dir()
    now = json.loads(cross_file.read_text(encoding="utf-8"))[MODEL_REVISION]
    assert now != fake and not (results / fake).exists() and (results / now / "MIRACLRetrieval.json").is_file()

    # every model and evaluation names the machine it ran on; the record names the data it was trained on
    assert now_record_machine(cross_file)["cpu_kind"] in {"amx", "avx512-bf16", "no-bf16"}
    ledger = json.loads((out / "reproduce_state.json").read_text(encoding="utf-8"))
    assert all(entry["machine"]["versions"]["torch"] for key, entry in ledger["done"].items()
               if "cross-st-tiny" in key)
    # ... and the top 100 of every query as a TREC run that re-scores to the committed per-query values
    import gzip

    import pytrec_eval

    runs = sorted((predictions / "MIRACLRetrieval_top100").glob("*.trec.gz"))
    assert runs, "no TREC runs next to the per-query file"
    per_query = pd.read_parquet(predictions / "MIRACLRetrieval_per_query.parquet").set_index(["subset", "query_id"])
    subset = runs[0].name.split(".")[0]
    with gzip.open(runs[0], "rt") as lines:
        run = pytrec_eval.parse_run(lines)
    judged = pd.concat(pd.read_parquet(f) for f in (out / "data").glob(f"*/{subset}-qrels/*.parquet"))
    qrels: dict = {}
    for row in judged.itertuples(index=False):
        qrels.setdefault(str(row[0]), {})[str(row[1])] = int(row[2])
    for query_id, measures in pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run).items():
        assert measures["ndcg_cut_10"] == pytest.approx(per_query.loc[(subset, query_id), "ndcg_at_10"], abs=1e-12)

    # session 4: "done" is the recipe — settings and training data —, not the code version or the machine.
    # mono's committed record names other training data (another content hash): retrained. hybrid's record predates
    # data hashes (none recorded): the pinned XQuAD-R training split is the same by construction, so it is kept.
    mono_file, hybrid_file = out / "training" / "mono-st-tiny.json", out / "training" / "hybrid-st-tiny.json"
    mono = json.loads(mono_file.read_text(encoding="utf-8"))
    assert len(mono["data_sha256"]) == 64
    mono_file.write_text(json.dumps({**mono, "data_sha256": "0" * 64}), encoding="utf-8")
    hybrid = json.loads(hybrid_file.read_text(encoding="utf-8"))
    del hybrid["data_sha256"], hybrid["machine"]
    hybrid_file.write_text(json.dumps(hybrid), encoding="utf-8")
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home-4"))
    trained.clear()
    reproduce(PRESET, out, base=base, on_event=lambda e: None)
    assert trained == ["mono-st-tiny"]


def now_record_machine(record_file: Path) -> dict:
    return json.loads(record_file.read_text(encoding="utf-8"))["machine"]


def test_a_stage_killed_mid_way_is_recomputed_from_scratch(tmp_path: Path, tiny_model_dir: Path,
                                                          shared_data: Path) -> None:
    """mteb rewrites ``<Task>_predictions.json`` in place after every subset: a session that ends inside the MIRACL
    stage leaves a partial, possibly truncated, file there, which the next session must not read or merge."""
    out, base = tmp_path / "committed-results", str(tiny_model_dir)
    with pytest.raises(_SessionEnds):
        reproduce(PRESET, out, base=base, on_event=_stop_after("evaluate st on XQuADRHeldOutRetrieval", []))
    (folder,) = (out / "predictions").iterdir()
    (folder / "MIRACLRetrieval_predictions.json").write_text('{"mteb_model_meta": {"model_name": "hy', "utf-8")
    with pytest.raises(_SessionEnds):
        reproduce(PRESET, out, base=base, on_event=_stop_after("evaluate st on MIRACLRetrieval", []))
    assert not list((out / "predictions").rglob("*_predictions.json"))
    per_query = pd.read_parquet(folder / "MIRACLRetrieval_per_query.parquet")
    result = json.loads(next((out / "results").rglob("MIRACLRetrieval.json")).read_text(encoding="utf-8"))
    subsets = {s["hf_subset"]: s for s in result["scores"]["dev"]}
    assert set(per_query.subset) == set(subsets)
    for subset, scores in subsets.items():
        assert per_query[per_query.subset == subset]["ndcg_at_10"].mean() == pytest.approx(scores["ndcg_at_10"],
                                                                                          abs=1e-5)
