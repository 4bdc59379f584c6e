"""Ranked runs in the TREC format, gzipped: what anyone needs to re-score a result with their own evaluator.

A run file holds, for every query, the top ``k`` documents (default 100: enough for nDCG@10 and Recall@100) as
``<query_id> Q0 <doc_id> <rank> <score> <tag>`` lines — the format of ``trec_eval``, ``pytrec_eval``, ``ranx``,
pyserini and ``ir_measures``. Documents are ordered the way ``trec_eval`` orders them (score descending, ties by
document id descending), so a cut at ``k`` keeps exactly the documents ``trec_eval``-style evaluators rank in the
top ``k`` of the full list, and scores are written with ``repr`` (every digit of the stored float): re-scoring
the file with ``pytrec_eval`` gives the per-query values the task reported, bit for bit.

One file per (subset, split): MIRACL's query ids repeat across languages. :func:`runs_from_predictions` writes
them from mteb's ``<Task>_predictions.json`` (``mteb.evaluate(..., prediction_folder=...)``) into
``<folder>/<Task>_top<k>/<subset>.<split>.trec.gz``. Files are written atomically and gzipped with a fixed
header (no name, mtime 0), so the same run gives the same bytes.

Example::

    from hybrid_bench.tasks.trec_run import read_trec_run, write_trec_run

    write_trec_run({"q1": {"d1": 0.9, "d2": 0.1}}, "run.trec.gz", tag="my-model")
    read_trec_run("run.trec.gz")  # {"q1": {"d1": 0.9, "d2": 0.1}}
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_path

__all__ = ["DEFAULT_DEPTH", "RUN_SUFFIX", "read_trec_run", "run_folder", "runs_from_predictions", "write_trec_run"]

#: documents kept per query: nDCG@10 and Recall@100 can be recomputed from the file
DEFAULT_DEPTH = 100
RUN_SUFFIX = ".trec.gz"
_PREDICTIONS_SUFFIX = "_predictions.json"  # mteb's name (AbsTask._save_task_predictions)
_SAFE = re.compile(r"^\S+$")


def _ranked(docs: Mapping[str, float], k: int) -> list[tuple[str, float]]:
    """``docs`` in trec_eval's order (score descending, then doc id descending), the first ``k``."""
    return sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)[:k]


def _field(value: str, what: str, where: str | os.PathLike[str]) -> str:
    if not _SAFE.match(value):
        raise DataError(f"{what} {value!r} is empty or contains whitespace: not writable as a TREC run field",
                        file=where)
    return value


def write_trec_run(run: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str], *, tag: str,
                   k: int = DEFAULT_DEPTH, overwrite: bool = False) -> Path:
    """Write ``{query_id: {doc_id: score}}`` as a gzipped TREC run with the top ``k`` documents per query.

    Args:
        run: scores of each query's retrieved documents (any number; the top ``k`` are kept).
        path: the ``.trec.gz`` file.
        tag: the run tag (6th column), e.g. the model name and revision.
        k: documents kept per query.
        overwrite: replace an existing file (otherwise :class:`~hybrid_bench.io.ResultExistsError`).

    Raises:
        DataError: a query id, document id or the tag contains whitespace, or a score is not finite.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    _field(tag, "run tag", path)
    text = io.StringIO()
    for query_id in sorted(run):
        _field(str(query_id), "query id", path)
        for rank, (doc_id, score) in enumerate(_ranked({str(d): float(s) for d, s in run[query_id].items()}, k), 1):
            if not math.isfinite(score):
                raise DataError(f"score {score!r} of document {doc_id!r} is not finite", file=path, item=query_id)
            text.write(f"{query_id} Q0 {_field(doc_id, 'document id', path)} {rank} {score!r} {tag}\n")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            zipped.write(text.getvalue().encode("utf-8"))
    return Path(path)


def read_trec_run(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` of a TREC run file (gzipped when it ends in ``.gz``).

    Raises:
        DataError: the file is missing or unreadable, or a line is not ``qid Q0 docid rank score tag``.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    run: dict[str, dict[str, float]] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    if len(parts) != 6:
                        raise ValueError(f"{len(parts)} fields")
                    query_id, _q0, doc_id, _rank, score, _tag = parts
                    int(_rank)
                    run.setdefault(query_id, {})[doc_id] = float(score)
                except ValueError as err:
                    raise DataError(f"not a TREC run line (qid Q0 docid rank score tag): {err}", file=path,
                                    item=f"line {number}") from None
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read the run file ({err})", file=path) from None
    return run


def run_folder(folder: str | os.PathLike[str], task: str, k: int = DEFAULT_DEPTH) -> Path:
    """Where :func:`runs_from_predictions` puts the runs of ``task``: ``<folder>/<task>_top<k>/``."""
    return Path(folder) / f"{task}_top{k}"


def runs_from_predictions(predictions: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                          k: int = DEFAULT_DEPTH) -> list[Path]:
    """Write one top-``k`` run per (subset, split) of an mteb ``<Task>_predictions.json`` file.

    The runs go to :func:`run_folder` (``<folder>/<Task>_top<k>/<subset>.<split>.trec.gz``), tagged
    ``<model>@<revision>`` from the file's ``mteb_model_meta``; the folder is replaced as a whole (atomically), so
    it never mixes runs of two evaluations.

    Raises:
        DataError: the file is not an mteb predictions file of a retrieval task.
    """
    predictions = Path(predictions)
    name = predictions.name
    task = name[: -len(_PREDICTIONS_SUFFIX)] if name.endswith(_PREDICTIONS_SUFFIX) else predictions.stem
    try:
        data = json.loads(predictions.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read mteb predictions ({err})", file=predictions) from None
    meta = data.pop("mteb_model_meta", None) if isinstance(data, dict) else None
    if not isinstance(meta, dict) or not meta.get("model_name"):
        raise DataError("no 'mteb_model_meta.model_name': not an mteb predictions file", file=predictions)
    tag = f"{meta['model_name']}@{meta.get('revision') or 'none'}".replace("/", "__")
    target = run_folder(folder, task, k)
    written: list[Path] = []
    with atomic_path(target, overwrite=True) as tmp:
        tmp.mkdir(parents=True)
        for subset, by_split in data.items():
            if not isinstance(by_split, dict):
                raise DataError("expected {subset: {split: {query_id: {doc_id: score}}}}", file=predictions,
                                item=str(subset))
            for split, run in by_split.items():
                if not isinstance(run, dict) or not all(isinstance(docs, dict) for docs in run.values()):
                    raise DataError("expected {query_id: {doc_id: score}} (a retrieval task's predictions)",
                                    file=predictions, item=f"{subset}/{split}")
                file = f"{subset}.{split}{RUN_SUFFIX}"
                write_trec_run(run, tmp / file, tag=tag, k=k)
                written.append(target / file)
    return written
