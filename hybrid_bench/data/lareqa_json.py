"""Reading one upstream LAReQA JSON file (SQuAD format plus ``sentence_breaks``) into validated paragraphs.

The layout and its rules (sentence spans, answer sentences, question ids) are described in
:mod:`hybrid_bench.data.lareqa`, which builds questions, candidates and relevance from what this module returns.
Anything malformed raises one :class:`~hybrid_bench.errors.DataError` naming the file, the item and the problem.

Example::

    from hybrid_bench.data.lareqa_json import read_lareqa_json

    parsed = read_lareqa_json(Path("../shared/data/lareqa/xquad-r/de.json"))
    parsed.titles[0], len(parsed.paragraphs)
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hybrid_bench.errors import DataError


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a file: its sentence spans and its questions."""

    article: int
    index: int
    context: str
    spans: tuple[tuple[int, int], ...]
    questions: tuple[tuple[str, str, int], ...]  # (qid, text, index of the answer sentence)


@dataclass(frozen=True)
class ParsedFile:
    """One validated upstream file: article titles, paragraphs, and the article of each question id."""

    path: Path
    titles: tuple[str, ...]
    paragraphs: tuple[Paragraph, ...]
    qid_article: Mapping[str, int]  # qid -> article position


def _get(obj: Any, key: str, kind: type | tuple[type, ...], path: Path, item: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"missing field {key!r}", file=path, item=item)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"field {key!r} should be {expected}, got {type(value).__name__}", file=path, item=item)
    return value


def _parse_spans(raw: Any, context: str, path: Path, item: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, list) or not raw:
        raise DataError("'sentence_breaks' should be a non-empty list of [start, end] spans", file=path, item=item)
    spans: list[tuple[int, int]] = []
    previous_end = 0
    for i, span in enumerate(raw):
        if (
            not isinstance(span, list)
            or len(span) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in span)
        ):
            raise DataError(f"sentence break {i} should be [start, end] integers, got {span!r}", file=path, item=item)
        start, end = span
        if not 0 <= start < end <= len(context):
            raise DataError(
                f"sentence break {i} {span} is out of range for a context of {len(context)} characters",
                file=path,
                item=item,
            )
        if start < previous_end:
            raise DataError(
                f"sentence break {i} {span} overlaps the previous sentence (ending at {previous_end})",
                file=path,
                item=item,
            )
        if not context[start:end].strip():
            raise DataError(f"sentence {i} {span} has empty text", file=path, item=item)
        spans.append((start, end))
        previous_end = end
    return tuple(spans)


def _parse_question(
    raw: Any, spans: tuple[tuple[int, int], ...], starts: list[int], path: Path, item: str
) -> tuple[str, str, int]:
    qid = _get(raw, "id", str, path, f"{item} question")
    if not qid.strip():
        raise DataError("empty question id", file=path, item=item)
    text = _get(raw, "question", str, path, qid)
    if not text.strip():
        raise DataError("empty question text", file=path, item=qid)
    answers = _get(raw, "answers", list, path, qid)
    if not answers:
        raise DataError("no answers", file=path, item=qid)
    # The first answer decides, as in upstream's evaluation (XQuAD and MLQA-dev have exactly one).
    answer_start = _get(answers[0], "answer_start", int, path, qid)
    position = bisect.bisect_right(starts, answer_start) - 1
    if position < 0 or answer_start >= spans[position][1]:
        raise DataError(
            f"answer start {answer_start} is outside every sentence (sentence_breaks {list(map(list, spans))})",
            file=path,
            item=qid,
        )
    return qid, text, position


def _parse(path: Path) -> ParsedFile:
    try:
        raw = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror}", file=path) from None
    articles = _get(raw, "data", list, path, "top level")

    titles: list[str] = []
    paragraphs: list[Paragraph] = []
    qid_article: dict[str, int] = {}
    qid_where: dict[str, str] = {}
    for a, article in enumerate(articles):
        title = _get(article, "title", str, path, f"article {a}")
        titles.append(title)
        for p, paragraph in enumerate(_get(article, "paragraphs", list, path, title)):
            item = f"{title} paragraph {p}"
            context = _get(paragraph, "context", str, path, item)
            if "sentence_breaks" not in paragraph:
                raise DataError("missing field 'sentence_breaks' (is this a LAReQA file?)", file=path, item=item)
            spans = _parse_spans(paragraph["sentence_breaks"], context, path, item)
            starts = [start for start, _ in spans]
            questions = []
            for raw_question in _get(paragraph, "qas", list, path, item):
                question = _parse_question(raw_question, spans, starts, path, item)
                qid = question[0]
                if qid in qid_where:
                    raise DataError(f"duplicate question id (also in {qid_where[qid]})", file=path, item=qid)
                qid_where[qid] = item
                qid_article[qid] = a
                questions.append(question)
            paragraphs.append(Paragraph(a, p, context, spans, tuple(questions)))
    return ParsedFile(path, tuple(titles), tuple(paragraphs), MappingProxyType(qid_article))


@functools.lru_cache(maxsize=64)
def _parse_cached(path: str, mtime_ns: int, size: int) -> ParsedFile:
    return _parse(Path(path))


def read_lareqa_json(path: Path) -> ParsedFile:
    """Parse and validate one upstream file, cached in-process per (path, mtime, size)."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror}", file=path) from None
    return _parse_cached(str(path), stat.st_mtime_ns, stat.st_size)
