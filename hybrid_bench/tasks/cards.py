"""The statistics tables of the task cards (``tasks/*.md``), generated from the committed descriptive statistics.

A card holds one block per table, between ``<!-- descriptive-stats: TASK KIND -->`` and
``<!-- /descriptive-stats -->``; :func:`render_cards` regenerates every block from
``hybrid_bench/descriptive_stats/Retrieval/TASK.json`` (:mod:`hybrid_bench.tasks.descriptive_stats`), so no count in
a card is typed by hand. ``KIND`` is ``lareqa`` (per language: questions, candidates, pool relevance), ``miracl``
(per language: passages, queries) or ``pools`` (per cross-lingual subset).

Command line::

    # recompute every task's statistics (MIRACL through the local mirror), then refresh the cards
    HYBRID_BENCH_MIRRORS="mteb/MIRACLRetrieval=../shared/data/miracl-lite" \\
        python -m hybrid_bench.tasks.cards --compute tasks
    python -m hybrid_bench.tasks.cards tasks            # the cards only, from the committed files
    python -m hybrid_bench.tasks.cards --check tasks    # exit status 1 if a card is out of date
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mteb.abstasks import AbsTask

from hybrid_bench.io import atomic_write_text
from hybrid_bench.tasks.descriptive_stats import compute, load, sources, write

__all__ = ["RENDERERS", "hybrid_tasks", "main", "render_card", "render_cards"]

_SUBSETS = "hf_subset_descriptive_stats"

_MARKER = re.compile(r"<!-- descriptive-stats: (\S+) (\S+) -->\n.*?<!-- /descriptive-stats -->", re.S)


def _n(x: float) -> str:
    """A count."""
    return f"{x:,.0f}"


def _mean(x: float) -> str:
    return f"{x:,.1f}"


def _span(lo: float, hi: float) -> str:
    return _n(lo) if lo == hi else f"{_n(lo)}–{_n(hi)}"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _lareqa_table(stats: Mapping[str, Any]) -> str:
    """Per query language: its mono setting's questions and candidates, and its pool setting's relevance."""
    (split,) = stats.values()
    subsets = split[_SUBSETS]
    langs = [s.split("-")[0] for s in subsets if s.endswith("-pool")]
    rows = []
    for lang in langs:
        mono, pool = subsets[f"{lang}-{lang}"], subsets[f"{lang}-pool"]
        rel = pool["relevant_docs_statistics"]
        rows.append([
            f"`{lang}`", _n(mono["num_queries"]), _n(mono["num_documents"]),
            _mean(mono["queries_text_statistics"]["average_text_length"]),
            _mean(mono["documents_text_statistics"]["average_text_length"]),
            _n(pool["num_documents"]),
            f"{_span(rel['min_relevant_docs_per_query'], rel['max_relevant_docs_per_query'])} "
            f"(mean {rel['average_relevant_docs_per_query']:.2f})",
        ])
    header = ["language", "questions", "candidates", "question chars (mean)", "candidate chars (mean)",
              "pool candidates", "relevant per question in the pool"]
    total = (f"All settings together ({len(subsets)}): {_n(split['num_queries'])} queries over "
             f"{_n(split['num_documents'])} candidate rows (a candidate counts once per setting it is in).")
    return _table(header, rows) + "\n\n" + total


def _miracl_table(stats: Mapping[str, Any]) -> str:
    """Per language (a subset of the stock task): passages, queries with judgments, relevant passages."""
    (split,) = stats.values()
    subsets = split[_SUBSETS]
    header = ["language", "passages", "queries", "relevant per query (mean)", "query chars (mean)",
              "passage chars (mean)"]
    rows = [[
        f"`{lang}`", _n(s["num_documents"]), _n(s["num_queries"]),
        f"{s['relevant_docs_statistics']['average_relevant_docs_per_query']:.2f}",
        _mean(s["queries_text_statistics"]["average_text_length"]),
        _mean(s["documents_text_statistics"]["average_text_length"]),
    ] for lang, s in subsets.items()]
    total = (f"In all: {_n(split['num_documents'])} passages and {_n(split['num_queries'])} queries in "
             f"{len(subsets)} languages.")
    return _table(header, rows) + "\n\n" + total


def _pool_table(stats: Mapping[str, Any]) -> str:
    """Per cross-lingual subset: pool size and queries."""
    (split,) = stats.values()
    header = ["subset", "queries", "pool passages", "relevant per query (mean)"]
    rows = [[f"`{name}`", _n(s["num_queries"]), _n(s["num_documents"]),
             f"{s['relevant_docs_statistics']['average_relevant_docs_per_query']:.2f}"]
            for name, s in split[_SUBSETS].items()]
    return _table(header, rows)


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "lareqa": _lareqa_table, "miracl": _miracl_table, "pools": _pool_table,
}


def render_card(text: str, load_stats: Callable[[str], Mapping[str, Any]] = load) -> str:
    """``text`` (a task card) with every statistics block regenerated from the committed files."""

    def block(match: re.Match[str]) -> str:
        task, kind = match.group(1), match.group(2)
        if kind not in RENDERERS:
            raise ValueError(f"unknown statistics table kind {kind!r} (known: {sorted(RENDERERS)})")
        revision = sources().get(task, "?")
        body = RENDERERS[kind](load_stats(task))
        return (f"<!-- descriptive-stats: {task} {kind} -->\n{body}\n\n"
                f"*Generated from `hybrid_bench/descriptive_stats/Retrieval/{task}.json` (mteb descriptive "
                f"statistics; data revision `{revision}`) by `python -m hybrid_bench.tasks.cards tasks`.*\n<!-- /descriptive-stats -->")

    return _MARKER.sub(block, text)


def render_cards(folder: str | Path, *, check: bool = False) -> list[Path]:
    """Regenerate the statistics tables of every card in ``folder``; returns the cards that changed (with
    ``check``, nothing is written: the list says which cards are out of date)."""
    changed = []
    for card in sorted(Path(folder).glob("*.md")):
        old = card.read_text(encoding="utf-8")
        new = render_card(old)
        if new != old:
            changed.append(card)
            if not check:
                atomic_write_text(card, new, overwrite=True)
    return changed


def hybrid_tasks(names: Iterable[str] | None = None) -> list[AbsTask]:
    """One instance of every hybrid-bench task (or of ``names``), restricted to the subsets its source holds."""
    from hybrid_bench.data.miracl import MIRACL_REPO, available_languages
    from hybrid_bench.data.mirrors import apply_mirrors_to_task
    from hybrid_bench.tasks import ALL_TASKS

    tasks = []
    wanted = set(names) if names is not None else None
    for cls in ALL_TASKS:
        if wanted is not None and cls.metadata.name not in wanted:
            continue
        task = cls()
        if cls.metadata.dataset["path"] == MIRACL_REPO:  # the hub or a mirror that may lack languages
            apply_mirrors_to_task(task, check_subsets=False)
            held = available_languages(task.metadata.dataset["path"], revision=task.metadata.revision)
            task = task.filter_languages(None, hf_subsets=[s for s in task.metadata.eval_langs if s.split("-")[0] in held])
        tasks.append(task)
    return tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hybrid_bench.tasks.cards",
        description="Regenerate the statistics tables of hybrid-bench's task cards (and, with --compute, the "
                    "mteb descriptive statistics they are made from).",
        epilog="examples:" + __doc__.split("Command line::", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("cards", type=Path, help="the folder of the task cards (tasks/)")
    parser.add_argument("--compute", action="store_true", help="first recompute and rewrite the statistics files")
    parser.add_argument("--tasks", nargs="+", default=None, help="with --compute: only these tasks")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a card is out of date")
    args = parser.parse_args(argv)
    if not args.cards.is_dir():
        parser.error(f"{args.cards}: not a folder of task cards")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.compute:
        for task in hybrid_tasks(args.tasks):
            stats, revision = compute(task)
            print(f"{task.metadata.name}: {write(task, stats, revision)} ({revision})")
    changed = render_cards(args.cards, check=args.check)
    for card in changed:
        print(f"{'out of date' if args.check else 'updated'}: {card}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
