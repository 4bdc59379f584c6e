"""``hybrid-bench plan-study``: how many seeds and queries a comparison needs, from a run that was already made.

Fits the crossed random-effects model of :mod:`hybrid_bench.leaderboard.variance` (query, seed, seed × query
variance per language) to the seed-paired per-query differences of two arms in a leaderboard's per-query export,
prints the fitted components and the run's own few-seed interval, then a table over designs (seeds × queries): the
expected 90 % half-width and the probability of each decision (equivalent within ±δ, worse / better beyond δ,
inconclusive, significant two-sided) for each true difference.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hybrid_bench.commands.validate import positive_float, positive_int

EPILOG = """examples:
  # the committed seeded run: hybrid − mono on MIRACL nDCG@10, designs of 3/5/10 seeds × 711/2000/5000 queries
  hybrid-bench plan-study leaderboards/reproduce-seeded/per_query --compare hybrid-me5-small:mono-me5-small \\
      --seeds 3 5 10 --queries 711 2000 5000
  # + the MIRACL train topics (same corpora) added to each language's dev queries; Holm's strict step (alpha/2)
  hybrid-bench plan-study leaderboards/reproduce-seeded/per_query --compare hybrid-me5-small:mono-me5-small \\
      --add-queries ../shared/data/miracl-lite-train --seeds 3 5 8 10 --alpha 0.025 --true-diff 0 -0.01
  # another task and metric, with a CSV of the table
  hybrid-bench plan-study DIR --compare hybrid-me5-small:cross-me5-small --task XQuADRHeldOutRetrieval \\
      --metric ap --csv plan.csv

Queries given as a number are spread over the languages in the fitted run's proportions; --add-queries adds a
MIRACL-layout folder's judged queries to each language's own (the fitted run's counts), so the design keeps the
endpoint's equal language weights. The probabilities are the normal approximation at the expected half-width.
"""


def add_parser(subparsers: Any, name: str, help: str) -> None:
    p = subparsers.add_parser(name, help=help, description=__doc__.splitlines()[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("per_query_dir", type=Path,
                   help="a leaderboard's per-query export (<dir>/<model label>/<Task>_per_query.parquet)")
    p.add_argument("--compare", required=True, metavar="ARM:BASELINE",
                   help="the two arms (model X and X-seed<N> are one arm, paired seed by seed)")
    p.add_argument("--task", default="MIRACLRetrieval", help="task of the endpoint (default MIRACLRetrieval)")
    p.add_argument("--metric", default="ndcg_at_10", help="per-query column of the endpoint (default ndcg_at_10)")
    p.add_argument("--seeds", type=positive_int, nargs="+", default=[3, 5, 10], help="numbers of seeds to plan")
    p.add_argument("--queries", type=positive_int, nargs="*", default=None,
                   help="total queries to plan (default: the fitted run's)")
    p.add_argument("--add-queries", type=Path, default=None, metavar="FOLDER",
                   help="also plan the fitted run's queries + this MIRACL-layout folder's judged queries")
    p.add_argument("--true-diff", type=float, nargs="+", default=[0.0], help="true differences (default 0)")
    p.add_argument("--margin", type=positive_float, default=0.01, help="equivalence margin δ (default 0.01)")
    p.add_argument("--alpha", type=positive_float, default=0.05,
                   help="level of each test (TOST uses the 1 − 2α interval; default 0.05)")
    p.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hybrid_bench.commands.validate import check_writable
    from hybrid_bench.errors import HybridBenchError
    from hybrid_bench.io import atomic_write_text
    from hybrid_bench.leaderboard.power import paired_differences, query_counts
    from hybrid_bench.leaderboard.variance import estimate_components, plan

    arm, sep, baseline = args.compare.partition(":")
    if not sep or not arm or not baseline:
        raise HybridBenchError(f"--compare {args.compare!r}: expected ARM:BASELINE, e.g. hybrid-me5-small:mono-me5-small")
    if not 0 < args.alpha < 0.5:
        raise HybridBenchError(f"--alpha must be between 0 and 0.5, got {args.alpha}")
    if args.csv is not None:
        check_writable(args.csv.parent if str(args.csv.parent) else Path("."), "--csv")
    fit = estimate_components(paired_differences(args.per_query_dir, arm, baseline, task=args.task,
                                                 metric=args.metric))
    own = {s.stratum: s.n_queries for s in fit.strata}
    designs: list[Any] = list(args.queries or [fit.n_queries])
    if args.add_queries is not None:
        extra = query_counts(args.add_queries)
        designs.append({k: n + extra.get(k, 0) for k, n in own.items()})
    ci = fit.interval(1 - 2 * args.alpha)
    print(f"{arm} − {baseline}, {args.task} {args.metric}: {fit.estimate:+.4f}, "
          f"{100 * (1 - 2 * args.alpha):.0f} % CI [{ci.low:+.4f}, {ci.high:+.4f}] (Satterthwaite t, "
          f"{ci.df:.1f} df), {fit.n_seeds} seed pairs × {fit.n_queries} queries in {len(fit.strata)} languages")
    s = fit.n_seeds
    shares = {"query effects": sum(fit.weights[c.stratum] ** 2 * c.query_var / c.n_queries for c in fit.strata),
              "seed × query interaction": sum(fit.weights[c.stratum] ** 2 * c.interaction_var / (s * c.n_queries)
                                              for c in fit.strata),
              "between seeds": fit.seed_var / s}
    total = sum(shares.values())
    print(f"per-seed SD {fit.per_seed_var ** 0.5:.4f}; between-seed SD (interaction removed) {fit.seed_var ** 0.5:.4f}; "
          f"variance of the estimate at {s} seeds: " + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in shares.items()))
    table = plan(fit, seeds=args.seeds, queries=designs, true_diffs=args.true_diff, margin=args.margin,
                 alpha=args.alpha)
    shown = table.rename(columns={"half_width_90": f"half_width_{100 * (1 - 2 * args.alpha):.0f}",
                                  "half_width_95": f"half_width_{100 * (1 - args.alpha):.0f}"})
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.csv is not None:
        atomic_write_text(args.csv, shown.to_csv(index=False), overwrite=True)
        print(f"wrote {args.csv}")
    return 0
