"""LAReQA's candidate context: the *Context* task variants encode sentence + paragraph, everything else unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mteb
import pytest
from mteb.models import SentenceTransformerEncoderWrapper
from sentence_transformers import SentenceTransformer

from hybrid_bench.data.lareqa import Candidate
from hybrid_bench.tasks.lareqa import (
    MLQARContextRetrieval,
    MLQARRetrieval,
    XQuADRContextRetrieval,
    XQuADRHeldOutContextRetrieval,
    XQuADRRetrieval,
)
from hybrid_bench.tasks.settings import CONTEXT_SEPARATOR, candidate_text

SUBSETS = ["deu-deu", "deu-eng", "deu-pool"]


def test_candidate_text() -> None:
    cand = Candidate(id="de:0:0:1", lang="de", text="Zweiter Satz.", article="a", context="Erster Satz. Zweiter Satz.")
    assert candidate_text(cand) == "Zweiter Satz."
    assert candidate_text(cand, context=True) == "Zweiter Satz." + CONTEXT_SEPARATOR + "Erster Satz. Zweiter Satz."
    assert candidate_text(Candidate(id="x", lang="de", text="s", article="a"), context=True) == "s"


def test_variants_are_registered_as_their_own_tasks() -> None:
    for cls in (XQuADRContextRetrieval, XQuADRHeldOutContextRetrieval, MLQARContextRetrieval):
        task = mteb.get_task(cls.metadata.name)
        assert isinstance(task, cls) and task.candidate_context
        assert "response encoder" in task.metadata.description
        (base,) = task.metadata.adapted_from
        assert mteb.get_task(base).candidate_context is False
        assert task.metadata.eval_langs == mteb.get_task(base).metadata.eval_langs


def _sampled(cls: type) -> Any:  # noqa: ANN401
    task = cls().filter_languages(None, hf_subsets=SUBSETS)
    task.set_sample(languages=["de", "en"], max_queries=12, max_candidates=40)
    task.load_data()
    return task


def test_same_questions_pools_and_relevance_longer_candidates(shared_data: Path) -> None:
    plain, context = _sampled(XQuADRRetrieval), _sampled(XQuADRContextRetrieval)
    for subset in SUBSETS:
        a, b = plain.dataset[subset]["test"], context.dataset[subset]["test"]
        assert a["corpus"]["id"] == b["corpus"]["id"] and a["queries"]["text"] == b["queries"]["text"]
        assert a["relevant_docs"] == b["relevant_docs"]
        by_id = {c.id: c for lang in plain.lareqa_data.langs for c in plain.lareqa_data.candidates[lang]}
        for doc_id, sentence, with_context in zip(a["corpus"]["id"], a["corpus"]["text"], b["corpus"]["text"]):
            assert with_context == sentence + CONTEXT_SEPARATOR + by_id[doc_id].context
            assert sentence in by_id[doc_id].context


class _Spy(SentenceTransformerEncoderWrapper):
    def __init__(self, model_dir: Path) -> None:
        super().__init__(SentenceTransformer(str(model_dir)))
        self.documents: list[str] = []

    def encode(self, inputs: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        if kwargs["prompt_type"].value == "document":
            self.documents += [t for batch in inputs for t in batch["text"]]
        return super().encode(inputs, **kwargs)


def test_the_model_reads_sentence_and_paragraph_and_scores_change(tiny_model_dir: Path, shared_data: Path) -> None:
    results = {}
    for cls in (MLQARRetrieval, MLQARContextRetrieval):
        task = _sampled(cls)
        spy = _Spy(tiny_model_dir)
        (result,) = mteb.evaluate(spy, task, cache=None, show_progress_bar=False).task_results
        assert result.task_name == cls.metadata.name  # the setting is part of the result's identity
        results[cls.metadata.name] = {s["hf_subset"]: s["map"] for s in result.scores["test"]}
        with_context = [t for t in spy.documents if CONTEXT_SEPARATOR in t]
        assert bool(with_context) == cls.candidate_context, cls.metadata.name
    plain, context = results["MLQARRetrieval"], results["MLQARContextRetrieval"]
    assert plain.keys() == context.keys() and plain != context
    assert all(0 < v <= 1 for v in context.values())


@pytest.mark.parametrize("cls", [MLQARContextRetrieval])
def test_export_records_the_setting(cls: type, tmp_path: Path, shared_data: Path) -> None:
    import json

    from hybrid_bench.beir_export import EXPORT_RECORD, export_beir

    export_beir(_sampled(cls), tmp_path / "out", subsets=["deu-eng"], progress=False)
    record = json.loads((tmp_path / "out" / EXPORT_RECORD).read_text(encoding="utf-8"))
    assert record["task"] == cls.metadata.name and record["task_settings"] == {"candidate_context": True}
