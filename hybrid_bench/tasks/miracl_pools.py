"""The language pools of the cross-lingual MIRACL task: which corpora a ``"<x>-<pool>"`` subset ranks against.

A pool is :data:`ALL_AVAILABLE` (every MIRACL language the source holds), :data:`QUERY_LANGUAGE_ONLY` (the stock,
monolingual control) or a tuple of MIRACL languages (intersected with what the source holds).
:func:`cross_lingual_metadata` builds the mteb metadata of a task with given pools (subsets, languages, description),
for :class:`hybrid_bench.tasks.miracl.MIRACLCrossLingualRetrieval` and its subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mteb.abstasks.task_metadata import TaskMetadata
from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval

from hybrid_bench.data.miracl import MIRACL_LANGSCRIPTS, MIRACL_LANGS, MIRACL_REPO, MIRACL_REVISION
from hybrid_bench.tasks.descriptive_stats import HybridTaskMetadata

__all__ = [
    "ALL_AVAILABLE", "DEFAULT_LANGUAGE_POOLS", "ENCODE_AS", "PAPER_TRAINING_LANGUAGES", "QUERY_LANGUAGE_ONLY",
    "cross_lingual_eval_langs", "cross_lingual_metadata", "pool_languages", "subset_parts",
]

#: every text of the MIRACL tasks is encoded as mteb's MIRACLRetrieval would (its prompts, its metadata)
ENCODE_AS: TaskMetadata = MIRACLRetrieval.metadata

#: pool value: every MIRACL language the data source holds
ALL_AVAILABLE = "all-available"
#: pool value: the query's own language only (the monolingual control)
QUERY_LANGUAGE_ONLY = "query-language-only"
#: the training languages of arXiv 2408.10536 (mMARCO + translated QA sets); tr is not in MIRACL
PAPER_TRAINING_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "de", "es", "hi", "ru", "th", "tr")
DEFAULT_LANGUAGE_POOLS: Mapping[str, str | tuple[str, ...]] = {
    "mono": QUERY_LANGUAGE_ONLY,
    "all": ALL_AVAILABLE,
    "train": PAPER_TRAINING_LANGUAGES,
}
def _check_pools(pools: Mapping[str, str | tuple[str, ...]]) -> None:
    for name, spec in pools.items():
        if not name or "-" in name:
            raise ValueError(f"pool name {name!r} must be non-empty and contain no '-' (subsets are '<lang>-<pool>')")
        if isinstance(spec, str):
            if spec not in (ALL_AVAILABLE, QUERY_LANGUAGE_ONLY):
                raise ValueError(
                    f"pool {name!r}: {spec!r} is neither ALL_AVAILABLE, QUERY_LANGUAGE_ONLY nor a tuple of languages"
                )
        elif not any(lang in MIRACL_LANGSCRIPTS for lang in spec):
            raise ValueError(f"pool {name!r}: none of {list(spec)} is a MIRACL language ({list(MIRACL_LANGS)})")


def _query_languages(spec: str | tuple[str, ...]) -> list[str]:
    if isinstance(spec, str):
        return list(MIRACL_LANGS)
    return [lang for lang in MIRACL_LANGS if lang in spec]


def pool_languages(spec: str | tuple[str, ...], query_lang: str, available: Sequence[str]) -> list[str]:
    """The corpus languages pooled for one subset, in MIRACL's language order.

    Example:
        >>> pool_languages(PAPER_TRAINING_LANGUAGES, "de", ["ar", "de", "sw", "zh"])
        ['ar', 'de', 'zh']
    """
    if spec == QUERY_LANGUAGE_ONLY:
        return [query_lang]
    members = set(available) if spec == ALL_AVAILABLE else set(spec) & set(available)
    return [lang for lang in MIRACL_LANGS if lang in members]


def cross_lingual_eval_langs(pools: Mapping[str, str | tuple[str, ...]]) -> dict[str, list[str]]:
    """mteb ``eval_langs``: ``"<x>-<pool>"`` → the *query* language's code, so ``-l swa`` selects Swahili queries."""
    _check_pools(pools)
    return {
        f"{lang}-{name}": list(MIRACL_LANGSCRIPTS[lang])
        for lang in MIRACL_LANGS
        for name, spec in pools.items()
        if lang in _query_languages(spec)
    }


def cross_lingual_metadata(
    pools: Mapping[str, str | tuple[str, ...]] = DEFAULT_LANGUAGE_POOLS,
    *,
    name: str = "MIRACLCrossLingualRetrieval",
    description: str | None = None,
) -> TaskMetadata:
    """The ``TaskMetadata`` of a cross-lingual MIRACL task with the given pools (for subclasses with other pools).

    Example::

        class MIRACLIndicPoolRetrieval(MIRACLCrossLingualRetrieval):
            language_pools = {"mono": QUERY_LANGUAGE_ONLY, "indic": ("bn", "hi", "te")}
            metadata = cross_lingual_metadata(language_pools, name="MIRACLIndicPoolRetrieval")
    """
    pool_text = "; ".join(
        f"'{n}' = " + (
            "the query's own language" if s == QUERY_LANGUAGE_ONLY
            else "every language the data source holds" if s == ALL_AVAILABLE
            else " ".join(s) + " (those the source holds)"
        )
        for n, s in pools.items()
    )
    return HybridTaskMetadata(
        name=name,
        description=description
        or (
            "MIRACL dev with a mixed-language corpus: queries in language X retrieve from the passages of several "
            "MIRACL languages pooled into one index; relevance is MIRACL's own (passages in X only). Subsets "
            f"'<x>-<pool>' with pools: {pool_text}. Reports nDCG@10, Recall@100 and foreign intrusion@10 (share of "
            "the top 10 not in X). A hybrid-bench adaptation of MIRACLRetrieval, not an official MIRACL setting; "
            "a run on a local mirror records the mirror as dataset_revision and is not comparable to official "
            "MIRACL numbers."
        ),
        reference="https://arxiv.org/abs/2408.10536",
        dataset={"path": MIRACL_REPO, "revision": MIRACL_REVISION},
        prompt=ENCODE_AS.prompt,
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=list(ENCODE_AS.eval_splits),
        eval_langs=cross_lingual_eval_langs(pools),
        main_score="ndcg_at_10",
        date=ENCODE_AS.date,
        domains=["Encyclopaedic", "Written"],
        task_subtypes=[],
        license=ENCODE_AS.license,
        annotations_creators=ENCODE_AS.annotations_creators,
        dialect=[],
        sample_creation="created",
        bibtex_citation=ENCODE_AS.bibtex_citation,
        adapted_from=["MIRACLRetrieval"],
    )


def subset_parts(subset: str) -> tuple[str, str]:
    lang, _, pool = subset.partition("-")
    return lang, pool
