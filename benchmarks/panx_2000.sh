#!/bin/bash
# The issue-2 acceptance run: xling train --task panx on multilingual-e5-small, 2,000 English WikiANN training
# sentences, one epoch, full fine-tuning, evaluated on the full de, es, nl, pl, ru test sets (10,000 sentences each),
# once with --fusion last and once with --fusion aif --fusion-layer 8. Learning rate 2e-4 / batch 16 from
# benchmarks/sweeps/lr-panx.yaml (English dev only; the XTREME default 2e-5 / batch 32 gives 63 steps and F1 0 at this budget).
#
#   bash benchmarks/panx_2000.sh        # finished runs are kept; writes benchmarks/results/panx_2000.md
set -euo pipefail
source "$(dirname "$0")/common.sh"
R=benchmarks/out/issue2
mkdir -p $R benchmarks/results
for name in last aif8; do
  case $name in last) fusion="--fusion last" ;; aif8) fusion="--fusion aif --fusion-layer 8" ;; esac
  [ -f $R/panx-$name/results.json ] || /usr/bin/time -v $X train --task panx --model $M --data-dir $D/wikiann \
      --languages de,es,nl,pl,ru --max-train-examples 2000 --epochs 1 --learning-rate 2e-4 --batch-size 16 $fusion \
      --output-dir $R/panx-$name --overwrite > $R/panx-$name.log 2>&1
done
{
  $X report $R/panx-last $R/panx-aif8
  echo
  echo "| run | wall time (whole command) | train s | train tokens/s | eval sentences/s | peak RSS MB |"
  echo "|---|---|---|---|---|---|"
  for name in last aif8; do
    wall=$(grep -o 'Elapsed (wall clock).*: .*' $R/panx-$name.log | awk '{print $NF}')
    .venv/bin/python - "$R/panx-$name/results.json" "$name" "$wall" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {t['train_seconds']:.0f} | {t['train_tokens_per_second']:.0f} | "
      f"{t['eval_examples_per_second']:.0f} | {max(t['peak_rss_mb_train'], t['peak_rss_mb']):.0f} |")
PY
  done
} > benchmarks/results/panx_2000.md
cat benchmarks/results/panx_2000.md
