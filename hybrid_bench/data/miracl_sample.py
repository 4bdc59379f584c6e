"""A smaller, seeded copy of a MIRACL mirror (``mteb/MIRACLRetrieval`` layout) for quick, bounded evaluations.

Per language: a seeded sample of queries, every passage judged for them (relevant and judged non-relevant), and a
seeded sample of other passages up to a budget. The copy is itself a mirror (README ``configs:``, parquet files,
``SHA256SUMS``), so mteb's stock ``MIRACLRetrieval`` loads it through :mod:`hybrid_bench.data.mirrors`, and its
mirror revision differs from the source's: sampled results are never confused with full ones.

Example::

    from hybrid_bench.data.miracl_sample import sample_miracl_mirror

    small = sample_miracl_mirror(Path("../shared/data/miracl-lite"), Path("/tmp/miracl-small"),
                                 queries=6, docs=20, seed=42)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_path

__all__ = ["SAMPLE_STAMP", "sample_miracl_mirror"]

#: written into a sampled copy: the settings it was made with (an existing copy is reused only for equal ones)
SAMPLE_STAMP = "hybrid_bench_sample.json"
_KINDS = ("corpus", "queries", "qrels")


def _configs_yaml(langs: Sequence[str]) -> str:
    lines = ["---", "configs:"]
    for lang in langs:
        for kind in _KINDS:
            lines += [f"- config_name: {lang}-{kind}", "  data_files:", "  - split: dev",
                      f"    path: {lang}-{kind}/dev-*"]
    return "\n".join([*lines, "---", ""])


def sample_miracl_mirror(source: Path, target: Path, *, queries: int | None, docs: int | None, seed: int) -> Path:
    """Write a smaller copy of a MIRACL mirror to ``target``; returns ``target``.

    Args:
        source: a mirror folder (``<lang>-corpus``, ``<lang>-queries``, ``<lang>-qrels`` of parquet files).
        target: the copy's folder, written atomically; an existing copy with the same settings is reused.
        queries: queries per language (``None``: all).
        docs: passages per language (``None``: all); judged passages always stay, even beyond the budget.
        seed: seed of both samples (:func:`hybrid_bench.data.lareqa.stable_order`).

    Raises:
        DataError: ``source`` holds no ``<lang>-corpus`` folder.
    """
    import pandas as pd

    from hybrid_bench.data.lareqa import stable_order

    settings = {"source": str(source.resolve()), "queries": queries, "docs": docs, "seed": seed}
    stamp = target / SAMPLE_STAMP
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == settings:
        return target
    langs = sorted(p.name.removesuffix("-corpus") for p in source.glob("*-corpus") if p.is_dir())
    if not langs:
        raise DataError("not a MIRACL mirror: no <lang>-corpus folders", file=source)
    with atomic_path(target, overwrite=True) as tmp:
        sums = []
        for lang in langs:
            read = {kind: pd.concat([pd.read_parquet(f) for f in sorted((source / f"{lang}-{kind}").glob("*.parquet"))],
                                    ignore_index=True) for kind in _KINDS}
            qids = read["queries"]["_id"].astype(str).tolist()
            kept = set(stable_order(qids, seed)[:queries] if queries else qids)
            q = read["queries"][read["queries"]["_id"].astype(str).isin(kept)]
            rels = read["qrels"][read["qrels"]["query-id"].astype(str).isin(kept)]
            judged = set(rels["corpus-id"].astype(str))
            ids = read["corpus"]["_id"].astype(str)
            others = stable_order([d for d in ids if d not in judged], seed)
            extra = set(others[: max(0, (docs or len(ids)) - len(judged))])
            corpus = read["corpus"][ids.isin(judged | extra)]
            for kind, frame in (("corpus", corpus), ("queries", q), ("qrels", rels)):
                out = tmp / f"{lang}-{kind}" / "dev-00000-of-00001.parquet"
                out.parent.mkdir(parents=True)
                frame.to_parquet(out, index=False)
                sums.append(f"{hashlib.sha256(out.read_bytes()).hexdigest()}  {out.relative_to(tmp).as_posix()}")
        (tmp / "README.md").write_text(
            _configs_yaml(langs) + f"\n# sampled MIRACL mirror\n\nWritten by `hybrid-bench reproduce` from {source}: "
            f"{json.dumps(settings)}. Not comparable with official MIRACL numbers.\n", encoding="utf-8")
        (tmp / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
        (tmp / stamp.name).write_text(json.dumps(settings) + "\n", encoding="utf-8")
    return target
