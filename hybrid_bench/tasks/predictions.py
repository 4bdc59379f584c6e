"""The one per-query writer of hybrid-bench's tasks: ``<prediction_folder>/<TaskName>_per_query.parquet``.

Every task calls :func:`write_per_query` once per evaluated subset (mteb's per-subset hook), so a resumed or partial
run keeps what it has. Rows are identified by :data:`KEY` (the leaderboard's
:data:`~hybrid_bench.leaderboard.per_query.KEY_COLUMNS` without ``query_id``): the rows of one (model, revision,
task, split, subset) are replaced as a whole, other rows are kept, and the file is rewritten atomically. The model's
revision carries its inference setting (``+openvino-bfloat16``, see :mod:`hybrid_bench.models.inference`), so rows
of differently computed embeddings never replace each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hybrid_bench.io import atomic_path

__all__ = ["KEY", "model_identity", "write_per_query"]

KEY: tuple[str, ...] = ("model", "revision", "task", "split", "subset")
PER_QUERY_SUFFIX = "_per_query.parquet"


def model_identity(model: Any) -> tuple[str, str]:  # noqa: ANN401 -- any mteb model
    """``(name, revision)`` of an mteb model as recorded with its results."""
    meta = getattr(model, "mteb_model_meta", None)
    return (
        getattr(meta, "name", None) or type(model).__name__,
        getattr(meta, "revision", None) or "no_revision_available",
    )


def write_per_query(
    folder: str | Path,
    *,
    model: Any,  # noqa: ANN401
    task: str,
    split: str,
    subset: str,
    values: pd.DataFrame,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Store one subset's per-query values (columns ``query_id`` + metrics) for ``model`` on ``task``.

    Args:
        folder: the prediction folder.
        values: one row per scored query: ``query_id`` and the per-query metric columns.
        extra: constant columns appended after the metrics (e.g. ``dataset_revision``).

    Returns:
        The parquet file.
    """
    name, revision = model_identity(model)
    frame = values.copy()
    for column, value in reversed(list(zip(KEY, (name, revision, task, split, subset)))):
        frame.insert(0, column, value)
    for column, value in (extra or {}).items():
        frame[column] = value
    path = Path(folder) / f"{task}{PER_QUERY_SUFFIX}"
    if path.exists():
        old = pd.read_parquet(path)
        stale = (old[list(KEY)] == frame[list(KEY)].iloc[0]).all(axis=1)
        frame = pd.concat([old[~stale], frame], ignore_index=True)
    with atomic_path(path, overwrite=True) as tmp:
        frame.to_parquet(tmp, index=False)
    return path
