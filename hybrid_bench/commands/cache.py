"""``hybrid-bench cache``: what the persistent embedding cache holds, and clearing it.

The cache (:mod:`hybrid_bench.tasks.embedding_store`) lives in ``$HYBRID_BENCH_HOME/cache/embeddings``, one folder
per model revision, inference setting, input length and prompts. Evaluations fill it and reuse it across
processes; clearing only costs re-encoding.
"""

from __future__ import annotations

import argparse
import shutil
from typing import Any

EPILOG = """examples:
  hybrid-bench cache info                 # size and stored texts per model
  hybrid-bench cache clear me5-small      # every cached embedding of hybrid-bench/me5-small (all revisions)
  hybrid-bench cache clear                # everything
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:  # noqa: ANN401
    p = subparsers.add_parser(name, help=help, description=__doc__, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("info", help="size and number of stored texts per model").set_defaults(func=info)
    clear = sub.add_parser("clear", help="delete the cached embeddings of one model (short or full name) or of all")
    clear.add_argument("model", nargs="?", default=None, help="e.g. me5-small or hybrid-bench/me5-small")
    clear.set_defaults(func=clear_cache)


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def info(args: argparse.Namespace) -> int:
    from hybrid_bench.tasks.embedding_store import cache_root, folders

    rows = list(folders())
    print(f"embedding cache: {cache_root()} ({_mb(sum(r[3] for r in rows))})")
    for _, key, texts, size in rows:
        print(f"  {key.get('model')}@{key.get('revision')} max_seq_length={key.get('max_seq_length')}: "
              f"{texts:,} texts, {_mb(size)}")
    if not rows:
        print("  (empty)")
    return 0


def clear_cache(args: argparse.Namespace) -> int:
    from hybrid_bench.models.registry import MODEL_ORG
    from hybrid_bench.tasks.embedding_store import folders

    wanted = None if args.model is None else {args.model, f"{MODEL_ORG}/{args.model}"}
    removed = 0
    for folder, key, _, size in folders():
        if wanted is None or key.get("model") in wanted:
            shutil.rmtree(folder)
            removed += size
            print(f"removed {key.get('model')}@{key.get('revision')} ({_mb(size)})")
    if not removed and args.model is not None:
        print(f"nothing cached for {args.model!r} (see `hybrid-bench cache info`)")
    return 0
