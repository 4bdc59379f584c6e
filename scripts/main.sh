#!/usr/bin/env bash
# The main job on a fresh machine: set up, then reproduce the paper's experiment with me5-small (train mono / cross /
# hybrid, evaluate them and the base model, build the leaderboard). Extra arguments go to `hybrid-bench reproduce`,
# e.g. `bash scripts/main.sh --quick` (about 5 minutes) or `bash scripts/main.sh --alpha-sweep`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HYBRID_BENCH_DATA=${HYBRID_BENCH_DATA:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# one process, use both cores (see README: threads)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
exec .venv/bin/hybrid-bench reproduce "$@"
