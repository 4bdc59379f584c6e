"""A seeded copy of a MIRACL mirror (``mteb/MIRACLRetrieval`` layout) with a stated pool per language.

Per language: a seeded sample of queries (or all), **every** passage judged for them (relevant and judged
non-relevant; never capped), and either every other passage of the language or a seeded random *fill* of
``fill`` other passages on top of the judged ones. Languages with at least ``full_min_queries`` queries keep all
their passages whatever the fill. So the pool of the experiment's fallback (issue 11: "every passage of every
language that has at least 30 queries plus a random fill of at least 1,000 passages for the others") is
``sample_miracl_mirror(..., queries=None, fill=1000, full_min_queries=30)``; the full preset uses the mirror as it
is (no copy).

The copy is itself a mirror (README ``configs:``, parquet files, ``SHA256SUMS``), so mteb's stock
``MIRACLRetrieval`` loads it through :mod:`hybrid_bench.data.mirrors`, and its mirror revision differs from the
source's: sampled results are never confused with full ones. ``pool.json`` in the copy states what each language
kept (:func:`pool_summary` prints it).

Example::

    from hybrid_bench.data.miracl_sample import pool_summary, sample_miracl_mirror

    pool = sample_miracl_mirror(Path("../shared/data/miracl-lite"), Path("/tmp/miracl-pool"),
                                queries=None, fill=1000, full_min_queries=30, seed=42)
    print(pool_summary(pool))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_path

__all__ = ["POOL_FILE", "SAMPLE_STAMP", "pool_summary", "sample_miracl_mirror"]

#: written into a sampled copy: the settings it was made with (an existing copy is reused only for equal ones)
SAMPLE_STAMP = "hybrid_bench_sample.json"
#: per-language statement of a copy's pool: queries, judged passages, random fill, passages kept, of how many
POOL_FILE = "pool.json"
_KINDS = ("corpus", "queries", "qrels")


def _configs_yaml(langs: Sequence[str]) -> str:
    lines = ["---", "configs:"]
    for lang in langs:
        for kind in _KINDS:
            lines += [f"- config_name: {lang}-{kind}", "  data_files:", "  - split: dev",
                      f"    path: {lang}-{kind}/dev-*"]
    return "\n".join([*lines, "---", ""])


def sample_miracl_mirror(source: Path, target: Path, *, queries: int | None, fill: int | None, seed: int,
                         full_min_queries: int | None = None) -> Path:
    """Write a copy of a MIRACL mirror with a stated pool per language to ``target``; returns ``target``.

    Args:
        source: a mirror folder (``<lang>-corpus``, ``<lang>-queries``, ``<lang>-qrels`` of parquet files).
        target: the copy's folder, written atomically; an existing copy with the same settings is reused.
        queries: queries per language (``None``: all).
        fill: other (unjudged) passages per language added at random to the judged ones (``None``: all of them).
        seed: seed of both samples (:func:`hybrid_bench.data.lareqa.stable_order`).
        full_min_queries: a language with at least this many (kept) queries keeps every passage.

    Raises:
        DataError: ``source`` holds no ``<lang>-corpus`` folder.
    """
    import pandas as pd

    from hybrid_bench.data.lareqa import stable_order

    settings = {"source": str(source.resolve()), "queries": queries, "fill": fill, "seed": seed,
                "full_min_queries": full_min_queries}
    stamp = target / SAMPLE_STAMP
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == settings:
        return target
    langs = sorted(p.name.removesuffix("-corpus") for p in source.glob("*-corpus") if p.is_dir())
    if not langs:
        raise DataError("not a MIRACL mirror: no <lang>-corpus folders", file=source)
    with atomic_path(target, overwrite=True) as tmp:
        sums, pool = [], {}
        for lang in langs:
            read = {kind: pd.concat([pd.read_parquet(f) for f in sorted((source / f"{lang}-{kind}").glob("*.parquet"))],
                                    ignore_index=True) for kind in _KINDS}
            qids = read["queries"]["_id"].astype(str).tolist()
            kept = set(stable_order(qids, seed)[:queries] if queries else qids)
            q = read["queries"][read["queries"]["_id"].astype(str).isin(kept)]
            rels = read["qrels"][read["qrels"]["query-id"].astype(str).isin(kept)]
            judged = set(rels["corpus-id"].astype(str))
            ids = read["corpus"]["_id"].astype(str)
            whole = fill is None or (full_min_queries is not None and len(kept) >= full_min_queries)
            others = [d for d in ids if d not in judged]
            extra = set(others if whole else stable_order(others, seed)[:fill])
            corpus = read["corpus"][ids.isin(judged | extra)]
            pool[lang] = {"queries": len(q), "judged": int(ids.isin(judged).sum()), "fill": len(extra),
                          "passages": len(corpus), "of": len(ids), "all": bool(len(corpus) == len(ids))}
            for kind, frame in (("corpus", corpus), ("queries", q), ("qrels", rels)):
                out = tmp / f"{lang}-{kind}" / "dev-00000-of-00001.parquet"
                out.parent.mkdir(parents=True)
                frame.to_parquet(out, index=False)
                sums.append(f"{hashlib.sha256(out.read_bytes()).hexdigest()}  {out.relative_to(tmp).as_posix()}")
        (tmp / "README.md").write_text(
            _configs_yaml(langs) + f"\n# sampled MIRACL mirror\n\nWritten by `hybrid-bench reproduce` from {source}: "
            f"{json.dumps(settings)}. Not comparable with official MIRACL numbers.\n\n{_summary(pool)}\n",
            encoding="utf-8")
        (tmp / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
        (tmp / POOL_FILE).write_text(json.dumps(pool, indent=1) + "\n", encoding="utf-8")
        (tmp / stamp.name).write_text(json.dumps(settings) + "\n", encoding="utf-8")
    return target


def _summary(pool: dict[str, dict[str, int]]) -> str:
    parts = [f"{lang}: all {p['of']:,}" if p["all"] else f"{lang}: {p['judged']:,} judged + {p['fill']:,} random "
             f"of {p['of']:,}" for lang, p in pool.items()]
    total = sum(p["passages"] for p in pool.values())
    of = sum(p["of"] for p in pool.values())
    queries = sum(p["queries"] for p in pool.values())
    return f"MIRACL pool: {total:,} of {of:,} passages, {queries:,} queries ({'; '.join(parts)})"


def pool_summary(folder: Path) -> str:
    """One line stating a sampled copy's pool per language (from its ``pool.json``).

    Raises:
        DataError: ``folder`` is not a copy written by :func:`sample_miracl_mirror`.
    """
    try:
        return _summary(json.loads((folder / POOL_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise DataError(f"no readable {POOL_FILE} ({err}): not a copy written by sample_miracl_mirror",
                        file=folder) from None
