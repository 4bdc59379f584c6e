"""Where hybrid-bench keeps things: the user cache, the model store and the data directory.

Resolution order (documented in the README):

* ``HYBRID_BENCH_HOME`` — root of everything hybrid-bench writes; default is the platform's user cache
  directory (``~/.cache/hybrid_bench`` on Linux, via :mod:`platformdirs`).
* model store: ``$HYBRID_BENCH_HOME/models/<name>``.
* data: an explicit ``--data-dir`` → ``HYBRID_BENCH_DATA`` → ``$HYBRID_BENCH_HOME/data`` (downloaded on demand).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from hybrid_bench.errors import HybridBenchError

HOME_ENV = "HYBRID_BENCH_HOME"
DATA_ENV = "HYBRID_BENCH_DATA"


def home_dir() -> Path:
    """Root folder for everything hybrid-bench caches or writes (models, downloaded data).

    Raises:
        HybridBenchError: ``HYBRID_BENCH_HOME`` (or a folder above it) names something that is not a folder.
    """
    env = os.environ.get(HOME_ENV)
    home = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("hybrid_bench"))
    for part in (home, *home.parents):
        if part.exists():
            if not part.is_dir():
                source = f"{HOME_ENV}={env}" if env else "the user cache folder"
                raise HybridBenchError(f"{source}: {part} is a file, not a folder; point {HOME_ENV} at a folder "
                                       "(it is created if missing)")
            break
    return home


def models_dir() -> Path:
    """The local model store: one sentence-transformers folder per model name."""
    return home_dir() / "models"


def data_cache_dir() -> Path:
    """Where downloaded datasets are cached when no local copy is configured."""
    return home_dir() / "data"


def configured_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The user's local data copy: ``explicit`` (a ``--data-dir`` flag) first, then ``HYBRID_BENCH_DATA``.

    Returns ``None`` when neither is set; callers then fall back to :func:`data_cache_dir` and download.
    """
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else None
