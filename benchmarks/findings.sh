#!/bin/bash
# Regenerate the tables docs/findings.md and BENCHMARKS.md quote (issue 16) from the saved sweep runs, then
# BENCHMARKS.md itself. Run the sweeps first (each sweep file's header has its command); a sweep that has no
# saved runs is skipped with a note.
#
# A sweep writes its runs (models included) to benchmarks/out/NAME, which is not committed and is gone on a
# fresh machine. So this script first copies each run's results.json (nothing else: a report needs nothing
# else) from there to benchmarks/runs/NAME, which is committed, and reports from benchmarks/runs/NAME: any
# clone regenerates the tables from the runs that produced them, and a later session adds seeds or arms to
# them without rerunning the rest.
#
#   bash benchmarks/findings.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
R=benchmarks/out
S=benchmarks/runs
T=benchmarks/results
archive() {  # archive NAME: copy benchmarks/out/NAME/**/results.json to benchmarks/runs/NAME/ (not .hidden/ ones)
  [ -d "$R/$1" ] || return 0
  (cd "$R" && find "$1" -name results.json -not -path '*/.*/*') | while read -r f; do
    mkdir -p "$S/$(dirname "$f")" && cp "$R/$f" "$S/$f"
  done
}
report() {  # report NAME RESULT_FILE BASELINE [PLOT.png]: NAME is the sweep's directory below out/ and runs/
  archive "$1"
  if [ -d "$S/$1" ]; then
    step "report $S/$1 -> $2"
    $X report "$S/$1" --baseline "$3" ${4:+--plot "$4"} > "$2"
  else
    echo "findings.sh: no saved runs of $1 in $R/$1 or $S/$1; run its sweep first (skipped)" >&2
  fi
}
report gate $T/gate.md last              # Q1, NER (benchmarks/sweeps/gate.yaml)
report gate-pos $T/gate-pos.md last benchmarks/plots/gate-pos.png        # Q1, POS (sweeps/gate-pos.yaml)
report multilingual $T/multilingual.md english                # Q3, NER/POS/PAWS-X (sweeps/multilingual.yaml)
report gate-layers $T/gate-layers.md last benchmarks/plots/gate-layers.png  # Q1, NER, more arms (sweeps/gate-layers.yaml)
report gate-pos-layers $T/gate-pos-layers.md last benchmarks/plots/gate-pos-layers.png  # Q1, POS, more arms
report gate-xnli $T/gate-xnli.md last benchmarks/plots/gate-xnli.png     # Q1, XNLI (sweeps/gate-xnli.yaml)
report gate-pawsx $T/gate-pawsx.md last                         # Q1, PAWS-X (sweeps/gate-pawsx.yaml)
report multimodal $T/multimodal.md direct benchmarks/plots/multimodal.png  # Q5 (sweeps/multimodal.yaml)
archive diversity-qa                                                # Q2 (sweeps/diversity-qa.yaml): 2 runs so far
archive intermediate                                                # Q4 (XNLI) and Q6 (sweeps/intermediate.yaml):
[ -d "$S/intermediate" ] && RUNS=$S PARTS=report bash benchmarks/intermediate3.sh  # ensembles made by intermediate3.sh
.venv/bin/python benchmarks/render.py
