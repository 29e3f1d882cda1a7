"""Tables and plots for the quality benchmark.

    python benchmarks/quality_report.py            # collect benchmarks/out/quality, then report
    python benchmarks/quality_report.py --no-collect   # report from the committed summary only

Collects every finished run's results.json into the committed summary
``benchmarks/results/quality_runs.jsonl`` (one line per run), then writes
``benchmarks/results/quality.md`` and the PNGs in ``benchmarks/plots/``.
The best fusion layer of a task is chosen on English dev (mean selection score
over seeds), never on target languages; its test gain is reported against
``last`` as mean ± std of the per-seed differences.
"""

from __future__ import annotations

import argparse
import json
import statistics

from common import OUT, PLOTS, RESULTS, read_jsonl, write_jsonl

SUMMARY = RESULTS / "quality_runs.jsonl"
ORDER = ["last", "aif2", "aif4", "aif6", "aif8", "aif10", "aif11", "scalar_mix", "concat8", "aif8g4"]
AIF_LAYERS = (2, 4, 6, 8, 10, 11)  # the aif{k} configurations of benchmarks/sweeps/quality.yaml
TASK_NAMES = {"panx": "NER (PAN-X, F1)", "udpos": "POS (UD, F1)", "pawsx": "PAWS-X (acc.)", "xnli": "XNLI (acc.)"}


def collect() -> list[dict]:
    rows = []
    for path in sorted((OUT / "quality").glob("*/*/results.json")):
        data = json.loads(path.read_text())
        config, seed = path.parent.name.rsplit("-s", 1)
        stage = data["stages"][0]
        rows.append({
            "task": data["task"]["name"], "config": config, "seed": int(seed),
            "fusion": data["fusion"], "en_dev": stage["selection"]["best_score"],
            "train_examples": stage["examples"], "steps": stage["steps"],
            "languages": {lang: {"score": s["primary"], "split": s["split"], "examples": s["examples"]}
                          for lang, s in data["languages"].items()},
            "zero_shot": data["averages"]["zero_shot"], "all": data["averages"]["all"],
            "train_seconds": data["timings"]["train_seconds"], "eval_seconds": data["timings"]["eval_seconds"],
            "git_revision": data["environment"]["git_revision"],
        })
    write_jsonl(SUMMARY, rows)
    return rows


def ms(values: list[float]) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return f"{mean:.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def by(rows: list[dict], task: str) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for row in rows:
        if row["task"] == task:
            out.setdefault(row["config"], {})[row["seed"]] = row
    return {c: out[c] for c in ORDER if c in out}


def best_config(groups: dict[str, dict[int, dict]], candidates: list[str]) -> str:
    """The candidate with the highest mean English-dev selection score."""
    present = [c for c in candidates if c in groups]
    return max(present, key=lambda c: statistics.fmean(r["en_dev"] for r in groups[c].values()))


def paired_gain(groups, config: str, key=lambda r: r["zero_shot"]) -> list[float]:
    seeds = sorted(set(groups[config]) & set(groups["last"]))
    return [key(groups[config][s]) - key(groups["last"][s]) for s in seeds]


def task_tables(task: str, groups: dict[str, dict[int, dict]]) -> list[str]:
    configs = list(groups)
    first = next(iter(next(iter(groups.values())).values()))
    langs = list(first["languages"])
    seeds = sorted({s for g in groups.values() for s in g})
    examples = sorted({r["train_examples"] for g in groups.values() for r in g.values()})
    steps = sorted({r["steps"] for g in groups.values() for r in g.values()})
    span = lambda v: f"{v[0]}" if v[0] == v[-1] else f"{v[0]}–{v[-1]}"  # noqa: E731
    lines = [f"#### {TASK_NAMES.get(task, task)}: per language, mean ± std over seeds {seeds}", "",
             f"Budget: {span(examples)} English training examples, {span(steps)} steps (one epoch; long "
             "sentences are split into windows, so steps vary a little)"
             + "; `n` = examples scored per language (a fixed random subset when capped). "
             "Split `dev` marks languages whose labelled test set is not here.", "",
             "| language | split | n | " + " | ".join(configs) + " |", "|---|---|---|" + "---|" * len(configs)]
    for lang in langs:
        meta = first["languages"][lang]
        cells = [ms([r["languages"][lang]["score"] for r in groups[c].values() if lang in r["languages"]])
                 for c in configs]
        lines.append(f"| {lang} | {meta['split']} | {meta['examples']} | " + " | ".join(cells) + " |")
    for label, key in (("**avg zero-shot**", "zero_shot"), ("avg all", "all"), ("en dev (selection)", "en_dev")):
        cells = [ms([r[key] for r in groups[c].values()]) for c in configs]
        lines.append(f"| {label} | | | " + " | ".join(cells) + " |")
    return lines


def summary_table(rows: list[dict], tasks: list[str]) -> list[str]:
    columns = [c for c in ORDER if any(r["config"] == c for r in rows)]
    lines = ["| task | " + " | ".join(columns) + " | best on en dev | its gain over last (paired, test) |",
             "|---|" + "---|" * (len(columns) + 2)]
    for task in tasks:
        groups = by(rows, task)
        if "last" not in groups:
            continue
        cells = [ms([r["zero_shot"] for r in groups[c].values()]) if c in groups else "–" for c in columns]
        best = best_config(groups, [c for c in ORDER if c != "last"])
        gain = paired_gain(groups, best)
        lines.append(f"| {TASK_NAMES.get(task, task)} | " + " | ".join(cells) + f" | {best} | {ms(gain)} |")
    return lines


def plot_layers(rows: list[dict], tasks: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in tasks if "last" in by(rows, t)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        groups = by(rows, task)
        base = [r["zero_shot"] for r in groups["last"].values()]
        mean, std = statistics.fmean(base), (statistics.stdev(base) if len(base) > 1 else 0.0)
        ax.axhspan(mean - std, mean + std, color="grey", alpha=0.25, label="last layer (mean ± std)")
        ax.axhline(mean, color="grey", lw=1)
        layers = [k for k in AIF_LAYERS if f"aif{k}" in groups]
        values = [[r["zero_shot"] for r in groups[f"aif{k}"].values()] for k in layers]
        ax.errorbar(layers, [statistics.fmean(v) for v in values],
                    yerr=[statistics.stdev(v) if len(v) > 1 else 0 for v in values], marker="o", capsize=3,
                    label="aif (last + layer k)")
        # the other methods beside the layer they use (scalar_mix: all layers, drawn right of the axis)
        for config, x, marker, label in (("scalar_mix", 12.4, "s", "scalar_mix (all layers)"),
                                         ("concat8", 8.3, "^", "concat (last + layer 8)"),
                                         ("aif8g4", 7.7, "D", "aif8, gate_bias=4")):
            if config in groups:
                v = [r["zero_shot"] for r in groups[config].values()]
                ax.errorbar([x], [statistics.fmean(v)], yerr=[statistics.stdev(v) if len(v) > 1 else 0],
                            marker=marker, ls="", capsize=3, label=label)
        ax.set_title(TASK_NAMES.get(task, task))
        ax.set_xlabel("fusion layer k")
        ax.set_ylabel("zero-shot average")
        ax.set_xticks(layers)
    axes[0][0].legend(fontsize="x-small")
    fig.tight_layout()
    path = PLOTS / "quality_layers.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_gains(rows: list[dict], tasks: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in tasks if "last" in by(rows, t)]
    fig, axes = plt.subplots(len(tasks), 1, figsize=(11, 2.6 * len(tasks)), squeeze=False)
    for ax, task in zip(axes[:, 0], tasks):
        groups = by(rows, task)
        best = best_config(groups, [f"aif{k}" for k in AIF_LAYERS])
        langs = [lang for lang in next(iter(groups["last"].values()))["languages"]]
        gains = [paired_gain(groups, best, key=lambda r, lang=lang: r["languages"][lang]["score"]) for lang in langs]
        means = [statistics.fmean(g) for g in gains]
        stds = [statistics.stdev(g) if len(g) > 1 else 0 for g in gains]
        ax.bar(range(len(langs)), means, yerr=stds, capsize=2, color=["tab:green" if m > 0 else "tab:red" for m in means])
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(range(len(langs)), langs, fontsize="small")
        ax.set_ylabel("gain over last")
        ax.set_title(f"{TASK_NAMES.get(task, task)}: {best} (best aif layer on English dev) minus last, per seed pair")
    fig.tight_layout()
    path = PLOTS / "quality_gains.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-collect", action="store_true")
    args = parser.parse_args()
    rows = read_jsonl(SUMMARY) if args.no_collect else collect()
    tasks = [t for t in ("panx", "udpos", "pawsx", "xnli") if any(r["task"] == t for r in rows)]
    PLOTS.mkdir(parents=True, exist_ok=True)
    out = ["### Zero-shot average (non-English languages), mean ± std over seeds", ""]
    out += summary_table(rows, tasks)
    out += ["", f"![layers](../plots/{plot_layers(rows, tasks)})", "", f"![gains](../plots/{plot_gains(rows, tasks)})", ""]
    for task in tasks:
        out += task_tables(task, by(rows, task)) + [""]
    (RESULTS / "quality.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
