"""``hybrid-bench reproduce``: the paper's experiment end to end — train mono / cross / hybrid, evaluate, leaderboard.

From one base model (``me5-small``) three retrievers are fine-tuned with *identical* data (the XQuAD-R training
articles), step budget, batch size and seed; only the batch composition differs: X-X-mono (α = 1), X-Y (α = 0) and
hybrid (α = 0.5; ``--alpha-sweep`` adds 0.25 and 0.75). The base model and the trained ones are then evaluated on
the held-out XQuAD-R articles, MLQA-R (zero-shot), MIRACL (stock mteb task, through the local data mirror) and the
cross-lingual MIRACL variant, and ``hybrid-bench leaderboard`` builds the tables with paired bootstrap CIs.

Everything is resumable: a finished training (same settings) or evaluation (same model revision, task and settings)
is skipped on a rerun; an interrupted training continues from its last checkpoint. Bookkeeping is in
``<output-folder>/reproduce_state.json``.

Example (Python)::

    from hybrid_bench.commands.reproduce import PRESETS, reproduce

    summary = reproduce(PRESETS["quick"], "results/reproduce-quick")
    print(summary.leaderboard, summary.wall_s)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid_bench.errors import DataError, HybridBenchError
from hybrid_bench.io import atomic_path, atomic_write_text

logger = logging.getLogger(__name__)

__all__ = [
    "PRESETS",
    "Preset",
    "ReproduceSummary",
    "ModelSpec",
    "model_specs",
    "reproduce",
    "sample_miracl_mirror",
]

MIRACL_REPO = "mteb/MIRACLRetrieval"
STATE_FILE = "reproduce_state.json"
#: ISO 639-1 (data and training) → ISO 639-3 (mteb task subsets)
ISO3: dict[str, str] = {
    "ar": "ara", "bn": "ben", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "fa": "fas", "fi": "fin",
    "fr": "fra", "hi": "hin", "id": "ind", "ja": "jpn", "ko": "kor", "ru": "rus", "sw": "swa", "te": "tel",
    "th": "tha", "tr": "tur", "vi": "vie", "yo": "yor", "zh": "zho",
}  # fmt: skip
LAREQA_TASKS = ("XQuADRHeldOutRetrieval", "MLQARRetrieval")
MIRACL_TASKS = ("MIRACLRetrieval", "MIRACLCrossLingualRetrieval")
DEFAULT_TASKS = (*LAREQA_TASKS, *MIRACL_TASKS)
#: LAReQA languages of each dataset (ISO 639-1), to keep only subsets a dataset has
LAREQA_LANGS = {
    "XQuADRHeldOutRetrieval": ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"),
    "MLQARRetrieval": ("ar", "de", "en", "es", "hi", "vi", "zh"),
}


@dataclass(frozen=True)
class Preset:
    """Everything that sets the size of a reproduction run. Two runs with equal presets do the same work.

    Attributes:
        name: ``"quick"`` / ``"full"`` / your own; also the suffix of the trained models' names (``""`` for
            ``"full"``, so the full run produces the model-table names ``hybrid-me5-small`` etc.).
        steps: training steps of every model (identical budget).
        batch_size: training batch size.
        max_seq_length: training token limit of queries and passages.
        bf16: bfloat16 autocast in training (about 2x faster than fp32 on CPUs with native bf16, as here).
        seed: seed of batches and trainer, shared by all models.
        train_languages: training languages (ISO 639-1); ``None`` = all 11 XQuAD-R languages.
        languages: evaluation languages (ISO 639-1) of every task; ``None`` = all.
        max_queries: LAReQA: keep this many parallel questions (the same ones in every language); ``None`` = all.
        max_candidates: LAReQA: keep at most this many candidate sentences per language (the relevant ones always
            stay); ``None`` = the full pool.
        miracl_queries: MIRACL: queries per language in the sampled mirror; ``None`` with ``miracl_docs`` ``None``
            = use the configured mirror as it is.
        miracl_docs: MIRACL: passages per language in the sampled mirror (every passage judged for a kept query
            stays, the rest is a seeded sample).
        eval_max_seq_length: token limit when encoding for evaluation (``None``: the model's own, 512 for
            me5-small). MIRACL passages dominate CPU evaluation time.
        tasks: the evaluation tasks.
        n_resamples: bootstrap resamples of the leaderboard.
    """

    name: str
    steps: int
    batch_size: int = 32
    max_seq_length: int = 64
    bf16: bool = True
    seed: int = 42
    train_languages: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    max_queries: int | None = None
    max_candidates: int | None = None
    miracl_queries: int | None = None
    miracl_docs: int | None = None
    eval_max_seq_length: int | None = None
    tasks: tuple[str, ...] = DEFAULT_TASKS
    n_resamples: int = 10_000

    @property
    def model_suffix(self) -> str:
        return "" if self.name == "full" else f"-{self.name}"

    def describe(self) -> str:
        """One paragraph saying what this preset leaves out (printed at the start of a run)."""
        langs = ", ".join(self.languages) if self.languages else "all languages"
        train = ", ".join(self.train_languages) if self.train_languages else "all 11 XQuAD-R languages"
        lareqa = (f"{self.max_queries} parallel questions" if self.max_queries else "all questions") + (
            f", ≤ {self.max_candidates} candidates per language" if self.max_candidates else ", full candidate pools")
        if self.miracl_docs or self.miracl_queries:
            queries = f"≤ {self.miracl_queries} queries" if self.miracl_queries else "all queries"
            docs = f"≤ {self.miracl_docs} passages" if self.miracl_docs else "all passages"
            miracl = f"sampled mirror: {queries} and {docs} per language (judged passages kept)"
        else:
            miracl = "the configured mirror as it is"
        seq = f"{self.eval_max_seq_length} tokens" if self.eval_max_seq_length else "the model's own limit"
        return (f"preset {self.name!r}: training {self.steps} steps × batch {self.batch_size} on {train} "
                f"(max {self.max_seq_length} tokens, bf16={self.bf16}, seed {self.seed}); evaluation on {langs}; "
                f"LAReQA: {lareqa}; MIRACL: {miracl}; encoding truncated to {seq}; "
                f"{self.n_resamples} bootstrap resamples")

    def eval_settings(self) -> dict[str, Any]:
        """The settings an evaluation result depends on (part of its resume key)."""
        keys = ("languages", "max_queries", "max_candidates", "miracl_queries", "miracl_docs", "eval_max_seq_length",
                "seed")
        return {k: getattr(self, k) for k in keys}


PRESETS: dict[str, Preset] = {
    # ≈ 5 min on 2 CPU cores: a smoke run of the whole pipeline, numbers not meaningful
    "quick": Preset(
        name="quick", steps=6, batch_size=16, train_languages=("de", "en", "es"), languages=("de", "en", "es"),
        max_queries=40, max_candidates=120, miracl_queries=6, miracl_docs=20, eval_max_seq_length=128,
        n_resamples=2000,
    ),
    # 1 h 44 min measured on 2 idle CPU cores (stage times: leaderboards/reproduce-full/README.md)
    "full": Preset(
        name="full", steps=300, batch_size=32, miracl_queries=None, miracl_docs=150, eval_max_seq_length=256,
    ),
}


# ---- models ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSpec:
    """One model of the experiment: the base (``strategy is None``) or a training run."""

    name: str
    strategy: str | None = None
    alpha: float | None = None

    @property
    def is_base(self) -> bool:
        return self.strategy is None


def base_label(base: str) -> str:
    """Short name of the base for model names: ``me5-small`` or a folder's name."""
    return Path(base).name if os.sep in base or Path(base).is_dir() else base


def model_specs(preset: Preset, base: str, *, alpha_sweep: bool = False) -> list[ModelSpec]:
    """The base plus mono (α=1), cross (α=0), hybrid (α=0.5) [+ hybrid α=0.25, 0.75], named per preset.

    Example:
        >>> [s.name for s in model_specs(PRESETS["quick"], "me5-small")]
        ['me5-small', 'mono-me5-small-quick', 'cross-me5-small-quick', 'hybrid-me5-small-quick']
    """
    label, suffix = base_label(base), preset.model_suffix
    specs = [ModelSpec(label), ModelSpec(f"mono-{label}{suffix}", "mono"), ModelSpec(f"cross-{label}{suffix}", "cross"),
             ModelSpec(f"hybrid-{label}{suffix}", "hybrid", 0.5)]
    if alpha_sweep:
        specs += [ModelSpec(f"hybrid-{label}{suffix}-a{a:g}", "hybrid", a) for a in (0.25, 0.75)]
    return specs


def train_config(preset: Preset, base: str, spec: ModelSpec) -> Any:
    """The :class:`~hybrid_bench.training.trainer.TrainConfig` of one trained model (identical but for α)."""
    from hybrid_bench.training.trainer import TrainConfig

    return TrainConfig(
        base=base, strategy=spec.strategy, alpha=spec.alpha if spec.strategy == "hybrid" else None,  # type: ignore[arg-type]
        languages=preset.train_languages, steps=preset.steps, batch_size=preset.batch_size,
        max_seq_length=preset.max_seq_length, bf16=preset.bf16, seed=preset.seed,
        save_steps=max(1, min(100, preset.steps // 3 or 1)),
        logging_steps=max(1, min(10, preset.steps)),
    )


def _trained_record(name: str) -> dict[str, Any] | None:
    from hybrid_bench import paths
    from hybrid_bench.training.trainer import TRAINING_RECORD

    try:
        return json.loads((paths.models_dir() / name / TRAINING_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_trained(preset: Preset, base: str, spec: ModelSpec, *, data_dir: str | None = None) -> tuple[Path, bool]:
    """Train ``spec`` unless the model store already holds it with the same settings; returns (folder, trained).

    An interrupted training resumes from its newest checkpoint (``train_model(..., resume=True)``).

    Raises:
        HybridBenchError: the store holds a model of that name trained with other settings (it is never replaced
            silently: remove it, or use another preset name).
    """
    from hybrid_bench import paths
    from hybrid_bench.training.trainer import train_model

    config = train_config(preset, base, spec)
    folder = paths.models_dir() / spec.name
    record = _trained_record(spec.name)
    if record is not None:
        if record.get("config") == config.to_dict():
            return folder, False
        changed = sorted(k for k, v in config.to_dict().items() if record.get("config", {}).get(k) != v)
        raise HybridBenchError(
            f"the model store already has {spec.name!r} ({folder}) trained with other settings (differs in "
            f"{', '.join(changed)}); remove that folder to retrain it, or run another preset")
    if folder.exists():
        raise HybridBenchError(f"{folder} exists but has no training record; remove it or choose another preset")
    stale = _stale_checkpoints(spec.name, config)
    # resume=True continues an interrupted run of these settings (or starts afresh when there is none)
    train_model(config, spec.name, resume=not stale, overwrite=stale, data_dir=data_dir)
    return folder, True


def _stale_checkpoints(name: str, config: Any) -> bool:
    """True when ``name``'s checkpoint folder holds an interrupted run of *other* settings with no complete
    checkpoint yet (nothing to lose: start over). Complete checkpoints of other settings are never discarded here.

    Raises:
        HybridBenchError: complete checkpoints of a run with other settings exist.
    """
    from hybrid_bench.training import trainer

    ckpt = trainer.checkpoint_dir(name)
    try:
        saved = json.loads((ckpt / trainer.RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if saved == config.to_dict():
        return False
    complete = [p for p in ckpt.glob("checkpoint-*") if trainer.read_run_record(p) is not None]
    if complete:
        raise HybridBenchError(
            f"{ckpt} holds checkpoints of an interrupted training of {name!r} with other settings; remove that "
            "folder to start this preset's training afresh")
    logger.info("discarding %s: an interrupted run with other settings and no complete checkpoint", ckpt)
    return True


def _full_name(name: str) -> str:
    from hybrid_bench.models.registry import MODEL_ORG

    return f"{MODEL_ORG}/{name}"


def load_encoder(spec: ModelSpec, base: str, *, max_seq_length: int | None) -> Any:
    """The mteb encoder of a model, with its :class:`~mteb.models.ModelMeta` (what results are filed under).

    Names in hybrid-bench's model table (``me5-small``, ``hybrid-me5-small``, ...) load through the registry
    (:func:`hybrid_bench.commands.eval.load_model`), so results match ``hybrid-bench eval -m NAME``. Other names
    (preset-suffixed models, α-sweep models, a base given as a folder) are sentence-transformers folders; their
    meta is derived from the model table's entry for the same strategy where there is one, and names them
    ``hybrid-bench/<name>`` with the folder's content hash as revision.
    """
    from hybrid_bench import paths
    from hybrid_bench.commands.eval import cap_max_seq_length, load_model
    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.registry import get_entry, local_revision

    folder = Path(base).expanduser() if spec.is_base else paths.models_dir() / spec.name
    try:
        get_entry(spec.name)
        in_table = not (spec.is_base and folder.is_dir())
    except ModelNotFoundError:
        in_table = False
    if in_table:
        encoder = load_model(spec.name)
    else:
        from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

        if not (folder / "modules.json").is_file():
            raise ModelNotFoundError(f"{folder} is not a sentence-transformers model folder (no modules.json)")
        encoder = SentenceTransformerEncoderWrapper(str(folder))
        encoder.mteb_model_meta = _derived_meta(spec, base, folder, local_revision(folder))
    return cap_max_seq_length(encoder, max_seq_length)


def _derived_meta(spec: ModelSpec, base: str, folder: Path, revision: str) -> Any:
    from mteb.models import ModelMeta

    from hybrid_bench.errors import ModelNotFoundError
    from hybrid_bench.models.registry import model_meta

    template = None
    for candidate in ([f"{spec.strategy}-{base_label(base)}", base] if not spec.is_base else [base]):
        try:
            template = model_meta(candidate)
            break
        except (ModelNotFoundError, DataError):
            continue
    training = {"XQuADRRetrieval"} if not spec.is_base else set()
    if template is None:
        return ModelMeta.create_empty({"name": _full_name(spec.name), "revision": revision,
                                       "training_datasets": training or None,
                                       "adapted_from": None if spec.is_base else base})
    return template.model_copy(update={
        "name": _full_name(spec.name), "revision": revision, "loader": None,
        "training_datasets": (set(template.training_datasets or ()) | training) or None,
    })


# ---- data sampling for small presets ---------------------------------------------------------------------------

def _configs_yaml(langs: Sequence[str]) -> str:
    lines = ["---", "configs:"]
    for lang in langs:
        for kind in ("corpus", "queries", "qrels"):
            lines += [f"- config_name: {lang}-{kind}", "  data_files:", "  - split: dev",
                      f"    path: {lang}-{kind}/dev-*"]
    return "\n".join([*lines, "---", ""])


def sample_miracl_mirror(source: Path, target: Path, *, queries: int | None, docs: int | None, seed: int) -> Path:
    """Write a smaller copy of a MIRACL mirror (``mteb/MIRACLRetrieval`` layout) to ``target``; returns ``target``.

    Per language: a seeded sample of ``queries`` queries, every passage judged for them (relevant and non-relevant),
    and a seeded sample of other passages up to ``docs``. The copy has its own ``SHA256SUMS``, so its mirror
    revision (recorded in every result) differs from the source's: sampled results are never confused with full
    ones. An existing ``target`` with the same settings is reused.
    """
    import pandas as pd

    from hybrid_bench.data.lareqa import stable_order

    settings = {"source": str(source.resolve()), "queries": queries, "docs": docs, "seed": seed}
    stamp = target / "hybrid_bench_sample.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == settings:
        return target
    langs = sorted(p.name.removesuffix("-corpus") for p in source.glob("*-corpus") if p.is_dir())
    if not langs:
        raise DataError("not a MIRACL mirror: no <lang>-corpus folders", file=source)
    with atomic_path(target, overwrite=True) as tmp:
        sums = []
        for lang in langs:
            read = {kind: pd.concat([pd.read_parquet(f) for f in sorted((source / f"{lang}-{kind}").glob("*.parquet"))],
                                    ignore_index=True) for kind in ("corpus", "queries", "qrels")}
            qids = read["queries"]["_id"].astype(str).tolist()
            kept = set(stable_order(qids, seed)[:queries] if queries else qids)
            q = read["queries"][read["queries"]["_id"].astype(str).isin(kept)]
            rels = read["qrels"][read["qrels"]["query-id"].astype(str).isin(kept)]
            judged = set(rels["corpus-id"].astype(str))
            ids = read["corpus"]["_id"].astype(str)
            others = stable_order([d for d in ids if d not in judged], seed)
            extra = set(others[: max(0, (docs or len(ids)) - len(judged))])
            corpus = read["corpus"][ids.isin(judged | extra)]
            for kind, frame in (("corpus", corpus), ("queries", q), ("qrels", rels)):
                out = tmp / f"{lang}-{kind}" / "dev-00000-of-00001.parquet"
                out.parent.mkdir(parents=True)
                frame.to_parquet(out, index=False)
                sums.append(f"{hashlib.sha256(out.read_bytes()).hexdigest()}  {out.relative_to(tmp).as_posix()}")
        (tmp / "README.md").write_text(
            _configs_yaml(langs) + f"\n# sampled MIRACL mirror\n\nWritten by `hybrid-bench reproduce` from {source}: "
            f"{json.dumps(settings)}. Not comparable with official MIRACL numbers.\n", encoding="utf-8")
        (tmp / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
        (tmp / stamp.name).write_text(json.dumps(settings) + "\n", encoding="utf-8")
    return target


@contextlib.contextmanager
def _miracl_mirror(folder: Path | None) -> Iterator[None]:
    """Make ``folder`` the mirror of ``mteb/MIRACLRetrieval`` for the duration (``None``: leave as configured)."""
    if folder is None:
        yield
        return
    from hybrid_bench.data.mirrors import MIRRORS_ENV

    old = os.environ.get(MIRRORS_ENV)
    entries = [e for e in (old or "").replace("\n", ";").split(";") if e.strip() and
               e.partition("=")[0].strip() != MIRACL_REPO]
    os.environ[MIRRORS_ENV] = ";".join([*entries, f"{MIRACL_REPO}={folder.resolve()}"])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(MIRRORS_ENV, None)
        else:
            os.environ[MIRRORS_ENV] = old


def _source_miracl_mirror() -> Path:
    """The MIRACL mirror to use: the configured one, else ``$HYBRID_BENCH_DATA/miracl-lite``."""
    from hybrid_bench.data.mirrors import resolve_mirror

    configured = resolve_mirror(MIRACL_REPO)
    if configured is not None:
        return configured
    data = os.environ.get("HYBRID_BENCH_DATA")
    if data and (Path(data) / "miracl-lite" / "README.md").is_file():
        return Path(data) / "miracl-lite"
    raise DataError(
        "no MIRACL data: configure a mirror (HYBRID_BENCH_MIRRORS='mteb/MIRACLRetrieval=/path/to/miracl-lite') or "
        "set HYBRID_BENCH_DATA to a folder containing miracl-lite/, or leave the MIRACL tasks out with --tasks",
        item=MIRACL_REPO)


# ---- tasks -------------------------------------------------------------------------------------------------------

def _lareqa_subsets(task: str, languages: Sequence[str] | None) -> list[str] | None:
    if languages is None:
        return None
    langs = [lang for lang in LAREQA_LANGS[task] if lang in languages]
    if not langs:
        raise DataError(f"{task} has none of the languages {list(languages)}; it has {list(LAREQA_LANGS[task])}")
    codes = [ISO3[lang] for lang in langs]
    return [f"{q}-{c}" for q in codes for c in codes] + [f"{q}-pool" for q in codes]


def mirror_languages(folder: Path) -> list[str]:
    """MIRACL languages (its codes, e.g. ``"th"``) for which the mirror ``folder`` holds corpus, queries and qrels."""
    from hybrid_bench.data.miracl import MIRACL_LANGS

    return [lang for lang in MIRACL_LANGS
            if all((folder / f"{lang}-{kind}").is_dir() for kind in ("corpus", "queries", "qrels"))]


def build_task(name: str, preset: Preset, miracl_folder: Path | None,
               miracl_languages: Sequence[str] | None = None) -> Any:
    """One evaluation task, cut to the preset's languages and samples.

    ``miracl_languages``: the MIRACL languages to evaluate when the preset names none (all), e.g. those the mirror
    holds (:func:`mirror_languages`); ``None`` = all of the task's.
    """
    from hybrid_bench.commands.eval import load_tasks

    if name in LAREQA_TASKS:
        (task,) = load_tasks([name], None, _lareqa_subsets(name, preset.languages))
        if preset.languages or preset.max_queries or preset.max_candidates:
            task.set_sample(languages=preset.languages, max_queries=preset.max_queries,
                            max_candidates=preset.max_candidates, seed=preset.seed)
        return task
    chosen = preset.languages or miracl_languages
    languages = [ISO3[lang] for lang in chosen] if chosen else None
    (task,) = load_tasks([name], languages, None)
    if miracl_folder is not None:
        from hybrid_bench.data.mirrors import mirror_revision

        # point this instance at the (sampled) mirror; mteb records the mirror's revision with the results
        dataset = {**task.metadata.dataset, "path": str(miracl_folder.resolve()),
                   "revision": mirror_revision(miracl_folder)}
        task.metadata = task.metadata.model_copy(update={"dataset": dataset})
    return task


def task_qrels(task: Any) -> dict[str, dict[str, Any]]:
    """``{subset: {split: qrels}}`` of a loaded-on-demand retrieval task (to score mteb prediction files)."""
    task.load_data()
    return {subset: {split: data["relevant_docs"] for split, data in by_split.items()}
            for subset, by_split in task.dataset.items()}


# ---- state -------------------------------------------------------------------------------------------------------

def _key(*parts: object) -> str:
    return "|".join(str(p) for p in parts)


def _settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


class _State:
    """``reproduce_state.json``: finished stages with their wall times, rewritten atomically after each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.data = {}
        except ValueError as err:
            raise DataError(f"not valid JSON ({err}); delete it to start the bookkeeping afresh", file=path) from None
        self.data.setdefault("done", {})

    def done(self, key: str) -> bool:
        return key in self.data["done"]

    def mark(self, key: str, **info: Any) -> None:
        self.data["done"][key] = info
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str) + "\n", overwrite=True)


# ---- the run -----------------------------------------------------------------------------------------------------

@dataclass
class ReproduceSummary:
    """What :func:`reproduce` did."""

    output_folder: Path
    leaderboard: Path | None
    models: list[str]
    stages: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


def reproduce(
    preset: Preset,
    output_folder: str | os.PathLike[str],
    *,
    base: str = "me5-small",
    alpha_sweep: bool = False,
    leaderboard_out: str | os.PathLike[str] | None = None,
    data_dir: str | None = None,
    batch_size: int = 32,
    command: str | None = None,
    progress: bool = True,
) -> ReproduceSummary:
    """Train, evaluate and build the leaderboard; skip whatever a previous run with the same settings finished.

    Args:
        preset: sizes of the run (:data:`PRESETS` or your own :class:`Preset`).
        output_folder: MTEB results root (``results/``, ``predictions/``, ``reproduce_state.json``).
        base: base model: ``me5-small`` or a sentence-transformers folder (tests use a tiny one).
        alpha_sweep: also train hybrid models with α = 0.25 and 0.75.
        leaderboard_out: leaderboard folder (default ``leaderboards/reproduce-<preset>``).
        data_dir: local LAReQA data folder (else ``$HYBRID_BENCH_DATA`` / the cache).
        batch_size: encoding batch size of the evaluations.
        command: the command line, recorded in the leaderboard.
        progress: show the overall progress bar.

    Returns:
        :class:`ReproduceSummary` with each stage's wall time.
    """
    import mteb
    from tqdm.auto import tqdm

    from hybrid_bench.commands.eval import prediction_folder
    from hybrid_bench.commands.leaderboard import write_leaderboard

    start = time.perf_counter()
    out = Path(output_folder)
    out.mkdir(parents=True, exist_ok=True)
    if data_dir is not None:
        os.environ["HYBRID_BENCH_DATA"] = str(data_dir)
    unknown = sorted(set(preset.tasks) - set(DEFAULT_TASKS))
    if unknown:
        raise HybridBenchError(f"reproduce evaluates {list(DEFAULT_TASKS)}; unknown task(s) {unknown}")
    specs = model_specs(preset, base, alpha_sweep=alpha_sweep)
    state = _State(out / STATE_FILE)
    state.data["preset"] = dataclasses.asdict(preset)
    state.data["base"] = base
    print(preset.describe(), flush=True)

    miracl_folder = None
    miracl_languages: tuple[str, ...] | None = None
    notes: list[str] = []
    if any(t in MIRACL_TASKS for t in preset.tasks):
        source = _source_miracl_mirror()
        if preset.miracl_docs or preset.miracl_queries:
            miracl_folder = sample_miracl_mirror(source, out / "data" / f"miracl-{preset.name}",
                                                 queries=preset.miracl_queries, docs=preset.miracl_docs,
                                                 seed=preset.seed)
        else:
            miracl_folder = source
        print(f"MIRACL data: {miracl_folder} (a local mirror: not comparable with official MIRACL numbers)")
        from hybrid_bench.data.miracl import MIRACL_LANGS

        held = mirror_languages(miracl_folder)
        absent = [lang for lang in MIRACL_LANGS if lang not in held]
        if absent and not preset.languages:
            # e.g. miracl-lite has no Thai: evaluate what the mirror holds and say so in the leaderboard
            # (a preset that names its languages gets a clear error for a missing one instead)
            miracl_languages = tuple(held)
            notes.append(f"MIRACL: the mirror has no data for {', '.join(absent)}; both MIRACL tasks are evaluated "
                         f"on the other {len(held)} languages")
            print(notes[-1], flush=True)

    trained = [s for s in specs if not s.is_base]
    total = len(trained) + len(specs) * len(preset.tasks) + 1
    bar = tqdm(total=total, desc="reproduce", unit="stage", disable=not progress, file=sys.stdout)
    stages: list[dict[str, Any]] = []

    def finish(stage: str, t0: float, skipped: bool, earlier_s: float | None = None) -> None:
        wall = time.perf_counter() - t0
        stages.append({"stage": stage, "wall_s": round(wall, 1), "skipped": skipped, "earlier_wall_s": earlier_s})
        bar.update(1)
        # own count: a disabled tqdm bar (progress=False) does not count
        bar.write(f"[{len(stages)}/{total}] {stage}: {'already done, skipped' if skipped else f'{wall:.0f} s'}")

    try:
        for spec in trained:
            t0 = time.perf_counter()
            bar.set_postfix_str(f"training {spec.name}")
            _, did_train = ensure_trained(preset, base, spec, data_dir=data_dir)
            earlier = None if did_train else (_trained_record(spec.name) or {}).get("wall_time_s")
            finish(f"train {spec.name} (α={train_config(preset, base, spec).resolved_alpha:g})", t0, not did_train,
                   earlier)

        settings = preset.eval_settings()
        settings_id = _settings_hash(settings)
        cache = mteb.cache.ResultCache(out)
        loaded: dict[str, Any] = {}
        with _miracl_mirror(miracl_folder if miracl_folder is not None else None):
            for spec in specs:
                encoder = None
                for task_name in preset.tasks:
                    t0 = time.perf_counter()
                    if encoder is None:
                        encoder = load_encoder(spec, base, max_seq_length=preset.eval_max_seq_length)
                    meta = encoder.mteb_model_meta
                    key = _key("eval", meta.name, meta.revision, task_name, settings_id)
                    result_file = Path(cache.get_task_result_path(task_name, meta.name, meta.revision))
                    if state.done(key) and result_file.is_file():
                        finish(f"evaluate {spec.name} on {task_name}", t0, True, state.data["done"][key].get("wall_s"))
                        continue
                    bar.set_postfix_str(f"{spec.name} on {task_name}")
                    if task_name not in loaded:
                        # load (and sample) each task's data once for all models; mteb keeps preloaded data
                        loaded[task_name] = build_task(task_name, preset, miracl_folder, miracl_languages)
                        loaded[task_name].load_data()
                    task = loaded[task_name]
                    mteb.evaluate(
                        encoder, [task], cache=cache, prediction_folder=prediction_folder(out, encoder),
                        # results of other settings in this folder are replaced, never mixed with these
                        overwrite_strategy="always" if result_file.exists() else "only-missing",
                        encode_kwargs={"batch_size": batch_size}, show_progress_bar=False,
                    )
                    state.mark(key, model=meta.name, revision=meta.revision, task=task_name, settings=settings,
                               wall_s=round(time.perf_counter() - t0, 1))
                    finish(f"evaluate {spec.name} on {task_name}", t0, False)

            # inside the mirror context: per-query MIRACL scores need the qrels of the same (sampled) data
            t0 = time.perf_counter()
            bar.set_postfix_str("leaderboard")
            board = Path(leaderboard_out) if leaderboard_out else Path("leaderboards") / f"reproduce-{preset.name}"
            overwrite = _is_our_leaderboard(board, out)
            if overwrite:
                logger.info("replacing %s: an earlier leaderboard of the same results folder", board)
            stages_so_far = [*stages, {"stage": "leaderboard", "wall_s": None}]
            write_leaderboard(
                out, board, compare=None, n_resamples=preset.n_resamples, seed=0, overwrite=overwrite, progress=False,
                qrels_loader=lambda name, _subsets: task_qrels(
                    build_task(name, preset, miracl_folder, miracl_languages)),
                preamble=_preamble(preset, base, command, stages_so_far, time.perf_counter() - start, notes),
            )
            finish("leaderboard", t0, False)
    finally:
        bar.close()
    wall = time.perf_counter() - start
    state.data.setdefault("runs", []).append({"command": command, "wall_s": round(wall, 1), "stages": stages})
    state.save()
    print(f"reproduce ({preset.name}) finished in {wall:.0f} s; results: {out}; leaderboard: {board}")
    if miracl_folder is not None:
        print("to rebuild the leaderboard with MIRACL intervals, point the mirror at the same data: "
              f"HYBRID_BENCH_MIRRORS='{MIRACL_REPO}={miracl_folder}' hybrid-bench leaderboard {out} --out DIR")
    return ReproduceSummary(out, board, [s.name for s in specs], stages, round(wall, 1))


def _is_our_leaderboard(board: Path, results: Path) -> bool:
    """An existing leaderboard may be replaced only if it was built from the same results folder."""
    if not board.exists():
        return False
    try:
        meta = json.loads((board / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    if Path(str(meta.get("results_dir", ""))).resolve() != results.resolve():
        raise HybridBenchError(
            f"{board} exists and was not built from {results}; pass another --leaderboard or remove it")
    return True


def _preamble(preset: Preset, base: str, command: str | None, stages: list[dict[str, Any]], wall: float,
              notes: Sequence[str] = ()) -> str:
    def shown(stage: dict[str, Any]) -> str:
        if stage.get("skipped"):
            earlier = stage.get("earlier_wall_s")
            return f"{earlier} (an earlier run)" if earlier is not None else "done in an earlier run"
        return "–" if stage["wall_s"] is None else str(stage["wall_s"])

    rows = "\n".join(f"| {s['stage']} | {shown(s)} |" for s in stages)
    return (
        f"# Leaderboard: `hybrid-bench reproduce` ({preset.name})\n\n"
        f"Command: `{command or 'hybrid-bench reproduce'}`  \n"
        f"Base model: `{base}`; machine: {' '.join(filter(None, [platform.machine(), platform.processor()]))}, "
        f"{os.cpu_count()} CPU(s); wall time of this invocation before the leaderboard: {wall:.0f} s.\n\n"
        f"{preset.describe()}\n\n" + "".join(f"{note}\n\n" for note in notes) +
        "| stage | wall time (s) |\n|---|---|\n" + rows + "\n\n"
        "Package versions are in `meta.json`.\n"
    )


# ---- command line ------------------------------------------------------------------------------------------------

EPILOG = """examples:
  hybrid-bench reproduce --quick                       # ≈ 5 min smoke run of the whole pipeline
  hybrid-bench reproduce                               # the full preset (≈ 1 h 45 min on 2 CPU cores)
  hybrid-bench reproduce --alpha-sweep                 # + hybrid with alpha 0.25 and 0.75
  hybrid-bench reproduce --quick --output-folder /tmp/r --leaderboard /tmp/r-board

Rerunning the same command skips finished trainings and evaluations (interrupted trainings resume from their last
checkpoint). Trained models go to the model store as mono-/cross-/hybrid-me5-small (full preset) or
...-me5-small-quick (quick preset), so a quick run never replaces a full one.
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
                   help="leaderboard folder (default: leaderboards/reproduce-full or leaderboards/reproduce-quick)")
    p.add_argument("--base", default="me5-small",
                   help="base model: me5-small (default) or a sentence-transformers folder")
    p.add_argument("--steps", type=int, default=None, help="override the preset's training steps")
    p.add_argument("--tasks", nargs="+", default=None, choices=list(DEFAULT_TASKS),
                   help="evaluate only these tasks (default: all four)")
    p.add_argument("--data-dir", default=None, help="local data folder (lareqa/, miracl-lite/); default $HYBRID_BENCH_DATA")
    p.add_argument("--batch-size", type=int, default=32, help="encoding batch size of the evaluations (default 32)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    preset = PRESETS["quick" if args.quick else "full"]
    changes: dict[str, Any] = {}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.tasks:
        changes["tasks"] = tuple(args.tasks)
    if changes:
        # other steps = other models: a new preset name keeps them apart from the stock preset's models
        name = f"{preset.name}-s{args.steps}" if args.steps is not None else preset.name
        preset = dataclasses.replace(preset, **changes, name=name)
        print(f"preset {preset.name!r} with {changes}")
    default_folder = Path("results") / ("reproduce" if preset.name == "full" else f"reproduce-{preset.name}")
    command = "hybrid-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    reproduce(preset, args.output_folder or default_folder, base=args.base, alpha_sweep=args.alpha_sweep,
              leaderboard_out=args.leaderboard, data_dir=args.data_dir, batch_size=args.batch_size, command=command)
    return 0
