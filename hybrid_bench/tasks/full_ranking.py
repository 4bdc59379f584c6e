"""The shared evaluation step of hybrid-bench's own retrieval tasks: rank a subset, score it, write per-query values.

mteb's ``AbsTask.evaluate`` calls ``_evaluate_subset`` once per subset (its signature is mteb's). The LAReQA tasks
(:mod:`hybrid_bench.tasks.lareqa`) and the cross-lingual MIRACL task (:mod:`hybrid_bench.tasks.miracl`) differ only
in how a subset is *ranked* — which texts are encoded and pooled — so each implements
:meth:`FullRankingRetrieval._rank_subset`, returning a :class:`RankedSubset`, and this class does the rest, the
same for both:

* the scores: mteb's standard retrieval set (:func:`hybrid_bench.tasks.retrieval_scores.standard_scores`: nDCG,
  MAP, recall, precision, MRR and hit rate at every ``k_values`` cut-off, ``accuracy``, the nAUCs), then the task's
  own metrics (means of :attr:`RankedSubset.own`, named by :data:`hybrid_bench.tasks.metrics.SCORE_NAMES`), then
  its counts;
* with a ``prediction_folder``, the per-query values of :attr:`FullRankingRetrieval.per_query_columns` for the
  leaderboard's paired bootstrap (:func:`hybrid_bench.tasks.predictions.write_per_query`), with the data revision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.timing import TimingStack

from hybrid_bench.tasks import metrics
from hybrid_bench.tasks.predictions import write_per_query
from hybrid_bench.tasks.retrieval_scores import per_query_column, standard_per_query, standard_scores

__all__ = ["FullRankingRetrieval", "RankedSubset"]

logger = logging.getLogger(__name__)


@dataclass
class RankedSubset:
    """What :meth:`FullRankingRetrieval._rank_subset` hands back for one subset.

    Attributes:
        query_ids: the scored queries, in row order.
        ranks: ranks of each query's relevant documents (see
            :func:`hybrid_bench.tasks.retrieval_scores.standard_per_query`).
        top_scores: each query's best ``max(k_values)`` scores, best first (``Ranking.top_scores``).
        own: per-query values of the task's own metrics, keyed by per-query column (``ap``, ``language_bias``, ...).
        counts: constant values reported with the scores (``n_queries``, pool size, ...).
    """

    query_ids: Sequence[str]
    ranks: npt.NDArray[np.int64]
    top_scores: npt.NDArray[np.float32]
    own: Mapping[str, npt.ArrayLike] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)


class FullRankingRetrieval(AbsTaskRetrieval):
    """An mteb retrieval task scored from full-pool rankings; subclasses implement :meth:`_rank_subset`."""

    #: per-query columns written to the prediction folder: standard ones (``ndcg_at_10``, ``hit_at_1``, see
    #: :func:`~hybrid_bench.tasks.retrieval_scores.per_query_column`) or keys of :attr:`RankedSubset.own`; a column
    #: a subset has no value for is written as NaN
    per_query_columns: ClassVar[tuple[str, ...]] = ()

    def _rank_subset(self, model: Any, *, hf_split: str, hf_subset: str, encode_kwargs: dict[str, Any],  # noqa: ANN401
                     timer: TimingStack) -> RankedSubset:
        """Encode and rank one subset; ``rank_pool(..., top_k=max(self.k_values))`` gives the top scores."""
        raise NotImplementedError

    def _evaluate_subset(
        self,
        model: Any,  # noqa: ANN401 -- any mteb model
        data_split: Any,  # noqa: ANN401 -- unused: subclasses rank from their own data
        *,
        hf_split: str,
        hf_subset: str,
        encode_kwargs: dict[str, Any],
        prediction_folder: Path | None = None,
        timer: TimingStack | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        ranked = self._rank_subset(model, hf_split=hf_split, hf_subset=hf_subset, encode_kwargs=encode_kwargs,
                                   timer=timer or TimingStack())
        standard = standard_per_query(ranked.ranks, self.k_values)
        own = {name: np.asarray(v, dtype=np.float64) for name, v in ranked.own.items()}
        values = standard_scores(standard, ranked.top_scores,
                                 {**metrics.mean_scores(own), **ranked.counts})
        logger.debug("%s %s: %s %.4f over %d queries", self.metadata.name, hf_subset, self.metadata.main_score,
                     values[self.metadata.main_score], len(ranked.query_ids))
        if prediction_folder is not None:
            columns: dict[str, Any] = {"query_id": list(ranked.query_ids)}
            for column in self.per_query_columns:
                key = per_query_column(column)
                columns[column] = own[column] if column in own else standard[key] if key else np.nan
            write_per_query(prediction_folder, model=model, task=self.metadata.name, split=hf_split, subset=hf_subset,
                            values=pd.DataFrame(columns), extra={"dataset_revision": self.metadata.revision})
        return values
