"""Learning-rate choice for the short CPU budgets, on English dev only.

With one epoch over 2,000 WikiANN sentences, the XTREME default (2e-5, batch 32:
63 steps) leaves multilingual-e5-small predicting only "O" (F1 0 on English dev
and every test set, seen in the first issue-2 run). This sweep picks the
learning rate for batch 16 on the English dev set (1,000 sentences); no target
language is looked at.

    python benchmarks/lr_sweep.py
Writes benchmarks/results/lr_sweep.md.
"""

from __future__ import annotations

import json

from common import DATA, OUT, RESULTS, e5_checkpoint, xling

RATES = ("5e-5", "1e-4", "2e-4")


def main() -> None:
    rows = []
    for lr in RATES:
        run_dir = OUT / "lr_sweep" / f"lr-{lr}"
        if not (run_dir / "results.json").exists():
            xling("train", "--task", "panx", "--model", e5_checkpoint(), "--data-dir", DATA / "wikiann",
                  "--languages", "en", "--eval-split", "dev", "--max-eval-examples", "1000",
                  "--max-selection-examples", "1000", "--max-train-examples", "2000", "--epochs", "1",
                  "--batch-size", "16", "--learning-rate", lr, "--no-save-model", "--no-save-predictions",
                  "--output-dir", run_dir, "--overwrite", "--quiet", log=OUT / "lr_sweep" / f"lr-{lr}.log")
        data = json.loads((run_dir / "results.json").read_text())
        rows.append((lr, data["stages"][0]["selection"]["best_score"], data["stages"][0]["steps"]))
    lines = ["| learning rate | steps | English dev F1 (1,000 sentences) |", "|---|---|---|"]
    lines += [f"| {lr} | {steps} | {score:.1f} |" for lr, score, steps in rows]
    best = max(rows, key=lambda r: r[1])[0]
    lines += ["", f"Chosen: {best} (highest English dev F1). panx, 2,000 English sentences, 1 epoch, batch 16, "
                  "full fine-tuning, multilingual-e5-small."]
    (RESULTS / "lr_sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
