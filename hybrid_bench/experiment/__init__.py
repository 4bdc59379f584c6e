"""The paper's experiment (arXiv 2408.10536) as a small library: presets → plan → stages → leaderboard.

From one base model (``me5-small``) three retrievers are fine-tuned with *identical* data (the XQuAD-R training
articles), step budget, batch size and seed; only the batch composition differs: X-X-mono (α = 1), X-Y (α = 0) and
hybrid (α = 0.5; ``alpha_sweep`` adds 0.25 and 0.75). The base and the trained models are evaluated on the held-out
XQuAD-R articles, MLQA-R (zero-shot), MIRACL (stock mteb task, through the local data mirror) and the cross-lingual
MIRACL variant, and a leaderboard with paired bootstrap CIs is built. ``hybrid-bench reproduce`` is the command line.

Modules, in the order a run uses them:

* :mod:`~hybrid_bench.experiment.presets` — :class:`Preset` and the stock presets of ``presets.toml``;
* :mod:`~hybrid_bench.experiment.plan` — pure: the models, the ordered :class:`Stage` list of a run and what each
  stage waits for;
* :mod:`~hybrid_bench.experiment.setup` — the run settled once: its paths (``RunPaths``) and facts (``RunSpec``);
* :mod:`~hybrid_bench.experiment.ledger` — the resume ledger ``reproduce_state.json`` (atomic);
* :mod:`~hybrid_bench.experiment.train_stage`, :mod:`~hybrid_bench.experiment.eval_stage`,
  :mod:`~hybrid_bench.experiment.leaderboard_stage` — the stage implementations;
* :mod:`~hybrid_bench.experiment.stages` — the table of stage kinds (``STAGE_KINDS``) every stage is run through;
* :mod:`~hybrid_bench.experiment.engines` — where the stages run: this process, or submitit jobs (Slurm);
* :mod:`~hybrid_bench.experiment.runner` — :func:`reproduce`, which reports progress through a callback.

Example::

    from hybrid_bench.experiment import PRESETS, plan, reproduce

    for stage in plan(PRESETS["quick"], "me5-small"):
        print(stage.label)
    summary = reproduce(PRESETS["quick"], "results/reproduce-quick")
"""

from hybrid_bench.data.miracl_sample import sample_miracl_mirror
from hybrid_bench.experiment.eval_stage import build_task, load_encoder, task_qrels
from hybrid_bench.experiment.ledger import LEDGER_FILE, Ledger
from hybrid_bench.experiment.plan import ModelSpec, Stage, base_label, model_specs, plan, train_config
from hybrid_bench.experiment.presets import (DEFAULT_TASKS, LAREQA_TASKS, MIRACL_FALLBACK, MIRACL_TASKS, PRESETS,
                                             Preset)
from hybrid_bench.experiment.runner import Event, ReproduceSummary, reproduce
from hybrid_bench.experiment.train_stage import ensure_trained

__all__ = [
    "DEFAULT_TASKS",
    "LAREQA_TASKS",
    "LEDGER_FILE",
    "MIRACL_FALLBACK",
    "MIRACL_TASKS",
    "PRESETS",
    "Event",
    "Ledger",
    "ModelSpec",
    "Preset",
    "ReproduceSummary",
    "Stage",
    "base_label",
    "build_task",
    "ensure_trained",
    "load_encoder",
    "model_specs",
    "plan",
    "reproduce",
    "sample_miracl_mirror",
    "task_qrels",
    "train_config",
]
