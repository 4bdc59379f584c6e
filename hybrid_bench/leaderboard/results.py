"""Load an MTEB results folder into one tidy :class:`pandas.DataFrame` (one row per score).

Accepted layouts (all written by mteb 2's :class:`mteb.ResultCache`):

* ``ROOT/results/<model name, '/' → '__'>/<revision>/<TaskName>.json`` (+ ``model_meta.json``) — what
  ``mteb run --output-folder ROOT``, ``mteb.evaluate(..., cache=ResultCache(ROOT))`` and
  ``hybrid-bench reproduce`` write;
* ``ROOT`` being that ``results`` folder itself (``ROOT/<model>/<revision>/<TaskName>.json``).

Files are found with :meth:`mteb.ResultCache.get_cache_paths` and parsed with :meth:`mteb.TaskResult.from_disk`,
so historic result formats that mteb can read are read here too.

Example:
    >>> from hybrid_bench.leaderboard.results import load_results
    >>> scores = load_results("results/")  # doctest: +SKIP
    >>> scores.query("task == 'XQuADRRetrieval' and metric == 'map'").head()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hybrid_bench.errors import DataError

logger = logging.getLogger(__name__)

#: columns of the tidy frame returned by :func:`load_results`
RESULT_COLUMNS: tuple[str, ...] = ("model", "label", "revision", "task", "dataset_revision", "split", "subset",
                                   "languages", "metric", "value")
#: the mark a table puts next to a number computed on other data than its task's pinned dataset revision
DATA_MARKS: dict[str, str] = {"mirror": "†", "modified": "‡", "other": "§"}
#: what each mark means (the leaderboard's notes print it)
DATA_MARK_MEANING: dict[str, str] = {
    "mirror": "computed on a local data mirror (dataset revision mirror:<folder>@<hash of its files>): not "
              "comparable with official runs",
    "modified": "computed on data that differs from the published files (--allow-modified-data; dataset revision "
                "modified:<hash>)",
    "other": "computed on another dataset revision than the one the task pins",
}

# score keys that describe a subset rather than measure it
_NON_METRIC_KEYS = frozenset({"hf_subset", "languages", "mteb_version", "evaluation_time", "kg_co2_emissions"})


def results_cache_root(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` holds MTEB results in one of the accepted layouts and return it.

    Raises:
        DataError: ``path`` does not exist or holds no ``<model>/<revision>/<Task>.json`` files.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError("results folder not found; pass the --output-folder of `mteb run` or a `results/` folder",
                        file=path)
    if any((path / "results").glob("*/*/*.json")) or any(
        p.name != "model_meta.json" for p in path.glob("*/*/*.json")
    ):
        return path
    raise DataError(
        "no MTEB results found: expected results/<model>/<revision>/<Task>.json (the layout of "
        "`mteb run --output-folder DIR`) or <model>/<revision>/<Task>.json",
        file=path,
    )


@contextlib.contextmanager
def _cache_for(path: Path) -> Iterator[object]:
    """A :class:`mteb.ResultCache` over ``path``; a bare ``results`` folder is linked into a temporary root."""
    from mteb.cache import ResultCache

    root = results_cache_root(path)
    if any((root / "results").glob("*/*/*.json")):
        yield ResultCache(root)
        return
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-results-") as tmp:
        os.symlink(root.resolve(), Path(tmp) / "results", target_is_directory=True)
        yield ResultCache(tmp)


def _identity(revision_dir: Path) -> tuple[str, str]:
    """(model name, revision) from ``model_meta.json``, else from the folder names as mteb does."""
    meta_file = revision_dir / "model_meta.json"
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"model_meta.json is not valid JSON ({err})", file=meta_file) from None
        if meta.get("name"):
            return str(meta["name"]), str(meta.get("revision") or revision_dir.name)
    return revision_dir.parent.name.replace("__", "/"), revision_dir.name


def model_label(name: str) -> str:
    """Short display name of a model: the part after the organisation (``hybrid-bench/hybrid-me5-small`` →
    ``hybrid-me5-small``)."""
    return name.rsplit("/", 1)[-1]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_task_result(file: Path) -> Any:
    """Parse one ``<Task>.json`` with :meth:`mteb.TaskResult.from_disk`, refusing anything that is not a task result.

    Raises:
        DataError: naming ``file`` and what is wrong (not JSON, not an object, no ``scores`` / task name, or a
            field mteb rejects), instead of the KeyError / AttributeError mteb raises deep inside its converters.
    """
    from mteb import TaskResult

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"not a valid result JSON ({err}); a truncated file from an interrupted run? Re-run that "
                        "evaluation (hybrid-bench eval sets such files aside and recomputes them)", file=file) from None
    if not isinstance(data, dict):
        raise DataError(f"not an MTEB task result: the file holds a JSON {type(data).__name__}, expected an object "
                        "with 'task_name' and 'scores'; remove it or re-run that evaluation", file=file)
    if not isinstance(data.get("scores"), dict) or not (data.get("task_name") or data.get("mteb_dataset_name")):
        raise DataError("not an MTEB task result: expected 'task_name' and 'scores' (an object of splits); remove "
                        "it or re-run that evaluation", file=file)
    try:
        return TaskResult.from_disk(file)
    except Exception as err:  # pydantic / converter errors: name the file instead of a deep traceback
        raise DataError(f"not a valid MTEB task result ({type(err).__name__}: {err}); remove it or re-run that "
                        "evaluation", file=file) from None


def load_results(
    path: str | os.PathLike[str],
    *,
    models: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read every task result under ``path`` into a tidy frame with columns :data:`RESULT_COLUMNS`.

    Args:
        path: an MTEB results folder (see the module docstring for the layouts).
        models: keep only these models (full names ``org/name`` or labels ``name``); default all.
        tasks: keep only these task names; default all.

    Returns:
        One row per (model, revision, task, split, subset, metric). ``model`` is the full model name from
        ``model_meta.json``; ``label`` its short name (made unique: a label shared by two models or by two
        revisions of one model falls back to ``name@revision``); ``languages`` the subset's languages joined by
        ``","``; ``dataset_revision`` the data the score was computed on, as mteb recorded it (see
        :func:`data_kind`). Only numeric scores are kept.

    Raises:
        DataError: the folder has no results, a file cannot be parsed, or a requested model/task is absent.
    """
    path = Path(path).expanduser()
    rows: list[dict[str, object]] = []
    with _cache_for(path) as cache:
        files = cache.get_cache_paths(require_model_meta=False, include_remote=False)  # type: ignore[attr-defined]
        for file in sorted(files):
            name, revision = _identity(file.parent)
            if tasks is not None and file.stem not in tasks:
                continue
            result = read_task_result(file)
            for split, entries in result.scores.items():
                for entry in entries:
                    subset = str(entry.get("hf_subset", "default"))
                    languages = ",".join(str(lang) for lang in entry.get("languages", []))
                    for metric, value in entry.items():
                        if metric in _NON_METRIC_KEYS or not _is_number(value):
                            continue
                        rows.append(
                            {"model": name, "revision": revision, "task": result.task_name,
                             "dataset_revision": str(result.dataset_revision), "split": split,
                             "subset": subset, "languages": languages, "metric": metric, "value": float(value)}
                        )
    if not rows:
        raise DataError("no scores found (after filtering by --models / --tasks)", file=path)
    frame = pd.DataFrame(rows)
    frame["label"] = _unique_labels(frame)
    if models is not None:
        wanted = set(models)
        missing = wanted - set(frame["model"]) - set(frame["label"])
        if missing:
            raise DataError(
                f"model(s) {sorted(missing)} not in the results; available: {sorted(set(frame['label']))}", file=path
            )
        frame = frame[frame["model"].isin(wanted) | frame["label"].isin(wanted)]
    if tasks is not None:
        missing = set(tasks) - set(frame["task"])
        if missing:
            raise DataError(f"task(s) {sorted(missing)} not in the results; available: {sorted(set(frame['task']))}",
                            file=path)
    return frame[list(RESULT_COLUMNS)].reset_index(drop=True)


def _unique_labels(frame: pd.DataFrame) -> pd.Series:
    pairs = frame[["model", "revision"]].drop_duplicates()
    short = pairs["model"].map(model_label)
    clash = short.duplicated(keep=False)
    labels = short.where(~clash, pairs["model"].map(model_label) + "@" + pairs["revision"].astype(str))
    if clash.any():
        logger.warning("models with the same short name or several revisions, labelled name@revision: %s",
                       sorted(labels[clash]))
    mapping = dict(zip(zip(pairs["model"], pairs["revision"]), labels))
    return pd.Series([mapping[k] for k in zip(frame["model"], frame["revision"])], index=frame.index)


# ---- data identity ------------------------------------------------------------------------------------------------

@functools.cache
def task_class(task: str) -> Any:  # noqa: ANN401 -- an mteb AbsTask subclass
    """The class of ``task`` in mteb's registry (hybrid-bench's tasks registered), past a mirror's subclass;
    ``None`` for a task mteb and hybrid-bench do not know."""
    import importlib

    from hybrid_bench.mteb_plugin import register

    register()
    cls = importlib.import_module("mteb.get_tasks")._TASKS_REGISTRY.get(task)
    while cls is not None and "mirror" in vars(cls):  # hybrid_bench.data.mirrors.mirrored_task_class
        cls = cls.__mro__[1]
    return cls


def pinned_revision(task: str) -> str | None:
    """The dataset revision ``task`` pins (:func:`task_class`); ``None`` for a task not known here."""
    cls = task_class(task)
    return None if cls is None else str(cls.metadata.revision)


def data_kind(task: str, dataset_revision: str) -> str:
    """What data a result of ``task`` was computed on: ``"official"`` (the revision the task pins), ``"mirror"``
    (a local mirror's label), ``"modified"`` (``--allow-modified-data``), ``"other"`` (another revision), or
    ``"unknown"`` (a task whose pinned revision is not known here)."""
    from hybrid_bench.data.mirror_integrity import MIRROR_REVISION_PREFIX
    from hybrid_bench.data.sources import MODIFIED_PREFIX

    if dataset_revision.startswith(MIRROR_REVISION_PREFIX):
        return "mirror"
    if dataset_revision.startswith(MODIFIED_PREFIX):
        return "modified"
    pinned = pinned_revision(task)
    if pinned is None:
        return "unknown"
    return "official" if dataset_revision == pinned else "other"


def data_mark(task: str, revisions: Sequence[str]) -> str:
    """The marks (:data:`DATA_MARKS`) of a number computed on ``revisions`` of ``task``; ``""`` for official data."""
    kinds = {data_kind(task, r) for r in revisions}
    return "".join(mark for kind, mark in DATA_MARKS.items() if kind in kinds)


def data_label(task: str, revisions: Sequence[str]) -> str:
    """How a table names the data of ``task`` behind a number: ``official`` or the recorded revision(s), each
    followed by its mark (``mirror:miracl-lite@7bc34b2d8bde†``)."""
    names = []
    for revision in sorted(set(revisions)):
        kind = data_kind(task, revision)
        names.append("official" if kind == "official" else f"{revision}{DATA_MARKS.get(kind, '')}")
    return ", ".join(dict.fromkeys(names))


# ---- subset naming of the hybrid-bench tasks -------------------------------------------------------------------

@functools.cache
def _subset_names() -> tuple[re.Pattern[str], str, frozenset[str]]:
    """The tasks' subset naming: LAReQA's ``{q}-{c}`` / ``{q}-pool`` and the cross-lingual MIRACL pool names
    (``"sw-all"``, ``"sw-train"``: candidate pools, not languages), imported from the tasks that define them."""
    from hybrid_bench.tasks.lareqa import POOL
    from hybrid_bench.tasks.miracl import DEFAULT_LANGUAGE_POOLS

    pair = re.compile(rf"^(?P<q>[a-z]{{2,3}})-(?P<c>[a-z]{{2,3}}|{re.escape(POOL)})$")
    return pair, POOL, frozenset(DEFAULT_LANGUAGE_POOLS)


def parse_pair_subset(subset: str) -> tuple[str, str] | None:
    """``"eng-deu"`` → ``("eng", "deu")``, ``"eng-pool"`` → ``("eng", "pool")``; ``None`` for other subsets."""
    pair, _, pool_groups = _subset_names()
    match = pair.match(subset)
    if not match or match["c"] in pool_groups:
        return None
    return match["q"], match["c"]


def is_pair_task(subsets: Sequence[str]) -> bool:
    """True for LAReQA-style tasks (XQuAD-R, MLQA-R): every subset is ``{q}-{c}`` or ``{q}-pool`` and at least one
    is monolingual (``q == c``) or a pool."""
    parsed = [parse_pair_subset(s) for s in subsets]
    if not parsed or any(p is None for p in parsed):
        return False
    pool = _subset_names()[1]
    return any(c == pool or q == c for q, c in parsed)  # type: ignore[misc]
