#!/usr/bin/env bash
# One-command set-up and run, on a fresh machine or an existing checkout.
#   ./dev.sh demo    create/reuse .venv, install xling, run the offline demo
#   ./dev.sh test    same set-up, then the test suite
#   ./dev.sh setup   only the set-up
# CPU machines get torch==2.13.0 (the CPU wheel; no multi-GB CUDA download).
# GPU machines: XLING_TORCH=cuda ./dev.sh ...  installs PyPI's default (CUDA) torch build instead,
# or install the torch you want into .venv first; an installed torch is kept.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${XLING_VENV:-.venv}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "dev.sh: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  local py="$VENV/bin/python"
  if ! "$py" -c "import torch" 2>/dev/null; then
    if [ "${XLING_TORCH:-cpu}" = "cuda" ]; then
      "$py" -m pip install -q torch
    else
      "$py" -m pip install -q "torch==2.13.0" || "$py" -m pip install -q "torch==2.13.0" \
        --index-url https://download.pytorch.org/whl/cpu
    fi
  fi
  # reinstall only when the project's dependencies changed
  local stamp="$VENV/.xling-installed"
  local want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "dev.sh: installing xling and its dependencies into $VENV" >&2
    "$py" -m pip install -q -e ".[test]"
    echo "$want" > "$stamp"
  fi
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  setup) setup ;;
  demo) setup; exec "$VENV/bin/python" -m xling demo "$@" ;;
  test) setup; exec "$VENV/bin/python" -m pytest -q "$@" ;;
  *) echo "usage: ./dev.sh demo|test|setup [args...]" >&2; exit 2 ;;
esac
