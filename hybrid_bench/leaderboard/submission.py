"""Check that a results folder can be submitted to an MTEB results repository, by loading it back with mteb.

A submittable folder has, for every model, ``results/<model name, '/' → '__'>/<revision>/`` holding one
``<TaskName>.json`` per task and a ``model_meta.json`` (what :meth:`mteb.ResultCache.save_to_cache` writes when it
is given a :class:`~mteb.models.ModelMeta`; ``mteb run``, ``hybrid-bench eval`` and ``hybrid-bench reproduce`` all do
that). :func:`check_submission` loads the folder back through :meth:`mteb.ResultCache.load_results` with
``require_model_meta=True`` and no remote results, and compares what mteb sees with the files on disk: a file mteb
silently skips (no ``model_meta.json``, an unparsable result) is an error here, not a missing row later.

How to submit (see also the README section "Leaderboards")::

    from mteb.cache import ResultCache
    cache = ResultCache("results/reproduce")
    cache.submit_results(["hybrid-bench/hybrid-me5-small"], create_pr=False)   # prints the manual steps

or copy ``results/<model>/<revision>/`` into a fork of https://github.com/embeddings-benchmark/results and open a
pull request. Results computed on a local data mirror carry a ``mirror:...`` dataset revision and are not comparable
with official runs: do not submit those to the public repository.

Example:
    >>> from hybrid_bench.leaderboard.submission import check_submission
    >>> report = check_submission("results/reproduce")  # doctest: +SKIP
    >>> report.models  # doctest: +SKIP
    {('hybrid-bench/hybrid-me5-small', 'local-0123456789ab'): ['MLQARRetrieval', 'XQuADRHeldOutRetrieval']}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from hybrid_bench.errors import DataError
from hybrid_bench.leaderboard.results import read_task_result

__all__ = ["SubmissionReport", "check_submission"]


@dataclass(frozen=True)
class SubmissionReport:
    """What mteb's :class:`~mteb.cache.ResultCache` read back from a results folder.

    Attributes:
        root: the ``ResultCache`` root (the folder that contains ``results/``).
        models: ``(model name, revision)`` → sorted task names mteb loaded.
        mirror_tasks: ``"model/task"`` entries whose dataset revision names a local mirror (not for public
            submission).
    """

    root: Path
    models: dict[tuple[str, str], list[str]]
    mirror_tasks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"submission check: mteb's ResultCache loads {len(self.models)} model(s) from {self.root}"]
        for (name, revision), task_names in sorted(self.models.items()):
            lines.append(f"  {name} @ {revision}: {', '.join(task_names)}")
        if self.mirror_tasks:
            lines.append(f"  {len(self.mirror_tasks)} result(s) were computed on a local data mirror "
                         "(dataset revision 'mirror:...'): fine for a private results repository, not comparable "
                         "with official MTEB runs")
        return "\n".join(lines)


def _root_of(path: Path) -> Path:
    if (path / "results").is_dir():
        return path
    if path.name == "results" and path.is_dir():
        return path.parent
    raise DataError("expected a ResultCache root with a results/ folder (e.g. the --output-folder of `mteb run`)",
                    file=path)


def check_submission(path: str | os.PathLike[str]) -> SubmissionReport:
    """Load every result under ``path`` back with :meth:`mteb.ResultCache.load_results` and check it is complete.

    Args:
        path: a ``ResultCache`` root (contains ``results/``) or that ``results/`` folder itself.

    Returns:
        :class:`SubmissionReport` listing what mteb loaded.

    Raises:
        DataError: a revision folder lacks ``model_meta.json`` (mteb would skip it), ``model_meta.json`` is not
            valid JSON, or a ``<Task>.json`` on disk is not among the results mteb loaded.
    """
    root = _root_of(Path(path).expanduser())
    on_disk: dict[tuple[str, str], set[str]] = {}
    for revision_dir in sorted(p for p in (root / "results").glob("*/*") if p.is_dir()):
        task_files = sorted(f for f in revision_dir.glob("*.json") if f.name != "model_meta.json")
        if not task_files:
            continue
        meta_file = revision_dir / "model_meta.json"
        if not meta_file.is_file():
            raise DataError(
                "no model_meta.json: mteb's ResultCache skips this folder, so it cannot be submitted. Re-run the "
                "evaluation with a registered model (`hybrid-bench eval -m NAME` or `mteb run -m NAME`), which "
                "writes it", file=revision_dir)
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"model_meta.json is not valid JSON ({err})", file=meta_file) from None
        for task_file in task_files:  # mteb would die on malformed ones with a traceback
            read_task_result(task_file)
        key = (str(meta.get("name") or revision_dir.parent.name.replace("__", "/")),
               str(meta.get("revision") or revision_dir.name))
        on_disk.setdefault(key, set()).update(f.stem for f in task_files)
    if not on_disk:
        raise DataError("no results/<model>/<revision>/<Task>.json files", file=root)

    from mteb.cache import ResultCache

    loaded = ResultCache(root).load_results(require_model_meta=True, include_remote=False)
    models: dict[tuple[str, str], list[str]] = {}
    mirror_tasks: list[str] = []
    for model_result in loaded.model_results:
        key = (str(model_result.model_name), str(model_result.model_revision))
        names = models.setdefault(key, [])
        for task_result in model_result.task_results:
            names.append(task_result.task_name)
            if str(task_result.dataset_revision).startswith("mirror:"):
                mirror_tasks.append(f"{key[0]}/{task_result.task_name}")
    for key, task_names in on_disk.items():
        missing = sorted(task_names - set(models.get(key, [])))
        if missing:
            raise DataError(
                f"mteb's ResultCache did not load {missing} of {key[0]} @ {key[1]}; check that the files are "
                "valid task results of tasks mteb knows (hybrid-bench's tasks register on `import mteb`)",
                file=root / "results")
    return SubmissionReport(root=root, models={k: sorted(v) for k, v in models.items()}, mirror_tasks=mirror_tasks)
