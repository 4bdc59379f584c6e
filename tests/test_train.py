"""train_model / `hybrid-bench train`: a tiny model learns, the store gets a model card, SIGKILL + --resume, fit."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from parallel_helpers import batch_kind, labels_of, synthetic_corpus, synthetic_records
from sentence_transformers import SentenceTransformer

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.training.loss import HybridInfoNCELoss
from hybrid_bench.training.records import RUN_RECORD, TRAINING_RECORD
from hybrid_bench.training.trainer import TrainConfig, checkpoint_dir, train_model

PROJECT_ROOT = Path(__file__).resolve().parent.parent
N_ITEMS = 48
TINY = {"max_seq_length": 24, "learning_rate": 2e-3, "warmup_ratio": 0.0, "batch_size": 8}


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "parallel.jsonl"
    synthetic_corpus(N_ITEMS).save(path)
    return path


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose vocabulary knows the synthetic corpus' words (so there is something to learn)."""
    from tiny_model import build_tiny_model

    texts = [f"{r['query']} {r['positive']}" for r in synthetic_records(N_ITEMS)]
    out = tmp_path_factory.mktemp("tiny-train")
    build_tiny_model(out, texts + ["query: passage:"], seed=1)
    return out / "st"


@pytest.fixture(scope="module")
def trained(base_dir: Path, corpus_file: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HYBRID_BENCH_HOME", str(home))
        config = TrainConfig(base=str(base_dir), strategy="hybrid", data=str(corpus_file), steps=40, seed=3,
                             save_steps=15, logging_steps=5, **TINY)
        result = train_model(config, "tiny-hybrid")
    return home, result


def _eval_loss(model_dir: Path, corpus_file: Path) -> float:
    """HybridInfoNCELoss of a fixed set of mono and cross batches (eval mode, no dropout)."""
    from hybrid_bench.training.parallel_data import load_parallel_data

    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = TINY["max_seq_length"]
    model.eval()
    dataset = load_parallel_data(corpus_file).to_dataset()
    loss = HybridInfoNCELoss(model)
    total = 0.0
    for q, p in ((1, 1), (0, 3), (2, 0)):  # en-en, de-ru, es-de
        rows = [i * 16 + q * 4 + p for i in range(16)]
        batch = dataset.select(rows)
        features = [model.preprocess(["query: " + t for t in batch["anchor"]]),
                    model.preprocess(["passage: " + t for t in batch["positive"]])]
        with torch.no_grad():
            total += float(loss(features, torch.tensor(batch["label"])))
    return total / 3


def test_tiny_model_loss_falls(trained, base_dir: Path, corpus_file: Path):
    _, result = trained
    before = _eval_loss(base_dir, corpus_file)
    after = _eval_loss(result.path, corpus_file)
    assert after < before - 0.3, (before, after)
    logged = [h["loss"] for h in result.record["log_history"] if "loss" in h]
    assert len(logged) == 8 and logged[-1] < logged[0]


def test_model_is_saved_into_the_store_with_a_model_card(trained, base_dir: Path, corpus_file: Path):
    home, result = trained
    assert result.path == home / "models" / "tiny-hybrid"
    assert result.global_step == 40 and result.resumed_from_step is None
    record = json.loads((result.path / TRAINING_RECORD).read_text(encoding="utf-8"))
    assert record["base"] == str(base_dir)
    assert (record["strategy"], record["alpha"], record["steps"], record["seed"]) == ("hybrid", 0.5, 40, 3)
    assert record["data"] == corpus_file.name and record["items"] == N_ITEMS
    assert record["wall_time_s"] > 0
    card = (result.path / "README.md").read_text(encoding="utf-8")
    for needle in ("## hybrid-bench training", f"| base | `{base_dir}` |", "| strategy | hybrid |",
                   "| alpha (P[monolingual batch]) | 0.5 |", f"| data | {corpus_file.name}", "| steps | 40 |",
                   "| seed | 3 |", "| wall time | "):
        assert needle in card, needle
    # per-batch-type losses are in the training log, with batch counts adding up to the logged steps
    logs = [h for h in record["log_history"] if "loss" in h]
    assert all("loss_mono" in h or "loss_cross" in h for h in logs)
    assert sum(h.get("batches_mono", 0) + h.get("batches_cross", 0) for h in logs) == 40
    assert not any("batches_mixed" in h for h in logs)
    assert not (home / "checkpoints" / "tiny-hybrid").exists()  # removed once the model is saved
    model = SentenceTransformer(str(result.path), device="cpu")
    assert model.encode(["query: en capital 1 ?"]).shape == (1, 32)
    # trained at TINY's 24 tokens, but evaluated with the base's own limit
    assert model.max_seq_length == SentenceTransformer(str(base_dir), device="cpu").max_seq_length != 24


def test_word_embeddings_stay_frozen(trained, base_dir: Path):
    _, result = trained
    base = SentenceTransformer(str(base_dir), device="cpu")[0].auto_model
    tuned = SentenceTransformer(str(result.path), device="cpu")[0].auto_model
    torch.testing.assert_close(tuned.get_input_embeddings().weight, base.get_input_embeddings().weight)
    assert not torch.allclose(tuned.encoder.layer[0].attention.self.query.weight,
                              base.encoder.layer[0].attention.self.query.weight)
    assert result.record["frozen_parameters"] == base.get_input_embeddings().weight.numel()


def _cli(args: list[str], home: Path) -> subprocess.Popen:
    env = {**os.environ, "HYBRID_BENCH_HOME": str(home), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "hybrid_bench.cli", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def e5_style_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built exactly like me5-small: pooler-less BERT, model_kwargs in sentence_bert_config.json."""
    from tiny_model import build_tiny_e5_style_model

    texts = [f"{r['query']} {r['positive']}" for r in synthetic_records(N_ITEMS)]
    return build_tiny_e5_style_model(tmp_path_factory.mktemp("tiny-e5"), texts + ["query: passage:"], seed=1)


def _model_kwargs(folder: Path) -> dict | None:
    return json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8")).get("model_kwargs")


def test_sigkill_then_resume_finishes_the_same_run(e5_style_base: Path, corpus_file: Path, tmp_path: Path):
    """Issue 12.1: on a base built like me5-small, a run killed with SIGKILL and resumed ends with the step count,
    losses and weights of an uninterrupted run; no checkpoint or saved model loses the base's loading kwargs."""
    from safetensors.torch import load_file

    assert _model_kwargs(e5_style_base) == {"add_pooling_layer": False}
    home = tmp_path / "home"
    steps = 400
    args = ["train", "--base", str(e5_style_base), "--data", str(corpus_file), "--strategy", "hybrid", "--steps",
            str(steps), "--batch-size", "8", "--save-steps", "20", "--logging-steps", "20", "--max-seq-length", "24",
            "--lr", "1e-3", "--seed", "5", "--out", "killed"]
    ckpts = home / "checkpoints" / "killed"
    process = _cli(args, home)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (ckpts / "checkpoint-40" / RUN_RECORD).is_file():
                break
            time.sleep(0.01)
        assert process.poll() is None, "training ended before it could be killed: " + process.stdout.read()[-2000:]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (home / "models" / "killed").exists()  # killed mid-training, before the model was saved
    complete = sorted(int(p.name.split("-")[1]) for p in ckpts.glob("checkpoint-*") if (p / RUN_RECORD).is_file())
    assert complete and complete[-1] >= 40 and complete[-1] < steps
    last = ckpts / f"checkpoint-{complete[-1]}"
    assert _model_kwargs(last) == {"add_pooling_layer": False}
    assert not any(k.startswith("pooler.") for k in load_file(last / "model.safetensors"))

    # without --resume the interrupted run is protected
    again = _cli(args, home)
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 1 and "pass --resume to continue it" in out

    resumed = _cli([*args, "--resume"], home)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out[-3000:]
    assert f"{steps} steps in" in out and f"(resumed from step {complete[-1]})" in out
    model_dir = home / "models" / "killed"
    record = json.loads((model_dir / TRAINING_RECORD).read_text(encoding="utf-8"))
    assert record["steps"] == steps and record["resumed_from_step"] == complete[-1]
    # the log continues the interrupted run's log (trainer state restored), one entry every 20 steps
    assert [h["step"] for h in record["log_history"] if "loss" in h] == list(range(20, steps + 1, 20))
    assert record["wall_time_s"] > 0
    assert not ckpts.exists()
    assert _model_kwargs(model_dir) == {"add_pooling_layer": False}
    model = SentenceTransformer(str(model_dir), device="cpu")
    assert getattr(model[0].auto_model, "pooler", None) is None  # no random pooler created on load
    assert model.encode(["query: de hauptstadt 0 ?"]).shape == (1, 32)

    # the resumed run is the uninterrupted run: same batches, schedule and random state after the checkpoint
    config = TrainConfig(base=str(e5_style_base), strategy="hybrid", data=str(corpus_file), steps=steps,
                         batch_size=8, save_steps=20, logging_steps=20, max_seq_length=24, learning_rate=1e-3, seed=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home-straight"))
        straight = train_model(config, "straight")
    assert straight.global_step == record["steps"]
    resumed_log = [(h["step"], h["loss"]) for h in record["log_history"] if "loss" in h]
    straight_log = [(h["step"], h["loss"]) for h in straight.record["log_history"] if "loss" in h]
    assert resumed_log == straight_log
    resumed_weights = load_file(model_dir / "model.safetensors")
    straight_weights = load_file(straight.path / "model.safetensors")
    assert resumed_weights.keys() == straight_weights.keys()
    assert all(torch.equal(resumed_weights[k], straight_weights[k]) for k in resumed_weights)


def test_refuses_bad_requests(base_dir: Path, corpus_file: Path, trained, monkeypatch: pytest.MonkeyPatch):
    from hybrid_bench.cli import main

    home, result = trained
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(home))
    config = TrainConfig(base=str(base_dir), data=str(corpus_file), steps=4, **TINY)
    with pytest.raises(HybridBenchError, match="already exists.*--overwrite"):
        train_model(config, "tiny-hybrid")
    with pytest.raises(HybridBenchError, match="invalid model name"):
        train_model(config, "../escape")
    # the trainer (a lower layer) does not resolve names: the caller passes where the base is
    with pytest.raises(HybridBenchError, match="'me5-small' is a name.*resolve_base"):
        train_model(TrainConfig(base="me5-small", data=str(corpus_file), steps=4, **TINY), "named")
    assert not checkpoint_dir("named").exists()
    with pytest.raises(HybridBenchError, match="--alpha only applies to the hybrid strategy"):
        TrainConfig(strategy="mono", alpha=0.3)
    with pytest.raises(HybridBenchError, match="unknown strategy"):
        TrainConfig(strategy="xy")
    assert main(["train", "--strategy", "cross", "--alpha", "0.5", "--out", "x"]) == 1
    # a resumed run must have the interrupted run's settings
    ckpt = checkpoint_dir("half-done")
    ckpt.mkdir(parents=True)
    (ckpt / "run_config.json").write_text(json.dumps({**config.to_dict(), "seed": 999}), encoding="utf-8")
    with pytest.raises(HybridBenchError, match=r"--resume needs the settings of the interrupted run \(seed: was 999"):
        train_model(config, "half-done", resume=True)


def test_mono_and_cross_strategies_train_only_their_batch_type(base_dir: Path, corpus_file: Path):
    for strategy, kind in (("mono", "loss_mono"), ("cross", "loss_cross")):
        config = TrainConfig(base=str(base_dir), strategy=strategy, data=str(corpus_file), steps=6,
                             logging_steps=3, save_steps=100, **TINY)
        result = train_model(config, f"tiny-{strategy}")
        logs = [h for h in result.record["log_history"] if "loss" in h]
        assert all(set(h) & {"loss_mono", "loss_cross"} == {kind} for h in logs), logs
        assert result.record["alpha"] == {"mono": 1.0, "cross": 0.0}[strategy]


def test_quiet_training_draws_no_bar_and_warns_of_nothing(base_dir: Path, corpus_file: Path,
                                                          capfd: pytest.CaptureFixture[str],
                                                          caplog: pytest.LogCaptureFixture):
    """What ``reproduce`` calls: its own bar is the only one, and "resume when you can" finding nothing is no news."""
    config = TrainConfig(base=str(base_dir), data=str(corpus_file), steps=3, logging_steps=1, save_steps=100, **TINY)
    with caplog.at_level(logging.INFO, logger="hybrid_bench"):
        result = train_model(config, "tiny-quiet", resume=True, quiet=True)
    shown = capfd.readouterr()
    assert result.global_step == 3 and shown.out == ""
    # no bar of the trainer's (steps) or of its model-card callback; model loading / saving bars are the
    # libraries' own, switched off by the CLI for the whole process (hybrid_bench.display.configure)
    assert "/3 [" not in shown.err and "Computing widget examples" not in shown.err, shown.err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
    assert any("no earlier run" in r.getMessage() for r in caplog.records)  # said, as detail
    assert json.loads((result.path / "config_sentence_transformers.json").read_text(encoding="utf-8"))


def test_bf16_trains_on_cpu(base_dir: Path, corpus_file: Path):
    # transformers refuses bf16=True on a machine without a bf16 GPU unless use_cpu is set
    config = TrainConfig(base=str(base_dir), data=str(corpus_file), steps=3, bf16=True, logging_steps=1,
                         save_steps=100, **TINY)
    result = train_model(config, "tiny-bf16")
    assert result.global_step == 3 and result.record["config"]["bf16"] is True
    assert "| bf16 | True |" in (result.path / "README.md").read_text(encoding="utf-8")


def test_model_fit_trains_with_the_loss_but_drops_the_hybrid_sampler(base_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch, caplog):
    """What the README says about the deprecated ``model.fit``: the loss (with its masks) works, the hybrid
    batching does not: fit rebuilds the data and batches it at random (warning about the custom batch sampler)."""
    from sentence_transformers import InputExample
    from torch.utils.data import DataLoader

    from hybrid_bench.training.sampler import HybridBatchSampler

    monkeypatch.chdir(tmp_path)  # fit writes its default checkpoint folder under the working directory
    dataset = synthetic_corpus(N_ITEMS).to_dataset()
    examples = [InputExample(texts=[r["anchor"], r["positive"]], label=r["label"]) for r in dataset]
    class SpyLoss(HybridInfoNCELoss):
        label_shapes: list[tuple[int, ...]] = []

        def compute_loss_from_embeddings(self, embeddings, labels):
            self.label_shapes.append(None if labels is None else tuple(labels.shape))
            return super().compute_loss_from_embeddings(embeddings, labels)

    model = SentenceTransformer(str(base_dir), device="cpu")
    loss = SpyLoss(model)
    sampler = HybridBatchSampler(dataset, 8, alpha=0.5, seed=0)
    labels = labels_of(dataset)
    assert {batch_kind(labels, b) for b in sampler} <= {"mono", "cross"}  # what the trainer would have used
    loader = DataLoader(examples, batch_sampler=sampler)
    with caplog.at_level(logging.WARNING):
        model.fit(train_objectives=[(loader, loss)], epochs=1, steps_per_epoch=8, warmup_steps=0,
                  show_progress_bar=False)
    assert any("custom `batch_sampler`" in r.getMessage() for r in caplog.records)
    assert loss.label_shapes == [(8, 5)] * 8  # the loss got each batch's labels (fit made a 'label' column) ...
    counts = loss.pop_batch_type_losses()
    assert sum(v for k, v in counts.items() if k.startswith("batches_")) == 8
    assert counts.get("batches_mixed", 0) >= 6  # ... but batches mixing mono and cross pairs: no hybrid batching


def test_hub_id_base_offline_is_one_clear_error(corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]):
    """The paper's bases are hub ids: accepted as --base, and offline the failure says how to use a local copy."""
    from hybrid_bench.cli import main
    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.bases import resolve_base

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_base("FacebookAI/xlm-roberta-base") == "FacebookAI/xlm-roberta-base"
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_base("no-such-model")
    code = main(["train", "--base", "FacebookAI/xlm-roberta-base", "--data", str(corpus_file), "--steps", "1",
                 "--out", "hybrid-xlmr"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert "'FacebookAI/xlm-roberta-base' could not be loaded from the Hugging Face hub" in err[0]
    assert "--base DIR" in err[0]
    assert not (tmp_path / "home" / "models" / "hybrid-xlmr").exists()


def test_base_without_prompts_gets_the_papers_prefixes(corpus_file: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    from tiny_model import build_tiny_model

    from hybrid_bench.training.base_model import PAPER_PROMPTS

    texts = [f"{r['query']} {r['positive']}" for r in synthetic_records(N_ITEMS)]
    build_tiny_model(tmp_path / "bare", texts + ["Query: Passage:"], seed=1, prompts={})
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    config = TrainConfig(base=str(tmp_path / "bare" / "st"), data=str(corpus_file), steps=2, save_steps=100,
                         **TINY)
    result = train_model(config, "tiny-prefixed")
    assert SentenceTransformer(str(result.path)).prompts == PAPER_PROMPTS


def test_plan_for_the_paper_preset_loads_no_model(corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]):
    """`train --preset paper --plan`: the paper's settings, the data it reads, and no model loaded, no hub access."""
    import huggingface_hub
    import sentence_transformers

    from hybrid_bench.cli import main

    def forbidden(*args, **kwargs):
        raise AssertionError("--plan must not load a model or contact the hub")

    monkeypatch.setattr(sentence_transformers.SentenceTransformer, "__init__", forbidden)
    for name in ("hf_hub_download", "snapshot_download", "model_info"):
        monkeypatch.setattr(huggingface_hub, name, forbidden)
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    code = main(["train", "--preset", "paper", "--data", str(corpus_file), "--out", "hybrid-xlmr", "--plan",
                 "--batch-size", "16"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "plan for model 'hybrid-xlmr' (preset paper)" in out
    assert "base: FacebookAI/xlm-roberta-base (a Hugging Face repo, downloaded when training starts)" in out
    assert f"data: {corpus_file} -> parallel.jsonl, {N_ITEMS} items, languages de, en, es, ru" in out
    # the preset's optimiser, the command line's batch size (it wins), all weights trained
    assert "AdamW lr 3e-05, weight decay 0.01, warm-up 10%, 300 steps of batch 16" in out
    assert "word embeddings trained" in out
    assert not (tmp_path / "home" / "models").exists() and not (tmp_path / "home" / "checkpoints").exists()
    assert main(["train", "--preset", "paper", "--base", "sentence-transformers/LaBSE", "--data", str(corpus_file),
                 "--out", "hybrid-labse", "--plan"]) == 0
    assert "batch 100" in capsys.readouterr().out


def test_device_auto_and_fp16_needs_a_gpu(base_dir: Path, corpus_file: Path):
    from hybrid_bench.training.base_model import choose_device

    assert choose_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert choose_device("auto") == "cuda"
    else:
        assert choose_device("auto") in ("mps", "cpu")
        with pytest.raises(HybridBenchError, match="fp16 needs a CUDA GPU"):
            train_model(TrainConfig(base=str(base_dir), data=str(corpus_file), steps=2, fp16=True, **TINY), "fp16",
                        device="auto")
    with pytest.raises(HybridBenchError, match="one of fp16 and bf16"):
        TrainConfig(fp16=True, bf16=True)


def test_cli_prints_one_readable_summary_line(base_dir: Path, corpus_file: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    """``hybrid-bench train`` ends with one line (steps, wall time, s/step, final loss, where saved), its loss lines
    are readable, and the trainer's raw metrics dict (``{'train_runtime': ...}``) is not printed."""
    from hybrid_bench.cli import main

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    argv = ["train", "--base", str(base_dir), "--data", str(corpus_file), "--steps", "4", "--logging-steps", "2",
            "--save-steps", "100", "--max-seq-length", "24", "--batch-size", "8", "--out", "tiny-summary"]
    assert main(argv) == 0
    shown = capfd.readouterr()
    both = shown.out + shown.err
    assert "train_runtime" not in both and "{'loss'" not in both, both[-2000:]
    assert re.search(r"step 2/4: loss \d+\.\d{4} \(mono \d+\.\d{4}, cross \d+\.\d{4}\), lr ", shown.out), shown.out[-2000:]
    [summary] = [line for line in shown.out.splitlines() if "steps in" in line]
    record = json.loads((tmp_path / "home" / "models" / "tiny-summary" / TRAINING_RECORD).read_text(encoding="utf-8"))
    last = [h for h in record["log_history"] if "loss" in h][-1]
    match = re.fullmatch(r"tiny-summary: 4 steps in (\d+) s \((\d+\.\d\d) s/step\), final loss (\d+\.\d{4}) "
                         r"\(step 4\); saved to (.+)", summary)
    assert match, summary
    assert float(match[2]) == pytest.approx(record["wall_time_s"] / 4, abs=0.006)
    assert float(match[3]) == pytest.approx(last["loss"], abs=5e-5) and last["step"] == 4
    assert Path(match[4]) == tmp_path / "home" / "models" / "tiny-summary"
