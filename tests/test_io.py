"""Atomic writes recover from an interrupted replacement (hybrid_bench.io)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hybrid_bench.io import ResultExistsError, atomic_path, atomic_write_text, backup_path, recover, set_aside


def _folder(path: Path, text: str) -> None:
    path.mkdir()
    (path / "a.txt").write_text(text)


def _write_folder(target: Path, text: str, *, overwrite: bool) -> None:
    with atomic_path(target, overwrite=overwrite) as tmp:
        _folder(tmp, text)


def test_killed_between_the_two_renames_restores_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "board"
    _folder(target, "old")
    os.replace(target, backup_path(target))  # the state a kill after the first rename leaves
    recover(target)
    assert (target / "a.txt").read_text() == "old"
    assert not backup_path(target).exists()


def test_killed_between_the_renames_then_overwrite_works(tmp_path: Path) -> None:
    target = tmp_path / "board"
    _folder(target, "old")
    os.replace(target, backup_path(target))
    with pytest.raises(ResultExistsError):  # the old version is back, so a plain write still refuses
        _write_folder(target, "new", overwrite=False)
    _write_folder(target, "new", overwrite=True)
    assert (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board"]


def test_stale_backup_does_not_break_later_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "board"
    _folder(target, "current")
    _folder(backup_path(target), "stale")  # a kill after the second rename, before the backup was deleted
    _write_folder(target, "new", overwrite=True)
    assert (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board"]


def test_file_replaced_in_one_rename_and_failure_leaves_target(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write_text(target, "1")
    atomic_write_text(target, "2", overwrite=True)
    assert target.read_text() == "2"
    with pytest.raises(RuntimeError), atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_set_aside_keeps_the_damaged_file(tmp_path: Path) -> None:
    bad = tmp_path / "T.json"
    bad.write_text("{")
    first = set_aside(bad, "truncated")
    bad.write_text("{")
    second = set_aside(bad, "truncated")
    assert (first.name, second.name) == ("T.json.bad-0", "T.json.bad-1")
    assert not bad.exists() and first.read_text() == "{"
