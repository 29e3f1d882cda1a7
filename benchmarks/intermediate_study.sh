#!/bin/bash
# Issue 5 study on multilingual-e5-small (CPU budget): intermediate tasks before PAWS-X, their ensemble,
# and the typology correlation of the per-language gains.
#
#   bash benchmarks/intermediate_study.sh          # resumable: finished runs are skipped
#
# Target: PAWS-X. There is no English PAWS-X train set here, so every model trains on the English dev set
# with 500 pairs held out for English-dev selection (1,500 training pairs), 2 epochs. Scored zero-shot on
# de, zh (labelled test) and es, fr, ja, ko (dev: their test sets carry no labels here), 300 pairs each.
# Intermediate tasks (1,000 English examples, 1 epoch each): NER (WikiANN), POS (UD), NLI (SICK).
# Hyper-parameters are those of benchmarks/quality.py (learning rate chosen on English dev, lr_sweep.md).
# Outputs: benchmarks/out/intermediate/ (runs), benchmarks/results/intermediate/ (tables, JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
X=".venv/bin/xling"
D=${XLING_SHARED:-../shared}/data
M=${XLING_E5:-benchmarks/cache/e5-small}
R=benchmarks/out/intermediate
T=benchmarks/results/intermediate
mkdir -p "$R" "$T"
[ -f "$M/model.safetensors" ] || .venv/bin/python "${XLING_SHARED:-../shared}/tools/build_e5_checkpoint.py" "$M"
SEED=${SEED:-1}
COMMON="--model $M --languages de,es,fr,ja,ko,zh --max-eval-examples 300 --max-seq-length 128 --batch-size 16
        --learning-rate 2e-4 --warmup-ratio 0.1 --freeze-embeddings --max-selection-examples 500
        --no-oracle-selection --quiet --seed $SEED"
PAWSX="--task-option pawsx:data_dir=$D/pawsx --task-option pawsx:train_split=dev
       --task-option pawsx:selection_holdout=500 --task-option pawsx:epochs=2"
step() { echo "$(date +%T) $*" >&2; }

# 1. no intermediate task (the baseline), then one pipeline per intermediate task
[ -f $R/direct-s$SEED/results.json ] || { step direct; $X train --task pawsx --data-dir $D/pawsx --train-split dev \
    --selection-holdout 500 --epochs 2 $COMMON --output-dir $R/direct-s$SEED --resume; }
for spec in "sick:$D/sick" "panx:$D/wikiann" "udpos:$D/udpos_xtreme"; do
  task=${spec%%:*}; dir=${spec#*:}
  [ -f $R/$task-s$SEED/results.json ] || { step "$task > pawsx"; $X pipeline --intermediate $task --target pawsx $PAWSX \
      --task-option $task:data_dir=$dir --task-option $task:max_train_examples=1000 --task-option $task:epochs=1 \
      $COMMON --output-dir $R/$task-s$SEED --resume; }
done

# 2. ensembles of the models fine-tuned from different intermediate tasks (and of all four)
INTER="$R/sick-s$SEED $R/panx-s$SEED $R/udpos-s$SEED"
for method in prob vote weights; do
  step "ensemble $method"
  $X ensemble $INTER --method $method --output-dir $R/ensemble3-$method-s$SEED --overwrite --quiet --no-save-model \
      > $T/ensemble3-$method-s$SEED.md
done
$X ensemble $R/direct-s$SEED $INTER --method prob --output-dir $R/ensemble4-prob-s$SEED --overwrite --quiet \
    > $T/ensemble4-prob-s$SEED.md

# 3. the per-language table of every model, and the typology correlation of each intermediate task's gain
#    over the direct model with the target's distance to the intermediate-task language (English)
$X report $R/direct-s$SEED $R/sick-s$SEED $R/panx-s$SEED $R/udpos-s$SEED $R/ensemble3-*-s$SEED \
    --plot benchmarks/plots/intermediate_pawsx.png > $T/report-s$SEED.md
$X typology en,de,es,fr,ja,ko,zh --kind syntactic,phonological,inventory,genetic,geographic > $T/typology-matrix.md
for task in sick panx udpos; do
  $X typology correlate --baseline $R/direct-s$SEED --treatment $R/$task-s$SEED --kind all \
      --output $T/typology-$task-s$SEED.json > $T/typology-$task-s$SEED.md
done
step done
