"""The resume ledger of a run: ``<output-folder>/reproduce_state.json``, rewritten atomically after each stage.

A finished evaluation is recorded under :func:`stage_key` ``("eval", model, revision, task, settings_hash)``; a
rerun skips it only while that key is present *and* mteb's result file still exists, so a result is never reused
for another model revision, task or preset setting (:meth:`Preset.eval_settings`). Trainings are not recorded
here: the model store's training record is their ledger (see :mod:`hybrid_bench.experiment.train_stage`).

Stages run as separate jobs (:mod:`hybrid_bench.experiment.engines`) never write the ledger itself: each job's
:meth:`Ledger.mark` writes one file of its own, atomically, into ``reproduce_state.marks/`` next to it (a job
opens the ledger with ``own_marks=True``), and the coordinating process merges them (:meth:`Ledger.merge_marks`,
also whenever a ledger is opened, so the marks of jobs that finished after their coordinator stopped are kept).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_write_text

__all__ = ["LEDGER_FILE", "MARKS_DIR", "Ledger", "settings_hash", "stage_key"]

LEDGER_FILE = "reproduce_state.json"
#: the folder (next to the ledger) of the marks written by jobs, one JSON file per finished stage
MARKS_DIR = "reproduce_state.marks"


def stage_key(*parts: object) -> str:
    """The ledger key of a finished stage: its parts joined by ``|``."""
    return "|".join(str(p) for p in parts)


def settings_hash(settings: dict[str, Any]) -> str:
    """12 hex digits of the sha256 of ``settings`` as sorted JSON (part of an evaluation's key)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Ledger:
    """Finished stages with their wall times (``data["done"]``), the preset, the base and earlier runs.

    ``own_marks``: this process is a job of an engine: :meth:`mark` writes its own file into :data:`MARKS_DIR`
    instead of rewriting the ledger, which only the coordinating process writes.
    """

    def __init__(self, path: Path, *, own_marks: bool = False) -> None:
        self.path, self.own_marks = path, own_marks
        self.marks = path.parent / MARKS_DIR
        try:
            self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.data = {}
        except ValueError as err:
            raise DataError(f"not valid JSON ({err}); delete it to start the bookkeeping afresh", file=path) from None
        if not isinstance(self.data, dict) or not isinstance(self.data.setdefault("done", {}), dict):
            raise DataError("not a reproduce ledger (expected an object with a 'done' object); delete it to start "
                            "the bookkeeping afresh", file=path)
        if own_marks:
            self.data["done"].update(dict(pair for _, pair in self._read_marks()))
        else:
            self.merge_marks()

    def done(self, key: str) -> bool:
        return key in self.data["done"]

    def info(self, key: str) -> dict[str, Any]:
        """What :meth:`mark` recorded for ``key`` (empty when it is not done)."""
        return dict(self.data["done"].get(key, {}))

    def refresh(self) -> None:
        """Take in the stages another process sharing this output folder finished since this one read the file."""
        try:
            on_disk = json.loads(self.path.read_text(encoding="utf-8")).get("done")
        except (OSError, ValueError, AttributeError):
            return  # absent, or being replaced: what this process holds stays valid
        if isinstance(on_disk, dict):
            self.data["done"] = {**on_disk, **self.data["done"]}

    def mark(self, key: str, **info: Any) -> None:
        self.data["done"][key] = info
        if self.own_marks:
            name = hashlib.sha256(key.encode()).hexdigest()[:24]
            atomic_write_text(self.marks / f"{name}.json", json.dumps({"key": key, "info": info}, indent=1,
                                                                        default=str) + "\n", overwrite=True)
        else:
            self.save()

    def merge_marks(self) -> int:
        """Take the jobs' marks into the ledger (saved), then remove their files; returns how many were merged."""
        marks = list(self._read_marks())
        if not marks:
            return 0
        self.data["done"].update(dict(pair for _, pair in marks))
        self.save()
        for file, _ in marks:
            file.unlink(missing_ok=True)
        return len(marks)

    def _read_marks(self) -> list[tuple[Path, tuple[str, dict[str, Any]]]]:
        """The jobs' marks as (file, (key, info)); a file that is not a mark is an error naming it."""
        found = []
        for file in sorted(self.marks.glob("*.json")) if self.marks.is_dir() else []:
            if file.name.startswith("."):
                continue  # a writer's temporary
            try:
                mark = json.loads(file.read_text(encoding="utf-8"))
            except ValueError as err:
                raise DataError(f"not valid JSON ({err}); delete it to recompute that stage", file=file) from None
            if not (isinstance(mark, dict) and isinstance(mark.get("key"), str) and isinstance(mark.get("info"), dict)):
                raise DataError("not a ledger mark (expected an object with 'key' and 'info'); delete it to "
                                "recompute that stage", file=file)
            found.append((file, (mark["key"], mark["info"])))
        return found

    def save(self) -> None:
        """Write the ledger, keeping the stages other processes recorded in it meanwhile (under a file lock)."""
        import filelock

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(self.path.with_name(f".{self.path.name}.lock")):
            self.refresh()
            atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str) + "\n", overwrite=True)
