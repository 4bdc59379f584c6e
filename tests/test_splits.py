"""The XQuAD-R article split: disjoint, complete, deterministic, and no held-out text in the training data."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from hybrid_bench.data.lareqa import XQUAD_R_LANGS, LAReQAData, load_lareqa
from hybrid_bench.data.splits import (
    SPLIT_SEED,
    XQUAD_R_ARTICLES,
    XQUAD_R_LINKED_ARTICLES,
    load_xquad_r_heldout,
    load_xquad_r_train,
    xquad_r_article_split,
)

# Pinned so that a change of the rule (or of the data) cannot silently move articles between the sides.
PINNED_TRAIN = {
    "1973_oil_crisis", "Amazon_rainforest", "Black_Death", "Computational_complexity_theory", "Construction",
    "Ctenophora", "European_Union_law", "Force", "French_and_Indian_War", "Harvard_University", "Imperialism",
    "Intergovernmental_Panel_on_Climate_Change", "Jacksonville,_Florida", "Martin_Luther", "Normans",
    "Packet_switching", "Pharmacy", "Scottish_Parliament", "Southern_California", "Super_Bowl_50", "Teacher",
    "Victoria_(Australia)", "Victoria_and_Albert_Museum", "Warsaw",
}  # fmt: skip


@functools.cache
def _all(data_dir: str) -> LAReQAData:
    return load_lareqa("xquad-r", data_dir=data_dir, download=False)


def _texts(data: LAReQAData) -> dict[str, set[str]]:
    """Every question, sentence and paragraph text of ``data`` (all languages) -> the articles it occurs in."""
    where: dict[str, set[str]] = {}
    for questions in data.questions.values():
        for q in questions:
            where.setdefault(q.text.strip(), set()).add(q.article)
    for candidates in data.candidates.values():
        for c in candidates:
            where.setdefault(c.text.strip(), set()).add(c.article)
            where.setdefault(c.context.strip(), set()).add(c.article)
    return where


def test_split_is_disjoint_complete_and_balanced() -> None:
    split = xquad_r_article_split()
    assert split.seed == SPLIT_SEED
    assert not split.train & split.heldout
    assert split.train | split.heldout == set(XQUAD_R_ARTICLES)
    assert len(XQUAD_R_ARTICLES) == len(set(XQUAD_R_ARTICLES)) == 48
    assert (len(split.train), len(split.heldout)) == (24, 24)


def test_split_is_deterministic_and_pinned() -> None:
    assert xquad_r_article_split() == xquad_r_article_split()
    assert set(xquad_r_article_split().train) == PINNED_TRAIN
    assert xquad_r_article_split(seed=1).train != xquad_r_article_split().train


@pytest.mark.parametrize("seed", [SPLIT_SEED, 0, 1, 2, 3, 7, 42])
def test_linked_articles_stay_together(seed: int) -> None:
    split = xquad_r_article_split(seed=seed)
    assert len(split.train) == 24
    for group in XQUAD_R_LINKED_ARTICLES:
        assert set(group) <= split.train or set(group) <= split.heldout


def test_articles_and_links_match_the_data(shared_data: Path) -> None:
    data = _all(str(shared_data))
    assert set(data.articles()) == set(XQUAD_R_ARTICLES)
    # Re-derive which articles share a text (connected components) and compare with the hard-coded groups.
    parent = {a: a for a in XQUAD_R_ARTICLES}

    def root(a: str) -> str:
        while parent[a] != a:
            a = parent[a]
        return a

    for articles in _texts(data).values():
        first, *rest = sorted(articles)
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[str, list[str]] = {}
    for article in XQUAD_R_ARTICLES:
        groups.setdefault(root(article), []).append(article)
    linked = sorted(tuple(sorted(g)) for g in groups.values() if len(g) > 1)
    assert linked == sorted(XQUAD_R_LINKED_ARTICLES)


def test_no_heldout_text_in_train(shared_data: Path) -> None:
    train = load_xquad_r_train(data_dir=shared_data, download=False)
    heldout = load_xquad_r_heldout(data_dir=shared_data, download=False)
    split = xquad_r_article_split()
    assert set(train.articles()) == split.train
    assert set(heldout.articles()) == split.heldout
    train_texts, heldout_texts = _texts(train), _texts(heldout)
    assert len(heldout_texts) > 10_000
    assert not set(train_texts) & set(heldout_texts)


def test_split_loaders_sizes_and_relevance(shared_data: Path) -> None:
    full = _all(str(shared_data))
    train = load_xquad_r_train(data_dir=shared_data, download=False)
    heldout = load_xquad_r_heldout(data_dir=shared_data, download=False)
    heldout_two = load_xquad_r_heldout(["de", "en"], data_dir=shared_data, download=False)
    for lang in XQUAD_R_LANGS:
        assert (len(train.questions[lang]), len(heldout.questions[lang])) == (608, 582)
        assert len(train.candidates[lang]) + len(heldout.candidates[lang]) == len(full.candidates[lang])
    assert heldout_two.langs == ("de", "en")
    assert heldout_two.questions["de"] == heldout.questions["de"]
    assert all(len(train.relevant(qid)) == 11 for qid in train.qids())
    assert all(len(heldout_two.relevant(qid)) == 2 for qid in heldout_two.qids())
    assert not set(train.qids()) & set(heldout.qids())
    assert len(train.qids()) + len(heldout.qids()) == 1190
