"""The files a training run leaves on disk, and the strategies they name: one owner for both.

* :data:`TRAINING_RECORD` (``hybrid_bench_training.json``) in a trained model's folder: base, strategy, α, data,
  steps, seed, wall time, the full config and the training log. The model registry reads it to register models
  that ``hybrid-bench train`` made; the experiment reads it to decide whether a model is already trained.
* :data:`RUN_RECORD` (``hybrid_bench_run.json``) in a checkpoint folder, written after the trainer finished
  saving it: its presence marks a complete checkpoint; it holds the global step and the wall time so far.
* :data:`RUN_CONFIG` (``run_config.json``) in a run's checkpoint folder: the settings a resumed run must repeat.

All are JSON, written atomically (:mod:`hybrid_bench.io`). This module imports nothing heavy, so the registry and
the CLI can read records without importing torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.io import atomic_write_text

__all__ = [
    "RUN_CONFIG",
    "append_model_card",
    "RUN_RECORD",
    "STRATEGIES",
    "TRAINING_RECORD",
    "StrategyOf",
    "complete_checkpoints",
    "read_run_record",
    "resolve_alpha",
    "stale_run",
    "read_training_record",
    "write_run_record",
    "write_training_record",
]

#: α of each batch strategy: the probability that a batch is monolingual (hybrid: the paper's best, unless given).
STRATEGIES: dict[str, float] = {"mono": 1.0, "cross": 0.0, "hybrid": 0.5}
TRAINING_RECORD = "hybrid_bench_training.json"
RUN_RECORD = "hybrid_bench_run.json"
RUN_CONFIG = "run_config.json"


def resolve_alpha(strategy: str | None, alpha: float | None = None) -> float | None:
    """P(monolingual batch) of a strategy: ``alpha`` when given, else the strategy's own (:data:`STRATEGIES`);
    ``None`` for no strategy (an untrained base model)."""
    if strategy is None:
        return None
    return alpha if alpha is not None else STRATEGIES[strategy]


class StrategyOf:
    """Mixin for what names a training strategy (a planned model, an arm of the leaderboard): ``strategy`` is
    ``None`` for an untrained base, ``alpha`` an explicit P(monolingual batch) or ``None`` for the strategy's own."""

    strategy: str | None
    alpha: float | None

    @property
    def is_base(self) -> bool:
        return self.strategy is None

    @property
    def resolved_alpha(self) -> float | None:
        """P(monolingual batch): ``alpha``, else the strategy's (mono 1, cross 0); ``None`` for a base."""
        return resolve_alpha(self.strategy, self.alpha)


def read_run_record(checkpoint: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The :data:`RUN_RECORD` of a checkpoint folder, or ``None`` if it has none (an incomplete checkpoint)."""
    try:
        return json.loads((Path(checkpoint) / RUN_RECORD).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def complete_checkpoints(ckpt_dir: str | os.PathLike[str]) -> list[Path]:
    """The complete checkpoints (those with a :data:`RUN_RECORD`) of a run's checkpoint folder, oldest first."""
    found = [p for p in Path(ckpt_dir).glob("checkpoint-*") if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    return sorted((p for p in found if read_run_record(p) is not None), key=lambda p: int(p.name.rsplit("-", 1)[1]))


def stale_run(ckpt_dir: str | os.PathLike[str], config: dict[str, Any]) -> bool:
    """True when ``ckpt_dir`` holds an interrupted run of settings other than ``config`` (a
    ``TrainConfig.to_dict()``) with no complete checkpoint yet: nothing to lose, the caller may start over.

    Raises:
        HybridBenchError: complete checkpoints of a run with other settings exist (never discarded silently).
    """
    ckpt = Path(ckpt_dir)
    try:
        saved = json.loads((ckpt / RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if saved == config:
        return False
    if complete_checkpoints(ckpt):
        raise HybridBenchError(f"{ckpt} holds checkpoints of an interrupted training with other settings; remove "
                               "that folder to start this training afresh")
    return True


def write_run_record(checkpoint: str | os.PathLike[str], global_step: int, wall_time_s: float) -> Path:
    """Mark ``checkpoint`` complete: write its :data:`RUN_RECORD` atomically (after everything else in it)."""
    record = {"global_step": int(global_step), "wall_time_s": round(float(wall_time_s), 3)}
    return atomic_write_text(Path(checkpoint) / RUN_RECORD, json.dumps(record), overwrite=True)


def read_training_record(model_folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The :data:`TRAINING_RECORD` of a trained model's folder; ``None`` if it has none or it is not valid JSON."""
    try:
        record = json.loads((Path(model_folder) / TRAINING_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_training_record(model_folder: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write a trained model's :data:`TRAINING_RECORD` (the folder is the temporary of an atomic model save)."""
    path = Path(model_folder) / TRAINING_RECORD
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def append_model_card(readme: Path, record: dict[str, Any]) -> None:
    """Append the "hybrid-bench training" section (the record's settings as a table) to a model card."""
    config = record["config"]
    lines = [
        "",
        "## hybrid-bench training",
        "",
        "Trained with `hybrid-bench train` (hybrid batching, Elmahdy et al. 2024, arXiv:2408.10536).",
        "",
        "| setting | value |",
        "|---|---|",
        f"| base | `{record['base']}` |",
        f"| strategy | {record['strategy']} |",
        f"| alpha (P[monolingual batch]) | {record['alpha']} |",
        f"| data | {record['data']} ({record['items']} items; {', '.join(record['languages'])}) |",
        f"| steps | {record['steps']} |",
        f"| batch size | {config['batch_size']} |",
        f"| learning rate | {config['learning_rate']} |",
        f"| max sequence length | {config['max_seq_length']} |",
        f"| word embeddings frozen | {config['freeze_embeddings']} |",
        f"| bf16 | {config['bf16']} |",
        f"| seed | {record['seed']} |",
        f"| wall time | {record['wall_time_s']} s ({record['steps_per_s']} steps/s) |",
        f"| resumed from step | {record['resumed_from_step']} |",
        "",
        f"The full record, with the training log, is in `{TRAINING_RECORD}`.",
        "",
    ]
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    readme.write_text(text.rstrip("\n") + "\n" + "\n".join(lines), encoding="utf-8")
