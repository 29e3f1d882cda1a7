"""Study runners: many pipelines, one table.

- **diversity**: 0, 1, ..., N intermediate tasks drawn from a pool (all subsets
  of each size, or a seeded sample of them), each followed by the same target,
  over several seeds; a table and a plot of the target score against the number
  of intermediate tasks (mean ± std over subsets and seeds).
- **multilingual**: one intermediate task trained on English only and on a list
  of languages, each followed by the same target; a per-language table of both
  and of their difference (mean ± std over seeds of the per-seed difference).

Every run is an ordinary pipeline in ``OUTPUT/runs/{name}/``; running the same
study again skips finished runs and resumes unfinished ones, so a study can be
stopped and continued, or extended with more seeds. Tables are built from the
runs' ``results.json`` files only.
"""

from __future__ import annotations

import csv
import itertools
import logging
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.config import load_yaml
from xling.errors import ConfigError
from xling.reporting.results import RESULTS_FILE, Results
from xling.reporting.tables import format_cell
from xling.training.pipeline import PIPELINE_FILE, run_pipeline
from xling.training.pipeline_config import PipelineConfig
from xling.config import RESUME_FREE

log = logging.getLogger("xling")
AVERAGES = {"avg": "all", "avg zero-shot": "zero_shot"}


@dataclass
class PlannedRun:
    """One pipeline of a study and what the tables group it by."""

    name: str
    cfg: PipelineConfig
    info: dict[str, Any] = field(default_factory=dict)


def _entry_name(entry: Any) -> str:
    return entry if isinstance(entry, str) else str(entry["task"])


def plan_diversity(base: PipelineConfig, pool: Sequence[Any], sizes: Sequence[int], seeds: Sequence[int],
                   subsets: int | None = None, subset_seed: int = 0, mode: str = "multitask") -> list[PlannedRun]:
    """Pipelines with k intermediate tasks from ``pool`` for each k in ``sizes``.

    ``subsets``: how many subsets per size (None: all of them; otherwise a
    sample seeded by ``subset_seed`` and k). ``mode``: ``multitask`` puts a
    subset in one multi-task stage, ``sequential`` gives each task its own
    stage, in pool order.
    """
    base.train.require("model", "output_dir")
    if mode not in ("multitask", "sequential"):
        raise ConfigError(f"mode must be multitask or sequential, got {mode!r}")
    if base.stages:
        raise ConfigError("the diversity study builds the intermediate stages itself; remove stages from the config")
    names = [_entry_name(e) for e in pool]
    if len(set(names)) != len(names) or not names:
        raise ConfigError(f"the pool needs one or more distinct tasks, got {names}")
    for k in sizes:
        if not 0 <= k <= len(pool):
            raise ConfigError(f"size {k} is outside 0..{len(pool)} (the pool has {len(pool)} tasks)")
    runs = []
    for k in sorted(set(sizes)):
        combos = list(itertools.combinations(range(len(pool)), k))
        if subsets is not None and subsets < len(combos):
            combos = sorted(random.Random(subset_seed * 1000 + k).sample(combos, subsets))
        for combo in combos:
            chosen = [pool[i] for i in combo]
            if mode == "multitask" and k > 1:
                stages: list[Any] = [{"tasks": chosen}]
            else:
                stages = list(chosen)
            subset = "+".join(names[i] for i in combo) or "none"
            for seed in seeds:
                name = f"k{k}-{subset}-seed{seed}"
                cfg = base.replace(stages=stages, seed=seed, output_dir=str(Path(base.train.output_dir) / "runs" / name))
                runs.append(PlannedRun(name, cfg, {"size": k, "subset": subset, "seed": seed}))
    return runs


def plan_multilingual(base: PipelineConfig, intermediate: Any, languages: Sequence[str], seeds: Sequence[int],
                      english: str = "en") -> list[PlannedRun]:
    """The same intermediate task trained on ``[english]`` and on ``languages``, before the target."""
    base.train.require("model", "output_dir")
    if base.stages:
        raise ConfigError("the multilingual study builds the intermediate stage itself; remove stages from the config")
    if list(languages) == [english] or not languages:
        raise ConfigError(f"the multilingual variant needs languages other than {english}, got {list(languages)}")
    entry = {"task": intermediate} if isinstance(intermediate, str) else dict(intermediate)
    runs = []
    for variant, langs in (("english", [english]), ("multilingual", list(languages))):
        for seed in seeds:
            name = f"{variant}-seed{seed}"
            cfg = base.replace(stages=[{**entry, "train_languages": langs}], seed=seed,
                               output_dir=str(Path(base.train.output_dir) / "runs" / name))
            runs.append(PlannedRun(name, cfg, {"variant": variant, "languages": ",".join(langs), "seed": seed}))
    return runs


def execute(runs: Sequence[PlannedRun]) -> list[Results]:
    """Run every pipeline; finished ones are read back, unfinished ones resumed (unless ``overwrite``)."""
    results = []
    for number, run in enumerate(runs, start=1):
        out = Path(run.cfg.train.output_dir)
        if (out / RESULTS_FILE).is_file() and not run.cfg.train.overwrite:
            _check_same(run, out)
            log.info("run %d/%d %s: finished earlier", number, len(runs), run.name)
            results.append(Results.load(out))
            continue
        log.info("run %d/%d %s", number, len(runs), run.name)
        resume = (out / "stages").exists() and not run.cfg.train.overwrite
        results.append(run_pipeline(run.cfg.replace(resume=resume)))
    return results


def _check_same(run: PlannedRun, out: Path) -> None:
    """A finished run is reused only if it was run with the planned configuration."""
    saved_file = out / PIPELINE_FILE
    if not saved_file.is_file():
        raise ConfigError(f"{out} holds results but no {PIPELINE_FILE}; it is not a run of this study")
    saved, current = load_yaml(saved_file), run.cfg.to_dict()
    changed = sorted(k for k in current if k not in RESUME_FREE and saved.get(k) != current[k])
    if changed:
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed[:3])
        raise ConfigError(f"{out} was run with another configuration ({detail}); use another --output-dir "
                          "for this study, or --overwrite to run it again")


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _score(result: Results, row: str) -> float | None:
    if row in AVERAGES:
        return result.averages.get(AVERAGES[row])
    return result.score(row)


def _languages(results: Sequence[Results]) -> list[str]:
    return list(dict.fromkeys(lang for r in results for lang in r.languages))


def write_runs_csv(runs: Sequence[PlannedRun], results: Sequence[Results], path: Path) -> Path:
    """One row per run: what it was, its averages and every language's primary score."""
    languages = _languages(results)
    keys = list(dict.fromkeys(k for run in runs for k in run.info))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", *keys, "task", "metric", *AVERAGES, *languages])
        for run, result in zip(runs, results):
            writer.writerow([run.name, *(run.info.get(k) for k in keys), result.task["name"], result.primary_metric,
                             *(_score(result, row) for row in AVERAGES), *(result.score(lang) for lang in languages)])
    return path


def diversity_table(runs: Sequence[PlannedRun], results: Sequence[Results], digits: int = 1) -> str:
    """Markdown: the target's averages by number of intermediate tasks, then by subset."""
    by_size: dict[int, list[Results]] = {}
    by_subset: dict[tuple[int, str], list[Results]] = {}
    for run, result in zip(runs, results):
        by_size.setdefault(run.info["size"], []).append(result)
        by_subset.setdefault((run.info["size"], run.info["subset"]), []).append(result)
    task, metric = results[0].task["name"], results[0].primary_metric
    baseline = [r.averages["zero_shot"] for r in by_size.get(0, []) if r.averages.get("zero_shot") is not None]
    rows = []
    for size in sorted(by_size):
        group = by_size[size]
        zero = [r.averages["zero_shot"] for r in group if r.averages.get("zero_shot") is not None]
        subsets = len({s for k, s in by_subset if k == size})
        delta = (f"{statistics.fmean(zero) - statistics.fmean(baseline):+.{digits}f}"
                 if baseline and zero and size else "–")
        rows.append([str(size), str(subsets), str(len(group)), format_cell(zero, digits),
                     format_cell([r.averages["all"] for r in group if r.averages.get("all") is not None], digits), delta])
    lines = [f"### {task}: target score by number of intermediate tasks ({metric}; mean ± std over subsets and seeds)",
             "", *_markdown(["intermediate tasks", "subsets", "runs", "avg zero-shot", "avg", "Δ zero-shot vs 0"], rows),
             "", "#### by subset (mean ± std over seeds)", ""]
    subset_rows = [[str(k), subset, str(len(group)), format_cell([r.averages["zero_shot"] for r in group
                                                                  if r.averages.get("zero_shot") is not None], digits)]
                   for (k, subset), group in sorted(by_subset.items())]
    lines += _markdown(["k", "intermediate tasks", "runs", "avg zero-shot"], subset_rows)
    return "\n".join(lines) + "\n"


def diversity_plot(runs: Sequence[PlannedRun], results: Sequence[Results], path: Path) -> Path:
    """Target zero-shot average against the number of intermediate tasks: every run, and mean ± std."""
    from xling.extras import pyplot

    plt = pyplot("the diversity plot")
    points = [(run.info["size"], r.averages["zero_shot"]) for run, r in zip(runs, results)
              if r.averages.get("zero_shot") is not None]
    sizes = sorted({k for k, _ in points})
    fig, ax = plt.subplots(figsize=(5.5, 4))
    jitter = random.Random(0)
    ax.scatter([k + jitter.uniform(-0.08, 0.08) for k, _ in points], [v for _, v in points], s=12, alpha=0.4,
               label="runs")
    means = [statistics.fmean(v for k, v in points if k == size) for size in sizes]
    stds = [statistics.stdev([v for k, v in points if k == size]) if sum(k == size for k, _ in points) > 1 else 0.0
            for size in sizes]
    ax.errorbar(sizes, means, yerr=stds, marker="o", capsize=3, label="mean ± std")
    ax.set_xticks(sizes)
    ax.set_xlabel("number of intermediate tasks")
    ax.set_ylabel(f"{results[0].task['name']} avg zero-shot {results[0].primary_metric}")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def multilingual_table(runs: Sequence[PlannedRun], results: Sequence[Results], digits: int = 1) -> str:
    """Markdown: per target language, English-only vs multilingual intermediate data and their difference."""
    variants: dict[str, dict[int, Results]] = {"english": {}, "multilingual": {}}
    for run, result in zip(runs, results):
        variants[run.info["variant"]][run.info["seed"]] = result
    english, multi = variants["english"], variants["multilingual"]
    paired = sorted(set(english) & set(multi))
    languages = [run.info["languages"] for run in runs if run.info["variant"] == "multilingual"][:1]
    rows = []
    for row in [*_languages(results), *AVERAGES]:
        a = [v for v in (_score(r, row) for r in english.values()) if v is not None]
        b = [v for v in (_score(r, row) for r in multi.values()) if v is not None]
        diffs = [_score(multi[s], row) - _score(english[s], row) for s in paired
                 if _score(multi[s], row) is not None and _score(english[s], row) is not None]
        rows.append([row, format_cell(a, digits), format_cell(b, digits),
                     format_cell(diffs, digits) if diffs else "–"])
    task, metric = results[0].task["name"], results[0].primary_metric
    intermediate = runs[0].cfg.stages[0]["task"]
    lines = [f"### {task} after {intermediate}: English-only vs multilingual ({languages[0] if languages else ''}) "
             f"intermediate data ({metric}; mean ± std over seeds; Δ = multilingual − English, paired by seed, "
             f"{len(paired)} seed(s))", "",
             *_markdown(["language", "English-only", "multilingual", "Δ"], rows)]
    return "\n".join(lines) + "\n"


@dataclass
class StudyOutput:
    """What a study wrote."""

    table: str
    files: list[Path]
    results: list[Results]


def run_diversity(base: PipelineConfig, pool: Sequence[Any], sizes: Sequence[int], seeds: Sequence[int],
                  subsets: int | None = None, subset_seed: int = 0, mode: str = "multitask") -> StudyOutput:
    """Plan, run (or read back) and tabulate a diversity study in ``base.output_dir``."""
    runs = plan_diversity(base, pool, sizes, seeds, subsets, subset_seed, mode)
    results = execute(runs)
    out = Path(base.train.output_dir)
    table = diversity_table(runs, results)
    (out / "diversity.md").write_text(table, encoding="utf-8")
    files = [out / "diversity.md", write_runs_csv(runs, results, out / "diversity.csv"),
             diversity_plot(runs, results, out / "diversity.png")]
    return StudyOutput(table, files, results)


def run_multilingual(base: PipelineConfig, intermediate: Any, languages: Sequence[str], seeds: Sequence[int],
                     english: str = "en") -> StudyOutput:
    """Plan, run (or read back) and tabulate an English-vs-multilingual study in ``base.output_dir``."""
    runs = plan_multilingual(base, intermediate, languages, seeds, english)
    results = execute(runs)
    out = Path(base.train.output_dir)
    table = multilingual_table(runs, results)
    (out / "multilingual.md").write_text(table, encoding="utf-8")
    return StudyOutput(table, [out / "multilingual.md", write_runs_csv(runs, results, out / "multilingual.csv")],
                       results)
