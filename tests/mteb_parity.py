"""Check a hybrid-bench task's scores against mteb's own retrieval evaluation of the same split."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pytest
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.timing import TimingStack

ENCODE = {"batch_size": 32, "show_progress_bar": False}
#: keys mteb's evaluator rounds to 5 digits before reporting them
_ROUNDED = ("ndcg_at_", "map_at_", "recall_at_", "precision_at_", "hit_rate_at_", "accuracy")


def assert_scores_match_mteb(task: AbsTaskRetrieval, model: Any, split: str, subsets: Iterable[str]) -> dict:  # noqa: ANN401
    """``task.evaluate`` (hybrid-bench's scoring) against ``AbsTaskRetrieval._evaluate_subset`` (mteb's search,
    ``RetrievalEvaluator`` and pytrec_eval) on the task's own split data, for every key mteb reports.

    Returns hybrid-bench's scores per subset.
    """
    ours = task.evaluate(model, split, encode_kwargs=ENCODE)
    for subset in subsets:
        stock = AbsTaskRetrieval._evaluate_subset(task, model, task.dataset[subset][split], hf_split=split,
                                                  hf_subset=subset, encode_kwargs=ENCODE, timer=TimingStack())
        stock.pop("n_queries", None)  # a task-specific score of the stock MIRACL tasks
        missing = set(stock) - set(ours[subset])
        assert not missing, (subset, sorted(missing))
        for key, value in stock.items():
            mine = ours[subset][key]
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(mine), (subset, key)
            else:
                tolerance = 5e-6 + 1e-9 if key.startswith(_ROUNDED) else 1e-9
                assert mine == pytest.approx(value, abs=tolerance), (subset, key, mine, value)
    return ours
