"""The parallel training-data format: loaders, validation, the training view and the mMARCO converter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset
from parallel_helpers import LANGS, labels_of, synthetic_records

from hybrid_bench.errors import DataError
from hybrid_bench.training.mmarco import MMARCO_TRIPLES, convert_mmarco, mmarco_parallel_corpus
from hybrid_bench.training.parallel_data import (
    NO_NEGATIVE,
    ParallelCorpus,
    load_parallel_data,
    passage_key,
    xquad_r_parallel_corpus,
)


def test_records_group_into_items_and_dataset_has_one_row_per_language_pair():
    records = synthetic_records(5, LANGS) + [{"id": "solo", "lang": "en", "query": "q?", "positive": "p."}]
    corpus = ParallelCorpus.from_records(records)
    assert len(corpus) == 6
    assert corpus.languages == tuple(sorted(LANGS))
    assert corpus.items[0].texts["de"].query == "de hauptstadt 0 ?"
    dataset = corpus.to_dataset()
    # only text columns and the label: an extra column (e.g. 'lang') would be tokenized as a hard negative
    assert dataset.column_names == ["anchor", "positive", "label"]
    assert len(dataset) == 5 * 4 * 4 + 1
    labels = labels_of(dataset)
    langs = corpus.languages
    for row in (0, 7, 33, len(dataset) - 1):
        item = corpus.items[labels.item[row]]
        q, p = langs[labels.query_lang[row]], langs[labels.passage_lang[row]]
        assert dataset[row]["anchor"] == item.texts[q].query
        assert dataset[row]["positive"] == item.texts[p].positive
        assert labels.positive_key[row] == passage_key(p, item.texts[p].positive)
        assert labels.negative_key[row] == NO_NEGATIVE
    # every ordered language pair of a fully parallel item is there exactly once
    first = labels.item == 0
    assert sorted(zip(labels.query_lang[first], labels.passage_lang[first])) == [
        (a, b) for a in range(4) for b in range(4)
    ]


def test_negatives_column_only_when_every_text_has_one():
    with_neg = ParallelCorpus.from_records(synthetic_records(3, negatives=True)).to_dataset()
    assert with_neg.column_names == ["anchor", "positive", "negative", "label"]
    assert with_neg[0]["negative"].startswith("de hauptstadt not 0")
    assert labels_of(with_neg).negative_key[0] == passage_key("de", with_neg[0]["negative"])
    partial = synthetic_records(3, negatives=True)
    del partial[0]["negative"]
    corpus = ParallelCorpus.from_records(partial)
    assert "negative" not in corpus.to_dataset().column_names
    with pytest.raises(DataError, match="negatives=True"):
        corpus.to_dataset(negatives=True)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": "q1", "query": "x?", "positive": "y."}, r"row 3: missing 'lang'"),
        ({"id": "q1", "lang": "en", "query": "  ", "positive": "y."}, r"row 3: 'query' must be a non-empty string"),
        ({"id": "q1", "lang": "en", "query": "x?", "positive": ""}, r"row 3: 'positive' must be a non-empty"),
        ({"id": "q0", "lang": "de", "query": "x?", "positive": "y."}, r"row 3: id appears twice in language 'de' \(first at row 1\)"),
        ({"id": "q1", "lang": "en", "query": "x?", "positive": "y.", "lang_code": "en"}, r"row 3: unknown field"),
        ({"id": "q1", "lang": "en", "query": "x?", "positive": "y.", "negative": "y."}, r"row 3: 'negative' is the same"),
        ({"lang": "en", "query": "x?", "positive": "y."}, r"row 3: missing or empty 'id'"),
    ],
)
def test_bad_row_raises_naming_source_row_and_item(bad, message):
    records = synthetic_records(1, ("de", "en")) + [bad]
    with pytest.raises(DataError, match=message) as err:
        ParallelCorpus.from_records(records, source="train.jsonl")
    assert str(err.value).startswith("train.jsonl")
    if "id" in bad:
        assert err.value.item == bad["id"]


def test_jsonl_and_parquet_round_trip_and_bad_json_line(tmp_path: Path):
    corpus = ParallelCorpus.from_records(synthetic_records(4, negatives=True))
    for suffix in (".jsonl", ".parquet"):
        path = corpus.save(tmp_path / f"train{suffix}")
        again = load_parallel_data(path)
        assert again.items == corpus.items
        assert again.name == path.name
    subset = load_parallel_data(tmp_path / "train.jsonl", languages=["ru", "en"])
    assert subset.languages == ("ru", "en")
    assert set(subset.items[0].texts) == {"ru", "en"}
    from_ds = load_parallel_data(Dataset.from_list(list(corpus.to_records())))
    assert from_ds.items == corpus.items

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(synthetic_records(1)[0]) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl: line 3: not valid JSON"):
        load_parallel_data(bad)
    with pytest.raises(DataError, match="file not found"):
        load_parallel_data(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="unknown training data"):
        load_parallel_data(tmp_path / "train.csv")
    with pytest.raises(DataError, match=r"language\(s\) \['fr'\] asked for but absent"):
        load_parallel_data(tmp_path / "train.jsonl", languages=["en", "fr"])


def test_xquad_r_training_articles(shared_data: Path):
    from hybrid_bench.data.splits import xquad_r_article_split

    corpus = xquad_r_parallel_corpus(["en", "de", "zh"], data_dir=shared_data / "lareqa")
    assert corpus.languages == ("en", "de", "zh")
    assert len(corpus) > 300
    train_articles = xquad_r_article_split().train
    item = corpus.items[0]
    assert set(item.texts) == {"en", "de", "zh"}
    # the query is a question, the positive its answer sentence (different texts)
    assert all(t.query != t.positive for t in item.texts.values())
    dataset = corpus.to_dataset()
    assert len(dataset) == sum(len(i.texts) ** 2 for i in corpus.items)
    # the articles really are the training half: no held-out title appears in the data's source
    from hybrid_bench.data.splits import load_xquad_r_train

    data = load_xquad_r_train(["en"], data_dir=shared_data / "lareqa")
    assert {q.article for q in data.questions["en"]} <= train_articles
    assert {q.qid for q in data.questions["en"]} == {i.id for i in corpus.items}

    with_neg = xquad_r_parallel_corpus(["en", "de"], data_dir=shared_data / "lareqa", hard_negatives=True)
    assert with_neg.has_negatives
    assert all(t.negative != t.positive for i in with_neg.items for t in i.texts.values())


# ---------------------------------------------------------------------------------------------- mMARCO layout


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _mmarco_fixture(root: Path) -> Path:
    """A 3-language mMARCO-style layout: 4 queries, one of them with two triples, two sharing a positive."""
    _write(root / MMARCO_TRIPLES, ["10\t100\t900", "10\t101\t901", "11\t102\t902", "12\t100\t903", "13\t103\t900"])
    texts = {"english": ("what is", "passage"), "german": ("was ist", "Abschnitt"), "arabic": ("ما هو", "فقرة")}
    for name, (question, passage) in texts.items():
        # files in another order than the triples, plus lines the converter must skip
        _write(root / "google" / "queries" / "train" / f"{name}_queries.train.tsv",
               [f"{qid}\t{question} {qid}" for qid in (13, 12, 11, 10, 99)])
        _write(root / "google" / "collections" / f"{name}_collection.tsv",
               [f"{pid}\t{passage} {pid}" for pid in (903, 902, 901, 900, 103, 102, 101, 100, 555)])
    return root


def test_mmarco_converter_builds_parallel_items(tmp_path: Path):
    root = _mmarco_fixture(tmp_path / "mmarco" / "data")
    corpus = mmarco_parallel_corpus(root, ["en", "de", "ar"])
    assert [i.id for i in corpus.items] == ["10", "11", "12", "13"]  # first triple per query, in triples order
    assert corpus.languages == ("en", "de", "ar")
    assert corpus.items[0].texts["de"].query == "was ist 10"
    assert corpus.items[0].texts["de"].positive == "Abschnitt 100"  # not 101: the second triple of 10 is skipped
    assert corpus.items[0].texts["ar"].negative == "فقرة 900"
    assert corpus.items[2].texts["en"].positive == corpus.items[0].texts["en"].positive  # 12 and 10 share pid 100
    assert "mmarco" in corpus.name

    dataset = corpus.to_dataset()
    assert dataset.column_names == ["anchor", "positive", "negative", "label"]
    labels = labels_of(dataset)
    # shared positives keep the same passage identity, so the sampler sees the conflict
    keys_10 = set(labels.positive_key[labels.item == 0])
    keys_12 = set(labels.positive_key[labels.item == 2])
    assert keys_10 == keys_12

    assert [i.id for i in mmarco_parallel_corpus(root, ["en", "de"], max_items=2).items] == ["10", "11"]
    assert not mmarco_parallel_corpus(root, ["en", "de"], hard_negatives=False).has_negatives

    out = convert_mmarco(root, tmp_path / "mmarco.jsonl", ["en", "de", "ar"])
    assert load_parallel_data(out).items == corpus.items
    assert load_parallel_data(root, languages=["en", "de", "ar"]).items == corpus.items


def test_mmarco_converter_errors_name_file_line_and_id(tmp_path: Path):
    root = _mmarco_fixture(tmp_path / "data")
    german_queries = root / "google" / "queries" / "train" / "german_queries.train.tsv"
    _write(german_queries, ["10\twas ist 10", "11\twas ist 11", "13\twas ist 13"])
    with pytest.raises(DataError, match=r"german_queries.train.tsv: item '12': query id 12") as err:
        mmarco_parallel_corpus(root, ["en", "de"])
    assert err.value.item == "12"

    _write(german_queries, ["10\twas ist 10", "11 was ist 11"])
    with pytest.raises(DataError, match=r"line 2: expected 2 tab-separated fields"):
        mmarco_parallel_corpus(root, ["en", "de"])

    _write(german_queries, ["10\twas ist 10", "11\ta", "12\tb", "13\tc", "12\tb again"])
    with pytest.raises(DataError, match=r"line 5: query id appears twice \(first at line 3\)"):
        mmarco_parallel_corpus(root, ["en", "de"])

    with pytest.raises(ValueError, match="unknown mMARCO language code"):
        mmarco_parallel_corpus(root, ["en", "xx"])
    with pytest.raises(DataError, match="file not found"):
        mmarco_parallel_corpus(root, ["en", "fr"])
    with pytest.raises(DataError, match="no triples.train.ids.small.tsv"):
        load_parallel_data(tmp_path, languages=["en"])
    with pytest.raises(ValueError, match="name the languages"):
        load_parallel_data(root)


def test_passage_key_is_stable_across_processes():
    # blake2b of language and text: DDP ranks and resumed runs must agree (Python's hash() is salted)
    assert passage_key("en", "Goethe wrote Faust.") == passage_key("en", "Goethe wrote Faust.")
    assert passage_key("en", "x") != passage_key("de", "x")
    # pinned value: the key must not depend on the process (hash() would differ per run and per DDP rank)
    assert passage_key("en", "Goethe wrote Faust.") == 585038594087919975
    assert 0 <= passage_key("en", "x") <= np.iinfo(np.int64).max
