"""User-facing errors: each says which file / item / name is wrong and how to fix the call.

The CLI prints these as one line instead of a traceback.
"""

from __future__ import annotations


class HybridBenchError(Exception):
    """Base class for errors caused by user input or configuration, not by a bug."""


class DataError(HybridBenchError, ValueError):
    """Bad or missing input data. The message names the file, the item id and the problem."""

    def __init__(self, problem: str, *, file: object | None = None, item: object | None = None) -> None:
        self.file = file
        self.item = item
        self.problem = problem
        where = []
        if file is not None:
            where.append(f"{file}")
        if item is not None:
            where.append(f"item {item!r}")
        super().__init__(f"{': '.join(where)}: {problem}" if where else problem)


class ModelNotFoundError(HybridBenchError, LookupError):
    """A model name that resolves nowhere; the message names the command that would create it."""
