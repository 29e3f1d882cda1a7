"""Speed and memory: xling against the Hugging Face Trainer, and the cost of fusion.

Every measurement runs in a fresh process (clean peak-RSS reading) on the same
model (multilingual-e5-small), the same training examples (one epoch over a
fixed subset, so every setting sees exactly the same real tokens), the same
batch size, sequence cap and number of steps, word embeddings frozen in all.

Settings (token classification on WikiANN English; pair classification on SICK):
    hf-fixed     Trainer + AutoModelFor{Token,Sequence}Classification, padding to 128 (the XTREME scripts)
    hf-dynamic   Trainer, dynamic padding + train_sampling_strategy="group_by_length" (best practice)
    xling-last / xling-aif / xling-scalar_mix   xling train with that fusion (dynamic padding, length-grouped)
Plus evaluation throughput of a trained xling model over every PAN-X language with data here, and
the step time of each fusion method measured in one process, interleaved (last, aif, scalar_mix, last, ...
on the same batches), so that machine noise hits every method alike.

    python benchmarks/speed.py            # full: 1,600 examples per setting (100 steps of 16), 3 rounds
    python benchmarks/speed.py --quick    # a few minutes: 320 examples (20 steps)
Writes benchmarks/results/speed.json and prints the markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

from common import DATA, OUT, RESULTS, e5_checkpoint, machine, run_measured, xling, xling_measured

BATCH, MAX_LEN, LR = 16, 128, 5e-5


def _subset(task: str, n: int, seed: int = 0):
    """The fixed training subset (same examples for every setting)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from xling.tasks import get_task
    from xling.data.loading import load_split

    if task == "ner":
        data = load_split(get_task("panx"), "en", "train", data_dir=DATA / "wikiann")
    else:
        data = load_split(get_task("xnli"), "en", "train", files={"en": {"train": str(DATA / "sick/SICK.txt.gz")}})
    keep = sorted(random.Random(seed).sample(range(len(data.examples)), n))
    return [data.examples[i] for i in keep]


def write_subset(task: str, n: int, directory: Path) -> Path:
    """Write the subset in XTREME layout so that ``xling train`` reads exactly these examples."""
    directory.mkdir(parents=True, exist_ok=True)
    examples = _subset(task, n)
    if task == "ner":
        text = "\n".join("\n".join(f"{t}\t{g}" for t, g in zip(e.tokens, e.tags)) + "\n" for e in examples)
        for split in ("train", "dev"):
            (directory / f"{split}-en.tsv").write_text(text if split == "train" else text[: text.find("\n\n") + 2])
    else:
        rows = "".join(f"{e.text_a}\t{e.text_b}\t{e.label}\n" for e in examples)
        (directory / "train-en.tsv").write_text(rows)
        (directory / "dev-en.tsv").write_text(rows.split("\n", 1)[0] + "\n")
    return directory


def run_hf(task: str, n: int, dynamic: bool) -> dict:
    """One Trainer run in this process; returns timings."""
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer,
                              DataCollatorForTokenClassification, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    torch.manual_seed(0)
    model_dir = str(e5_checkpoint())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = _subset(task, n)
    padding = "longest" if dynamic else "max_length"
    if task == "ner":
        labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
        enc = tokenizer([e.tokens for e in examples], is_split_into_words=True, truncation=True, max_length=MAX_LEN,
                        padding=False if dynamic else "max_length")
        all_labels = []
        for i, e in enumerate(examples):
            previous, row = None, []
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous else labels.index(e.tags[word]))
                previous = word
            all_labels.append(row)
        data = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": all_labels}
        model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=len(labels))
        # max_length matters: padding="max_length" alone pads to tokenizer.model_max_length (512 here)
        collator = DataCollatorForTokenClassification(tokenizer, padding=padding, max_length=None if dynamic else MAX_LEN)
    else:
        labels = ["entailment", "neutral", "contradiction"]
        enc = tokenizer([e.text_a for e in examples], [e.text_b for e in examples], truncation=True,
                        max_length=MAX_LEN, padding=False if dynamic else "max_length")
        data = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                "labels": [labels.index(e.label) for e in examples]}
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=len(labels))
        collator = DataCollatorWithPadding(tokenizer, padding=padding, max_length=None if dynamic else MAX_LEN)
    model.get_input_embeddings().weight.requires_grad_(False)
    dataset = Dataset.from_dict(data)
    real_tokens = int(sum(sum(m) for m in enc["attention_mask"]))
    args = TrainingArguments(
        output_dir=str(OUT / "speed" / "hf-tmp"), per_device_train_batch_size=BATCH, num_train_epochs=1,
        learning_rate=LR, save_strategy="no", eval_strategy="no", report_to="none", logging_strategy="no",
        disable_tqdm=True, use_cpu=True, seed=0,
        train_sampling_strategy="group_by_length" if dynamic else "random",
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
    padded_length = collator([dataset[i] for i in range(2)])["input_ids"].shape[1]
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {"train_seconds": seconds, "examples": n, "real_tokens": real_tokens, "padded_length_first_batch": padded_length,
            "tokens_per_second": real_tokens / seconds, "examples_per_second": n / seconds,
            "peak_rss_mb_train": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_xling(task: str, n: int, fusion: str, work: Path) -> dict:
    data = write_subset(task, n, work / f"data-{task}-{n}")
    run_dir = work / f"xling-{task}-{fusion}-{n}"
    fusion_args = {"last": ["--fusion", "last"], "aif": ["--fusion", "aif", "--fusion-layer", "8"],
                   "scalar_mix": ["--fusion", "scalar_mix"]}[fusion]
    code, peak = xling_measured("train", "--task", "panx" if task == "ner" else "xnli", "--model", e5_checkpoint(),
                 "--data-dir", data, "--output-dir", run_dir, "--overwrite", "--languages", "en",
                 "--eval-split", "dev", "--epochs", "1", "--batch-size", str(BATCH), "--max-seq-length", str(MAX_LEN),
                 "--learning-rate", str(LR), "--warmup-ratio", "0", "--freeze-embeddings", "--seed", "0",
                 "--no-oracle-selection", "--save-model" if fusion == "last" and task == "ner" else "--no-save-model",
                 "--no-save-predictions", "--quiet", *fusion_args, log=work / f"{run_dir.name}.log")
    if code != 0:
        raise RuntimeError(f"xling run failed; see {work / f'{run_dir.name}.log'}")
    timings = json.loads((run_dir / "results.json").read_text())["timings"]
    return {"train_seconds": timings["train_seconds"], "examples": timings["train_examples"],
            "real_tokens": timings["train_tokens"], "tokens_per_second": timings["train_tokens_per_second"],
            "examples_per_second": timings["train_examples_per_second"],
            "peak_rss_mb": peak, "peak_rss_mb_train": timings["peak_rss_mb_train"], "run_dir": str(run_dir)}


def run_eval(work: Path, n: int, cap: int) -> dict:
    """Evaluation throughput of the saved xling NER model over every PAN-X language with labelled data."""
    from quality import PANX_EVAL

    run_dir = work / f"xling-ner-last-{n}"
    output = work / "eval-all-panx.json"
    start = time.perf_counter()
    code = xling("evaluate", "--run", run_dir, "--data-dir", DATA / "wikiann", "--languages", ",".join(PANX_EVAL),
                 "--max-eval-examples", str(cap), "--output", output, "--no-save-predictions", "--quiet",
                 log=work / "eval-all-panx.log")
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"evaluation failed; see {work / 'eval-all-panx.log'}")
    timings = json.loads(output.read_text())["timings"]
    return {"languages": len(PANX_EVAL), "examples": timings["eval_examples"], "eval_seconds": timings["eval_seconds"],
            "examples_per_second": timings["eval_examples_per_second"], "wall_seconds_with_loading": wall,
            "peak_rss_mb": timings["peak_rss_mb"]}


def fusion_step_times(rounds: int, seed: int = 0) -> dict:
    """Median forward + backward + AdamW step time per fusion method, interleaved round-robin in this process.

    Real WikiANN English batches of BATCH sentences (length-grouped as xling trains), the same batches for
    every method, word embeddings frozen; one warm-up round is dropped.
    """
    import statistics as stats

    import torch
    from transformers import AutoTokenizer

    from xling.models import HeadSpec, ModelSpec, build_model

    torch.manual_seed(seed)
    model_dir = str(e5_checkpoint())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = sorted(_subset("ner", BATCH * rounds, seed), key=lambda e: len(e.tokens))
    batches = []
    for i in range(0, len(examples), BATCH):
        chunk = examples[i:i + BATCH]
        enc = tokenizer([e.tokens for e in chunk], is_split_into_words=True, truncation=True, max_length=MAX_LEN,
                        padding=True, return_tensors="pt")
        labels = torch.where(enc["attention_mask"].bool(), 0, -100)
        batches.append((enc["input_ids"], enc["attention_mask"], labels))
    random.Random(seed).shuffle(batches)
    specs = {"last": ("last", None), "aif": ("aif", 8), "scalar_mix": ("scalar_mix", None)}
    models, optimizers = {}, {}
    for name, (fusion, layer) in specs.items():
        model = build_model(ModelSpec(encoder=model_dir, fusion=fusion, fusion_layer=layer,
                                      heads={"panx": HeadSpec("tagging", labels=[str(i) for i in range(7)])}))
        model.encoder.freeze_embeddings()
        model.train()
        models[name] = model
        optimizers[name] = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    times: dict[str, list[float]] = {name: [] for name in specs}
    for r, (ids, mask, labels) in enumerate(batches):
        order = list(specs) if r % 2 == 0 else list(reversed(specs))  # no method always runs first
        for name in order:
            start = time.perf_counter()
            loss = models[name](input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizers[name].step()
            optimizers[name].zero_grad()
            if r > 0:
                times[name].append(time.perf_counter() - start)
    median = {name: stats.median(t) for name, t in times.items()}
    return {"rounds": len(batches) - 1, "batch_size": BATCH, "median_step_seconds": median,
            "overhead_vs_last": {name: median[name] / median["last"] - 1 for name in specs if name != "last"}}


def child(args: argparse.Namespace) -> None:
    print(json.dumps(run_hf(args.task, args.n, args.dynamic)))


def measure_hf(task: str, n: int, dynamic: bool) -> dict:
    command = [sys.executable, __file__, "--child", "--task", task, "--n", str(n)] + (["--dynamic"] if dynamic else [])
    code, peak, output = run_measured(command, capture=True)
    if code != 0:
        raise RuntimeError(f"the Trainer run failed ({code})")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_rss_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds of the dynamic-padding settings, the median run reported (default 3; --quick 1)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task", default="ner", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1600, help=argparse.SUPPRESS)
    parser.add_argument("--dynamic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    n = 320 if args.quick else 1600
    args.repeats = args.repeats or (1 if args.quick else 3)
    cap = 50 if args.quick else 500
    work = OUT / ("speed-quick" if args.quick else "speed")
    rows = []
    for task in ("ner", "pairs"):
        print(f"{task} hf-fixed ...", flush=True)
        rows.append({"task": task, "setting": "hf-fixed", **measure_hf(task, n, False)})
        print(f"    {rows[-1]['tokens_per_second']:.0f} tok/s, {rows[-1]['train_seconds']:.1f} s", flush=True)
        # the dynamic-padding settings are close to each other: run them round-robin, args.repeats times,
        # and keep the median run of each (machine noise of +-10 % hits every setting alike)
        dynamic = {"hf-dynamic": lambda: measure_hf(task, n, True),
                   **{f"xling-{f}": (lambda f=f: run_xling(task, n, f, work)) for f in ("last", "aif", "scalar_mix")}}
        repeats: dict[str, list[dict]] = {name: [] for name in dynamic}
        for r in range(args.repeats):
            for name, measure in dynamic.items():
                print(f"{task} {name} (round {r + 1}/{args.repeats}) ...", flush=True)
                repeats[name].append(measure())
                print(f"    {repeats[name][-1]['tokens_per_second']:.0f} tok/s, "
                      f"{repeats[name][-1]['train_seconds']:.1f} s", flush=True)
        for name, runs in repeats.items():
            ordered = sorted(runs, key=lambda run: run["train_seconds"])
            rows.append({"task": task, "setting": name, **ordered[len(ordered) // 2],
                         "train_seconds_all": [run["train_seconds"] for run in runs]})
    evaluation = run_eval(work, n, cap)
    print("fusion step times (interleaved) ...", flush=True)
    steps = fusion_step_times(rounds=11 if args.quick else 41)
    result = {"machine": machine(), "batch_size": BATCH, "max_length": MAX_LEN, "examples_per_setting": n,
              "quick": args.quick, "repeats": args.repeats, "training": rows, "evaluation": evaluation, "fusion_steps": steps}
    name = "speed-quick.json" if args.quick else "speed.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / name.replace(".json", ".md")).write_text(render(result) + "\n")
    print(render(result))


def render(result: dict) -> str:
    lines = ["| task | setting | train s (median; all runs) | real tokens/s | examples/s | vs hf-fixed | vs hf-dynamic "
             "| peak RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    for task in ("ner", "pairs"):
        rows = {r["setting"]: r for r in result["training"] if r["task"] == task}
        for name, r in rows.items():
            fixed = r["tokens_per_second"] / rows["hf-fixed"]["tokens_per_second"]
            dynamic = r["tokens_per_second"] / rows["hf-dynamic"]["tokens_per_second"]
            runs = "; ".join(f"{t:.1f}" for t in r.get("train_seconds_all", [r["train_seconds"]]))
            lines.append(f"| {task} | {name} | {r['train_seconds']:.1f} ({runs}) | {r['tokens_per_second']:.0f} | "
                         f"{r['examples_per_second']:.1f} | {fixed:.2f}x | {dynamic:.2f}x | {r['peak_rss_mb']:.0f} |")
    lines.append("")
    lines.append("| task | fusion | end-to-end train time vs last (median runs) |")
    lines.append("|---|---|---|")
    for task in ("ner", "pairs"):
        rows = {r["setting"]: r for r in result["training"] if r["task"] == task}
        for name in ("xling-aif", "xling-scalar_mix"):
            overhead = rows[name]["train_seconds"] / rows["xling-last"]["train_seconds"] - 1
            lines.append(f"| {task} | {name[6:]} | {overhead:+.1%} |")
    if "fusion_steps" in result:
        f = result["fusion_steps"]
        lines.append("")
        lines.append(f"Interleaved in one process ({f['rounds']} real NER batches of {f['batch_size']}, the same for "
                     "each method; median forward + backward + AdamW step):")
        lines.append("")
        lines.append("| fusion | median step s | vs last |")
        lines.append("|---|---|---|")
        for name, seconds in f["median_step_seconds"].items():
            overhead = f["overhead_vs_last"].get(name)
            lines.append(f"| {name} | {seconds:.3f} | {'–' if overhead is None else f'{overhead:+.1%}'} |")
    e = result["evaluation"]
    lines.append("")
    lines.append(f"Evaluation over {e['languages']} PAN-X languages ({e['examples']} sentences): "
                 f"{e['examples_per_second']:.0f} sentences/s, {e['eval_seconds']:.0f} s "
                 f"({e['wall_seconds_with_loading']:.0f} s with loading), peak RSS {e['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
