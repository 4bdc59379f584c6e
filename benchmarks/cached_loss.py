"""Cached (GradCache) vs uncached HybridInfoNCELoss: peak memory and step time at a large batch, same model and data.

One training step = the loss's forward and backward on one batch of ``--batch-size`` (anchor, positive) rows of the
XQuAD-R training articles (real texts, all 11 languages, the same rows for both losses), with
:class:`~hybrid_bench.training.loss.HybridInfoNCELoss` (uncached) or
:class:`~hybrid_bench.training.cached_loss.CachedHybridInfoNCELoss` (``--mini-batch-size``). Every run is its own
process, so its peak memory is its own: on a GPU ``torch.cuda.max_memory_allocated`` of the step, on a CPU the
process's peak resident memory during the steps (``VmHWM``, reset before them) minus its resident memory before
them. The runs are
ordered A B B A (uncached, cached, cached, uncached: ``--rounds 2``) so that load drifting on the machine weighs on
both alike; each loss's time is its timed steps over their seconds, summed over its runs, after one warm-up step.

Target (issue 13): memory ratio ≤ 0.5, time ratio ≤ 1.3 at batch 256 with mini-batches of 32.

Examples:
  OMP_NUM_THREADS=2 python benchmarks/cached_loss.py --data-dir ../shared/data          # me5-small, batch 256 / 32
  python benchmarks/cached_loss.py --model /path/to/model --batch-size 512 --mini-batch-size 64 --device cuda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_once(args: argparse.Namespace) -> dict[str, Any]:
    """One process, one loss: ``--steps`` timed steps after a warm-up step; returns peak memory and seconds."""
    import numpy as np
    import torch

    from hybrid_bench.models.bases import resolve_base
    from hybrid_bench.training.base_model import freeze_word_embeddings, load_base_model
    from hybrid_bench.training.cached_loss import CachedHybridInfoNCELoss
    from hybrid_bench.training.loss import HybridInfoNCELoss
    from hybrid_bench.training.parallel_data import load_parallel_data

    torch.manual_seed(0)
    model = load_base_model(resolve_base(args.model), device=args.device)
    model.max_seq_length = args.max_seq_length
    freeze_word_embeddings(model)
    model.train()
    dataset = load_parallel_data("xquad-r-train", data_dir=args.data_dir).to_dataset()
    rows = np.random.default_rng(0).choice(len(dataset), size=args.batch_size, replace=False)
    batch = dataset.select(rows)
    prompts = model.prompts or {}
    features = [
        {k: v.to(args.device) if hasattr(v, "to") else v
         for k, v in model.preprocess([prompts.get(p, "") + t for t in batch[c]]).items()}
        for c, p in (("anchor", "query"), ("positive", "document"))
    ]
    labels = torch.tensor(batch["label"], device=args.device)
    if args.loss == "cached":
        loss = CachedHybridInfoNCELoss(model, mini_batch_size=args.mini_batch_size)
    else:
        loss = HybridInfoNCELoss(model)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss(features, labels).backward()

    step()  # warm-up (allocator, lazy initialisation)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        import ctypes
        import gc

        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so the step's peak is its own
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident size (Linux)
        before = _status_kib("VmRSS") * 1024
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else _status_kib("VmHWM") * 1024
    return {"loss": args.loss, "seconds": seconds, "steps": args.steps, "peak_bytes": peak - before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("Examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small", help="base model name or folder (default: %(default)s)")
    parser.add_argument("--data-dir", default=None, help="LAReQA data folder (else $HYBRID_BENCH_DATA / cache)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--mini-batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per run (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="A B B A repetitions (default: %(default)s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--loss", choices=("cached", "uncached"), help=argparse.SUPPRESS)  # one run, in a child
    args = parser.parse_args(argv)
    if args.loss:
        print(json.dumps(run_once(args)))
        return 0

    order = ["uncached", "cached", "cached", "uncached"] * (args.rounds // 2) + ["uncached", "cached"] * (args.rounds % 2)
    runs: list[dict[str, Any]] = []
    for loss in order:
        child = [a for a in (argv if argv is not None else sys.argv[1:])] + ["--loss", loss]
        out = subprocess.run([sys.executable, __file__, *child], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = runs[-1]
        print(f"{loss:>8}: {r['seconds'] / r['steps']:.2f} s/step, peak +{r['peak_bytes'] / 2**20:.0f} MiB", flush=True)

    def total(loss: str) -> tuple[float, float]:
        mine = [r for r in runs if r["loss"] == loss]
        return sum(r["seconds"] for r in mine) / sum(r["steps"] for r in mine), max(r["peak_bytes"] for r in mine)

    (t_u, m_u), (t_c, m_c) = total("uncached"), total("cached")
    print(f"batch {args.batch_size}, mini-batches {args.mini_batch_size}, {args.model}, {args.device}, "
          f"max_seq_length {args.max_seq_length}")
    print(f"uncached: {t_u:.2f} s/step, peak +{m_u / 2**20:.0f} MiB; cached: {t_c:.2f} s/step, peak +{m_c / 2**20:.0f} MiB")
    print(f"memory ratio (cached / uncached): {m_c / m_u:.2f}  (target <= 0.5)")
    print(f"time ratio (cached / uncached): {t_c / t_u:.2f}  (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
