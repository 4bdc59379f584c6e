"""LAReQA retrieval data: XQuAD-R and MLQA-R as questions, candidate sentences and relevance.

LAReQA (Roy et al., 2020, `arXiv:2004.05484 <https://arxiv.org/abs/2004.05484>`_) turns the extractive QA sets
XQuAD and MLQA-dev into sentence retrieval from a multilingual pool. The upstream files
(`google-research-datasets/lareqa <https://github.com/google-research-datasets/lareqa>`_, pinned in
``lareqa_sources.json``) are SQuAD-format JSON with an added ``sentence_breaks`` field: ``[start, end)`` character
spans of each sentence of ``context``.

How this module reads them (it reproduces the upstream statistics table exactly; see ``tests/test_lareqa_data.py``):

* **Candidates** are every sentence of every paragraph, one per ``sentence_breaks`` span, with text
  ``context[start:end]`` (as the upstream evaluation code does; the redundant ``sentences`` field is ignored - it
  disagrees with the spans for two Turkish XQuAD-R sentences). A sentence text that repeats (in another paragraph
  or article) is **not** merged: upstream candidate ids are ``(paragraph, position)``, and its table counts every
  span (e.g. XQuAD-R zh: 1,196 candidates, 1,192 distinct texts; MLQA-R en: 6,264 and 6,262). Texts are kept
  verbatim, surrounding whitespace included.
  Candidate ids are ``"<lang>:<article>:<paragraph>:<sentence>"`` with file positions, e.g. ``"de:0012:03:05"``.
* **Questions** keep their SQuAD id as ``qid``, shared by the parallel versions of a question; ``Question.id`` is
  ``"<lang>:<qid>"``. A question's **answer candidate** is the sentence of its own paragraph whose span contains
  the first answer's ``answer_start`` (``start <= answer_start < end``, as upstream).
* **Relevance**: :meth:`LAReQAData.relevant` of a qid is the answer candidate of every *loaded* language that has
  that qid - 11 per question for XQuAD-R with all languages, 2-4 for MLQA-R.
* **Article keys** are language-independent: an article's key is the English title of the article that holds the
  English versions of its questions (every XQuAD-R and MLQA-R question has an English version). For XQuAD-R the
  11 files are parallel by position and keep the untranslated SQuAD titles, so the key is simply the title
  (``"Super_Bowl_50"``). For MLQA-R titles are translated (``"Salomonen"`` ↔ ``"Solomon Islands"``) and each
  language has its own articles; the key groups the articles on one topic across languages (520 keys = the 520
  English articles). The English file is therefore read even when ``en`` is not among ``langs``. An article with
  no English-linked question keeps ``"<lang>:<title>"``.

Anything malformed raises one :class:`~hybrid_bench.errors.DataError` naming the file, the item and the problem;
nothing is returned half-built. Parsed files are cached in-process per (path, mtime, size); reading and
validating one file is :mod:`hybrid_bench.data.lareqa_json`, where the files come from (languages, pinned
upstream files, revision) :mod:`hybrid_bench.data.lareqa_sources`.

Example::

    from hybrid_bench.data.lareqa import load_lareqa

    data = load_lareqa("xquad-r", ["en", "de"], data_dir="../shared/data")
    question = data.questions["de"][0]
    print(question.text, sorted(data.relevant(question.qid)))
    # Wie viele Punkte gab die Verteidigung der Panthers ab? ['de:0000:00:00', 'en:0000:00:00']
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from hybrid_bench.data.lareqa_json import ParsedFile, read_lareqa_json
from hybrid_bench.data.lareqa_sources import (DATASET_LANGS, LANGSCRIPTS, MLQA_R_LANGS, PIVOT, XQUAD_R_LANGS,
                                              check_lang, check_name, lareqa_file, lareqa_revision,
                                              lareqa_source, needed_langs)
from hybrid_bench.errors import DataError

__all__ = [
    "DATASET_LANGS",
    "LANGSCRIPTS",
    "MLQA_R_LANGS",
    "XQUAD_R_LANGS",
    "Candidate",
    "LAReQAData",
    "Question",
    "lareqa_file",
    "lareqa_revision",
    "lareqa_source",
    "load_lareqa",
]


@dataclass(frozen=True)
class Candidate:
    """One candidate answer: a sentence of one paragraph in one language.

    Attributes:
        id: Unique across languages and stable: ``"<lang>:<article>:<paragraph>:<sentence>"`` (file positions).
        lang: Language code.
        text: The sentence, ``context[start:end]`` verbatim.
        article: Language-independent article key (see the module docstring).
        context: The whole paragraph the sentence comes from (LAReQA's baselines may encode it alongside).
    """

    id: str
    lang: str
    text: str
    article: str
    context: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class Question:
    """One question in one language.

    Attributes:
        id: Unique across languages: ``"<lang>:<qid>"``.
        qid: The SQuAD question id, shared by the parallel versions of the question.
        lang: Language code.
        text: The question.
        article: Language-independent article key.
        answer_candidate: Id of the candidate (same language) containing the answer start.
    """

    id: str
    qid: str
    lang: str
    text: str
    article: str
    answer_candidate: str


@dataclass(frozen=True)
class LAReQAData:
    """Questions and candidates of one LAReQA data set over some languages, with qid-level relevance.

    Attributes:
        name: ``"xquad-r"`` or ``"mlqa-r"``.
        langs: The loaded languages, in the order asked for.
        questions: Per language, the questions in file order.
        candidates: Per language, the candidate sentences in file order.
    """

    name: str
    langs: tuple[str, ...]
    questions: Mapping[str, tuple[Question, ...]]
    candidates: Mapping[str, tuple[Candidate, ...]]
    _relevant: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "langs", tuple(self.langs))
        object.__setattr__(self, "questions", MappingProxyType({k: tuple(v) for k, v in self.questions.items()}))
        object.__setattr__(self, "candidates", MappingProxyType({k: tuple(v) for k, v in self.candidates.items()}))
        relevant: dict[str, set[str]] = {}
        for lang in self.langs:
            for question in self.questions.get(lang, ()):
                relevant.setdefault(question.qid, set()).add(question.answer_candidate)
        object.__setattr__(self, "_relevant", MappingProxyType({q: frozenset(c) for q, c in relevant.items()}))

    def relevant(self, qid: str) -> frozenset[str]:
        """Ids of the candidates, over all loaded languages, that answer the question ``qid``.

        Args:
            qid: The language-independent SQuAD id (``Question.qid``, not ``Question.id``).
        """
        try:
            return self._relevant[qid]
        except KeyError:
            hint = " (pass Question.qid, not Question.id)" if ":" in qid else ""
            raise KeyError(f"no question with qid {qid!r} in this {self.name} data{hint}") from None

    def qids(self) -> tuple[str, ...]:
        """All loaded qids, in order of first appearance over ``langs``."""
        return tuple(self._relevant)

    def articles(self) -> tuple[str, ...]:
        """The sorted article keys present in the loaded questions and candidates."""
        keys = {q.article for qs in self.questions.values() for q in qs}
        keys.update(c.article for cs in self.candidates.values() for c in cs)
        return tuple(sorted(keys))

    def restrict_articles(self, articles: Collection[str]) -> LAReQAData:
        """A copy that keeps only the questions and candidates of ``articles`` (keys from :meth:`articles`).

        Raises:
            DataError: A key that is not an article of this data (a typo would otherwise silently drop data).
        """
        wanted = frozenset(articles)
        unknown = wanted - set(self.articles())
        if unknown:
            raise DataError(
                f"unknown article key(s) {sorted(unknown)[:5]}; valid keys are those of .articles(), "
                f"e.g. {list(self.articles()[:3])}",
                file=self.name,
            )
        return LAReQAData(
            name=self.name,
            langs=self.langs,
            questions={lang: tuple(q for q in qs if q.article in wanted) for lang, qs in self.questions.items()},
            candidates={lang: tuple(c for c in cs if c.article in wanted) for lang, cs in self.candidates.items()},
        )

    def sample(self, *, languages: Sequence[str] | None = None, max_queries: int | None = None,
               max_candidates: int | None = None, seed: int = 0) -> LAReQAData:
        """A smaller copy: some languages, a seeded sample of parallel questions, capped candidate pools.

        The same ``max_queries`` qids are kept in every language (the parallel structure stays intact); per
        language every candidate that answers a kept question stays, and the pool is filled up to
        ``max_candidates`` with a seeded sample of the others. ``None`` keeps everything of that kind.

        Raises:
            DataError: None of ``languages`` is loaded.

        Example:
            >>> small = load_lareqa("xquad-r").sample(languages=["de", "en"], max_queries=50,
            ...                                       max_candidates=200)  # doctest: +SKIP
            >>> {lang: len(small.questions[lang]) for lang in small.langs}  # doctest: +SKIP
            {'de': 50, 'en': 50}
        """
        langs = [lang for lang in self.langs if languages is None or lang in languages]
        if not langs:
            raise DataError(f"none of the languages {list(languages or [])} is loaded ({list(self.langs)})",
                            file=self.name)
        present = {x.qid for lang in langs for x in self.questions[lang]}
        qids = [q for q in self.qids() if q in present]
        kept = set(stable_order(qids, seed)[:max_queries] if max_queries else qids)
        needed = {cid for q in kept for cid in self.relevant(q)}
        candidates = {}
        for lang in langs:
            pool = list(self.candidates[lang])
            if max_candidates is None:
                candidates[lang] = pool
                continue
            others = stable_order([c.id for c in pool if c.id not in needed], seed)
            extra = set(others[: max(0, max_candidates - sum(c.id in needed for c in pool))])
            candidates[lang] = [c for c in pool if c.id in needed or c.id in extra]
        return LAReQAData(name=self.name, langs=tuple(langs), candidates=candidates,
                          questions={lang: [x for x in self.questions[lang] if x.qid in kept] for lang in langs})


def stable_order(keys: Sequence[str], seed: int) -> list[str]:
    """``keys`` in a seeded but machine-independent order (sha256, not Python's salted ``hash``)."""
    return sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())


def _article_keys(lang: str, parsed: ParsedFile, pivot: ParsedFile) -> list[str]:
    """Each article's language-independent key: the pivot (English) title its questions link to."""
    linked: list[set[str]] = [set() for _ in parsed.titles]
    for qid, a in parsed.qid_article.items():
        pivot_article = pivot.qid_article.get(qid)
        if pivot_article is not None:
            linked[a].add(pivot.titles[pivot_article])
    keys = []
    for title, pivots in zip(parsed.titles, linked):
        if len(pivots) > 1:
            raise DataError(
                f"the article's questions belong to several {PIVOT!r} articles {sorted(pivots)}, so it has no "
                "single language-independent key",
                file=parsed.path,
                item=title,
            )
        keys.append(next(iter(pivots)) if pivots else f"{lang}:{title}")
    return keys


# --------------------------------------------------------------------------------------------- loading


def load_lareqa(
    name: str,
    langs: Sequence[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    articles: Collection[str] | None = None,
    download: bool | None = None,
    allow_modified: bool = False,
) -> LAReQAData:
    """Load XQuAD-R or MLQA-R for some languages.

    Args:
        name: ``"xquad-r"`` or ``"mlqa-r"``.
        langs: Languages to load, in this order; ``None`` loads all of :data:`DATASET_LANGS` ``[name]``.
        data_dir: A local copy (``<data_dir>/lareqa/<name>/<lang>.json`` or ``<data_dir>/<name>/<lang>.json``);
            ``None`` uses ``HYBRID_BENCH_DATA``, then the user cache, downloading missing files.
        articles: Keep only these article keys (see :meth:`LAReQAData.restrict_articles`).
        download: Whether missing files may be downloaded (``None``: unless offline, ``HF_HUB_OFFLINE=1``).
            Only the files of ``langs`` (and the English pivot) are looked for.
        allow_modified: Accept local files that fail their pinned sha256 (label results with
            :func:`lareqa_revision`).

    Returns:
        The questions, candidates and relevance of the loaded languages.

    Raises:
        DataError: Unknown name or language, a file that cannot be found or downloaded, or malformed data.

    Example::

        data = load_lareqa("mlqa-r", ["de", "en"], data_dir="../shared/data")
        len(data.questions["de"]), len(data.candidates["de"])  # (512, 2362)
    """
    name = check_name(name)
    if langs is None:
        langs = DATASET_LANGS[name]
    elif isinstance(langs, str):
        raise DataError(f"langs should be a sequence of language codes, e.g. [{langs!r}], not a string")
    langs = tuple(dict.fromkeys(check_lang(name, lang) for lang in langs))
    if not langs:
        raise DataError(f"no languages given; valid languages of {name} are {', '.join(DATASET_LANGS[name])}")

    files = {lang: read_lareqa_json(lareqa_file(name, lang, data_dir=data_dir, download=download,
                                                allow_modified=allow_modified))
             for lang in needed_langs(name, langs)}
    parsed = {lang: files[lang] for lang in langs}
    pivot = files[PIVOT]

    questions: dict[str, tuple[Question, ...]] = {}
    candidates: dict[str, tuple[Candidate, ...]] = {}
    for lang, file in parsed.items():
        keys = _article_keys(lang, file, pivot)
        lang_questions: list[Question] = []
        lang_candidates: list[Candidate] = []
        for paragraph in file.paragraphs:
            key = keys[paragraph.article]
            prefix = f"{lang}:{paragraph.article:04d}:{paragraph.index:02d}"
            ids = [f"{prefix}:{s:02d}" for s in range(len(paragraph.spans))]
            lang_candidates.extend(
                Candidate(id=cid, lang=lang, text=paragraph.context[start:end], article=key, context=paragraph.context)
                for cid, (start, end) in zip(ids, paragraph.spans)
            )
            lang_questions.extend(
                Question(id=f"{lang}:{qid}", qid=qid, lang=lang, text=text, article=key, answer_candidate=ids[s])
                for qid, text, s in paragraph.questions
            )
        questions[lang] = tuple(lang_questions)
        candidates[lang] = tuple(lang_candidates)

    data = LAReQAData(name=name, langs=langs, questions=questions, candidates=candidates)
    return data if articles is None else data.restrict_articles(articles)
