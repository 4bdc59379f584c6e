"""Find a pinned data file locally, or download it once into the user cache and verify it.

Every remote file hybrid-bench reads is pinned by URL *and* sha256 (see ``lareqa_sources.json``). A file is
looked up in this order:

1. the user's local copy: an explicit ``data_dir`` (the ``--data-dir`` flag), else ``HYBRID_BENCH_DATA``
   (:func:`hybrid_bench.paths.configured_data_dir`). ``data_dir`` may be the data root
   (``<data_dir>/lareqa/xquad-r/de.json``) or any folder on the way down (``<data_dir>/xquad-r/de.json`` when
   it points at ``lareqa/``). A local copy whose checksum differs from the pinned one is refused: results computed
   on it would be recorded as the published benchmark's. ``allow_modified=True`` (``--allow-modified-data``)
   accepts it, and :func:`data_revision` then labels the data with its own hash instead of the pinned revision.
2. the user cache, ``hybrid_bench.paths.data_cache_dir()/<relpath>``, if its checksum matches.
3. a download with :func:`pooch.retrieve` into the cache, verified against the pinned sha256 (pooch writes to a
   temporary file and moves it into place, so a failed or corrupt download never leaves a partial file). No
   download is tried in Hugging Face offline mode (``HF_HUB_OFFLINE=1``), which hybrid-bench follows for all
   network access.

If all of that fails, one :class:`~hybrid_bench.errors.DataError` says where it looked and how to point
hybrid-bench at a local copy.

Example::

    from hybrid_bench.data.sources import RemoteFile, fetch

    remote = RemoteFile(
        relpath="lareqa/xquad-r/en.json",
        url="https://raw.githubusercontent.com/google-research-datasets/lareqa/"
        "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c/xquad-r/en.json",
        sha256="7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
    )
    path = fetch(remote, data_dir="../shared/data", download=False)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pooch

from hybrid_bench import paths
from hybrid_bench.errors import DataError

logger = logging.getLogger(__name__)

__all__ = ["MODIFIED_PREFIX", "RemoteFile", "data_revision", "fetch", "file_sha256"]

#: prefix of the revision label of data that differs from its pinned checksums (see :func:`data_revision`)
MODIFIED_PREFIX = "modified:"


@dataclass(frozen=True)
class RemoteFile:
    """One pinned remote file.

    Args:
        relpath: Its path under a data root, with ``/`` separators (e.g. ``"lareqa/xquad-r/de.json"``).
        url: Where to download it from.
        sha256: Its expected checksum (hex).
    """

    relpath: str
    url: str
    sha256: str

    def local_candidates(self, root: Path) -> list[Path]:
        """Where this file may lie under a user's ``root``: the full layout first, then shorter suffixes.

        ``lareqa/xquad-r/de.json`` is looked for at ``root/lareqa/xquad-r/de.json`` and ``root/xquad-r/de.json``;
        never as a bare ``root/de.json``, which could belong to any data set.
        """
        parts = PurePosixPath(self.relpath).parts
        return [root.joinpath(*parts[i:]) for i in range(max(len(parts) - 1, 1))]


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    # mtime and size in the key: an edited file is hashed again, an unchanged one only once per process.
    return _hash_file(path)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a file, cached in-process per (path, mtime, size)."""
    stat = os.stat(path)
    return _sha256_cached(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


def _offline() -> bool:
    from huggingface_hub import is_offline_mode

    return bool(is_offline_mode())


def fetch(
    remote: RemoteFile,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    allow_modified: bool = False,
) -> Path:
    """The local path of ``remote``: the user's copy, the cached copy, or a fresh verified download.

    Args:
        remote: The pinned file.
        data_dir: The user's data folder (``--data-dir``); ``None`` falls back to ``HYBRID_BENCH_DATA``.
        download: Whether a file missing from the cache may be downloaded; ``None``: unless offline
            (``HF_HUB_OFFLINE=1``).
        allow_modified: Accept a local copy whose sha256 differs from the pinned one.

    Returns:
        The path of a readable copy of the file.

    Raises:
        DataError: The local copy fails its checksum (without ``allow_modified``) or is not a file, or the file
            is nowhere locally and could not be downloaded (or downloading is off).
    """
    if download is None:
        download = not _offline()
    looked_at: list[Path] = []
    configured = paths.configured_data_dir(data_dir)
    if configured is not None:
        for candidate in remote.local_candidates(configured):
            looked_at.append(candidate)
            if candidate.is_file():
                _check_local_copy(candidate, remote, allow_modified=allow_modified)
                return candidate
            if candidate.exists():
                raise DataError("is not a file (a folder?); expected the JSON file of this language", file=candidate)
        logger.debug("%s not found under %s; trying the cache %s", remote.relpath, configured, paths.data_cache_dir())

    cached = paths.data_cache_dir().joinpath(*PurePosixPath(remote.relpath).parts)
    looked_at.append(cached)
    if cached.is_file() and file_sha256(cached) == remote.sha256:
        return cached

    if not download:
        state = "has a different checksum" if cached.is_file() else "is missing"
        why = "offline (HF_HUB_OFFLINE=1)" if _offline() else "downloading is disabled"
        raise DataError(
            f"not available locally and {why}; the cached copy {cached} {state}. " + _how_to_fix(remote, looked_at),
            file=remote.relpath,
        )
    logger.info("downloading %s from %s", remote.relpath, remote.url)
    try:
        fetched = pooch.retrieve(
            remote.url,
            known_hash=f"sha256:{remote.sha256}",
            fname=cached.name,
            path=cached.parent,
            progressbar=True,
        )
    except Exception as exc:  # noqa: BLE001 - network stacks raise many types; all mean "no verified copy"
        raise DataError(
            f"could not download {remote.url} ({type(exc).__name__}: {exc}). " + _how_to_fix(remote, looked_at),
            file=remote.relpath,
        ) from exc
    return Path(fetched)


def _check_local_copy(path: Path, remote: RemoteFile, *, allow_modified: bool) -> None:
    actual = file_sha256(path)
    if actual == remote.sha256:
        return
    if not allow_modified:
        raise DataError(
            f"sha256 {actual[:12]}… differs from the pinned {remote.sha256[:12]}… of {remote.url}: the file was "
            "changed. Restore the original, or pass --allow-modified-data to evaluate on it (results are then "
            "labelled with the data's own hash, not the benchmark's revision)",
            file=path,
        )
    logger.info("%s: modified copy (sha256 %s, pinned %s) accepted", path, actual[:12], remote.sha256[:12])


def data_revision(pinned_revision: str, files: Sequence[tuple[RemoteFile, Path]]) -> str:
    """The dataset revision to record for results computed on ``files`` (pairs of pinned file and local path).

    ``pinned_revision`` when every file matches its pinned sha256; otherwise ``modified:`` + 12 hex digits of a
    sha256 over the files' relative paths and contents, so results on changed data are never filed (or reused)
    as the official benchmark's, and any change of any file gives a new label.
    """
    hashes = [(remote.relpath, file_sha256(path)) for remote, path in files]
    if all(actual == remote.sha256 for (remote, _), (_, actual) in zip(files, hashes)):
        return pinned_revision
    digest = hashlib.sha256("".join(f"{rel}\t{sha}\n" for rel, sha in sorted(hashes)).encode())
    return f"{MODIFIED_PREFIX}{digest.hexdigest()[:12]}"


def _how_to_fix(remote: RemoteFile, looked_at: list[Path]) -> str:
    places = ", ".join(str(p) for p in looked_at)
    return (
        f"Looked at: {places}. Point hybrid-bench at a local copy with --data-dir DIR or the environment variable "
        f"{paths.DATA_ENV}=DIR (layout DIR/{remote.relpath}), or allow the download from {remote.url}."
    )
