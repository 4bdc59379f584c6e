"""MIRACL: loader errors, the stock task through a mirror, the cross-lingual pooled variant, encode-once."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import mteb
import numpy as np
import pandas as pd
import pytest
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.models import SentenceTransformerEncoderWrapper
from mteb.models.abs_encoder import AbsEncoder
from sentence_transformers import SentenceTransformer

from fake_models import HashEncoder, fake_meta
from mteb_parity import assert_scores_match_mteb

from hybrid_bench.data import miracl as M
from hybrid_bench.data.mirrors import MIRRORS_ENV, apply_mirrors_to_task
from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.per_query import per_query_from_predictions
from hybrid_bench.tasks import miracl as T

SLICE_LANGS = ("de", "sw", "yo")
ENCODE = {"batch_size": 32, "show_progress_bar": False}


def write_mirror(root: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """A folder in the mteb/MIRACLRetrieval layout: one parquet per config, README ``configs:``, SHA256SUMS."""
    root.mkdir(parents=True, exist_ok=True)
    configs, sums = [], []
    for config, frame in tables.items():
        folder = root / config
        folder.mkdir()
        frame.to_parquet(folder / "dev-00000-of-00001.parquet", index=False)
        data = (folder / "dev-00000-of-00001.parquet").read_bytes()
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {config}/dev-00000-of-00001.parquet\n")
        configs.append(f"- config_name: {config}\n  data_files:\n  - split: dev\n    path: {config}/dev-*\n")
    (root / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n", encoding="utf-8")
    (root / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def miracl_slice(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """de, sw, yo of miracl-lite: 8 queries each, their judged passages and 150 other passages per language."""
    src = shared_data / "miracl-lite"
    tables = {}
    for lang in SLICE_LANGS:
        read = lambda kind: pd.read_parquet(src / f"{lang}-{kind}" / "dev-00000-of-00001.parquet")  # noqa: E731
        queries, qrels, corpus = read("queries").iloc[:8], read("qrels"), read("corpus")
        qrels = qrels[qrels["query-id"].isin(queries["_id"])]
        judged = corpus["_id"].isin(set(qrels["corpus-id"]))
        tables[f"{lang}-corpus"] = pd.concat([corpus[judged], corpus[~judged].iloc[:150]], ignore_index=True)
        tables[f"{lang}-queries"] = queries
        tables[f"{lang}-qrels"] = qrels
    return write_mirror(tmp_path_factory.mktemp("miracl") / "miracl-slice", tables)


@pytest.fixture
def mirrored(miracl_slice: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(MIRRORS_ENV, f"{M.MIRACL_REPO}={miracl_slice}")
    return miracl_slice


class SpyEncoder(SentenceTransformerEncoderWrapper):
    """The tiny test model, counting encode calls and the texts sent to the model."""

    def __init__(self, model_dir: Path) -> None:
        super().__init__(SentenceTransformer(str(model_dir)))
        self.calls: list[tuple[str, str, int]] = []

    def encode(self, inputs: Any, **kwargs: Any) -> Any:
        self.calls.append((kwargs["prompt_type"].value, kwargs["hf_subset"], len(inputs.dataset)))
        return super().encode(inputs, **kwargs)


class ScoreEncoder(AbsEncoder):
    """Hand-made geometry: a text containing ``s=<x>`` embeds at cosine ``x`` to every query; queries are e1."""

    def __init__(self) -> None:
        self.mteb_model_meta = fake_meta("test/score-encoder", embed_dim=2)

    def encode(self, inputs: Any, **kwargs: Any) -> np.ndarray:
        out = []
        for batch in inputs:
            for text in batch["text"]:
                match = re.search(r"s=([0-9.]+)", text)
                s = float(match.group(1)) if match else 1.0
                out.append([s, np.sqrt(max(0.0, 1 - s * s))])
        return np.asarray(out, dtype=np.float32)


def _corpus(*rows: tuple[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"_id": [r[0] for r in rows], "title": "", "text": [f"passage s={r[1]}" for r in rows]})


@pytest.fixture
def hand_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sw: s1 (1.0) s2 (0.5) s3 (0.4) s4 (0.3); yo: y1..y8 (0.90..0.83) y9 (0.1).

    sw-q1: s1 relevant, s2 judged non-relevant; sw-q2: s3 relevant; sw-q3: its relevant passage is not in the
    corpus; yo-q1: y9 relevant. Every query embeds at e1, so all share one ranking per pool.
    """
    yo = [(f"y{i}", round(0.91 - 0.01 * i, 2)) for i in range(1, 9)] + [("y9", 0.1)]
    folder = write_mirror(tmp_path / "hand-made", {
        "sw-corpus": _corpus(("s1", 1.0), ("s2", 0.5), ("s3", 0.4), ("s4", 0.3)),
        "sw-queries": pd.DataFrame({"_id": ["q1", "q2", "q3"], "text": ["swali"] * 3}),
        "sw-qrels": pd.DataFrame({"query-id": ["q1", "q1", "q2", "q3"], "corpus-id": ["s1", "s2", "s3", "gone"],
                                  "score": [1, 0, 1, 1]}),
        "yo-corpus": _corpus(*yo),
        "yo-queries": pd.DataFrame({"_id": ["q1"], "text": ["ibeere"]}),
        "yo-qrels": pd.DataFrame({"query-id": ["q1"], "corpus-id": ["y9"], "score": [1]}),
    })
    monkeypatch.setenv(MIRRORS_ENV, f"{M.MIRACL_REPO}={folder}")
    return folder


def _cross_task(langs: list[str]) -> T.MIRACLCrossLingualRetrieval:
    return T.MIRACLCrossLingualRetrieval().filter_languages(langs)


# -- data -------------------------------------------------------------------------------------------------------


def test_load_miracl_reads_the_mteb_layout(shared_data: Path) -> None:
    source = shared_data / "miracl-lite"
    assert "th" not in M.available_languages(source) and len(M.available_languages(source)) == 17
    data = M.load_miracl(["yo", "sw"], source=source)
    assert list(data) == ["yo", "sw"]
    yo = data["yo"]
    assert (yo.n_queries, len(yo.corpus)) == (17, 705)  # the README's table
    assert yo.corpus.column_names == ["id", "title", "text"] and yo.queries.column_names == ["id", "text"]
    assert set(yo.queries["id"]) == set(yo.qrels)
    assert sum(s for docs in yo.qrels.values() for s in docs.values()) == 18  # positives in the README
    assert all(isinstance(d, str) and isinstance(s, int) for docs in yo.qrels.values() for d, s in docs.items())


def test_default_source_is_the_configured_mirror(mirrored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert M.resolve_source() == M.MiraclSource(str(mirrored.resolve()), None, True)
    assert M.available_languages() == list(SLICE_LANGS)
    monkeypatch.delenv(MIRRORS_ENV)
    hub = M.resolve_source()
    assert (hub.path, hub.revision, hub.is_local) == (M.MIRACL_REPO, M.MIRACL_REVISION, False)


def test_missing_language_is_a_clear_error(shared_data: Path) -> None:
    with pytest.raises(DataError, match=r"no th-corpus, th-queries, th-qrels config.*available: \['ar', 'bn'"):
        M.load_miracl(["sw", "th"], source=shared_data / "miracl-lite")
    with pytest.raises(DataError, match=r"unknown MIRACL language\(s\) \['xx'\]"):
        M.load_miracl(["xx"], source=shared_data / "miracl-lite")


def test_missing_folder_split_and_hub_are_clear_errors(tmp_path: Path, miracl_slice: Path) -> None:
    with pytest.raises(DataError, match="MIRACL folder not found"):
        M.load_miracl(source=tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"has no split 'test'; it has \['dev'\]"):
        M.load_miracl(["sw"], source=miracl_slice, split="test")
    # tests run with HF_HUB_OFFLINE=1: the hub path must fail with the fix, not a datasets traceback
    with pytest.raises(DataError, match=MIRRORS_ENV):
        M.load_miracl(["sw"], source=M.MIRACL_REPO)


def test_missing_column_and_bad_score_are_clear_errors(tmp_path: Path) -> None:
    good = {
        "sw-corpus": _corpus(("s1", 1.0)),
        "sw-queries": pd.DataFrame({"_id": ["q1"], "text": ["swali"]}),
        "sw-qrels": pd.DataFrame({"query-id": ["q1"], "corpus-id": ["s1"], "score": [1]}),
    }
    no_text = write_mirror(tmp_path / "a", {**good, "sw-queries": pd.DataFrame({"_id": ["q1"], "query": ["x"]})})
    with pytest.raises(DataError, match=r"sw-queries/dev-00000-of-00001\.parquet: missing column\(s\) \['text'\] of a queries file \(it has \['_id', 'query'\]\)"):
        M.load_miracl(["sw"], source=no_text)
    bad = write_mirror(tmp_path / "b", {**good, "sw-qrels": good["sw-qrels"].assign(score=[-1])})
    with pytest.raises(DataError, match=r"sw-qrels: item 'q1': score -1 .* not a non-negative integer"):
        M.load_miracl(["sw"], source=bad)
    dup = write_mirror(tmp_path / "c", {**good, "sw-corpus": _corpus(("s1", 1.0), ("s1", 0.5))})
    with pytest.raises(DataError, match=r"sw-corpus: item 's1': duplicate id"):
        M.load_miracl(["sw"], source=dup)


# -- task metadata ------------------------------------------------------------------------------------------------


def test_cross_lingual_metadata_subsets_and_languages() -> None:
    meta = T.MIRACLCrossLingualRetrieval.metadata
    stock = mteb.get_task("MIRACLRetrieval").metadata
    subsets = set(meta.eval_langs)
    assert {f"{x}-mono" for x in M.MIRACL_LANGS} | {f"{x}-all" for x in M.MIRACL_LANGS} <= subsets
    # train pools: the paper's training languages that MIRACL has (tr is not in MIRACL)
    assert {s for s in subsets if s.endswith("-train")} == {f"{x}-train" for x in "ar zh en de es hi ru th".split()}
    assert all(meta.eval_langs[s] == stock.eval_langs[s.split("-")[0]] for s in subsets)
    assert (meta.main_score, meta.adapted_from) == ("ndcg_at_10", ["MIRACLRetrieval"])
    # the stock task's data: its hub repo, or a local mirror folder of it (whether a class is already pointed at
    # the mirror depends on which tests ran before in this process and which mirrors they configured)
    def miracl_data(dataset: dict) -> bool:
        path = dataset["path"]
        return path == "mteb/MIRACLRetrieval" or ((Path(path) / "README.md").is_file() and "miracl" in Path(path).name)

    assert miracl_data(meta.dataset) and miracl_data(stock.dataset)
    assert "not comparable to official" in meta.description
    swahili = _cross_task(["swa"])
    assert swahili.hf_subsets == ["sw-mono", "sw-all"]


def test_pool_languages_and_custom_pools() -> None:
    assert T.pool_languages(T.ALL_AVAILABLE, "sw", ["yo", "sw", "de"]) == ["de", "sw", "yo"]
    assert T.pool_languages(T.PAPER_TRAINING_LANGUAGES, "de", ["de", "sw", "zh"]) == ["de", "zh"]
    assert T.pool_languages(T.QUERY_LANGUAGE_ONLY, "yo", ["de", "yo"]) == ["yo"]

    class Indic(T.MIRACLCrossLingualRetrieval):
        language_pools = {"indic": ("bn", "hi", "te")}
        metadata = T.cross_lingual_metadata(language_pools, name="MIRACLIndicPoolRetrieval")

    assert Indic().hf_subsets == ["bn-indic", "hi-indic", "te-indic"]

    class Forgot(T.MIRACLCrossLingualRetrieval):
        language_pools = {"indic": ("bn", "hi", "te")}

    with pytest.raises(TypeError, match="cross_lingual_metadata"):
        Forgot()


# -- scoring on a hand-made fixture ----------------------------------------------------------------------------------


def test_intrusion_and_scores_on_hand_made_fixture(hand_made: Path) -> None:
    task = _cross_task(["swa", "yor"])
    scores = task.evaluate(ScoreEncoder(), "dev", encode_kwargs=ENCODE)
    # sw-all ranking: s1 (1.0), y1..y8 (0.90..0.83), s2 (0.5), s3 (0.4), s4, y9 → top 10 holds 8 yo passages
    assert scores["sw-all"]["foreign_intrusion_at_10"] == pytest.approx(0.8)
    # q1: s1 at rank 1 → 1; q2: s3 at rank 11 → 0; q3: relevant passage absent → 0
    assert scores["sw-all"]["ndcg_at_10"] == pytest.approx(1 / 3)
    assert scores["sw-all"]["recall_at_100"] == pytest.approx(2 / 3)
    # sw-mono: s3 at rank 3 → 1/log2(4) = 0.5; nothing foreign
    assert scores["sw-mono"]["ndcg_at_10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert scores["sw-mono"]["foreign_intrusion_at_10"] == 0.0
    # yo-q1: top 10 = s1 y1..y8 s2 → 2 foreign; y9 ranks 14th
    assert scores["yo-all"]["foreign_intrusion_at_10"] == pytest.approx(0.2)
    assert (scores["yo-all"]["ndcg_at_10"], scores["yo-all"]["recall_at_100"]) == (0.0, 1.0)
    assert scores["sw-all"]["main_score"] == scores["sw-all"]["ndcg_at_10"]
    assert (scores["sw-all"]["n_queries"], scores["sw-all"]["n_documents"], scores["sw-all"]["n_pool_languages"]) == (
        3, 13, 2)


def test_pooled_scores_match_mtebs_own_evaluator(hand_made: Path) -> None:
    """The encode-once scorer writes mteb's whole retrieval set, equal to mteb's RetrievalEvaluator + pytrec_eval run
    on the same pooled split (a relevant passage missing from the corpus, a query with a judged non-relevant one)."""
    task = _cross_task(["swa", "yor"])
    ours = assert_scores_match_mteb(task, ScoreEncoder(), "dev", ("sw-all", "sw-mono", "yo-all"))
    assert {"ndcg_at_1000", "precision_at_3", "mrr_at_20", "nauc_map_at_5_std", "hit_rate_at_100"} <= set(ours["sw-all"])
    assert ours["sw-all"]["precision_at_10"] == pytest.approx(1 / 30)  # q1's s1 among 3 queries × 10


def test_hash_model_scores_match_mtebs_own_evaluator(mirrored: Path) -> None:
    """The same on a slice of miracl-lite, with a model whose rankings have no ties."""
    task = _cross_task(["swa", "yor", "deu"])
    assert_scores_match_mteb(task, HashEncoder(), "dev", task.hf_subsets)


# -- through mteb on a slice of miracl-lite --------------------------------------------------------------------------


def test_cross_lingual_runs_through_mteb_and_writes_results(
    mirrored: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    model = SpyEncoder(tiny_model_dir)
    task = _cross_task(["swa", "yor", "deu"])
    result = mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path / "results"), encode_kwargs=ENCODE,
                           prediction_folder=tmp_path / "pred", show_progress_bar=False)
    [saved] = list((tmp_path / "results").rglob("MIRACLCrossLingualRetrieval.json"))
    on_disk = json.loads(saved.read_text(encoding="utf-8"))
    assert on_disk["dataset_revision"].startswith("mirror:miracl-slice@")  # a mirror run says so
    by_subset = {s["hf_subset"]: s for s in on_disk["scores"]["dev"]}
    assert set(by_subset) == {"de-mono", "de-all", "de-train", "sw-mono", "sw-all", "yo-mono", "yo-all"}
    for values in by_subset.values():
        assert values["main_score"] == values["ndcg_at_10"] and values["n_queries"] == 8
        assert 0 <= values["foreign_intrusion_at_10"] <= 1
    assert by_subset["sw-all"]["n_pool_languages"] == 3 and by_subset["sw-mono"]["foreign_intrusion_at_10"] == 0
    assert by_subset["de-train"]["n_pool_languages"] == 1  # de is the only training language in the slice
    # the file holds mteb's rounded values (5 digits), the in-memory result the exact ones
    assert result.task_results[0].get_score() == pytest.approx(
        np.mean([v["ndcg_at_10"] for v in by_subset.values()]), abs=1e-5)

    per_query = pd.read_parquet(tmp_path / "pred" / "MIRACLCrossLingualRetrieval_per_query.parquet")
    assert list(per_query.columns[:9]) == ["model", "revision", "task", "split", "subset", "query_id",
                                           "ndcg_at_10", "recall_at_100", "foreign_intrusion_at_10"]
    assert len(per_query) == 7 * 8 and not per_query.duplicated(["subset", "query_id"]).any()
    sw_all = per_query[per_query.subset == "sw-all"]
    assert sw_all["foreign_intrusion_at_10"].mean() == pytest.approx(by_subset["sw-all"]["foreign_intrusion_at_10"])


def test_pooled_corpus_is_encoded_once(mirrored: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    model = SpyEncoder(tiny_model_dir)
    task = _cross_task(["swa", "yor", "deu"])
    mteb.evaluate(model, task, cache=None, encode_kwargs=ENCODE, show_progress_bar=False)
    data = M.load_miracl(list(SLICE_LANGS), source=mirrored)
    docs = [c for c in model.calls if c[0] == "document"]
    queries = [c for c in model.calls if c[0] == "query"]
    # one call per corpus language although 7 subsets use the corpora (sw-all, yo-all, de-all each hold all 3)
    assert sorted(c[1] for c in docs) == sorted(SLICE_LANGS)
    unique_docs = sum(len(set(zip(d.corpus["title"], d.corpus["text"]))) for d in data.values())
    assert sum(c[2] for c in docs) == unique_docs
    assert sorted(c[1] for c in queries) == sorted(SLICE_LANGS)
    assert sum(c[2] for c in queries) == sum(len(set(d.queries["text"])) for d in data.values())
    # a second task on the same model object reuses every embedding
    before = len(model.calls)
    mteb.evaluate(model, _cross_task(["swa"]), cache=None, encode_kwargs=ENCODE, show_progress_bar=False)
    assert len(model.calls) == before


def test_stock_task_through_mirror_matches_mono_subsets(
    mirrored: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    model = SpyEncoder(tiny_model_dir)
    stock = mteb.get_task("MIRACLRetrieval", languages=["swa", "yor", "deu"])
    assert apply_mirrors_to_task(stock)
    stock_result = mteb.evaluate(model, stock, cache=None, encode_kwargs=ENCODE, show_progress_bar=False)
    assert stock_result.task_results[0].dataset_revision.startswith("mirror:miracl-slice@")
    stock_scores = {s["hf_subset"]: s for s in stock_result.task_results[0].scores["dev"]}
    assert set(stock_scores) == set(SLICE_LANGS)

    counted = mteb.evaluate(model, T.MIRACLMonolingualRetrieval().filter_languages(["swa", "yor", "deu"]),
                            cache=None, encode_kwargs=ENCODE, prediction_folder=tmp_path, show_progress_bar=False)
    counted_scores = {s["hf_subset"]: s for s in counted.task_results[0].scores["dev"]}
    cross = _cross_task(["swa", "yor", "deu"]).evaluate(model, "dev", encode_kwargs=ENCODE)
    for lang in SLICE_LANGS:
        assert counted_scores[lang]["n_queries"] == 8
        stock_set = {k: v for k, v in stock_scores[lang].items()
                     if isinstance(v, float | int) and k not in ("evaluation_time", "kg_co2_emissions")}
        assert len(stock_set) >= 148 and "nauc_mrr_at_10_std" in stock_set
        for metric, value in stock_set.items():  # every score of mteb's set, under the same name
            assert counted_scores[lang][metric] == pytest.approx(value, abs=1e-12, nan_ok=True), metric
            assert metric in cross[f"{lang}-mono"], metric
        for metric in ("ndcg_at_10", "recall_at_100"):
            # mteb rounds to 5 digits; ties and float32 near-ties of this real model aside (exact parity on a tie-free
            # ranking: test_hash_model_scores_match_mtebs_own_evaluator), the mono control is the stock setting
            assert cross[f"{lang}-mono"][metric] == pytest.approx(stock_scores[lang][metric], abs=1e-5)
    # per-query values come from mteb's own predictions file (no per-query capture inside the task)
    assert not (tmp_path / "MIRACLMonolingualRetrieval_per_query.parquet").exists()
    task = T.MIRACLMonolingualRetrieval().filter_languages(["swa", "yor", "deu"])
    task.load_data()
    qrels = {s: {sp: d["relevant_docs"] for sp, d in by.items()} for s, by in task.dataset.items()}
    per_query = per_query_from_predictions(tmp_path / "MIRACLMonolingualRetrieval_predictions.json", qrels)
    assert sorted(per_query.subset.unique()) == sorted(SLICE_LANGS) and len(per_query) == 24
    sw = per_query[per_query.subset == "sw"]
    assert sw["ndcg_at_10"].mean() == pytest.approx(stock_scores["sw"]["ndcg_at_10"], abs=1e-5)


def test_stock_task_shares_document_embeddings_with_the_cross_lingual_task(
    mirrored: Path, tiny_model_dir: Path
) -> None:
    from hybrid_bench.tasks.shared_embeddings import SharedDocumentEncoder, share_embeddings

    def stock() -> AbsTaskRetrieval:
        task = mteb.get_task("MIRACLRetrieval", languages=["swa", "yor", "deu"])
        assert apply_mirrors_to_task(task)
        return task

    def scores(result: Any) -> dict[str, dict[str, float]]:
        return {s["hf_subset"]: s for s in result.task_results[0].scores["dev"]}

    plain = scores(mteb.evaluate(SpyEncoder(tiny_model_dir), stock(), cache=None, encode_kwargs=ENCODE,
                                 show_progress_bar=False))
    model = SpyEncoder(tiny_model_dir)
    assert share_embeddings(model, "XQuADRRetrieval") is model  # tasks that share nothing: the model itself
    shared = share_embeddings(model, "MIRACLRetrieval")
    assert isinstance(shared, SharedDocumentEncoder)
    through_cache = scores(mteb.evaluate(shared, stock(), cache=None, encode_kwargs=ENCODE, show_progress_bar=False))
    for lang in SLICE_LANGS:  # mteb's own scoring of the same model's embeddings
        for metric in ("ndcg_at_10", "recall_at_100", "map_at_10"):
            assert through_cache[lang][metric] == pytest.approx(plain[lang][metric], abs=1e-5)
    # the stock task's documents went through the cache: the cross-lingual task encodes no passage again
    documents = [c for c in model.calls if c[0] == "document"]
    assert sorted(c[1] for c in documents) == sorted(SLICE_LANGS)
    before = len(model.calls)
    _cross_task(["swa", "yor", "deu"]).evaluate(model, "dev", encode_kwargs=ENCODE)
    assert [c for c in model.calls[before:] if c[0] == "document"] == []
    assert {c[0] for c in model.calls[before:]} <= {"query"}


def test_unavailable_query_language_is_a_clear_error(mirrored: Path, tiny_model_dir: Path) -> None:
    task = _cross_task(["swa", "tha"])
    with pytest.raises(DataError, match=r"no MIRACL data for query language\(s\) \['th'\].*`-l deu swa yor`"):
        task.load_data()
