"""benchmarks/gpu_check.sh skips cleanly without a GPU, and the check it runs (benchmarks/gpu_check.py) works end to
end on the CPU with a tiny stand-in: the paper preset trained, encode, eval on the MIRACL mirror, figures read.
Its two-process step is tests/test_sharded_torchrun.py; fp16 training needs CUDA and is refused on the CPU
(tests/test_train.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script would run the check")
def test_script_skips_in_one_line_without_a_gpu():
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gpu_check: skipped: no CUDA GPU") and proc.stdout.count("\n") == 1
    assert proc.stderr == ""


def test_figures_are_read_from_the_commands_output():
    out = ("gpu-check-bf16: 30 steps in 12 s (0.40 s/step), final loss 0.8123 (step 30); saved to /m\n"
           "rank 0/2: 352 passages encoded in 4.0 s (1,088.1 passages/s), inference torch-float32\n"
           "rank 1/2: 353 passages encoded in 3.8 s (93.3 passages/s), inference torch-float32\n")
    assert gpu_check.parse_figures(out) == {"steps/s": 2.5, "passages/s": pytest.approx(1181.4)}
    assert gpu_check.parse_figures("rank 0/1: 0 passages encoded in 0.1 s (all cached already)") == {}


def test_the_check_runs_on_the_cpu_with_a_tiny_stand_in(shared_data: Path, tmp_path: Path):
    # in its own process: the check changes its environment and mteb's task registry (mirrors) as a real run does
    env = {k: v for k, v in os.environ.items() if k != "HYBRID_BENCH_MIRRORS"}  # it points the mirror itself
    env.update(HYBRID_BENCH_DATA=str(shared_data), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--tiny",
                           "--precisions", "bf16", "--steps", "2", "--batch-size", "8", "--languages", "yor",
                           "--nproc", "0", "--work", str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("gpu_check: ")]
    assert lines[0].startswith("gpu_check: train --preset paper, bf16: ") and "steps/s" in lines[0]
    assert lines[1].startswith("gpu_check: encode, 1 process: ") and "passages/s" in lines[1]
    assert lines[2].startswith("gpu_check: eval MIRACLRetrieval: ") and "nDCG@10 yo" in lines[2]
    assert all("peak GPU memory n/a (CPU)" in line for line in lines[:3])
    assert lines[3] == "gpu_check: two-process encode: skipped (fewer than 2 GPUs)"
    assert (tmp_path / "home" / "models" / "gpu-check-bf16").is_dir()  # trained with the paper preset
