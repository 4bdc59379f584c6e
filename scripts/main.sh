#!/usr/bin/env bash
# The main job on a fresh machine: set up, then evaluate the base model on XQuAD-R and MLQA-R and print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HYBRID_BENCH_DATA=${HYBRID_BENCH_DATA:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
# one process, use both cores (see README: threads)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
exec .venv/bin/hybrid-bench eval -m me5-small -t XQuADRRetrieval MLQARRetrieval --output-folder results "$@"
