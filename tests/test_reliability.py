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
