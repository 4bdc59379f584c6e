"""Atomic file writes: a result or checkpoint is either complete on disk or absent, never half-written.

Replacing an existing ``target`` takes two renames (``target`` → ``.<name>.old``, then the finished temporary →
``target``) because a directory cannot be swapped in one. A process killed between or after them leaves one of two
states, which :func:`recover` (called by every :func:`atomic_path`) repairs: ``target`` missing with its backup
present (the old version is put back: the replacement never happened), or ``target`` present with a stale backup
(the backup is deleted). Nothing else is ever left next to ``target`` but temporaries named
``.<name>.<host>-<pid>-*.tmp``; a writer killed outright (SIGKILL, power loss) cannot remove its own, so
:func:`recover` also removes those of writers on this host whose process no longer runs (a live writer's and another
host's are left alone), and unnamed ones of earlier hybrid-bench versions once they are hours old.
A full disk inside :func:`atomic_path` is raised as an ``OSError(ENOSPC)`` naming ``target`` (:func:`disk_full`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["ResultExistsError", "atomic_path", "atomic_write_text", "backup_path", "disk_full", "named_disk_full",
           "out_of_space", "recover", "remove_dead_temporaries", "remove_dead_writers",
           "set_aside", "writer_tag"]


class ResultExistsError(FileExistsError):
    """Raised instead of silently overwriting an existing result."""


def disk_full(err: BaseException) -> bool:
    """True for "no space left on device", from Python (``OSError`` errno 28, or a full quota) or from safetensors'
    Rust writer (``SafetensorError: ... StorageFull`` / ``os error 28``)."""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(err)
    return type(err).__name__ == "SafetensorError" and ("StorageFull" in text or "os error 28" in text
                                                        or "code: 28" in text)


def named_disk_full(err: BaseException, target: str | os.PathLike[str]) -> OSError | None:
    """``err`` as an ``OSError(ENOSPC)`` naming ``target`` when it is a full disk that does not name its file (pandas,
    ``write_text``, safetensors); ``None`` for any other error (and for one that already names its file)."""
    if not disk_full(err) or (isinstance(err, OSError) and err.filename):
        return None
    detail = "" if isinstance(err, OSError) else f" ({type(err).__name__}: {err})"
    return OSError(errno.ENOSPC, f"No space left on device{detail}", str(target))


#: free bytes under which a writer's failure is taken for a full disk when its library does not say so
LOW_SPACE_BYTES = 16 * 2**20


def out_of_space(err: BaseException, folder: str | os.PathLike[str]) -> OSError | None:
    """``err``, raised while writing under ``folder``, as an ``OSError(ENOSPC)`` naming ``folder`` when it is a full
    disk: one :func:`named_disk_full` recognises, or any error while the device holding ``folder`` has less than
    :data:`LOW_SPACE_BYTES` free (torch's zip writer reports a full disk as ``RuntimeError: ... unexpected pos``).
    Call it before freeing anything. ``None`` otherwise, and for an ``OSError`` that already names its file."""
    if (named := named_disk_full(err, folder)) is not None or disk_full(err):
        return named
    if isinstance(err, OSError) and err.filename:
        return None
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return None
    if free >= LOW_SPACE_BYTES:
        return None
    return OSError(errno.ENOSPC, f"No space left on device ({free} bytes free; {type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''})", str(folder))


def backup_path(target: str | os.PathLike[str]) -> Path:
    """Where :func:`atomic_path` keeps the previous version of ``target`` between its two renames."""
    target = Path(target)
    return target.with_name(f".{target.name}.old")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def writer_tag() -> str:
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


#: an unnamed temporary (the ``.<name>.<8 random>.tmp`` of hybrid-bench before writer tags) untouched this long is
#: taken for a dead writer's: no atomic write of hybrid-bench keeps its temporary for more than minutes
OLD_STYLE_STALE_S = 6 * 3600
_OLD_STYLE = re.compile(r"[a-z0-9_]{8}")


def _remove_quietly(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_dead_writers(folder: str | os.PathLike[str], prefix: str, suffix: str = "") -> list[Path]:
    """Remove the entries ``<prefix><host>-<pid>-*<suffix>`` of ``folder`` whose writer ran on this host and is gone
    (SIGKILL, power loss); returns what was removed. A live writer's and another host's are left alone."""
    host = writer_tag().rsplit("-", 1)[0]
    removed = []
    for tmp in Path(folder).glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        owner = tmp.name[len(prefix):].split("-")
        if len(owner) < 3 or owner[0] != host or not owner[1].isdigit():
            continue
        if int(owner[1]) != os.getpid() and not _alive(int(owner[1])):
            logger.info("removing %s, left behind by a writer (pid %s) that was killed", tmp, owner[1])
            _remove_quietly(tmp)
            removed.append(tmp)
    return removed


def remove_dead_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``target`` whose writer is gone; returns what was removed: those named
    ``.<name>.<host>-<pid>-*.tmp`` of a writer on this host that no longer runs, and unnamed ones of hybrid-bench
    before writer tags (``.<name>.<8 random characters>.tmp``) untouched for :data:`OLD_STYLE_STALE_S`."""
    target = Path(target)
    removed = remove_dead_writers(target.parent, f".{target.name}.", ".tmp")
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        middle = tmp.name[len(target.name) + 2:-len(".tmp")]
        try:
            age = time.time() - tmp.lstat().st_mtime
        except FileNotFoundError:
            continue
        if _OLD_STYLE.fullmatch(middle) and age > OLD_STYLE_STALE_S:
            logger.info("removing %s, an unnamed temporary untouched for %.0f h (a killed writer's)", tmp, age / 3600)
            _remove_quietly(tmp)
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
    tmp_root = Path(tempfile.mkdtemp(prefix=f".{target.name}.{writer_tag()}-", suffix=".tmp", dir=target.parent))
    tmp = tmp_root / target.name
    try:
        try:
            yield tmp
        except Exception as err:
            if (named := named_disk_full(err, target)) is not None:
                raise named from err  # "no space left writing <target>", not "writing ?"
            raise
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
