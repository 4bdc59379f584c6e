"""``TrainConfig``: everything that defines a training run of :func:`hybrid_bench.training.trainer.train_model`.

A resumed run must match its config exactly, and the experiment compares :meth:`TrainConfig.to_dict` with the
training record of a stored model to decide whether it is already trained (:mod:`hybrid_bench.experiment.train_stage`).

Example::

    from hybrid_bench.training.config import TrainConfig

    config = TrainConfig(base="me5-small", strategy="hybrid", alpha=0.5, steps=300, bf16=True)
    config.to_dict()["alpha"]   # 0.5
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.training.parallel_data import XQUAD_R_TRAIN
from hybrid_bench.training.records import STRATEGIES, resolve_alpha

__all__ = ["Strategy", "TrainConfig"]

Strategy = Literal["mono", "cross", "hybrid"]
#: settings added after the first trained models, with their defaults (see TrainConfig.to_dict)
_LATER_SETTINGS: dict[str, Any] = {"mini_batch_size": None, "gather_across_devices": True, "fp16": False}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (a resumed run must match it exactly).

    Attributes:
        base: ``"me5-small"``, a model-store name or a sentence-transformers folder.
        strategy: ``"mono"`` (α = 1, X-X-mono), ``"cross"`` (α = 0, X-Y) or ``"hybrid"``.
        alpha: Only for ``"hybrid"`` (default 0.5).
        data: ``"xquad-r-train"``, a ``.jsonl`` / ``.parquet`` file in the parallel format, or an mMARCO-style
            folder (see :mod:`hybrid_bench.training.mmarco`; needs ``languages``).
        languages: Training languages (default: all of the data).
        hard_negatives: XQuAD-R only: add a same-paragraph hard negative per example.
        steps: Optimisation steps.
        batch_size: Examples per batch.
        learning_rate: Peak AdamW learning rate (the paper: 3e-5).
        weight_decay: AdamW weight decay (the paper: 0.01).
        warmup_ratio: Linear warm-up share of the steps.
        seed: Seed of the batches and of the trainer.
        max_seq_length: Token limit of queries and passages (64 fits XQuAD-R sentences and keeps CPU steps short).
        freeze_embeddings: Do not train the word-embedding matrix (96M of me5-small's 118M parameters).
        bf16: bfloat16 autocast (about 2x faster on CPUs with native bf16, and on recent GPUs).
        fp16: float16 autocast with loss scaling (GPUs only).
        scale: Loss scale, 1 / temperature.
        symmetric: Add the passage → query direction to the loss.
        mini_batch_size: Train with the cached (GradCache) loss, embedding this many texts at a time
            (:class:`~hybrid_bench.training.cached_loss.CachedHybridInfoNCELoss`): a ``batch_size`` larger than
            memory, same loss and gradients. ``None``: the plain loss.
        gather_across_devices: In multi-process training, use every rank's passages as negatives (the global
            batch; :class:`~hybrid_bench.training.loss.HybridInfoNCELoss`). No effect in one process.
        language_sampling: ``"uniform"`` or ``"proportional"`` draw of languages / language pairs.
        save_steps: Checkpoint every this many steps.
        logging_steps: Log the losses every this many steps.
    """

    base: str = "me5-small"
    strategy: Strategy = "hybrid"
    alpha: float | None = None
    data: str = XQUAD_R_TRAIN
    languages: tuple[str, ...] | None = None
    hard_negatives: bool = False
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42
    max_seq_length: int | None = 64
    freeze_embeddings: bool = True
    bf16: bool = False
    fp16: bool = False
    scale: float = 20.0
    symmetric: bool = False
    mini_batch_size: int | None = None
    gather_across_devices: bool = True
    language_sampling: Literal["uniform", "proportional"] = "uniform"
    save_steps: int = 100
    logging_steps: int = 10

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise HybridBenchError(f"unknown strategy {self.strategy!r}; choose one of {sorted(STRATEGIES)}")
        if self.alpha is not None and self.strategy != "hybrid":
            raise HybridBenchError(
                f"--alpha only applies to the hybrid strategy; {self.strategy!r} means alpha = {STRATEGIES[self.strategy]}"
            )
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise HybridBenchError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.fp16 and self.bf16:
            raise HybridBenchError("choose one of fp16 and bf16")
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise HybridBenchError(f"mini_batch_size must be at least 1, got {self.mini_batch_size}")
        for name in ("steps", "batch_size", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise HybridBenchError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            # the InfoNCE loss contrasts each query's passage with the other passages of its batch: a batch of one
            # has nothing to contrast, its loss is 0 and training would change nothing
            raise HybridBenchError(f"batch_size must be at least 2, got {self.batch_size}: the loss contrasts each "
                                   "query with the other passages of its batch (in-batch negatives), and a batch of "
                                   "one has none")
        for name in ("learning_rate", "scale"):
            if not 0 < getattr(self, name) < float("inf"):
                raise HybridBenchError(f"{name} must be a number > 0, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio <= 1:
            raise HybridBenchError(f"warmup_ratio is a share of the steps, between 0 and 1; got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise HybridBenchError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise HybridBenchError(f"max_seq_length must be at least 8, got {self.max_seq_length}")
        if self.languages is not None:
            object.__setattr__(self, "languages", tuple(self.languages))

    @property
    def resolved_alpha(self) -> float:
        """The probability of a monolingual batch (:func:`hybrid_bench.training.records.resolve_alpha`)."""
        alpha = resolve_alpha(self.strategy, self.alpha)
        assert alpha is not None  # a TrainConfig always names a strategy
        return alpha

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON; settings added later are left out at their default, so that the records of
        earlier runs still match (a resumed run and the experiment compare these dicts)."""
        out = {k: v for k, v in dataclasses.asdict(self).items()
               if not (k in _LATER_SETTINGS and v == _LATER_SETTINGS[k])}
        out["alpha"] = self.resolved_alpha
        out["languages"] = list(self.languages) if self.languages is not None else None
        return out
