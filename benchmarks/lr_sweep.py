"""Learning rate (and, for sentence pairs, pooling) for the short CPU budgets, chosen on English data only.

With one epoch over 2,000 WikiANN sentences, the XTREME default (2e-5, batch 32:
63 steps) leaves multilingual-e5-small predicting only "O" (F1 0 on English dev
and every test set, seen in the first issue-2 run). This sweep picks the
learning rate for batch 16 on the English selection set; no target language is
looked at.

    python benchmarks/lr_sweep.py                 # panx: writes benchmarks/results/lr_sweep.md
    python benchmarks/lr_sweep.py --task xnli     # writes benchmarks/results/lr_sweep_xnli.md

Sentence-pair tasks also try mean pooling: e5 was trained with mean pooling and has no trained
[CLS] pooler, so the first-token default may suit it badly. Their English selection set is a
held-out part of the English dev set (500 pairs; the rest is the training data, as in the
benchmarks that use the choice). PAWS-X cannot be swept this way: its only labelled English data is the
dev set used for training and selection, and a run must score some language (English test is unlabelled);
benchmarks/intermediate_study.sh runs it with the XNLI choice.
"""

from __future__ import annotations

import argparse
import json

from common import DATA, OUT, RESULTS, e5_checkpoint, xling

SETUPS: dict[str, dict] = {
    "panx": {"rates": ("5e-5", "1e-4", "2e-4"), "poolings": (None,),
             "args": ["--data-dir", DATA / "wikiann", "--max-train-examples", "2000", "--epochs", "1",
                      "--max-selection-examples", "1000"],
             "about": "panx, 2,000 English sentences, 1 epoch, batch 16, full fine-tuning; English dev (1,000 sentences)"},
    "xnli": {"rates": ("5e-5", "1e-4", "2e-4"), "poolings": ("first", "mean"),
             "args": ["--data-dir", DATA / "xnli", "--train-split", "dev", "--selection-holdout", "500",
                      "--epochs", "2", "--freeze-embeddings"],
             "about": "xnli, the English XNLI dev set minus 500 held-out pairs (1,990 pairs), 2 epochs, batch 16, "
                      "word embeddings frozen; selection on the 500 held-out English pairs"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="panx", choices=list(SETUPS))
    args = parser.parse_args()
    setup = SETUPS[args.task]
    folder = "lr_sweep" if args.task == "panx" else f"lr_sweep_{args.task}"
    rows = []
    for pooling in setup["poolings"]:
        for lr in setup["rates"]:
            name = f"lr-{lr}" + (f"-{pooling}" if pooling else "")
            run_dir = OUT / folder / name
            if not (run_dir / "results.json").exists():
                # only the selection score is read; xling must score some language, so it scores English on the
                # first split that is not the training data (panx: dev, the pair tasks: 100 pairs of English test)
                split = ["--eval-split", "dev", "--max-eval-examples", "1000"] if args.task == "panx" else \
                    ["--eval-split", "test", "--max-eval-examples", "100"]
                xling("train", "--task", args.task, "--model", e5_checkpoint(), *setup["args"], "--languages", "en",
                      *split,
                      "--batch-size", "16", "--learning-rate", lr, *(["--pooling", pooling] if pooling else []),
                      "--no-save-model", "--no-save-predictions", "--no-oracle-selection",
                      "--output-dir", run_dir, "--overwrite", "--quiet", log=OUT / folder / f"{name}.log")
            data = json.loads((run_dir / "results.json").read_text())
            stage = data["stages"][0]
            rows.append((lr, pooling, stage["selection"]["best_score"], stage["steps"]))
    metric = "F1" if args.task == "panx" else "accuracy"
    header = "| learning rate | " + ("pooling | " if setup["poolings"][0] else "") + f"steps | English selection {metric} |"
    lines = [header, "|---|" + ("---|" if setup["poolings"][0] else "") + "---|---|"]
    for lr, pooling, score, steps in rows:
        lines.append(f"| {lr} | " + (f"{pooling} | " if pooling else "") + f"{steps} | {score:.1f} |")
    best = max(rows, key=lambda r: r[2])
    chosen = best[0] + (f", pooling {best[1]}" if best[1] else "")
    lines += ["", f"Chosen: {chosen} (highest English selection score). {setup['about']}; multilingual-e5-small."]
    (RESULTS / f"{folder}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
