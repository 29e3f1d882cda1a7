"""``xling demo``: the whole main job, offline, in a few minutes on two CPU cores.

It writes the synthetic sample data, builds a tiny random encoder with a
tokenizer trained on that data, trains NER on English with the last-layer
baseline and with AIF layer fusion (two seeds each), evaluates zero-shot on
de / es / fr and prints the report (mean ± std over seeds). It checks the pipeline; its numbers mean nothing about
real models.
"""

from __future__ import annotations

import time
from pathlib import Path

from xling.config import TrainConfig
from xling.demo.sample import SAMPLE_LANGUAGES, sample_sentences, write_sample

DEMO_FUSIONS = (("last", None), ("aif", 2))
DEMO_TASKS = ("panx",)
DEMO_SEEDS = (0, 1)

REAL_USAGE = """\
This was a pipeline demo on synthetic data with a tiny random encoder; its scores say nothing about real models.
Real runs:
  # hub model and hub data (needs the Hugging Face hub)
  xling train --task panx --model bert-base-multilingual-cased --output-dir runs/panx-last
  xling train --task panx --model xlm-roberta-base --fusion aif --fusion-layer 8 --output-dir runs/panx-aif8
  # local checkpoint and local data (XTREME layout, CoNLL-U, ...)
  xling model download e5-small ~/models/e5-small      # a real multilingual encoder, no hub needed
  xling train --task panx --model ~/models/e5-small --data-dir ../shared/data/wikiann \\
      --languages de,es,nl,pl,ru --max-train-examples 2000 --epochs 1 --learning-rate 2e-4 --batch-size 16 \\
      --fusion aif --fusion-layer 8 --output-dir runs/panx-aif8
  xling report runs/*
"""


def demo_config(task: str, model: Path, data_dir: Path, run_dir: Path, fusion: str, layer: int | None,
                seed: int, quiet: bool) -> TrainConfig:
    return TrainConfig(
        task=task, model=str(model), output_dir=str(run_dir), data_dir=str(data_dir), fusion=fusion,
        fusion_layer=layer, languages=list(SAMPLE_LANGUAGES), seed=seed, epochs=6, batch_size=16,
        learning_rate=1e-3, fusion_learning_rate=1e-3, warmup_ratio=0.1, max_seq_length=64, eval_batch_size=128,
        oracle_selection=False, quiet=quiet, overwrite=True, save_model=False,
    )


def run_demo(output_dir: str | Path = "xling-demo", *, seed: int = 0, quiet: bool = True,
             tasks: tuple[str, ...] = DEMO_TASKS, seeds: tuple[int, ...] = DEMO_SEEDS) -> list[Path]:
    """Run the demo; returns the run directories."""
    from xling.demo.tiny import build_tiny_checkpoint
    from xling.reporting.tables import load_runs, render
    from xling.training.run import run_training

    start = time.perf_counter()
    out = Path(output_dir)
    data = write_sample(out / "data", seed=seed)
    model = build_tiny_checkpoint(out / "tiny-encoder", sample_sentences(seed), seed=seed)
    print(f"xling demo: sample data in {out / 'data'}, tiny encoder (4 layers, hidden 64) in {model}")
    runs: list[Path] = []
    for task in tasks:
        task_runs = []
        for fusion, layer in DEMO_FUSIONS:
            for run_seed in seeds:
                name = fusion + (f"{layer}" if layer is not None else "")
                run_dir = out / "runs" / f"{task}-{name}-seed{run_seed}"
                print(f"xling demo: training {task} with fusion {fusion}" + (f" (layer {layer})" if layer else "")
                      + f", seed {run_seed} ...")
                run_training(demo_config(task, model, data[task], run_dir, fusion, layer, run_seed, quiet))
                task_runs.append(run_dir)
        print()
        print(render(load_runs(task_runs)))
        runs += task_runs
    print("run directories:\n  " + "\n  ".join(map(str, runs)))
    print(f"demo finished in {time.perf_counter() - start:.0f} s\n")
    print(REAL_USAGE)
    return runs
