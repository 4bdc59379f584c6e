"""Smaller reliability promises of issue 12: a failed training leaves no checkpoint folder, broken store folders are
listed as broken, ``eval -m FOLDER`` works and files results under the folder's content hash, a run's leaderboard
goes into its own results folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_failed_training_leaves_no_checkpoint_folder(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentence_transformers import SentenceTransformerTrainer

    from hybrid_bench.training.parallel_data import ParallelCorpus
    from hybrid_bench.training.trainer import TrainConfig, checkpoint_dir, train_model

    corpus = ParallelCorpus.from_records(
        [{"id": f"q{i}", "lang": lang, "query": f"q {i} {lang}", "positive": f"a {i} {lang}"}
         for i in range(8) for lang in ("en", "de")])

    def fails(self, *args, **kwargs):
        assert (checkpoint_dir("doomed") / "run_config.json").is_file()  # written when training starts
        raise RuntimeError("out of memory at step 1")

    monkeypatch.setattr(SentenceTransformerTrainer, "train", fails)
    with pytest.raises(RuntimeError, match="out of memory"):
        train_model(TrainConfig(base=str(tiny_model_dir), steps=2, batch_size=2), "doomed", corpus=corpus)
    assert not checkpoint_dir("doomed").exists()


def test_models_list_marks_a_broken_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "models" / "me5-small"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:100])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYBRID_BENCH_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "hybrid_bench.cli", "models", "list"], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("me5-small"))
    assert "BROKEN" in row and "model.safetensors is damaged or truncated" in row


def test_eval_model_folder_is_filed_under_its_content_hash(tiny_model_dir: Path, tmp_path: Path) -> None:
    from hybrid_bench.evaluation import load_model
    from hybrid_bench.models.registry import local_revision

    encoder = load_model(str(tiny_model_dir), max_seq_length=16)
    assert encoder.mteb_model_meta.revision == local_revision(tiny_model_dir)
    assert encoder.model.max_seq_length == 16
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "config_sentence_transformers.json").write_text(
        (copy / "config_sentence_transformers.json").read_text().replace("query: ", "q: "))
    assert load_model(str(copy)).mteb_model_meta.revision != encoder.mteb_model_meta.revision


def test_reproduce_leaderboard_goes_into_its_results_folder(tmp_path: Path) -> None:
    from hybrid_bench.experiment.runner import default_leaderboard

    assert default_leaderboard(tmp_path / "results" / "reproduce-quick") == (
        tmp_path / "results" / "reproduce-quick" / "leaderboard")
    assert "leaderboards" not in default_leaderboard(Path("results/reproduce")).parts


# ---- issue 23: interrupts, full disks, concurrent writers, stale temporaries (through hybrid_bench.cli.main) ----

def _eval_argv(out: Path, model: Path, *more: str) -> list[str]:
    return ["eval", "-m", str(model), "-t", "XQuADRRetrieval", "--hf-subsets", "eng-eng", "--output-folder", str(out),
            *more]


def _task_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("XQuADRRetrieval*"))
            if p.is_file()}


def test_eval_failing_before_its_result_keeps_no_orphan(tiny_model_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from hybrid_bench.cli import EXIT_INTERRUPTED, main
    from hybrid_bench.result_store import ResultStore

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    assert main(_eval_argv(out, tiny_model_dir)) == 0
    done = _task_files(out)
    assert any(name.endswith("_per_query.parquet") for name in done) and any(n.endswith(".json") for n in done)
    capsys.readouterr()

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "x.json"))

    monkeypatch.setattr(ResultStore, "save_to_cache", disk_full)
    assert main(_eval_argv(out, tiny_model_dir, "--overwrite")) == 1  # rewrites the per-query file, then fails
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "it/s]" not in line]
    assert err[-1].startswith("hybrid-bench: error: no space left on the device") and "Traceback" not in "".join(err)
    assert _task_files(out) == done  # the earlier unit, byte for byte

    fresh = tmp_path / "fresh"
    assert main(_eval_argv(fresh, tiny_model_dir)) == 1
    assert _task_files(fresh) == {}  # no per-query parquet without its result JSON

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ResultStore, "save_to_cache", interrupted)
    capsys.readouterr()
    assert main(_eval_argv(fresh, tiny_model_dir)) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("hybrid-bench: interrupted")
    assert _task_files(fresh) == {}


def test_second_eval_of_a_unit_waits_for_the_first(tiny_model_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import time

    import filelock

    from hybrid_bench.cli import main

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    assert main(_eval_argv(out, tiny_model_dir)) == 0
    [result] = out.glob("results/*/*/XQuADRRetrieval.json")
    before = result.stat().st_mtime_ns
    held = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", (  # another process computing the same unit for 3 s
        "import filelock, pathlib, sys, time\n"
        f"lock = filelock.FileLock({str(result.parent / '.XQuADRRetrieval.lock')!r}); lock.acquire()\n"
        f"pathlib.Path({str(held)!r}).touch(); time.sleep(3); lock.release()\n")])
    while not held.exists():
        assert holder.poll() is None
        time.sleep(0.05)
    start = time.monotonic()
    assert main(_eval_argv(out, tiny_model_dir)) == 0
    assert time.monotonic() - start >= 2.5  # it waited for the holder
    holder.wait()
    assert any("another process is computing XQuADRRetrieval" in r.getMessage() for r in caplog.records)
    assert result.stat().st_mtime_ns == before  # and then reused its result instead of replacing it
    # a lock is per model x revision x task: another task of the same folder is not blocked
    assert not filelock.FileLock(result.parent / ".OtherTask.lock").is_locked


def test_temporaries_of_killed_writers_are_removed(tmp_path: Path) -> None:
    from hybrid_bench.io import atomic_write_text, writer_tag

    host = writer_tag().rsplit("-", 1)[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".lb.{host}-{dead.pid}-abc.tmp"
        kept = [tmp_path / f".lb.{host}-{live.pid}-abc.tmp", tmp_path / f".lb.otherhost-{dead.pid}-abc.tmp",
                tmp_path / ".lb.oldstyle.tmp"]
        for folder in (stale, *kept):
            (folder / "lb").mkdir(parents=True)
            (folder / "lb" / "table.md").write_text("half")
        atomic_write_text(tmp_path / "lb", "board")
        assert not stale.exists()
        assert all(folder.exists() for folder in kept)
        assert (tmp_path / "lb").read_text() == "board"
    finally:
        live.kill()
        live.wait()


def test_explicit_default_max_seq_length_is_the_default(tiny_model_dir: Path) -> None:
    from hybrid_bench.evaluation import effective_max_seq_length, load_model

    encoder = load_model(str(tiny_model_dir))
    own = encoder.model.max_seq_length
    assert effective_max_seq_length(encoder, own) is None
    assert effective_max_seq_length(encoder, own + 100) is None
    assert effective_max_seq_length(encoder, own - 1) == own - 1
    assert effective_max_seq_length(encoder, None) is None
