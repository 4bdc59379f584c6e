"""XQuAD-R / MLQA-R MTEB tasks: settings, full-pool scoring through mteb, encode-once, per-query output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import mteb
import numpy as np
import pandas as pd
import pytest
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta

from fake_models import HashEncoder
from mteb_parity import assert_scores_match_mteb

from hybrid_bench.data.lareqa import XQUAD_R_LANGS, load_lareqa
from hybrid_bench.tasks import lareqa as T
from hybrid_bench.tasks.lareqa_settings import SETTING_KINDS, SETTING_TASKS


def _small_xquad_copy(shared_data: Path, root: Path, n_articles: int = 2) -> Path:
    """The first articles of every XQuAD-R language file (the files are parallel by position)."""
    out = root / "lareqa" / "xquad-r"
    out.mkdir(parents=True)
    for lang in XQUAD_R_LANGS:
        raw = json.loads((shared_data / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        raw["data"] = raw["data"][:n_articles]
        (out / f"{lang}.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return root


class OracleEncoder(AbsEncoder):
    """Embeds a question as the one-hot of its qid and a sentence as the sum of the one-hots of the questions it
    answers (several questions can share an answer sentence); other sentences get random vectors orthogonal to
    every one-hot. Relevant candidates then always outrank the rest. Counts every text it is asked to encode."""

    def __init__(self, data: Any) -> None:
        self.mteb_model_meta = ModelMeta(
            loader=None, name="test/oracle", revision="r1", release_date=None, languages=None, n_parameters=None,
            memory_usage_mb=None, max_tokens=None, embed_dim=None, license=None, open_weights=True,
            public_training_code=None, public_training_data=None, framework=["NumPy"],
            similarity_fn_name="cosine", use_instructions=False, training_datasets=None,
        )
        qids = {qid: i for i, qid in enumerate(data.qids())}
        self.groups: dict[tuple[str, str], set[int]] = {}
        for lang in data.langs:
            text_of = {c.id: c.text for c in data.candidates[lang]}
            for q in data.questions[lang]:
                self.groups.setdefault(("query", q.text), set()).add(qids[q.qid])
                self.groups.setdefault(("document", text_of[q.answer_candidate].strip()), set()).add(qids[q.qid])
        self.dim = len(qids) + 64
        self.seen: Counter[tuple[str, str]] = Counter()
        self.rng = np.random.default_rng(0)

    def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, prompt_type: Any = None,
               **kwargs: Any) -> np.ndarray:
        texts = [t for batch in inputs for t in batch["text"]]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            self.seen[(prompt_type.value, text)] += 1
            groups = self.groups.get((prompt_type.value, text))
            if groups is None:
                out[i, -64:] = self.rng.normal(size=64)
            else:
                out[i, sorted(groups)] = 1.0
        return out


@pytest.fixture(scope="module")
def small_data_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _small_xquad_copy(shared_data, tmp_path_factory.mktemp("xq"))


def test_settings_cover_mono_cross_and_pool() -> None:
    xq, ml = T.XQuADRRetrieval(), T.MLQARRetrieval()
    assert len(xq.metadata.eval_langs) == 132 and len(ml.metadata.eval_langs) == 56
    kinds = Counter(T.setting_of(s) for s in xq.metadata.eval_langs)
    assert kinds == {"mono": 11, "cross": 110, "multi": 11}
    assert Counter(T.setting_of(s) for s in ml.metadata.eval_langs) == {"mono": 7, "cross": 42, "multi": 7}
    assert xq.metadata.main_score == "map"
    assert xq.metadata.license == "cc-by-sa-4.0" and ml.metadata.license == "cc-by-nc-4.0"


def test_summarize_averages_per_setting() -> None:
    scores = {
        "eng-eng": {"map": 0.8}, "deu-deu": {"map": 0.6},
        "eng-deu": {"map": 0.5}, "deu-eng": {"map": 0.3},
        "eng-pool": {"map": 0.4, "language_bias": 10.0}, "deu-pool": {"map": 0.2, "language_bias": 30.0},
    }
    assert T.summarize(scores) == pytest.approx({"mono": 0.7, "cross": 0.4, "multi": 0.3, "bias": 20.0})


def test_oracle_model_scores_perfectly_and_texts_are_encoded_once(
    small_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRID_BENCH_DATA", str(small_data_dir))
    data = load_lareqa("xquad-r", allow_modified=True)
    model = OracleEncoder(data)
    task = T.XQuADRRetrieval(allow_modified_data=True).filter_languages(["deu", "eng"])
    subsets = set(task.hf_subsets)
    assert {"deu-deu", "deu-eng", "eng-zho", "zho-deu", "deu-pool", "eng-pool"} <= subsets
    result = mteb.evaluate(model, [task], cache=mteb.cache.ResultCache(tmp_path / "cache"),
                           prediction_folder=tmp_path / "pred")
    scores = {s["hf_subset"]: s for s in result.task_results[0].scores["test"]}
    assert set(scores) == subsets
    n_q = len(data.questions["de"])
    for subset, s in scores.items():
        assert s["map"] == pytest.approx(1.0), subset
        assert s["main_score"] == s["map"]
        assert s["n_queries"] == n_q
    # every parallel answer shares the query's vector → ranks 1..11 → rank distance 10 exactly
    assert scores["eng-pool"]["language_bias"] == pytest.approx(len(XQUAD_R_LANGS) - 1)
    assert scores["eng-pool"]["n_candidates"] == sum(len(c) for c in data.candidates.values())

    # encode once: each unique (prompt type, text) reached the model exactly once over all subsets
    assert max(model.seen.values()) == 1
    queried = {q.text for lang in data.langs for q in data.questions[lang]}
    # mteb's document loader strips surrounding whitespace (title + " " + text).strip()
    candidates = {c.text.strip() for lang in data.langs for c in data.candidates[lang]}
    assert {t for p, t in model.seen if p == "query"} == queried
    assert {t for p, t in model.seen if p == "document"} == candidates

    per_query = pd.read_parquet(tmp_path / "pred" / "XQuADRRetrieval_per_query.parquet")
    assert set(per_query["subset"]) == subsets
    assert (per_query["model"] == "test/oracle").all() and (per_query["ap"] == 1.0).all()
    assert per_query.groupby("subset").size().eq(n_q).all()
    pool = per_query[per_query["subset"] == "eng-pool"]
    assert (pool["language_bias"] == 10).all()
    assert per_query[per_query["subset"] == "eng-deu"]["language_bias"].isna().all()


def test_heldout_task_uses_only_heldout_articles(shared_data: Path) -> None:
    from hybrid_bench.data.splits import xquad_r_article_split

    task = T.XQuADRHeldOutRetrieval()
    split = xquad_r_article_split()
    data = task.lareqa_data
    arts = {q.article for lang in data.langs for q in data.questions[lang]}
    arts |= {c.article for lang in data.langs for c in data.candidates[lang]}
    assert arts == set(split.heldout) and not arts & set(split.train)


def test_tiny_sentence_transformer_through_mteb(small_data_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (tiny) sentence-transformers model through mteb's wrapper: scores are valid probabilities."""
    from mteb.models import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("HYBRID_BENCH_DATA", str(small_data_dir))
    model = SentenceTransformerEncoderWrapper(SentenceTransformer(str(tiny_model_dir), device="cpu"))
    task = T.XQuADRRetrieval(allow_modified_data=True).filter_languages(["eng"], hf_subsets=["eng-eng", "eng-pool"])
    result = mteb.evaluate(model, [task], cache=mteb.cache.ResultCache(tmp_path))
    scores = {s["hf_subset"]: s for s in result.task_results[0].scores["test"]}
    for s in scores.values():
        assert 0.0 < s["map"] <= 1.0 and 0.0 <= s["recall_at_10"] <= 1.0
    assert scores["eng-pool"]["language_bias"] >= 0
    assert scores["eng-pool"]["n_candidates"] > scores["eng-eng"]["n_candidates"]


@pytest.mark.parametrize("task_cls", (*T.LAREQA_TASKS, *SETTING_TASKS), ids=lambda cls: cls.metadata.name)
def test_every_lareqa_task_writes_mtebs_retrieval_set_equal_to_mtebs_evaluator(task_cls: type, shared_data: Path) -> None:
    """mteb's whole retrieval set (nDCG/MAP/recall/precision/MRR/hit rate @ 1…1000, accuracy, nAUCs) next to our own
    metrics, each equal to mteb's RetrievalEvaluator + pytrec_eval on the task's own split (sampled: de, en)."""
    task = task_cls(data_dir=shared_data)
    task.set_sample(languages=["de", "en"], max_queries=25, max_candidates=120, seed=1)
    wanted = [s for s in T.lareqa_subsets(task.lareqa_name, ["de", "en"]) if s in task.metadata.eval_langs]
    task = task.filter_languages(None, hf_subsets=wanted[:3])
    ours = assert_scores_match_mteb(task, HashEncoder(), "test", task.hf_subsets)
    for subset, scores in ours.items():
        assert scores["main_score"] == scores["map"] and "precision_at_1000" in scores and "mrr" in scores
        assert scores["map"] >= scores["map_at_10"]  # the full-ranking AP is not cut
        assert ("language_bias" in scores) == subset.endswith("-pool")


def test_setting_tasks_are_found_by_mteb_and_hold_exactly_one_kind_of_setting() -> None:
    parents = {"XQuADR": T.XQuADRRetrieval, "XQuADRHeldOut": T.XQuADRHeldOutRetrieval, "MLQAR": T.MLQARRetrieval}
    names = [f"{p}{k.capitalize()}Retrieval" for p in parents for k in SETTING_KINDS]
    assert [t.metadata.name for t in mteb.get_tasks(tasks=names)] == names
    for prefix, parent in parents.items():
        by_kind = {k: set(mteb.get_task(f"{prefix}{k.capitalize()}Retrieval").hf_subsets) for k in SETTING_KINDS}
        for kind, subsets in by_kind.items():
            assert subsets == {s for s in parent.metadata.eval_langs if T.setting_of(s) == kind}, (prefix, kind)
        assert set.union(*by_kind.values()) == set(parent.metadata.eval_langs)  # together: the parent, no more
    assert len(mteb.get_task("XQuADRCrossRetrieval").hf_subsets) == 110
    assert mteb.get_task("MLQARMonoRetrieval").metadata.adapted_from == ["MLQARRetrieval"]


def test_a_setting_tasks_mteb_score_is_its_kinds_mean_of_the_parents_settings(shared_data: Path,
                                                                               tmp_path: Path) -> None:
    """The mono task scores each mono setting exactly as the parent does, its texts reach the model as the parent's
    (so the embedding cache serves both), and mteb's aggregate is then the mono mean, not the 132-setting mean."""
    model = HashEncoder()
    parent = T.XQuADRRetrieval(data_dir=shared_data)
    mono = SETTING_TASKS[0](data_dir=shared_data)
    for task in (parent, mono):
        task.set_sample(languages=["de", "en", "es"], max_queries=20, max_candidates=80, seed=2)
    wanted = T.lareqa_subsets("xquad-r", ["de", "en", "es"])
    parent = parent.filter_languages(None, hf_subsets=[s for s in wanted if not s.endswith("-pool")])
    mono = mono.filter_languages(None, hf_subsets=[s for s in wanted if T.setting_of(s) == "mono"])
    cache = mteb.cache.ResultCache(tmp_path)
    whole = mteb.evaluate(model, [parent], cache=cache).task_results[0]
    texts = model.texts_encoded
    only = mteb.evaluate(model, [mono], cache=cache).task_results[0]
    assert model.texts_encoded == texts  # nothing encoded again
    by_subset = {s["hf_subset"]: s for s in whole.scores["test"]}
    mono_scores = {s["hf_subset"]: s for s in only.scores["test"]}
    assert set(mono_scores) == {"deu-deu", "eng-eng", "spa-spa"}
    for subset, scores in mono_scores.items():
        assert scores["map"] == by_subset[subset]["map"] and scores["ndcg_at_10"] == by_subset[subset]["ndcg_at_10"]
    assert only.get_score() == pytest.approx(np.mean([s["map"] for s in mono_scores.values()]))
    assert whole.get_score() != pytest.approx(only.get_score())  # the parent's aggregate mixes 3 mono + 6 cross
