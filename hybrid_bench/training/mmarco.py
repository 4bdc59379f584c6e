"""Convert an mMARCO-style layout (per-language queries / collection, shared id triples) into parallel training data.

mMARCO (Bonifacio et al. 2021, arXiv 2108.13897) translates MS MARCO passage ranking into 13 languages and keeps
the English query and passage ids, so one ``(qid, positive pid, negative pid)`` triple is the same training item in
every language. That is exactly the parallel format of :mod:`hybrid_bench.training.parallel_data`; this module
reads the layout of the ``unicamp-dl/mmarco`` dataset repository (or any copy of it) and builds a
:class:`~hybrid_bench.training.parallel_data.ParallelCorpus` from it, or writes it as ``.jsonl`` / ``.parquet``.

**The layout** (``root`` is the ``data`` folder of the dataset repository; ``NAME`` is the language's folder name,
see :data:`MMARCO_LANGUAGES`)::

    root/
      triples.train.ids.small.tsv                    qid \\t positive pid \\t negative pid   (shared by all languages)
      google/queries/train/NAME_queries.train.tsv    qid \\t query text                      (one file per language)
      google/collections/NAME_collection.tsv         pid \\t passage text                    (one file per language)

``translation="google"`` is the sub-folder; the layout's other translation (``"helsinki"``) works the same way.

**The items.** One item per query id: the first triple of each qid in file order (MS MARCO has several triples
per query; one positive per item keeps the item's texts parallel), up to ``max_items`` items. Per language the item
has the translated query, the translated positive and (``hard_negatives=True``) the translated negative. Queries
that share a positive passage become *conflicting* items, which
:class:`~hybrid_bench.training.sampler.HybridBatchSampler` never puts in one batch.

Bad input raises :class:`~hybrid_bench.errors.DataError` naming the file, the line and the id: a line without the
expected tab-separated fields, an id twice in one file, a query or passage id of a chosen triple missing from a
language's file, an empty text.

Example::

    from hybrid_bench.training.mmarco import convert_mmarco, mmarco_parallel_corpus

    corpus = mmarco_parallel_corpus("mmarco/data", languages=["en", "de", "ar"], max_items=50_000)
    dataset = corpus.to_dataset()                       # for HybridBatchSampler / HybridInfoNCELoss
    convert_mmarco("mmarco/data", "mmarco-en-de-ar.jsonl", languages=["en", "de", "ar"], max_items=50_000)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from hybrid_bench.errors import DataError
from hybrid_bench.training.corpus import ParallelCorpus

__all__ = [
    "MMARCO_LANGUAGES",
    "MMARCO_TRIPLES",
    "convert_mmarco",
    "is_mmarco_layout",
    "mmarco_parallel_corpus",
]

#: Language code → the language's name in mMARCO file names.
MMARCO_LANGUAGES: Mapping[str, str] = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "hi": "hindi",
    "id": "indonesian",
    "it": "italian",
    "ja": "japanese",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "vi": "vietnamese",
    "zh": "chinese",
}
MMARCO_TRIPLES = "triples.train.ids.small.tsv"


def is_mmarco_layout(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` looks like an mMARCO ``data`` folder (it holds the shared id triples)."""
    return (Path(root) / MMARCO_TRIPLES).is_file()


def mmarco_parallel_corpus(
    root: str | os.PathLike[str],
    languages: Sequence[str] = ("en", "de"),
    *,
    max_items: int | None = None,
    hard_negatives: bool = True,
    translation: str = "google",
    language_names: Mapping[str, str] | None = None,
) -> ParallelCorpus:
    """Read an mMARCO-style layout into a parallel corpus (see the module docstring).

    Args:
        root: The folder that holds ``triples.train.ids.small.tsv`` and the ``translation`` folder.
        languages: Language codes to read, e.g. ``["en", "de", "ar"]``; at least two for cross-lingual batches.
        max_items: Keep the first this many queries of the triples file (``None``: all).
        hard_negatives: Add each triple's negative passage as the item's hard negative.
        translation: The sub-folder of the translations (``"google"`` or ``"helsinki"`` in mMARCO).
        language_names: Code → file-name language name, for languages or spellings not in
            :data:`MMARCO_LANGUAGES`.

    Returns:
        A :class:`~hybrid_bench.training.parallel_data.ParallelCorpus` with one item per query id, in triples order.

    Raises:
        ValueError: Bad arguments (unknown language code, ``max_items`` < 1, no languages).
        DataError: A missing file or a bad line (naming file, line and id).
    """
    root = Path(root)
    names = {**MMARCO_LANGUAGES, **(language_names or {})}
    languages = tuple(languages)
    if not languages:
        raise ValueError("languages is empty: name at least one language code, e.g. languages=['en', 'de']")
    if unknown := [lang for lang in languages if lang not in names]:
        raise ValueError(
            f"unknown mMARCO language code(s) {unknown}; known: {sorted(names)}. Pass language_names={{code: name}} "
            "for others (name as in NAME_queries.train.tsv)"
        )
    if len(set(languages)) != len(languages):
        raise ValueError(f"languages has duplicates: {list(languages)}")
    if max_items is not None and max_items < 1:
        raise ValueError(f"max_items must be a positive integer or None, got {max_items!r}")

    triples = _read_triples(root / MMARCO_TRIPLES, max_items)
    wanted_queries = {qid for qid, _, _ in triples}
    wanted_passages = {pid for _, pos, neg in triples for pid in ((pos, neg) if hard_negatives else (pos,))}

    records: list[dict[str, str]] = []
    per_language: dict[str, tuple[dict[str, str], dict[str, str], Path, Path]] = {}
    for lang in languages:
        name = names[lang]
        query_file = root / translation / "queries" / "train" / f"{name}_queries.train.tsv"
        collection_file = root / translation / "collections" / f"{name}_collection.tsv"
        queries = _read_id_texts(query_file, wanted_queries, "query")
        passages = _read_id_texts(collection_file, wanted_passages, "passage")
        per_language[lang] = (queries, passages, query_file, collection_file)

    for qid, pos, neg in triples:
        for lang in languages:
            queries, passages, query_file, collection_file = per_language[lang]
            if qid not in queries:
                raise DataError(f"query id {qid} of {MMARCO_TRIPLES} is missing from this file", file=query_file,
                                item=qid)
            for pid in (pos, neg) if hard_negatives else (pos,):
                if pid not in passages:
                    raise DataError(f"passage id {pid} of {MMARCO_TRIPLES} is missing from this file",
                                    file=collection_file, item=qid)
            record = {"id": qid, "lang": lang, "query": queries[qid], "positive": passages[pos]}
            if hard_negatives and passages[neg] != passages[pos]:
                record["negative"] = passages[neg]
            records.append(record)
    source = f"mmarco:{root}"
    corpus = ParallelCorpus.from_records(records, source=source, languages=languages)
    corpus.name = f"mmarco-{translation}({','.join(languages)}; {len(corpus)} queries)"
    return corpus


def convert_mmarco(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    languages: Sequence[str] = ("en", "de"),
    *,
    max_items: int | None = None,
    hard_negatives: bool = True,
    translation: str = "google",
    overwrite: bool = False,
) -> Path:
    """Convert an mMARCO-style layout into a ``.jsonl`` or ``.parquet`` file of the parallel format.

    The file can then be given to ``hybrid-bench train --data FILE``. Arguments as in :func:`mmarco_parallel_corpus`.

    Returns:
        The path written.
    """
    corpus = mmarco_parallel_corpus(
        root, languages, max_items=max_items, hard_negatives=hard_negatives, translation=translation
    )
    return corpus.save(out, overwrite=overwrite)


def _tsv_rows(path: Path, n_fields: int) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise DataError("file not found (expected the mMARCO layout described in hybrid_bench.training.mmarco)",
                        file=path)
    with path.open(encoding="utf-8", newline="\n") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != n_fields:
                raise DataError(
                    f"line {line_no}: expected {n_fields} tab-separated fields, got {len(fields)}",
                    file=path, item=fields[0] if fields else None,
                )
            yield line_no, fields


def _read_triples(path: Path, max_items: int | None) -> list[tuple[str, str, str]]:
    triples: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for line_no, (qid, pos, neg) in _tsv_rows(path, 3):
        if not qid.strip() or not pos.strip() or not neg.strip():
            raise DataError(f"line {line_no}: empty id", file=path, item=qid or None)
        if qid in seen:
            continue  # first triple per query only
        seen.add(qid)
        triples.append((qid, pos, neg))
        if max_items is not None and len(triples) == max_items:
            break
    if not triples:
        raise DataError("no triples", file=path)
    return triples


def _read_id_texts(path: Path, wanted: set[str], kind: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line_no, (key, text) in _tsv_rows(path, 2):
        if key not in wanted:
            continue
        if key in texts:
            raise DataError(f"line {line_no}: {kind} id appears twice (first at line {first_line[key]})",
                            file=path, item=key)
        if not text.strip():
            raise DataError(f"line {line_no}: empty {kind} text", file=path, item=key)
        texts[key] = text
        first_line[key] = line_no
    return texts
