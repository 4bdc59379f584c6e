"""``hybrid-bench reproduce``: the paper's experiment end to end — train mono / cross / hybrid, evaluate, leaderboard.

Argument parsing and printing only; the experiment itself is the library package :mod:`hybrid_bench.experiment`
(presets in ``hybrid_bench/experiment/presets.toml``). Rerunning the same command skips finished trainings and
evaluations; an interrupted training continues from its last checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any

from hybrid_bench.commands.validate import check_writable, key_value, positive_float, positive_int
from hybrid_bench.experiment.presets import EXPERIMENT_TASKS, MIRACL_FALLBACK, PRESETS
from hybrid_bench.models.inference import add_arguments as add_inference_arguments

# ---- command line ------------------------------------------------------------------------------------------------

EPILOG = """examples:
  hybrid-bench reproduce --quick                       # ≈ 5 min smoke run of the whole pipeline
  hybrid-bench reproduce                               # the full preset: 3 seeds, whole MIRACL mirror (hours; resumable)
  hybrid-bench reproduce --alpha-sweep                 # + hybrid with alpha 0.25 and 0.75 (the alpha figure)
  hybrid-bench reproduce --seeds 1                     # one training seed per strategy instead of the preset's 3
  hybrid-bench reproduce --first-seed 45 --seeds 5     # a replication: seeds 45-49 (models named ...-seed45 ...)
  hybrid-bench reproduce --miracl-pool fallback        # MIRACL on a smaller stated pool (see --help)
  hybrid-bench reproduce --quick --output-folder /tmp/r --leaderboard /tmp/r-board

on a cluster (submitit; one job per training and per evaluation; see docs/cluster.md):
  hybrid-bench reproduce --engine submitit --engine-cluster slurm --slurm-partition gpu --gpus-per-job 1 \
      --timeout-min 720 --output-folder /shared/hb/reproduce --data-dir /shared/hb/data
  hybrid-bench reproduce --quick --engine submitit --engine-cluster local --max-jobs 2   # jobs on this machine

Rerunning the same command skips finished trainings and evaluations (interrupted trainings resume from their last
checkpoint). Trained models go to the model store as mono-/cross-/hybrid-me5-small (full preset, first seed; the
other seeds add -seed43, -seed44) or ...-me5-small-quick (quick preset), so a quick run never replaces a full one.
Each model is trained and evaluated before the next starts; a committed OUTPUT_FOLDER continues in a fresh clone
without the trained models (finished models are neither retrained nor loaded; see leaderboards/README.md):
  bash scripts/main.sh --output-folder leaderboards/reproduce-seeded-results --leaderboard leaderboards/reproduce-seeded
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:
    p = subparsers.add_parser(name, help=help, description=__doc__.splitlines()[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="the quick preset: few steps, 3 languages, sampled queries and pools (≈ 5 min)")
    p.add_argument("--alpha-sweep", action="store_true", help="also train hybrid models with alpha 0.25 and 0.75")
    p.add_argument("--output-folder", type=Path, default=None,
                   help="results root (default: results/reproduce, results/reproduce-quick with --quick)")
    p.add_argument("--leaderboard", type=Path, default=None, metavar="DIR",
                   help="leaderboard folder (default: OUTPUT_FOLDER/leaderboard; the committed "
                   "leaderboards/reproduce-* are written only when named here)")
    p.add_argument("--base", default="me5-small",
                   help="base model: me5-small (default) or a sentence-transformers folder")
    p.add_argument("--steps", type=positive_int, default=None, help="override the preset's training steps")
    p.add_argument("--tasks", nargs="+", default=None, choices=list(EXPERIMENT_TASKS),
                   help="evaluate these tasks (default: the four of the paper's experiment; "
                        "MIRACLTrainTopicsRetrieval adds MIRACL's train topics on the same passages)")
    p.add_argument("--data-dir", default=None, help="local data folder (lareqa/, miracl-lite/); default $HYBRID_BENCH_DATA")
    p.add_argument("--batch-size", type=positive_int, default=32,
                   help="encoding batch size of the evaluations (default 32)")
    p.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                   help="training seeds per strategy (seed 42, 43, ...; default: the preset's, 3 for the full preset, "
                        "1 for --quick); every strategy gets the same seeds, data, steps and batch size")
    p.add_argument("--first-seed", type=int, default=None, metavar="S",
                   help="first training seed (default: the preset's, 42): seeds S, S+1, ...; a model of any seed "
                        "other than 42 is named ...-seed<N>, so a replication never reuses an earlier run's models")
    p.add_argument("--miracl-pool", choices=["mirror", "fallback"], default="mirror",
                   help="MIRACL passages: the whole mirror (default), or the fallback pool: every passage of each "
                        "language with >= 30 queries, every judged passage + 1,000 random others for the rest")
    add_inference_arguments(p)
    engine = p.add_argument_group("engine", "where the stages run: here, one after another (local, the default), or "
                                  "as submitit jobs, on Slurm or on this machine (see docs/cluster.md)")
    engine.add_argument("--engine", choices=["local", "submitit"], default="local",
                        help="local: this process; submitit: one job per training and per evaluation, in the "
                        "plan's order (a model's evaluations after its training, the leaderboard last, here)")
    engine.add_argument("--engine-cluster", choices=["auto", "slurm", "local"], default="auto",
                        help="submitit's executor: slurm, local (processes on this machine) or auto (slurm where "
                        "srun exists; default)")
    engine.add_argument("--engine-folder", type=Path, default=None, metavar="DIR",
                        help="submitit's job files and logs (default OUTPUT_FOLDER/submitit); on a cluster, like "
                        "OUTPUT_FOLDER and $HYBRID_BENCH_HOME, on a file system the nodes share")
    engine.add_argument("--max-jobs", type=positive_int, default=None, metavar="N",
                        help="at most N jobs at once (default: no limit on Slurm, 2 with --engine-cluster local)")
    engine.add_argument("--timeout-min", type=positive_int, default=None, metavar="MIN",
                        help="time limit of each job in minutes (Slurm --time; default 1440)")
    engine.add_argument("--gpus-per-job", type=positive_int, default=None, metavar="N", help="GPUs per job")
    engine.add_argument("--cpus-per-job", type=positive_int, default=None, metavar="N", help="CPU cores per job")
    engine.add_argument("--mem-gb", type=positive_float, default=None, help="memory per job (GB)")
    engine.add_argument("--slurm-partition", default=None, metavar="NAME", help="the Slurm partition")
    engine.add_argument("--slurm-option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                        help="another sbatch option, without its dashes (repeatable): --slurm-option account=proj")
    p.set_defaults(func=run)


class _Printer:
    """Shows a run's :class:`~hybrid_bench.experiment.runner.Event` s: one progress bar and one line per stage;
    the projected wall time of the whole run (``"cost"`` events) as one line once it is measured, then in the bar."""

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self.bar: Any = None
        self.texts_before = 0
        self.label = ""
        self.left = ""  # the bar's "≈ 3.2 h left"
        self.cost_said = False

    def _postfix(self) -> None:
        from hybrid_bench.display import texts_encoded

        parts = [self.label, f"{texts_encoded():,} texts encoded", self.left]
        self.bar.set_postfix_str(", ".join(p for p in parts if p))

    def __call__(self, event: Any) -> None:
        from tqdm.auto import tqdm

        if event.kind == "note":
            (self.bar.write if self.bar is not None else print)(event.text)
            return
        if self.bar is None:
            self.bar = tqdm(total=event.total, desc="reproduce", unit="stage", disable=not self.progress,
                            file=sys.stdout)
        from hybrid_bench.display import texts_encoded
        from hybrid_bench.experiment.cost import duration

        if event.kind == "cost":
            if event.wall_s is not None:
                self.left = f"≈ {duration(event.wall_s)} left"
                if not self.cost_said:  # the one line; later projections only move the bar's figure
                    self.bar.write(event.text)
                    self.cost_said = True
            self._postfix()
            return
        if event.kind == "begin":
            self.texts_before, self.label = texts_encoded(), event.label
            self._postfix()
            if event.job:
                self.bar.write(f"[{event.index}/{event.total}] {event.label}: job {event.job}")
            return
        self.bar.update(1)
        encoded = texts_encoded() - getattr(self, "texts_before", 0)
        done = "already done, skipped" if event.skipped else f"{event.wall_s:.0f} s"
        done += f", {encoded:,} texts encoded" if encoded else ""
        done = f"FAILED: {event.failed}" if event.failed else done
        self.label = ""
        self._postfix()
        self.bar.write(f"[{event.index}/{event.total}] {event.label}: {done}")
        if event.index == event.total:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from hybrid_bench.errors import HybridBenchError
    from hybrid_bench.experiment.runner import reproduce
    from hybrid_bench.experiment.setup import RunPaths

    preset = PRESETS["quick" if args.quick else "full"]
    changes: dict[str, Any] = {}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.tasks:
        changes["tasks"] = tuple(args.tasks)
    if args.seeds is not None:
        changes["seeds"] = args.seeds  # more seeds = more models under seed-suffixed names; seed 42 keeps its name
    if getattr(args, "first_seed", None) is not None:
        changes["first_seed"] = args.first_seed  # other seeds = other model names: nothing earlier is replaced
    if getattr(args, "miracl_pool", "mirror") == "fallback":
        changes.update(MIRACL_FALLBACK)  # an evaluation setting: the models (and their names) stay the same
    if changes:
        # other steps = other models: a new preset name keeps them apart from the stock preset's models
        name = f"{preset.name}-s{args.steps}" if args.steps is not None else preset.name
        preset = dataclasses.replace(preset, **changes, name=name)
        print(f"preset {preset.name!r} with {changes}")
    default_folder = Path("results") / ("reproduce" if preset.name == "full" else f"reproduce-{preset.name}")
    command = "hybrid-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    # every place the run writes, checked before hours of work
    output = args.output_folder or default_folder
    check_writable(output, "--output-folder")
    check_writable(args.leaderboard or output, "--leaderboard")
    # every path of the run, the mirrors configuration included, read here once and passed down
    locations = RunPaths.resolve(args.data_dir, configured_mirrors=True)
    check_writable(locations.home, "the model store's home ($HYBRID_BENCH_HOME)")
    engine_options = {"--engine-cluster": args.engine_cluster != "auto", "--engine-folder": args.engine_folder,
                      "--max-jobs": args.max_jobs, "--timeout-min": args.timeout_min,
                      "--gpus-per-job": args.gpus_per_job, "--cpus-per-job": args.cpus_per_job,
                      "--mem-gb": args.mem_gb, "--slurm-partition": args.slurm_partition,
                      "--slurm-option": args.slurm_option}
    given = [option for option, value in engine_options.items() if value]
    if args.engine == "local" and given:
        raise HybridBenchError(f"{', '.join(given)}: options of --engine submitit (the local engine runs every "
                               "stage in this process)")
    engine = None
    if args.engine == "submitit":
        from hybrid_bench.experiment.engines import SubmititEngine

        folder = check_writable(args.engine_folder or output / "submitit", "--engine-folder")
        engine = SubmititEngine(folder, cluster=args.engine_cluster, max_jobs=args.max_jobs,
                                timeout_min=args.timeout_min or 24 * 60, gpus_per_job=args.gpus_per_job,
                                cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb,
                                slurm_partition=args.slurm_partition, slurm_extra=dict(args.slurm_option))
        limit = f"at most {engine.max_jobs} job(s) at once" if engine.max_jobs else "no limit on jobs at once"
        print(f"engine: submitit on {engine.cluster}, {limit}; job files and logs: {folder}")
    from hybrid_bench.evaluation import resolve_inference

    # one setting for every model of the run, gated on the base model, so all arms are computed alike
    inference = resolve_inference(args.base, args.backend, args.dtype)
    print(f"evaluation inference: {inference.label}")
    printer = _Printer()
    try:
        reproduce(preset, output, base=args.base, alpha_sweep=args.alpha_sweep, leaderboard_out=args.leaderboard,
                  locations=locations, batch_size=args.batch_size, inference=inference, command=command,
                  engine=engine, on_event=printer)
    finally:
        if printer.bar is not None:
            printer.bar.close()
    return 0
