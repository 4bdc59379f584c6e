"""``hybrid-bench encode``: encode tasks' corpora into the embedding cache, sharded over processes / devices.

Run under ``torchrun --nproc_per_node N`` (or as N processes with ``RANK`` / ``WORLD_SIZE`` set and one
``HYBRID_BENCH_HOME``): each rank encodes its contiguous share of every corpus on its own device and writes it to
the persistent embedding cache; with torchrun, rank 0 then waits for every rank and checks that the cache holds
every passage. A later ``hybrid-bench eval`` (or ``mteb run``) with the same model and options encodes no passage
and searches the cached embeddings chunk by chunk. See :mod:`hybrid_bench.tasks.sharding`.
"""

from __future__ import annotations

import argparse
from typing import Any

from hybrid_bench.commands.validate import positive_int
from hybrid_bench.models.inference import add_arguments as add_inference_arguments

EPILOG = """examples:
  # two GPUs (or two CPU processes) share the Swahili and Yoruba MIRACL corpora, then one process evaluates
  torchrun --standalone --nproc_per_node 2 -m hybrid_bench.cli encode -m hybrid-xlmr -t MIRACLRetrieval -l swa yor
  hybrid-bench eval -m hybrid-xlmr -t MIRACLRetrieval -l swa yor
  # one share of four, e.g. one Slurm array task per share (same HYBRID_BENCH_HOME on a shared file system)
  hybrid-bench encode -m me5-small -t MIRACLCrossLingualRetrieval -l deu --rank 2 --world-size 4

The options that change embeddings (--max-seq-length, --backend, --dtype) must be those of the later eval, or it
finds nothing cached. Tasks whose documents are not cached (LAReQA: small pools) are skipped with a note.
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:  # noqa: ANN401
    p = subparsers.add_parser(name, help=help, description=__doc__, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-m", "--model", required=True, help="model name (see `hybrid-bench models list`) or a local folder")
    p.add_argument("-t", "--tasks", nargs="+", default=["MIRACLRetrieval"],
                   help="mteb task names (default: MIRACLRetrieval)")
    p.add_argument("-l", "--languages", nargs="+", default=None, help="ISO 639-3 codes, as for eval (e.g. swa yor)")
    p.add_argument("--hf-subsets", nargs="+", default=None, help="encode only these subsets' corpora")
    p.add_argument("--batch-size", type=positive_int, default=64, help="encoding batch size (default 64)")
    p.add_argument("--max-seq-length", type=positive_int, default=None, metavar="N",
                   help="cut inputs at N tokens (default: the model's own limit); must match the later eval")
    p.add_argument("--encode-chunk", type=positive_int, default=None, metavar="N",
                   help="passages per model call and per cache shard (default 16384)")
    p.add_argument("--rank", type=int, default=None, help="this process's share (default: $RANK, else 0)")
    p.add_argument("--world-size", type=positive_int, default=None,
                   help="number of shares (default: $WORLD_SIZE, else 1)")
    add_inference_arguments(p)
    p.set_defaults(func=run)


def _peak_gpu_memory() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"


def run(args: argparse.Namespace) -> int:
    from hybrid_bench.data.mirrors import check_task_mirror
    from hybrid_bench.errors import HybridBenchError
    from hybrid_bench.evaluation import (
        cap_max_seq_length,
        effective_max_seq_length,
        load_model,
        load_tasks,
        resolve_inference,
    )
    from hybrid_bench.tasks import sharding

    env = sharding.Shard.from_env()
    shard = sharding.Shard(env.rank if args.rank is None else args.rank,
                           env.world_size if args.world_size is None else args.world_size)
    who = f"rank {shard.rank}/{shard.world_size}"
    tasks = load_tasks(args.tasks, args.languages, args.hf_subsets)
    for task in tasks:
        check_task_mirror(task)  # bad data fails before the model loads
    inference = resolve_inference(args.model, args.backend, args.dtype)
    model = load_model(args.model, inference=inference)
    cap_max_seq_length(model, effective_max_seq_length(model, args.max_seq_length))
    encode_kwargs = {"batch_size": args.batch_size, "show_progress_bar": args.verbose}
    jobs, reports = [], []
    for task in tasks:
        found = sharding.corpora(task)
        if not found:
            print(f"{who}: {task.metadata.name}: skipped (its evaluation encodes its documents itself)")
        jobs += found
    for job in jobs:
        report = sharding.encode_share(model, job, shard, encode_kwargs=encode_kwargs,
                                       encode_chunk=args.encode_chunk)
        reports.append(report)
        print(f"{who}: {job.label}: rows {report.rows.start:,}-{report.rows.stop:,} of {report.total:,}, "
              f"{report.encoded:,} encoded in {report.seconds:.1f} s")
    encoded, seconds = sum(r.encoded for r in reports), sum(r.seconds for r in reports)
    peak = _peak_gpu_memory()
    rate = f"{encoded / seconds:,.1f} passages/s" if encoded and seconds else "all cached already"
    print(f"{who}: {encoded:,} passages encoded in {seconds:.1f} s ({rate}), inference {inference.label}"
          + (f", peak GPU memory {peak}" if peak else ""))
    try:
        if sharding.barrier(shard) and shard.rank == 0:
            for job in jobs:
                absent = sharding.missing_rows(model, job)
                if absent:
                    raise HybridBenchError(f"{job.label}: {absent:,} of {len(job.dataset):,} passages are missing "
                                           "from the embedding cache after every rank finished (see the ranks' "
                                           "warnings); rerun the command to encode them")
            print(f"merged: every passage of {len(jobs)} corpora is in the embedding cache "
                  f"({shard.world_size} ranks)")
        elif shard.world_size > 1 and not shard.coordinated:
            print(f"{who}: share written; once all {shard.world_size} shares are, `hybrid-bench eval` with the same "
                  "options reads them all")
    finally:
        sharding.finish()
    return 0
