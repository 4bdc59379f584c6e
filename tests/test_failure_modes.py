"""Issue 23, the remaining failure modes: a full disk during ``models build``, train checkpointing and
``leaderboard`` (one line naming the file, exit 1, nothing half-written); a per-query file without its result JSON;
two processes on one reproduce evaluation stage; unnamed temporaries of killed writers; Ctrl-C inside OpenVINO."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _error_lines(captured: str) -> list[str]:
    """stderr without progress bars (a bar's last state and the next line may share a line: split at ``]``)."""
    lines = [part for line in captured.replace("\r", "\n").splitlines() for part in line.split("it/s]")]
    return [line for line in lines if line.strip() and "%|" not in line]


def _everything(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


# ---- a full disk -------------------------------------------------------------------------------------------------

def test_models_build_on_a_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """safetensors' Rust writer fails mid-file (as it does on a full tmpfs): one line naming the model folder."""
    import transformers.modeling_utils
    from safetensors import SafetensorError

    from hybrid_bench.cli import main

    def full(tensors, filename, metadata=None):  # noqa: ANN001
        Path(filename).write_bytes(b"\0" * 1000)  # what a writer leaves when the device fills up
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", full)
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    assert main(["models", "build", "me5-small"]) == 1
    err = _error_lines(capsys.readouterr().err)
    target = tmp_path / "home" / "models" / "me5-small"
    assert err[-1] == (f"hybrid-bench: error: no space left on the device writing {target}; free space (or point "
                       "--output-folder / --out / HYBRID_BENCH_HOME elsewhere) and rerun: nothing half-written was kept")
    assert not any("Traceback" in line for line in err)
    assert _everything(tmp_path / "home" / "models") == []  # no folder, no hidden temporary


def test_train_checkpoint_on_a_full_disk_keeps_only_complete_checkpoints(tmp_path: Path, tiny_model_dir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """torch's zip writer reports a full disk as ``RuntimeError: ... unexpected pos``: with the device (nearly) full
    that is one line naming the checkpoint folder; the half-written checkpoint goes, the complete one stays."""
    from collections import namedtuple

    from transformers import Trainer

    from hybrid_bench.cli import main
    from hybrid_bench.training.records import RUN_RECORD
    from parallel_helpers import synthetic_corpus

    corpus = tmp_path / "parallel.jsonl"
    synthetic_corpus(24).save(corpus)
    home = tmp_path / "home"
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(home))
    real_save, real_usage = Trainer._save_optimizer_and_scheduler, shutil.disk_usage
    usage = namedtuple("usage", "total used free")

    def second_save_fails(self, output_dir):  # noqa: ANN001
        if not Path(output_dir).name.endswith("-4"):
            return real_save(self, output_dir)
        (Path(output_dir) / "optimizer.pt").write_bytes(b"PK\3\4")  # the start of torch's zip
        monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 153472 vs 153360")

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", second_save_fails)
    code = main(["train", "--base", str(tiny_model_dir), "--data", str(corpus), "--steps", "6", "--batch-size", "4",
                 "--save-steps", "2", "--max-seq-length", "16", "--out", "full"])
    monkeypatch.setattr(shutil, "disk_usage", real_usage)
    assert code == 1
    err = _error_lines(capsys.readouterr().err)
    ckpts = home / "checkpoints" / "full"
    assert err[-1].startswith(f"hybrid-bench: error: no space left on the device writing {ckpts}; free space")
    assert err[-1].endswith("and rerun with --resume to continue from the last complete checkpoint: nothing "
                            "half-written was kept")
    assert not any("Traceback" in line for line in err)
    assert sorted(p.name for p in ckpts.glob("checkpoint-*")) == ["checkpoint-2"]
    assert (ckpts / "checkpoint-2" / RUN_RECORD).is_file()  # what --resume continues from
    assert not (home / "models" / "full").exists()


def test_leaderboard_on_a_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from hybrid_bench.cli import main
    from leaderboard_synthetic import build_synthetic_results

    build_synthetic_results(tmp_path / "res", with_miracl=False)

    def full(self, *args, **kwargs):  # pandas names no file when the device is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_html", full)
    out = tmp_path / "boards" / "lb"
    argv = ["leaderboard", str(tmp_path / "res"), "--out", str(out), "--n-resamples", "200", "--no-plots",
            "--cluster", "question"]
    assert main(argv) == 1
    err = _error_lines(capsys.readouterr().err)
    assert err[-1].startswith(f"hybrid-bench: error: no space left on the device writing {out}; free space")
    assert _everything(tmp_path / "boards") == []


# ---- a per-query file without its result ------------------------------------------------------------------------

def test_leaderboard_ignores_per_query_files_without_a_result(tmp_path: Path) -> None:
    """An eval killed between its per-query file and its result JSON (another revision of a model that has
    results, or a model that has none) adds no rows: the tables are those without the file, and a note says so."""
    import pandas as pd

    from hybrid_bench.leaderboard.build import build_leaderboard
    from leaderboard_synthetic import build_synthetic_results, synthetic_clusters

    build_synthetic_results(tmp_path, with_miracl=False)

    def board():  # noqa: ANN202
        return build_leaderboard(tmp_path, n_resamples=200, make_plots=False, qrels_loader=None,
                                 cluster_loader=synthetic_clusters, progress=False)

    clean = board()
    source = tmp_path / "predictions" / "hybrid-me5-small" / "XQuADRRetrieval_per_query.parquet"
    for model, revision in (("hybrid-bench/hybrid-me5-small", "r2"), ("hybrid-bench/ghost", "r1")):
        frame = pd.read_parquet(source).assign(model=model, revision=revision)
        folder = tmp_path / "predictions" / f"{model.replace('/', '__')}__{revision}"
        folder.mkdir()
        frame.assign(ap=frame["ap"] * 0).to_parquet(folder / source.name, index=False)  # scores that would show
    orphaned = board()
    pd.testing.assert_frame_equal(orphaned.per_query, clean.per_query)
    for name, table in clean.tables.items():  # some cells hold arrays (coverage): compare their printed form
        pd.testing.assert_frame_equal(orphaned.tables[name].astype(str), table.astype(str), obj=name)
    assert any(note.startswith("ignored per-query values of hybrid-me5-small @ r2 on XQuADRRetrieval: no result JSON")
               for note in orphaned.notes)


# ---- two processes, one reproduce evaluation --------------------------------------------------------------------

_STAGE_WORKER = """
import json, sys, time
from pathlib import Path
import mteb
from hybrid_bench.evaluation import load_model
from hybrid_bench.experiment.eval_stage import Evaluator
from hybrid_bench.experiment.ledger import LEDGER_FILE, Ledger
from hybrid_bench.experiment.presets import Preset

out, model, data, go, log = map(Path, sys.argv[1:6])
preset = Preset(name="tiny", steps=2, batch_size=4, max_seq_length=16, bf16=False, train_languages=("de", "en"),
                languages=("de", "en"), max_queries=6, max_candidates=15, eval_max_seq_length=24, n_resamples=200)
evaluate = mteb.evaluate
def slow_evaluate(*args, **kwargs):  # long enough for the other process to arrive meanwhile
    with log.open("a") as f:
        f.write("computing\\n")
    time.sleep(3)
    return evaluate(*args, **kwargs)
mteb.evaluate = slow_evaluate
evaluator = Evaluator(preset, out, Ledger(out / LEDGER_FILE), batch_size=8, miracl_folder=None,
                      miracl_languages=None, data_dir=str(data))
encoder = load_model(str(model), max_seq_length=24)
evaluator.task("XQuADRHeldOutRetrieval")
while not go.exists():
    time.sleep(0.01)
ran, _ = evaluator.run(encoder, "XQuADRHeldOutRetrieval")
print(json.dumps({"ran": ran}))
"""


def test_two_reproduce_evaluations_of_one_stage_compute_it_once(tmp_path: Path, tiny_model_dir: Path,
                                                                shared_data: Path) -> None:
    from hybrid_bench.experiment.ledger import LEDGER_FILE

    out, go, log = tmp_path / "out", tmp_path / "go", tmp_path / "computations"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYBRID_BENCH_HOME": str(tmp_path / "home")}
    workers = [subprocess.Popen([sys.executable, "-c", _STAGE_WORKER, str(out), str(tiny_model_dir),
                                 str(shared_data), str(go), str(log)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    results = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-2000:] for _, err in results]
    ran = sorted(json.loads(stdout.strip().splitlines()[-1])["ran"] for stdout, _ in results)
    assert ran == [False, True]  # one computed it, the other waited and took its result
    assert log.read_text().splitlines() == ["computing"]
    assert any("another process is computing XQuADRHeldOutRetrieval" in err for _, err in results)
    ledger = json.loads((out / LEDGER_FILE).read_text(encoding="utf-8"))
    assert len([key for key in ledger["done"] if "XQuADRHeldOutRetrieval" in key]) == 1


# ---- temporaries of killed writers -------------------------------------------------------------------------------

def test_unnamed_temporaries_of_earlier_versions_are_removed_once_stale(tmp_path: Path) -> None:
    """``.<name>.<8 random>.tmp`` (the naming before writer tags, e.g. a SIGKILLed ``leaderboard --overwrite``)
    cannot name its writer: removed once untouched for hours, kept while it may still be written."""
    from hybrid_bench.io import OLD_STYLE_STALE_S, atomic_write_text

    stale, fresh = tmp_path / ".lb.k3_x9q2a.tmp", tmp_path / ".lb.ab12cd34.tmp"
    for folder in (stale, fresh):
        (folder / "lb" / "plots").mkdir(parents=True)
        (folder / "lb" / "table.md").write_text("half")
    old = time.time() - OLD_STYLE_STALE_S - 60
    os.utime(stale, (old, old))
    other = tmp_path / ".lbx.k3_x9q2a.tmp"  # another target's
    other.mkdir()
    os.utime(other, (old, old))
    atomic_write_text(tmp_path / "lb", "board", overwrite=True)
    assert not stale.exists()
    assert fresh.exists() and other.exists()
    assert (tmp_path / "lb").read_text() == "board"


# ---- Ctrl-C inside OpenVINO --------------------------------------------------------------------------------------

def _openvino_tiny(folder: Path):  # noqa: ANN202
    pytest.importorskip("openvino")
    from hybrid_bench.models.inference import Inference, load_sentence_transformer

    return load_sentence_transformer(folder, Inference("openvino", "float32"), cache_key=("tiny", "r1"))


def test_a_ctrl_c_swallowed_inside_openvino_still_stops_encoding(tiny_model_dir: Path) -> None:
    """A SIGINT handled while OpenVINO runs (its bindings clear the KeyboardInterrupt they see) stops the encode."""
    model = _openvino_tiny(tiny_model_dir)
    ov_model = model[0].model
    real = ov_model.queue

    class SwallowingQueue:
        def __init__(self) -> None:
            self.started = 0

        def __len__(self) -> int:
            return len(real)

        def start_async(self, inputs, userdata) -> None:  # noqa: ANN001
            self.started += 1
            if self.started == 1:
                try:
                    signal.raise_signal(signal.SIGINT)  # Ctrl-C while the C++ side runs ...
                except KeyboardInterrupt:
                    pass  # ... and dropped there
            real.start_async(inputs, userdata)

    ov_model.queue = SwallowingQueue()
    with pytest.raises(KeyboardInterrupt):
        model.encode([f"text {i}" for i in range(64)], batch_size=64)
    assert ov_model.queue.started == 1  # stopped at the next sub-batch
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    ov_model.queue = real
    assert model.encode(["after"]).shape[0] == 1  # and the model still works


_ENCODE_FOREVER = """
import sys
from pathlib import Path
from hybrid_bench import cli
from hybrid_bench.models.inference import Inference, load_sentence_transformer

def encode_forever(argv):
    model = load_sentence_transformer(Path(sys.argv[1]), Inference("openvino", "float32"), cache_key=("tiny", "r1"))
    texts = [("word " * 120) + str(i) for i in range(512)]
    model.encode(texts[:8])
    print("encoding", flush=True)
    while True:
        model.encode(texts, batch_size=128)

cli._run = encode_forever
sys.exit(cli.main([]))
"""


def test_ctrl_c_during_openvino_encoding_exits_130_promptly(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYBRID_BENCH_HOME": str(tmp_path / "home")}
    child = subprocess.Popen([sys.executable, "-c", _ENCODE_FOREVER, str(tiny_model_dir)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "encoding", child.stderr.read()[-2000:]
        time.sleep(1)
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        took = time.monotonic() - start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130
    assert took < 5, f"took {took:.1f} s to stop"
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("hybrid-bench: interrupted")
