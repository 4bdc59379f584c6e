"""BEIR export: beir's own GenericDataLoader reads every kind of setting, and a dense run through beir's
EvaluateRetrieval on the export reproduces the task's own nDCG@10 for that setting (tiny model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import mteb
import pytest
from beir.datasets.data_loader import GenericDataLoader
from beir.retrieval.evaluation import EvaluateRetrieval
from beir.retrieval.models import SentenceBERT
from beir.retrieval.search.dense import DenseRetrievalExactSearch
from sentence_transformers import SentenceTransformer
from test_miracl import miracl_slice, mirrored  # noqa: F401 -- fixtures: a small MIRACL mirror (de, sw, yo)
from tiny_model import build_tiny_model, word_vocab

from hybrid_bench.beir_export import EXPORT_RECORD, export_beir
from hybrid_bench.errors import HybridBenchError
from hybrid_bench.tasks.descriptive_stats import load as load_stats
from hybrid_bench.tasks.lareqa import XQuADRRetrieval
from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval, MIRACLMonolingualRetrieval

ENCODE = {"batch_size": 64, "show_progress_bar": False}


def _tiny_model_for(task: Any, out: Path) -> Path:  # noqa: ANN401
    """A tiny model whose WordPiece vocabulary holds the task's own words: few texts embed identically, so the
    ranking has no ties (pytrec_eval and hybrid-bench break ties differently; a model that maps most words to [UNK]
    would compare tie-breaking rules, not the export). The vocabulary is :func:`tiny_model.word_vocab`, the same in
    every process: one trained by ``tokenizers`` changes from run to run, and now and then its model had near-ties."""
    task.load_data()
    split = task.metadata.eval_splits[0]
    texts = [t for subset in task.hf_subsets for part in ("corpus", "queries")
             for t in task.dataset[subset][split][part]["text"]]
    build_tiny_model(out, vocab=word_vocab(texts[:20_000]))
    return out / "st"


def _beir_ndcg10(model_dir: Path, folder: Path, split: str) -> float:
    corpus, queries, qrels = GenericDataLoader(str(folder)).load(split=split)
    # the model's own "query: " / "passage: " prompts, as mteb applies them (encode_query / encode_document)
    model = SentenceBERT(str(model_dir), prompt_names={"query": "query", "passage": "document"})
    retriever = EvaluateRetrieval(DenseRetrievalExactSearch(model, batch_size=64), score_function="cos_sim",
                                  k_values=[10])
    results = retriever.retrieve(corpus, queries)
    ndcg, *_ = retriever.evaluate(qrels, results, retriever.k_values)
    return ndcg["NDCG@10"]


def _task_ndcg10(task: Any, model_dir: Path) -> dict[str, float]:  # noqa: ANN401
    result = mteb.evaluate(SentenceTransformer(str(model_dir)), task, cache=None, encode_kwargs=ENCODE,
                           show_progress_bar=False)
    (task_result,) = result.task_results
    (scores,) = task_result.scores.values()
    return {s["hf_subset"]: s["ndcg_at_10"] for s in scores}


def _loads(folder: Path, split: str, task: Any, subset: str) -> None:  # noqa: ANN401
    corpus, queries, qrels = GenericDataLoader(str(folder)).load(split=split)
    data = task.dataset[subset][split]
    assert sorted(corpus) == sorted(data["corpus"]["id"]), (len(corpus), len(data["corpus"]))
    assert sorted(queries) == sorted(data["queries"]["id"])
    assert qrels == {q: docs for q, docs in data["relevant_docs"].items() if docs}


def test_lareqa_mono_cross_pool_load_and_reproduce_ndcg(tmp_path: Path, shared_data: Path) -> None:
    subsets = ["deu-deu", "deu-eng", "deu-pool"]
    task = XQuADRRetrieval().filter_languages(None, hf_subsets=subsets)
    task.set_sample(languages=["de", "en"], max_queries=40, max_candidates=120)
    folders = export_beir(task, tmp_path / "xquad", progress=False)
    tiny_model_dir = _tiny_model_for(task, tmp_path / "tiny")
    assert folders == [tmp_path / "xquad" / s for s in subsets]
    expected = _task_ndcg10(task, tiny_model_dir)
    for subset, folder in zip(subsets, folders):
        _loads(folder, "test", task, subset)
        assert _beir_ndcg10(tiny_model_dir, folder, "test") == pytest.approx(expected[subset], abs=1e-4), subset
    pool_corpus, _, pool_qrels = GenericDataLoader(str(folders[2])).load(split="test")
    assert {doc.split(":")[0] for doc in pool_corpus} == {"de", "en"}  # the pool holds both languages
    assert all(len(docs) == 2 for docs in pool_qrels.values())  # one relevant sentence per language
    record = json.loads((tmp_path / "xquad" / EXPORT_RECORD).read_text(encoding="utf-8"))
    assert record["subsets"] == subsets and record["license"] == "cc-by-sa-4.0"


def test_miracl_pools_load_and_reproduce_ndcg(tmp_path: Path, mirrored: Path) -> None:
    cross = MIRACLCrossLingualRetrieval().filter_languages(None, hf_subsets=["sw-mono", "sw-all"])
    mono = MIRACLMonolingualRetrieval().filter_languages(None, hf_subsets=["sw"])
    tiny_model_dir = _tiny_model_for(cross, tmp_path / "tiny")
    for task, subsets in ((cross, ["sw-mono", "sw-all"]), (mono, ["sw"])):
        out = tmp_path / task.metadata.name
        folders = export_beir(task, out, progress=False)
        expected = _task_ndcg10(task, tiny_model_dir)
        split = task.metadata.eval_splits[0]
        for subset, folder in zip(subsets, folders if len(subsets) > 1 else [out]):
            _loads(folder, split, task, subset)
            assert _beir_ndcg10(tiny_model_dir, folder, split) == pytest.approx(expected[subset], abs=1e-4)
    all_corpus, _, _ = GenericDataLoader(str(tmp_path / "MIRACLCrossLingualRetrieval" / "sw-all")).load(split="dev")
    assert {doc.split(":")[0] for doc in all_corpus} == {"de", "sw", "yo"}  # the mixed-language pool


def test_cli_mlqa_export_states_the_non_commercial_licence(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "mlqa-ara-deu"
    cmd = [sys.executable, "-m", "hybrid_bench.cli", "export", "beir", "MLQARRetrieval", "--subset", "ara-deu", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "non-commercial use only" in (out / "README.md").read_text(encoding="utf-8")
    assert json.loads((out / EXPORT_RECORD).read_text(encoding="utf-8"))["license"] == "cc-by-nc-4.0"
    corpus, queries, qrels = GenericDataLoader(str(out)).load(split="test")
    committed = load_stats("MLQARRetrieval")["test"]["hf_subset_descriptive_stats"]["ara-deu"]
    assert (len(queries), len(corpus)) == (committed["num_queries"], committed["num_documents"])
    assert all(doc.startswith("de:") for docs in qrels.values() for doc in docs)
    # never silently replaced; a bad setting is one error line
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad = subprocess.run([*cmd[:-3], "--subset", "ara-xyz", str(tmp_path / "x")], capture_output=True, text=True,
                         timeout=600, check=False)
    assert bad.returncode == 1 and "no setting(s) ['ara-xyz']" in bad.stderr and "Traceback" not in bad.stderr


def test_unknown_task_is_a_clear_error() -> None:
    with pytest.raises(HybridBenchError, match="unknown task"):
        export_beir("NoSuchRetrieval", "/nonexistent/out")
