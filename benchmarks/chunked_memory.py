"""Peak memory of chunked scoring at 1× and 8× corpus size: flat, because only one chunk is held at a time.

Synthetic embeddings (a seeded normal, 384 dims like me5-small) are written to ``.npy`` files chunk by chunk and
memory-mapped, as the persistent embedding cache stores them; :func:`hybrid_bench.tasks.scoring.rank_pool` then
ranks every query's relevant documents over the whole pool and keeps its top 10. The peak of heap allocations
(``tracemalloc``, which numpy reports to) is measured in a fresh process per size, for the chunked path and for the
in-memory path (whole pool as one chunk) for contrast.

Examples:
  python benchmarks/chunked_memory.py                          # 50,000 and 400,000 passages, 200 queries
  python benchmarks/chunked_memory.py --docs 20000 --chunk 4096
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIM = 384


def _measure(folder: str, n_docs: int, n_queries: int, chunk: int | None) -> dict[str, float]:
    import tracemalloc

    import numpy as np

    from hybrid_bench.tasks.scoring import Pool, rank_pool

    rng = np.random.default_rng(0)
    path = Path(folder) / f"pool-{n_docs}.npy"
    if not path.exists():
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_docs, DIM))
        for start in range(0, n_docs, 50_000):
            out[start : start + 50_000] = rng.normal(size=(min(50_000, n_docs - start), DIM))
        out.flush()
        del out
    pool = Pool([np.load(path, mmap_mode="r", allow_pickle=False)])
    queries = rng.normal(size=(n_queries, DIM)).astype(np.float32)
    relevant = [sorted(rng.choice(n_docs, size=3, replace=False).tolist()) for _ in range(n_queries)]
    tracemalloc.start()
    start = time.perf_counter()
    ranking = rank_pool(queries, pool, relevant, top_k=10, chunk_size=chunk or n_docs)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    return {"peak_mb": peak / 2**20, "seconds": seconds, "mean_rank": float(ranking.ranks[:, 0].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=50_000, help="1× corpus size (default 50,000)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=8192, help="pool rows per chunk (default 8192)")
    parser.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        folder, n_docs, n_queries, chunk = args._child
        print(json.dumps(_measure(folder, int(n_docs), int(n_queries), int(chunk) or None)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for scale in (1, 8):
            for label, chunk in (("chunked", args.chunk), ("in-memory", 0)):
                n = args.docs * scale
                cmd = [sys.executable, __file__, "--_child", tmp, str(n), str(args.queries), str(chunk)]
                rows[(scale, label)] = json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                                                 check=True).stdout)
                r = rows[(scale, label)]
                print(f"{scale}x corpus ({n:>9,} passages), {label:<9}: peak {r['peak_mb']:8.1f} MB, "
                      f"{r['seconds']:6.1f} s")
        ratio = rows[(8, "chunked")]["peak_mb"] / rows[(1, "chunked")]["peak_mb"]
        print(f"chunked peak memory 8x / 1x: {ratio:.2f}   (flat = about 1; in-memory: "
              f"{rows[(8, 'in-memory')]['peak_mb'] / rows[(1, 'in-memory')]['peak_mb']:.2f})")


if __name__ == "__main__":
    main()
