"""The GPU check (issue 25): the paper's training preset, the MIRACL evaluation and sharded encoding on CUDA.

``benchmarks/gpu_check.sh`` runs this on a machine with a CUDA GPU (and skips cleanly without one); the whole check
takes a few minutes on one GPU (target <= 10 min). Every step is a hybrid-bench command, run in this process so
that its peak GPU memory can be read (``torch.cuda.max_memory_allocated``, reset before each step):

1. **base**: ``--base`` if given, else a random XLM-R with XLM-R base's shape (hidden 768, 12 layers, 12 heads,
   FFN 3072, XLM-R's tokenizer) in ``FacebookAI/xlm-roberta-base``'s folder layout (``tests/stand_ins.py``): the
   GPU machines cannot reach the hub, and a random model of the real shape costs what the real one costs.
2. **train**: ``hybrid-bench train --preset paper`` (AdamW 3e-5, batch 100, all weights) for ``--steps`` steps on
   ``xquad-r-train``, once per ``--precisions`` (``fp16``, ``bf16``): steps/s and peak GPU memory.
3. **encode + eval**: the first trained model encodes the MIRACL mirror's ``--languages`` corpora
   (``hybrid-bench encode``: passages/s, peak memory), then ``hybrid-bench eval -t MIRACLRetrieval`` scores them
   from the cache (nDCG@10 per language).
4. **two processes** (``--nproc`` >= 2, default: 2 when 2 GPUs are visible): ``torchrun --nproc_per_node 2
   hybrid-bench encode`` into a fresh cache, then eval again: each rank's passages/s, and nDCG@10 equal to the
   one-process run (within :data:`SCORE_TOLERANCE`).

Data: ``$HYBRID_BENCH_DATA`` (``lareqa/`` for training, ``miracl-lite/`` as the MIRACL mirror unless
``HYBRID_BENCH_MIRRORS`` names one). Everything is written under ``--work`` (default: a temporary folder).

Examples:
  bash benchmarks/gpu_check.sh                                   # on a GPU machine
  python benchmarks/gpu_check.py --device cpu --tiny --precisions bf16 --steps 2 --batch-size 8   # the CPU test
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: nDCG@10 of one and of two encoding processes may differ by this much (GPU kernels pick different reduction
#: orders for different batch compositions)
SCORE_TOLERANCE = 1e-3
#: XLM-R base's shape
XLMR_BASE = {"hidden_size": 768, "layers": 12, "heads": 12, "intermediate_size": 3072}
TINY = {"hidden_size": 32, "layers": 2, "heads": 2, "intermediate_size": 64}


@dataclass
class Step:
    """One measured step: its wall time, peak GPU memory (GiB, ``None`` on CPU) and figures read from its output."""

    name: str
    seconds: float
    peak_gib: float | None
    output: str
    figures: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        figures = ", ".join(f"{k} {v:,.0f}" if v >= 100 else f"{k} {v:.4f}" for k, v in self.figures.items())
        peak = f"peak GPU memory {self.peak_gib:.2f} GiB" if self.peak_gib is not None else "peak GPU memory n/a (CPU)"
        return f"gpu_check: {self.name}: {self.seconds:.1f} s, {figures + ', ' if figures else ''}{peak}"


def _cuda() -> object | None:
    import torch

    return torch.cuda if torch.cuda.is_available() else None


def run_cli(name: str, argv: list[str]) -> Step:
    """``hybrid-bench <argv>`` in this process (its output echoed), timed, with its peak GPU memory."""
    from hybrid_bench.cli import main

    cuda = _cuda()
    if cuda is not None:
        cuda.reset_peak_memory_stats()
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    seconds = time.perf_counter() - start
    sys.stdout.write(out.getvalue())
    if status != 0:
        raise SystemExit(f"gpu_check: {name}: `hybrid-bench {' '.join(argv)}` failed with status {status}")
    peak = cuda.max_memory_allocated() / 2**30 if cuda is not None else None
    return Step(name, seconds, peak, out.getvalue(), parse_figures(out.getvalue()))


def parse_figures(output: str) -> dict[str, float]:
    """steps/s (``hybrid-bench train``) and passages/s (``hybrid-bench encode``, summed over ranks) in ``output``."""
    figures: dict[str, float] = {}
    # the summary line of `hybrid-bench train` (hybrid_bench.training.callbacks.summary_line): "(1.40 s/step)"
    if m := re.search(r"\(([\d.]+) s/step\)", output):
        figures["steps/s"] = 1.0 / float(m.group(1)) if float(m.group(1)) > 0 else 0.0
    rates = [float(r.replace(",", "")) for r in re.findall(r"encoded in [\d.]+ s \(([\d,.]+) passages/s\)", output)]
    if rates:
        figures["passages/s"] = sum(rates)
    return figures


def ndcg(results: Path) -> dict[str, float]:
    """nDCG@10 per language of the ``MIRACLRetrieval`` result under an eval's ``--output-folder``."""
    files = sorted(results.rglob("MIRACLRetrieval.json"))
    if len(files) != 1:
        raise SystemExit(f"gpu_check: expected one MIRACLRetrieval result under {results}, found {len(files)}")
    scores = json.loads(files[0].read_text(encoding="utf-8"))["scores"]
    return {s["hf_subset"]: float(s["ndcg_at_10"]) for split in scores.values() for s in split}


def torchrun_encode(nproc: int, encode_args: list[str], env: dict[str, str]) -> Step:
    """``torchrun --standalone --nproc_per_node nproc -m hybrid_bench.cli encode ...``: every rank's output, timed
    (peak GPU memory: each rank prints its own)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "-m", "hybrid_bench.cli", "encode", *encode_args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0 or "merged: every passage" not in proc.stdout:
        raise SystemExit(f"gpu_check: {nproc}-process encode failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return Step(f"encode, {nproc} processes", seconds, None, proc.stdout, parse_figures(proc.stdout))


def _environment(work: Path) -> dict[str, str]:
    data = Path(os.environ.get("HYBRID_BENCH_DATA", ROOT.parent / "shared" / "data"))
    env = {"HYBRID_BENCH_DATA": str(data), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HYBRID_BENCH_HOME": str(work / "home")}
    if "HYBRID_BENCH_MIRRORS" not in os.environ:
        env["HYBRID_BENCH_MIRRORS"] = f"mteb/MIRACLRetrieval={data / 'miracl-lite'}"
    return env


def check(args: argparse.Namespace, work: Path) -> list[Step]:
    """Run every step of the module docstring under ``work``; returns the measured steps."""
    os.environ.update(_environment(work))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from stand_ins import build_xlmr_stand_in

    from hybrid_bench.paths import models_dir

    base = args.base or str(build_xlmr_stand_in(work / "base", **(TINY if args.tiny else XLMR_BASE)))
    device = ["--device", args.device]
    steps = [run_cli(f"train --preset paper, {p}", [
        "train", "--preset", "paper", "--base", base, "--data", "xquad-r-train", "--steps", str(args.steps),
        *(["--batch-size", str(args.batch_size)] if args.batch_size else []), f"--{p}", *device,
        "--save-steps", str(args.steps + 1), "--out", f"gpu-check-{p}"]) for p in args.precisions]
    model = str(models_dir() / f"gpu-check-{args.precisions[0]}")
    shared = ["-m", model, "-t", "MIRACLRetrieval", "-l", *args.languages, "--backend", "torch",
              "--dtype", args.eval_dtype, "--batch-size", str(args.eval_batch_size)]
    steps.append(run_cli("encode, 1 process", ["encode", *shared]))
    steps.append(run_cli("eval MIRACLRetrieval", ["eval", *shared, "--output-folder", str(work / "eval-1")]))
    one = ndcg(work / "eval-1")
    steps[-1].figures.update({f"nDCG@10 {k}": v for k, v in one.items()})
    if args.nproc >= 2:
        os.environ["HYBRID_BENCH_HOME"] = str(work / "home-sharded")  # an empty cache; the model is a folder path
        steps.append(torchrun_encode(args.nproc, shared, dict(os.environ)))
        steps.append(run_cli("eval after sharded encode", ["eval", *shared, "--output-folder", str(work / "eval-n")]))
        sharded = ndcg(work / "eval-n")
        worst = max(abs(sharded[k] - one[k]) for k in one)
        steps[-1].figures["max |nDCG@10 difference|"] = worst
        if sharded.keys() != one.keys() or worst > SCORE_TOLERANCE:
            raise SystemExit(f"gpu_check: {args.nproc}-process scores {sharded} differ from 1 process {one}")
    return steps


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--base", default=None, help="base model folder (default: an XLM-R-base-shaped stand-in)")
    parser.add_argument("--tiny", action="store_true", help="a tiny stand-in instead of XLM-R base's shape (tests)")
    parser.add_argument("--steps", type=int, default=30, help="training steps per precision (default 30)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the paper preset's 100")
    parser.add_argument("--precisions", nargs="+", default=["fp16", "bf16"], choices=("fp16", "bf16"))
    parser.add_argument("--languages", nargs="+", default=["swa", "yor", "deu", "ara"],
                        help="MIRACL languages to encode and evaluate (default: swa yor deu ara, 12,923 passages)")
    parser.add_argument("--eval-dtype", default=None, help="inference dtype (default bfloat16 on cuda, else float32)")
    parser.add_argument("--eval-batch-size", type=int, default=256)
    parser.add_argument("--nproc", type=int, default=None, help="processes of the sharded encode (default: 2 if "
                        "2 GPUs are visible, else none)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)
    args.eval_dtype = args.eval_dtype or ("bfloat16" if args.device == "cuda" else "float32")
    args.nproc = args.nproc if args.nproc is not None else (2 if _gpus() >= 2 else 0)
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gpu-check-")))
        work.mkdir(parents=True, exist_ok=True)
        steps = check(args, work)
    print("\n".join(["", *(s.line() for s in steps)]))
    if args.nproc < 2:
        print("gpu_check: two-process encode: skipped (fewer than 2 GPUs)")
    print(f"gpu_check: done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
