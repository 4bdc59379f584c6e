"""End-to-end peak memory of encoding + scoring a MIRACL-layout corpus at 1× and 8× size: flat with the store on.

A synthetic corpus in the ``mteb/MIRACLRetrieval`` layout (two languages, ``sw`` and ``yo``, half the passages
each; 200 ``sw`` queries with 3 relevant passages each) is written as parquet to a temporary folder, and
:class:`hybrid_bench.tasks.miracl.MIRACLCrossLingualRetrieval` evaluates its ``sw-mono`` and ``sw-all`` subsets
through the real task and encoding path (mteb's ``evaluate`` flow, mteb's dataloader, the persistent embedding
cache, :func:`~hybrid_bench.tasks.scoring.rank_pool`). The model is a fake mteb encoder that returns a seeded random
384-dim vector per text (me5-small's size), so the run measures the pipeline, not a model.

Measured in a fresh process per size and path, over ``task.evaluate`` (data loading is measured apart, since it
reads memory-mapped Arrow files through ``datasets``):

* ``heap``: peak of ``tracemalloc`` (Python and numpy allocations);
* ``anon``: peak anonymous resident memory (``RssAnon`` in ``/proc/self/status``, sampled every 5 ms) above its
  value before ``evaluate`` — file pages of memory-mapped shards are page cache, not counted.

Paths: ``stored`` — the persistent cache on, ``--chunk`` rows per score block and per encode call/shard;
``in-memory`` — the cache off (``use_persistent_cache(False)``), the whole corpus as one array, for contrast.

Examples:
  python benchmarks/corpus_memory.py                       # 40,000 and 320,000 passages
  python benchmarks/corpus_memory.py --docs 10000 --chunk 2048
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
from typing import Any

DIM = 384
LANGS = ("sw", "yo")
N_QUERIES = 200


def _write_corpus(folder: Path, n_docs: int) -> None:
    """A MIRACL-layout folder: ``<lang>-corpus|queries|qrels/dev-00000-of-00001.parquet`` and its README configs."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])
    configs = []
    for lang in LANGS:
        n = n_docs // len(LANGS)
        texts = [" ".join(words[rng.integers(0, len(words), 12)]) for _ in range(n)]
        tables = {
            "corpus": pa.table({"_id": [f"{i}#0" for i in range(n)], "text": texts,
                                "title": [f"{lang} article {i // 10}" for i in range(n)]}),
            "queries": pa.table({"_id": [str(q) for q in range(N_QUERIES)],
                                 "text": [f"{lang} question {q} {texts[q * 7 % n]}" for q in range(N_QUERIES)]}),
            "qrels": pa.table({"query-id": [str(q) for q in range(N_QUERIES) for _ in range(3)],
                               "corpus-id": [f"{rng.integers(0, n)}#0" for _ in range(3 * N_QUERIES)],
                               "score": [1] * (3 * N_QUERIES)}),
        }
        for kind, table in tables.items():
            (folder / f"{lang}-{kind}").mkdir(parents=True)
            pq.write_table(table, folder / f"{lang}-{kind}" / "dev-00000-of-00001.parquet")
            configs.append(f"- config_name: {lang}-{kind}\n  data_files:\n  - split: dev\n"
                           f"    path: {lang}-{kind}/dev-*\n")
    (folder / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n", encoding="utf-8")


class _RandomEncoder:
    """An mteb encoder returning a seeded random ``DIM``-vector per text (same text, same vector); no model."""

    def __init__(self) -> None:
        from mteb.models.model_meta import ModelMeta

        self.mteb_model_meta = ModelMeta(
            loader=None, name="bench/random", revision="r1", release_date=None, languages=None, n_parameters=None,
            memory_usage_mb=None, max_tokens=None, embed_dim=DIM, license=None, open_weights=True,
            public_training_code=None, public_training_data=None, framework=["NumPy"], similarity_fn_name="cosine",
            use_instructions=False, training_datasets=None,
        )

    def encode(self, inputs: Any, **kwargs: Any) -> Any:  # noqa: ANN401 -- mteb's encode protocol
        import zlib

        import numpy as np

        texts = [t for batch in inputs for t in batch["text"]]
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(DIM, dtype=np.float32)
        return out


def _rss_anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def _measure(folder: str, stored: bool, chunk: int) -> dict[str, Any]:
    import tracemalloc

    import datasets

    from hybrid_bench.tasks.encoding import use_persistent_cache
    from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval

    datasets.disable_progress_bars()
    use_persistent_cache(stored)
    kwargs = {"chunk_size": chunk, "encode_chunk": chunk} if stored else {}
    task = MIRACLCrossLingualRetrieval(source=folder, **kwargs).filter_languages(None, hf_subsets=["sw-mono", "sw-all"])
    start = time.perf_counter()
    task.load_data()
    load_s = time.perf_counter() - start
    base, peak, running = _rss_anon_kb(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], _rss_anon_kb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    start = time.perf_counter()
    scores = task.evaluate(_RandomEncoder(), "dev", encode_kwargs={"batch_size": 256})
    seconds = time.perf_counter() - start
    running[0] = False
    sampler.join()
    _, heap = tracemalloc.get_traced_memory()
    return {"heap_mb": heap / 2**20, "anon_mb": max(0, peak[0] - base) / 1024, "seconds": seconds,
            "load_s": load_s, "ndcg": scores["sw-all"]["ndcg_at_10"], "n_documents": scores["sw-all"]["n_documents"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=40_000, help="1× corpus size (default 40,000)")
    parser.add_argument("--chunk", type=int, default=8192, help="rows per score block and encode call (default 8192)")
    parser.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        folder, stored, chunk = args._child
        print(json.dumps(_measure(folder, stored == "stored", int(chunk))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for scale in (1, 8):
            corpus = Path(tmp) / f"corpus-{scale}x"
            _write_corpus(corpus, args.docs * scale)
            for label in ("stored", "in-memory"):
                home = Path(tmp) / f"home-{scale}x-{label}"  # a fresh cache: every passage is encoded
                env = {**os.environ, "HYBRID_BENCH_HOME": str(home), "HF_DATASETS_CACHE": str(Path(tmp) / "hf"),
                       "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
                cmd = [sys.executable, __file__, "--_child", str(corpus), label, str(args.chunk)]
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if proc.returncode:
                    sys.exit(f"{label} at {scale}x failed:\n{proc.stderr[-3000:]}")
                r = rows[(scale, label)] = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{scale}x corpus ({r['n_documents']:>9,} passages), {label:<9}: heap peak {r['heap_mb']:7.1f} MB, "
                      f"anon RSS peak {r['anon_mb']:7.1f} MB, evaluate {r['seconds']:6.1f} s (load {r['load_s']:.1f} s)",
                      flush=True)
        if rows[(1, "stored")]["ndcg"] != rows[(1, "in-memory")]["ndcg"] or \
                rows[(8, "stored")]["ndcg"] != rows[(8, "in-memory")]["ndcg"]:
            sys.exit("stored and in-memory scores differ")
        for label in ("stored", "in-memory"):
            heap = rows[(8, label)]["heap_mb"] / rows[(1, label)]["heap_mb"]
            anon = rows[(8, label)]["anon_mb"] / max(1e-9, rows[(1, label)]["anon_mb"])
            print(f"{label:<9} peak memory 8x / 1x: heap {heap:.2f}, anon RSS {anon:.2f}")
        print("(flat = about 1; scores identical on both paths)")


if __name__ == "__main__":
    main()
