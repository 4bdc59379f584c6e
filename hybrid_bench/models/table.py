"""The model table: ``models.toml`` (packaged, then ``$HYBRID_BENCH_HOME/models.toml``) and the trained models of
the store, read into :class:`ModelEntry` rows.

The packaged ``hybrid_bench/models/models.toml`` documents every key in its header. A malformed entry raises one
:class:`~hybrid_bench.errors.DataError` naming the file, the model and the problem. What a name resolves to and
what mteb is told about it is :mod:`hybrid_bench.models.registry`.

Example::

    from hybrid_bench.models.table import get_entry

    get_entry("hybrid-xlmr").train_command()
    # 'hybrid-bench train --base FacebookAI/xlm-roberta-base --strategy hybrid --alpha 0.5 --out hybrid-xlmr'
"""

from __future__ import annotations

import importlib.resources
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid_bench.errors import DataError, ModelNotFoundError
from hybrid_bench.paths import home_dir, models_dir
from hybrid_bench.training.parallel_data import TRAINING_DATA_TASKS, XQUAD_R_TRAIN
from hybrid_bench.training.records import STRATEGIES, TRAINING_RECORD, read_training_record

logger = logging.getLogger(__name__)

MODEL_ORG = "hybrid-bench"

_OVERRIDABLE = ("description", "reference", "license", "release_date", "languages", "embed_dim", "max_tokens",
                "n_parameters")  # fmt: skip
_KEYS = {"base", "strategy", "alpha", "builder", "hf_repo", "revision", "training_datasets", "prompts", *_OVERRIDABLE}


def user_table_file() -> Path:
    """Your own model entries: ``$HYBRID_BENCH_HOME/models.toml`` (same syntax as the packaged table)."""
    return home_dir() / "models.toml"


@dataclass(frozen=True)
class ModelEntry:
    """One row of the model table: where a model name comes from and what mteb should know about it.

    Args:
        name: the short name (``hybrid-xlmr``); mteb sees ``hybrid-bench/<name>``.
        base: the base model, a name in the table or an mteb model name (``FacebookAI/xlm-roberta-base``).
        source: the table file the entry was read from (named in error messages).
        strategy: ``mono``, ``cross`` or ``hybrid`` for models made by ``hybrid-bench train``.
        alpha: probability of a monolingual batch (hybrid strategy).
        builder: ``"module:function"`` that returns the model folder, building it if missing.
        hf_repo: Hugging Face repo id used when the local store has no folder.
        revision: revision recorded with results; default: a hash of the local folder.
        training_datasets: mteb task names trained on, besides the base's.
        prompts: ``{"query": ..., "document": ...}`` used when the model folder saves no prompts.
        overrides: metadata that replaces the base's (``license``, ``languages``, ``embed_dim``, ...).
    """

    name: str
    base: str
    source: str = "<built-in>"
    strategy: str | None = None
    alpha: float | None = None
    builder: str | None = None
    hf_repo: str | None = None
    revision: str | None = None
    training_datasets: frozenset[str] = frozenset()
    prompts: dict[str, str] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """The name in mteb's registry and results folders: ``hybrid-bench/<name>``."""
        return f"{MODEL_ORG}/{self.name}"

    @property
    def store_path(self) -> Path:
        """Where ``hybrid-bench train --out <name>`` writes this model: ``models_dir() / name``."""
        return models_dir() / self.name

    def train_command(self) -> str:
        """The ``hybrid-bench train`` command that creates this model in the local store."""
        parts = ["hybrid-bench train", f"--base {self.base}"]
        if self.strategy:
            parts.append(f"--strategy {self.strategy}")
        if self.alpha is not None:
            parts.append(f"--alpha {self.alpha:g}")
        parts.append(f"--out {self.name}")
        return " ".join(parts)


def _entry_from_table(name: str, raw: Any, source: str) -> ModelEntry:  # noqa: ANN401 -- parsed TOML
    if not isinstance(raw, dict):
        raise DataError(f"[models.{name}] must be a table", file=source, item=name)
    if "/" in name or not name.strip():
        raise DataError("model names are single path components (no '/'): mteb sees them as hybrid-bench/<name>",
                        file=source, item=name)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise DataError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}", file=source,
                        item=name)
    if not isinstance(raw.get("base"), str):
        raise DataError("`base` (a model name in this table or in mteb) is required", file=source, item=name)
    strategy = raw.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise DataError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}", file=source, item=name)
    alpha = raw.get("alpha")
    if alpha is not None and not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1):
        raise DataError(f"alpha must be a number in [0, 1], got {alpha!r}", file=source, item=name)
    prompts = raw.get("prompts")
    if prompts is not None and not (isinstance(prompts, dict) and all(isinstance(v, str) for v in prompts.values())):
        raise DataError('prompts must be a table of strings, e.g. {query = "query: ", document = "passage: "}',
                        file=source, item=name)
    # a model `hybrid-bench train` makes saw its default data unless the entry says otherwise
    default = sorted(TRAINING_DATA_TASKS[XQUAD_R_TRAIN]) if strategy is not None else []
    datasets = raw.get("training_datasets", default)
    if not (isinstance(datasets, list) and all(isinstance(d, str) for d in datasets)):
        raise DataError("training_datasets must be a list of mteb task names", file=source, item=name)
    return ModelEntry(
        name=name,
        base=raw["base"],
        source=source,
        strategy=strategy,
        alpha=float(alpha) if alpha is not None else None,
        builder=raw.get("builder"),
        hf_repo=raw.get("hf_repo"),
        revision=raw.get("revision"),
        training_datasets=frozenset(datasets),
        prompts=dict(prompts) if prompts else None,
        overrides={k: raw[k] for k in _OVERRIDABLE if k in raw},
    )


def _read_table(text: str, source: str) -> dict[str, ModelEntry]:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"not valid TOML ({err})", file=source) from None
    models = table.get("models", {})
    if not isinstance(models, dict):
        raise DataError("expected [models.<name>] tables", file=source)
    return {name: _entry_from_table(name, raw, source) for name, raw in models.items()}


def _trained_entries(table: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
    """Entries for models in the store that ``hybrid-bench train`` made under names the table does not list.

    A user who trains ``--out hybrid-me5-small-s1000`` can then run ``mteb run -m hybrid-me5-small-s1000`` with
    no table edit: base, strategy, alpha and the training data come from the folder's training record.
    """
    store = models_dir()
    if not store.is_dir():
        return {}
    found: dict[str, ModelEntry] = {}
    for record_file in sorted(store.glob(f"*/{TRAINING_RECORD}")):
        name = record_file.parent.name
        if name in table or not (record_file.parent / "modules.json").is_file():
            continue
        record = read_training_record(record_file.parent) or {}
        if "base" not in record:
            logger.warning("%s: unreadable training record (no JSON object with a base); model %r not registered",
                           record_file, name)
            continue
        base, strategy, data = str(record["base"]), record.get("strategy"), record.get("data")
        found[name] = ModelEntry(
            name=name,
            base=base,
            source=str(record_file),
            strategy=strategy,
            alpha=record.get("alpha") if strategy == "hybrid" else None,
            training_datasets=TRAINING_DATA_TASKS.get(str(data), frozenset()),
            overrides={"description": f"trained by hybrid-bench train ({strategy}, base {base}, data {data})"},
        )
    return found


def model_table() -> dict[str, ModelEntry]:
    """Every model name: the packaged ``models.toml``, then ``$HYBRID_BENCH_HOME/models.toml`` (which wins), then
    models in the store that ``hybrid-bench train`` made under other names."""
    packaged = importlib.resources.files("hybrid_bench.models") / "models.toml"
    table = _read_table(packaged.read_text(encoding="utf-8"), str(packaged))
    user = user_table_file()
    if user.is_file():
        table.update(_read_table(user.read_text(encoding="utf-8"), str(user)))
    table.update(_trained_entries(table))
    return table


def get_entry(name: str) -> ModelEntry:
    """The table entry for ``name`` (``hybrid-xlmr`` or ``hybrid-bench/hybrid-xlmr``)."""
    table = model_table()
    short = name.removeprefix(f"{MODEL_ORG}/")
    if short not in table:
        raise ModelNotFoundError(
            f"unknown hybrid-bench model {name!r}; known: {', '.join(table)}. Add an entry for it to "
            f"{user_table_file()} (see hybrid_bench/models/models.toml for the syntax)."
        )
    return table[short]
