"""The revision recorded for a local model folder: a content hash, so results of two different weights never mix.

mteb files results under ``results/<model>/<revision>/``; for a model that exists only as a local folder (a
trained model in the store, ``eval -m FOLDER``) the revision is ``local-`` + 12 hex digits of the sha256 over the
folder's files, computed here (:func:`local_revision`) and used by :mod:`hybrid_bench.models.registry`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from hybrid_bench.io import atomic_write_text
from hybrid_bench.paths import home_dir

__all__ = ["local_revision"]

logger = logging.getLogger(__name__)

# Files that describe a model rather than make it: a rewritten model card must not change the revision.
_NOT_HASHED = {"README.md"}


def _hashed_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or rel.as_posix() in _NOT_HASHED:
            continue
        # hidden files (caches, locks) and trainer checkpoints are not part of the saved model
        if any(part.startswith(".") or part.startswith("checkpoint-") for part in rel.parts):
            continue
        files.append(path)
    return files


def local_revision(folder: str | os.PathLike[str]) -> str:
    """``local-`` + 12 hex digits of the sha256 over a model folder's files (names and contents; README excluded).

    Hashing a model's weights takes about a second per 500 MB, so results are cached in
    ``$HYBRID_BENCH_HOME/cache/model-revisions.json``, keyed by each file's size and modification time.
    """
    folder = Path(folder).resolve()
    files = _hashed_files(folder)
    stamp = [[f.relative_to(folder).as_posix(), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    cache_file = home_dir() / "cache" / "model-revisions.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    cached = cache.get(str(folder))
    if cached and cached.get("stamp") == stamp:
        return str(cached["revision"])
    digest = hashlib.sha256()
    for file, (rel, _, _) in zip(files, stamp, strict=True):
        digest.update(rel.encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    revision = f"local-{digest.hexdigest()[:12]}"
    cache[str(folder)] = {"stamp": stamp, "revision": revision}
    try:
        atomic_write_text(cache_file, json.dumps(cache, indent=1), overwrite=True)
    except OSError as err:  # a read-only home only costs the re-hash next time
        logger.debug("could not cache the revision of %s: %s", folder, err)
    return revision
