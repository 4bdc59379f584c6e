"""Atomic file writes: a result or checkpoint is either complete on disk or absent, never half-written.

Replacing an existing ``target`` takes two renames (``target`` → ``.<name>.old``, then the finished temporary →
``target``) because a directory cannot be swapped in one. A process killed between or after them leaves one of two
states, which :func:`recover` (called by every :func:`atomic_path`) repairs: ``target`` missing with its backup
present (the old version is put back: the replacement never happened), or ``target`` present with a stale backup
(the backup is deleted). Nothing else is ever left next to ``target`` but temporaries named
``.<name>.<host>-<pid>-*.tmp``; a writer killed outright (SIGKILL, power loss) cannot remove its own, so
:func:`recover` also removes those of writers on this host whose process no longer runs (a live writer's, another
host's and unnamed ones are left alone).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["ResultExistsError", "atomic_path", "atomic_write_text", "backup_path", "recover", "remove_dead_temporaries",
           "set_aside"]


class ResultExistsError(FileExistsError):
    """Raised instead of silently overwriting an existing result."""


def backup_path(target: str | os.PathLike[str]) -> Path:
    """Where :func:`atomic_path` keeps the previous version of ``target`` between its two renames."""
    target = Path(target)
    return target.with_name(f".{target.name}.old")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _writer_tag() -> str:
    """``<host>-<pid>``: who owns a temporary (dots and dashes of the host name kept out of the separators)."""
    host = socket.gethostname().replace(".", "_").replace("-", "_") or "host"
    return f"{host}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_dead_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``target`` (``.<name>.<host>-<pid>-*.tmp``) whose writer ran on this host and is
    gone; returns what was removed."""
    target = Path(target)
    host = _writer_tag().rsplit("-", 1)[0]
    removed = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        owner = tmp.name[len(target.name) + 2:].split("-")
        if len(owner) < 3 or owner[0] != host or not owner[1].isdigit():
            continue
        if int(owner[1]) != os.getpid() and not _alive(int(owner[1])):
            logger.info("removing %s, left behind by a writer (pid %s) that was killed", tmp, owner[1])
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def recover(target: str | os.PathLike[str]) -> None:
    """Repair what an interrupted :func:`atomic_path` replacement of ``target`` left behind (see the module doc)."""
    target = Path(target)
    if target.parent.is_dir():
        remove_dead_temporaries(target)
    backup = backup_path(target)
    if not backup.exists() and not backup.is_symlink():
        return
    if target.exists():
        logger.info("removing %s, left behind by an interrupted replacement of %s", backup, target)
        _remove(backup)
    else:
        logger.warning("restoring %s from %s: an earlier replacement of it was interrupted", target, backup)
        os.replace(backup, target)


def set_aside(path: str | os.PathLike[str], reason: str) -> Path:
    """Move a damaged file out of the way (``<name>.bad-<n>``, next to it) and log why; returns the new path.

    For files that cannot be trusted (a truncated result): they are kept for inspection, never read again.
    """
    path = Path(path)
    n = 0
    while (aside := path.with_name(f"{path.name}.bad-{n}")).exists():
        n += 1
    os.replace(path, aside)
    logger.warning("%s: %s; moved it to %s and recomputing it", path, reason, aside.name)
    return aside


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success move it into place.

    Works for files and directories (whatever the caller creates at the yielded path). On an exception the
    temporary is removed and ``target`` is untouched. With ``overwrite=False`` an existing ``target`` raises
    :class:`ResultExistsError` before any work is done. An earlier interrupted replacement is repaired first
    (:func:`recover`).
    """
    target = Path(target)
    recover(target)
    if target.exists() and not overwrite:
        raise ResultExistsError(f"{target} already exists; refusing to overwrite it (pass overwrite=True / --overwrite).")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_writer_tag()}-", suffix=".tmp", dir=target.parent))
    tmp = tmp_root / target.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary path for {target}")
        if target.exists() and (tmp.is_dir() or target.is_dir()):
            # a directory cannot be swapped in one rename (a file can: the else branch)
            backup = backup_path(target)
            os.replace(target, backup)
            os.replace(tmp, target)
            _remove(backup)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def atomic_write_text(target: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
