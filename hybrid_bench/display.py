"""One quiet display for long commands: their own progress bar and lines, warnings and errors; the rest behind -v.

Without ``--verbose`` hybrid-bench and the libraries underneath (mteb, sentence-transformers, transformers, datasets,
OpenVINO) log warnings and errors only, and the libraries' progress bars (datasets' "Map" / "Flattening the
indices", transformers' "Loading weights", sentence-transformers' "Batches") are switched off, so a command shows
its own single progress bar and one short line per stage. With ``--verbose`` everything is shown, hybrid-bench at
debug level.

:func:`texts_encoded` counts the texts a model encoded in this process: batch by batch where the model is tracked
(:func:`track_encoder`, a forward hook on the sentence-transformers model, which every encode goes through —
hybrid-bench's tasks, stock mteb tasks, queries and passages alike), else per model call of
:mod:`hybrid_bench.tasks.encoding`. :func:`encode_bar` is the one progress bar of a command that encodes: it
counts those texts, with their rate and, given the texts planned, an ETA.

Example::

    with encode_bar(total=12_000, desc="eval me5-small") as bar:
        ...  # every encoded batch advances the bar
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["configure", "count_encoded", "encode_bar", "encode_rate", "on_encoded", "texts_encoded", "track_encoder"]

_ENCODED = [0]
_BAR: list[Any] = [None]  # the active encode_bar, if any
_FORWARD = {"texts": 0, "seconds": 0.0, "start": None}  # tracked batches: texts and time in the model's forward
_LISTENERS: list[Any] = []  # called after every count (cost projections)


def count_encoded(n: int) -> None:
    """Add ``n`` encoded texts to :func:`texts_encoded` and to the active :func:`encode_bar`."""
    if n <= 0:
        return
    _ENCODED[0] += n
    if _BAR[0] is not None:
        _BAR[0].update(n)
    for listener in list(_LISTENERS):
        listener(n)


def encode_rate() -> float | None:
    """Texts per second of the tracked models' forward passes so far in this process (from the first encoded
    batch on; tokenisation and scoring are not in it); ``None`` before any."""
    seconds = float(_FORWARD["seconds"])  # type: ignore[arg-type]
    return int(_FORWARD["texts"]) / seconds if seconds > 0 else None  # type: ignore[call-overload]


@contextlib.contextmanager
def on_encoded(listener: Any) -> Iterator[None]:  # noqa: ANN401 -- a callable(n)
    """Call ``listener(n)`` after every :func:`count_encoded` while the block runs."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


def texts_encoded() -> int:
    """Texts a model encoded so far in this process."""
    return _ENCODED[0]


@contextlib.contextmanager
def encode_bar(total: int | None, *, desc: str = "encoding", disable: bool = False,
               file: Any = None) -> Iterator[Any]:  # noqa: ANN401 -- a text stream
    """One tqdm bar over encoded texts (rate in texts/s, ETA when ``total`` is known) while the block runs.

    ``total`` is the number of texts the block is expected to encode (``None``: unknown, no ETA); the bar may grow
    it (``bar.total += n``) as more work is planned. Bars do not nest: the innermost one counts.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total or None, desc=desc, unit=" texts", disable=disable, file=file or sys.stderr,
               dynamic_ncols=True, smoothing=0.05)
    previous, _BAR[0] = _BAR[0], bar
    try:
        yield bar
    finally:
        _BAR[0] = previous
        bar.close()


def _start_batch(_module: Any, _inputs: Any) -> None:  # noqa: ANN401 -- a torch forward pre-hook
    _FORWARD["start"] = time.perf_counter()


def _count_batch(_module: Any, _inputs: Any, output: Any) -> None:  # noqa: ANN401 -- a torch forward hook
    embeddings = output.get("sentence_embedding") if isinstance(output, Mapping) else None
    if embeddings is None:
        return
    start, _FORWARD["start"] = _FORWARD["start"], None
    if start is not None:
        _FORWARD["texts"] = int(_FORWARD["texts"]) + int(len(embeddings))  # type: ignore[call-overload]
        _FORWARD["seconds"] = float(_FORWARD["seconds"]) + time.perf_counter() - start  # type: ignore[arg-type]
    count_encoded(int(len(embeddings)))


def track_encoder(encoder: Any) -> Any:  # noqa: ANN401 -- an mteb encoder or a sentence-transformers model
    """Count every batch ``encoder`` embeds in :func:`texts_encoded` (a forward hook on its sentence-transformers
    model, once); returns ``encoder``. Models without one (no torch module) are counted per call instead."""
    module = getattr(encoder, "model", encoder)
    register = getattr(module, "register_forward_hook", None)
    if register is not None and not getattr(module, "_hybrid_bench_tracked", False):
        module.register_forward_pre_hook(_start_batch)
        register(_count_batch)
        module._hybrid_bench_tracked = True
    return encoder



def configure(verbose: bool) -> None:
    """Set up logging and the libraries' progress bars for a command (called once, at the CLI boundary)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose else "%(levelname)s %(name)s: %(message)s",
    )
    # hybrid-bench's own info lines (per language, per model load) are detail too: commands print their summary
    logging.getLogger("hybrid_bench").setLevel(logging.DEBUG if verbose else logging.WARNING)
    if verbose:
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    # tracing the model for OpenVINO and deprecations inside the libraries are not the user's business
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*TracerWarning.*")
    warnings.filterwarnings("ignore", module=r"(torch|transformers|mteb|sentence_transformers)\..*")
