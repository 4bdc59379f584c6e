"""Sharded corpus encoding as two real processes: `torchrun --nproc_per_node 2 hybrid-bench encode` (gloo, CPU)
writes both ranks' shares, rank 0 checks after the barrier that the cache holds every passage, and a later eval
encodes no passage and scores as one process does. Runs the torchrun step of benchmarks/gpu_check.py."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from hybrid_bench import cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpu_check import ndcg, torchrun_encode  # noqa: E402


def test_torchrun_two_ranks_then_eval_equal_one_process(tiny_model_dir: Path, shared_data: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, encoded_counts: list[int]):
    mirrors = f"mteb/MIRACLRetrieval={shared_data / 'miracl-lite'}"
    monkeypatch.setenv("HYBRID_BENCH_MIRRORS", mirrors)
    args = ["-m", str(tiny_model_dir), "-t", "MIRACLRetrieval", "-l", "yor", "--backend", "torch",
            "--dtype", "float32"]
    env = {**os.environ, "HYBRID_BENCH_HOME": str(tmp_path / "two"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    step = torchrun_encode(2, args, env)
    assert "rank 0/2: MIRACLRetrieval yo: rows 0-352 of 705, 352 encoded" in step.output
    assert "rank 1/2: MIRACLRetrieval yo: rows 352-705 of 705, 353 encoded" in step.output
    assert "merged: every passage of 1 corpora is in the embedding cache (2 ranks)" in step.output
    assert step.figures["passages/s"] > 0
    rows = [json.loads(p.read_text())["rows"] for p in (tmp_path / "two").glob("cache/embeddings/*/*.json")
            if p.name != "model.json"]
    assert sorted(rows) == [352, 353]  # one shard file per rank

    encoded = encoded_counts
    encoded.clear()
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "two"))
    assert cli.main(["eval", *args, "--output-folder", str(tmp_path / "res-two")]) == 0
    n_queries = len(pd.read_parquet(shared_data / "miracl-lite" / "yo-queries"))
    assert sum(encoded) == n_queries  # every passage came from the ranks' shards: only the queries are encoded
    encoded.clear()
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "one"))
    assert cli.main(["eval", *args, "--output-folder", str(tmp_path / "res-one")]) == 0
    assert sum(encoded) == 705 + n_queries
    one, two = ndcg(tmp_path / "res-one"), ndcg(tmp_path / "res-two")
    assert one.keys() == two.keys() == {"yo"}
    assert abs(one["yo"] - two["yo"]) < 1e-6
