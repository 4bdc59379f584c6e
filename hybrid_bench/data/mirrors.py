"""Air-gapped data mirrors: Hugging Face dataset repo ids mapped to local folders in the same layout.

Many users (and CI machines) cannot reach the Hugging Face hub. A *mirror* is a local folder laid out exactly like
the hub dataset repo (its ``README.md`` YAML ``configs:`` block and the parquet files it names), e.g.
``/data/miracl-lite`` for ``mteb/MIRACLRetrieval``. With a mirror configured, every mteb task whose
``metadata.dataset["path"]`` is that repo id - stock mteb tasks included, see :mod:`hybrid_bench.mteb_plugin` -
loads from the folder instead of the hub.

Configuration (entries from the environment override the file):

* ``HYBRID_BENCH_MIRRORS``: ``repo_id=folder`` entries separated by ``;`` (or newlines), e.g.
  ``HYBRID_BENCH_MIRRORS="mteb/MIRACLRetrieval=/data/miracl-lite;mteb/other=/data/other"``. ``;`` is used on every
  platform because neither repo ids nor ordinary paths contain it (``:`` would clash with Windows drive letters).
  Relative folders are resolved against the current directory.
* ``$HYBRID_BENCH_HOME/mirrors.toml``::

      [mirrors]
      "mteb/MIRACLRetrieval" = "/data/miracl-lite"

  Relative folders are resolved against the file's own folder.

A mirror run must never be mistaken for an official one, nor one copy of a mirror for another: the task's
dataset revision becomes ``mirror:<folder name>@<12 hex digits>``, a sha256 over the relative path and sha256 of
every file in the folder, which mteb writes into every result JSON as ``dataset_revision`` - so the label changes
whenever any byte changes, and results on edited data are never reused as results on the original. Every file
listed in the folder's ``SHA256SUMS`` must match it (a truncated or edited parquet file is refused, naming the
file), and the parquet files a task needs must be readable and have the columns of their kind (``corpus`` /
``queries``: ``_id``, ``text``; ``qrels``: ``query-id``, ``corpus-id``, ``score``). The label rests on the bytes the
task reads: :func:`load_task_data` reads the mirror once, hashes those bytes and parses them
(:func:`hybrid_bench.data.mirror_integrity.read_mirror`), bypassing the ``datasets`` cache, which keys a local
folder by its name. A task instance pointed at a mirror (:func:`use_mirror`, :func:`apply_mirrors_to_task`, the
plugin's mirrored classes) loads that way, whichever code calls its ``load_data``. A warning is logged when the
data is loaded ("using local mirror ... - results are not comparable to official runs").

Example::

    import os, mteb
    from hybrid_bench.data.mirrors import apply_mirrors_to_task

    os.environ["HYBRID_BENCH_MIRRORS"] = "mteb/MIRACLRetrieval=/work/shared/data/miracl-lite"
    task = mteb.get_task("MIRACLRetrieval", languages=["swa"])
    apply_mirrors_to_task(task)        # True
    task.metadata.revision             # 'mirror:miracl-lite@...'
"""

from __future__ import annotations

import functools
import logging
import os
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybrid_bench.data.mirror_integrity import MIRROR_REVISION_PREFIX, mirror_configs, mirror_revision, read_mirror
from hybrid_bench.errors import DataError
from hybrid_bench.paths import home_dir

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

__all__ = [
    "MIRRORS_ENV",
    "MIRROR_REVISION_PREFIX",
    "Mirror",
    "apply_mirrors_to_task",
    "check_task_mirror",
    "get_mirror",
    "load_task_data",
    "mirror_file",
    "mirror_map",
    "mirror_revision",
    "mirrored_task_class",
    "required_configs",
    "resolve_mirror",
    "use_mirror",
]

logger = logging.getLogger(__name__)

MIRRORS_ENV = "HYBRID_BENCH_MIRRORS"
_NOT_COMPARABLE = "results are not comparable to official runs"
_WARNED: set[tuple[str, str]] = set()  # (task, mirror revision) already announced by this process


def mirror_file() -> Path:
    """The optional mirrors config file, ``$HYBRID_BENCH_HOME/mirrors.toml``."""
    return home_dir() / "mirrors.toml"


def _parse_env(value: str) -> dict[str, Path]:
    entries: dict[str, Path] = {}
    for raw in value.replace("\n", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        repo_id, sep, folder = entry.partition("=")
        if not sep or not repo_id.strip() or not folder.strip():
            raise DataError(
                f"mirror entry {entry!r} is not of the form repo_id=folder; separate entries with ';', e.g. "
                f"{MIRRORS_ENV}='mteb/MIRACLRetrieval=/data/miracl-lite'",
                file=f"${MIRRORS_ENV}",
            )
        entries[repo_id.strip()] = Path(folder.strip()).expanduser().resolve()
    return entries


def _parse_file(path: Path) -> dict[str, Path]:
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"not valid TOML ({err})", file=path) from None
    mirrors = table.get("mirrors", {})
    if not isinstance(mirrors, dict):
        raise DataError('expected a [mirrors] table of "repo_id" = "folder" entries', file=path)
    entries: dict[str, Path] = {}
    for repo_id, folder in mirrors.items():
        if not isinstance(folder, str):
            raise DataError(f"the folder must be a string, got {folder!r}", file=path, item=repo_id)
        entries[repo_id] = (path.parent / Path(folder).expanduser()).resolve()
    return entries


def mirror_map() -> dict[str, Path]:
    """All configured mirrors, ``{repo_id: folder}``: ``$HYBRID_BENCH_HOME/mirrors.toml``, then ``HYBRID_BENCH_MIRRORS``.

    Read afresh on every call (the environment may change between calls); folders are not checked here.
    """
    entries: dict[str, Path] = {}
    config = mirror_file()
    if config.is_file():
        entries.update(_parse_file(config))
    entries.update(_parse_env(os.environ.get(MIRRORS_ENV, "")))
    return entries


@dataclass(frozen=True)
class Mirror:
    """One configured mirror: the hub repo id it replaces and the local folder that holds the same layout."""

    repo_id: str
    folder: Path

    @property
    def revision(self) -> str:
        """See :func:`mirror_revision`: the folder's files hashed afresh on every access."""
        return mirror_revision(self.folder)

    @functools.cached_property
    def configs(self) -> frozenset[str]:
        """The dataset configs the folder provides (its README's ``configs:``)."""
        return frozenset(mirror_configs(self.folder))


def get_mirror(repo_id: str) -> Mirror | None:
    """The :class:`Mirror` configured for ``repo_id``, or ``None``; a configured folder that is missing raises."""
    folder = mirror_map().get(repo_id)
    if folder is None:
        return None
    if not folder.is_dir():
        where = f"${MIRRORS_ENV}" if repo_id in _parse_env(os.environ.get(MIRRORS_ENV, "")) else mirror_file()
        raise DataError(
            f"the local mirror for {repo_id} is configured as {folder}, which is not a folder; fix the entry or "
            f"remove it to use the Hugging Face hub",
            file=where,
            item=repo_id,
        )
    return Mirror(repo_id, folder)


def resolve_mirror(repo_id: str) -> Path | None:
    """The local folder configured for the hub dataset ``repo_id``, or ``None`` when there is none."""
    mirror = get_mirror(repo_id)
    return mirror.folder if mirror else None


def required_configs(task: AbsTask) -> dict[str, list[str]]:
    """The dataset configs ``task`` will load for its selected subsets, ``{hf_subset: [config, ...]}``.

    A task that defines ``required_dataset_configs()`` says so itself (hybrid-bench's MIRACL pool task: its subsets
    are ``"sw-all"``-style settings, not dataset configs). Otherwise retrieval tasks load ``<subset>-corpus``,
    ``<subset>-queries`` and ``<subset>-qrels`` (bare ``corpus`` ... for a monolingual task), as mteb's
    ``RetrievalDatasetLoader`` does, and other tasks load the subset itself.
    """
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    own = getattr(task, "required_dataset_configs", None)
    if callable(own):
        return {subset: list(configs) for subset, configs in own().items()}
    subsets = list(task.hf_subsets) if task.metadata.is_multilingual else ["default"]
    needed: dict[str, list[str]] = {}
    for subset in subsets:
        if isinstance(task, AbsTaskRetrieval):
            prefix = "" if subset == "default" else f"{subset}-"
            needed[subset] = [f"{prefix}{part}" for part in ("corpus", "queries", "qrels")]
        else:
            needed[subset] = [subset if subset != "default" else task.metadata.dataset.get("name") or "default"]
    return needed


def _languages_flag(task: AbsTask, subsets: list[str]) -> str:
    langs = []
    for subset in subsets:
        for lang_script in task.metadata.hf_subsets_to_langscripts.get(subset, []):
            lang = lang_script.split("-")[0]
            if lang not in langs:
                langs.append(lang)
    return " ".join(langs)


def _check_subsets(task: AbsTask, mirror: Mirror, available: frozenset[str] | None = None) -> None:
    needed = required_configs(task)
    available = mirror.configs if available is None else available
    missing = {subset: [c for c in configs if c not in available] for subset, configs in needed.items()}
    missing = {subset: configs for subset, configs in missing.items() if configs}
    if not missing:
        return
    present = [
        subset
        for subset, configs in required_configs(type(task)()).items()  # every subset the task defines
        if all(c in available for c in configs)
    ]
    langs = _languages_flag(task, sorted(missing))
    raise DataError(
        f"the local mirror of {mirror.repo_id} has no data for {task.metadata.name} subset(s) "
        f"{', '.join(sorted(missing))} (language(s) {langs}; missing configs "
        f"{', '.join(c for configs in missing.values() for c in configs)}). Restrict the languages to those the "
        f"mirror holds, e.g. `-l {_languages_flag(task, present)}`, or remove the mirror to use the hub.",
        file=mirror.folder,
        item=task.metadata.name,
    )


def _log_use(task: AbsTask, mirror: Mirror, revision: str) -> None:
    """Warn that ``task`` runs on ``mirror`` (read as ``revision``): once per process and (task, revision); a run
    that builds the task for many models (``reproduce``) says it once, and again only if the data changes."""
    key = (task.metadata.name, revision)
    if key in _WARNED:
        return
    _WARNED.add(key)
    logger.warning(
        "%s: using local mirror %s for %s (dataset revision %s) - %s",
        task.metadata.name,
        mirror.folder,
        mirror.repo_id,
        revision,
        _NOT_COMPARABLE,
    )


def _mirror_for_task(task: AbsTask | type[AbsTask]) -> Mirror | None:
    own = vars(task).get("mirror") if not isinstance(task, type) else None  # set by use_mirror on this instance
    if own is not None:
        return own
    # a class swapped for its mirrored subclass at registration (register_mirrors) keeps the mirror configured
    # then; the mirror configured now wins, so a process whose configuration changed never reads the old folder
    swapped = getattr(task if isinstance(task, type) else type(task), "mirror", None)
    path = task.metadata.dataset["path"]
    mirror = get_mirror(swapped.repo_id if swapped is not None else path)
    if mirror is not None:
        return mirror
    if swapped is not None:
        return swapped
    # A task already pointed at its mirror carries the folder as its path; map it back to the repo id. (The
    # dataset dict itself must keep only keys that `datasets.load_dataset` accepts: mteb passes it on as kwargs.)
    for repo_id, folder in mirror_map().items():
        if str(folder) == path:
            return get_mirror(repo_id)
    return None


def _point_metadata_at(metadata: Any, mirror: Mirror, *, verified: bool = True,  # noqa: ANN401
                       revision: str | None = None) -> Any:  # noqa: ANN401
    """``metadata`` (mteb's TaskMetadata) pointed at ``mirror`` with ``revision`` (default: hashed now). With
    ``verified=False`` (registering task classes at import) a mirror that fails its checks gets an ``@unverified``
    label instead of raising at import time; its data never loads, since it is read and checked again then."""
    if revision is None:
        try:
            revision = mirror.revision
        except DataError:
            if verified:
                raise
            revision = f"{MIRROR_REVISION_PREFIX}{mirror.folder.name}@unverified"
    dataset = {**metadata.dataset, "path": str(mirror.folder), "revision": revision}
    return metadata.model_copy(update={"dataset": dataset})


def apply_mirrors_to_task(task: AbsTask, *, check_subsets: bool = True) -> bool:
    """Point ``task``'s dataset at its configured local mirror; ``False`` (task untouched) when there is none.

    Only this task instance changes (its ``metadata`` becomes an instance attribute): ``dataset["path"]`` becomes
    the folder, which ``datasets.load_dataset`` reads in place of the hub repo, and ``dataset["revision"]`` becomes
    the mirror label that mteb records as ``dataset_revision`` in the results. Call it after the task's languages
    are filtered and before ``load_data``: with ``check_subsets`` a selected language the mirror lacks raises a
    :class:`~hybrid_bench.errors.DataError` that names the languages to use instead (rather than ``datasets``'
    ``BuilderConfig ... not found`` from deep inside the loader). Logs a warning that the run is a mirror run. The
    instance then loads its data as :func:`use_mirror` says.
    """
    mirror = _mirror_for_task(task)
    if mirror is None:
        return False
    use_mirror(task, mirror, check_subsets=check_subsets)
    return True


def use_mirror(task: AbsTask, mirror: Mirror, *, check_subsets: bool = True) -> None:
    """Point this ``task`` instance at ``mirror`` - configured or not (e.g. a sampled copy passed as an argument).

    What :func:`apply_mirrors_to_task` does once it found the task's configured mirror; see there. The instance
    remembers ``mirror``; if its class loads with mteb's standard ``load_data``, the instance's ``load_data``
    becomes :func:`load_task_data`, so that mteb's own loader (and the ``datasets`` cache) never reads the folder.
    """
    from hybrid_bench.data.mirror_loading import loads_like_mteb

    task.metadata = _point_metadata_at(task.metadata, mirror)
    task.mirror = mirror  # type: ignore[attr-defined]
    if loads_like_mteb(task):
        task.load_data = types.MethodType(_load_data_from_mirror, task)  # type: ignore[method-assign]
    if check_subsets:
        _check_subsets(task, mirror)
    _log_use(task, mirror, task.metadata.revision)


def _load_data_from_mirror(task: AbsTask, num_proc: int | None = None, **kwargs: Any) -> None:  # noqa: ANN401
    """``load_data`` of a task instance pointed at a mirror (see :func:`use_mirror`)."""
    load_task_data(task, num_proc=num_proc)


def load_task_data(task: AbsTask, *, num_proc: int | None = None) -> bool:
    """Load ``task``'s data from its local mirror - the one :func:`use_mirror` pointed the instance at, else the one
    configured for its dataset - reading the files once, hashing those bytes and parsing them; ``False`` (nothing
    done) when the task has no mirror, so the caller loads from the hub.

    The task's ``dataset_revision`` becomes the label of the bytes read, whatever it was before. Works for tasks
    that mteb loads with its standard ``load_data`` (retrieval and per-subset ``load_dataset``), as
    :mod:`hybrid_bench.data.mirror_loading` reproduces.

    Raises:
        DataError: as :func:`apply_mirrors_to_task`, a file that fails ``SHA256SUMS`` or a damaged parquet file.
    """
    from hybrid_bench.data.mirror_loading import fill_task, snapshot_configs

    mirror = _mirror_for_task(task)
    if mirror is None:
        return False
    if task.data_loaded:
        return True
    _check_subsets(task, mirror)
    snapshot = read_mirror(mirror.folder, snapshot_configs(task, required_configs(task), mirror.configs))
    task.metadata = _point_metadata_at(task.metadata, mirror, revision=snapshot.revision)
    fill_task(task, snapshot, num_proc=num_proc)
    _log_use(task, mirror, snapshot.revision)
    return True


def check_task_mirror(task: AbsTask) -> None:
    """Check the local mirror of ``task`` (if it has one) for what its selected subsets need, without loading data:
    ``SHA256SUMS``, the configs, the parquet files' readability and columns. For commands that want bad data
    reported before a model loads; :func:`apply_mirrors_to_task` runs the same checks when the data loads.

    Raises:
        DataError: as :func:`apply_mirrors_to_task`.
    """
    mirror = _mirror_for_task(task)
    if mirror is None:
        return
    _check_subsets(task, mirror)
    read_mirror(mirror.folder, [c for configs in required_configs(task).values() for c in configs])


def mirrored_task_class(cls: type[AbsTask]) -> type[AbsTask] | None:
    """A subclass of the task class ``cls`` that loads from ``cls``'s configured mirror, or ``None`` without one.

    Used by :mod:`hybrid_bench.mteb_plugin` to swap stock tasks in mteb's registry. The subclass keeps the name
    and carries the mirror's path and revision in its class metadata, so mteb sees the mirror revision from the
    start (e.g. when it compares a cached result's ``dataset_revision`` before deciding to re-run); its
    ``load_data`` checks the selected languages against the mirror first (see :func:`apply_mirrors_to_task`) and
    reads the data with :func:`load_task_data` when ``cls`` loads with mteb's standard ``load_data``.
    """
    mirror = _mirror_for_task(cls)
    if mirror is None:
        return None

    def load_data(self: AbsTask, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        from hybrid_bench.data.mirror_loading import loads_like_mteb

        apply_mirrors_to_task(self)
        if not loads_like_mteb(self):  # a task with its own loader (hybrid-bench's) reads the mirror itself
            return super(mirrored, self).load_data(*args, **kwargs)
        load_task_data(self, num_proc=kwargs.get("num_proc", args[0] if args else None))
        return None

    mirrored = type(
        cls.__name__,
        (cls,),
        {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": f"{cls.__doc__ or cls.__name__}\n\nLoads from the local mirror {mirror.folder}.",
            "metadata": _point_metadata_at(cls.metadata, mirror, verified=False),
            "load_data": load_data,
            "mirror": mirror,
        },
    )
    return mirrored
