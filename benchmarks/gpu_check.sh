#!/usr/bin/env bash
# The GPU check of issue 25 (<= 10 min on one GPU): the paper preset trained a few steps with fp16 and bf16, the
# MIRACL mirror encoded and evaluated on CUDA, a 2-process torchrun encode when 2 GPUs exist; prints steps/s,
# passages/s and peak GPU memory per step. What it runs: benchmarks/gpu_check.py (its docstring lists the steps).
# Without a CUDA GPU it prints one line and exits 0.
#
# usage: bash benchmarks/gpu_check.sh [options of benchmarks/gpu_check.py, e.g. --steps 10 --languages swa]
#   PYTHON=python3  the interpreter with torch (CUDA) and hybrid-bench's dependencies (default: python3)
#   HYBRID_BENCH_DATA=../shared/data  lareqa/ and miracl-lite/ (default: ../shared/data beside the checkout)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  echo "gpu_check: skipped: no CUDA GPU ($python: torch missing or torch.cuda.is_available() is False)"
  exit 0
fi
if ! missing="$("$python" -c 'import importlib.util as u; print(" ".join(m for m in ("mteb", "datasets", "sentence_transformers", "pytrec_eval") if u.find_spec(m) is None))')" || [ -n "$missing" ]; then
  echo "gpu_check: error: $python lacks hybrid-bench's dependencies (${missing:-?}); pip install -e '$root' (offline: pip install --no-index --find-links WHEELS -e '$root')" >&2
  exit 1
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" "$root/benchmarks/gpu_check.py" "$@"
