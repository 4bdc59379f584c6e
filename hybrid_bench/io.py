"""Atomic file writes: a result or checkpoint is either complete on disk or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class ResultExistsError(FileExistsError):
    """Raised instead of silently overwriting an existing result."""


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success move it into place in one rename.

    Works for files and directories (whatever the caller creates at the yielded path). On an exception the
    temporary is removed and ``target`` is untouched. With ``overwrite=False`` an existing ``target`` raises
    :class:`ResultExistsError` before any work is done.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise ResultExistsError(f"{target} already exists; refusing to overwrite it (pass overwrite=True / --overwrite).")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp = tmp_root / target.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary path for {target}")
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            os.replace(target, backup)
            os.replace(tmp, target)
            if backup.is_dir():
                shutil.rmtree(backup)
            else:
                backup.unlink()
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def atomic_write_text(target: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
