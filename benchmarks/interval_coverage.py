"""Coverage of the few-seed interval (hybrid_bench.leaderboard.variance) by simulation, against the normal interval.

For each case — 3, 5 and 10 seeds; queries dominating the noise (as on MIRACL) or seeds dominating it — draws 2,000
studies from the crossed model with known components (``simulate_study``; 17 languages sized like the MIRACL mirror's
dev queries), computes each study's nominal 90 % interval and prints the share that covers the true difference.
Target: 88–92 % in every case for the Satterthwaite t interval; the same variance with a normal quantile ("as if the
seeds were many") is printed beside it.

    python benchmarks/interval_coverage.py            # 2,000 studies per case (≈ 3 min on 2 cores)
    python benchmarks/interval_coverage.py --studies 500
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from scipy import stats

from hybrid_bench.leaderboard.variance import estimate_components, simulate_study

#: MIRACL mirror dev queries per language (miracl-lite)
STRATA = {"ar": 115, "bn": 19, "de": 17, "en": 13, "es": 9, "fa": 39, "fi": 17, "fr": 13, "hi": 33, "id": 142,
          "ja": 29, "ko": 18, "ru": 23, "sw": 120, "te": 70, "yo": 17, "zh": 17}
#: (query SD, seed SD per language, seed × query SD)
REGIMES = {"queries dominate": (0.10, 0.003, 0.08), "seeds dominate": (0.01, 0.02, 0.005)}


def coverage(regime: str, seeds: int, studies: int, rng: np.random.Generator) -> tuple[float, float]:
    q, b, e = REGIMES[regime]
    t_hits = z_hits = 0
    z = stats.norm.ppf(0.95)
    for _ in range(studies):
        fit = estimate_components(simulate_study(rng, n_queries=STRATA, seeds=seeds, query_sd=q, seed_sd=b,
                                                 interaction_sd=e))
        ci = fit.interval(0.90)
        t_hits += ci.low <= 0.0 <= ci.high
        z_hits += abs(fit.estimate) <= z * ci.se
    return t_hits / studies, z_hits / studies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261207)
    failed = False
    print(f"{'case':<28} {'t interval':>11} {'normal':>8}   (nominal 90 %, {args.studies} studies each)")
    for regime in REGIMES:
        for seeds in (3, 5, 10):
            t_cov, z_cov = coverage(regime, seeds, args.studies, rng)
            ok = 0.88 <= t_cov <= 0.92
            failed |= not ok
            print(f"{regime + f', {seeds} seeds':<28} {100 * t_cov:>10.1f}% {100 * z_cov:>7.1f}%   "
                  f"{'ok' if ok else 'OUTSIDE 88-92 %'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
