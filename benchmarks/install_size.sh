#!/usr/bin/env bash
# Core vs full install of xling in fresh venvs: the same torch wheel first, then -e . or -e .[all].
# Usage: nice benchmarks/install_size.sh   (OUT=DIR for the venvs, PYTHON=python3.11; downloads from PyPI)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
$PY --version
for kind in core full; do
  mkdir -p "${OUT:-/tmp/xling-install}"; V=${OUT:-/tmp/xling-install}/venv-$kind
  rm -rf "$V"
  $PY -m venv "$V"
  s=$(date +%s.%N)
  "$V/bin/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
  t=$(date +%s.%N)
  echo "$kind: torch install $(echo "$t - $s" | bc) s; venv with torch $(du -sh "$V" | cut -f1)"
  target="$SRC"; [ $kind = full ] && target="$SRC[all]"
  s=$(date +%s.%N)
  "$V/bin/python" -m pip install -q -e "$target" 2>&1 | grep -v "is ignored" || true
  t=$(date +%s.%N)
  echo "$kind: pip install -e ${target#$SRC} took $(echo "$t - $s" | bc) s; venv $(du -sh "$V" | cut -f1) ($(du -sm "$V" | cut -f1) MB); packages $("$V/bin/python" -m pip list 2>/dev/null | tail -n +3 | wc -l)"
  "$V/bin/python" -c "import xling.cli; print('$kind imports xling', xling.__version__)"
done
