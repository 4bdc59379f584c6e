"""The persistent embedding cache: encode-once across processes, under ``$HYBRID_BENCH_HOME/cache/embeddings``.

A rerun, a resumed evaluation, or XQuAD-R and its held-out variant in separate processes never re-encode a text.
Keys: the model (name, revision - which carries the inference backend and dtype, see
:mod:`hybrid_bench.models.inference` - maximum input length and prompts) picks a folder; within it every text is
keyed by the sha256 of (embedding group, prompt type, title, text), the same key as the in-memory cache
(:class:`hybrid_bench.tasks.encoding.EmbeddingCache`), whose task prompts are identical within a group.

Layout of a model folder: ``model.json`` (what the folder's key was made of), and one *shard* per encoded slice (at
most ``encode_chunk`` texts, :data:`hybrid_bench.tasks.encoding.ENCODE_CHUNK` by default):
``<id>.npy`` (float32 rows, read with ``allow_pickle=False`` and memory-mapped) written first, then ``<id>.json``
(the row keys, row count and the sha256 of the ``.npy`` file), each atomically: a shard exists once its index does.
A shard whose file is missing, truncated or altered (row count or checksum differ) is reported, moved aside
(``<id>.corrupt``) and its texts are encoded again; nothing on disk is trusted unchecked.

Why not mteb's ``CachedEmbeddingWrapper``: it wraps the model and keeps one cache per task name, so XQuAD-R and its
held-out variant (different task names, identical inputs) would encode their common texts twice, and its numpy
backend updates a memory-mapped file and ``index.json`` in place, with no checksum, so an interrupted write or a
damaged file would be read back as embeddings. Here encode-once is keyed by the declared embedding group, every
write is atomic and every read is checked.

In memory an :class:`EmbeddingStore` holds where each stored text lives (:class:`_KeyIndex`: its 32-byte digest and
shard row, 40 bytes per text, read from the shards' JSON indexes on first use) and the shards opened so far as
read-only memory maps (each checked once per process, when first read); embedding rows are read from the maps
only when a caller indexes them, so the page cache, not the process, holds the corpus.
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


class _KeyIndex:
    """Stored text keys → packed location (``shard number << 32 | row``), as sorted numpy runs: 40 bytes per text.

    Runs merge like a binary counter (a new run is merged with the previous one while that is not more than twice
    its size), so adding ``n`` keys costs ``O(n log² n)`` overall and a lookup searches ``O(log n)`` runs. Keys are
    the raw 32-byte sha256 digests (numpy ``S32``: fixed width, so two digests compare equal only if every byte does).
    """

    def __init__(self) -> None:
        self._runs: list[tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int64]]] = []

    def add(self, digests: npt.NDArray[np.bytes_], locations: npt.NDArray[np.int64]) -> None:
        order = np.argsort(digests, kind="stable")
        self._runs.append((digests[order], locations[order]))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            (k2, v2), (k1, v1) = self._runs.pop(), self._runs.pop()
            keys, values = np.concatenate([k1, k2]), np.concatenate([v1, v2])
            order = np.argsort(keys, kind="stable")
            self._runs.append((keys[order], values[order]))

    def find(self, digests: npt.NDArray[np.bytes_]) -> npt.NDArray[np.int64]:
        """The packed location of each digest, ``-1`` where it is not stored."""
        out = np.full(len(digests), -1, dtype=np.int64)
        for keys, values in self._runs:
            if not len(keys):
                continue
            pos = np.searchsorted(keys, digests).clip(max=len(keys) - 1)
            hit = (keys[pos] == digests) & (out < 0)
            out[hit] = values[pos[hit]]
        return out

    def drop(self, shard: int) -> None:
        self._runs = [(k[keep], v[keep]) for k, v in self._runs for keep in [(v >> 32) != shard] if keep.any()]


def digests(keys: Sequence[str]) -> npt.NDArray[np.bytes_]:
    """The raw sha256 digests of hex keys (:func:`text_key`), as a numpy ``S32`` array."""
    return np.frombuffer(bytes.fromhex("".join(keys)), dtype="S32") if len(keys) else np.zeros(0, dtype="S32")


class EmbeddingStore:
    """The persistent embeddings of one model (see the module docstring).

    In memory it holds only *where* each stored text is (:class:`_KeyIndex`, 40 bytes per text) and the shards
    opened so far as memory maps; embeddings are read from the shards when a caller indexes :meth:`array`.
    """

    def __init__(self, key: dict[str, Any], root: Path | None = None) -> None:
        self.key = key
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        safe = key["model"].replace("/", "__")
        self.folder = (root or cache_root()) / f"{safe}-{digest}"
        self._index: _KeyIndex | None = None
        self._names: list[str] = []  # shard number → shard id (file stem)
        self._arrays: dict[int, npt.NDArray[np.float32]] = {}  # opened (checked) shards
        self._bad: set[int] = set()

    @classmethod
    def for_model(cls, model: Any) -> EmbeddingStore | None:  # noqa: ANN401
        key = model_key(model)
        return cls(key) if key is not None else None

    # -- reading --------------------------------------------------------------------------------------------------
    def _keys(self) -> _KeyIndex:
        if self._index is None:
            self._index = _KeyIndex()
            self._read_new_shards()
        return self._index

    def _read_new_shards(self) -> int:
        """Add the shards in the folder this store does not know yet to its key index; returns how many."""
        known, added = set(self._names), 0
        for index_file in sorted(self.folder.glob("*.json")):
            if index_file.name == MODEL_FILE or index_file.stem in known:
                continue
            try:
                keys = json.loads(index_file.read_text(encoding="utf-8"))["keys"]
                found = digests([str(k) for k in keys])
            except (OSError, ValueError, KeyError, TypeError) as err:
                self._discard(index_file.stem, f"unreadable index ({err})")
                continue
            self._add(index_file.stem, found)
            added += 1
        return added

    def refresh(self) -> int:
        """Pick up the shards other processes (the ranks of a sharded encoding, :mod:`hybrid_bench.tasks.sharding`)
        wrote since this store read its folder; returns how many were added. A store that has not read its folder
        yet reads everything on first use anyway."""
        return 0 if self._index is None else self._read_new_shards()

    def _add(self, shard: str, found: npt.NDArray[np.bytes_]) -> int:
        number = len(self._names)
        self._names.append(shard)
        assert self._index is not None
        self._index.add(found, (number << 32) + np.arange(len(found), dtype=np.int64))
        return number

    def array(self, number: int) -> npt.NDArray[np.float32] | None:
        """Shard ``number`` memory-mapped, after checking it once per process (``None``: it was corrupt, and is
        now set aside and dropped from the index)."""
        if number in self._arrays or number in self._bad:
            return self._arrays.get(number)
        shard = self._names[number]
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
            self._bad.add(number)
            assert self._index is not None
            self._index.drop(number)
            return None
        self._arrays[number] = array
        return array

    def _discard(self, shard: str, why: str) -> None:
        logger.warning("embedding cache: %s is corrupt (%s); moved aside as %s.corrupt, its texts are encoded again",
                       self.folder / shard, why, shard)
        for suffix in (".npy", ".json"):
            path = self.folder / f"{shard}{suffix}"
            if path.exists():
                shutil.move(str(path), str(path.with_suffix(path.suffix + ".corrupt")))

    def locate(self, keys: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(shard number, row)`` of each key, both ``-1`` where it is not stored or its shard proved corrupt.

        Every shard a key is found in is checked (once per process) before it is reported.
        """
        index = self._keys()
        found = index.find(digests(keys))
        for number in np.unique(found[found >= 0] >> 32).tolist():
            if self.array(number) is None:
                found = index.find(digests(keys))  # the damaged shard's keys are gone (or found in another shard)
        shard = np.where(found >= 0, found >> 32, -1)
        return shard, np.where(found >= 0, found & 0xFFFFFFFF, -1)

    # -- writing --------------------------------------------------------------------------------------------------
    def put(self, keys: Sequence[str], embeddings: npt.NDArray[np.float32]) -> int | None:
        """Store one shard (``keys[i]`` → ``embeddings[i]``) and return its number for :meth:`array`; ``None`` when
        it could not be written (a failure to write only costs re-encoding later)."""
        if not len(keys):
            return None
        array = np.ascontiguousarray(embeddings, dtype=np.float32)
        shard = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:20]
        self._keys()  # read the folder's index before this shard joins it
        try:
            if not (self.folder / MODEL_FILE).is_file():
                atomic_write_text(self.folder / MODEL_FILE, json.dumps(self.key, indent=1, default=str), overwrite=True)
            npy = self.folder / f"{shard}.npy"
            with atomic_path(npy, overwrite=True) as tmp:
                with tmp.open("wb") as handle:
                    np.save(handle, array, allow_pickle=False)
            index = {"keys": list(keys), "rows": int(array.shape[0]), "sha256": _sha256(npy)}
            atomic_write_text(self.folder / f"{shard}.json", json.dumps(index), overwrite=True)
            stored = np.load(npy, mmap_mode="r", allow_pickle=False)
        except OSError as err:
            logger.warning("embedding cache: could not write %s (%s); continuing without it", self.folder, err)
            return None
        number = self._add(shard, digests(keys))
        self._arrays[number] = stored
        return number


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
