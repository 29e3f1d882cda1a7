"""Speed and memory: xling against the Hugging Face Trainer, evaluation throughput, QA memory, fusion cost, MFU.

Every training or evaluation measurement runs in a fresh process; its peak RSS is the kernel's count for the
whole process (``wait4``'s ``ru_maxrss``), the same for xling and the Trainer. Settings run round-robin,
``--rounds`` times, the median reported (machine noise hits every setting alike). All runs use
multilingual-e5-small, the same fixed subset of WikiANN English, the same batch (16), sequence cap (128),
learning rate and epochs, word embeddings frozen, ``OMP_NUM_THREADS`` threads (default 1: CPU-bound and
steadier on a shared machine).

Training (NER), two settings, both sides doing the same selection work:
    select     2 epochs, selection on English dev (``--dev`` sentences) at every epoch end, the best
               model restored at the end (Trainer: eval + save every epoch, load_best_model_at_end)
    no-select  1 epoch, no selection (xling: a 1-sentence dev set, its minimum)
    hf         Trainer, dynamic padding, group_by_length, its default optimiser (fused AdamW)
    xling      this checkout;  xling-before: the checkout given by --before (e.g. ``git archive`` of main)
Evaluation: the trained xling model over the 41 PAN-X dev languages (``--cap`` sentences each), token budget
(``--eval-tokens`` default) against the fixed batch of 64 sentences, predictions compared.
QA: ``xling train --task tydiqa`` on 384-token windows, batch 32, its default micro-batches; peak RSS.
Fusion: forward + backward + AdamW step per fusion method, interleaved in one process on the same batches;
CPU time per step, and FLOP/s against a 2048^3 matmul (MFU of the CPU).
Compile: ``--compile`` (torch.compile, dynamic shapes) against eager, for the no-select training run and for
the evaluation (token budget), round-robin; compile time included, metrics and predictions compared.

    python benchmarks/speed.py --rounds 3 --n 320 --before /tmp/xling-before
Writes benchmarks/results/speed.json and speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

from common import DATA, OUT, RESULTS, e5_checkpoint, machine, run_measured

BATCH, MAX_LEN, LR = 16, 128, 5e-5
PANX_DEV = DATA / "wikiann" / "xtreme_panx_dev"
ROOT = Path(__file__).resolve().parent.parent


def _examples(split: str, n: int, seed: int = 0):
    sys.path.insert(0, str(ROOT))
    from xling.data.loading import load_split
    from xling.tasks import get_task

    data = load_split(get_task("panx"), "en", split, data_dir=DATA / "wikiann")
    keep = sorted(random.Random(seed).sample(range(len(data.examples)), min(n, len(data.examples))))
    return [data.examples[i] for i in keep]


def write_subset(n: int, dev: int, directory: Path) -> Path:
    """The subset in XTREME layout, so that ``xling train`` reads exactly these examples."""
    directory.mkdir(parents=True, exist_ok=True)
    dev_examples = _examples("dev", max(dev, 16))
    for split, examples in (("train", _examples("train", n)), ("dev", dev_examples[:dev]), ("test", dev_examples[:16])):
        text = "\n".join("\n".join(f"{t}\t{g}" for t, g in zip(e.tokens, e.tags)) + "\n" for e in examples)
        (directory / f"{split}-en.tsv").write_text(text)
    return directory


def run_hf(n: int, dev: int, select: bool) -> dict:
    """One Trainer run in this process (the child side of :func:`measure_hf`)."""
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments)

    from xling.metrics import span_f1

    torch.manual_seed(0)
    model_dir = str(e5_checkpoint())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

    def encode(examples):
        enc = tokenizer([e.tokens for e in examples], is_split_into_words=True, truncation=True, max_length=MAX_LEN)
        rows = []
        for i, e in enumerate(examples):
            previous, row = None, []
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous else labels.index(e.tags[word]))
                previous = word
            rows.append(row)
        return Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                                  "labels": rows}), int(sum(map(sum, enc["attention_mask"])))

    train, real_tokens = encode(_examples("train", n))
    dev_set, _ = encode(_examples("dev", dev))

    def metrics(prediction):
        predicted = np.argmax(prediction.predictions, -1)
        gold_tags, predicted_tags = [], []
        for p_row, g_row in zip(predicted, prediction.label_ids):
            keep = g_row != -100
            gold_tags.append([labels[g] for g in g_row[keep]])
            predicted_tags.append([labels[p] for p in p_row[keep]])
        return {"f1": span_f1(predicted_tags, gold_tags)["f1"]}

    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=len(labels))
    model.get_input_embeddings().weight.requires_grad_(False)
    strategy = "epoch" if select else "no"
    args = TrainingArguments(
        output_dir=str(OUT / "speed" / f"hf-tmp-{os.getpid()}"), per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=64, num_train_epochs=2 if select else 1, learning_rate=LR, save_strategy=strategy,
        eval_strategy=strategy, load_best_model_at_end=select, metric_for_best_model="f1" if select else None,
        save_only_model=True, save_total_limit=1, report_to="none", logging_strategy="no", disable_tqdm=True,
        use_cpu=True, seed=0, train_sampling_strategy="group_by_length")
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=dev_set if select else None,
                      data_collator=DataCollatorForTokenClassification(tokenizer), compute_metrics=metrics)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {"train_seconds": seconds, "real_tokens": real_tokens * (2 if select else 1),
            "optimizer": str(args.optim)}


def measure_hf(n: int, dev: int, select: bool, threads: dict) -> dict:
    command = [sys.executable, __file__, "--child", "--n", str(n), "--dev", str(dev)] + (["--select"] if select else [])
    code, peak, output = run_measured(command, capture=True, env=threads)
    if code != 0:
        raise RuntimeError(f"the Trainer run failed ({code})")
    r = json.loads(output.strip().splitlines()[-1])
    return {**r, "tokens_per_second": r["real_tokens"] / r["train_seconds"], "peak_rss_mb": peak}


def run_xling(root: Path, name: str, n: int, dev: int, select: bool, work: Path, threads: dict,
              save: bool = False, extra: tuple[str, ...] = ()) -> dict:
    data = write_subset(n, dev if select else 1, work / f"data-{n}-{dev if select else 1}")
    run_dir = work / f"{name}-{'select' if select else 'noselect'}"
    command = [sys.executable, "-m", "xling", "train", "--task", "panx", "--model", str(e5_checkpoint()),
               "--data-dir", str(data), "--output-dir", str(run_dir), "--overwrite", "--languages", "en",
               "--eval-split", "test", "--epochs", "2" if select else "1", "--batch-size", str(BATCH),
               "--max-seq-length", str(MAX_LEN), "--learning-rate", str(LR), "--warmup-ratio", "0",
               "--freeze-embeddings", "--seed", "0", "--no-oracle-selection", "--no-save-predictions", "--quiet",
               "--save-model" if save else "--no-save-model", *extra]
    code, peak = run_measured(command, log=work / f"{run_dir.name}.log", env={**threads, "PYTHONPATH": str(root)})
    if code != 0:
        raise RuntimeError(f"xling run failed; see {work / f'{run_dir.name}.log'}")
    results = json.loads((run_dir / "results.json").read_text())
    t = results["timings"]
    seconds = t["train_seconds"] + t.get("selection_seconds", 0.0)
    return {"test_f1": results["languages"]["en"]["metrics"]["f1"], "train_seconds": seconds, "steps_seconds": t["train_seconds"], "selection_seconds": t.get("selection_seconds"),
            "real_tokens": t["train_tokens"], "tokens_per_second": t["train_tokens"] / seconds, "peak_rss_mb": peak,
            "run_dir": str(run_dir)}


def run_eval(run_dir: Path, cap: int, fixed: bool, work: Path, threads: dict, round_: int,
             extra: tuple[str, ...] = ()) -> dict:
    langs = sorted(p.name[4:-7] for p in PANX_DEV.glob("dev-*.tsv.gz"))
    name = ("fixed64" if fixed else "tokens") + "".join(extra).replace("-", "_")
    output = work / f"eval-{name}-{round_}.json"
    batching = ["--eval-tokens", "0", "--eval-batch-size", "64"] if fixed else []
    batching += list(extra)
    output.unlink(missing_ok=True)
    shutil.rmtree(output.parent / (output.stem + "-predictions"), ignore_errors=True)
    command = [sys.executable, "-m", "xling", "evaluate", "--run", str(run_dir), "--data-dir", str(DATA / "wikiann"),
               "--languages", ",".join(langs), "--eval-split", "dev", "--max-eval-examples", str(cap),
               "--output", str(output), "--save-predictions", "--quiet", *batching]
    code, peak = run_measured(command, log=output.with_suffix(".log"), env=threads)
    if code != 0:
        raise RuntimeError(f"evaluation failed; see {output.with_suffix('.log')}")
    t = json.loads(output.read_text())["timings"]
    folder = output.parent / (output.stem + "-predictions")
    predictions = {p.name: [json.loads(line)["prediction"] for line in p.read_text().splitlines()]
                   for p in sorted(folder.glob("*.jsonl"))}
    return {"languages": len(langs), "examples": t["eval_examples"], "eval_seconds": t["eval_seconds"],
            "examples_per_second": t["eval_examples_per_second"], "peak_rss_mb": peak, "predictions": predictions}


def run_qa(work: Path, threads: dict, extra: list[str]) -> dict:
    run_dir = work / ("qa-tydiqa" + "".join(extra).replace("-", "_"))
    command = [sys.executable, "-m", "xling", "train", "--task", "tydiqa", "--model", str(e5_checkpoint()),
               "--data-dir", str(DATA / "tydiqa_goldp"), "--output-dir", str(run_dir), "--overwrite",
               "--languages", "ar", "--max-train-examples", "64", "--max-steps", "1", "--max-selection-examples", "16",
               "--max-eval-examples", "16", "--no-oracle-selection", "--no-save-model", "--no-save-predictions",
               "--quiet", *extra]
    code, peak = run_measured(command, log=run_dir.with_suffix(".log"), env=threads)
    if code != 0:
        raise RuntimeError(f"QA run failed; see {run_dir.with_suffix('.log')}")
    cfg = json.loads((run_dir / "results.json").read_text())["config"]
    return {"peak_rss_mb": peak, "batch_size": cfg["batch_size"], "max_seq_length": cfg["max_seq_length"],
            "max_tokens_per_batch": cfg.get("max_tokens_per_batch"), "options": extra}


def fusion_steps(rounds: int, seed: int = 0) -> dict:
    """CPU time per forward + backward + AdamW step for each fusion method, interleaved, and its FLOP rate."""
    import torch
    from transformers import AutoTokenizer

    from xling.models import HeadSpec, ModelSpec, build_model
    from xling.training.loop import adamw

    torch.manual_seed(seed)
    model_dir = str(e5_checkpoint())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = sorted(_examples("train", BATCH * rounds, seed), key=lambda e: len(e.tokens))
    batches = []
    for i in range(0, len(examples), BATCH):
        enc = tokenizer([e.tokens for e in examples[i:i + BATCH]], is_split_into_words=True, truncation=True,
                        max_length=MAX_LEN, padding=True, return_tensors="pt")
        batches.append((enc["input_ids"], enc["attention_mask"], torch.where(enc["attention_mask"].bool(), 0, -100)))
    random.Random(seed).shuffle(batches)
    specs = {"last": ("last", None), "aif": ("aif", 8), "scalar_mix": ("scalar_mix", None)}
    models, optimizers = {}, {}
    for name, (fusion, layer) in specs.items():
        model = build_model(ModelSpec(encoder=model_dir, fusion=fusion, fusion_layer=layer,
                                      heads={"panx": HeadSpec("tagging", labels=[str(i) for i in range(7)])}))
        model.encoder.freeze_embeddings()
        models[name] = model.train()
        optimizers[name] = adamw([{"params": [p for p in model.parameters() if p.requires_grad], "lr": LR}])
    times: dict[str, list[float]] = {name: [] for name in specs}
    flops: list[float] = []
    config = models["last"].encoder.config
    for r, (ids, mask, labels) in enumerate(batches):
        for name in (list(specs) if r % 2 == 0 else list(reversed(specs))):
            start = time.process_time()
            models[name](input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            optimizers[name].step()
            optimizers[name].zero_grad()
            if r > 0:
                times[name].append(time.process_time() - start)
        if r > 0:
            flops.append(step_flops(config, ids.shape[0], ids.shape[1]))
    median = {name: statistics.median(t) for name, t in times.items()}
    rate = statistics.median(f / t for f, t in zip(flops, times["last"]))
    peak = matmul_rate()
    return {"rounds": len(batches) - 1, "batch_size": BATCH, "threads": torch.get_num_threads(),
            "median_cpu_seconds": median,
            "overhead_vs_last": {name: median[name] / median["last"] - 1 for name in specs if name != "last"},
            "step_gflop_per_cpu_second": rate / 1e9, "matmul_gflop_per_cpu_second": peak / 1e9, "mfu": rate / peak}


def step_flops(config, batch: int, length: int) -> float:
    """Forward + backward FLOPs of the encoder on a padded batch (3x the forward; the frozen embedding
    lookup costs none): per layer the projections and MLP (2 x params x tokens) and attention (2 x 2 x T^2 x d)."""
    d, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    tokens = batch * length
    per_layer = 2 * tokens * (4 * d * d + 2 * d * ff) + 4 * batch * length * length * d
    return 3.0 * layers * per_layer


def matmul_rate(size: int = 2048, repeats: int = 3) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / best


def _timed(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def median_run(runs: list[dict], key: str = "train_seconds") -> dict:
    ordered = sorted(runs, key=lambda run: run[key])
    return {**ordered[len(ordered) // 2], f"{key}_all": [run[key] for run in runs],
            "peak_rss_mb_all": [run["peak_rss_mb"] for run in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every setting (median reported)")
    parser.add_argument("--n", type=int, default=320, help="training sentences (batches of 16)")
    parser.add_argument("--dev", type=int, default=200, help="English dev sentences for selection")
    parser.add_argument("--cap", type=int, default=30, help="evaluation sentences per PAN-X language")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of every measured process")
    parser.add_argument("--before", type=Path, help="a checkout of the code before, run as xling-before")
    parser.add_argument("--parts", default="train,eval,qa,fusion,compile")
    parser.add_argument("--fusion-rounds", type=int, default=7, help="batches per fusion method (one dropped)")
    parser.add_argument("--compile-rounds", type=int, default=1, help="rounds of the compile part (compiling is slow)")
    parser.add_argument("--output", default="speed", help="results file stem in benchmarks/results")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--select", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_hf(args.n, args.dev, args.select)))
        return
    threads = {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
               "TOKENIZERS_PARALLELISM": "false"}
    work = OUT / "speed"
    parts = set(args.parts.split(","))
    result: dict = {"machine": machine(), "threads": args.threads, "rounds": args.rounds, "n": args.n,
                    "dev": args.dev, "batch_size": BATCH, "max_length": MAX_LEN, "load": os.getloadavg()}
    if "train" in parts:
        training: dict = {}
        roots = {"xling": ROOT, **({"xling-before": args.before} if args.before else {})}
        for select in (True, False):
            setting = "select" if select else "no-select"
            measures = {"hf": lambda: measure_hf(args.n, args.dev, select, threads),
                        **{name: (lambda name=name, root=root: run_xling(root, name, args.n, args.dev, select, work,
                                                                         threads))
                           for name, root in roots.items()}}
            runs: dict[str, list[dict]] = {name: [] for name in measures}
            for r in range(args.rounds):
                for name in (list(measures) if r % 2 == 0 else list(reversed(measures))):
                    print(f"{setting} {name} (round {r + 1}/{args.rounds}) ...", flush=True)
                    runs[name].append(measures[name]())
                    print(f"    {runs[name][-1]['train_seconds']:.1f} s, {runs[name][-1]['peak_rss_mb']:.0f} MB",
                          flush=True)
            training[setting] = {name: median_run(rs) for name, rs in runs.items()}
            result["training"] = training
            save(result, args.output)
    if "eval" in parts:  # the model to evaluate, trained apart (saving it is not part of a measured run)
        print("training the model for the evaluation ...", flush=True)
        saved_model = Path(run_xling(ROOT, "xling-model", args.n, args.dev, False, work, threads, save=True)["run_dir"])
        runs = {"fixed64": [], "tokens": []}
        for r in range(args.rounds):
            for fixed in ((True, False) if r % 2 == 0 else (False, True)):
                print(f"eval {'fixed64' if fixed else 'tokens'} (round {r + 1}/{args.rounds}) ...", flush=True)
                runs["fixed64" if fixed else "tokens"].append(run_eval(saved_model, args.cap, fixed, work, threads, r))
        reference = runs["fixed64"][0]["predictions"]
        identical = all(run["predictions"] == reference for rs in runs.values() for run in rs)
        result["evaluation"] = {name: {k: v for k, v in median_run(rs, "eval_seconds").items() if k != "predictions"}
                                for name, rs in runs.items()}
        result["evaluation"]["identical_predictions"] = identical
        save(result, args.output)
    if "qa" in parts:
        print("qa tydiqa ...", flush=True)
        result["qa"] = [run_qa(work, threads, [])]
        save(result, args.output)
    if "compile" in parts:
        result["compile"] = compile_part(args, work, threads)
        save(result, args.output)
    if "fusion" in parts:
        import torch

        torch.set_num_threads(args.threads)
        print("fusion step times (interleaved) ...", flush=True)
        result["fusion_steps"] = fusion_steps(rounds=args.fusion_rounds)
    save(result, args.output)
    print(render(result))


def compile_part(args: argparse.Namespace, work: Path, threads: dict) -> dict:
    """--compile against eager: no-select training, then evaluation of one saved model (token budget)."""
    train: dict[str, list[dict]] = {"eager": [], "compiled": []}
    for r in range(args.compile_rounds):
        for name in (("eager", "compiled") if r % 2 == 0 else ("compiled", "eager")):
            print(f"compile: train {name} (round {r + 1}/{args.compile_rounds}) ...", flush=True)
            extra = ("--compile",) if name == "compiled" else ()
            train[name].append(run_xling(ROOT, f"xling-{name}", args.n, args.dev, False, work, threads, extra=extra))
    saved_model = work / "xling-model-noselect"
    if not (saved_model / "results.json").is_file():
        run_xling(ROOT, "xling-model", args.n, args.dev, False, work, threads, save=True)
    evaluation: dict[str, list[dict]] = {"eager": [], "compiled": []}
    for r in range(args.compile_rounds):
        for name in (("eager", "compiled") if r % 2 == 0 else ("compiled", "eager")):
            print(f"compile: eval {name} (round {r + 1}/{args.compile_rounds}) ...", flush=True)
            extra = ("--compile",) if name == "compiled" else ()
            evaluation[name].append(run_eval(saved_model, args.cap, False, work, threads, r, extra=extra))
    reference = evaluation["eager"][0]["predictions"]
    return {"train": {name: median_run(rs) for name, rs in train.items()},
            "train_f1": {name: [run["test_f1"] for run in rs] for name, rs in train.items()},
            "eval": {name: {k: v for k, v in median_run(rs, "eval_seconds").items() if k != "predictions"}
                     for name, rs in evaluation.items()},
            "identical_predictions": all(run["predictions"] == reference for rs in evaluation.values() for run in rs)}


def save(result: dict, stem: str) -> None:
    """Write what is measured so far (a part that is missing is left out of the table)."""
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(render(result) + "\n")


def render(result: dict) -> str:
    lines = [f"Conditions: {result['machine']['cpu']}, {result['machine']['cores']} cores, load average "
             f"{', '.join(f'{x:.1f}' for x in result['load'])} (1, 5, 15 min) at the start, {result['threads']} thread(s) per "
             f"process, medians of {result['rounds']} rounds run round-robin; e5-small, {result['n']} WikiANN en "
             f"sentences, batch {result['batch_size']}, cap {result['max_length']}, embeddings frozen.", ""]
    if "training" in result:
        lines += ["| setting | program | train s (median; all) | real tokens/s | vs Trainer | peak RSS MB (all) "
                  "| RSS vs Trainer |", "|---|---|---|---|---|---|---|"]
        for setting, programs in result["training"].items():
            hf = programs["hf"]
            for name, r in programs.items():
                runs = "; ".join(f"{t:.1f}" for t in r["train_seconds_all"])
                rss = "; ".join(f"{m:.0f}" for m in r["peak_rss_mb_all"])
                lines.append(f"| {setting} | {name} | {r['train_seconds']:.1f} ({runs}) | {r['tokens_per_second']:.0f} "
                             f"| {hf['train_seconds'] / r['train_seconds']:.2f}x | {r['peak_rss_mb']:.0f} ({rss}) "
                             f"| {r['peak_rss_mb'] / hf['peak_rss_mb']:.2f}x |")
        lines += ["", "train s: the Trainer's `train()` (steps, its evaluations, saves and the best model's reload); "
                  "xling's training steps plus selection (`train_seconds + selection_seconds`; xling-before records "
                  "only `train_seconds`). Peak RSS: the whole process (`wait4`)."]
    if "evaluation" in result:
        e = result["evaluation"]
        f, t = e["fixed64"], e["tokens"]
        lines += ["", f"Evaluation over {f['languages']} PAN-X languages ({f['examples']} sentences): fixed batch of 64 "
                  f"{f['examples_per_second']:.0f} sentences/s, token budget {t['examples_per_second']:.0f} sentences/s "
                  f"({f['eval_seconds'] / t['eval_seconds']:.2f}x; eval s {', '.join(f'{x:.1f}' for x in f['eval_seconds_all'])}"
                  f" vs {', '.join(f'{x:.1f}' for x in t['eval_seconds_all'])}); identical predictions: "
                  f"{'yes' if e['identical_predictions'] else 'NO'}; peak RSS {f['peak_rss_mb']:.0f} / {t['peak_rss_mb']:.0f} MB"]
    for qa in result.get("qa", []):
        lines += ["", f"QA (TyDiQA-GoldP en, windows of {qa['max_seq_length']}, batch {qa['batch_size']}, micro-batches "
                  f"of {qa['max_tokens_per_batch']} tokens {' '.join(qa['options'])}): peak RSS {qa['peak_rss_mb']:.0f} MB"]
    if "fusion_steps" in result:
        f = result["fusion_steps"]
        lines += ["", f"Fusion, interleaved in one process ({f['rounds']} NER batches of {f['batch_size']}, "
                  f"{f['threads']} thread(s), CPU s per forward + backward + AdamW step):", "",
                  "| fusion | median CPU s | vs last |", "|---|---|---|"]
        for name, seconds in f["median_cpu_seconds"].items():
            overhead = f["overhead_vs_last"].get(name)
            lines.append(f"| {name} | {seconds:.3f} | {'–' if overhead is None else f'{overhead:+.1%}'} |")
        lines += ["", f"MFU (CPU time): a step runs {f['step_gflop_per_cpu_second']:.1f} GFLOP per CPU second, a 2048^3 "
                  f"matmul {f['matmul_gflop_per_cpu_second']:.1f}: {f['mfu']:.0%}."]
    if "compile" in result:
        c = result["compile"]
        te, tc = c["train"]["eager"], c["train"]["compiled"]
        ee, ec = c["eval"]["eager"], c["eval"]["compiled"]
        lines += ["", f"`--compile` (torch.compile, dynamic shapes; compile time included): training (no-select) "
                  f"{tc['train_seconds']:.1f} s against eager {te['train_seconds']:.1f} s "
                  f"({te['train_seconds'] / tc['train_seconds']:.2f}x; all {', '.join(f'{x:.1f}' for x in tc['train_seconds_all'])}"
                  f" vs {', '.join(f'{x:.1f}' for x in te['train_seconds_all'])}), English test F1 "
                  f"{c['train_f1']['compiled']} vs {c['train_f1']['eager']}; evaluation {ec['examples_per_second']:.0f} "
                  f"against {ee['examples_per_second']:.0f} sentences/s ({ee['eval_seconds'] / ec['eval_seconds']:.2f}x), "
                  f"identical predictions: {'yes' if c['identical_predictions'] else 'NO'}; peak RSS "
                  f"{tc['peak_rss_mb']:.0f} / {te['peak_rss_mb']:.0f} MB (train), {ec['peak_rss_mb']:.0f} / "
                  f"{ee['peak_rss_mb']:.0f} MB (eval)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
