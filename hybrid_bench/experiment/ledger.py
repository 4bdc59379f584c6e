"""The resume ledger of a run: ``<output-folder>/reproduce_state.json``, rewritten atomically after each stage.

A finished evaluation is recorded under :func:`stage_key` ``("eval", model, revision, task, settings_hash)``; a
rerun skips it only while that key is present *and* mteb's result file still exists, so a result is never reused
for another model revision, task or preset setting (:meth:`Preset.eval_settings`). Trainings are not recorded
here: the model store's training record is their ledger (see :mod:`hybrid_bench.experiment.stages`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hybrid_bench.errors import DataError
from hybrid_bench.io import atomic_write_text

__all__ = ["LEDGER_FILE", "Ledger", "settings_hash", "stage_key"]

LEDGER_FILE = "reproduce_state.json"


def stage_key(*parts: object) -> str:
    """The ledger key of a finished stage: its parts joined by ``|``."""
    return "|".join(str(p) for p in parts)


def settings_hash(settings: dict[str, Any]) -> str:
    """12 hex digits of the sha256 of ``settings`` as sorted JSON (part of an evaluation's key)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Ledger:
    """Finished stages with their wall times (``data["done"]``), the preset, the base and earlier runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.data = {}
        except ValueError as err:
            raise DataError(f"not valid JSON ({err}); delete it to start the bookkeeping afresh", file=path) from None
        if not isinstance(self.data, dict) or not isinstance(self.data.setdefault("done", {}), dict):
            raise DataError("not a reproduce ledger (expected an object with a 'done' object); delete it to start "
                            "the bookkeeping afresh", file=path)

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
        self.save()

    def save(self) -> None:
        """Write the ledger, keeping the stages other processes recorded in it meanwhile (under a file lock)."""
        import filelock

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(self.path.with_name(f".{self.path.name}.lock")):
            self.refresh()
            atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str) + "\n", overwrite=True)
