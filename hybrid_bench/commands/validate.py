"""Command-line checks that run before any work: option values (argparse ``type=`` functions) and output paths.

A bad value fails at parse time with one line, ``hybrid-bench <command>: error: argument --lr: must be > 0, got
-1`` (see :class:`OneLineParser`), not after the model has loaded, and never silently means something else
(``--max-seq-length 0`` is not "no cap"). A folder the run would write to is checked for writability *before* the
work, not after hours of it.

Example::

    parser.add_argument("--lr", type=positive_float)
    check_writable(args.output_folder, "--output-folder")
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import NoReturn

from hybrid_bench.errors import HybridBenchError

__all__ = ["OneLineParser", "check_writable", "fraction", "key_value", "positive_float", "positive_int"]


class OneLineParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are one line on stderr (no usage block); exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind: type, text: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")


def positive_int(text: str) -> int:
    """An integer ≥ 1 (batch sizes, token limits, steps)."""
    value = int(_number(int, text))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rate, loss scale)."""
    value = float(_number(float, text))
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1] (warm-up ratio, α)."""
    value = float(_number(float, text))
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text}")
    return value


def key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` with a non-empty key (e.g. an ``sbatch`` option: ``account=proj``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def check_writable(path: str | os.PathLike[str], what: str) -> Path:
    """Check that ``path`` (a folder, created later if missing) can be written, without creating anything.

    Args:
        path: the folder the run will write into.
        what: how the user named it (``"--output-folder"``, ``"$HYBRID_BENCH_HOME"``), for the message.

    Raises:
        HybridBenchError: one line naming ``what``, the path and the reason.
    """
    path = Path(path).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise HybridBenchError(f"{what} {path}: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".hybrid-bench-write-test-", dir=existing)
    except OSError as err:
        raise HybridBenchError(f"{what} {path} cannot be written ({err.strerror} in {existing}); choose another "
                               "folder") from None
    os.close(handle)
    os.unlink(probe)
    return path

