"""Inference backends and dtypes: auto only picks gated choices, OpenVINO matches torch, the choice is recorded in
the revision (results folder, per-query rows, resume keys) so a bf16 result is never reused as an fp32 one."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import mteb
import numpy as np
import pandas as pd
import pytest

from hybrid_bench.models import inference as I

BF16_CPU = I.CpuFacts(flags=frozenset({"avx512_bf16"}), torch_capability="AVX512", openvino=True,
                      openvino_bf16=True, cuda=False, cuda_bf16=False)
PLAIN_CPU = I.CpuFacts(flags=frozenset({"avx2"}), torch_capability="AVX2", openvino=True, openvino_bf16=False,
                       cuda=False, cuda_bf16=False)
TEXTS = ["query: wie viele Menschen leben in Berlin?", "passage: Berlin hat 3,9 Millionen Einwohner.",
         "passage: " + "lange Sätze " * 20]


def test_revision_suffix_round_trips_and_reference_keeps_plain_revision() -> None:
    choice = I.Inference("openvino", "bfloat16")
    assert choice.revision("local-abc") == "local-abc+openvino-bfloat16"
    assert I.split_revision("local-abc+openvino-bfloat16") == ("local-abc", choice)
    assert I.REFERENCE.revision("local-abc") == "local-abc"
    assert I.split_revision("local-abc") == ("local-abc", I.REFERENCE)
    assert I.split_revision(I.Inference("torch", "float16").revision(None)) == (None, I.Inference("torch", "float16"))


def test_auto_never_picks_a_choice_that_failed_the_gate() -> None:
    asked: list[str] = []

    def gate(choice: I.Inference) -> bool:
        asked.append(choice.label)
        return choice.label != "openvino-bfloat16"

    assert I.resolve(gate=gate, facts=BF16_CPU) == I.REFERENCE
    assert asked == ["openvino-bfloat16"]
    gpu = I.CpuFacts(flags=frozenset(), torch_capability="AVX2", openvino=False, openvino_bf16=False, cuda=True,
                     cuda_bf16=True)
    assert I.resolve(gate=lambda c: c.dtype != "bfloat16", facts=gpu) == I.Inference("torch", "float16")
    assert I.resolve(gate=lambda c: False, facts=BF16_CPU) == I.REFERENCE  # fp32 needs no gate
    assert I.resolve(backend="openvino", gate=lambda c: False, facts=BF16_CPU) == I.Inference("openvino", "float32")
    # without bf16 hardware nothing but the reference is a candidate: facts decide, not guesses
    assert I.candidates(PLAIN_CPU) == [I.REFERENCE]
    assert I.resolve(gate=lambda c: pytest.fail("no gate without candidates"), facts=PLAIN_CPU) == I.REFERENCE
    assert I.resolve("torch", "float16") == I.Inference("torch", "float16")  # concrete requests are taken as given


def test_unavailable_backend_is_one_clear_error() -> None:
    with pytest.raises(I.HybridBenchError, match="onnx.*optimum-onnx.*--backend openvino"):
        I.resolve("onnx", "float32")
    with pytest.raises(I.HybridBenchError, match="expected auto or <backend>-<dtype>"):
        I.parse("openvino-int3")


@pytest.mark.parametrize("builder", ["tiny", "e5_style"])
def test_openvino_matches_torch(builder: str, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from tiny_model import build_tiny_e5_style_model, build_tiny_model

    folder = build_tiny_e5_style_model(tmp_path, TEXTS) if builder == "e5_style" else (
        build_tiny_model(tmp_path, TEXTS) and tmp_path / "st")
    key = (builder, "r1")
    ref = I.load_sentence_transformer(folder, I.REFERENCE, cache_key=key).encode(TEXTS, batch_size=2)
    for choice, bound in ((I.Inference("openvino", "float32"), 0.99999), (I.Inference("openvino", "bfloat16"), 0.99),
                          (I.Inference("torch", "bfloat16"), 0.99)):
        model = I.load_sentence_transformer(folder, choice, cache_key=key)
        got = model.encode(TEXTS, batch_size=2)
        cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
        assert cos.min() > bound, (choice, cos)
    # the converted model is cached beside the store, keyed by revision, and reused
    converted = I.converted_dir(*key, I.Inference("openvino", "float32"))
    assert (converted / "openvino_model.xml").is_file()


def test_choice_is_recorded_in_results_and_never_reused_across_settings(
    tmp_path: Path, shared_data: Path
) -> None:
    pytest.importorskip("openvino")
    from tiny_model import build_tiny_model

    from hybrid_bench.evaluation import load_model, prediction_folder
    from hybrid_bench.tasks.lareqa import XQuADRHeldOutRetrieval

    store = Path(os.environ["HYBRID_BENCH_HOME"])  # the test's own model store (conftest)
    build_tiny_model(tmp_path, TEXTS)
    shutil.copytree(tmp_path / "st", store / "models" / "tiny-inf")
    (store / "models.toml").write_text('[models.tiny-inf]\nbase = "intfloat/multilingual-e5-small"\n', "utf-8")
    out = tmp_path / "out"
    written = {}
    for choice in (I.REFERENCE, I.Inference("openvino", "bfloat16")):
        model = load_model("tiny-inf", inference=choice)
        task = XQuADRHeldOutRetrieval(data_dir=shared_data).filter_languages(None, hf_subsets=["eng-eng"])
        task.set_sample(languages=["en"], max_queries=20, max_candidates=60)
        mteb.evaluate(model, [task], cache=mteb.ResultCache(out), overwrite_strategy="only-missing",
                      prediction_folder=prediction_folder(out, model), show_progress_bar=False)
        written[choice.label] = sorted(str(p.relative_to(out)) for p in out.rglob("XQuADRHeldOutRetrieval.json"))
    # the bf16 run did not reuse the fp32 result: a second result file under the suffixed revision
    assert len(written["openvino-bfloat16"]) == 2 and len(written["torch-float32"]) == 1
    [bf16_file] = set(written["openvino-bfloat16"]) - set(written["torch-float32"])
    assert "+openvino-bfloat16" in bf16_file
    saved = json.loads((out / bf16_file).read_text(encoding="utf-8"))
    assert saved["scores"]["test"][0]["hf_subset"] == "eng-eng"
    revisions = set()
    for file in out.rglob("XQuADRHeldOutRetrieval_per_query.parquet"):
        revisions |= set(pd.read_parquet(file)["revision"])
    assert any(r.endswith("+openvino-bfloat16") for r in revisions) and len(revisions) == 2


def test_models_outside_the_table_evaluate_as_the_reference() -> None:
    from hybrid_bench.evaluation import resolve_inference

    # mteb's own loaders take no backend or dtype: auto is torch float32, nothing is loaded to gate it
    assert resolve_inference("intfloat/multilingual-e5-small") == I.REFERENCE


def test_reproduce_resumes_per_inference_setting(tmp_path: Path, tiny_model_dir: Path, shared_data: Path) -> None:
    """The ledger's resume key holds the revision, so an fp32 evaluation is never taken for an OpenVINO one."""
    pytest.importorskip("openvino")
    from hybrid_bench.experiment import Preset
    from hybrid_bench.experiment.runner import reproduce

    preset = Preset(name="tiny-inf", steps=2, batch_size=4, max_seq_length=16, bf16=False, train_languages=("de", "en"),
                    languages=("de", "en"), max_queries=6, max_candidates=15, eval_max_seq_length=24, n_resamples=1000,
                    tasks=("XQuADRHeldOutRetrieval",))
    run = dict(base=str(tiny_model_dir), leaderboard_out=tmp_path / "board")
    def evaluated(summary: Any) -> dict[str, bool]:
        return {s["stage"]: s["skipped"] for s in summary.stages if s["stage"].startswith("evaluate")}

    reproduce(preset, tmp_path / "results", **run)
    choice = I.Inference("openvino", "float32")
    other = evaluated(reproduce(preset, tmp_path / "results", inference=choice, **run))
    assert other and not any(other.values())  # nothing reused from the fp32 run
    again = evaluated(reproduce(preset, tmp_path / "results", inference=choice, **run))
    assert all(again.values())  # the same setting resumes
    revisions = {p.parent.name for p in (tmp_path / "results" / "results").rglob("XQuADRHeldOutRetrieval.json")}
    assert any(r.endswith("+openvino-float32") for r in revisions) and any("+" not in r for r in revisions)


def test_bf16_training_warning_follows_the_hardware() -> None:
    """bf16 training is emulated (measured 15x slower than fp32) where neither the CPU nor the GPU has bf16."""
    assert I.bf16_training_warning(facts=BF16_CPU) is None
    assert "no native bf16" in I.bf16_training_warning(facts=PLAIN_CPU) and "fp32" in I.bf16_training_warning(
        facts=PLAIN_CPU)
    amx = I.CpuFacts(flags=frozenset({"amx_bf16"}), torch_capability="AVX512", openvino=False, openvino_bf16=False,
                     cuda=False, cuda_bf16=False)
    assert I.bf16_training_warning(facts=amx) is None
    gpu = I.CpuFacts(flags=frozenset(), torch_capability="AVX2", openvino=False, openvino_bf16=False, cuda=True,
                     cuda_bf16=True)
    old_gpu = I.CpuFacts(flags=frozenset(), torch_capability="AVX2", openvino=False, openvino_bf16=False, cuda=True,
                         cuda_bf16=False)
    assert I.bf16_training_warning(facts=gpu) is None
    assert "GPU has no bf16" in I.bf16_training_warning(facts=old_gpu)
    # training on the CPU of a GPU machine is judged by the CPU
    assert "CPU has no native bf16" in I.bf16_training_warning("cpu", facts=gpu)
