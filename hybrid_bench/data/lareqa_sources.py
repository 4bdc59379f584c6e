"""Where the LAReQA files come from: the languages of XQuAD-R and MLQA-R, their pinned upstream files, the revision.

Every file is pinned by URL and sha256 in ``lareqa_sources.json`` (the upstream commit of
`google-research-datasets/lareqa <https://github.com/google-research-datasets/lareqa>`_); :func:`lareqa_file`
resolves one through :func:`hybrid_bench.data.sources.fetch` (a local copy under ``data_dir``, the user cache, or a
verified download) and :func:`lareqa_revision` names what was found. Reading the files into questions, candidates and
relevance is :mod:`hybrid_bench.data.lareqa`.

Example::

    from hybrid_bench.data.lareqa_sources import lareqa_file, lareqa_revision

    path = lareqa_file("mlqa-r", "de", data_dir="../shared/data")  # ../shared/data/lareqa/mlqa-r/de.json
    lareqa_revision("xquad-r", data_dir="../shared/data")  # the pinned commit when every file matches
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from hybrid_bench.data.sources import RemoteFile, data_revision, fetch
from hybrid_bench.errors import DataError

XQUAD_R_LANGS: tuple[str, ...] = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_R_LANGS: tuple[str, ...] = ("ar", "de", "en", "es", "hi", "vi", "zh")
DATASET_LANGS: dict[str, tuple[str, ...]] = {"xquad-r": XQUAD_R_LANGS, "mlqa-r": MLQA_R_LANGS}
#: ISO 639-1 code of every LAReQA language (the data's file names) → mteb's ISO 639-3 language-script code
LANGSCRIPTS: dict[str, str] = {
    "ar": "ara-Arab", "de": "deu-Latn", "el": "ell-Grek", "en": "eng-Latn", "es": "spa-Latn", "hi": "hin-Deva",
    "ru": "rus-Cyrl", "th": "tha-Thai", "tr": "tur-Latn", "vi": "vie-Latn", "zh": "zho-Hans",
}  # fmt: skip

#: the language read with every other: its article titles are the language-independent article keys
PIVOT = "en"


@functools.cache
def _registry() -> dict[str, Any]:
    text = resources.files("hybrid_bench.data").joinpath("lareqa_sources.json").read_text(encoding="utf-8")
    return json.loads(text)["datasets"]


def check_name(name: str) -> str:
    """``name`` normalised (``"XQuAD-R"`` → ``"xquad-r"``); an unknown data set is a :class:`DataError`."""
    key = str(name).strip().lower()
    if key not in DATASET_LANGS:
        raise DataError(f"unknown LAReQA data set {name!r}; valid names are {sorted(DATASET_LANGS)}")
    return key


def check_lang(name: str, lang: str) -> str:
    """``lang`` if data set ``name`` has it, else a :class:`DataError` listing the valid ones."""
    if lang not in DATASET_LANGS[name]:
        raise DataError(f"{name} has no language {lang!r}; valid languages are {', '.join(DATASET_LANGS[name])}")
    return lang


def lareqa_source(name: str, lang: str) -> RemoteFile:
    """The pinned upstream file (URL and sha256) of one language of ``name``."""
    name = check_name(name)
    lang = check_lang(name, lang)
    entry = _registry()[name]["files"][lang]
    return RemoteFile(relpath=f"lareqa/{name}/{lang}.json", url=entry["url"], sha256=entry["sha256"])


def lareqa_file(
    name: str, lang: str, *, data_dir: str | os.PathLike[str] | None = None, download: bool | None = None,
    allow_modified: bool = False,
) -> Path:
    """Resolve one raw upstream JSON file: local copy, cache, or verified download (see :mod:`.sources`).

    Example::

        path = lareqa_file("mlqa-r", "de", data_dir="../shared/data")  # ../shared/data/lareqa/mlqa-r/de.json
    """
    return fetch(lareqa_source(name, lang), data_dir=data_dir, download=download, allow_modified=allow_modified)


def needed_langs(name: str, langs: Sequence[str]) -> tuple[str, ...]:
    """The files read to load ``langs``: those and the pivot language, which gives every article its key
    (:mod:`hybrid_bench.data.lareqa`)."""
    return tuple(dict.fromkeys([*langs, PIVOT]))


def lareqa_revision(
    name: str, langs: Sequence[str] | None = None, *, data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None, allow_modified: bool = False,
) -> str:
    """The dataset revision of ``name`` over ``langs`` as found locally: the pinned upstream commit when every file
    matches its pinned sha256, else ``modified:<hash of the files>`` (only with ``allow_modified``; see
    :func:`hybrid_bench.data.sources.data_revision`). Tasks record it as mteb's ``dataset_revision``.

    Example::

        lareqa_revision("xquad-r", data_dir="../shared/data")  # '9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c'
    """
    name = check_name(name)
    langs = DATASET_LANGS[name] if langs is None else tuple(check_lang(name, lang) for lang in langs)
    files = [(lareqa_source(name, lang), lareqa_file(name, lang, data_dir=data_dir, download=download,
                                                     allow_modified=allow_modified))
             for lang in needed_langs(name, langs)]
    return data_revision(_registry()[name]["commit"], files)
