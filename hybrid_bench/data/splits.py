"""A fixed article-level train / held-out split of XQuAD-R, for fine-tuning on LAReQA data without leakage.

XQuAD-R has 48 articles (SQuAD v1.1 dev titles, identical in all 11 parallel language files). Splitting by
article - not by question - keeps every paragraph, with all its sentences and the 11 translations of each of its
questions, on one side.

The rule (:func:`xquad_r_article_split`, pinned by ``tests/test_splits.py``):

1. Articles that share any text - a question, a paragraph or a sentence, in any language - are one unit, so that
   no held-out text can appear in training. In the pinned data only boilerplate is shared:
   ``"citation needed]"`` / ``"[بحاجة لمصدر]"`` / ``"需要引证]"`` link Huguenot, Private_school and
   Steam_engine; the sentence ``"I."`` links Islamism and Rhine. The test re-derives these groups from the data.
2. Units are ordered by ``sha256(f"{seed}:{title}")`` of their alphabetically first title (a rule that no
   library or Python version can change), with ``seed = 2408``.
3. Walking that order, a unit goes to ``train`` while it fits in ``len(articles) // 2 = 24`` articles; every other
   unit is held out. Result: 24 training articles (608 questions per language) and 24 held-out articles
   (582 questions per language); both linked groups are held out.

Example::

    from hybrid_bench.data.splits import load_xquad_r_heldout, load_xquad_r_train, xquad_r_article_split

    split = xquad_r_article_split()
    len(split.train), len(split.heldout)  # (24, 24)
    train = load_xquad_r_train(["en", "de"], data_dir="../shared/data")
    heldout = load_xquad_r_heldout(data_dir="../shared/data")
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from hybrid_bench.data.lareqa import LAReQAData, load_lareqa

__all__ = [
    "SPLIT_SEED",
    "XQUAD_R_ARTICLES",
    "XQUAD_R_LINKED_ARTICLES",
    "ArticleSplit",
    "load_xquad_r_heldout",
    "load_xquad_r_train",
    "xquad_r_article_split",
]

SPLIT_SEED = 2408

#: The 48 article keys of XQuAD-R (its SQuAD titles), fixed by the pinned upstream files.
XQUAD_R_ARTICLES: tuple[str, ...] = (
    "1973_oil_crisis", "Amazon_rainforest", "American_Broadcasting_Company", "Apollo_program", "Black_Death",
    "Chloroplast", "Civil_disobedience", "Computational_complexity_theory", "Construction", "Ctenophora",
    "Doctor_Who", "Economic_inequality", "European_Union_law", "Force", "French_and_Indian_War",
    "Fresno,_California", "Genghis_Khan", "Geology", "Harvard_University", "Huguenot", "Immune_system",
    "Imperialism", "Intergovernmental_Panel_on_Climate_Change", "Islamism", "Jacksonville,_Florida", "Kenya",
    "Martin_Luther", "Newcastle_upon_Tyne", "Nikola_Tesla", "Normans", "Oxygen", "Packet_switching", "Pharmacy",
    "Prime_number", "Private_school", "Rhine", "Scottish_Parliament", "Sky_(United_Kingdom)",
    "Southern_California", "Steam_engine", "Super_Bowl_50", "Teacher", "United_Methodist_Church",
    "University_of_Chicago", "Victoria_(Australia)", "Victoria_and_Albert_Museum", "Warsaw", "Yuan_dynasty",
)  # fmt: skip

#: Articles that share some text in some language and therefore must land on the same side.
XQUAD_R_LINKED_ARTICLES: tuple[tuple[str, ...], ...] = (
    ("Huguenot", "Private_school", "Steam_engine"),
    ("Islamism", "Rhine"),
)


@dataclass(frozen=True)
class ArticleSplit:
    """Disjoint sets of article keys (see :meth:`hybrid_bench.data.lareqa.LAReQAData.articles`)."""

    train: frozenset[str]
    heldout: frozenset[str]
    seed: int


def _units(articles: Sequence[str], linked: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    grouped = {title for group in linked for title in group}
    units = [tuple(sorted(group)) for group in linked]
    units += [(title,) for title in sorted(articles) if title not in grouped]
    return units


def xquad_r_article_split(seed: int = SPLIT_SEED) -> ArticleSplit:
    """The deterministic article split of XQuAD-R described in the module docstring (24 train, 24 held out).

    Args:
        seed: Only for experiments with other splits; the default is the documented one.
    """
    units = _units(XQUAD_R_ARTICLES, XQUAD_R_LINKED_ARTICLES)
    units.sort(key=lambda unit: hashlib.sha256(f"{seed}:{unit[0]}".encode()).hexdigest())
    n_train = len(XQUAD_R_ARTICLES) // 2
    train: list[str] = []
    for unit in units:
        if len(train) + len(unit) <= n_train:
            train.extend(unit)
    return ArticleSplit(
        train=frozenset(train), heldout=frozenset(XQUAD_R_ARTICLES) - frozenset(train), seed=seed
    )


def load_xquad_r_train(
    langs: Sequence[str] | None = None, *, data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None, allow_modified: bool = False,
) -> LAReQAData:
    """XQuAD-R restricted to the training articles of :func:`xquad_r_article_split` (all languages by default)."""
    return load_lareqa(
        "xquad-r", langs, data_dir=data_dir, articles=xquad_r_article_split().train, download=download,
        allow_modified=allow_modified,
    )


def load_xquad_r_heldout(
    langs: Sequence[str] | None = None, *, data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None, allow_modified: bool = False,
) -> LAReQAData:
    """XQuAD-R restricted to the held-out articles of :func:`xquad_r_article_split` (all languages by default)."""
    return load_lareqa(
        "xquad-r", langs, data_dir=data_dir, articles=xquad_r_article_split().heldout, download=download,
        allow_modified=allow_modified,
    )
