"""The persistent embedding cache: encode-once across processes, under ``$HYBRID_BENCH_HOME/cache/embeddings``.

A rerun, a resumed evaluation, or XQuAD-R and its held-out variant in separate processes never re-encode a text.
Keys: the model (name, revision - which carries the inference backend and dtype, see
:mod:`hybrid_bench.models.inference` - maximum input length and prompts) picks a folder; within it every text is
keyed by the sha256 of (embedding group, prompt type, title, text), the same key as the in-memory cache
(:class:`hybrid_bench.tasks.encoding.EmbeddingCache`), whose task prompts are identical within a group.

Layout of a model folder: ``model.json`` (what the folder's key was made of), and one *shard* per encode call:
``<id>.npy`` (float32 rows, read with ``allow_pickle=False`` and memory-mapped) written first, then ``<id>.json``
(the row keys, row count and the sha256 of the ``.npy`` file), each atomically: a shard exists once its index does.
A shard whose file is missing, truncated or altered (row count or checksum differ) is reported, moved aside
(``<id>.corrupt``) and its texts are encoded again; nothing on disk is trusted unchecked.

Why not mteb's ``CachedEmbeddingWrapper``: it wraps the model and keeps one cache per task name, so XQuAD-R and its
held-out variant (different task names, identical inputs) would encode their common texts twice, and its numpy
backend updates a memory-mapped file and ``index.json`` in place, with no checksum, so an interrupted write or a
damaged file would be read back as embeddings. Here encode-once is keyed by the declared embedding group, every
write is atomic and every read is checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hybrid_bench.io import atomic_path, atomic_write_text

__all__ = ["EmbeddingStore", "cache_root", "model_key", "text_key"]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.json"


def cache_root() -> Path:
    """``$HYBRID_BENCH_HOME/cache/embeddings``."""
    from hybrid_bench.paths import home_dir

    return home_dir() / "cache" / "embeddings"


def text_key(group: str, prompt_type: str, title: str, text: str) -> str:
    """The cache key of one input text."""
    return hashlib.sha256("\0".join((group, prompt_type, title, text)).encode("utf-8")).hexdigest()


def model_key(model: Any) -> dict[str, Any] | None:  # noqa: ANN401 -- any mteb model
    """What identifies ``model``'s embeddings, or ``None`` when it cannot be identified (no name or revision)."""
    meta = getattr(model, "mteb_model_meta", None)
    name, revision = getattr(meta, "name", None), getattr(meta, "revision", None)
    if not name or not revision or revision == "no_revision_available":
        return None
    inner = getattr(model, "model", None)
    return {
        "model": name,
        "revision": revision,
        "max_seq_length": getattr(inner, "max_seq_length", None),
        "prompts": getattr(model, "model_prompts", None) or getattr(inner, "prompts", None) or {},
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EmbeddingStore:
    """The persistent embeddings of one model (see the module docstring)."""

    def __init__(self, key: dict[str, Any], root: Path | None = None) -> None:
        self.key = key
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        safe = key["model"].replace("/", "__")
        self.folder = (root or cache_root()) / f"{safe}-{digest}"
        self._where: dict[str, tuple[str, int]] | None = None
        self._arrays: dict[str, npt.NDArray[np.float32]] = {}

    @classmethod
    def for_model(cls, model: Any) -> EmbeddingStore | None:  # noqa: ANN401
        key = model_key(model)
        return cls(key) if key is not None else None

    # -- reading --------------------------------------------------------------------------------------------------
    def _index(self) -> dict[str, tuple[str, int]]:
        if self._where is None:
            self._where = {}
            for index_file in sorted(self.folder.glob("*.json")):
                if index_file.name == MODEL_FILE:
                    continue
                try:
                    keys = json.loads(index_file.read_text(encoding="utf-8"))["keys"]
                except (OSError, ValueError, KeyError, TypeError) as err:
                    self._discard(index_file.stem, f"unreadable index ({err})")
                    continue
                for row, key in enumerate(keys):
                    self._where[str(key)] = (index_file.stem, row)
        return self._where

    def _shard(self, shard: str) -> npt.NDArray[np.float32] | None:
        if shard in self._arrays:
            return self._arrays[shard]
        npy, index_file = self.folder / f"{shard}.npy", self.folder / f"{shard}.json"
        try:
            index = json.loads(index_file.read_text(encoding="utf-8"))
            if _sha256(npy) != index["sha256"]:
                raise ValueError("checksum differs")
            array = np.load(npy, mmap_mode="r", allow_pickle=False)
            if array.ndim != 2 or array.shape[0] != index["rows"] or array.dtype != np.float32:
                raise ValueError(f"shape {array.shape} / dtype {array.dtype}, expected {index['rows']} float32 rows")
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._discard(shard, str(err))
            return None
        self._arrays[shard] = array
        return array

    def _discard(self, shard: str, why: str) -> None:
        logger.warning("embedding cache: %s is corrupt (%s); moved aside as %s.corrupt, its texts are encoded again",
                       self.folder / shard, why, shard)
        for suffix in (".npy", ".json"):
            path = self.folder / f"{shard}{suffix}"
            if path.exists():
                shutil.move(str(path), str(path.with_suffix(path.suffix + ".corrupt")))
        if self._where is not None:
            self._where = {k: v for k, v in self._where.items() if v[0] != shard}

    def get(self, keys: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored embeddings of those ``keys`` that are stored and intact."""
        index = self._index()
        found: dict[str, npt.NDArray[np.float32]] = {}
        by_shard: dict[str, list[tuple[str, int]]] = {}
        for key in keys:
            if key in index:
                shard, row = index[key]
                by_shard.setdefault(shard, []).append((key, row))
        for shard, rows in by_shard.items():
            array = self._shard(shard)
            if array is None:
                continue
            values = np.asarray(array[[row for _, row in rows]], dtype=np.float32)
            found.update({key: values[i] for i, (key, _) in enumerate(rows)})
        return found

    # -- writing --------------------------------------------------------------------------------------------------
    def put(self, keys: Sequence[str], embeddings: npt.NDArray[np.float32]) -> None:
        """Store one shard (``keys[i]`` → ``embeddings[i]``); a failure to write only costs re-encoding later."""
        if not len(keys):
            return
        array = np.ascontiguousarray(embeddings, dtype=np.float32)
        shard = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:20]
        try:
            if not (self.folder / MODEL_FILE).is_file():
                atomic_write_text(self.folder / MODEL_FILE, json.dumps(self.key, indent=1, default=str), overwrite=True)
            npy = self.folder / f"{shard}.npy"
            with atomic_path(npy, overwrite=True) as tmp:
                with tmp.open("wb") as handle:
                    np.save(handle, array, allow_pickle=False)
            index = {"keys": list(keys), "rows": int(array.shape[0]), "sha256": _sha256(npy)}
            atomic_write_text(self.folder / f"{shard}.json", json.dumps(index), overwrite=True)
        except OSError as err:
            logger.warning("embedding cache: could not write %s (%s); continuing without it", self.folder, err)
            return
        if self._where is not None:
            self._where.update({key: (shard, row) for row, key in enumerate(keys)})


def folders(root: Path | None = None) -> Iterable[tuple[Path, dict[str, Any], int, int]]:
    """Every model folder of the cache: ``(folder, model key, stored texts, bytes)``."""
    base = root or cache_root()
    for folder in sorted(p for p in base.glob("*") if p.is_dir()) if base.is_dir() else []:
        try:
            key = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            key = {"model": folder.name, "revision": "?"}
        texts = 0
        for index_file in folder.glob("*.json"):
            if index_file.name != MODEL_FILE:
                try:
                    texts += int(json.loads(index_file.read_text(encoding="utf-8")).get("rows", 0))
                except (OSError, ValueError, TypeError):
                    pass
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        yield folder, key, texts, size
