"""Evaluation batch size: CPU time of xling's ``predict_features`` per ``--eval-tokens`` budget (issue 15).

e5-small with a tagging head (randomly initialised: the cost does not depend on the weights), the first
``--cap`` dev sentences of each PAN-X language, one process, ``--threads`` threads, settings run round-robin
``--rounds`` times, the median CPU time reported; argmax predictions are compared with the first setting's.

    python benchmarks/eval_budget.py --rounds 1            # 41 languages, fixed 64 and 2048/1024/512/384 tokens
Writes benchmarks/results/eval-budget.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import DATA, RESULTS, e5_checkpoint

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pl pt ru sw ta te tl "
         "tr uk ur vi yo zh").split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cap", type=int, default=150, help="dev sentences per language")
    parser.add_argument("--languages", type=int, default=len(LANGS), help="the first N PAN-X languages")
    parser.add_argument("--budgets", default="2048,1024,512,384", help="token budgets (the fixed batch of 64 too)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from xling.config import TrainConfig
    from xling.data.loading import load_split
    from xling.evaluation.evaluator import predict_features
    from xling.kinds import get_kind
    from xling.models.build import build_run_model, load_tokenizer
    from xling.tasks import get_task

    torch.set_num_threads(args.threads)
    task, model_dir = get_task("panx"), str(e5_checkpoint())
    kind, tokenizer = get_kind(task.kind), load_tokenizer(model_dir)
    torch.manual_seed(0)
    model = build_run_model(task, TrainConfig(task="panx", model=model_dir))
    features = {lang: kind.featurize(task, load_split(task, lang, "dev", data_dir=DATA / "wikiann").examples[:args.cap],
                                     tokenizer, 128, task.label_index())
                for lang in LANGS[:args.languages]}
    tokens = sum(len(f["input_ids"]) for fs in features.values() for f in fs)
    settings = {"fixed64": None, **{f"tokens{b}": int(b) for b in args.budgets.split(",")}}
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    reference, identical = None, True
    for r in range(args.rounds):
        for name, budget in settings.items():
            start = time.process_time()
            outputs = {lang: predict_features(model, fs, task, pad_token_id=tokenizer.pad_token_id, batch_size=64,
                                              device=torch.device("cpu"), max_tokens=budget)
                       for lang, fs in features.items()}
            seconds[name].append(time.process_time() - start)
            predictions = {lang: [o.argmax(-1).tolist() for o in outs] for lang, outs in outputs.items()}
            reference = reference or predictions
            identical &= predictions == reference
            print(f"{name} (round {r + 1}/{args.rounds}): {seconds[name][-1]:.1f} CPU s", flush=True)
    fixed = float(np.median(seconds["fixed64"]))
    result = {"languages": len(features), "sentences": sum(map(len, features.values())), "tokens": tokens,
              "threads": args.threads, "rounds": args.rounds, "identical_predictions": identical,
              "settings": {name: {"cpu_seconds": float(np.median(s)), "all": s,
                                  "speedup_vs_fixed64": fixed / float(np.median(s))} for name, s in seconds.items()}}
    (RESULTS / "eval-budget.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, s in result["settings"].items():
        print(f"{name}: {s['cpu_seconds']:.1f} CPU s, {s['speedup_vs_fixed64']:.2f}x the fixed batch of 64")
    print(f"identical predictions: {identical}")


if __name__ == "__main__":
    main()
