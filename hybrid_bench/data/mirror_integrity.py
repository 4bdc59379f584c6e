"""A local data mirror read once: every file's bytes hashed, checked against ``SHA256SUMS``, labelled, and the
parquet files a task needs parsed from the very bytes that were hashed (see :mod:`hybrid_bench.data.mirrors` for
what mirrors are and how they are configured).

The label ``mirror:<folder name>@<12 hex>`` is a sha256 over the relative path and sha256 of every file of the
folder, so it changes whenever any byte of any file changes. Nothing stands in for the bytes: no hash is cached
(neither by size and modification time nor in-process), and the data handed to a task never passes through the
``datasets`` cache, which keys a local folder by its *name* (two folders called ``miracl-lite`` would share one
cached copy). :func:`read_mirror` reads each file a task needs into memory once, hashes those bytes and parses
them with pyarrow into an in-memory :class:`datasets.Dataset`; the other files are hashed as they stream by.
Hashing costs about a second per GB on one core (the 14 MB ``miracl-lite`` mirror: a few ms); the data a task
reads is held in memory, which suits mirrors of up to a few GB.

Configs are the README's YAML ``configs:`` block (``config_name``, ``data_files`` with ``split`` and ``path``
patterns), resolved to files exactly as :mod:`datasets` resolves them. Parquet files of a retrieval config are
checked for the columns of their kind (``<x>-corpus``/``-queries``: ``_id``, ``text``; ``-qrels``: ``query-id``,
``corpus-id``, ``score``).

Example::

    from hybrid_bench.data.mirror_integrity import mirror_revision, read_mirror

    mirror_revision("../shared/data/miracl-lite")      # 'mirror:miracl-lite@7bc34b2d8bde'
    snapshot = read_mirror("../shared/data/miracl-lite", ["yo-qrels"])
    snapshot.dataset("yo-qrels", "dev").num_rows       # 81
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from datasets import Dataset

from hybrid_bench.errors import DataError

__all__ = ["MIRROR_REVISION_PREFIX", "MirrorSnapshot", "mirror_configs", "mirror_revision", "read_mirror"]

logger = logging.getLogger(__name__)

MIRROR_REVISION_PREFIX = "mirror:"
_SUMS = "SHA256SUMS"
_README = "README.md"
#: the columns a retrieval config of each kind must have (mteb's RetrievalDatasetLoader reads these)
_COLUMNS = {"corpus": ("_id", "text"), "queries": ("_id", "text"), "qrels": ("query-id", "corpus-id", "score")}

#: ``{config: {split: (relative path, ...)}}``
ConfigFiles = Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True)
class MirrorSnapshot:
    """What :func:`read_mirror` read: the label, every file's sha256, the configs, and the configs' data.

    Attributes:
        folder: The mirror folder (resolved).
        revision: ``mirror:<folder name>@<12 hex>`` of the bytes read.
        sha256: ``{relative path: sha256 hex}`` of every file that makes the label.
        configs: ``{config: {split: (relative path, ...)}}`` from the README's ``configs:``.
    """

    folder: Path
    revision: str
    sha256: Mapping[str, str]
    configs: ConfigFiles
    _data: Mapping[tuple[str, str], Dataset] = field(repr=False)

    def splits(self, config: str) -> list[str]:
        """The splits of ``config`` (its README ``data_files`` entries)."""
        return list(self.configs[config])

    def dataset(self, config: str, split: str) -> Dataset:
        """The in-memory rows of one config's split, parsed from the bytes that were hashed.

        Raises:
            DataError: ``read_mirror`` was not asked for ``config``, or the config has no such split.
        """
        if config not in self.configs or split not in self.configs[config]:
            have = self.splits(config) if config in self.configs else sorted(self.configs)
            raise DataError(f"no split {split!r} of config {config!r} (the README lists {have})", file=self.folder)
        if (config, split) not in self._data:
            raise DataError(f"config {config!r} was not read from this snapshot of the mirror", file=self.folder)
        return self._data[(config, split)]


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


def _check_sums(folder: Path, hashes: Mapping[str, str]) -> None:
    if not (folder / _SUMS).is_file():
        logger.info("local mirror %s has no %s; its label is a hash of its files", folder, _SUMS)
        return
    for rel, expected in _listed_sums(folder).items():
        if rel not in hashes:
            raise DataError(f"listed in {_SUMS} but missing from the mirror", file=folder / rel)
        if hashes[rel] != expected:
            raise DataError(f"sha256 {hashes[rel][:12]}… does not match {expected[:12]}… in {folder / _SUMS}: "
                            "the file was changed or truncated; restore it or rebuild the mirror", file=folder / rel)


def _label(folder: Path, hashes: Mapping[str, str]) -> str:
    digest = hashlib.sha256("".join(f"{rel}\t{sha}\n" for rel, sha in sorted(hashes.items())).encode())
    return f"{MIRROR_REVISION_PREFIX}{folder.name}@{digest.hexdigest()[:12]}"


def _parse_configs(folder: Path, readme: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """The README's ``configs:`` resolved to files, with the data-files machinery ``datasets`` itself uses."""
    from datasets.data_files import DataFilesDict, sanitize_patterns
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    try:
        configs = MetadataConfigs.from_dataset_card_data(DatasetCard(readme).data)
    except Exception as err:  # noqa: BLE001 - YAML and card validation raise many types
        raise DataError(f"the YAML `configs:` block cannot be read ({type(err).__name__}: {err})",
                        file=folder / _README) from None
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, params in configs.items():
        if "data_files" not in params:
            raise DataError("a config without `data_files`; name its parquet files", file=folder / _README,
                            item=name)
        try:
            files = DataFilesDict.from_patterns(sanitize_patterns(params["data_files"]), base_path=str(folder))
        except FileNotFoundError as err:
            raise DataError(f"a data_files pattern matches no file ({err})", file=folder / _README,
                            item=name) from None
        out[name] = {split: tuple(Path(f).resolve().relative_to(folder).as_posix() for f in paths)
                     for split, paths in files.items()}
    return out


def mirror_configs(folder: str | os.PathLike[str]) -> ConfigFiles:
    """The configs of a mirror (its README ``configs:``), without hashing the data: for listing what it holds.

    Raises:
        DataError: no README, or a README whose ``configs:`` cannot be read or names no file.
    """
    folder = Path(folder).resolve()
    if not (folder / _README).is_file():
        raise DataError(f"no {_README}: a mirror names its configs in the README's YAML `configs:` block",
                        file=folder)
    return MappingProxyType(_parse_configs(folder, (folder / _README).read_text(encoding="utf-8")))


def _parse_parquet(folder: Path, config: str, split: str, rels: tuple[str, ...], blobs: Mapping[str, bytes],
                   hashes: Mapping[str, str]) -> Dataset:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Features, NamedSplit
    from datasets.table import InMemoryTable, table_cast

    kind = config.rsplit("-", 1)[-1]
    tables = []
    for rel in rels:
        try:
            table = pq.read_table(pa.BufferReader(blobs[rel]))
        except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise DataError(f"not a readable parquet file, truncated or damaged? ({err})",
                            file=folder / rel) from None
        missing = [c for c in _COLUMNS.get(kind, ()) if c not in table.column_names]
        if missing:
            raise DataError(f"missing column(s) {missing} of a {kind} file (it has {sorted(table.column_names)})",
                            file=folder / rel)
        tables.append(table)
    features = Features.from_arrow_schema(tables[0].schema)  # as datasets' parquet builder: the first file's
    try:
        table = pa.concat_tables([table_cast(t, features.arrow_schema) for t in tables])
    except (pa.ArrowInvalid, ValueError, TypeError) as err:
        raise DataError(f"the parquet files of config {config!r} have different columns ({err})",
                        file=folder / rels[-1]) from None
    # the fingerprint datasets keys its transforms by: the content read, not the folder
    fingerprint = hashlib.sha256("\n".join([config, split, *(hashes[r] for r in rels)]).encode()).hexdigest()[:16]
    return Dataset(InMemoryTable(table), split=NamedSplit(split), fingerprint=fingerprint)


def read_mirror(folder: str | os.PathLike[str], configs: Collection[str] = ()) -> MirrorSnapshot:
    """Read the mirror ``folder`` once: hash every file, check ``SHA256SUMS``, label it, parse ``configs``.

    The files of ``configs`` are read into memory, hashed and parsed from those bytes; the other files are hashed
    as they are read. Every call reads the files afresh.

    Raises:
        DataError: a file does not match ``SHA256SUMS`` (or is listed there but missing), a config is not in the
            README, or a parquet file of ``configs`` is unreadable or lacks the columns of its kind.
    """
    folder = Path(folder).resolve()
    files = _mirror_files(folder)
    rels = {p.relative_to(folder).as_posix(): p for p in files}
    readme = (folder / _README).read_bytes() if _README in rels else None
    listed = _parse_configs(folder, readme.decode("utf-8")) if readme is not None else {}
    unknown = [c for c in configs if c not in listed]
    if unknown:
        raise DataError(f"no config(s) {unknown} in the README's `configs:` (it lists {len(listed)})", file=folder)
    keep = {rel for config in configs for paths in listed[config].values() for rel in paths}
    outside = sorted(keep - set(rels))
    if outside:
        raise DataError("read by a config but not part of the mirror's files (hidden or outside the folder)",
                        file=folder / outside[0])
    blobs: dict[str, bytes] = {}
    hashes: dict[str, str] = {}
    for rel, path in rels.items():
        if rel in keep or rel == _README:
            blob = readme if rel == _README and readme is not None else path.read_bytes()
            hashes[rel] = hashlib.sha256(blob).hexdigest()
            if rel in keep:
                blobs[rel] = blob
        else:
            with open(path, "rb") as handle:
                hashes[rel] = hashlib.file_digest(handle, "sha256").hexdigest()
    _check_sums(folder, hashes)
    data = {(config, split): _parse_parquet(folder, config, split, paths, blobs, hashes)
            for config in dict.fromkeys(configs) for split, paths in listed[config].items()}
    return MirrorSnapshot(folder=folder, revision=_label(folder, hashes), sha256=MappingProxyType(hashes),
                          configs=MappingProxyType({c: MappingProxyType(s) for c, s in listed.items()}),
                          _data=MappingProxyType(data))


def mirror_revision(folder: str | os.PathLike[str]) -> str:
    """The dataset revision recorded for a mirror run: ``mirror:<folder name>@<12 hex>`` of its files' bytes,
    read now (see :func:`read_mirror`).

    Raises:
        DataError: a file does not match the folder's ``SHA256SUMS`` (or is listed there but missing).
    """
    return read_mirror(folder).revision
