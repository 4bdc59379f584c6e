"""MIRACL as MTEB tasks: per-language counts for the stock task, and a cross-lingual (mixed-language pool) variant.

MIRACL (Zhang et al., TACL 2023) is monolingual: a query in X is scored against X's Wikipedia only. A real
multilingual index holds every language at once, and a multilingual encoder may then rank passages in other
languages above the relevant ones in X. :class:`MIRACLCrossLingualRetrieval` measures that: queries in X retrieve
from a corpus pooled over several languages, relevance stays in X (MIRACL's own judgments), and
``foreign_intrusion_at_10`` is the share of the top 10 that is not in X.

Subsets (mteb ``hf_subsets``) are ``"<x>-<pool>"`` with MIRACL's two-letter language codes, for each pool of
:attr:`MIRACLCrossLingualRetrieval.language_pools`:

* ``"sw-mono"``: X's corpus only - the stock MIRACL setting, scored from the same embeddings (the control);
* ``"sw-all"``: every language the source holds, pooled (17 on miracl-lite, 18 on the hub);
* ``"de-train"``: the languages arXiv 2408.10536 trains on (ar zh en de es hi ru th tr) that MIRACL and the source
  have; only for query languages in that group.

Scores per subset: mteb's standard retrieval set, as its ``RetrievalEvaluator`` writes it (``ndcg_at_k``,
``map_at_k``, ``recall_at_k``, ``precision_at_k``, ``mrr_at_k``, ``hit_rate_at_k`` for ``k`` in 1, 3, 5, 10, 20, 100,
1000, ``accuracy``, ``nauc_*``; :mod:`hybrid_bench.tasks.retrieval_scores`) with ``ndcg_at_10`` the main score, plus
``foreign_intrusion_at_10``, ``n_queries``, ``n_documents`` (pool size) and ``n_pool_languages``. Scoring follows
mteb's ``MIRACLRetrieval``: queries with at least one judgment are scored, judgments with score 0 are
non-relevant, a query without any relevant passage scores 0, and a relevant passage missing from the corpus counts
as not retrieved (pytrec_eval's conventions).
``"<x>-mono"`` therefore reproduces the stock task's numbers (up to ties and mteb's 5-digit rounding; see
``tests/test_miracl.py``).

Evaluation follows mteb's flow (``AbsTask.evaluate`` calls :meth:`~MIRACLCrossLingualRetrieval._evaluate_subset`
once per subset). Encode once: each language's passages and queries are encoded once per model (through
:func:`hybrid_bench.tasks.encoding.embed`, shared by every subset) and every pool is a
:class:`~hybrid_bench.tasks.scoring.Pool` of those per-language embeddings, ranked chunk by chunk (``chunk_size``).
With the persistent embedding cache on (the default) passages are encoded ``encode_chunk`` at a time into cache
shards and scored from the memory-mapped shards, so the embeddings held in memory are bounded by
``encode_chunk`` while encoding and by ``chunk_size`` while scoring, not by the pool: the hub's full corpora
(millions of passages per language) can be scored. Still growing with the corpus: the cache's key index (40 bytes
per passage) and the data layer's loading (``datasets`` memory-maps the corpus, but
:mod:`hybrid_bench.data.miracl` checks id uniqueness in memory); judged passages are found by scanning the ids
batch by batch, with no id table of the corpus. Queries and judgments are held in memory. With the cache off every embedding is in memory
(:func:`~hybrid_bench.tasks.encoding.use_persistent_cache`). ``benchmarks/corpus_memory.py`` measures it. Texts
are encoded with mteb's ``MIRACLRetrieval`` metadata, so a model with task-specific prompts
sees exactly the inputs of the stock task. With a ``prediction_folder`` per-query values go to
``<prediction_folder>/MIRACLCrossLingualRetrieval_per_query.parquet`` for the leaderboard's paired bootstrap.

Data comes from ``source`` (a folder in the ``mteb/MIRACLRetrieval`` layout, e.g. a mirror), else the local mirror
configured for ``mteb/MIRACLRetrieval`` (:mod:`hybrid_bench.data.mirrors`), else the hub (pinned like the stock
task); a local run records the folder's label as ``dataset_revision``.

Example::

    import mteb
    from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval

    task = MIRACLCrossLingualRetrieval().filter_languages(["swa", "deu"])
    result = mteb.evaluate(mteb.get_model("intfloat/multilingual-e5-small"), task, encode_kwargs={"batch_size": 64})
    print(result.task_results[0].scores["dev"])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from datasets import Dataset, concatenate_datasets
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval
from mteb.timing import TimingStack
from mteb.types import PromptType

from hybrid_bench.data.miracl import (
    MIRACL_LANGSCRIPTS,
    MIRACL_LANGS,
    MiraclLang,
    available_languages,
    load_miracl,
)
from hybrid_bench.data.mirrors import apply_mirrors_to_task, load_task_data
from hybrid_bench.errors import DataError
from hybrid_bench.tasks import metrics
from hybrid_bench.tasks.descriptive_stats import HybridTaskMetadata
from hybrid_bench.tasks.encoding import EncodePlan, embed, similarity_name
from hybrid_bench.tasks.miracl_pools import (
    ALL_AVAILABLE,
    DEFAULT_LANGUAGE_POOLS,
    ENCODE_AS,
    PAPER_TRAINING_LANGUAGES,
    QUERY_LANGUAGE_ONLY,
    cross_lingual_eval_langs,
    cross_lingual_metadata,
    pool_languages,
    subset_parts,
)
from hybrid_bench.tasks.full_ranking import FullRankingRetrieval, RankedSubset
from hybrid_bench.tasks.retrieval_scores import ABSENT
from hybrid_bench.tasks.scoring import Pool, Rows, rank_pool

logger = logging.getLogger(__name__)

__all__ = [
    "ALL_AVAILABLE",
    "DEFAULT_LANGUAGE_POOLS",
    "MIRACL_TASKS",
    "PAPER_TRAINING_LANGUAGES",
    "QUERY_LANGUAGE_ONLY",
    "MIRACLCrossLingualRetrieval",
    "MIRACLMonolingualRetrieval",
    "cross_lingual_metadata",
    "pool_languages",
]

#: cache group of :func:`~hybrid_bench.tasks.encoding.embed`: every text here is encoded as MIRACLRetrieval would
EMBEDDING_GROUP = "miracl"
_NDCG_K, _RECALL_K, _INTRUSION_K = 10, 100, 10


class MIRACLCrossLingualRetrieval(FullRankingRetrieval):
    """MIRACL queries against a corpus pooled over several languages; see the module docstring.

    Args:
        source: a folder in the ``mteb/MIRACLRetrieval`` layout to read (``None``: the configured mirror, else
            the hub).
        chunk_size: pool passages scored at once (``None``: bounded by
            :data:`hybrid_bench.tasks.scoring.BLOCK_CELLS`); any value gives the same scores.
        encode_chunk: passages sent to the model per call and stored per cache shard (``None``:
            :data:`hybrid_bench.tasks.encoding.ENCODE_CHUNK`); bounds the embeddings held while encoding.

    Class attributes:
        language_pools: ``{pool name: ALL_AVAILABLE | QUERY_LANGUAGE_ONLY | tuple of MIRACL languages}``. A
            subclass that changes it must also set ``metadata = cross_lingual_metadata(language_pools, name=...)``
            (checked when the task is created).
    """

    metadata = cross_lingual_metadata(DEFAULT_LANGUAGE_POOLS)
    language_pools: ClassVar[Mapping[str, str | tuple[str, ...]]] = DEFAULT_LANGUAGE_POOLS
    embedding_group: ClassVar[str] = EMBEDDING_GROUP
    per_query_columns = (f"ndcg_at_{_NDCG_K}", f"recall_at_{_RECALL_K}", f"foreign_intrusion_at_{_INTRUSION_K}")
    _support_cross_encoder = False
    _support_search = False

    def __init__(self, *args: Any, source: str | Path | None = None, chunk_size: int | None = None,
                 encode_chunk: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        self.chunk_size = chunk_size
        self.encode_chunk = encode_chunk
        expected = set(cross_lingual_eval_langs(self.language_pools))
        if set(self.metadata.eval_langs) != expected:
            raise TypeError(
                f"{type(self).__name__}: metadata subsets do not match language_pools; set "
                f"metadata = cross_lingual_metadata(language_pools, name=...) in the class"
            )
        self._langs: dict[str, MiraclLang] = {}
        self._available: list[str] = []

    # -- data ----------------------------------------------------------------------------------------------------
    def required_dataset_configs(self) -> dict[str, list[str]]:
        """The source configs each selected subset needs: its query language's three configs.

        Pools need nothing more: ``all`` is whatever the source holds, a language tuple is intersected with it.
        """
        return {
            subset: [f"{lang}-{kind}" for kind in ("corpus", "queries", "qrels")]
            for subset in self.hf_subsets
            for lang in [subset_parts(subset)[0]]
        }

    def load_data(self, num_proc: int | None = None, *, timer: TimingStack | None = None, **kwargs: Any) -> None:
        """Load the query languages of the selected subsets and the corpora of their pools."""
        if self.data_loaded:
            return
        timer = timer or TimingStack()
        with timer("Data loading", log_message=f"Loading dataset {self.metadata.name}..."):
            if self.source is not None:  # an explicit folder
                source, revision = str(Path(self.source).expanduser().resolve()), None
            else:  # subsets are "<x>-<pool>", not source configs: check languages here, not in the mirror module
                apply_mirrors_to_task(self, check_subsets=False)
                source, revision = self.metadata.dataset["path"], self.metadata.dataset["revision"]
            self._available = available_languages(source, revision=revision)
            wanted = [subset_parts(s)[0] for s in self.hf_subsets]
            missing = sorted({lang for lang in wanted if lang not in self._available}, key=MIRACL_LANGS.index)
            if missing:
                flags = " ".join(MIRACL_LANGSCRIPTS[x][0].split("-")[0] for x in self._available)
                raise DataError(
                    f"no MIRACL data for query language(s) {missing} (configs <lang>-corpus/-queries/-qrels); "
                    f"languages available: {self._available}. Restrict the languages, e.g. `-l {flags}`",
                    file=source,
                    item=self.metadata.name,
                )
            needed = {
                x
                for subset in self.hf_subsets
                for x in pool_languages(self.language_pools[subset_parts(subset)[1]], subset_parts(subset)[0],
                                        self._available)
            }
            langs = [lang for lang in MIRACL_LANGS if lang in needed]
            self._langs = load_miracl(langs, source=source, split=self.eval_splits[0], revision=revision)
            # the label of the bytes read (a mirror's, hashed as it was parsed) is the dataset revision recorded
            dataset = {**self.metadata.dataset, "path": source, "revision": self._langs[langs[0]].revision}
            self.metadata = self.metadata.model_copy(update={"dataset": dataset})
        with timer("Dataset transform"):
            self.dataset = self._mteb_layout()
        self.data_loaded = True

    def _mteb_layout(self) -> dict[str, dict[str, RetrievalSplitData]]:
        """Every selected subset as a standard mteb retrieval split (pooled corpus, ids prefixed ``<lang>:``).

        Scoring does not read it (it works from cached embeddings), but it makes the task a plain retrieval task
        to mteb's tools and lets the tests check this task's scores against mteb's own evaluator.
        """
        split = self.eval_splits[0]
        prefixed = {
            lang: data.corpus.map(lambda row, p=f"{lang}:": {"id": p + row["id"]}, desc=f"{lang} ids")
            for lang, data in self._langs.items()
        }
        layout: dict[str, dict[str, RetrievalSplitData]] = {}
        for subset in self.hf_subsets:
            lang, pool = subset_parts(subset)
            langs = pool_languages(self.language_pools[pool], lang, self._available)
            data = self._langs[lang]
            layout[subset] = {
                split: RetrievalSplitData(
                    corpus=concatenate_datasets([prefixed[x] for x in langs]),
                    queries=data.queries,
                    relevant_docs={q: {f"{lang}:{d}": s for d, s in docs.items()} for q, docs in data.qrels.items()},
                    top_ranked=None,
                )
            }
        return layout

    def unload_data(self) -> None:
        self._langs = {}
        super().unload_data()

    def language_corpora(self) -> dict[str, Dataset]:
        """Each language's passages exactly as evaluation encodes them (``<x>``: MIRACL code), loading the data
        first; what :mod:`hybrid_bench.tasks.sharding` splits over processes."""
        self.load_data()
        return {lang: data.corpus for lang, data in self._langs.items()}

    def encode_plan(self) -> EncodePlan:
        """The passages of every loaded language and the queries of the selected subsets' query languages."""
        plan: EncodePlan = []
        for corpus in self.language_corpora().values():
            titles = corpus["title"] if "title" in corpus.column_names else None
            plan.append((self.embedding_group, PromptType.document, corpus["text"], titles))
        for lang in dict.fromkeys(subset_parts(s)[0] for s in self.hf_subsets):
            plan.append((self.embedding_group, PromptType.query, self._langs[lang].queries["text"], None))
        return plan

    # -- evaluation: mteb's AbsTask.evaluate → FullRankingRetrieval._evaluate_subset → _rank_subset, per subset -----
    def _embed(self, model: Any, rows: Dataset, prompt_type: PromptType, lang: str, split: str,
               encode_kwargs: dict[str, Any], timer: TimingStack) -> Rows:
        with timer(f"Encoding {prompt_type.value}s", split=split, subset=lang):
            return embed(model, rows, group=self.embedding_group, prompt_type=prompt_type, task_metadata=ENCODE_AS,
                         hf_split=split, hf_subset=lang, encode_kwargs=encode_kwargs, encode_chunk=self.encode_chunk)

    def _rank_subset(self, model: Any, *, hf_split: str, hf_subset: str, encode_kwargs: dict[str, Any],
                     timer: TimingStack) -> RankedSubset:
        """Rank one ``"<x>-<pool>"`` subset from embeddings encoded once per language (see the module docstring)."""
        lang, pool = subset_parts(hf_subset)
        if lang not in self._langs or pool not in self.language_pools:
            raise ValueError(f"{self.metadata.name}: unknown or unloaded subset {hf_subset!r}")
        langs = pool_languages(self.language_pools[pool], lang, self._available)
        data = self._langs[lang]
        docs = Pool([self._embed(model, self._langs[x].corpus, PromptType.document, x, hf_split, encode_kwargs, timer)
                     for x in langs])
        q_emb = self._embed(model, data.queries, PromptType.query, lang, hf_split, encode_kwargs, timer)
        own = langs.index(lang)
        query_ids = list(data.queries["id"])
        positives = [[d for d, s in data.qrels[qid].items() if s > 0] for qid in query_ids]
        column = _positions(data.corpus, {d for p in positives for d in p}, int(docs.offsets[own]))
        in_pool = [sorted(column[d] for d in p if d in column) for p in positives]
        n_absent = np.array([len(p) - len(c) for p, c in zip(positives, in_pool)], dtype=np.int64)
        with timer("Scoring", split=hf_split, subset=hf_subset):
            ranking = rank_pool(q_emb, docs, in_pool, top_k=max(_INTRUSION_K, *self.k_values),
                                similarity=similarity_name(model), chunk_size=self.chunk_size)
        top_lang = np.searchsorted(docs.offsets, ranking.top[:, :_INTRUSION_K], side="right") - 1
        intrusion = (top_lang != own).mean(axis=1) if ranking.top.size else np.zeros(len(query_ids))
        # a relevant passage absent from the corpus can never be retrieved: rank it past every cut-off (not just past
        # the pool, which may be smaller than k), as pytrec_eval counts it in the recall denominator and ideal DCG
        absent = np.where(np.arange(max(1, n_absent.max(initial=0)))[None, :] < n_absent[:, None], ABSENT, 0)
        ranks = metrics.sort_ranks(np.concatenate([ranking.ranks, absent], axis=1))
        unjudged = int((ranks[:, 0] == 0).sum())  # keep 0 everywhere, as pytrec_eval gives them in mteb
        if unjudged:
            logger.warning("%s %s: %d of %d queries have no relevant judgment and score 0 (as in mteb)",
                           self.metadata.name, hf_subset, unjudged, len(query_ids))
        logger.debug("%s %s: %d queries × %d passages (%s)", self.metadata.name, hf_subset, len(query_ids),
                     len(docs), " ".join(langs))
        return RankedSubset(query_ids=query_ids, ranks=ranks, top_scores=ranking.top_scores,
                            own={f"foreign_intrusion_at_{_INTRUSION_K}": intrusion},
                            counts={"n_queries": len(query_ids), "n_documents": len(docs),
                                    "n_pool_languages": len(langs)})


def _positions(corpus: Dataset, ids: set[str], offset: int, batch: int = 1 << 16) -> dict[str, int]:
    """Pool position (``offset`` + row) of each of ``ids`` in ``corpus``, reading its ids a batch at a time (the
    hub's corpora have millions of passages: no id → row table of the whole corpus is built)."""
    found: dict[str, int] = {}
    for start, rows in zip(range(0, len(corpus), batch), corpus.select_columns(["id"]).iter(batch_size=batch)):
        found.update((doc_id, offset + start + i) for i, doc_id in enumerate(rows["id"]) if doc_id in ids)
    return found


class MIRACLMonolingualRetrieval(MIRACLRetrieval):
    """mteb's stock ``MIRACLRetrieval`` under its own name, adding ``n_queries``.

    Same data (hub or mirror), same evaluation (mteb's ``RetrievalEvaluator`` and pytrec_eval), same numbers; each
    subset's scores gain ``n_queries`` (queries scored) through mteb's ``task_specific_scores`` hook. Per-query
    values come from mteb's own output: run with a ``prediction_folder`` and mteb writes
    ``MIRACLMonolingualRetrieval_predictions.json``, which the leaderboard scores per query with pytrec_eval
    (:func:`hybrid_bench.leaderboard.per_query.per_query_from_predictions`), as for any stock retrieval task. The
    stock ``MIRACLRetrieval`` is left untouched, so ``mteb run -t MIRACLRetrieval`` behaves as everywhere else.
    """

    metadata = HybridTaskMetadata.model_validate(
        MIRACLRetrieval.metadata.model_dump() | {
            "name": "MIRACLMonolingualRetrieval",
            "description": (
                "mteb's MIRACLRetrieval (MIRACL dev, one Wikipedia per language, monolingual) with the number of "
                "scored queries per language. Scores are identical to MIRACLRetrieval on the same data; a run on a "
                "local mirror records the mirror as dataset_revision and is not comparable to official MIRACL "
                "numbers."
            ),
            "adapted_from": ["MIRACLRetrieval"],
        }
    )

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if not self.data_loaded and not load_task_data(self, num_proc=num_proc):  # no mirror: the hub
            super().load_data(num_proc=num_proc, **kwargs)

    def task_specific_scores(self, scores: dict[str, dict[str, float]], qrels: Any, results: Any,
                             hf_split: str, hf_subset: str) -> dict[str, float]:
        """``n_queries``: the queries mteb scored (``scores`` holds one pytrec_eval entry per scored query)."""
        return {"n_queries": len(scores)}


MIRACL_TASKS: tuple[type[AbsTaskRetrieval], ...] = (MIRACLMonolingualRetrieval, MIRACLCrossLingualRetrieval)
