"""The persistent embedding cache: a second process encodes nothing, corruption is detected and re-encoded,
settings never share entries, and ``hybrid-bench cache info / clear``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hybrid_bench import cli

RUN = """
import json, sys
sys.path.insert(0, {tests!r})
from fake_models import CountingEncoder
from hybrid_bench.tasks.lareqa import XQuADRHeldOutRetrieval
model = CountingEncoder(revision={revision!r})
task = XQuADRHeldOutRetrieval(data_dir={data!r}).filter_languages(None, hf_subsets=["eng-eng", "deu-eng"])
task.set_sample(languages=["de", "en"], max_queries=15, max_candidates=40)
scores = task.evaluate(model, "test", encode_kwargs={{"batch_size": 16}})
print(json.dumps({{"encoded": model.texts_encoded, "map": {{s: v["map"] for s, v in scores.items()}}}}))
"""


def _run(home: Path, shared_data: Path, revision: str = "r1") -> tuple[dict, str]:
    code = RUN.format(tests=str(Path(__file__).parent), data=str(shared_data), revision=revision)
    env = {**os.environ, "HYBRID_BENCH_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_second_process_hits_the_cache_and_corruption_is_re_encoded(tmp_path: Path, shared_data: Path) -> None:
    first, _ = _run(tmp_path, shared_data)
    assert first["encoded"] > 0
    second, _ = _run(tmp_path, shared_data)
    assert second == {"encoded": 0, "map": first["map"]}  # nothing sent to the model, same scores

    # damage one stored shard: it is reported, set aside and its texts are encoded again, never trusted
    [folder] = [p for p in (tmp_path / "cache" / "embeddings").iterdir() if p.is_dir()]
    shard = max(folder.glob("*.npy"), key=lambda p: p.stat().st_size)
    rows = json.loads(shard.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    data = bytearray(shard.read_bytes())
    data[-4:] = b"\xff\xff\xff\x7f"
    shard.write_bytes(bytes(data))
    third, log = _run(tmp_path, shared_data)
    assert "is corrupt (checksum differs)" in log
    assert third == {"encoded": rows, "map": first["map"]}
    assert shard.with_suffix(".npy.corrupt").exists()
    # truncated: also detected
    shard = next(p for p in folder.glob("*.npy") if p.stat().st_size > 200)
    shard.write_bytes(shard.read_bytes()[:150])
    fourth, log = _run(tmp_path, shared_data)
    assert "is corrupt" in log and fourth["encoded"] > 0 and fourth["map"] == first["map"]

    # another revision (e.g. another backend / dtype suffix) never reads these entries
    other, _ = _run(tmp_path, shared_data, revision="r1+openvino-bfloat16")
    assert other["encoded"] == first["encoded"]


def test_cache_info_and_clear(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, shared_data)
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path))
    assert cli.main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "test/counting@r1" in out and " texts, " in out
    assert cli.main(["cache", "clear", "test/counting"]) == 0
    assert "removed test/counting@r1" in capsys.readouterr().out
    assert cli.main(["cache", "info"]) == 0 and "(empty)" in capsys.readouterr().out
