"""Encoding speed and fidelity of each inference backend / dtype against torch float32, measured in one run.

1. *throughput*: passages/s on the same seeded sample of MIRACL-lite passages over all its languages (document
   prompt, the model's own maximum length unless ``--max-seq-length``), each setting timed twice in A B … B A order,
   divided by torch float32's rate;
2. *fidelity*: the change of score against torch float32 on a fixed held-out XQuAD-R sample (mAP mono / cross /
   pool) and on a sampled MIRACL-lite (nDCG@10 of the monolingual setting), through the real tasks;
3. *overhead*: evaluation throughput (mteb's encode path, as the tasks use it) ÷ the same model's raw forward pass
   on pre-tokenised, length-sorted batches, for the fastest setting. Target ≥ 0.9.

Target: the CPU default (``auto``) ≥ 4× torch float32 with |Δ score| ≤ 0.002.

Examples:
  OMP_NUM_THREADS=2 python benchmarks/encode_throughput.py                    # me5-small, ~10 min on 2 cores
  OMP_NUM_THREADS=2 python benchmarks/encode_throughput.py --passages 64 --skip-fidelity
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybrid_bench.evaluation import load_model, resolve_inference
from hybrid_bench.models.inference import REFERENCE, Inference, candidates, cpu_facts
from hybrid_bench.paths import configured_data_dir
from hybrid_bench.tasks.encoding import encode_dataset, texts_dataset, use_persistent_cache

SETTINGS = (REFERENCE, Inference("torch", "bfloat16"), Inference("openvino", "float32"),
            Inference("openvino", "bfloat16"))


def miracl_passages(folder: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` passages sampled evenly over the mirror's languages (title + text, as mteb joins them)."""
    corpora = sorted(folder.glob("*-corpus"))
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for i, corpus in enumerate(corpora):
        frame = pd.concat(pd.read_parquet(f) for f in sorted(corpus.glob("*.parquet")))
        take = n // len(corpora) + (1 if i < n % len(corpora) else 0)
        rows = frame.iloc[rng.choice(len(frame), size=min(take, len(frame)), replace=False)]
        texts += [f"{t} {x}".strip() for t, x in zip(rows.get("title", ""), rows["text"])]
    return texts


def encode_rate(model: Any, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    model.model.encode(texts, prompt_name="document", batch_size=batch_size)
    return len(texts) / (time.perf_counter() - start)


def raw_forward_rate(model: Any, texts: list[str], batch_size: int) -> float:
    """Passages/s of the bare forward pass (transformer + pooling) on pre-tokenised, length-sorted batches."""
    import torch

    st = model.model
    prompt = st.prompts.get("document", "")
    ordered = sorted((prompt + t for t in texts), key=len, reverse=True)
    batches = [st.preprocess(ordered[i : i + batch_size]) for i in range(0, len(ordered), batch_size)]
    start = time.perf_counter()
    with torch.inference_mode():
        for features in batches:
            features.pop("modality", None)
            st(features)
    return len(texts) / (time.perf_counter() - start)


def mteb_path_rate(model: Any, texts: list[str], batch_size: int) -> float:
    """Passages/s through mteb's encode path (dataloader, prompts, wrapper), as the tasks encode."""
    from mteb.types import PromptType

    from hybrid_bench.tasks.lareqa import XQuADRHeldOutRetrieval

    start = time.perf_counter()
    encode_dataset(model, texts_dataset([str(i) for i in range(len(texts))], texts), prompt_type=PromptType.document,
                   task_metadata=XQuADRHeldOutRetrieval.metadata, hf_split="test", hf_subset="bench",
                   encode_kwargs={"batch_size": batch_size})
    return len(texts) / (time.perf_counter() - start)


def task_scores(model: Any, data_dir: Path, miracl_folder: Path, batch_size: int) -> dict[str, float]:
    from hybrid_bench.tasks.lareqa import XQuADRHeldOutRetrieval, summarize
    from hybrid_bench.tasks.miracl import MIRACLCrossLingualRetrieval

    subsets = [f"{q}-{c}" for q in ("ara", "deu", "eng", "zho") for c in ("ara", "deu", "eng", "zho", "pool")]
    xq = XQuADRHeldOutRetrieval(data_dir=data_dir).filter_languages(None, hf_subsets=subsets)
    xq.set_sample(languages=["ar", "de", "en", "zh"], max_queries=60, max_candidates=200, seed=0)
    out = {f"xquad-r held-out {k} mAP": v for k, v in
           summarize(xq.evaluate(model, "test", encode_kwargs={"batch_size": batch_size})).items() if k != "bias"}
    mir = MIRACLCrossLingualRetrieval(source=miracl_folder).filter_languages(
        None, hf_subsets=["de-mono", "sw-mono", "yo-mono", "zh-mono"])
    scores = mir.evaluate(model, "dev", encode_kwargs={"batch_size": batch_size})
    out["miracl-lite mono nDCG@10"] = float(np.mean([s["ndcg_at_10"] for s in scores.values()]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small")
    parser.add_argument("--passages", type=int, default=170, help="MIRACL-lite passages timed (default 170)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-seq-length", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=None, help="holds lareqa/ and miracl-lite/")
    parser.add_argument("--skip-fidelity", action="store_true")
    args = parser.parse_args()
    use_persistent_cache(False)  # every setting encodes for real
    data_dir = configured_data_dir(args.data_dir)
    assert data_dir is not None, "set --data-dir or HYBRID_BENCH_DATA"
    facts = cpu_facts()
    settings = [s for s in SETTINGS if s.backend != "openvino" or facts.openvino]
    print(f"machine: torch {facts.torch_capability}, bf16 CPU {facts.bf16_cpu}, OpenVINO bf16 {facts.openvino_bf16}; "
          f"auto candidates {[c.label for c in candidates(facts)]}")
    texts = miracl_passages(data_dir / "miracl-lite", args.passages)
    models = {}
    for s in settings:
        models[s] = load_model(args.model, max_seq_length=args.max_seq_length, inference=s)
        encode_rate(models[s], texts[:8], args.batch_size)  # warm-up (first-call allocations, OpenVINO compile)
    rates: dict[Inference, list[float]] = {s: [] for s in settings}
    for s in [*settings, *reversed(settings)]:  # A B C D D C B A
        rates[s].append(encode_rate(models[s], texts, args.batch_size))
    ref = np.mean(rates[REFERENCE])
    auto = resolve_inference(args.model)
    print(f"\n{len(texts)} MIRACL-lite passages, batch {args.batch_size}; auto = {auto.label}")
    for s in settings:
        print(f"  {s.label:<20} {np.mean(rates[s]):7.1f} passages/s  × {np.mean(rates[s]) / ref:5.2f} torch fp32"
              f"   (runs {', '.join(f'{r:.1f}' for r in rates[s])})")

    fast = models[auto] if auto in models else load_model(args.model, inference=auto)
    raw, through = [], []
    for _ in range(2):  # A B B A
        raw.append(raw_forward_rate(fast, texts, args.batch_size))
        through.append(mteb_path_rate(fast, texts, args.batch_size))
        through.append(mteb_path_rate(fast, texts, args.batch_size))
        raw.append(raw_forward_rate(fast, texts, args.batch_size))
    print(f"\noverhead ({auto.label}): evaluation path {np.mean(through):.1f} / raw forward {np.mean(raw):.1f} "
          f"passages/s = {np.mean(through) / np.mean(raw):.3f}   (target ≥ 0.9)")
    if args.skip_fidelity:
        return
    from hybrid_bench.data.miracl_sample import sample_miracl_mirror

    with tempfile.TemporaryDirectory() as tmp:
        folder = sample_miracl_mirror(data_dir / "miracl-lite", Path(tmp) / "miracl-sample", queries=25, fill=100,
                                      seed=0)
        scores = {s: task_scores(models[s], data_dir, folder, args.batch_size) for s in settings}
    print("\nscore change against torch float32 (target |Δ| ≤ 0.002 for the default)")
    for s in settings[1:]:
        deltas = {k: v - scores[REFERENCE][k] for k, v in scores[s].items()}
        worst = max(abs(d) for d in deltas.values())
        print(f"  {s.label:<20} " + "  ".join(f"{k} {d:+.4f}" for k, d in deltas.items()) + f"   max |Δ| {worst:.4f}")
    print("  torch-float32 values: " + "  ".join(f"{k} {v:.4f}" for k, v in scores[REFERENCE].items()))


if __name__ == "__main__":
    main()
