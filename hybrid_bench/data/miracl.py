"""MIRACL retrieval data in the Hugging Face layout of ``mteb/MIRACLRetrieval``: per language corpus, queries, qrels.

MIRACL (Zhang et al., TACL 2023, `arXiv:2210.09984 <https://arxiv.org/abs/2210.09984>`_) is monolingual ad-hoc
retrieval over 18 Wikipedias. mteb distributes its dev split as the dataset repo ``mteb/MIRACLRetrieval`` with three
configs per language, each with one split ``dev``:

* ``<lang>-corpus``: ``_id`` (MIRACL docid ``<article id>#<passage no>``), ``title``, ``text``;
* ``<lang>-queries``: ``_id``, ``text``;
* ``<lang>-qrels``: ``query-id``, ``corpus-id``, ``score`` (1 relevant, 0 judged non-relevant).

:func:`load_miracl` reads that layout from the hub through :func:`datasets.load_dataset` (pinned to the revision
mteb's ``MIRACLRetrieval`` uses) or from a local folder in the same layout - an air-gapped mirror such as
``../shared/data/miracl-lite`` - with :func:`hybrid_bench.data.mirror_integrity.read_mirror`: the folder is read
once, hashed and parsed from those bytes (never through the ``datasets`` cache, which keys a folder by its name),
and every :class:`MiraclLang` carries the label of the bytes read as ``revision``. With ``source=None`` a mirror
configured for ``mteb/MIRACLRetrieval`` (see :mod:`hybrid_bench.data.mirrors`, env ``HYBRID_BENCH_MIRRORS``) wins
over the hub.

It keeps mteb's conventions, so scores computed from it match mteb's stock ``MIRACLRetrieval``: ids are strings,
a missing ``title`` becomes ``""``, and the queries kept are those with at least one judgment in the qrels (a query
whose judgments are all 0 is kept; mteb scores it 0). Missing languages, configs, splits or columns raise one
:class:`~hybrid_bench.errors.DataError` that names the source and lists what is available.

Example::

    from hybrid_bench.data.miracl import load_miracl

    data = load_miracl(["sw", "yo"], source="../shared/data/miracl-lite")
    sw = data["sw"]
    print(sw.n_queries, len(sw.corpus), sw.queries[0]["text"])
    # 120 3597 Rais wa kwanza wa Gabon aliitwa nani?
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from datasets import Dataset, Value, get_dataset_config_names, get_dataset_split_names, load_dataset
from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval

from hybrid_bench.data.mirror_integrity import MirrorSnapshot, mirror_configs, read_mirror
from hybrid_bench.data.mirrors import resolve_mirror
from hybrid_bench.errors import DataError

logger = logging.getLogger(__name__)

__all__ = [
    "MIRACL_LANGSCRIPTS",
    "MIRACL_LANGS",
    "MIRACL_REPO",
    "MIRACL_REVISION",
    "MiraclLang",
    "MiraclSource",
    "available_languages",
    "load_miracl",
    "resolve_source",
]

MIRACL_REPO = "mteb/MIRACLRetrieval"
#: the dataset revision mteb's stock ``MIRACLRetrieval`` is pinned to; hub loads use the same one
MIRACL_REVISION: str = MIRACLRetrieval.metadata.dataset["revision"]
#: MIRACL language code -> mteb language-script codes, exactly as mteb's ``MIRACLRetrieval`` declares them
MIRACL_LANGSCRIPTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {lang: tuple(scripts) for lang, scripts in MIRACLRetrieval.metadata.eval_langs.items()}
)
MIRACL_LANGS: tuple[str, ...] = tuple(MIRACL_LANGSCRIPTS)

_KINDS = ("corpus", "queries", "qrels")
_REQUIRED_COLUMNS = {
    "corpus": (("_id", "id"), ("text",)),
    "queries": (("_id", "id"), ("text",)),
    "qrels": (("query-id",), ("corpus-id",), ("score",)),
}


@dataclass(frozen=True)
class MiraclSource:
    """Where MIRACL is read from.

    Attributes:
        path: A hub dataset repo id or a local folder in the same layout.
        revision: The hub revision loaded (``None`` for a local folder: ``datasets`` ignores revisions there).
        is_local: ``True`` for a local folder (a mirror).
    """

    path: str
    revision: str | None
    is_local: bool

    def __str__(self) -> str:
        return self.path if self.is_local else f"{self.path}@{self.revision or 'main'}"


@dataclass(frozen=True)
class MiraclLang:
    """One language of MIRACL's split, in mteb's retrieval layout.

    Attributes:
        lang: MIRACL language code (``"sw"``).
        corpus: Columns ``id``, ``title``, ``text`` (string ids, unique).
        queries: Columns ``id``, ``text``; only the queries that have at least one judgment in ``qrels``.
        qrels: ``{query id: {docid: score}}`` with every judgment, relevant (> 0) and judged non-relevant (0).
        revision: The dataset revision of what was read: the mirror label of the bytes read from a local folder
            (``mirror:<folder name>@<12 hex>``), the hub revision otherwise.
    """

    lang: str
    corpus: Dataset
    queries: Dataset
    qrels: Mapping[str, Mapping[str, int]]
    revision: str | None = None

    @property
    def n_queries(self) -> int:
        """Number of queries mteb scores for this language (those with at least one judgment)."""
        return len(self.queries)


def resolve_source(source: str | os.PathLike[str] | None = None, *, revision: str | None = None) -> MiraclSource:
    """Turn ``source`` into a concrete place to read from.

    Args:
        source: ``None`` → the mirror configured for ``mteb/MIRACLRetrieval`` if any, else that hub repo; an
            existing folder → that folder; a hub repo id (``owner/name``) → its mirror if one is configured,
            else the hub.
        revision: Hub revision; default is :data:`MIRACL_REVISION` for ``mteb/MIRACLRetrieval`` and ``None``
            (the default branch) for other repos. Ignored for local folders.

    Example:
        >>> resolve_source("../shared/data/miracl-lite").is_local
        True
    """
    if source is None:
        source = MIRACL_REPO
    text = os.fspath(source)
    candidate = Path(text).expanduser()
    if isinstance(source, os.PathLike) or candidate.is_dir() or _looks_like_path(text):
        if not candidate.is_dir():
            raise DataError(
                "MIRACL folder not found; pass an existing folder in the mteb/MIRACLRetrieval layout "
                "(configs <lang>-corpus, <lang>-queries, <lang>-qrels) or a hub repo id",
                file=candidate,
            )
        return MiraclSource(path=str(candidate.resolve()), revision=None, is_local=True)
    mirror = resolve_mirror(text)
    if mirror is not None:
        logger.info("MIRACL: using the local mirror %s for %s", mirror, text)
        return MiraclSource(path=str(Path(mirror).resolve()), revision=None, is_local=True)
    if revision is None and text == MIRACL_REPO:
        revision = MIRACL_REVISION
    return MiraclSource(path=text, revision=revision, is_local=False)


def _looks_like_path(text: str) -> bool:
    # "owner/name" is a hub repo id; anything with more parts, a leading ./ ~ / or a drive is meant as a path
    return (
        text.startswith((".", "/", "~", "\\"))
        or text.count("/") != 1
        or os.sep != "/" and os.sep in text
        or (len(text) > 1 and text[1] == ":")
    )


def _config_names(src: MiraclSource) -> list[str]:
    if src.is_local:
        return list(mirror_configs(src.path))
    try:
        return list(get_dataset_config_names(src.path, revision=src.revision))
    except Exception as exc:  # datasets raises many types (offline, 404, bad README); report one clear error
        hint = (
            "check that the folder holds the mteb/MIRACLRetrieval layout (a README.md with `configs:` or "
            "<config>/<split>-*.parquet folders)"
            if src.is_local
            else "the hub may be unreachable: point HYBRID_BENCH_MIRRORS at a local copy "
            "(e.g. ../shared/data/miracl-lite) or pass source=<folder>"
        )
        raise DataError(f"cannot list the dataset's configs ({type(exc).__name__}: {exc}); {hint}", file=src) from exc


def _languages_in(configs: Sequence[str]) -> list[str]:
    names = set(configs)
    return [lang for lang in MIRACL_LANGS if all(f"{lang}-{kind}" in names for kind in _KINDS)]


def available_languages(source: str | os.PathLike[str] | None = None, *, revision: str | None = None) -> list[str]:
    """MIRACL languages for which ``source`` has all three configs, in MIRACL's order.

    Example:
        >>> "th" in available_languages("../shared/data/miracl-lite")
        False
    """
    return _languages_in(_config_names(resolve_source(source, revision=revision)))


def load_miracl(
    langs: Sequence[str] | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
    split: str = "dev",
    revision: str | None = None,
) -> dict[str, MiraclLang]:
    """Load MIRACL's corpus, queries and qrels for some languages.

    Args:
        langs: MIRACL language codes (``"sw"``, ``"zh"``, ...); ``None`` = every language the source has.
        source: Hub repo id or local folder; see :func:`resolve_source` (default: mirror, else the hub).
        split: The split to read (MIRACL in mteb has only ``dev``).
        revision: Hub revision (default: the one mteb's ``MIRACLRetrieval`` pins).

    Returns:
        ``{lang: MiraclLang}`` in the order of ``langs``.

    Raises:
        DataError: an unknown language code, a language without its three configs in ``source`` (e.g. Thai in
            miracl-lite), a missing split or column, duplicate ids, or a non-integer / negative score.

    Example:
        >>> data = load_miracl(["yo"], source="../shared/data/miracl-lite")
        >>> data["yo"].n_queries, len(data["yo"].corpus)
        (17, 705)
    """
    src = resolve_source(source, revision=revision)
    configs = _config_names(src)
    available = _languages_in(configs)
    if langs is None:
        if not available:
            raise DataError(
                f"no complete MIRACL language (<lang>-corpus, -queries, -qrels) among the configs {sorted(configs)}",
                file=src,
            )
        langs = available
    unknown = [lang for lang in langs if lang not in MIRACL_LANGSCRIPTS]
    if unknown:
        raise DataError(f"unknown MIRACL language(s) {unknown}; MIRACL has {list(MIRACL_LANGS)}", file=src)
    for lang in langs:
        missing = [f"{lang}-{kind}" for kind in _KINDS if f"{lang}-{kind}" not in configs]
        if missing:
            raise DataError(
                f"no {', '.join(missing)} config(s) in this source; languages available: {available}. "
                f"Leave {lang!r} out of the languages you ask for",
                file=src,
                item=lang,
            )
    snapshot = read_mirror(src.path, [f"{lang}-{kind}" for lang in langs for kind in _KINDS]) if src.is_local else None
    out = {}
    for lang in langs:
        out[lang] = _load_language(src, snapshot, lang, split)
        logger.info(
            "MIRACL %s (%s): %d passages, %d queries", lang, src, len(out[lang].corpus), out[lang].n_queries
        )
    return out


def _load_language(src: MiraclSource, snapshot: MirrorSnapshot | None, lang: str, split: str) -> MiraclLang:
    tables = {kind: _load_config(src, snapshot, f"{lang}-{kind}", split, kind) for kind in _KINDS}
    corpus = _normalise_ids(tables["corpus"], src, f"{lang}-corpus")
    if "title" not in corpus.column_names:
        corpus = corpus.add_column("title", [""] * len(corpus))
    corpus = corpus.select_columns(["id", "title", "text"])
    queries = _normalise_ids(tables["queries"], src, f"{lang}-queries").select_columns(["id", "text"])
    qrels = _qrels_dict(tables["qrels"], src, f"{lang}-qrels")

    query_ids = queries["id"]
    keep = [i for i, qid in enumerate(query_ids) if qid in qrels]
    unknown = set(qrels) - set(query_ids)
    if unknown:
        # mteb ignores judgments of queries it has no text for; say so instead of silently dropping them
        logger.warning(
            "MIRACL %s: %d judged query id(s) have no text in %s-queries and are ignored, e.g. %s",
            lang, len(unknown), lang, sorted(unknown)[:3],
        )
    if not keep:
        raise DataError("no query has a judgment in the qrels: nothing to evaluate", file=src, item=f"{lang}-queries")
    if len(keep) < len(queries):
        queries = queries.select(keep)
    return MiraclLang(lang=lang, corpus=corpus, queries=queries, qrels=MappingProxyType(qrels),
                      revision=snapshot.revision if snapshot is not None else src.revision)


def _load_config(src: MiraclSource, snapshot: MirrorSnapshot | None, config: str, split: str, kind: str) -> Dataset:
    try:
        splits = (snapshot.splits(config) if snapshot is not None
                  else get_dataset_split_names(src.path, config_name=config, revision=src.revision))
    except Exception as exc:  # same reasoning as in _config_names
        raise DataError(f"cannot read config {config!r} ({type(exc).__name__}: {exc})", file=src) from exc
    if split not in splits:
        raise DataError(f"config {config!r} has no split {split!r}; it has {list(splits)}", file=src)
    ds = (snapshot.dataset(config, split) if snapshot is not None
          else load_dataset(src.path, config, split=split, revision=src.revision))
    missing = [" or ".join(alts) for alts in _REQUIRED_COLUMNS[kind] if not any(c in ds.column_names for c in alts)]
    if missing:
        raise DataError(
            f"config {config!r} lacks column(s) {missing}; it has {ds.column_names}. "
            f"Expected the mteb/MIRACLRetrieval layout",
            file=src,
        )
    return ds


def _normalise_ids(ds: Dataset, src: MiraclSource, config: str) -> Dataset:
    if "_id" in ds.column_names:
        ds = ds.rename_column("_id", "id")
    if ds.features["id"] != Value("string"):
        ds = ds.cast_column("id", Value("string"))
    ids = ds["id"]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise DataError("duplicate id; ids must be unique within a config", file=f"{src}/{config}", item=dup)
    return ds


def _qrels_dict(ds: Dataset, src: MiraclSource, config: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for qid, did, score in zip(ds["query-id"], ds["corpus-id"], ds["score"]):
        if score is None or int(score) != score or score < 0:
            raise DataError(
                f"score {score!r} for document {did!r} is not a non-negative integer",
                file=f"{src}/{config}",
                item=str(qid),
            )
        qrels.setdefault(str(qid), {})[str(did)] = int(score)
    return qrels
