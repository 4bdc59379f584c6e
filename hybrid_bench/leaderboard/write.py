"""Build a leaderboard and write it to a folder, with mteb's submission check; the headline tables as text.

What ``hybrid-bench leaderboard`` and the reproduction experiment's last stage run. Nothing here prints: callers
show :func:`summary_text` (the CLI prints it, the experiment reports it through its progress callback).

Example::

    from hybrid_bench.leaderboard.write import summary_text, write_leaderboard

    written = write_leaderboard(Path("results/reproduce"), Path("leaderboards/mine"), n_resamples=2000)
    print(summary_text(written))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError

__all__ = ["WrittenLeaderboard", "summary_text", "write_leaderboard"]


@dataclass
class WrittenLeaderboard:
    """What :func:`write_leaderboard` wrote: the folder, the in-memory board and the submission check (if run)."""

    out: Path
    board: Any  # hybrid_bench.leaderboard.build.Leaderboard
    report: Any | None  # hybrid_bench.leaderboard.submission.SubmissionReport


def write_leaderboard(
    results_dir: Path,
    out: Path,
    *,
    predictions: Path | None = None,
    compare: list[str] | None = None,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    plots: bool = True,
    submission_check: bool = True,
    overwrite: bool = False,
    preamble: str | None = None,
    progress: bool = True,
    qrels_loader: Any = None,
    cluster: str = "paragraph",
    data_dir: str | Path | None = None,
) -> WrittenLeaderboard:
    """Build the leaderboard of ``results_dir`` and write it to ``out`` atomically.

    ``qrels_loader`` (task name, subsets → qrels) scores stock-mteb prediction files; default: load the task
    through mteb (:func:`~hybrid_bench.leaderboard.per_query.load_task_qrels`). ``cluster``: the bootstrap unit of
    the LAReQA tasks, ``"paragraph"`` (default), ``"article"`` (a sensitivity check) or ``"question"``
    (:mod:`hybrid_bench.leaderboard.clusters`), read from the LAReQA data in ``data_dir`` (default: the data
    layer's).

    Raises:
        HybridBenchError: ``out`` exists and ``overwrite`` is false (checked before any work).
        DataError: no results, malformed files, a failed submission check.
    """
    import functools

    from hybrid_bench.leaderboard.build import build_leaderboard
    from hybrid_bench.leaderboard.clusters import lareqa_clusters
    from hybrid_bench.leaderboard.per_query import load_task_qrels
    from hybrid_bench.leaderboard.submission import check_submission

    if out.exists() and not overwrite:
        # fail before minutes of bootstrapping, not after
        raise HybridBenchError(f"{out} already exists; refusing to overwrite it (pass --overwrite or another --out)")
    report = check_submission(results_dir) if submission_check else None
    board = build_leaderboard(
        results_dir, predictions_dir=predictions, compare=compare, models=models, tasks=tasks,
        n_resamples=n_resamples, confidence=confidence, seed=seed, make_plots=plots, progress=progress,
        qrels_loader=qrels_loader or load_task_qrels,
        cluster_loader=None if cluster == "question" else functools.partial(lareqa_clusters, level=cluster,
                                                                                data_dir=data_dir),
    )
    board.settings["lareqa_cluster"] = cluster
    if report is not None:
        board.settings["submission_check"] = report.summary()
    text = preamble
    if report is not None:
        check = "## Submission check\n\n```\n" + report.summary() + "\n```\n"
        text = (preamble.rstrip() + "\n\n" if preamble else "# Leaderboard\n\n") + check
    board.write(out, overwrite=overwrite, preamble=text)
    return WrittenLeaderboard(out, board, report)


def summary_text(written: WrittenLeaderboard, *, headline_only: bool = False) -> str:
    """The headline tables, the notes, the submission check and where the leaderboard went, as printed text.

    With ``headline_only`` the comparison and per-language tables are named, not printed (they are in the folder).
    """
    board, report = written.board, written.report
    shown: tuple[str, ...] = ("decisions", "table1_map", "table2_language_bias")
    if not headline_only:
        shown += ("comparison",)
    parts = [f"\n{name}\n{board.markdown(name)}" for name in shown if name in board.display]
    if headline_only:
        rest = [name for name in board.display if name not in shown]
        parts += [f"\nalso in {written.out}: {', '.join(f'{name}.md' for name in rest)}"] if rest else []
    else:
        parts += [f"\n{name}\n{board.markdown(name)}" for name in board.display if name.startswith("per_language_")]
    parts += [f"note: {note}" for note in dict.fromkeys(board.notes)]
    if report is not None:
        parts.append("\n" + report.summary())
    parts.append(f"\nleaderboard written to {written.out} ({len(board.tables)} tables, {len(board.figures)} plots)")
    return "\n".join(parts)
