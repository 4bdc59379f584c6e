"""Correct the scripts of an inherited language list: mteb's XLM-R entry says ``ara-Latn``, ``rus-Latn``, ``hin-Latn``.

mteb's registry entries for ``FacebookAI/xlm-roberta-base`` and ``intfloat/multilingual-e5-small``
(``mteb/models/model_implementations/facebookai.py``) tag almost every language of XLM-R's CC-100 pre-training
data ``-Latn``. A derived model's metadata inherits the list, so it would claim Arabic in Latin script. The rule
applied here, with mteb's own default-script table (``mteb/languages/iso_639_3_to_default_script.json``):

* a language listed only as ``xxx-Latn`` whose default script is another one becomes ``xxx-<default>``
  (``ara-Latn`` -> ``ara-Arab``, ``jpn-Latn`` -> ``jpn-Jpan``);
* a language listed in Latin *and* in its own script keeps both: CC-100 has romanised Bengali, Hindi, Tamil,
  Telugu and Urdu besides the native ones (``ben-Latn`` and ``ben-Beng``);
* :data:`LATIN_WRITTEN` languages stay Latin: CC-100's Kurdish is Kurmanji and its Oromo is Qubee, both written in
  Latin script, though mteb's default scripts for them are Arabic and Ethiopic.

Example:
    >>> correct_scripts(["ara-Latn", "ben-Latn", "ben-Beng", "kur-Latn", "eng-Latn"])
    ['ara-Arab', 'ben-Latn', 'ben-Beng', 'kur-Latn', 'eng-Latn']
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib.resources import files

__all__ = ["LATIN_WRITTEN", "correct_scripts"]

#: languages whose CC-100 text is Latin-script although mteb's default script for them is not
LATIN_WRITTEN = frozenset({"kur", "orm"})


@functools.cache
def _default_scripts() -> dict[str, str]:
    table = files("mteb.languages") / "iso_639_3_to_default_script.json"
    return json.loads(table.read_text(encoding="utf-8"))


def correct_scripts(languages: Sequence[str]) -> list[str]:
    """``languages`` (mteb ``xxx-Scrp`` codes) with wrongly Latin-tagged ones in their default script, order and
    duplicates removed as they come."""
    defaults = _default_scripts()
    listed: dict[str, set[str]] = {}
    for code in languages:
        lang, _, script = code.partition("-")
        listed.setdefault(lang, set()).add(script)
    out: list[str] = []
    for code in languages:
        lang, _, script = code.partition("-")
        default = defaults.get(lang)
        if script == "Latn" and listed[lang] == {"Latn"} and default not in (None, "Latn") \
                and lang not in LATIN_WRITTEN:
            code = f"{lang}-{default}"
        if code not in out:
            out.append(code)
    return out
