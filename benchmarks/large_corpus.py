"""Large corpora: sharded encoding scores as one process does, and search time and peak memory up to 1M passages.

**Part 1, same scores** (skip with ``--search-only``): a tiny random model (``tests/tiny_model.py``) encodes the
MIRACL mirror's ``--languages`` corpora (miracl-lite ``swa yor``: 4,302 passages) with ``hybrid-bench encode``,
once as one process and once as two torchrun processes (gloo: each rank its contiguous half, rank 0 checks the
merge), each into its own empty embedding cache; ``hybrid-bench eval -t MIRACLRetrieval`` then scores each from its
cache. Printed: each encode's wall time, the nDCG@10 of both per language and their largest difference (target:
below 1e-6 - the same model on the same texts; the order of the rows in a batch is the only difference).

**Part 2, search**: synthetic embeddings (a seeded normal, ``--dim`` 384 as me5-small) are written to a
memory-mapped ``.npy`` file per ``--sizes`` (as the cache stores them), and in a fresh process per size
:func:`hybrid_bench.tasks.scoring.rank_pool` ranks the 3 relevant passages of each of ``--queries`` queries over the
whole corpus and keeps every query's top 10 - what hybrid-bench's MIRACL tasks do, with their default chunking.
Measured: seconds; ``heap`` = the peak of ``tracemalloc`` (Python and numpy allocations: what the search itself
holds); ``anon`` = the peak growth of anonymous resident memory (``RssAnon`` of ``/proc/self/status``, sampled every
5 ms). The maximum RSS of ``resource.getrusage`` is not used: it also counts whatever pages of the memory-mapped
embeddings are resident, page cache that the kernel may drop, and so reads anywhere between 0 and the file's size.
Target: ``heap`` and ``anon`` flat across sizes from one chunk up (:data:`~hybrid_bench.tasks.scoring.CHUNK_CELLS`:
21,845 rows of 384 dims), time linear in the corpus size. (Stock mteb tasks search through mteb's own
chunked search, 50,000 passages and a ``torch.topk`` per chunk, with the same encoded-once cache behind it.)

Examples:
  python benchmarks/large_corpus.py                               # both parts; 50k, 200k and 1M passages
  python benchmarks/large_corpus.py --search-only --sizes 100000 2000000 --dim 768
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]


def _rss_anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def _search(path: str, n_queries: int) -> dict[str, float]:
    """One size, in this (fresh) process: time, heap peak and anonymous-memory peak of ``rank_pool``."""
    import tracemalloc

    import numpy as np

    from hybrid_bench.tasks.scoring import Pool, rank_pool

    pool = np.load(path, mmap_mode="r", allow_pickle=False)
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((n_queries, pool.shape[1]), dtype=np.float32)
    relevant = [sorted(rng.choice(len(pool), size=3, replace=False).tolist()) for _ in range(n_queries)]
    base, peak, running = _rss_anon_kb(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], _rss_anon_kb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    start = time.perf_counter()
    ranking = rank_pool(queries, Pool([pool]), relevant, top_k=10)
    seconds = time.perf_counter() - start
    running[0] = False
    sampler.join()
    _, heap = tracemalloc.get_traced_memory()
    return {"seconds": seconds, "heap_mb": heap / 2**20, "anon_mb": max(0, peak[0] - base) / 1024,
            "median_rank": float(np.median(ranking.ranks[:, 0]))}


def _write_pool(path: Path, n: int, dim: int) -> float:
    import numpy as np

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    for lo in range(0, n, 1 << 16):
        out[lo : lo + (1 << 16)] = rng.standard_normal((min(1 << 16, n - lo), dim), dtype=np.float32)
    out.flush()
    del out
    return time.perf_counter() - start


def search_part(sizes: list[int], dim: int, n_queries: int, tmp: Path) -> list[dict[str, float]]:
    rows = []
    for n in sizes:
        path = tmp / f"pool-{n}.npy"
        written = _write_pool(path, n, dim)
        proc = subprocess.run([sys.executable, __file__, "--_search", str(path), str(n_queries)],
                              capture_output=True, text=True, check=True)
        row = {"passages": n, **json.loads(proc.stdout), "write_s": written}
        path.unlink()
        rows.append(row)
        print(f"search {n:>10,} passages × {dim} dims, {n_queries} queries: {row['seconds']:6.1f} s, heap peak "
              f"{row['heap_mb']:6.1f} MB, anon peak +{row['anon_mb']:6.1f} MB (embeddings file "
              f"{n * dim * 4 / 2**20:,.0f} MB, written in {written:.1f} s)", flush=True)
    first, last = rows[0], rows[-1]
    print(f"search: {last['passages'] / first['passages']:.0f}x the passages -> heap peak "
          f"{last['heap_mb'] / first['heap_mb']:.2f}x, anon peak {last['anon_mb'] / max(first['anon_mb'], 1e-9):.2f}x, "
          f"time {last['seconds'] / first['seconds']:.1f}x")
    return rows


def _cli(args: list[str], env: dict[str, str]) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hybrid_bench.cli", *args], env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"hybrid-bench {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout, time.perf_counter() - start


def scores_part(languages: list[str], tmp: Path) -> dict[str, object]:
    from gpu_check import ndcg, parse_figures, torchrun_encode
    from tiny_model import build_tiny_model

    build_tiny_model(tmp / "tiny")
    data = Path(os.environ.get("HYBRID_BENCH_DATA", ROOT.parent / "shared" / "data"))
    base = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false", "HYBRID_BENCH_MIRRORS": f"mteb/MIRACLRetrieval={data / 'miracl-lite'}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    args = ["-m", str(tmp / "tiny" / "st"), "-t", "MIRACLRetrieval", "-l", *languages, "--backend", "torch",
            "--dtype", "float32"]
    one_env, two_env = {**base, "HYBRID_BENCH_HOME": str(tmp / "one")}, {**base, "HYBRID_BENCH_HOME": str(tmp / "two")}
    one_out, one_s = _cli(["encode", *args], one_env)
    start = time.perf_counter()
    two_out = torchrun_encode(2, args, two_env).output
    two_s = time.perf_counter() - start
    one_rate, two_rate = parse_figures(one_out)["passages/s"], parse_figures(two_out)["passages/s"]
    _cli(["eval", *args, "--output-folder", str(tmp / "res-one")], one_env)
    _cli(["eval", *args, "--output-folder", str(tmp / "res-two")], two_env)
    one, two = ndcg(tmp / "res-one"), ndcg(tmp / "res-two")
    worst = max(abs(one[k] - two[k]) for k in one)
    print(f"scores: nDCG@10 1 process {one}, 2 processes {two}; largest difference {worst:.2e}")
    print(f"encode: 1 process {one_rate:,.0f} passages/s, 2 processes {two_rate:,.0f} passages/s together; wall "
          f"time with process start and data loading: {one_s:.1f} s and {two_s:.1f} s")
    if one.keys() != two.keys() or worst > 1e-6:
        raise SystemExit("scores of the sharded encoding differ from one process")
    return {"one": one, "two": two, "max_difference": worst, "encode_one_s": one_s, "encode_two_s": two_s,
            "one_rate": one_rate, "two_rate": two_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--languages", nargs="+", default=["swa", "yor"])
    parser.add_argument("--search-only", action="store_true", help="skip part 1 (the sharded encoding's scores)")
    parser.add_argument("--_search", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._search:
        print(json.dumps(_search(args._search[0], int(args._search[1]))))
        return
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="large-corpus-") as tmp:
        if not args.search_only:
            scores_part(args.languages, Path(tmp))
        search_part(args.sizes, args.dim, args.queries, Path(tmp))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
