"""Parallel retrieval training data: one format, its loaders and its validation.

The hybrid trainer (arXiv 2408.10536, after LAReQA arXiv 2004.05484) needs *parallel* data: every training item has
a query and a relevant passage in several languages, so that a batch can pair a query in language X with a passage
in language X (monolingual) or in another language Y (cross-lingual).

**The format** — one record per (item, language), as JSON Lines, parquet or a :class:`datasets.Dataset`:

============  ========  ===============================================================================================
field         required  meaning
============  ========  ===============================================================================================
``id``        yes       item id, shared by the parallel versions of one item (e.g. a SQuAD question id)
``lang``      yes       language code of this version (any string, e.g. ``"de"``)
``query``     yes       the query text in ``lang``
``positive``  yes       the relevant passage in ``lang``
``negative``  no        a hard-negative passage in ``lang``
============  ========  ===============================================================================================

A passage is identified by its language and exact text. Two items whose positives are the same passage in some
language (XQuAD-R questions about one sentence, MS MARCO queries with one relevant passage) *conflict*: the
sampler never puts them in one batch, because each one's positive would be the other's false negative.

Example JSONL (two languages of item ``q1``)::

    {"id": "q1", "lang": "en", "query": "Who wrote Faust?", "positive": "Goethe wrote Faust."}
    {"id": "q1", "lang": "de", "query": "Wer schrieb Faust?", "positive": "Goethe schrieb Faust."}

Items may cover different subsets of the languages. Bad records (a missing or unknown field, an empty text, an
``id`` twice in one language, a negative equal to its positive) raise one
:class:`~hybrid_bench.errors.DataError` naming the file, the row and the item.

**The training dataset** — :meth:`ParallelCorpus.to_dataset` materialises one row for every (item, query language,
passage language) the item has, with the text columns ``anchor``, ``positive`` (and ``negative``) that every
sentence-transformers loss understands, plus a ``label`` column of integers (:mod:`hybrid_bench.training.labels`).
Why ``label``: sentence-transformers tokenizes every other column as one more text input (an extra ``lang`` column
would silently become hard negatives), but it hands the ``label`` column to the loss untouched as a tensor. So the
per-row item, languages and passage identities reach :class:`~hybrid_bench.training.sampler.HybridBatchSampler`
(which reads the column once) and :class:`~hybrid_bench.training.loss.HybridInfoNCELoss` (which gets it with every
batch) without a custom collator, and ``MultipleNegativesRankingLoss`` simply ignores it.

The loaders (XQuAD-R, files, mMARCO folders) are in :mod:`hybrid_bench.training.parallel_data`.

Example::

    from hybrid_bench.training.parallel_data import load_parallel_data

    corpus = load_parallel_data("xquad-r-train", data_dir="../shared/data")   # or "train.jsonl" / "train.parquet"
    len(corpus), corpus.languages        # (608, ('ar', 'de', ..., 'zh'))
    dataset = corpus.to_dataset()        # 608 * 11 * 11 rows: anchor, positive, label
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_path
from hybrid_bench.training.labels import LABEL_FIELDS, NO_NEGATIVE, PairLabels, passage_key

if TYPE_CHECKING:
    from datasets import Dataset


__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "ParallelCorpus",
    "ParallelItem",
    "ParallelText",
]

logger = logging.getLogger(__name__)

REQUIRED_FIELDS: tuple[str, ...] = ("id", "lang", "query", "positive")
FIELDS: tuple[str, ...] = (*REQUIRED_FIELDS, "negative")

@dataclass(frozen=True)
class ParallelText:
    """One language version of an item: its query, positive passage and optional hard negative."""

    query: str
    positive: str
    negative: str | None = None


@dataclass(frozen=True)
class ParallelItem:
    """One training item: the same query and answer in several languages.

    Attributes:
        id: The item id.
        texts: Per language code, the :class:`ParallelText` of that language.
    """

    id: str
    texts: Mapping[str, ParallelText]


class ParallelCorpus:
    """Parallel training items in several languages (see the module docstring for the format).

    Build one with :meth:`from_records`, :meth:`from_jsonl`, :meth:`from_parquet`, :meth:`from_dataset`,
    :func:`load_parallel_data` or :func:`xquad_r_parallel_corpus`; train on :meth:`to_dataset`.

    Args:
        items: The items; ids must be unique.
        name: A short description of the source, recorded in model cards.
        languages: The language order of the dataset labels (default: sorted union of the items' languages).
    """

    def __init__(
        self, items: Sequence[ParallelItem], *, name: str = "parallel", languages: Sequence[str] | None = None
    ) -> None:
        self.items: tuple[ParallelItem, ...] = tuple(items)
        self.name = name
        if not self.items:
            raise DataError("no training items", file=name)
        present = sorted({lang for item in self.items for lang in item.texts})
        self.languages: tuple[str, ...] = tuple(languages) if languages is not None else tuple(present)
        if missing := sorted(set(present) - set(self.languages)):
            raise DataError(f"items have languages {missing} missing from languages={list(self.languages)}", file=name)
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise DataError("item id appears twice", file=name, item=item.id)
            seen.add(item.id)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"ParallelCorpus(name={self.name!r}, items={len(self)}, languages={list(self.languages)})"

    def fingerprint(self) -> str:
        """sha256 (hex) of the corpus's content: its records as sorted-key JSON lines in :meth:`to_records` order and
        the language order. Recorded with a trained model: what it was trained on, whatever file it came from."""
        digest = hashlib.sha256(json.dumps(list(self.languages)).encode())
        for record in self.to_records():
            digest.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
        return digest.hexdigest()

    @property
    def has_negatives(self) -> bool:
        """Whether every language version of every item has a hard negative."""
        return all(t.negative is not None for item in self.items for t in item.texts.values())

    # ---------------------------------------------------------------- loading

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        source: str = "records",
        languages: Sequence[str] | None = None,
        name: str | None = None,
    ) -> ParallelCorpus:
        """Validate format records (one per item and language) and group them into items.

        Args:
            records: Mappings with the fields of :data:`FIELDS`.
            source: Names the input in error messages (a file path, ``"records"``).
            languages: Keep only these languages (in this order); each must occur in the data.
            name: The corpus name recorded in model cards (default: ``source``).

        Raises:
            DataError: For the first bad record, naming ``source``, the row number (1-based) and the item id.
        """
        wanted = None if languages is None else tuple(languages)
        by_id: dict[str, dict[str, ParallelText]] = {}
        seen_at: dict[tuple[str, str], int] = {}
        all_langs: set[str] = set()  # every language of the input, kept or not (for the error below)
        for row_no, record in enumerate(records, start=1):
            row = f"row {row_no}"
            if not isinstance(record, Mapping):
                raise DataError(
                    f"{row}: expected an object with fields {list(FIELDS)}, got {type(record).__name__}", file=source
                )
            if unknown := sorted(set(record) - set(FIELDS)):
                raise DataError(
                    f"{row}: unknown field(s) {unknown}; allowed fields are {list(FIELDS)}",
                    file=source, item=record.get("id"),
                )
            item_id = record.get("id")
            if not isinstance(item_id, str) or not item_id.strip():
                raise DataError(f"{row}: missing or empty 'id' (a non-empty string), got {item_id!r}", file=source)
            for key in ("lang", "query", "positive"):
                value = record.get(key)
                if value is None:
                    raise DataError(f"{row}: missing {key!r}", file=source, item=item_id)
                if not isinstance(value, str) or not value.strip():
                    raise DataError(f"{row}: {key!r} must be a non-empty string, got {value!r}", file=source, item=item_id)
            negative = record.get("negative")
            if negative is not None and (not isinstance(negative, str) or not negative.strip()):
                raise DataError(f"{row}: 'negative' must be a non-empty string or absent, got {negative!r}",
                                file=source, item=item_id)
            if negative is not None and negative == record["positive"]:
                raise DataError(f"{row}: 'negative' is the same text as 'positive'", file=source, item=item_id)
            lang = record["lang"]
            all_langs.add(lang)
            if wanted is not None and lang not in wanted:
                continue
            key = (item_id, lang)
            if key in seen_at:
                raise DataError(
                    f"{row}: id appears twice in language {lang!r} (first at row {seen_at[key]})",
                    file=source, item=item_id,
                )
            seen_at[key] = row_no
            by_id.setdefault(item_id, {})[lang] = ParallelText(record["query"], record["positive"], negative)
        if wanted is not None and (absent := [lang for lang in wanted if lang not in all_langs]):
            raise DataError(f"language(s) {absent} asked for but absent; the data has {sorted(all_langs)}",
                            file=source)
        if not by_id:
            raise DataError("no records" + ("" if wanted is None else f" in languages {list(wanted)}"), file=source)
        items = [ParallelItem(item_id, MappingProxyType(texts)) for item_id, texts in by_id.items()]
        return cls(items, name=name or source, languages=wanted)

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str], *, languages: Sequence[str] | None = None) -> ParallelCorpus:
        """Read a JSON Lines file of format records (blank lines are skipped)."""
        path = Path(path)

        def records() -> Iterator[Any]:
            with path.open("rb") as handle:
                for line_no, raw in enumerate(handle, start=1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as err:
                        raise DataError(f"line {line_no}: not UTF-8 text (byte {raw[err.start]:#04x} at column "
                                        f"{err.start + 1}); save the file as UTF-8", file=path) from None
                    if not line.strip():
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as err:
                        raise DataError(f"line {line_no}: not valid JSON ({err.msg})", file=path) from None

        _check_file(path)
        return cls.from_records(records(), source=str(path), languages=languages, name=path.name)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str], *, languages: Sequence[str] | None = None) -> ParallelCorpus:
        """Read a parquet file of format records (one row per item and language)."""
        import pyarrow.parquet as pq

        path = Path(path)
        _check_file(path)
        try:
            table = pq.read_table(path)
        except Exception as err:  # pyarrow raises several exception types for a corrupt file
            raise DataError(f"not a readable parquet file ({err})", file=path) from None
        return cls.from_records(_drop_nulls(table.to_pylist()), source=str(path), languages=languages, name=path.name)

    @classmethod
    def from_dataset(
        cls, dataset: Dataset, *, languages: Sequence[str] | None = None, name: str = "dataset"
    ) -> ParallelCorpus:
        """Read a :class:`datasets.Dataset` whose rows are format records."""
        return cls.from_records(_drop_nulls(dataset), source=name, languages=languages, name=name)

    # ---------------------------------------------------------------- writing

    def to_records(self) -> Iterator[dict[str, str]]:
        """The corpus as format records, item by item, languages in :attr:`languages` order."""
        for item in self.items:
            for lang in self.languages:
                text = item.texts.get(lang)
                if text is None:
                    continue
                record = {"id": item.id, "lang": lang, "query": text.query, "positive": text.positive}
                if text.negative is not None:
                    record["negative"] = text.negative
                yield record

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the corpus atomically as ``.jsonl`` or ``.parquet`` (chosen by the suffix)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".jsonl", ".parquet"):
            raise ValueError(f"unsupported suffix {path.suffix!r} for {path}: use .jsonl or .parquet")
        with atomic_path(path, overwrite=overwrite) as tmp:
            if suffix == ".jsonl":
                with tmp.open("w", encoding="utf-8") as handle:
                    for record in self.to_records():
                        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                records = list(self.to_records())
                columns = [f for f in FIELDS if any(f in r for r in records)]
                pq.write_table(pa.table({c: [r.get(c) for r in records] for c in columns}), tmp)
        return path

    # ---------------------------------------------------------------- training view

    def to_dataset(self, *, negatives: bool | None = None) -> Dataset:
        """One training row per (item, query language, passage language) the item has.

        Rows are ordered item by item, then query language, then passage language (both in :attr:`languages`
        order); an item with *k* languages has *k*² rows (*k* monolingual, *k*(*k*-1) cross-lingual). The passage
        columns are in the passage language. Any row order or subset (``dataset.select``) still works with the
        sampler, which reads what each row is from its label.

        Args:
            negatives: Include the ``negative`` column. ``None`` (default): only if every text has a negative;
                ``True`` raises if some lack one.

        Returns:
            A :class:`datasets.Dataset` with columns ``anchor``, ``positive`` (, ``negative``), ``label``; the label
            holds the :data:`~hybrid_bench.training.labels.LABEL_FIELDS` integers.
        """
        from datasets import Dataset, Features, Sequence, Value

        if negatives is None:
            negatives = self.has_negatives
        elif negatives and not self.has_negatives:
            item_id, lang = next(
                (item.id, lang) for item in self.items for lang, t in item.texts.items() if t.negative is None
            )
            raise DataError(
                f"negatives=True but language {lang!r} of this item (maybe others too) has no 'negative'; add hard "
                "negatives to every record or train without them", file=self.name, item=item_id,
            )
        lang_index = {lang: k for k, lang in enumerate(self.languages)}
        anchors: list[str] = []
        positives: list[str] = []
        negs: list[str] = []
        labels: list[list[int]] = []
        for item_no, item in enumerate(self.items):
            langs = [lang for lang in self.languages if lang in item.texts]
            keys = {
                lang: (
                    passage_key(lang, item.texts[lang].positive),
                    NO_NEGATIVE if item.texts[lang].negative is None else passage_key(lang, item.texts[lang].negative),
                )
                for lang in langs
            }
            for q in langs:
                query = item.texts[q].query
                for p in langs:
                    text = item.texts[p]
                    anchors.append(query)
                    positives.append(text.positive)
                    if negatives:
                        negs.append(text.negative)
                    labels.append([item_no, lang_index[q], lang_index[p], *keys[p]])
        columns: dict[str, list[Any]] = {"anchor": anchors, "positive": positives}
        features = {"anchor": Value("string"), "positive": Value("string")}
        if negatives:
            columns["negative"] = negs
            features["negative"] = Value("string")
        columns["label"] = labels
        features["label"] = Sequence(Value("int64"), length=len(LABEL_FIELDS))
        return Dataset.from_dict(columns, features=Features(features))


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise DataError("file not found (expected a .jsonl or .parquet file of parallel training records)", file=path)


def _drop_nulls(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    # parquet / datasets give every row every column; an absent optional field arrives as None
    for row in rows:
        yield {key: value for key, value in row.items() if value is not None or key in REQUIRED_FIELDS}
