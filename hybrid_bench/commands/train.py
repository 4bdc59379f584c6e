"""``hybrid-bench train``: fine-tune a retriever with mono / cross / hybrid batches (arXiv 2408.10536).

Thin command-line layer over :func:`hybrid_bench.training.trainer.train_model`; see that module for where
checkpoints and the finished model go.
"""

from __future__ import annotations

import argparse
import sys

from hybrid_bench import paths
from hybrid_bench.commands.validate import check_writable, fraction, positive_float, positive_int
from hybrid_bench.training.records import STRATEGIES
from hybrid_bench.training.presets import TRAINING_PRESETS
from hybrid_bench.training.config import TrainConfig

EPILOG = """examples:
  hybrid-bench train --preset paper --data mmarco_plus_qa.jsonl --out hybrid-xlmr --plan   # show, load nothing
  hybrid-bench train --preset paper --data mmarco_plus_qa.jsonl --fp16 --out hybrid-xlmr   # the paper's recipe
  hybrid-bench train --base me5-small --strategy hybrid --alpha 0.5 --steps 300 --bf16 --out hybrid-me5-small
  hybrid-bench train --base me5-small --strategy mono --steps 300 --out mono-me5-small
  hybrid-bench train --base me5-small --strategy cross --data my_parallel.jsonl --languages en de ar --out xy
  hybrid-bench train ... --out hybrid-me5-small --resume      # continue after an interruption (same options)

strategies: mono = every batch monolingual (alpha 1, the paper's X-X-mono); cross = every batch cross-lingual
(alpha 0, X-Y, each example with its own language pair); hybrid = monolingual with probability alpha (0.5).

The model is saved to $HYBRID_BENCH_HOME/models/NAME (see `hybrid-bench models list`); checkpoints go to
$HYBRID_BENCH_HOME/checkpoints/NAME every --save-steps steps and are removed once the model is saved.
Training data: `xquad-r-train` (the XQuAD-R training articles, all 11 languages), a .jsonl / .parquet file with
one record per item and language: {"id", "lang", "query", "positive"[, "negative"]}, or an mMARCO-style folder
(triples.train.ids.small.tsv + google/queries/train + google/collections; --languages required; see
hybrid_bench.training.mmarco, whose convert_mmarco() writes such a folder out as a .jsonl to pick a subset).
"""

_DEFAULTS = TrainConfig()


def add_parser(subparsers: argparse._SubParsersAction, name: str, help: str) -> None:
    parser = subparsers.add_parser(
        name, help=help, description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group("what to train")
    what.add_argument("--preset", choices=sorted(TRAINING_PRESETS), default=None,
                      help="paper = the paper's recipe: base FacebookAI/xlm-roberta-base (or --base "
                      "sentence-transformers/LaBSE), AdamW lr 3e-5, weight decay 0.01, batch 100, all weights "
                      "trained; options given here win")
    what.add_argument("--base", default=None,
                      help="base model: me5-small, a model-store name, a sentence-transformers folder or a Hugging Face "
                      "repo id such as FacebookAI/xlm-roberta-base (downloaded; prefixes 'Query: ' / 'Passage: ' "
                      "when the base has no prompts) (default: me5-small, or the preset's)")
    what.add_argument("--strategy", choices=sorted(STRATEGIES), default=_DEFAULTS.strategy,
                      help="batch strategy (default: %(default)s)")
    what.add_argument("--alpha", type=fraction, default=None,
                      help="hybrid only: probability that a batch is monolingual (default: 0.5)")
    what.add_argument("--out", required=True, metavar="NAME", help="name of the new model in the model store")
    what.add_argument("--data", default=_DEFAULTS.data, metavar="SOURCE",
                      help="xquad-r-train, PATH.jsonl, PATH.parquet or an mMARCO-style folder (default: %(default)s)")
    what.add_argument("--languages", nargs="+", metavar="LANG", default=None,
                      help="train on these languages only (default: all in the data)")
    what.add_argument("--hard-negatives", action="store_true",
                      help="xquad-r-train: add a same-paragraph hard negative to every example")
    what.add_argument("--data-dir", default=None, help="local LAReQA data folder (else $HYBRID_BENCH_DATA / cache)")

    how = parser.add_argument_group("optimisation")
    how.add_argument("--steps", type=positive_int, default=_DEFAULTS.steps,
                     help="training steps (default: %(default)s)")
    how.add_argument("--batch-size", type=positive_int, default=None,
                     help=f"examples per batch and process (default: {_DEFAULTS.batch_size})")
    how.add_argument("--lr", type=positive_float, default=None,
                     help=f"peak AdamW learning rate (default: {_DEFAULTS.learning_rate}, as in the paper)")
    how.add_argument("--weight-decay", type=float, default=None, help=f"default: {_DEFAULTS.weight_decay}")
    how.add_argument("--warmup-ratio", type=fraction, default=_DEFAULTS.warmup_ratio, help="default: %(default)s")
    how.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="default: %(default)s")
    how.add_argument("--scale", type=positive_float, default=_DEFAULTS.scale,
                     help="loss scale = 1 / temperature (default: %(default)s)")
    how.add_argument("--symmetric", action="store_true", help="add the passage-to-query InfoNCE term")
    how.add_argument("--mini-batch-size", type=int, default=None, metavar="N",
                     help="cached (GradCache) loss: embed N texts at a time, so --batch-size can exceed memory "
                     "(same loss and gradients; about one extra forward pass per step)")
    how.add_argument("--gather-across-devices", action=argparse.BooleanOptionalAction,
                     default=_DEFAULTS.gather_across_devices,
                     help="multi-process runs: every rank's passages are negatives for every query (the global "
                     "batch) (default: on)")
    how.add_argument("--language-sampling", choices=("uniform", "proportional"), default=_DEFAULTS.language_sampling,
                     help="draw languages / language pairs uniformly or by item count (default: %(default)s)")
    how.add_argument("--max-seq-length", type=positive_int, default=_DEFAULTS.max_seq_length,
                     help="token limit of queries and passages (default: %(default)s)")
    how.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=None,
                     help="keep the word-embedding matrix fixed (default: frozen, faster on CPU; the paper preset "
                     "trains it)")
    how.add_argument("--bf16", action="store_true",
                     help="bfloat16 autocast (about 2x faster on CPUs with AMX / AVX512-BF16, ~15x slower without)")
    how.add_argument("--fp16", action="store_true", help="float16 autocast with loss scaling (CUDA GPUs)")
    how.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"),
                     help="auto = cuda, then mps, then cpu (default: %(default)s)")

    run = parser.add_argument_group("run control")
    run.add_argument("--save-steps", type=positive_int, default=_DEFAULTS.save_steps,
                     help="checkpoint every N steps (default: %(default)s)")
    run.add_argument("--logging-steps", type=positive_int, default=_DEFAULTS.logging_steps,
                     help="log losses every N steps (default: %(default)s)")
    run.add_argument("--resume", action="store_true",
                     help="continue the interrupted run of --out from its last complete checkpoint")
    run.add_argument("--overwrite", action="store_true",
                     help="replace an existing model NAME and discard old checkpoints")
    run.add_argument("--plan", action="store_true",
                     help="print what would be trained and the data it reads, then stop (loads no model)")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from hybrid_bench.models.bases import resolve_base
    from hybrid_bench.training.trainer import train_model

    check_writable(paths.home_dir(), "the model store's home ($HYBRID_BENCH_HOME)")  # before the work

    # an option given on the command line, else the preset's value, else TrainConfig's default
    preset = dict(TRAINING_PRESETS[args.preset]) if args.preset else {}
    given = {"base": args.base, "batch_size": args.batch_size, "learning_rate": args.lr,
             "weight_decay": args.weight_decay, "freeze_embeddings": args.freeze_embeddings}
    chosen = {key: value if value is not None else preset.get(key, getattr(_DEFAULTS, key))
              for key, value in given.items()}
    config = TrainConfig(
        **chosen, strategy=args.strategy, alpha=args.alpha, data=args.data,
        languages=tuple(args.languages) if args.languages else None, hard_negatives=args.hard_negatives,
        steps=args.steps, warmup_ratio=args.warmup_ratio, seed=args.seed, max_seq_length=args.max_seq_length,
        bf16=args.bf16, fp16=args.fp16, scale=args.scale, symmetric=args.symmetric,
        mini_batch_size=args.mini_batch_size, gather_across_devices=args.gather_across_devices,
        language_sampling=args.language_sampling, save_steps=args.save_steps, logging_steps=args.logging_steps,
    )
    if args.plan:
        return _print_plan(config, args)
    base_path = resolve_base(config.base)  # cheap: a wrong --base fails before data and model are loaded
    if config.bf16:
        from hybrid_bench.models.inference import bf16_training_warning

        if warning := bf16_training_warning(args.device):
            print(f"warning: {warning}", file=sys.stderr)
    result = train_model(config, args.out, resume=args.resume, overwrite=args.overwrite, base_path=base_path,
                         data_dir=args.data_dir, device=args.device)
    from hybrid_bench.training.callbacks import summary_line

    print(summary_line(args.out, result.path, result.global_step, result.wall_time_s,
                       result.record.get("log_history", []), result.resumed_from_step))
    return 0


def _print_plan(config: TrainConfig, args: argparse.Namespace) -> int:
    """``--plan``: the run's settings, where the base comes from and the data it reads; no model is loaded."""
    from hybrid_bench.training.base_model import folder_or_hub_id
    from hybrid_bench.training.parallel_data import load_parallel_data

    where = folder_or_hub_id(config.base)
    source = ("a Hugging Face repo, downloaded when training starts" if isinstance(where, str)
              else f"the folder {where}" if where is not None
              else "a model name, resolved when training starts (hybrid-bench models path NAME)")
    corpus = load_parallel_data(config.data, languages=config.languages, hard_negatives=config.hard_negatives,
                                data_dir=args.data_dir, seed=config.seed)
    print(f"plan for model {args.out!r}" + (f" (preset {args.preset})" if args.preset else ""))
    print(f"  base: {config.base} ({source})")
    print(f"  strategy: {config.strategy}, alpha {config.resolved_alpha}")
    print(f"  data: {config.data} -> {corpus.name}, {len(corpus)} items, languages {', '.join(corpus.languages)}")
    print(f"  optimiser: AdamW lr {config.learning_rate}, weight decay {config.weight_decay}, warm-up "
          f"{config.warmup_ratio:.0%}, {config.steps} steps of batch {config.batch_size}"
          + (f" (mini-batches of {config.mini_batch_size})" if config.mini_batch_size else ""))
    print(f"  precision: {'bf16' if config.bf16 else 'fp16' if config.fp16 else 'fp32'}, device {args.device}, "
          f"word embeddings {'frozen' if config.freeze_embeddings else 'trained'}, max {config.max_seq_length} tokens")
    print(f"  output: {paths.models_dir() / args.out}; checkpoints every {config.save_steps} steps")
    return 0


run = run_command
