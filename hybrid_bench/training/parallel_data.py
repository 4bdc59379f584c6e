"""Parallel retrieval training data, by name or path: XQuAD-R's training articles, files, mMARCO-style folders.

:func:`load_parallel_data` is what ``hybrid-bench train --data`` reads; the format itself, its validation and the
training dataset are :mod:`hybrid_bench.training.corpus` (re-exported here).

Example::

    from hybrid_bench.training.parallel_data import load_parallel_data

    corpus = load_parallel_data("xquad-r-train", data_dir="../shared/data")   # or "train.jsonl" / "train.parquet"
    len(corpus), corpus.languages        # (608, ('ar', 'de', ..., 'zh'))
    dataset = corpus.to_dataset()        # 608 * 11 * 11 rows: anchor, positive, label
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.errors import DataError
from hybrid_bench.training import corpus, labels
from hybrid_bench.training.corpus import FIELDS, REQUIRED_FIELDS, ParallelCorpus, ParallelItem, ParallelText
from hybrid_bench.training.labels import LABEL_FIELDS, NO_NEGATIVE, PairLabels, passage_key
from hybrid_bench.training.mmarco import is_mmarco_layout, mmarco_parallel_corpus

if TYPE_CHECKING:
    from datasets import Dataset

    from hybrid_bench.data.lareqa import LAReQAData

# the format's names (FIELDS, ParallelCorpus, PairLabels, ...) are re-exported from their owners, training.corpus
# and training.labels
__all__ = [*corpus.__all__, *labels.__all__, "TRAINING_DATA_TASKS", "XQUAD_R_TRAIN", "load_parallel_data",
           "xquad_r_parallel_corpus"]

XQUAD_R_TRAIN = "xquad-r-train"
#: the mteb tasks whose data each named training set is cut from: a model trained on it is not zero-shot there
#: (the XQuAD-R training articles are part of ``XQuADRRetrieval``; ``XQuADRHeldOutRetrieval`` holds none of them)
TRAINING_DATA_TASKS: dict[str, frozenset[str]] = {XQUAD_R_TRAIN: frozenset({"XQuADRRetrieval"})}


# -------------------------------------------------------------------- XQuAD-R


def xquad_r_parallel_corpus(
    langs: Sequence[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    hard_negatives: bool = False,
    seed: int = 0,
    data: LAReQAData | None = None,
) -> ParallelCorpus:
    """The XQuAD-R **training articles** as a parallel corpus: question → the sentence that contains its answer.

    One item per question (``qid``); per language, the query is the question and the positive is its answer
    sentence in that language. XQuAD-R questions often share an answer sentence; such items conflict and the
    sampler keeps them apart (see the module docstring).

    Args:
        langs: Languages to keep (default: all 11).
        data_dir: Local LAReQA data folder (see :mod:`hybrid_bench.paths`).
        hard_negatives: Add, per language, another sentence of the same paragraph (else of the same article),
            preferring sentences that answer no training question, chosen reproducibly from ``seed``. Off by
            default: the paper does not say where its negatives came from.
        seed: Seed of the hard-negative choice.
        data: Use this already loaded :class:`~hybrid_bench.data.lareqa.LAReQAData` instead of the training split.
    """
    if data is None:
        from hybrid_bench.data.splits import load_xquad_r_train

        data = load_xquad_r_train(langs, data_dir=data_dir)
    languages = tuple(langs) if langs is not None else tuple(data.langs)
    candidates = {c.id: c for lang in languages for c in data.candidates.get(lang, ())}
    answers = {q.answer_candidate for lang in languages for q in data.questions.get(lang, ())}
    by_paragraph: dict[str, list[str]] = {}
    by_article: dict[tuple[str, str], list[str]] = {}
    for cand in candidates.values():
        by_paragraph.setdefault(cand.id.rsplit(":", 1)[0], []).append(cand.id)
        by_article.setdefault((cand.lang, cand.article), []).append(cand.id)

    records: list[dict[str, str]] = []
    for lang in languages:
        for question in data.questions.get(lang, ()):
            answer = candidates.get(question.answer_candidate)
            if answer is None:
                raise DataError(
                    f"answer candidate {question.answer_candidate!r} is not among the {lang} candidates",
                    file=data.name, item=question.id,
                )
            record = {"id": question.qid, "lang": lang, "query": question.text, "positive": answer.text}
            if hard_negatives:
                record["negative"] = _pick_negative(question, answer.text, seed, by_paragraph, by_article,
                                                    answers, candidates, data.name)
            records.append(record)
    corpus = ParallelCorpus.from_records(records, source=f"{data.name}-train", languages=languages)
    corpus.name = XQUAD_R_TRAIN + ("+negatives" if hard_negatives else "")
    return corpus


def _pick_negative(
    question: Any,
    answer_text: str,
    seed: int,
    by_paragraph: Mapping[str, list[str]],
    by_article: Mapping[tuple[str, str], list[str]],
    answers: set[str],
    candidates: Mapping[str, Any],
    source: str,
) -> str:
    paragraph = by_paragraph.get(question.answer_candidate.rsplit(":", 1)[0], [])
    article = by_article.get((question.lang, question.article), [])
    # non-answers of the paragraph, any other sentence of the paragraph, then the same for the article
    for pool, avoid_answers in ((paragraph, True), (paragraph, False), (article, True), (article, False)):
        options = [
            c for c in pool
            if candidates[c].text != answer_text and (not avoid_answers or c not in answers)
        ]
        if options:
            digest = hashlib.sha256(f"{seed}:{question.id}".encode()).digest()
            return candidates[options[int.from_bytes(digest[:8], "little") % len(options)]].text
    raise DataError("no other sentence in the article can serve as a hard negative", file=source, item=question.id)


def load_parallel_data(
    source: str | os.PathLike[str] | Dataset,
    *,
    languages: Sequence[str] | None = None,
    hard_negatives: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> ParallelCorpus:
    """Load training data from ``"xquad-r-train"``, a ``.jsonl`` / ``.parquet`` file, an mMARCO-style folder or a
    :class:`datasets.Dataset`.

    Args:
        source: What to load. A folder is read with :func:`hybrid_bench.training.mmarco.mmarco_parallel_corpus`
            (all queries, with hard negatives; ``languages`` required); convert it once with
            :func:`~hybrid_bench.training.mmarco.convert_mmarco` to choose ``max_items``.
        languages: Keep only these languages.
        hard_negatives: For ``"xquad-r-train"``: add same-paragraph hard negatives. Files bring their own
            ``negative`` field instead, so this must stay ``False`` for them.
        data_dir: LAReQA data folder for ``"xquad-r-train"``.
        seed: Seed of the XQuAD-R hard-negative choice.
    """
    if isinstance(source, str) and source == XQUAD_R_TRAIN:
        return xquad_r_parallel_corpus(languages, data_dir=data_dir, hard_negatives=hard_negatives, seed=seed)
    if hard_negatives:
        raise DataError(
            f"hard_negatives=True only applies to {XQUAD_R_TRAIN!r}; files and mMARCO folders carry their own negatives",
            file=source if isinstance(source, (str, os.PathLike)) else None,
        )
    if not isinstance(source, (str, os.PathLike)):
        return ParallelCorpus.from_dataset(source, languages=languages)
    path = Path(source)
    if path.is_dir():
        if not is_mmarco_layout(path):
            raise DataError(
                "a folder is read as an mMARCO-style layout, but it has no triples.train.ids.small.tsv (see "
                "hybrid_bench.training.mmarco)", file=path,
            )
        if not languages:
            raise DataError("an mMARCO-style folder: name the languages to read, e.g. languages=['en', 'de'] "
                            "(--languages en de)", file=path)
        return mmarco_parallel_corpus(path, languages)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return ParallelCorpus.from_jsonl(path, languages=languages)
    if suffix == ".parquet":
        return ParallelCorpus.from_parquet(path, languages=languages)
    raise DataError(
        f"unknown training data {str(source)!r}: use {XQUAD_R_TRAIN!r}, a .jsonl or a .parquet file or an "
        "mMARCO-style folder", file=source
    )
