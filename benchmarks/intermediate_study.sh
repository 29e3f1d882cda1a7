#!/bin/bash
# Issue 5 study on multilingual-e5-small (CPU budget): intermediate tasks before a target task, their ensembles,
# and the typology correlation of the per-language gains.
#
#   bash benchmarks/intermediate_study.sh                 # target XNLI, seed 1; resumable (finished runs are kept)
#   SEED=2 bash benchmarks/intermediate_study.sh          # another seed
#   PARTS=typology-ner bash benchmarks/intermediate_study.sh   # the NER-language typology study only
#   TARGET=pawsx PARTS=direct bash benchmarks/intermediate_study.sh   # PAWS-X without intermediate task
#
# Target XNLI (the default): there is no English MultiNLI train set here, so the target stage trains on the English
# XNLI dev set with 500 pairs held out for English selection (1,990 training pairs), 2 epochs, and is scored
# zero-shot on the 15 XNLI test sets (gold labels recovered, see ../shared/data/xnli/SOURCE.md), 300 pairs each.
# Learning rate and pooling come from benchmarks/lr_sweep.py --task xnli (English held-out pairs only).
# (PAWS-X, TARGET=pawsx, was tried first: trained on its 1,500 English dev pairs the model stays near the majority
# class in every language, so no intermediate-task effect could show; see BENCHMARKS.md.)
# Intermediate tasks (1,000 English examples, 1 epoch each): NER (WikiANN), POS (UD), NLI (SICK).
# Outputs: benchmarks/out/intermediate/$TARGET/ (runs), benchmarks/results/intermediate/ (tables, JSON), a plot.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SEED=${SEED:-1}
TARGET=${TARGET:-xnli}
PARTS=${PARTS:-"models ensembles report typology"}
R=benchmarks/out/intermediate/$TARGET
T=benchmarks/results/intermediate
mkdir -p "$R" "$T" benchmarks/plots
case $TARGET in
  xnli)  LANGS=ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh; LR=${LR:-1e-4}; POOLING=${POOLING:-mean} ;;
  pawsx) LANGS=de,es,fr,ja,ko,zh; LR=${LR:-1e-4}; POOLING=${POOLING:-mean} ;;
  *) echo "TARGET must be xnli or pawsx" >&2; exit 2 ;;
esac
COMMON="--model $M --languages $LANGS --max-eval-examples 300 --max-seq-length 128 --batch-size 16
        --learning-rate $LR --pooling $POOLING --warmup-ratio 0.1 --freeze-embeddings --max-selection-examples 500
        --no-oracle-selection --quiet --seed $SEED"
TGT="--task-option $TARGET:data_dir=$D/$TARGET --task-option $TARGET:train_split=dev
     --task-option $TARGET:selection_holdout=500 --task-option $TARGET:epochs=2"
declare -A DIRS=([sick]=$D/sick [panx]=$D/wikiann [udpos]=$D/udpos_xtreme)
has() { [[ " $PARTS " == *" $1 "* ]]; }
INTER="$R/sick-s$SEED $R/panx-s$SEED $R/udpos-s$SEED"

# 1. no intermediate task (the baseline), then one pipeline per intermediate task
if has models || has direct; then
  [ -f $R/direct-s$SEED/results.json ] || { step "direct $TARGET"; $X train --task $TARGET --data-dir $D/$TARGET \
      --train-split dev --selection-holdout 500 --epochs 2 $COMMON --output-dir $R/direct-s$SEED --resume; }
  if [ "$TARGET" = pawsx ]; then $X report $R/direct-s* > $T/pawsx-direct.md; fi
fi
if has models; then
  for task in sick panx udpos; do
    [ -f $R/$task-s$SEED/results.json ] || { step "$task > $TARGET"; $X pipeline --intermediate $task --target $TARGET \
        $TGT --task-option $task:data_dir=${DIRS[$task]} --task-option $task:max_train_examples=1000 \
        --task-option $task:epochs=1 $COMMON --output-dir $R/$task-s$SEED --resume; }
  done
fi

# 2. ensembles of the models fine-tuned from different intermediate tasks (and of all four)
if has ensembles; then
  for method in prob vote weights; do
    step "ensemble $method"
    $X ensemble $INTER --method $method --output-dir $R/ensemble3-$method-s$SEED --overwrite --quiet --no-save-model \
        > $T/$TARGET-ensemble3-$method-s$SEED.md
  done
  $X ensemble $R/direct-s$SEED $INTER --method prob --output-dir $R/ensemble4-prob-s$SEED --overwrite --quiet \
      --no-save-model > $T/$TARGET-ensemble4-prob-s$SEED.md
fi

# 3. the per-language table of every model (mean ± std where several seeds exist)
if has report; then
  $X report $R/direct-s* $R/sick-s* $R/panx-s* $R/udpos-s* $R/ensemble3-prob-s* $R/ensemble3-vote-s* \
      $R/ensemble3-weights-s* $R/ensemble4-prob-s* --plot benchmarks/plots/intermediate_$TARGET.png > $T/$TARGET-report.md
fi

# 4. typology: each intermediate task's per-language gain over the direct model (means over the seeds run)
#    against the target language's URIEL distance to English, the language of the intermediate data
if has typology; then
  $X typology ${LANGS} --kind syntactic,phonological,inventory,genetic,geographic > $T/typology-matrix-$TARGET.md
  for task in sick panx udpos; do
    $X typology correlate --baseline $R/direct-s* --treatment $R/$task-s* --kind all \
        --output $T/$TARGET-typology-$task.json > $T/$TARGET-typology-$task.md
  done
fi

# 5. typology with non-English intermediate data: NER in one of de, es, nl, pl, ru (1,000 sentences each), then the
#    target; gain of each (NER language, target language) pair over the direct model against their distance
if has typology-ner; then
  for lang in de es nl pl ru; do
    [ -f $R/panx_$lang-s$SEED/results.json ] || { step "panx($lang) > $TARGET"; $X pipeline --intermediate panx \
        --target $TARGET $TGT --task-option panx:data_dir=$D/wikiann --task-option panx:train_language=$lang \
        --task-option panx:max_train_examples=1000 --task-option panx:epochs=1 $COMMON \
        --output-dir $R/panx_$lang-s$SEED --resume; }
  done
  for lang in de es nl pl ru; do
    $X typology correlate --baseline $R/direct-s* --treatment $R/panx_$lang-s* --kind all \
        --output $T/$TARGET-typology-ner-$lang.json > $T/$TARGET-typology-ner-$lang.md
  done
  .venv/bin/python benchmarks/typology_pooled.py
fi
step done
