"""Quality benchmark: does layer fusion beat the last layer, at which layer?

Runs ``xling train`` for every task x fusion configuration x seed on
multilingual-e5-small with identical hyper-parameters and budgets, one fresh
process per run, into ``benchmarks/out/quality/{task}/{config}-s{seed}``.
Finished runs are skipped and killed runs resumed, so the script can be
stopped and started again at will. ``quality_report.py`` turns the results
into the tables and plots of BENCHMARKS.md.

    python benchmarks/quality.py --tasks panx,udpos            # the full grid for NER and POS
    python benchmarks/quality.py --tasks pawsx --seeds 1        # one seed
    python benchmarks/quality.py --quick                        # a few minutes: smoke test of the grid

Budgets (fit a 2-core CPU; the same for every configuration):
    panx   5,000 English train sentences, 1 epoch; test de es nl pl ru, dev for the other PAN-X languages
    udpos  5,000 English train sentences, 1 epoch; test sets of udpos_xtreme (de: UD German-GSD test)
    pawsx  English dev minus 500 held out for selection (1,500 pairs), 3 epochs; test de zh, dev es fr ja ko
    xnli   5,000 SICK pairs, 2 epochs, selection on XNLI English dev; the 15 XNLI test sets (recovered labels)
Evaluation is capped at --eval-cap examples per language (a fixed random subset, the same for every run);
English selection sets at 1,000. Word embeddings are frozen (the CPU cost is in their AdamW update).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from common import DATA, OUT, e5_checkpoint, xling

PANX_EVAL = ("af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pl pt ru sw ta te "
             "tl tr uk ur vi yo zh").split()  # every language with labelled data here (no th)
UDPOS_EVAL = ("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko lt mr nl pl pt ro ru ta te th tl tr uk ur "
              "vi wo yo zh").split()

TASKS: dict[str, dict] = {
    "panx": {"args": ["--data-dir", DATA / "wikiann", "--max-train-examples", "5000", "--epochs", "1"],
             "languages": PANX_EVAL},
    "udpos": {"args": ["--data-dir", DATA / "udpos_xtreme", "--max-train-examples", "5000", "--epochs", "1",
                       "--file", f"de:test={DATA / 'ud/UD_German-GSD/de_gsd-ud-test.conllu.gz'}"],
              "languages": UDPOS_EVAL},
    "pawsx": {"args": ["--data-dir", DATA / "pawsx", "--train-split", "dev", "--selection-holdout", "500",
                       "--epochs", "3"],
              "languages": "de es fr ja ko zh".split()},
    "xnli": {"args": ["--data-dir", DATA / "xnli", "--file", f"en:train={DATA / 'sick/SICK.txt.gz'}",
                      "--max-train-examples", "5000", "--epochs", "2"],
             "languages": "ar bg de el en es fr hi ru sw th tr ur vi zh".split()},
}

CONFIGS: dict[str, list[str]] = {
    "last": ["--fusion", "last"],
    **{f"aif{k}": ["--fusion", "aif", "--fusion-layer", str(k)] for k in (2, 4, 6, 8, 10)},
    "scalar_mix": ["--fusion", "scalar_mix"],
    "concat8": ["--fusion", "concat", "--fusion-layer", "8"],
}
# Opt-in (--configs aif11,aif8g4): AIF at layer 11, the layer `xling analyze layers` suggests for e5-small;
# AIF at layer 8 with its gate starting near 1 (the last layer), an xling option for short budgets, not the
# paper's initialisation.
EXTRA_CONFIGS: dict[str, list[str]] = {
    "aif11": ["--fusion", "aif", "--fusion-layer", "11"],
    "aif8g4": ["--fusion", "aif", "--fusion-layer", "8", "--fusion-option", "gate_bias=4"],
}
DEFAULT_CONFIGS = list(CONFIGS)
CONFIGS.update(EXTRA_CONFIGS)

# Identical for every task and configuration. The learning rate was chosen on English dev
# (benchmarks/results/lr_sweep.md), never on target languages.
COMMON = ["--learning-rate", "2e-4", "--batch-size", "16", "--warmup-ratio", "0.1", "--freeze-embeddings",
          "--max-selection-examples", "1000", "--no-save-model", "--no-oracle-selection", "--quiet"]


def run_grid(tasks: list[str], configs: list[str], seeds: list[int], eval_cap: int, extra: list[str],
             out_root=OUT / "quality", jobs_at_once: int = 1) -> None:
    """Run every (task, seed, config) not finished yet; ``jobs_at_once`` processes side by side.

    With several at once each process gets an equal share of the cores as torch threads
    (a small encoder on a few cores gets more from parallel runs than from more threads per run).
    """
    model = e5_checkpoint()
    jobs = [(t, c, s) for t in tasks for s in seeds for c in configs]
    threads = max(1, (os.cpu_count() or 1) // jobs_at_once)

    def run_one(numbered: tuple[int, tuple[str, str, int]]) -> None:
        i, (task, config, seed) = numbered
        run_dir = out_root / task / f"{config}-s{seed}"
        if (run_dir / "results.json").exists():
            return
        setup = TASKS[task]
        args = ["train", "--task", task, "--model", model, "--output-dir", run_dir, "--seed", str(seed),
                "--languages", ",".join(setup["languages"]), "--max-eval-examples", str(eval_cap),
                *setup["args"], *COMMON, *CONFIGS[config], *extra]
        if (run_dir / "checkpoint").exists():
            args.append("--resume")
        start = time.time()
        print(f"[{i}/{len(jobs)}] {task} {config} seed {seed} ...", flush=True)
        log = out_root / "logs" / f"{task}-{config}-s{seed}.log"
        code = xling(*args, log=log, env={"OMP_NUM_THREADS": str(threads)} if jobs_at_once > 1 else None)
        print(f"[{i}/{len(jobs)}] {task} {config} seed {seed}: exit {code} after {time.time() - start:.0f} s"
              + (f"; see {log}" if code else ""), flush=True)

    with ThreadPoolExecutor(max_workers=jobs_at_once) as pool:
        list(pool.map(run_one, enumerate(jobs, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="panx,udpos", help="comma-separated: " + ",".join(TASKS))
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="comma-separated: " + ",".join(CONFIGS))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--eval-cap", type=int, default=500, help="evaluation examples per language")
    parser.add_argument("--train-examples", type=int, default=None,
                        help="override every task's training subsample (the same for all configurations)")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (cores shared evenly)")
    parser.add_argument("--quick", action="store_true", help="1 seed, last vs aif8, 300 train examples, cap 100")
    args = parser.parse_args()
    if args.quick:
        run_grid(args.tasks.split(","), ["last", "aif8"], [1], 100, ["--max-train-examples", "300", "--epochs", "1"],
                 OUT / "quality-quick", args.jobs)
        return
    extra = ["--max-train-examples", str(args.train_examples)] if args.train_examples else []
    run_grid(args.tasks.split(","), args.configs.split(","), [int(s) for s in args.seeds.split(",")],
             args.eval_cap, extra, jobs_at_once=args.jobs)


if __name__ == "__main__":
    main()
