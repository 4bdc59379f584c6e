"""Sampler overhead: training steps/s with HybridBatchSampler ÷ with sentence-transformers' NoDuplicatesBatchSampler.

All runs in this one process train the same base model (freshly loaded for each run) on the same training dataset
(:meth:`ParallelCorpus.to_dataset`, XQuAD-R training articles by default) with the same loss
(:class:`~hybrid_bench.training.loss.HybridInfoNCELoss`), batch size, sequence length and optimiser; only the
``batch_sampler`` differs. Steps/s is measured over the steps after ``--warmup`` (a callback timestamps every step),
so model loading and the samplers' set-up are not counted; the set-up times and the samplers' own batch rates
(no model) are printed too. The runs are ordered A B B A (``--rounds 2``, the default: no-duplicates, hybrid,
hybrid, no-duplicates), so that a load on the machine that drifts during the run weighs on both samplers alike;
each sampler's steps/s is its timed steps over its timed seconds, summed over its runs.

Target: ratio ≥ 0.98 (the hybrid sampler costs at most 2% of training throughput). On a shared CPU the per-step
noise of one short run is a few percent either way; use more ``--steps`` for a tighter number.

The two samplers do not hand the model the same batches: a monolingual batch is padded to its own language's
longest text, a mixed one to the longest of many languages. So the script also counts the padded tokens of every
timed batch and prints tokens/s per sampler: if the steps/s ratio is below 1 while the tokens/s ratio is not, the
hybrid batches were bigger, not the sampler slower.

Examples:
  OMP_NUM_THREADS=2 python benchmarks/sampler_overhead.py                        # me5-small, 4 x 40 steps, batch 16
  OMP_NUM_THREADS=2 python benchmarks/sampler_overhead.py --steps 60 --batch-size 32 --bf16
  python benchmarks/sampler_overhead.py --model tiny --steps 200                 # a 2-layer model: sampler-bound
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


class StepClock(TrainerCallback):
    """Timestamps the end of every optimisation step."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.times.append(time.perf_counter())

    def timed(self, warmup: int) -> tuple[int, float]:
        """(steps, seconds) after the first ``warmup`` steps."""
        times = self.times[warmup:]
        if len(times) < 2:
            raise ValueError(f"only {len(self.times)} steps timed; use --steps greater than --warmup + 1")
        return len(times) - 1, times[-1] - times[0]


def _model_dir(name: str, corpus: Any, workdir: Path) -> Path:
    if name == "tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from tiny_model import build_tiny_model

        texts = [f"{t.query} {t.positive}" for item in corpus.items[:200] for t in item.texts.values()]
        build_tiny_model(workdir / "tiny", texts + ["query: passage:"])
        return workdir / "tiny" / "st"
    from hybrid_bench.models.bases import resolve_base

    return resolve_base(name)


def _run(sampler: Any, model_dir: Path, dataset: Any, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments

    from hybrid_bench.training.loss import HybridInfoNCELoss
    from hybrid_bench.training.base_model import column_prompts, freeze_word_embeddings

    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = args.max_seq_length
    if args.freeze_embeddings:
        freeze_word_embeddings(model)
    clock = StepClock()
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(workdir / "out"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=3e-5, warmup_steps=0, seed=args.seed, bf16=args.bf16, use_cpu=True, batch_sampler=sampler,
        prompts=column_prompts(model), save_strategy="no", logging_strategy="no", report_to="none",
        disable_tqdm=True, dataloader_pin_memory=False,
    )
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset,
                                         loss=HybridInfoNCELoss(model), callbacks=[clock])
    tokens = _count_padded_tokens(trainer)
    start = time.perf_counter()
    loader = trainer.get_train_dataloader()  # builds the sampler, as train() does
    setup_s = time.perf_counter() - start
    batch_sampler = getattr(loader.batch_sampler, "batch_sampler", loader.batch_sampler)
    start = time.perf_counter()
    n = 0
    for _ in zip(range(args.sampler_batches), batch_sampler):
        n += 1
    batches_per_s = n / (time.perf_counter() - start)
    trainer.train()
    steps, seconds = clock.timed(args.warmup)
    # batch i (0-based) is trained by step i; the timed intervals end at steps warmup+1 .. last (0-based)
    timed_tokens = sum(tokens[args.warmup + 1: args.warmup + 1 + steps])
    return {"steps": steps, "seconds": seconds, "setup_s": setup_s, "sampler_batches_per_s": batches_per_s,
            "tokens": timed_tokens}


class _CountingCollator:
    """The trainer's collator, recording every batch's padded token count (all text columns).

    Attribute access goes to the wrapped collator (the trainer reads e.g. its ``valid_label_columns``).
    """

    def __init__(self, collate: Any) -> None:
        self.collate = collate
        self.counts: list[int] = []

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collate(features)
        self.counts.append(sum(int(v.numel()) for k, v in batch.items() if k.endswith("input_ids")))
        return batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collate, name)


def _count_padded_tokens(trainer: Any) -> list[int]:
    """Make ``trainer`` record the padded tokens of every batch it collates; returns the (live) list of counts.

    The samplers compose batches differently (a monolingual batch pads to its own language's longest text), so
    steps/s mixes the sampler's cost with the cost of its batches' content; tokens/s separates the two.
    """
    trainer.data_collator = _CountingCollator(trainer.data_collator)
    return trainer.data_collator.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small", help="me5-small, tiny, a model-store name or a folder")
    parser.add_argument("--data", default="xquad-r-train", help="xquad-r-train or a .jsonl / .parquet file")
    parser.add_argument("--steps", type=int, default=40, help="training steps per run (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="A B B A rounds: each sampler trains 2 x rounds / 2 runs (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="default: %(default)s")
    parser.add_argument("--max-seq-length", type=int, default=64, help="default: %(default)s")
    parser.add_argument("--alpha", type=float, default=0.5, help="hybrid sampler's alpha (default: %(default)s)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--no-freeze-embeddings", dest="freeze_embeddings", action="store_false",
                        help="train the word embeddings too (frozen by default, as in hybrid-bench train)")
    parser.add_argument("--sampler-batches", type=int, default=200,
                        help="batches drawn from each sampler alone to time it without a model (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from sentence_transformers.base.sampler import BatchSamplers

    from hybrid_bench.training.parallel_data import load_parallel_data
    from hybrid_bench.training.sampler import HybridBatchSampler

    corpus = load_parallel_data(args.data)
    dataset = corpus.to_dataset()
    samplers = {"no_duplicates": BatchSamplers.NO_DUPLICATES, "hybrid": HybridBatchSampler.factory(alpha=args.alpha)}
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    order = [name for r in range(args.rounds) for name in (list(samplers) if r % 2 == 0 else list(samplers)[::-1])]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in samplers}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_dir = _model_dir(args.model, corpus, workdir)
        for name in order:
            runs[name].append(_run(samplers[name], model_dir, dataset, args, workdir))
            last = runs[name][-1]
            print(f"  run {name:14s} {last['steps'] / last['seconds']:.4f} steps/s", flush=True)
    print(f"model {args.model}, data {corpus.name} ({len(dataset)} rows), batch {args.batch_size}, "
          f"max length {args.max_seq_length}, runs {' '.join(order)}, {args.steps} steps each "
          f"({args.warmup} untimed), bf16={args.bf16}")
    rate, token_rate = {}, {}
    for name in samplers:
        seconds = sum(r["seconds"] for r in runs[name])
        steps = sum(r["steps"] for r in runs[name])
        rate[name] = steps / seconds
        token_rate[name] = sum(r["tokens"] for r in runs[name]) / seconds
        setup = max(r["setup_s"] for r in runs[name])
        alone = min(r["sampler_batches_per_s"] for r in runs[name])
        print(f"  {name:14s} {rate[name]:.4f} steps/s   {token_rate[name]:.0f} padded tokens/s "
              f"({token_rate[name] / rate[name]:.0f} per step)   sampler set-up <= {setup:.2f} s   "
              f"sampler alone >= {alone:.0f} batches/s")
    ratio = rate["hybrid"] / rate["no_duplicates"]
    print(f"ratio hybrid / no_duplicates steps/s: {ratio:.3f} (target >= 0.98)")
    print(f"ratio hybrid / no_duplicates padded tokens/s: {token_rate['hybrid'] / token_rate['no_duplicates']:.3f} "
          "(throughput per unit of batch content: below 1 only if the sampler itself costs time)")


if __name__ == "__main__":
    main()
