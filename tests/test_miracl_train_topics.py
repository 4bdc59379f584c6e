"""MIRACLTrainTopicsRetrieval: MIRACL's train topics, scored exactly as the stock MIRACLRetrieval scores its data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mteb
import pytest
from test_reproduce import TINY

from hybrid_bench.data.mirrors import Mirror, mirror_revision, use_mirror
from hybrid_bench.errors import DataError
from hybrid_bench.experiment.eval_stage import build_task
from hybrid_bench.tasks.miracl_train_topics import FOLDER, LANGUAGES, MIRACLTrainTopicsRetrieval


def test_scores_are_the_stock_tasks_on_the_same_folder(shared_data: Path, tiny_model_dir: Path) -> None:
    from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval

    folder = shared_data / FOLDER
    from hybrid_bench.evaluation import load_model

    model = load_model(str(tiny_model_dir))
    ours = MIRACLTrainTopicsRetrieval().filter_languages(["eng"])
    stock = MIRACLRetrieval().filter_languages(["eng"])
    use_mirror(stock, Mirror("mteb/MIRACLRetrieval", folder.resolve()))
    a = mteb.evaluate(model, ours, cache=None).task_results[0]
    b = mteb.evaluate(model, stock, cache=None).task_results[0]
    assert a.scores["dev"][0]["ndcg_at_10"] == pytest.approx(b.scores["dev"][0]["ndcg_at_10"], abs=1e-12)
    assert a.scores["dev"][0]["n_queries"] == 53  # the folder's README: 53 English train topics
    # the result names the folder's content, never the dev mirror's
    assert a.dataset_revision == mirror_revision(folder.resolve()) != mirror_revision(shared_data / "miracl-lite")


def test_the_experiment_evaluates_the_languages_the_folder_holds(shared_data: Path) -> None:
    preset = dataclasses.replace(TINY, tasks=("MIRACLRetrieval", "MIRACLTrainTopicsRetrieval"))
    task = build_task("MIRACLTrainTopicsRetrieval", preset, None, train_topics_folder=shared_data / FOLDER)
    assert task.hf_subsets == ["en"]  # the preset's de and en: no German train topics
    full = build_task("MIRACLTrainTopicsRetrieval", dataclasses.replace(preset, languages=None), None,
                      train_topics_folder=shared_data / FOLDER)
    assert sorted(full.hf_subsets) == sorted(LANGUAGES)
    assert task.metadata.revision.startswith("mirror:")


def test_without_data_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYBRID_BENCH_DATA", str(tmp_path))
    monkeypatch.delenv("HYBRID_BENCH_MIRRORS", raising=False)
    with pytest.raises(DataError, match="no MIRACL train-topic data"):
        MIRACLTrainTopicsRetrieval().load_data()
