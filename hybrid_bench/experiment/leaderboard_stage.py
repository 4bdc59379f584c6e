"""The experiment's last stage: the leaderboard of its results folder, with a preamble saying how it was made.

The preamble names the command, the base, the machine, what the preset leaves out (:meth:`Preset.describe`), notes
such as MIRACL languages the mirror lacks, and every stage's wall time (earlier runs' times for skipped stages).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError
from hybrid_bench.experiment.presets import Preset

__all__ = ["build", "preamble", "replaceable"]


def replaceable(board: Path, results: Path) -> bool:
    """Whether ``board`` exists and may be replaced: only a leaderboard built from the same results folder may.

    Raises:
        HybridBenchError: ``board`` exists and was built from another folder (or is not a leaderboard).
    """
    if not board.exists():
        return False
    try:
        meta = json.loads((board / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    if Path(str(meta.get("results_dir", ""))).resolve() != results.resolve():
        raise HybridBenchError(
            f"{board} exists and was not built from {results}; pass another --leaderboard or remove it")
    return True


def preamble(preset: Preset, base: str, command: str | None, stages: list[dict[str, Any]], wall: float,
             notes: Sequence[str] = ()) -> str:
    """The leaderboard README's head: command, base, machine, preset, notes and the stage-time table."""
    def shown(stage: dict[str, Any]) -> str:
        if stage.get("skipped"):
            earlier = stage.get("earlier_wall_s")
            return f"{earlier} (an earlier run)" if earlier is not None else "done in an earlier run"
        return "–" if stage["wall_s"] is None else str(stage["wall_s"])

    rows = "\n".join(f"| {s['stage']} | {shown(s)} |" for s in stages)
    return (
        f"# Leaderboard: `hybrid-bench reproduce` ({preset.name})\n\n"
        f"Command: `{command or 'hybrid-bench reproduce'}`  \n"
        f"Base model: `{base}`; machine: {' '.join(filter(None, [platform.machine(), platform.processor()]))}, "
        f"{os.cpu_count()} CPU(s); wall time of this invocation before the leaderboard: {wall:.0f} s.\n\n"
        f"{preset.describe()}\n\n" + "".join(f"{note}\n\n" for note in notes) +
        "| stage | wall time (s) |\n|---|---|\n" + rows + "\n\n"
        "Package versions are in `meta.json`.\n"
    )


def build(results: Path, board: Path, *, preset: Preset, qrels_loader: Callable[..., Any], preamble_text: str,
          data_dir: str | None = None) -> Any:
    """Write the leaderboard of ``results`` to ``board`` (replacing an earlier one of the same results only);
    returns the :class:`~hybrid_bench.leaderboard.write.WrittenLeaderboard`. ``data_dir``: the run's LAReQA data
    (for the paragraphs that are the bootstrap's unit)."""
    from hybrid_bench.leaderboard.write import write_leaderboard

    return write_leaderboard(
        results, board, compare=None, n_resamples=preset.n_resamples, seed=0, overwrite=replaceable(board, results),
        progress=False, qrels_loader=qrels_loader, preamble=preamble_text, data_dir=data_dir,
    )
