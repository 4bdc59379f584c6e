"""Two real processes (torchrun, gloo, CPU): cross-device negatives equal one process on the global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def torchrun(args: list[str], *, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node 2`` on CPU with one thread per process, this checkout first on the path."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_gathered_loss_and_gradients_equal_one_process_on_the_global_batch(tiny_model_dir: Path, tmp_path: Path):
    start = time.perf_counter()
    proc = torchrun([str(TESTS / "dist_loss_worker.py"), str(tmp_path), str(tiny_model_dir)], cwd=tmp_path)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"two-process loss test: {wall:.1f} s wall")
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys() and len(ranks[0]) == 16
    for key, case in ranks[0].items():
        assert case["loss"] == pytest.approx(case["reference_loss"], abs=1e-5), key
        assert case["max_grad_diff"] <= 1e-5 and case["max_grad"] > 1e-3, (key, case)
        assert ranks[1][key]["loss"] == case["loss"]
        if key.startswith("duplicates=True"):
            # the batch really had translations / shared positives across ranks that the masks had to catch
            assert abs(case["unmasked_loss"] - case["reference_loss"]) > 1e-3, key
        else:
            assert case["unmasked_loss"] == pytest.approx(case["reference_loss"], abs=1e-6), key
