#!/bin/bash
# Issue 16 Q6 and Q4 (XNLI): ensembles of models fine-tuned from different intermediate tasks, and the typology
# correlation of each intermediate task's per-language gain, with 3 seeds per model (issue 5's study,
# benchmarks/intermediate_study.sh, had one or two).
# The members are the runs of benchmarks/sweeps/intermediate.yaml (run that sweep first; its header has the
# commands): for target XNLI, NER (WikiANN), POS (UD) and NLI (SICK) first; for target POS (UD), NLI (SICK),
# NER and NLI (English XNLI dev) first; for target NER (WikiANN), NLI (SICK), POS and NLI (English XNLI dev) first. For each seed, the three members of that seed are combined by probability
# averaging, majority vote and weight averaging (`xling ensemble`), and all four models (the direct one too) by
# probability averaging. Then one report per single model: every ensemble's paired gain over it, by seed; and
# for XNLI each intermediate task's per-language gain over the direct model (means over the 3 seeds) against the
# language's URIEL distance to English (the intermediate data's language), partial r with the baseline fixed.
# For XNLI also the non-English NER study, where it has run (`xnli/panx_*`: NER in de, es, nl, pl or ru first):
# each source's per-language gain against URIEL distance to that source, pooled over the 5 x 15 (source, target)
# pairs by benchmarks/typology_pooled.py.
# The runs are read from RUNS/intermediate (RUNS=benchmarks/out by default; benchmarks/findings.sh gives
# RUNS=benchmarks/runs, the committed copies of their results.json, which is all the report part reads).
#
#   bash benchmarks/intermediate3.sh             # TARGETS="xnli udpos panx" SEEDS="1 2 3" by default
#   PARTS=report bash benchmarks/intermediate3.sh   # only the tables, from ensembles made earlier
#   RUNS=benchmarks/runs PARTS=report ...           # the tables from the committed results.json files
#   METHODS="prob vote" ...                      # fewer ensemble methods (weights runs the averaged model)
set -euo pipefail
source "$(dirname "$0")/common.sh"
T=benchmarks/results/intermediate3   # (results/intermediate/ holds the one- or two-seed tables of issue 5)
mkdir -p "$T" benchmarks/plots
has() { [[ " ${PARTS:-ensembles report} " == *" $1 "* ]]; }
for target in ${TARGETS:-xnli udpos panx}; do
  R=${RUNS:-benchmarks/out}/intermediate/$target
  if [ ! -d "$R" ]; then echo "intermediate3.sh: $R is missing; run its sweep first (skipped)" >&2; continue; fi
  case $target in
    xnli) members="sick panx udpos" ;;
    udpos) members="sick panx xnli" ;;
    panx) members="sick udpos xnli" ;;
    *) echo "intermediate3.sh: no members for target $target" >&2; exit 2 ;;
  esac
  if [ "$target" = xnli ] && has report && compgen -G "$R/panx_de-s*" > /dev/null; then  # the non-English NER study
    for lang in de es nl pl ru; do
      step "$target: typology of the gain after NER in $lang"
      $X typology correlate --baseline $R/direct-s* --treatment $R/panx_$lang-s* --kind all \
          --output $T/$target-typology-ner-$lang.json > $T/$target-typology-ner-$lang.md
    done
    .venv/bin/python benchmarks/typology_pooled.py --target $target --results $T > /dev/null
    $X report $R/direct-s* $R/panx_*-s* --baseline intermediate=none > $T/$target-ner-languages.md
  fi
  for m in $members; do
    if ! compgen -G "$R/$m-s*" > /dev/null; then
      echo "intermediate3.sh: no $m runs in $R; run its sweep first (the $target ensembles skipped)" >&2; continue 2
    fi
  done
  for seed in $(has ensembles && echo "${SEEDS:-1 2 3}"); do
    runs=$(for m in $members; do echo -n "$R/$m-s$seed "; done)
    for method in ${METHODS:-prob vote weights}; do
      step "$target seed $seed: ensemble $method of $members"
      $X ensemble $runs --method $method --output-dir $R/ensemble3-$method-s$seed --overwrite --quiet \
          --no-save-model > $T/$target-ensemble3-$method-s$seed.md
    done
    step "$target seed $seed: ensemble prob of direct $members"
    $X ensemble $R/direct-s$seed $runs --method prob --output-dir $R/ensemble4-prob-s$seed --overwrite --quiet \
        > $T/$target-ensemble4-prob-s$seed.md
  done
  has report || continue
  all="$R/direct-s* $(for m in $members; do echo -n "$R/$m-s* "; done)$R/ensemble3-*-s* $R/ensemble4-prob-s*"
  $X report $all --plot benchmarks/plots/intermediate3_$target.png > $T/$target-ensembles.md
  # each ensemble against each single model (direct and the members), paired by seed: the table's first columns
  $X report $all --format csv | .venv/bin/python -c '
import csv, re, sys
names = sys.argv[1:]
head = next(csv.reader(sys.stdin))[2:2 + len(names)]
for name, label in zip(names, head):
    print(name + "|" + re.sub(r" \(n=\d+\)$", "", label))' direct $members | while IFS='|' read -r m label; do
    $X report $all --baseline "$label" > $T/$target-ensembles-vs-$m.md
  done
  if [ "$target" = xnli ]; then
    for m in $members; do
      step "$target: typology of the $m gain"
      $X typology correlate --baseline $R/direct-s* --treatment $R/$m-s* --kind all \
          --output $T/$target-typology-$m.json > $T/$target-typology-$m.md
    done
  fi
done
step done
