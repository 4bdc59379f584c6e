"""``hybrid-bench leaderboard``: the paper's tables, paired-bootstrap comparisons and plots from an MTEB results folder.

Reads any MTEB results folder (``mteb run --output-folder DIR``, ``hybrid-bench eval``, ``hybrid-bench reproduce``);
per-query values for the confidence intervals come from ``DIR/predictions`` (hybrid-bench's ``*_per_query.parquet``
and stock mteb's ``*_predictions.json``). Where they are missing the tables keep their point estimates and say
"no CI" instead of inventing an interval. The output folder is written atomically and never silently replaced.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from hybrid_bench.errors import HybridBenchError

logger = logging.getLogger(__name__)

EPILOG = """examples:
  # everything hybrid-bench reproduce wrote, into leaderboards/reproduce
  hybrid-bench leaderboard results/reproduce --out leaderboards/reproduce
  # results of plain `mteb run` (give each model its own --prediction-folder for CIs):
  #   mteb run -m hybrid-me5-small -t MIRACLRetrieval --output-folder res --prediction-folder res/predictions/hybrid
  hybrid-bench leaderboard res --out leaderboards/mine
  # explicit comparisons, fewer resamples for a quick look, no plots
  hybrid-bench leaderboard res --compare hybrid-me5-small:mono-me5-small --n-resamples 2000 --no-plots

The default comparisons are every hybrid-X model against mono-X and cross-X (also hybrid-X-a0.25 etc.).
Output: table1_map, table2_language_bias, per_language_<Task>, comparison[_per_language] as .md/.csv/.html,
plots/*.png, README.md (all tables + figures), meta.json (inputs, options, package versions).
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:
    p = subparsers.add_parser(
        name, help=help, description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results_dir", type=Path, metavar="RESULTS_DIR",
                   help="MTEB results folder: the --output-folder of `mteb run` (holds results/) or results/ itself")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: leaderboards/<name of RESULTS_DIR>)")
    p.add_argument("--predictions", type=Path, default=None, metavar="DIR",
                   help="per-query files, searched recursively (default: RESULTS_DIR/predictions)")
    p.add_argument("--compare", nargs="+", default=None, metavar="A:B",
                   help="model pairs to compare (model − baseline); default: hybrid-X vs mono-X and cross-X")
    p.add_argument("--models", nargs="+", default=None, help="only these models (labels or full names)")
    p.add_argument("--tasks", nargs="+", default=None, help="only these tasks")
    p.add_argument("--n-resamples", type=int, default=10_000,
                   help="bootstrap resamples and sign flips per comparison (default: %(default)s)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default: %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-submission-check", action="store_true",
                   help="skip loading the folder back with mteb's ResultCache")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=run)


def default_out(results_dir: Path) -> Path:
    """``leaderboards/<name>`` for a results folder (``results/`` itself is named after its parent)."""
    resolved = results_dir.expanduser().resolve()
    name = resolved.parent.name if resolved.name == "results" else resolved.name
    return Path("leaderboards") / (name or "leaderboard")


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
) -> Path:
    """Build the leaderboard of ``results_dir`` and write it to ``out``; print the headline tables.

    Shared by ``hybrid-bench leaderboard`` and ``hybrid-bench reproduce``. Returns ``out``. ``qrels_loader``
    (task name → qrels) scores stock-mteb prediction files; default: load the task through mteb.

    Raises:
        HybridBenchError: ``out`` exists and ``overwrite`` is false (checked before any work).
        DataError: no results, malformed files, a failed submission check.
    """
    from hybrid_bench.leaderboard.build import build_leaderboard
    from hybrid_bench.leaderboard.submission import check_submission

    if out.exists() and not overwrite:
        # fail before minutes of bootstrapping, not after
        raise HybridBenchError(f"{out} already exists; refusing to overwrite it (pass --overwrite or another --out)")
    report = check_submission(results_dir) if submission_check else None
    from hybrid_bench.leaderboard.per_query import load_task_qrels

    board = build_leaderboard(
        results_dir, predictions_dir=predictions, compare=compare, models=models, tasks=tasks,
        n_resamples=n_resamples, confidence=confidence, seed=seed, make_plots=plots, progress=progress,
        qrels_loader=qrels_loader or load_task_qrels,
    )
    if report is not None:
        board.settings["submission_check"] = report.summary()
    text = preamble
    if report is not None:
        check = "## Submission check\n\n```\n" + report.summary() + "\n```\n"
        text = (preamble.rstrip() + "\n\n" if preamble else "# Leaderboard\n\n") + check
    board.write(out, overwrite=overwrite, preamble=text)
    for name in ("table1_map", "table2_language_bias", "comparison"):
        if name in board.display:
            print(f"\n{name}\n{board.markdown(name)}")
    for task_table in (n for n in board.display if n.startswith("per_language_")):
        print(f"\n{task_table}\n{board.markdown(task_table)}")
    for note in dict.fromkeys(board.notes):
        print(f"note: {note}")
    if report is not None:
        print("\n" + report.summary())
    print(f"\nleaderboard written to {out} ({len(board.tables)} tables, {len(board.figures)} plots)")
    return out


def run(args: argparse.Namespace) -> int:
    if not args.results_dir.exists():
        raise HybridBenchError(f"{args.results_dir}: no such results folder")
    write_leaderboard(
        args.results_dir, args.out or default_out(args.results_dir), predictions=args.predictions,
        compare=args.compare, models=args.models, tasks=args.tasks, n_resamples=args.n_resamples,
        confidence=args.confidence, seed=args.seed, plots=not args.no_plots,
        submission_check=not args.no_submission_check, overwrite=args.overwrite,
    )
    return 0
