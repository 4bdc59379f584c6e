"""One LAReQA setting (mteb subset) as a retrieval problem: which questions, which candidates, what is relevant.

A setting ``"<q>-<c>"`` of an XQuAD-R / MLQA-R task (``"deu-eng"``, ``"deu-deu"``, ``"deu-pool"``) asks the
questions in language *q* against the candidate sentences of language *c*, or of every loaded language for
``pool``. A question is relevant to the candidates that answer it in the setting's candidate languages; a question
with none there (an MLQA-R question without a version in *c*) is left out of the setting, as mteb leaves out
queries without positives. :func:`lareqa_setting` is the one definition of that selection: the tasks score it,
mteb's descriptive statistics count it (:func:`as_retrieval_split`) and the BEIR export writes it.

**Candidate input.** LAReQA's response encoder reads the answer sentence *and* its paragraph
(google-research/xtreme ``third_party/utils_lareqa.py`` encodes ``response_encoder(sentences, contexts)``). With
``candidate_context=True`` a candidate's text is its sentence followed by its paragraph (:func:`candidate_text`);
the default is the sentence alone, as in arXiv 2408.10536.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hybrid_bench.data.lareqa import LANGSCRIPTS, Candidate, LAReQAData, Question

if TYPE_CHECKING:
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

__all__ = ["ISO3", "POOL", "iso639_3", "LAReQASetting", "LazySettings", "as_retrieval_split", "candidate_text", "lareqa_setting"]

#: LAReQA language code → mteb language-script code (owned by the data: :data:`hybrid_bench.data.lareqa.LANGSCRIPTS`);
#: the subset names use the ISO 639-3 part (``"deu-eng"``)
ISO3: dict[str, str] = LANGSCRIPTS
POOL = "pool"
#: what separates the sentence from its paragraph when a candidate is encoded with its context
CONTEXT_SEPARATOR = "\n"


@dataclass(frozen=True)
class LAReQASetting:
    """The questions, candidates and relevance of one LAReQA setting.

    Attributes:
        subset: The mteb subset, e.g. ``"deu-pool"``.
        questions: The setting's questions in file order (only those with a relevant candidate here).
        candidates: The candidate pool, language by language in the data's language order, file order within.
        relevant: Per question, the ascending positions in ``candidates`` of its relevant candidates.
    """

    subset: str
    questions: tuple[Question, ...]
    candidates: tuple[Candidate, ...]
    relevant: tuple[tuple[int, ...], ...]


def iso639_3(lang: str) -> str:
    """The subset code of a LAReQA language: ``"de"`` → ``"deu"``."""
    return ISO3[lang].split("-")[0]


def _by_code(data: LAReQAData) -> dict[str, str]:
    return {iso639_3(lang): lang for lang in data.langs}


def lareqa_setting(data: LAReQAData, subset: str) -> LAReQASetting:
    """Select the questions, candidates and relevance of ``subset`` (``"<q>-<c>"``, ISO 639-3 codes or ``pool``).

    Raises:
        ValueError: A language of ``subset`` is not loaded, or no question has a relevant candidate.
    """
    by_code = _by_code(data)
    q_code, _, c_code = subset.partition("-")
    unknown = [code for code in (q_code, c_code) if code != POOL and code not in by_code]
    if unknown or q_code == POOL:
        raise ValueError(f"{data.name}: setting {subset!r} needs languages that are not loaded "
                         f"(loaded: {sorted(by_code)})")
    c_langs = list(data.langs) if c_code == POOL else [by_code[c_code]]
    candidates = tuple(cand for lang in c_langs for cand in data.candidates[lang])
    column = {cand.id: i for i, cand in enumerate(candidates)}
    questions, relevant = [], []
    for question in data.questions[by_code[q_code]]:
        rel = tuple(sorted(column[cid] for cid in data.relevant(question.qid) if cid in column))
        if rel:  # e.g. an MLQA-R question with no parallel version in the candidate language
            questions.append(question)
            relevant.append(rel)
    if not questions:
        raise ValueError(f"{data.name}/{subset}: no question has a relevant candidate")
    return LAReQASetting(subset, tuple(questions), candidates, tuple(relevant))


def candidate_text(candidate: Candidate, *, context: bool = False) -> str:
    """What the encoder reads for ``candidate``: the sentence, or with ``context`` the sentence and its paragraph."""
    if not context or not candidate.context:
        return candidate.text
    return f"{candidate.text}{CONTEXT_SEPARATOR}{candidate.context}"


def as_retrieval_split(setting: LAReQASetting, *, context: bool = False) -> RetrievalSplitData:
    """The setting in mteb's retrieval layout (``corpus`` / ``queries`` datasets, ``relevant_docs``), ids as in
    :mod:`hybrid_bench.data.lareqa` (``"<lang>:..."``), every relevant candidate with score 1."""
    from datasets import Dataset
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

    corpus = Dataset.from_dict({
        "id": [c.id for c in setting.candidates],
        "title": [""] * len(setting.candidates),
        "text": [candidate_text(c, context=context) for c in setting.candidates],
    })
    queries = Dataset.from_dict({"id": [q.id for q in setting.questions], "text": [q.text for q in setting.questions]})
    relevant_docs = {
        q.id: {setting.candidates[i].id: 1 for i in rel} for q, rel in zip(setting.questions, setting.relevant)
    }
    return RetrievalSplitData(corpus=corpus, queries=queries, relevant_docs=relevant_docs, top_ranked=None)


class LazySettings(Mapping[str, Mapping[str, Any]]):
    """``task.dataset`` of a LAReQA task: ``{subset: {split: RetrievalSplitData}}``, each built on first access.

    Scoring works from the loaded :class:`LAReQAData` and never reads it; mteb's tools that expect the standard
    layout (descriptive statistics, the BEIR export) do, without the 132 XQuAD-R settings being built up front.
    """

    def __init__(self, data: LAReQAData, subsets: list[str], split: str, *, context: bool = False) -> None:
        loaded = {iso639_3(lang) for lang in data.langs} | {POOL}
        # the settings the loaded languages can build (a pool is over whatever languages are loaded)
        self._subsets = [s for s in subsets if s.split("-")[0] in loaded - {POOL} and s.split("-")[1] in loaded]
        self._data, self._split, self._context = data, split, context
        self._built: dict[str, dict[str, RetrievalSplitData]] = {}

    def __getitem__(self, subset: str) -> dict[str, RetrievalSplitData]:
        if subset not in self._subsets:
            raise KeyError(subset)
        if subset not in self._built:
            split = as_retrieval_split(lareqa_setting(self._data, subset), context=self._context)
            self._built[subset] = {self._split: split}
        return self._built[subset]

    def __iter__(self) -> Iterator[str]:
        return iter(self._subsets)

    def __len__(self) -> int:
        return len(self._subsets)
