"""One quiet display for long commands: their own progress bar and lines, warnings and errors; the rest behind -v.

Without ``--verbose`` hybrid-bench and the libraries underneath (mteb, sentence-transformers, transformers, datasets,
OpenVINO) log warnings and errors only, and the libraries' progress bars (datasets' "Map" / "Flattening the
indices", transformers' "Loading weights", sentence-transformers' "Batches") are switched off, so a command shows
its own single progress bar and one short line per stage. With ``--verbose`` everything is shown, hybrid-bench at
debug level.

:func:`texts_encoded` counts the texts sent to a model in this process (every encode of
:mod:`hybrid_bench.tasks.encoding`), for the overall progress bar.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["configure", "count_encoded", "texts_encoded"]

_ENCODED = [0]


def count_encoded(n: int) -> None:
    """Add ``n`` texts to :func:`texts_encoded` (called by the encode path)."""
    _ENCODED[0] += n


def texts_encoded() -> int:
    """Texts sent to a model so far in this process."""
    return _ENCODED[0]


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
