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

from hybrid_bench.commands.validate import check_writable, positive_int
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
                   help="model pairs to compare (model − baseline); two arm names (an arm is named by its first "
                        "seed's model, e.g. hybrid-me5-small) compare the arms seed by seed over all their seeds; "
                        "default: hybrid vs mono and cross of the same base and every trained model vs its base, "
                        "with strategies and seeds from the training records")
    p.add_argument("--models", nargs="+", default=None, help="only these models (labels or full names)")
    p.add_argument("--tasks", nargs="+", default=None, help="only these tasks")
    p.add_argument("--n-resamples", type=positive_int, default=10_000,
                   help="bootstrap resamples and sign flips per comparison (default: %(default)s)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default: %(default)s)")
    p.add_argument("--cluster", choices=["paragraph", "article", "question"], default="paragraph",
                   help="bootstrap unit of XQuAD-R / MLQA-R questions: the paragraph of the answer (default), the "
                        "article (a sensitivity check), or the question itself")
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


def run(args: argparse.Namespace) -> int:
    if not args.results_dir.exists():
        raise HybridBenchError(f"{args.results_dir}: no such results folder")
    from hybrid_bench.leaderboard.write import summary_text, write_leaderboard

    out = check_writable(args.out or default_out(args.results_dir), "--out")  # before minutes of bootstrapping
    written = write_leaderboard(
        args.results_dir, out, predictions=args.predictions,
        compare=args.compare, models=args.models, tasks=args.tasks, n_resamples=args.n_resamples,
        confidence=args.confidence, seed=args.seed, plots=not args.no_plots,
        submission_check=not args.no_submission_check, overwrite=args.overwrite, cluster=args.cluster,
    )
    print(summary_text(written))
    return 0
