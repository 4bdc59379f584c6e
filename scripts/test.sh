#!/usr/bin/env bash
# The test suite on a fresh machine: set up, then run pytest offline against ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# tests/test_leaderboard_page.py renders the leaderboard's index.html in headless Chromium (Debian: `chromium`)
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[test] installing chromium (apt-get) for the leaderboard page test"
  apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "[test] could not install chromium: the browser checks of the leaderboard page will be skipped"
fi
export HYBRID_BENCH_DATA=${HYBRID_BENCH_DATA:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# tests start several processes; one thread each avoids 2-core oversubscription (10-30x slowdowns)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# one pytest worker per core (at most 4: a worker peaks at ~3 GB), a test file's tests on one worker so that its
# module fixtures (trained tiny models, rebuilt leaderboards) are built once; 2 cores: ~11 min instead of ~20
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n auto --maxprocesses 4 --dist loadfile "$@"
