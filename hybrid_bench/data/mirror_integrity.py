"""A local data mirror's integrity and its revision label: every file hashed, checked against ``SHA256SUMS``, and
the parquet files a task needs checked for readability and columns (see :mod:`hybrid_bench.data.mirrors` for what
mirrors are and how they are configured).

The label ``mirror:<folder name>@<12 hex>`` is a sha256 over the relative path and sha256 of every file of the
folder, so it changes whenever any file changes; file hashes are cached across runs by size and modification time
(:func:`hybrid_bench.data.sources.file_sha256s`).

Example::

    from hybrid_bench.data.mirror_integrity import mirror_revision

    mirror_revision("../shared/data/miracl-lite")   # 'mirror:miracl-lite@7bc34b2d8bde'
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

from hybrid_bench.data.sources import file_sha256s
from hybrid_bench.errors import DataError

__all__ = ["MIRROR_REVISION_PREFIX", "check_parquet_files", "mirror_revision"]

logger = logging.getLogger(__name__)

MIRROR_REVISION_PREFIX = "mirror:"
_SUMS = "SHA256SUMS"


def _mirror_files(folder: Path) -> list[Path]:
    # hidden files (caches, temporaries) and the checksum list itself are not data
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != _SUMS
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _listed_sums(folder: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for n, line in enumerate((folder / _SUMS).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.strip().partition(" ")
        if not sep or len(digest) != 64:
            raise DataError(f"line {n} is not '<sha256>  <path>'", file=folder / _SUMS)
        sums[name.strip().lstrip("*")] = digest.lower()
    return sums


@functools.lru_cache(maxsize=None)
def _revision_for(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    files = [folder / rel for rel, _, _ in stamp]
    hashes = dict(zip((rel for rel, _, _ in stamp), file_sha256s(files)))
    if (folder / _SUMS).is_file():
        for rel, expected in _listed_sums(folder).items():
            if rel not in hashes:
                raise DataError(f"listed in {_SUMS} but missing from the mirror", file=folder / rel)
            if hashes[rel] != expected:
                raise DataError(f"sha256 {hashes[rel][:12]}… does not match {expected[:12]}… in {folder / _SUMS}: "
                                "the file was changed or truncated; restore it or rebuild the mirror",
                                file=folder / rel)
    else:
        logger.info("local mirror %s has no %s; its label is a hash of its files", folder, _SUMS)
    digest = hashlib.sha256("".join(f"{rel}\t{sha}\n" for rel, sha in sorted(hashes.items())).encode())
    return f"{MIRROR_REVISION_PREFIX}{folder.name}@{digest.hexdigest()[:12]}"


def mirror_revision(folder: str | os.PathLike[str]) -> str:
    """The dataset revision recorded for a mirror run: ``mirror:<folder name>@<12 hex>`` of its files' hashes.

    Raises:
        DataError: a file does not match the folder's ``SHA256SUMS`` (or is listed there but missing).
    """
    folder = Path(folder).resolve()
    stamp = tuple((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in _mirror_files(folder))
    return _revision_for(folder, stamp)


#: the columns a retrieval config of each kind must have (mteb's RetrievalDatasetLoader reads these)
_COLUMNS = {"corpus": ("_id", "text"), "queries": ("_id", "text"), "qrels": ("query-id", "corpus-id", "score")}


def check_parquet_files(folder: Path, configs: list[str]) -> None:
    """Check that every parquet file of ``configs`` (``<folder>/<config>/*.parquet``) is readable and has the
    columns of its kind (``<lang>-corpus`` ...), before ``datasets`` meets it deep inside a loader.

    Raises:
        DataError: naming the file: unreadable (truncated?) or a required column missing.
    """
    import pyarrow.parquet as pq

    for config in configs:
        kind = config.rsplit("-", 1)[-1]
        for file in sorted((folder / config).glob("*.parquet")):
            try:
                columns = set(pq.read_schema(file).names)
            except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
                raise DataError(f"not a readable parquet file, truncated or damaged? ({err})", file=file) from None
            missing = [c for c in _COLUMNS.get(kind, ()) if c not in columns]
            if missing:
                raise DataError(f"missing column(s) {missing} of a {kind} file (it has {sorted(columns)})", file=file)
