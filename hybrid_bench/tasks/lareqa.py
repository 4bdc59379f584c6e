"""XQuAD-R and MLQA-R (LAReQA) as MTEB retrieval tasks, scored over the full candidate pool.

Settings (mteb ``hf_subsets``), with ISO 639-3 codes:

* ``"eng-eng"`` – **mono**: questions in X, candidates in X only;
* ``"eng-deu"`` – **cross**: questions in X, candidates in Y ≠ X only;
* ``"eng-pool"`` – **multi**: questions in X against the pool of every language's candidates (LAReQA's main
  setting), where each question has one relevant sentence per language that has its parallel question.

XQuAD-R: 11 mono + 110 cross + 11 pool = 132 settings; MLQA-R: 7 + 42 + 7 = 56.

Scores per setting: mteb's standard retrieval set, as any stock mteb retrieval task writes it (``ndcg_at_k``,
``map_at_k``, ``recall_at_k``, ``precision_at_k``, ``mrr_at_k``, ``hit_rate_at_k`` for ``k`` in 1, 3, 5, 10, 20, 100,
1000, ``accuracy`` and the ``nauc_*`` abstention scores; see :mod:`hybrid_bench.tasks.retrieval_scores`), plus
``map`` (main score: mean average precision over the *whole* ranking, no cut-off, as LAReQA and arXiv 2408.10536
define it; ``map_at_1000`` is the cut one), ``mrr`` (over the whole ranking), ``n_queries``, ``n_candidates``, and on
pool settings ``language_bias``: the mean over questions of (rank of the lowest-ranked relevant candidate − rank of
the highest-ranked one), i.e. the paper's "rank distance"; lower is better. mteb's ``main_score`` of a run is the
mean over its settings: over all 132 of XQuAD-R it is dominated by the 110 cross settings and matches no number of
the paper; the setting tasks (:mod:`hybrid_bench.tasks.lareqa_settings`: ``XQuADRMonoRetrieval``, ...) hold one
kind of setting each, so their mteb aggregate is one of the paper's cells. :func:`summarize` averages settings into
the paper's Table 1 / Table 2 cells.

Evaluation follows mteb's own flow (``AbsTask.evaluate``: protocol checks, timer, one ``_evaluate_subset`` call per
setting, :class:`~hybrid_bench.tasks.full_ranking.FullRankingRetrieval`'s, which scores what ``_rank_subset`` ranks). Encode once: every question and candidate text goes through the model once per model and task family
(:mod:`hybrid_bench.tasks.encoding`, in memory and in the persistent embedding cache), and each setting is ranked
from those embeddings by :func:`hybrid_bench.tasks.scoring.rank_pool`, chunk by chunk (``chunk_size``); with the
persistent cache on, candidates are encoded ``encode_chunk`` at a time and scored from its memory-mapped shards, so
the embeddings held do not grow with the pool (see :mod:`hybrid_bench.tasks.encoding`). With a ``prediction_folder``, per-query values are written to
``<prediction_folder>/<TaskName>_per_query.parquet`` (:mod:`hybrid_bench.tasks.predictions`) for paired
significance tests in the leaderboard.

Data comes from ``data_dir`` (a folder holding ``lareqa/``; default: ``$HYBRID_BENCH_DATA``, then the user cache)::

    task = XQuADRRetrieval(data_dir="../shared/data").filter_languages(["deu", "eng"])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from mteb.timing import TimingStack
from mteb.types import PromptType

from hybrid_bench.data.lareqa import DATASET_LANGS, LAReQAData, lareqa_revision, load_lareqa
from hybrid_bench.data.splits import load_xquad_r_heldout
from hybrid_bench.errors import DataError
from hybrid_bench.tasks import metrics
from hybrid_bench.tasks.descriptive_stats import HybridTaskMetadata
from hybrid_bench.tasks.encoding import EncodePlan, embed, similarity_name, texts_dataset
from hybrid_bench.tasks.full_ranking import FullRankingRetrieval, RankedSubset
from hybrid_bench.tasks.scoring import rank_pool
from hybrid_bench.tasks.settings import ISO3, POOL, LazySettings, candidate_text, iso639_3, lareqa_setting

SPLIT = "test"
_code = iso639_3


def lareqa_eval_langs(langs: Sequence[str]) -> dict[str, list[str]]:
    """mteb ``eval_langs``: every (query, candidate) language pair plus one multilingual pool per query language."""
    out: dict[str, list[str]] = {}
    for q in langs:
        for c in langs:
            out[f"{_code(q)}-{_code(c)}"] = [ISO3[q], ISO3[c]] if q != c else [ISO3[q]]
        out[f"{_code(q)}-{POOL}"] = [ISO3[q]]
    return out


def lareqa_subsets(dataset: str, languages: Sequence[str]) -> list[str]:
    """The subsets of LAReQA dataset ``dataset`` (``"xquad-r"`` / ``"mlqa-r"``) among ``languages`` (ISO 639-1):
    every pair of them and their pools, for ``filter_languages(hf_subsets=...)`` next to :meth:`set_sample`.

    Raises:
        DataError: the dataset has none of ``languages``.
    """
    langs = [lang for lang in DATASET_LANGS[dataset] if lang in languages]
    if not langs:
        raise DataError(f"{dataset} has none of the languages {list(languages)}; it has {list(DATASET_LANGS[dataset])}")
    return list(lareqa_eval_langs(langs))


def setting_of(subset: str) -> str:
    """``"mono"``, ``"cross"`` or ``"multi"`` for a LAReQA subset name like ``"eng-deu"`` or ``"eng-pool"``."""
    q, _, c = subset.partition("-")
    if c == POOL:
        return "multi"
    return "mono" if q == c else "cross"


def summarize(scores: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """The paper's Table 1 / Table 2 cells from per-subset scores: macro means of mAP per setting, mean bias.

    Args:
        scores: ``{subset: {"map": ..., "language_bias": ...}}`` (e.g. one split of an mteb ``TaskResult``).

    Returns:
        ``{"mono": ..., "cross": ..., "multi": ..., "bias": ...}``; a key is missing when no subset of that kind ran.
    """
    groups: dict[str, list[float]] = {"mono": [], "cross": [], "multi": [], "bias": []}
    for subset, values in scores.items():
        kind = setting_of(subset)
        groups[kind].append(float(values["map"]))
        if kind == "multi" and "language_bias" in values:
            groups["bias"].append(float(values["language_bias"]))
    return {k: float(np.mean(v)) for k, v in groups.items() if v}


class _LAReQARetrieval(FullRankingRetrieval):
    """Shared machinery of the LAReQA tasks; subclasses declare metadata and which data they load.

    Args:
        data_dir: local data folder (``<data_dir>/lareqa/<name>/<lang>.json``); ``None``: ``$HYBRID_BENCH_DATA``,
            then the user cache (see :func:`hybrid_bench.data.lareqa.load_lareqa`).
        chunk_size: candidates scored at once (``None``: bounded by
            :data:`hybrid_bench.tasks.scoring.BLOCK_CELLS`); any value gives the same scores.
        encode_chunk: texts sent to the model per call and stored per cache shard (``None``:
            :data:`hybrid_bench.tasks.encoding.ENCODE_CHUNK`).
        allow_modified_data: accept local files that fail their pinned sha256 (``--allow-modified-data``); the
            task's dataset revision then becomes ``modified:<hash>`` (:func:`~hybrid_bench.data.lareqa.lareqa_revision`),
            so such results are never filed or reused as the benchmark's.
    """

    lareqa_name: ClassVar[str]
    #: tasks in one group see identical model inputs for identical texts, so they share cached embeddings
    embedding_group: ClassVar[str] = "lareqa"
    #: encode each candidate as its sentence followed by its paragraph (LAReQA's response-encoder input) instead
    #: of the sentence alone; the *Context* task variants set it, so it is part of the task name in every result
    candidate_context: ClassVar[bool] = False
    #: the metadata given to the model with the texts (it picks prompts from it); ``None``: the task's own. A
    #: setting task (:mod:`hybrid_bench.tasks.lareqa_settings`) encodes as its parent, so both send the same inputs
    encode_as: ClassVar[HybridTaskMetadata | None] = None
    per_query_columns = (*metrics.PER_QUERY_METRICS, "language_bias")
    _support_cross_encoder = False
    _support_search = False

    def __init__(self, *args: Any, data_dir: str | os.PathLike[str] | None = None, chunk_size: int | None = None,
                 encode_chunk: int | None = None, allow_modified_data: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_dir = data_dir
        self.chunk_size = chunk_size
        self.encode_chunk = encode_chunk
        self._data: LAReQAData | None = None
        self._sample: dict[str, Any] | None = None
        #: accept local files that fail their pinned sha256; results are then filed under the data's own hash
        self.allow_modified_data = allow_modified_data
        if allow_modified_data:
            revision = lareqa_revision(self.lareqa_name, data_dir=data_dir, allow_modified=True)
            self.metadata = self.metadata.model_copy(
                update={"dataset": {**self.metadata.dataset, "revision": revision}})

    def needed_languages(self) -> list[str] | None:
        """The languages (ISO 639-1) the selected settings read; ``None``: all (a pool setting over every one)."""
        if self._sample and self._sample.get("languages"):
            return list(self._sample["languages"])
        by_code = {_code(lang): lang for lang in DATASET_LANGS[self.lareqa_name]}
        subsets = self.hf_subsets or list(self.metadata.eval_langs)
        codes = {code for subset in subsets for code in subset.split("-")}
        if POOL in codes:
            return None
        return [lang for code, lang in by_code.items() if code in codes]

    # -- data ---------------------------------------------------------------------------------------------
    def set_sample(self, *, languages: Sequence[str] | None = None, max_queries: int | None = None,
                   max_candidates: int | None = None, seed: int = 0) -> None:
        """Evaluate on a seeded sample of the data (see :meth:`LAReQAData.sample`), e.g. for quick runs.

        ``languages`` are ISO 639-1 codes; restrict the task's subsets to match (``hf_subsets``), since settings
        over a language that is not loaded cannot be scored. Data loaded earlier is dropped.
        """
        self._sample = {"languages": languages, "max_queries": max_queries, "max_candidates": max_candidates,
                        "seed": seed}
        if self.data_loaded:
            self.unload_data()

    def _load(self) -> LAReQAData:
        return load_lareqa(self.lareqa_name, self.needed_languages(), data_dir=self.data_dir,
                           allow_modified=self.allow_modified_data)

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        data = self._load()
        self._data = data.sample(**self._sample) if self._sample else data
        # mteb's retrieval layout, each setting built only when read (mteb's evaluate() looks it up, descriptive
        # statistics and the BEIR export read it); scoring works from self._data
        self.dataset = LazySettings(self._data, list(self.metadata.eval_langs), SPLIT, context=self.candidate_context)
        self.data_loaded = True

    @property
    def lareqa_data(self) -> LAReQAData:
        """The loaded questions, candidates and relevance (loads on first access)."""
        if self._data is None:
            self.load_data()
        assert self._data is not None
        return self._data

    def unload_data(self) -> None:
        self._data = None
        super().unload_data()

    def encode_plan(self) -> EncodePlan:
        """The questions and candidates the selected settings embed (see :func:`~hybrid_bench.tasks.encoding.texts_to_encode`)."""
        plan: EncodePlan = []
        for subset in self.hf_subsets:
            setting = lareqa_setting(self.lareqa_data, subset)
            plan.append((self.embedding_group, PromptType.query, [q.text for q in setting.questions], None))
            plan.append((self.embedding_group, PromptType.document,
                         [candidate_text(c, context=self.candidate_context) for c in setting.candidates], None))
        return plan

    # -- evaluation: mteb's AbsTask.evaluate → FullRankingRetrieval._evaluate_subset → this, once per setting -----
    def _rank_subset(self, model: Any, *, hf_split: str, hf_subset: str, encode_kwargs: dict[str, Any],
                     timer: TimingStack) -> RankedSubset:
        setting = lareqa_setting(self.lareqa_data, hf_subset)
        questions, candidates = setting.questions, setting.candidates
        common = dict(group=self.embedding_group, task_metadata=self.encode_as or self.metadata, hf_split=hf_split,
                      hf_subset=hf_subset, encode_kwargs=encode_kwargs, encode_chunk=self.encode_chunk)
        with timer("Encoding queries", split=hf_split, subset=hf_subset):
            q_emb = embed(model, texts_dataset([q.id for q in questions], [q.text for q in questions]),
                          prompt_type=PromptType.query, **common)
        with timer("Encoding documents", split=hf_split, subset=hf_subset):
            texts = [candidate_text(c, context=self.candidate_context) for c in candidates]
            c_emb = embed(model, texts_dataset([c.id for c in candidates], texts), prompt_type=PromptType.document,
                          **common)
        with timer("Scoring", split=hf_split, subset=hf_subset):
            ranking = rank_pool(q_emb, c_emb, [list(rel) for rel in setting.relevant], top_k=max(self.k_values),
                                similarity=similarity_name(model), chunk_size=self.chunk_size)
        own = {"ap": metrics.average_precision(ranking.ranks), "rr": metrics.reciprocal_rank(ranking.ranks)}
        if hf_subset.partition("-")[2] == POOL:
            own["language_bias"] = metrics.rank_distance(ranking.ranks)
        return RankedSubset(query_ids=[q.id for q in questions], ranks=ranking.ranks, top_scores=ranking.top_scores,
                            own=own, counts={"n_queries": len(questions), "n_candidates": len(candidates)})


_LAREQA_BIBTEX = r"""
@inproceedings{roy-etal-2020-lareqa,
  author = {Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  booktitle = {Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  pages = {5919--5930},
  title = {{LAReQA}: Language-Agnostic Answer Retrieval from a Multilingual Pool},
  year = {2020},
}
"""

_COMMON: dict[str, Any] = dict(
    type="Retrieval",
    category="t2t",
    modalities=["text"],
    eval_splits=[SPLIT],
    main_score="map",
    domains=["Encyclopaedic", "Written"],
    task_subtypes=["Question answering"],
    annotations_creators="human-annotated",
    dialect=[],
    bibtex_citation=_LAREQA_BIBTEX,
)

_XQUAD_R_DATASET = {
    "path": "google-research-datasets/lareqa",
    "revision": "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c",
}
#: metadata shared by XQuADRRetrieval and its held-out variant (same data, same settings, a smaller pool)
_XQUAD_R_COMMON: dict[str, Any] = dict(
    reference="https://github.com/google-research-datasets/lareqa",
    dataset=_XQUAD_R_DATASET,
    eval_langs=lareqa_eval_langs(DATASET_LANGS["xquad-r"]),
    date=("2019-10-01", "2020-04-30"),
    license="cc-by-sa-4.0",
    sample_creation="human-translated",
    **_COMMON,
)


class XQuADRRetrieval(_LAReQARetrieval):
    metadata = HybridTaskMetadata(
        name="XQuADRRetrieval",
        description=(
            "XQuAD-R (LAReQA): 1,190 questions 11-way parallel in ar de el en es hi ru th tr vi zh; retrieve the "
            "answer sentence among all sentences of all 48 articles. Settings: mono X→X, cross X→Y and the "
            "multilingual pool per query language; main score is mAP over the full ranking; pool settings also "
            "report language bias (rank distance)."
        ),
        **_XQUAD_R_COMMON,
    )
    lareqa_name = "xquad-r"


class XQuADRHeldOutRetrieval(_LAReQARetrieval):
    metadata = HybridTaskMetadata(
        name="XQuADRHeldOutRetrieval",
        description=(
            "XQuAD-R restricted to the held-out half of its articles (hybrid_bench.data.splits), i.e. the articles "
            "hybrid-bench's trainer never sees; same settings and metrics as XQuADRRetrieval over a smaller pool."
        ),
        **_XQUAD_R_COMMON,
    )
    lareqa_name = "xquad-r"

    def _load(self) -> LAReQAData:
        return load_xquad_r_heldout(self.needed_languages(), data_dir=self.data_dir,
                                    allow_modified=self.allow_modified_data)


class MLQARRetrieval(_LAReQARetrieval):
    metadata = HybridTaskMetadata(
        name="MLQARRetrieval",
        description=(
            "MLQA-R (LAReQA): MLQA dev questions in ar de en es hi vi zh with 2–4 parallel answer sentences each; "
            "retrieve them among all sentences of all paragraphs. Settings: mono X→X, cross X→Y and the multilingual "
            "pool per query language; main score is mAP over the full ranking; pool settings also report language "
            "bias (rank distance). Differs from mteb's MLQARetrieval (paragraph retrieval, nDCG@10)."
        ),
        reference="https://github.com/google-research-datasets/lareqa",
        dataset={
            "path": "google-research-datasets/lareqa",
            "revision": "354d67d1cd066854cdfbf5ad0e6105528976141d",
        },
        eval_langs=lareqa_eval_langs(DATASET_LANGS["mlqa-r"]),
        date=("2019-10-01", "2020-04-30"),
        license="cc-by-nc-4.0",
        sample_creation="found",
        **_COMMON,
    )
    lareqa_name = "mlqa-r"


_CONTEXT_NOTE = (
    " Candidate context variant: each candidate is encoded as its sentence followed by its paragraph, the input of "
    "LAReQA's response encoder (google-research/xtreme third_party/utils_lareqa.py); questions and relevance are "
    "unchanged."
)


def _context_metadata(base: type[_LAReQARetrieval], name: str) -> HybridTaskMetadata:
    return base.metadata.model_copy(update={
        "name": name, "description": base.metadata.description + _CONTEXT_NOTE, "adapted_from": [base.metadata.name],
    })


class XQuADRContextRetrieval(XQuADRRetrieval):
    """``XQuADRRetrieval`` with LAReQA's candidate input: sentence + paragraph (see :data:`_CONTEXT_NOTE`)."""

    metadata = _context_metadata(XQuADRRetrieval, "XQuADRContextRetrieval")
    candidate_context = True


class XQuADRHeldOutContextRetrieval(XQuADRHeldOutRetrieval):
    """``XQuADRHeldOutRetrieval`` with LAReQA's candidate input: sentence + paragraph."""

    metadata = _context_metadata(XQuADRHeldOutRetrieval, "XQuADRHeldOutContextRetrieval")
    candidate_context = True


class MLQARContextRetrieval(MLQARRetrieval):
    """``MLQARRetrieval`` with LAReQA's candidate input: sentence + paragraph."""

    metadata = _context_metadata(MLQARRetrieval, "MLQARContextRetrieval")
    candidate_context = True


LAREQA_TASKS: tuple[type[_LAReQARetrieval], ...] = (
    XQuADRRetrieval, XQuADRHeldOutRetrieval, MLQARRetrieval,
    XQuADRContextRetrieval, XQuADRHeldOutContextRetrieval, MLQARContextRetrieval,
)
