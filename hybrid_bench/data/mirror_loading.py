"""Hand a verified mirror snapshot to an mteb task through mteb's own loading code, never through ``datasets``' cache.

mteb loads a retrieval task with :class:`mteb.abstasks.retrieval_dataset_loaders.RetrievalDatasetLoader` (qrels
cast and grouped, ``_id`` renamed, queries without judgments dropped, optional ``top_ranked`` and ``instruction``
configs) and any other task with ``datasets.load_dataset`` per subset. Both read a local folder through the
``datasets`` cache, which is keyed by the folder's name, so a copy of a mirror under the same name would be served
the other copy's data. :func:`fill_task` runs the same steps on the tables of a
:class:`~hybrid_bench.data.mirror_integrity.MirrorSnapshot` (parsed from the bytes that were hashed):
:class:`SnapshotRetrievalLoader` is mteb's loader with only its file access replaced.

Example::

    from hybrid_bench.data.mirror_integrity import read_mirror
    from hybrid_bench.data.mirror_loading import fill_task, snapshot_configs

    task = mteb.get_task("MIRACLRetrieval", languages=["yor"])
    snapshot = read_mirror(folder, snapshot_configs(task, needed, available))
    fill_task(task, snapshot)          # task.dataset as mteb's load_data builds it; task.data_loaded is True
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from datasets import DatasetDict
from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalDatasetLoader

from hybrid_bench.data.mirror_integrity import MirrorSnapshot
from hybrid_bench.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["SnapshotRetrievalLoader", "fill_task", "loads_like_mteb", "snapshot_configs"]

#: the optional configs mteb's retrieval loader reads when the source has them
_OPTIONAL_RETRIEVAL = ("top_ranked", "instruction")


class SnapshotRetrievalLoader(RetrievalDatasetLoader):
    """mteb's retrieval loader reading one subset's configs from a snapshot instead of ``datasets.load_dataset``."""

    def __init__(self, snapshot: MirrorSnapshot, split: str, config: str | None) -> None:
        # RetrievalDatasetLoader.__init__ lists the configs with datasets; the snapshot has them already
        self.snapshot = snapshot
        self.hf_repo = str(snapshot.folder)
        self.revision = snapshot.revision
        self.trust_remote_code = False
        self.split = split
        self.config = config if config != "default" else None
        self.dataset_configs = list(snapshot.configs)

    def _get_split(self, config: str) -> str:
        splits = self.snapshot.splits(config)
        if self.split in splits:
            return self.split
        if len(splits) == 1:
            return splits[0]
        raise DataError(f"config {config!r} has no split {self.split!r}; it has {splits}", file=self.snapshot.folder)

    def _load_dataset_split(self, config: str, num_proc: int | None) -> Dataset:
        return self.snapshot.dataset(config, self._get_split(config))


def loads_like_mteb(task: AbsTask) -> bool:
    """Whether ``task`` loads its data with mteb's standard ``load_data`` (retrieval or generic), which
    :func:`fill_task` reproduces."""
    cls = type(task)
    while "mirror" in vars(cls):  # the plugin's mirrored subclass (mirrors.mirrored_task_class): look past it
        cls = cls.__mro__[1]
    load = cls.load_data
    return load in (AbsTaskRetrieval.load_data, AbsTask.load_data) and not getattr(task, "fast_loading", False)


def snapshot_configs(task: AbsTask, needed: Mapping[str, Sequence[str]], available: Collection[str]) -> list[str]:
    """The configs to read for ``task``: ``needed`` (see :func:`hybrid_bench.data.mirrors.required_configs`) and,
    for a retrieval task, the optional ``top_ranked`` / ``instruction`` configs the mirror has."""
    configs = [c for cs in needed.values() for c in cs]
    if isinstance(task, AbsTaskRetrieval):
        for subset in needed:
            prefix = "" if subset == "default" else f"{subset}-"
            configs += [f"{prefix}{part}" for part in _OPTIONAL_RETRIEVAL if f"{prefix}{part}" in available]
    return list(dict.fromkeys(configs))


def fill_task(task: AbsTask, snapshot: MirrorSnapshot, *, num_proc: int | None = None) -> None:
    """Set ``task.dataset`` from ``snapshot`` as mteb's ``load_data`` would from the folder, then run the task's
    ``dataset_transform`` and mark it loaded. The snapshot must hold the configs of :func:`snapshot_configs`."""
    subsets = list(task.hf_subsets) if task.metadata.is_multilingual else ["default"]
    dataset: dict[str, Any] = {}
    if isinstance(task, AbsTaskRetrieval):
        for subset in subsets:
            dataset[subset] = {split: SnapshotRetrievalLoader(snapshot, split, subset).load(num_proc=num_proc)
                               for split in task.eval_splits}
        task.dataset = dataset
    else:
        for subset in subsets:
            config = subset if subset != "default" else task.metadata.dataset.get("name") or "default"
            dataset[subset] = DatasetDict({split: snapshot.dataset(config, split)
                                           for split in snapshot.splits(config)})
        task.dataset = dataset if task.metadata.is_multilingual else dataset["default"]
    task.dataset_transform(num_proc=num_proc)
    task.data_loaded = True
