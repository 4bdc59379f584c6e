"""hybrid-bench's mteb benchmarks, in fresh processes: found by ``mteb.get_benchmark``, run by ``mteb run -b``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import platformdirs
import pytest

from test_mteb_cli import BIN, _env, _one_clear_error, _run

_USER_MODELS = Path(os.environ.get("HYBRID_BENCH_HOME") or platformdirs.user_cache_dir("hybrid_bench")) / "models"

LOOKUP = """
import sys, mteb
from hybrid_bench.experiment.presets import DEFAULT_TASKS
for name, alias in [("HybridBench(LAReQA)", "hybrid-bench-lareqa"), ("HybridBench(2408.10536)", "hybrid-bench"),
                    ("HybridBench(LAReQA-settings)", "hybrid-bench-lareqa-settings")]:
    b = mteb.get_benchmark(name)
    assert mteb.get_benchmark(alias) is b, alias
    assert b.description and b.reference and "@" in b.citation, name
    print(name, *[t.metadata.name for t in b.tasks])
assert [t.metadata.name for t in mteb.get_benchmark("hybrid-bench").tasks] == list(DEFAULT_TASKS)
assert "arXiv:2408.10536" in mteb.get_benchmark("hybrid-bench").citation
print(sorted(b.name for b in mteb.get_benchmarks() if b.name.startswith("HybridBench")))
"""


def test_get_benchmark_finds_all_three_in_a_fresh_process(tmp_path: Path) -> None:
    proc = _run([sys.executable, "-c", LOOKUP], _env(tmp_path), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "HybridBench(LAReQA) XQuADRRetrieval MLQARRetrieval" in proc.stdout
    assert ("HybridBench(LAReQA-settings) XQuADRMonoRetrieval XQuADRCrossRetrieval XQuADRMultiRetrieval "
            "MLQARMonoRetrieval MLQARCrossRetrieval MLQARMultiRetrieval") in proc.stdout
    assert "['HybridBench(2408.10536)', 'HybridBench(LAReQA)', 'HybridBench(LAReQA-settings)']" in proc.stdout
    # registration happens on `import mteb`, never at interpreter start-up
    start = _run([sys.executable, "-c", "import sys; print('mteb' in sys.modules)"], _env(tmp_path), cwd=tmp_path)
    assert start.stdout.strip() == "False", start.stderr


def test_a_bad_user_benchmark_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.toml").write_text('[benchmarks.mine]\ntask = ["XQuADRRetrieval"]\n', encoding="utf-8")
    proc = _run([str(BIN / "mteb"), "run", "-b", "mine", "-m", "me5-small"], _env(tmp_path), cwd=tmp_path)
    error = _one_clear_error(proc)
    assert "benchmarks.toml" in error and "'mine'" in error and "tasks" in error


@pytest.mark.slow
def test_mteb_run_b_on_a_tiny_user_benchmark(tmp_path: Path, shared_data: Path) -> None:
    """``mteb run -b NAME -m me5-small``, offline, on one held-out XQuAD-R setting defined in the user's file."""
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    if (_USER_MODELS / "me5-small").is_dir():  # the built base model, read-only (else built on first use)
        (home / "models" / "me5-small").symlink_to(_USER_MODELS / "me5-small")
    (home / "benchmarks.toml").write_text(
        '[benchmarks.tiny-de]\ntasks = ["XQuADRHeldOutRetrieval"]\nhf_subsets = ["deu-deu"]\n', encoding="utf-8")
    out = tmp_path / "results"
    proc = _run([str(BIN / "mteb"), "run", "-b", "tiny-de", "-m", "me5-small", "--output-folder", str(out)],
                _env(home), cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (out / "results" / "hybrid-bench__me5-small").glob("*/XQuADRHeldOutRetrieval.json")
    scores = json.loads(path.read_text(encoding="utf-8"))["scores"]["test"]
    assert [s["hf_subset"] for s in scores] == ["deu-deu"]
    assert scores[0]["n_queries"] == 582 and 0.5 < scores[0]["map"] <= 1.0
