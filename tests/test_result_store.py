"""mteb results written atomically, with the settings that identify them (issue 12, parts 2 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

import mteb
import pytest

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.result_store import SETTINGS_KEY, ResultStore, result_settings


@pytest.fixture
def setup(shared_data: Path, tiny_model_dir: Path):
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    from hybrid_bench.tasks.lareqa import XQuADRRetrieval

    def task():
        t = XQuADRRetrieval().filter_languages(["eng"], hf_subsets=["eng-eng"])
        t.set_sample(languages=["en"], max_queries=20, max_candidates=40)
        return t

    return task, SentenceTransformerEncoderWrapper(str(tiny_model_dir))


def _run(root: Path, task, model, *, overwrite: bool = False, **settings):
    store = ResultStore(root, settings=result_settings(**settings))
    store.check_reuse([task], model.mteb_model_meta, overwrite=overwrite)
    mteb.evaluate(model, [task], cache=store, overwrite_strategy="always" if overwrite else "only-missing",
                  show_progress_bar=False)
    return Path(store.get_task_result_path(task.metadata.name, model.mteb_model_meta))


def test_settings_are_recorded_and_decide_reuse(setup, tmp_path: Path) -> None:
    make_task, model = setup
    path = _run(tmp_path, make_task(), model, max_seq_length=16)
    assert json.loads(path.read_text())[SETTINGS_KEY] == {"max_seq_length": 16}
    with pytest.raises(HybridBenchError, match=r"computed with settings \{'max_seq_length': 16\}, this run asks for "
                                               r"defaults; pass --overwrite"):
        _run(tmp_path, make_task(), model)
    _run(tmp_path, make_task(), model, overwrite=True)
    assert json.loads(path.read_text())[SETTINGS_KEY] == {}
    assert mteb.TaskResult.from_disk(path).task_name == "XQuADRRetrieval"  # mteb still reads it
    assert not list(path.parent.glob(".staging-*"))


def test_truncated_result_is_set_aside_and_recomputed(setup, tmp_path: Path) -> None:
    make_task, model = setup
    path = _run(tmp_path, make_task(), model)
    full = path.read_text()
    path.write_text(full[:300])  # what a kill during mteb's in-place write leaves
    _run(tmp_path, make_task(), model)
    assert json.loads(path.read_text())["scores"] == json.loads(full)["scores"]
    assert (path.parent / f"{path.name}.bad-0").read_text() == full[:300]


def test_kill_while_writing_leaves_the_previous_result(setup, tmp_path: Path, monkeypatch) -> None:
    make_task, model = setup
    path = _run(tmp_path, make_task(), model)
    before = path.read_text()

    def dies_half_way(self, target: Path) -> None:
        target.write_text('{"dataset_revision": "x", "sco')
        raise KeyboardInterrupt  # stands in for SIGKILL: no cleanup code of mteb's runs

    monkeypatch.setattr(mteb.TaskResult, "to_disk", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, make_task(), model, overwrite=True)
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        ["XQuADRRetrieval.json", "model_meta.json", "run_settings.jsonl"])


def test_result_of_other_data_is_not_reused(setup, tmp_path: Path) -> None:
    """mteb reuses a result covering every subset without comparing dataset revisions; the store compares them."""
    make_task, model = setup
    modified = make_task()
    modified.metadata = modified.metadata.model_copy(
        update={"dataset": {**modified.metadata.dataset, "revision": "modified:0123456789ab"}})
    _run(tmp_path, modified, model)
    with pytest.raises(HybridBenchError, match=r"computed on data 'modified:0123456789ab', this run's data is "
                                               r"'9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c'; pass --overwrite"):
        _run(tmp_path, make_task(), model)
    path = _run(tmp_path, make_task(), model, overwrite=True)
    assert json.loads(path.read_text())["dataset_revision"] == "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c"
