"""Per-query metric values, the input of the paired bootstrap.

Two sources, both found by searching a prediction folder recursively:

* ``<TaskName>_per_query.parquet`` — written by hybrid-bench's own tasks (XQuAD-R, MLQA-R, the cross-lingual
  MIRACL variant). Columns :data:`KEY_COLUMNS` plus metric columns (``ap``, ``rr``, ``recall_at_1``,
  ``recall_at_10``, ``ndcg_at_10``, ``hit_at_1``, ``hit_at_10``, ``language_bias``; or ``ndcg_at_10``,
  ``recall_at_100``, ``foreign_intrusion_at_10``).
* ``<TaskName>_predictions.json`` — written by any stock mteb retrieval task run with ``--prediction-folder``
  (format of :meth:`mteb.AbsTask._save_task_predictions`: ``{"mteb_model_meta": {"model_name", "revision"},
  <subset>: {<split>: {query_id: {doc_id: score}}}}``). Per-query nDCG@10 and Recall@10/100 are recomputed
  with ``pytrec_eval`` — the evaluator mteb itself uses, so their means equal mteb's reported scores — against
  the task's qrels, loaded with :func:`mteb.get_task` + ``load_data()``.

mteb names every prediction file ``<TaskName>_predictions.json``, so give each model its own prediction folder
(e.g. ``predictions/<model>/``); the model is read from the file, not from the folder.

Example:
    >>> from hybrid_bench.leaderboard.per_query import load_per_query
    >>> per_query = load_per_query("results/predictions")  # doctest: +SKIP
    >>> per_query.groupby(["model", "task", "subset"])["ap"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hybrid_bench.errors import DataError
from hybrid_bench.tasks.metrics import SCORE_NAMES
from hybrid_bench.tasks.predictions import PER_QUERY_SUFFIX

logger = logging.getLogger(__name__)

#: identity columns of a per-query row
KEY_COLUMNS: tuple[str, ...] = ("model", "revision", "task", "split", "subset", "query_id")
PREDICTIONS_SUFFIX = "_predictions.json"

#: results-JSON metric name → per-query column holding the same quantity per query (the inverse of the tasks' table)
JSON_TO_PER_QUERY: dict[str, str] = {score: column for column, score in SCORE_NAMES.items()}

# pytrec_eval measure → per-query column
_TREC_MEASURES: dict[str, str] = {"ndcg_cut_10": "ndcg_at_10", "recall_10": "recall_at_10", "recall_100": "recall_at_100"}

Qrels = Mapping[str, Mapping[str, int]]
#: (task name, the subsets needed) → {subset: {split: qrels}}
QrelsLoader = Callable[[str, Sequence[str]], Mapping[str, Mapping[str, Qrels]]]

_LANG_PREFIX = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?:(?P<rest>.+)$")


def unit_id(query_id: str, subset: str) -> str:
    """The resampling unit of a query (see :mod:`hybrid_bench.leaderboard.stats`).

    hybrid-bench's parallel datasets name queries ``"{lang}:{question id}"``; the question id is shared by the
    translations of one question in every language and subset, so it is the unit. Other ids (e.g. MIRACL's) are
    only unique within a query language, so the unit is ``"{query language}|{query id}"`` with the query language
    taken from the subset (``"sw"`` or ``"sw-all"`` → ``"sw"``).

    Example:
        >>> unit_id("deu:5725c4", "deu-eng"), unit_id("1042", "sw-all")
        ('5725c4', 'sw|1042')
    """
    match = _LANG_PREFIX.match(query_id)
    if match:
        return match["rest"]
    return f"{subset.split('-', 1)[0]}|{query_id}"


def read_per_query_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read one ``*_per_query.parquet`` file and check its columns.

    Raises:
        DataError: a key column is missing, there are no metric columns, or a query appears twice.
    """
    path = Path(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow errors are long; name the file
        raise DataError(f"cannot read parquet ({type(err).__name__}: {err})", file=path) from None
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; a per-query file needs {list(KEY_COLUMNS)} plus metric columns",
                        file=path)
    metrics = [c for c in frame.columns if c not in KEY_COLUMNS]
    if not metrics:
        raise DataError("no metric columns (e.g. ap, ndcg_at_10) next to the key columns", file=path)
    for col in KEY_COLUMNS:
        frame[col] = frame[col].astype(str)
    dup = frame.duplicated(list(KEY_COLUMNS))
    if dup.any():
        first = frame.loc[dup, list(KEY_COLUMNS)].iloc[0].to_dict()
        raise DataError(f"{int(dup.sum())} duplicated per-query row(s)", file=path, item=first)
    return frame


def per_query_from_predictions(
    path: str | os.PathLike[str],
    qrels: Mapping[str, Mapping[str, Qrels]],
    *,
    ignore_identical_ids: bool = False,
) -> pd.DataFrame:
    """Per-query nDCG@10, Recall@10 and Recall@100 of one mteb ``<TaskName>_predictions.json`` file.

    Args:
        path: the predictions file written by mteb (``mteb run ... --prediction-folder DIR``).
        qrels: ``{subset: {split: {query_id: {doc_id: relevance}}}}`` of the task (mteb's ``relevant_docs``).
        ignore_identical_ids: drop a document whose id equals the query id, as mteb does for tasks that set it.

    Returns:
        A frame with :data:`KEY_COLUMNS` and ``ndcg_at_10``, ``recall_at_10``, ``recall_at_100``; queries that
        have no relevant document in the qrels are left out (as pytrec_eval and mteb do).

    Example:
        >>> import json, tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "T_predictions.json"
        >>> _ = tmp.write_text(json.dumps({"mteb_model_meta": {"model_name": "org/m", "revision": "1"},
        ...     "default": {"dev": {"q1": {"d1": 0.9, "d2": 0.1}, "q2": {"d1": 0.8, "d2": 0.7}}}}))
        >>> qrels = {"default": {"dev": {"q1": {"d1": 1}, "q2": {"d2": 1}}}}
        >>> per_query_from_predictions(tmp, qrels)[["query_id", "ndcg_at_10"]].round(3).values.tolist()
        [['q1', 1.0], ['q2', 0.631]]
    """
    import pytrec_eval

    path = Path(path)
    task = path.name[: -len(PREDICTIONS_SUFFIX)] if path.name.endswith(PREDICTIONS_SUFFIX) else path.stem
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read mteb predictions ({err})", file=path) from None
    meta = data.pop("mteb_model_meta", None)
    if not isinstance(meta, dict) or not meta.get("model_name"):
        raise DataError("no 'mteb_model_meta.model_name': not an mteb predictions file", file=path)
    rows: list[dict[str, object]] = []
    for subset, by_split in data.items():
        for split, run in by_split.items():
            subset_qrels = qrels.get(subset, {}).get(split)
            if subset_qrels is None:
                raise DataError(f"no qrels for subset {subset!r}, split {split!r} of task {task!r}", file=path)
            if not isinstance(run, dict):
                raise DataError("expected {query_id: {doc_id: score}} (a retrieval task's predictions)",
                                file=path, item=f"{subset}/{split}")
            run = {
                str(q): {str(d): float(s) for d, s in docs.items() if not (ignore_identical_ids and d == q)}
                for q, docs in run.items()
            }
            judged = {str(q): {str(d): int(r) for d, r in rels.items()} for q, rels in subset_qrels.items()}
            evaluator = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.10,100"})
            for query_id, measures in evaluator.evaluate(run).items():
                row: dict[str, object] = {
                    "model": str(meta["model_name"]), "revision": str(meta.get("revision")), "task": task,
                    "split": str(split), "subset": str(subset), "query_id": str(query_id),
                }
                row.update({col: float(measures[m]) for m, col in _TREC_MEASURES.items()})
                rows.append(row)
    return pd.DataFrame(rows, columns=[*KEY_COLUMNS, *_TREC_MEASURES.values()])


def load_task_qrels(task_name: str, subsets: Sequence[str] = ()) -> dict[str, dict[str, Qrels]]:
    """``{subset: {split: qrels}}`` of an mteb retrieval task, loaded through mteb (``task.load_data()``).

    Only ``subsets`` are loaded when given (a run on some languages, or a mirror that holds only those).
    hybrid-bench's tasks, models and mirrors are registered with mteb first.
    """
    import mteb

    from hybrid_bench.mteb_plugin import register

    register()
    task = mteb.get_task(task_name)
    if subsets:
        task = task.filter_languages(None, hf_subsets=list(subsets))
    task.load_data()
    return loaded_qrels(task)


def loaded_qrels(task: Any) -> dict[str, dict[str, Qrels]]:  # noqa: ANN401 -- an mteb retrieval task
    """``{subset: {split: qrels}}`` of a retrieval task whose data is loaded (mteb's ``relevant_docs``)."""
    qrels: dict[str, dict[str, Qrels]] = {}
    for subset, by_split in task.dataset.items():
        for split, split_data in by_split.items():
            qrels.setdefault(subset, {})[split] = split_data["relevant_docs"]
    return qrels


def load_per_query(
    predictions_dir: str | os.PathLike[str],
    *,
    qrels_loader: QrelsLoader | None = load_task_qrels,
    tasks: set[str] | None = None,
    problems: list[str] | None = None,
) -> pd.DataFrame:
    """All per-query rows under ``predictions_dir`` (searched recursively), as one frame.

    Args:
        predictions_dir: folder with ``*_per_query.parquet`` and/or mteb ``*_predictions.json`` files.
        qrels_loader: (task name, subsets needed) → qrels, used for mteb prediction files; ``None`` skips them.
            A task whose qrels cannot be loaded is skipped with a warning (its cells get no CI).
        tasks: only read files of these tasks.
        problems: if given, a line is appended for every prediction file that could not be scored (for the
            leaderboard's notes).

    Returns:
        :data:`KEY_COLUMNS`, metric columns (NaN where a metric does not apply) and ``unit`` (see
        :func:`unit_id`). Empty (with the key columns) when there is nothing to read.

    Raises:
        DataError: a file is malformed, or the same (model, task, split, subset, query) comes from two files.
    """
    root = Path(predictions_dir).expanduser()
    frames: list[pd.DataFrame] = []
    sources: list[Path] = []
    if root.is_dir():
        for file in sorted(root.rglob(f"*{PER_QUERY_SUFFIX}")):
            if tasks is None or file.name[: -len(PER_QUERY_SUFFIX)] in tasks:
                frames.append(read_per_query_parquet(file))
                sources.append(file)
        prediction_files = sorted(root.rglob(f"*{PREDICTIONS_SUFFIX}"))
        if tasks is not None:
            prediction_files = [f for f in prediction_files if f.name[: -len(PREDICTIONS_SUFFIX)] in tasks]
        qrels_cache: dict[str, Mapping[str, Mapping[str, Qrels]] | None] = {}
        needed: dict[str, set[str]] = {}  # task → subsets over all its prediction files
        for file in prediction_files:
            try:
                keys = json.loads(file.read_text(encoding="utf-8")).keys()
            except (OSError, json.JSONDecodeError) as err:
                raise DataError(f"cannot read mteb predictions ({err})", file=file) from None
            needed.setdefault(file.name[: -len(PREDICTIONS_SUFFIX)], set()).update(
                k for k in keys if k != "mteb_model_meta")
        for file in prediction_files:
            task = file.name[: -len(PREDICTIONS_SUFFIX)]
            if qrels_loader is None:
                logger.info("skipping %s: no qrels loader", file)
                continue
            if task not in qrels_cache:
                try:
                    logger.info("loading qrels of %s to score %s per query", task, file)
                    qrels_cache[task] = qrels_loader(task, sorted(needed[task]))
                except Exception as err:  # no data offline, unknown task, ...: degrade to "no CI", loudly
                    logger.warning("no per-query values for %s: cannot load its qrels (%s: %s)", task,
                                   type(err).__name__, err)
                    if problems is not None:
                        problems.append(
                            f"{task}: no CI: its qrels could not be loaded to score {file.name} "
                            f"({type(err).__name__}: {str(err)[:160]}); if the results were computed on a local data "
                            "mirror, configure the same mirror (HYBRID_BENCH_MIRRORS) and rebuild")
                    qrels_cache[task] = None
            task_qrels = qrels_cache[task]
            if task_qrels is not None:
                frames.append(per_query_from_predictions(file, task_qrels))
                sources.append(file)
    elif predictions_dir is not None:
        logger.info("no prediction folder at %s: tables will have no confidence intervals", root)
    if not frames:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "unit"])
    for frame, source in zip(frames, sources):
        frame["_source"] = str(source)
    frame = pd.concat(frames, ignore_index=True)
    dup = frame.duplicated(list(KEY_COLUMNS), keep=False)
    if dup.any():
        clash = frame.loc[dup]
        first = clash.iloc[0]
        files = sorted(set(clash.loc[(clash[list(KEY_COLUMNS)] == first[list(KEY_COLUMNS)]).all(axis=1), "_source"]))
        raise DataError(
            f"the same per-query rows come from several files {files}; keep one per model and task "
            "(give each model its own --prediction-folder)",
            file=root, item={c: first[c] for c in ("model", "task", "subset", "query_id")},
        )
    frame = frame.drop(columns="_source")
    frame["unit"] = [unit_id(q, s) for q, s in zip(frame["query_id"], frame["subset"])]
    return frame


def per_query_means(per_query: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean of a per-query metric per (model, task, split, subset): comparable to the results-JSON score."""
    if metric not in per_query.columns:
        return pd.DataFrame(columns=["model", "revision", "task", "split", "subset", metric, "n"])
    valid = per_query.dropna(subset=[metric])
    out = valid.groupby(["model", "revision", "task", "split", "subset"], as_index=False).agg(
        **{metric: (metric, "mean"), "n": (metric, "size")}
    )
    return out



#: folder of a written leaderboard that holds the per-query values it was built from (see :func:`write_per_query`)
PER_QUERY_DIR = "per_query"


def write_per_query(per_query: pd.DataFrame, folder: str | os.PathLike[str], *, metrics: Sequence[str]) -> list[Path]:
    """Write the per-query rows a leaderboard used as ``<folder>/<model label>/<Task>_per_query.parquet`` (zstd).

    With the results JSON these files rebuild the leaderboard, its intervals included, on any machine: they are
    read back by :func:`load_per_query` like any per-query file, and need neither the qrels nor the LAReQA data (the
    ``cluster`` column keeps each row's resampling unit). Only the key columns, ``cluster`` and ``metrics`` are kept,
    so they are small enough to commit next to the results.

    Args:
        per_query: rows with :data:`KEY_COLUMNS`, ``label`` and (optionally) ``cluster``.
        folder: target folder (created).
        metrics: the per-query metric columns to keep (those that are present).
    """
    folder = Path(folder)
    written = []
    keep = [*KEY_COLUMNS, *(c for c in ("cluster",) if c in per_query.columns),
            *(m for m in dict.fromkeys(metrics) if m in per_query.columns)]
    for (label, task), rows in per_query.groupby(["label", "task"], sort=True):
        rows = rows[keep].dropna(axis=1, how="all")
        if not set(rows.columns) - set(KEY_COLUMNS) - {"cluster"}:
            continue
        path = folder / str(label) / f"{task}{PER_QUERY_SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.sort_values(list(KEY_COLUMNS)).to_parquet(path, index=False, compression="zstd")
        written.append(path)
    return written
