"""Sharded corpus encoding (hybrid_bench.tasks.sharding, `hybrid-bench encode`): two ranks' shares, written to one
embedding cache, are what a later eval reads - it encodes no passage, and scores as one process does.

The ranks run here one after the other in this process (``--rank r --world-size 2``: the code path of each
torchrun rank, without the barrier); tests/test_sharded_torchrun.py runs them as two real processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hybrid_bench import cli
from hybrid_bench.errors import HybridBenchError
from hybrid_bench.tasks.embedding_store import EmbeddingStore, text_key
from hybrid_bench.tasks.sharding import Shard

INFERENCE = ["--backend", "torch", "--dtype", "float32"]


@pytest.mark.parametrize("n", [0, 1, 7, 705, 1_000_003])
@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_shares_are_contiguous_and_cover_every_row_once(n: int, world: int):
    shares = [Shard(rank, world).rows(n) for rank in range(world)]
    assert [i for share in shares for i in share] == list(range(n))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_rank_and_world_size_come_from_the_environment_and_are_checked():
    assert Shard.from_env({}) == Shard(0, 1)
    assert Shard.from_env({"RANK": "1", "WORLD_SIZE": "2"}) == Shard(1, 2)
    with pytest.raises(HybridBenchError, match="rank 2 of 2"):
        Shard.from_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(HybridBenchError, match="WORLD_SIZE='two'"):
        Shard.from_env({"RANK": "0", "WORLD_SIZE": "two"})


def test_refresh_finds_shards_another_process_wrote(tmp_path: Path):
    key = {"model": "test/m", "revision": "r1", "max_seq_length": 8, "prompts": {}}
    reader, writer = EmbeddingStore(key, root=tmp_path), EmbeddingStore(key, root=tmp_path)
    mine, theirs = [text_key("g", "document", "", "a")], [text_key("g", "document", "", "b")]
    reader.put(mine, np.ones((1, 4), dtype=np.float32))
    writer.put(theirs, np.full((1, 4), 2.0, dtype=np.float32))  # after the reader read the folder
    assert reader.locate(theirs)[0].tolist() == [-1]
    assert reader.refresh() == 1 and reader.refresh() == 0
    shard, row = reader.locate(theirs)
    assert reader.array(int(shard[0]))[row[0]].tolist() == [2.0] * 4


def _ndcg(output: Path, task: str) -> dict[str, float]:
    (result,) = output.rglob(f"{task}.json")
    scores = json.loads(result.read_text(encoding="utf-8"))["scores"]
    return {s["hf_subset"]: s["ndcg_at_10"] for split in scores.values() for s in split}


def _shard_rows(home: Path) -> dict[str, int]:
    return {p.stem: json.loads(p.read_text())["rows"]
            for p in home.glob("cache/embeddings/*/*.json") if p.name != "model.json"}


@pytest.mark.parametrize("task, selection", [
    ("MIRACLRetrieval", ["-l", "yor"]),
    ("MIRACLCrossLingualRetrieval", ["--hf-subsets", "yo-mono"]),
])
def test_two_shares_then_eval_equal_one_process(task: str, selection: list[str], tiny_model_dir: Path,
                                                shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], encoded_counts: list[int]):
    monkeypatch.setenv("HYBRID_BENCH_MIRRORS", f"mteb/MIRACLRetrieval={shared_data / 'miracl-lite'}")
    encoded = encoded_counts
    encoded.clear()
    args = ["-m", str(tiny_model_dir), "-t", task, *selection, *INFERENCE]
    n_passages = len(pd.read_parquet(shared_data / "miracl-lite" / "yo-corpus"))
    n_queries = len(pd.read_parquet(shared_data / "miracl-lite" / "yo-queries"))

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "one"))
    assert cli.main(["eval", *args, "--output-folder", str(tmp_path / "res-one")]) == 0
    assert sum(encoded) >= n_passages  # the baseline encodes the corpus itself

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "two"))
    encoded.clear()
    for rank in (0, 1):
        assert cli.main(["encode", *args, "--rank", str(rank), "--world-size", "2", "--encode-chunk", "200"]) == 0
    out = capsys.readouterr().out
    assert "rank 0/2" in out and "rank 1/2" in out and "rows 0-352 of 705" in out and "rows 352-705 of 705" in out
    assert sum(encoded) == n_passages  # each passage once, by one rank
    shards = _shard_rows(tmp_path / "two")
    assert sorted(shards.values()) == [152, 153, 200, 200]  # two ranks × (200 + the rest of the rank's share)

    encoded.clear()
    assert cli.main(["eval", *args, "--output-folder", str(tmp_path / "res-two")]) == 0
    # the eval found every passage in the ranks' shards: it encoded only the queries
    assert sum(encoded) == n_queries
    new = {k: v for k, v in _shard_rows(tmp_path / "two").items() if k not in shards}
    assert sum(new.values()) == (n_queries if task != "MIRACLRetrieval" else 0)  # our task caches queries too
    one, two = _ndcg(tmp_path / "res-one", task), _ndcg(tmp_path / "res-two", task)
    assert one.keys() == two.keys() and one
    assert all(abs(one[k] - two[k]) < 1e-6 for k in one), (one, two)


def test_encode_skips_tasks_whose_documents_are_not_cached(tiny_model_dir: Path, shared_data: Path,
                                                          capsys: pytest.CaptureFixture[str]):
    assert cli.main(["encode", "-m", str(tiny_model_dir), "-t", "XQuADRHeldOutRetrieval", "-l", "deu",
                     *INFERENCE]) == 0
    assert "XQuADRHeldOutRetrieval: skipped" in capsys.readouterr().out


def test_encode_refuses_a_bad_rank_in_one_line(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["encode", "-m", str(tiny_model_dir), "--rank", "3", "--world-size", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rank 3 of 2" in err


def test_encode_help_shows_torchrun_examples(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["encode", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "examples:" in out and "torchrun --standalone --nproc_per_node 2 -m hybrid_bench.cli encode" in out
