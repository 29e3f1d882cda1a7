#!/bin/bash
# Issue 4 measurements on multilingual-e5-small: Tatoeba retrieval, what each layer knows, XCOPA, QA.
#
#   bash benchmarks/xtreme_tasks.sh [tatoeba|layers|xcopa|qa ...]     # default: all four
#
# Runs go to benchmarks/out/xtreme/, compact results to benchmarks/results/xtreme/, plots to benchmarks/plots/.
# Budgets (2-core CPU): Tatoeba and the layer analysis use 200 seeded pairs per language (36 XTREME languages);
# XCOPA trains on English COPA (400, 5 epochs, selection on COPA val), 3 seeds, scored on the 11 XCOPA test sets;
# QA trains on 1,800 questions of the English TyDiQA-GoldP train set (300 more held out for English selection;
# no SQuAD here), 2 epochs, windows of 256 sub-words, and is scored on 150 questions per language of XQuAD
# (test), MLQA (dev) and TyDiQA-GoldP (dev, 9 languages; its answers are real since the data's last revision).
set -euo pipefail
source "$(dirname "$0")/common.sh"
R=benchmarks/out/xtreme
T=benchmarks/results/xtreme
mkdir -p "$R" "$T" benchmarks/plots
parts=${*:-tatoeba layers xcopa qa}

for part in $parts; do case $part in
tatoeba)
  step tatoeba
  $X retrieve --task tatoeba --model $M --data-dir $D/tatoeba --max-sentences 200 --output-dir $R/tatoeba \
      --overwrite --quiet > $T/tatoeba.md
  cp $R/tatoeba/results.json $T/tatoeba.json ;;
layers)
  step layers
  $X analyze layers --model $M --data-dir $D/tatoeba --max-sentences 200 --output $R/layers --quiet > $T/layers.md
  cp $R/layers/layers.json $T/layers.json
  for png in $R/layers/*.png; do cp "$png" benchmarks/plots/layers_$(basename "$png"); done ;;
xcopa)
  for seed in 1 2 3; do
    step "xcopa seed $seed"
    [ -f $R/xcopa-s$seed/results.json ] || $X train --task xcopa --model $M --data-dir $D/xcopa --seed $seed \
        --learning-rate 5e-5 --batch-size 16 --freeze-embeddings --no-save-model --output-dir $R/xcopa-s$seed \
        --resume --quiet > /dev/null
  done
  $X report $R/xcopa-s1 $R/xcopa-s2 $R/xcopa-s3 > $T/xcopa.md ;;
qa)
  step "qa: train on English TyDiQA-GoldP, score XQuAD"
  [ -f $R/qa/results.json ] || $X train --task xquad --model $M --data-dir $D/xquad \
      --file en:train=$D/tydiqa_goldp/train/tydiqa.goldp.en.train.json --selection-holdout 300 \
      --max-train-examples 1800 --epochs 2 --max-seq-length 256 --learning-rate 1e-4 --batch-size 16 \
      --freeze-embeddings --max-eval-examples 150 --no-oracle-selection --output-dir $R/qa --resume --quiet > /dev/null
  step "qa: score MLQA with the same model"
  $X evaluate --run $R/qa --task mlqa --data-dir $D/mlqa --eval-split dev --languages ar,de,en,es,hi,vi,zh \
      --max-eval-examples 150 --output $R/qa/mlqa.json --quiet > /dev/null
  $X report $R/qa > $T/xquad.md
  $X report $R/qa --metric exact_match > $T/xquad_em.md
  $X report $R/qa/mlqa.json > $T/mlqa.md
  $X report $R/qa/mlqa.json --metric exact_match > $T/mlqa_em.md
  step "qa: score TyDiQA-GoldP dev (real answers since the data's last revision) with the same model"
  $X evaluate --run $R/qa --task tydiqa --data-dir $D/tydiqa_goldp --eval-split dev \
      --languages ar,bn,en,fi,id,ko,ru,sw,te --max-eval-examples 150 --output $R/qa/tydiqa.json --quiet > /dev/null
  $X report $R/qa/tydiqa.json > $T/tydiqa.md
  $X report $R/qa/tydiqa.json --metric exact_match > $T/tydiqa_em.md
  # and the English selection score: the 300 questions held out of the English training file
  .venv/bin/python -c "import json, sys; s = json.load(open(sys.argv[1]))['stages'][0]['selection']
print(f\"English TyDiQA-GoldP, {s.get('examples', 300)} questions held out of the training file \"
      f\"(the selection set): F1 {s['best_score']:.1f} ({s['metric']}: SQuAD normalisation)\")" $R/qa/results.json > $T/tydiqa_en.md ;;
*) echo "unknown part $part" >&2; exit 2 ;;
esac; done
step done
