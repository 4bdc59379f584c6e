"""Translation-aware hard negatives for a parallel corpus, mined with sentence-transformers' ``util.mine_hard_negatives``.

For every record (item, language L) the retriever ranks the corpus' passages in L against a query - the item's own
query in L (``mode="mono"``) or its query in another language X (``mode="cross"``, X chosen per item from the
seed) - and the best-ranked passage that is *not* a passage of the item (its positive in any language, hence every
translation of it) and not equal to its positive becomes the record's ``negative``. The result is the parallel
format of :mod:`hybrid_bench.training.corpus` with a ``negative`` field, ready for ``hybrid-bench train --data``.

Example::

    from hybrid_bench.training.mining import mine_negatives
    from hybrid_bench.training.parallel_data import load_parallel_data

    corpus = load_parallel_data("train.jsonl")
    mined = mine_negatives(corpus, model, mode="cross", candidates=10)
    mined.save("train.negatives.jsonl")
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from hybrid_bench.errors import DataError
from hybrid_bench.training.corpus import ParallelCorpus

__all__ = ["mine_negatives"]


def _other_language(item_id: str, lang: str, langs: list[str], seed: int) -> str:
    others = sorted(x for x in langs if x != lang)
    digest = hashlib.sha256(f"{seed}:{item_id}:{lang}".encode()).digest()
    return others[int.from_bytes(digest[:8], "little") % len(others)]


class _QuietEncoding:
    """``model`` with its ``encode_query`` / ``encode_document`` bars off (``mine_hard_negatives`` passes
    ``show_progress_bar=True`` to them whatever the caller wants); every other attribute is the model's."""

    def __init__(self, model: Any) -> None:  # noqa: ANN401 -- a SentenceTransformer
        self._model = model

    def encode_query(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        return self._model.encode_query(*args, **{**kwargs, "show_progress_bar": False})

    def encode_document(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        return self._model.encode_document(*args, **{**kwargs, "show_progress_bar": False})

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        if name == "_model":
            raise AttributeError(name)
        return getattr(self._model, name)


def mine_negatives(
    corpus: ParallelCorpus,
    model: Any,
    *,
    mode: Literal["mono", "cross"] = "mono",
    candidates: int = 10,
    seed: int = 0,
    batch_size: int = 32,
    show_progress_bar: bool = False,
    progress: bool = False,
) -> ParallelCorpus:
    """A copy of ``corpus`` whose every record has a mined hard ``negative`` (replacing any it had).

    Args:
        corpus: The parallel corpus.
        model: The retriever (a ``SentenceTransformer``); its ``query`` / ``document`` prompts are used.
        mode: ``"mono"`` (query and negative in one language) or ``"cross"`` (query in another language of the
            item). An item with one language is mined monolingually.
        candidates: How many top-ranked passages ``mine_hard_negatives`` returns per query; the first allowed
            one is taken.
        seed: Chooses the query language of ``"cross"``.
        batch_size: Encoding batch size.
        show_progress_bar: Show the encoding bars (``mine_hard_negatives`` always asks the model for them; here they
            are off unless asked, as every library bar under a hybrid-bench command).
        progress: One bar over the languages (what ``hybrid-bench mine-negatives`` shows).

    Raises:
        DataError: A record has no allowed passage among its ``candidates`` best (raise ``candidates``).
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives
    from tqdm.auto import tqdm

    prompts = getattr(model, "prompts", None) or {}
    records = [dict(r) for r in corpus.to_records()]
    by_item: dict[str, dict[str, dict[str, str]]] = {}
    for record in records:
        by_item.setdefault(record["id"], {})[record["lang"]] = record
    for lang in tqdm(corpus.languages, desc="mining negatives", unit="language", disable=not progress):
        rows = [r for r in records if r["lang"] == lang]
        passages = sorted({r["positive"] for r in rows})
        queries = []
        for r in rows:
            langs = sorted(by_item[r["id"]])
            use = _other_language(r["id"], lang, langs, seed) if mode == "cross" and len(langs) > 1 else lang
            queries.append(by_item[r["id"]][use]["query"])
        mined = mine_hard_negatives(
            Dataset.from_dict({"query": queries, "positive": [r["positive"] for r in rows]}),
            model if show_progress_bar else _QuietEncoding(model), corpus=passages, num_negatives=min(candidates, max(1, len(passages) - 1)),
            output_format="labeled-list", query_prompt=prompts.get("query"),
            corpus_prompt=prompts.get("document") or prompts.get("passage"), batch_size=batch_size, verbose=False,
        )
        anchor, documents, labels = mined.column_names[:3]  # labeled-list: the positive (label 1), then negatives
        ranked = {entry[anchor]: [d for d, label in zip(entry[documents], entry[labels]) if not label]
                  for entry in mined}
        for r, query in zip(rows, queries):
            own = {t["positive"] for t in by_item[r["id"]].values()}  # the item's passages in every language
            options = ranked.get(query, [])
            negative = next((d for d in options if d not in own and d != r["positive"]), None)
            if negative is None:
                raise DataError(f"no hard negative among the {candidates} best {lang} passages that is not a passage "
                                "of this item; raise --candidates", file=corpus.name, item=r["id"])
            r["negative"] = negative
    return ParallelCorpus.from_records(records, source=f"{corpus.name}+mined-{mode}",
                                       languages=corpus.languages, name=f"{corpus.name}+mined-{mode}")
