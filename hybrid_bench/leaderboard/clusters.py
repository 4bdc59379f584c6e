"""Cluster units of the bootstrap: LAReQA questions grouped by the paragraph that holds their answer.

The bootstrap of :mod:`hybrid_bench.leaderboard.stats` resamples *units* that are independent of each other. A
LAReQA question is not: 302 of the 582 held-out XQuAD-R questions share their answer sentence with another question
(the relevant candidates, hence the rankings' success, are the same), and every question of a paragraph is asked
about the same context. So the unit of XQuAD-R and MLQA-R is the **paragraph** of the question's answer: questions
that share an answer sentence are always in one paragraph, so this cluster holds that dependence, and those of a
shared context. The coarser **article** would also hold topical dependence, but held-out XQuAD-R has only 24
articles, and a cluster bootstrap over so few clusters gives intervals that are too narrow (Cameron, Gelbach &
Miller 2008, "Bootstrap-based improvements for inference with clustered errors", Rev. Econ. Stat. 90(3));
``level="article"`` is available for a sensitivity check. MIRACL's unit stays the query within its language (its
queries are independent draws; :func:`hybrid_bench.leaderboard.per_query.unit_id`).

Paragraph keys are language-independent: the paragraph of the *English* version of the question (every XQuAD-R and
MLQA-R question has one; :mod:`hybrid_bench.data.lareqa`), e.g. ``"en:0012:03"``, so that the translations of a
question — resampled together as one parallel question already — stay in one cluster.

The clusters are computed from the LAReQA data by question id (nothing in the per-query files depends on them), and
kept in a ``cluster`` column; a per-query file that already has one (e.g. the compressed files committed with a
leaderboard) is used as it is, with no data needed.

Example:
    >>> clusters = lareqa_clusters("XQuADRHeldOutRetrieval")  # doctest: +SKIP
    >>> len(set(clusters.values()))  # doctest: +SKIP
    120
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Literal

import pandas as pd

from hybrid_bench.errors import HybridBenchError

logger = logging.getLogger(__name__)

Level = Literal["paragraph", "article"]
#: task name → {question id → cluster id}, or ``None`` when the task has no clusters above the query
ClusterLoader = Callable[[str], Mapping[str, str] | None]
_PIVOT = "en"


def lareqa_dataset(task: str) -> str | None:
    """``"xquad-r"`` / ``"mlqa-r"`` for hybrid-bench's LAReQA tasks, else ``None``."""
    from hybrid_bench.tasks.lareqa import LAREQA_TASKS

    return next((cls.lareqa_name for cls in LAREQA_TASKS if cls.metadata.name == task), None)


def lareqa_clusters(task: str, *, level: Level = "paragraph",
                    data_dir: str | os.PathLike[str] | None = None) -> dict[str, str] | None:
    """``{qid: cluster}`` of a LAReQA task (``None`` for other tasks), from the local LAReQA data.

    Args:
        task: an mteb task name (``XQuADRHeldOutRetrieval``, ``MLQARRetrieval``, ...).
        level: ``"paragraph"`` (the default unit, see the module docstring) or ``"article"``.
        data_dir: the local data folder (default: the data layer's, ``HYBRID_BENCH_DATA`` or the cache); nothing
            is downloaded.

    Raises:
        DataError: the LAReQA files cannot be found or read.
    """
    from hybrid_bench.data.lareqa import load_lareqa

    dataset = lareqa_dataset(task)
    if dataset is None:
        return None
    data = load_lareqa(dataset, data_dir=data_dir, download=False)
    out: dict[str, str] = {}
    for lang in sorted(data.langs, key=lambda lang: lang != _PIVOT):  # the English version decides
        for question in data.questions[lang]:
            if question.qid not in out:
                key = question.answer_candidate.rsplit(":", 1)[0] if level == "paragraph" else question.article
                out[question.qid] = key
    return out


def assign_clusters(per_query: pd.DataFrame, loader: ClusterLoader | None = lareqa_clusters,
                    problems: list[str] | None = None) -> pd.DataFrame:
    """Set the ``cluster`` column (kept where a file brought one) and make it the resampling ``unit``.

    LAReQA rows get their paragraph from ``loader`` by question id (``unit`` holds the qid); other rows keep their
    unit as cluster. Where the clusters cannot be loaded the unit stays the question, with a line in ``problems``.
    """
    if per_query.empty:
        return per_query.assign(cluster=pd.Series(dtype=object))
    out = per_query.copy()
    if "cluster" not in out.columns:
        out["cluster"] = pd.Series(pd.NA, index=out.index, dtype=object)
    for task in sorted(out["task"].unique()):
        rows = (out["task"] == task) & out["cluster"].isna()
        if not rows.any():
            continue
        mapping = None
        if loader is not None:
            try:
                mapping = loader(task)
            except (HybridBenchError, OSError) as err:
                msg = (f"{task}: intervals resample questions, not paragraphs: its LAReQA data could not be read "
                       f"({str(err)[:160]})")
                logger.warning(msg)
                if problems is not None:
                    problems.append(msg)
        if mapping is not None:
            found = out.loc[rows, "unit"].map(mapping)
            if found.isna().any():
                missing = out.loc[rows & found.reindex(out.index).isna(), "query_id"].iloc[0]
                if problems is not None:
                    problems.append(f"{task}: question {missing} is not in the LAReQA data: it is its own cluster")
            out.loc[rows, "cluster"] = found.fillna(out.loc[rows, "unit"])
        else:
            out.loc[rows, "cluster"] = out.loc[rows, "unit"]
    out["unit"] = out["cluster"].astype(str)
    return out
