"""Presets of the reproduction experiment: :class:`Preset` and the stock ones read from ``presets.toml``.

A preset is data: every number that sets the size of a run lives in ``presets.toml`` (documented in its header),
and :data:`PRESETS` is that file parsed into frozen :class:`Preset` objects. Write your own in Python::

    from hybrid_bench.experiment import PRESETS, Preset
    import dataclasses

    mine = dataclasses.replace(PRESETS["quick"], name="quick-de", languages=("de", "en"))
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid_bench.errors import DataError

__all__ = ["DEFAULT_TASKS", "EXPERIMENT_TASKS", "LAREQA_TASKS", "MIRACL_FALLBACK", "MIRACL_TASKS", "MIRACL_TRAIN_TOPICS",
           "PRESETS", "PRESETS_FILE", "Preset", "read_presets"]

#: the experiment's evaluation tasks: held-out XQuAD-R articles and MLQA-R (zero-shot), MIRACL (stock mteb task,
#: through the local mirror) and its cross-lingual variant
LAREQA_TASKS = ("XQuADRHeldOutRetrieval", "MLQARRetrieval")
MIRACL_TASKS = ("MIRACLRetrieval", "MIRACLCrossLingualRetrieval")
DEFAULT_TASKS = (*LAREQA_TASKS, *MIRACL_TASKS)
#: MIRACL's train topics on the dev mirror's passages: more queries for the MIRACL endpoint (a replication's
#: choice, not evaluated by default; see hybrid_bench.tasks.miracl_train_topics)
MIRACL_TRAIN_TOPICS = "MIRACLTrainTopicsRetrieval"
#: every task a preset may name
EXPERIMENT_TASKS = (*DEFAULT_TASKS, MIRACL_TRAIN_TOPICS)
PRESETS_FILE = Path(__file__).with_name("presets.toml")


@dataclass(frozen=True)
class Preset:
    """Everything that sets the size of a reproduction run. Two runs with equal presets do the same work.

    The fields are the keys of ``presets.toml``, whose header says what each one means; ``name`` is the table's
    name there (``"quick"`` / ``"full"`` / your own).
    """

    name: str
    steps: int
    batch_size: int = 32
    max_seq_length: int = 64
    bf16: bool = True
    seed: int = 42
    seeds: int = 1
    first_seed: int | None = None
    train_languages: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    max_queries: int | None = None
    max_candidates: int | None = None
    miracl_queries: int | None = None
    miracl_fill: int | None = None
    miracl_full_min_queries: int | None = None
    eval_max_seq_length: int | None = None
    tasks: tuple[str, ...] = DEFAULT_TASKS
    n_resamples: int = 10_000

    @property
    def model_suffix(self) -> str:
        """Suffix of the trained models' names: ``""`` for ``"full"`` (the model-table names), else ``-<name>``."""
        return "" if self.name == "full" else f"-{self.name}"

    @property
    def training_seed_start(self) -> int:
        """The first training seed: ``first_seed``, else ``seed``."""
        return self.seed if self.first_seed is None else self.first_seed

    @property
    def samples_miracl(self) -> bool:
        """Whether MIRACL runs on a sampled copy of the mirror (else on the configured mirror as it is)."""
        return bool(self.miracl_fill or self.miracl_queries)

    def describe(self) -> str:
        """One paragraph saying what this preset leaves out (printed at the start of a run)."""
        langs = ", ".join(self.languages) if self.languages else "all languages"
        train = ", ".join(self.train_languages) if self.train_languages else "all 11 XQuAD-R languages"
        lareqa = (f"{self.max_queries} parallel questions" if self.max_queries else "all questions") + (
            f", ≤ {self.max_candidates} candidates per language" if self.max_candidates else ", full candidate pools")
        if self.samples_miracl:
            queries = f"≤ {self.miracl_queries} queries" if self.miracl_queries else "all queries"
            docs = (f"every judged passage + {self.miracl_fill} random others" if self.miracl_fill
                    else "all passages")
            full = (f" (all passages where a language has ≥ {self.miracl_full_min_queries} queries)"
                    if self.miracl_full_min_queries and self.miracl_fill else "")
            miracl = f"sampled mirror: {queries} and {docs} per language{full}"
        else:
            miracl = "the configured mirror as it is"
        seq = f"{self.eval_max_seq_length} tokens" if self.eval_max_seq_length else "the model's own limit"
        first = self.training_seed_start
        seeds = (f"seed {first}" if self.seeds == 1 else f"{self.seeds} training seeds {first}–{first + self.seeds - 1}")
        return (f"preset {self.name!r}: training {self.steps} steps × batch {self.batch_size} on {train} "
                f"(max {self.max_seq_length} tokens, bf16={self.bf16}, {seeds}); evaluation on {langs}; "
                f"LAReQA: {lareqa}; MIRACL: {miracl}; encoding truncated to {seq}; "
                f"{self.n_resamples} bootstrap resamples")

    def eval_settings(self) -> dict[str, Any]:
        """The settings an evaluation result depends on (part of its resume key)."""
        keys = ("languages", "max_queries", "max_candidates", "miracl_queries", "miracl_fill", "miracl_full_min_queries",
                "eval_max_seq_length", "seed")
        return {k: getattr(self, k) for k in keys}


#: the MIRACL pool of issue 11's fallback, for when the whole mirror is too slow to encode: every passage of every
#: language with at least 30 queries, every judged passage plus 1,000 random others for the rest
#: (``reproduce --miracl-pool fallback``; an evaluation setting, so the trained models are the same)
MIRACL_FALLBACK: dict[str, int] = {"miracl_fill": 1000, "miracl_full_min_queries": 30}

_FIELDS = {f.name: f for f in dataclasses.fields(Preset)}
_TUPLES = {"train_languages", "languages", "tasks"}


def _preset_from_table(name: str, table: Any, path: Path) -> Preset:  # noqa: ANN401 -- parsed TOML
    if not isinstance(table, dict):
        raise DataError("expected a [<preset name>] table", file=path, item=name)
    known = set(_FIELDS) - {"name"}  # the table's name is the preset's
    unknown = sorted(set(table) - known)
    if unknown:
        raise DataError(f"unknown key(s) {unknown}; known: {sorted(known)}", file=path, item=name)
    if "steps" not in table:
        raise DataError("`steps` is required", file=path, item=name)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _TUPLES:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DataError(f"{key} must be a list of strings, got {value!r}", file=path, item=name)
            value = tuple(value)
        elif key == "bf16":
            if not isinstance(value, bool):
                raise DataError(f"bf16 must be true or false, got {value!r}", file=path, item=name)
        elif (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise DataError(f"{key} must be a positive integer, got {value!r}", file=path, item=name)
        values[key] = value
    unknown_tasks = sorted(set(values.get("tasks", ())) - set(EXPERIMENT_TASKS))
    if unknown_tasks:
        raise DataError(f"unknown task(s) {unknown_tasks}; reproduce evaluates {list(EXPERIMENT_TASKS)}", file=path,
                        item=name)
    values["name"] = name
    return Preset(**values)


def read_presets(path: Path = PRESETS_FILE) -> dict[str, Preset]:
    """``{name: Preset}`` of a presets file in the ``presets.toml`` format.

    Raises:
        DataError: not valid TOML, an unknown key, a value of the wrong type (one line naming file and preset).
    """
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"not valid TOML ({err})", file=path) from None
    return {name: _preset_from_table(name, table, path) for name, table in tables.items()}


#: the stock presets, ``"quick"`` and ``"full"`` (``presets.toml``)
PRESETS: dict[str, Preset] = read_presets()
