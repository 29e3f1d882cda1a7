#!/bin/bash
# Regenerate the tables docs/findings.md and BENCHMARKS.md quote (issue 16) from the saved sweep runs, then
# BENCHMARKS.md itself. Run the sweeps first (each sweep file's header has its command); a sweep directory
# that is missing is skipped with a note.
#
#   bash benchmarks/findings.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
R=benchmarks/out
T=benchmarks/results
report() {  # report SWEEP_DIR RESULT_FILE BASELINE [PLOT.png]
  if [ -d "$1" ]; then
    step "report $1 -> $2"
    $X report "$1" --baseline "$3" ${4:+--plot "$4"} > "$2"
  else
    echo "findings.sh: $1 is missing; run its sweep first (skipped)" >&2
  fi
}
report $R/gate $T/gate.md last              # Q1, NER (benchmarks/sweeps/gate.yaml)
report $R/gate-pos $T/gate-pos.md last benchmarks/plots/gate-pos.png        # Q1, POS (sweeps/gate-pos.yaml)
report $R/multilingual $T/multilingual.md english                # Q3, NER/POS/PAWS-X (sweeps/multilingual.yaml)
report $R/gate-layers $T/gate-layers.md last benchmarks/plots/gate-layers.png  # Q1, NER, more arms (sweeps/gate-layers.yaml)
report $R/gate-pos-layers $T/gate-pos-layers.md last benchmarks/plots/gate-pos-layers.png  # Q1, POS, more arms
report $R/gate-xnli $T/gate-xnli.md last benchmarks/plots/gate-xnli.png     # Q1, XNLI (sweeps/gate-xnli.yaml)
report $R/gate-pawsx $T/gate-pawsx.md last                         # Q1, PAWS-X (sweeps/gate-pawsx.yaml)
report $R/multimodal $T/multimodal.md direct benchmarks/plots/multimodal.png  # Q5 (sweeps/multimodal.yaml)
PARTS=report bash benchmarks/intermediate3.sh                       # Q4 (XNLI) and Q6 (sweeps/intermediate.yaml)
.venv/bin/python benchmarks/render.py
