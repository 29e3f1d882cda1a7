"""Pipelines: intermediate-task stages, then the target task, on one model.

The encoder (and, unless a stage says ``carry_fusion: false``, the fusion
module) carries over from stage to stage; every task has its own head. Each
stage trains with :func:`xling.run.train_tasks` (the one training loop) in
``OUTPUT/stages/{i}-{name}/``; a multi-task stage interleaves its tasks'
batches with :class:`xling.multitask.MultiTaskBatches`. The target is then
scored zero-shot on all its languages and ``OUTPUT/results.json`` records
every stage.

Resuming: a finished stage leaves ``stage.json`` (its record; the marker) and
``state.safetensors`` (the whole selected model: encoder, fusion, every head,
norm statistics). A resumed pipeline skips finished stages, loads the last
one's state and continues; within a stage the loop's own checkpoints apply.
Stages after the first start with ``set_seed(seed + i - 1)``, so their
randomness (dropout, a re-initialised fusion module) does not depend on
whether the previous stage ran in the same process: a resumed pipeline ends
where an uninterrupted one would have.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xling.config import TrainConfig, _coerce, field_names, parse_bool, save_yaml
from xling.errors import ConfigError, MissingDataError
from xling.models import XlingModel, build_fusion
from xling.multitask import MultiTaskBatches, task_probabilities
from xling.results import Results, averages, environment
from xling.run import (StageTask, build_run_model, device_of, evaluate_targets, finish_run, gpu_memory, head_spec,
                       load_oracle_sets, load_targets, load_tokenizer, load_training, prepare_run_dir, resolve_config,
                       resolve_task, task_summary, train_tasks)
from xling.tasks.base import Task
from xling.train import BEST_FILE, CHECKPOINT_DIR, peak_rss_mb

log = logging.getLogger("xling")

PIPELINE_FILE = "pipeline.yaml"
STAGE_MARKER = "stage.json"
STATE_FILE = "state.safetensors"
STAGE_SETTINGS = ("task", "tasks", "name", "sampler", "temperature", "carry_fusion")
# Options only the pipeline as a whole can set (one model, one run directory, one seed).
TOP_LEVEL_ONLY = frozenset({"model", "output_dir", "resume", "overwrite", "quiet", "num_workers", "seed", "fusion",
                            "fusion_layer", "fusion_options", "freeze_embeddings", "mixed_precision", "save_model"})
# Options each task of a multi-task stage may set for itself (its data); the rest is the stage's.
TASK_OPTIONS = frozenset({"data_dir", "files", "source", "image_features", "train_language", "train_languages",
                          "train_split", "dev_split", "selection_holdout", "max_train_examples",
                          "max_selection_examples", "max_seq_length", "pooling", "dropout"})
STAGE_OPTIONS = sorted(set(field_names(TrainConfig)) - TOP_LEVEL_ONLY - {"task"})


@dataclass(frozen=True)
class PipelineConfig(TrainConfig):
    """Every :class:`TrainConfig` option (shared by all stages), the stages and the target.

    A stage is a task name or a mapping: ``task`` (or ``tasks: [..]`` for a
    multi-task stage, each a name or ``{task: NAME, <data options>}``), any
    TrainConfig option except those in :data:`TOP_LEVEL_ONLY`, and ``name``,
    ``sampler``, ``temperature``, ``carry_fusion``. Precedence: shared options <
    ``task_defaults[task]`` < the stage's options < a task entry's options.
    """

    stages: list = field(default_factory=list, metadata={"help": "intermediate stages, in order"})
    target: dict = field(default_factory=dict, metadata={"help": "the target stage: {task: NAME, options...}"})
    task_defaults: dict = field(default_factory=dict, metadata={
        "help": "options for a task wherever it appears, e.g. {panx: {data_dir: ../shared/data/wikiann}}"})
    sampler: str = field(default="proportional", metadata={
        "help": "task sampler of multi-task stages: proportional (p ~ n), temperature (p ~ n^(1/T)), uniform"})
    temperature: float = field(default=2.0, metadata={"help": "T of the temperature sampler"})
    carry_fusion: bool = field(default=True, metadata={
        "help": "later stages start from the previous stage's fusion module (false: re-initialise it)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task:
            raise ConfigError("a pipeline has no top-level task: name the target with target: {task: NAME} "
                              "(--target) and intermediate stages with stages (--intermediate)")
        task_probabilities([1], self.sampler, self.temperature)  # validates both
        for entry in [*self.stages, *([self.target] if self.target else [])]:
            parse_entry(entry)
        for name, options in self.task_defaults.items():
            if not isinstance(options, dict):
                raise ConfigError(f"task_defaults.{name} must be a mapping of option: value")
            _check_keys(options, STAGE_OPTIONS, f"task_defaults.{name}")


def _check_keys(options: dict[str, Any], allowed: Any, where: str) -> None:
    import difflib

    for key in options:
        if key not in allowed:
            hint = difflib.get_close_matches(key, list(allowed), n=3)
            only = " (it can only be set for the whole pipeline)" if key in TOP_LEVEL_ONLY else ""
            raise ConfigError(f"unknown option {key!r} in {where}{only}."
                              + (f" Did you mean {', '.join(hint)}?" if hint else ""))


def parse_entry(raw: Any) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any], dict[str, Any]]:
    """A stage entry -> ([(task, its own options)], stage options, stage settings)."""
    if isinstance(raw, str):
        return [(raw, {})], {}, {}
    if not isinstance(raw, dict):
        raise ConfigError(f"a stage is a task name or a mapping, got {raw!r}")
    where = f"stage {raw.get('name') or raw.get('task') or raw.get('tasks')}"
    _check_keys(raw, [*STAGE_OPTIONS, *STAGE_SETTINGS], where)
    if ("task" in raw) == ("tasks" in raw):
        raise ConfigError(f"{where}: give either task: NAME or tasks: [NAME, ...]")
    tasks: list[tuple[str, dict[str, Any]]] = []
    for item in [raw["task"]] if "task" in raw else list(raw["tasks"]):
        if isinstance(item, str):
            tasks.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("task"), str):
            options = {k: v for k, v in item.items() if k != "task"}
            _check_keys(options, TASK_OPTIONS, f"{where}, task {item['task']}")
            tasks.append((item["task"], options))
        else:
            raise ConfigError(f"{where}: a task entry is a name or {{task: NAME, <data options>}}, got {item!r}")
    if not tasks or len({name for name, _ in tasks}) != len(tasks):
        raise ConfigError(f"{where}: a stage needs one or more distinct tasks")
    options = {k: v for k, v in raw.items() if k not in STAGE_SETTINGS}
    settings = {k: raw[k] for k in ("name", "sampler", "temperature", "carry_fusion") if k in raw}
    return tasks, options, settings


@dataclass(frozen=True)
class Stage:
    """One resolved stage: its tasks with their configs, the loop's config and the sampler."""

    index: int  # 1-based
    name: str
    directory: Path
    tasks: tuple[Task, ...]
    configs: tuple[TrainConfig, ...]  # per task (data options may differ)
    loop: TrainConfig  # the training loop's options
    sampler: str
    temperature: float
    carry_fusion: bool
    is_target: bool
    explicit: dict = field(default_factory=dict)  # options this stage sets (for the description)


def stage_specs(cfg: PipelineConfig, out: Path) -> list[Stage]:
    """Resolve every stage's configs (task defaults filled in); the target is the last."""
    base = {name: getattr(cfg, name) for name in field_names(TrainConfig)}
    entries = [*cfg.stages, cfg.target]
    stages = []
    for index, raw in enumerate(entries, start=1):
        tasks, options, settings = parse_entry(raw)
        is_target = index == len(entries)
        if is_target and len(tasks) > 1:
            raise ConfigError("the target stage has one task")
        name = str(settings.get("name") or "+".join(t for t, _ in tasks))
        directory = out / "stages" / f"{index}-{re.sub(r'[^A-Za-z0-9_.+-]', '_', name)}"
        multi = len(tasks) > 1
        configs, resolved = [], []
        explicit = {k: _coerce(TrainConfig, k, v) for k, v in options.items()}
        for task_name, own in tasks:
            defaults = dict(cfg.task_defaults.get(task_name, {}))
            if multi:  # in a multi-task stage the optimisation options are the stage's
                defaults = {k: v for k, v in defaults.items() if k in TASK_OPTIONS}
            chosen = {k: _coerce(TrainConfig, k, v) for k, v in {**defaults, **options, **own}.items()}
            if multi:
                explicit.update({f"{task_name}.{k}": chosen[k] for k in {**defaults, **own}})
            else:
                explicit.update(chosen)
            values = {**base, **chosen, "task": task_name, "output_dir": str(directory)}
            task_cfg = TrainConfig(**values)
            task = resolve_task(task_cfg)
            resolved.append(task)
            configs.append(resolve_config(task_cfg, task))
        epochs = max(c.epochs for c in configs)  # a multi-task stage without epochs: its tasks' largest default
        configs = [c.replace(epochs=epochs) for c in configs]
        loop = configs[0].replace(task="+".join(t for t, _ in tasks))
        stages.append(Stage(
            index, name, directory, tuple(resolved), tuple(configs), loop,
            sampler=str(settings.get("sampler", cfg.sampler)),
            temperature=float(settings.get("temperature", cfg.temperature)),
            carry_fusion=parse_bool(settings.get("carry_fusion", cfg.carry_fusion)),
            is_target=is_target, explicit=explicit,
        ))
        task_probabilities([1] * len(tasks), stages[-1].sampler, stages[-1].temperature)
    return stages


def describe(stages: list[Stage]) -> str:
    """``sick > panx+udpos[de,en]{epochs=1}``: the intermediate stages, for results.config and reports.

    The target (the last stage) adds ``; target fusion re-initialised`` when it does not carry the fusion module.
    """
    from xling.report import NOT_EXPERIMENT

    *intermediate, target = stages
    parts = []
    for stage in intermediate:
        text = "+".join(t.name for t in stage.tasks)
        languages = sorted({lang for c in stage.configs for lang in c.train_languages})
        if languages:
            text += f"[{','.join(languages)}]"
        options = {k: v for k, v in stage.explicit.items()
                   if k.split(".")[-1] not in NOT_EXPERIMENT | {"train_languages"}}
        if len(stage.tasks) > 1:
            options["sampler"] = stage.sampler + (f"(T={stage.temperature:g})" if stage.sampler == "temperature" else "")
        if not stage.carry_fusion and stage.index > 1:
            options["carry_fusion"] = False
        if options:
            text += "{" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in sorted(options.items())) + "}"
        parts.append(text)
    fresh = "; target fusion re-initialised" if intermediate and not target.carry_fusion else ""
    return (" > ".join(parts) or "none") + fresh


def build_pipeline_model(stages: list[Stage]) -> XlingModel:
    """The model for the first task, then a head for every other task (a task's head is shared across stages)."""
    model = build_run_model(stages[0].tasks[0], stages[0].configs[0])
    for stage in stages:
        for task, task_cfg in zip(stage.tasks, stage.configs):
            if task.name not in model.heads:
                model.add_head(task.name, head_spec(task, task_cfg))
    return model


def reset_fusion(model: XlingModel) -> None:
    """A freshly initialised fusion module of the same kind (``carry_fusion: false``)."""
    spec = model.spec
    fresh = build_fusion(spec.fusion, model.encoder.hidden_size, model.encoder.num_layers, spec.fusion_layer,
                         **dict(spec.fusion_options))
    model.fusion = fresh.to(device_of(model))


def load_stage_state(model: XlingModel, stage: Stage) -> None:
    from safetensors.torch import load_file

    path = stage.directory / STATE_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing, so the pipeline cannot continue after stage {stage.index}; "
                          "start again with --overwrite")
    result = model.load_state_dict(load_file(str(path)), strict=False)
    if result.unexpected_keys:
        raise ConfigError(f"{path} does not fit the model: unexpected {result.unexpected_keys[:5]}")


def finish_stage(stage: Stage, record: dict[str, Any], earlier: list[Stage]) -> None:
    """Keep the selected model as the stage's state, write the marker, drop what is no longer needed."""
    best, state = stage.directory / BEST_FILE, stage.directory / STATE_FILE
    if not best.is_file():
        raise RuntimeError(f"{best} is missing after training stage {stage.index}")
    state.unlink(missing_ok=True)
    try:
        os.link(best, state)
    except OSError:
        shutil.copyfile(best, state)
    marker = stage.directory / STAGE_MARKER
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(marker)
    best.unlink()
    shutil.rmtree(stage.directory / CHECKPOINT_DIR, ignore_errors=True)
    for previous in earlier:
        (previous.directory / STATE_FILE).unlink(missing_ok=True)


def run_stage(model: XlingModel, tokenizer: Any, stage: Stage, data: list, cfg: PipelineConfig,
              earlier: list[Stage], oracle_sets: dict | None = None) -> dict[str, Any]:
    from accelerate.utils import set_seed

    if stage.index > 1:
        set_seed(cfg.seed + stage.index - 1)
        if not stage.carry_fusion:
            reset_fusion(model)
    stage.directory.mkdir(parents=True, exist_ok=True)
    save_yaml(stage.loop, stage.directory / "config.yaml")
    parts = [StageTask(task, task_cfg, training) for task, task_cfg, training in zip(stage.tasks, stage.configs, data)]
    loop = stage.loop
    make_batches = None
    if len(parts) > 1:
        def make_batches(lengths: list[list[int]]) -> MultiTaskBatches:
            return MultiTaskBatches(lengths, loop.batch_size, seed=loop.seed, sampler=stage.sampler,
                                    temperature=stage.temperature, group=50 if loop.group_by_length else None)
    log.info("stage %d/%s: %s", stage.index, stage.name, " + ".join(p.training.train.describe() for p in parts))
    record = train_tasks(model, tokenizer, parts, loop, stage.directory, oracle_sets, make_batches)
    record = {"stage": stage.index, "name": stage.name, "target": stage.is_target, **record,
              "carry_fusion": stage.carry_fusion if stage.index > 1 else None, "config": loop.to_dict()}
    if len(parts) > 1:
        sizes = [t["features"] for t in record["tasks"]]
        record["sampler"] = {"name": stage.sampler, "temperature": stage.temperature,
                             "probabilities": task_probabilities(sizes, stage.sampler, stage.temperature).tolist()}
    finish_stage(stage, record, earlier)
    return record


def run_pipeline(cfg: PipelineConfig) -> Results:
    """``xling pipeline``: train every stage, score the target zero-shot, write ``results.json``."""
    from accelerate.utils import set_seed

    cfg.require("model", "output_dir")
    if not cfg.target:
        raise ConfigError("a pipeline needs a target stage: target: {task: NAME} in the YAML file or --target NAME")
    stages = stage_specs(cfg, Path(cfg.output_dir))
    out = prepare_run_dir(cfg, PIPELINE_FILE)
    save_yaml(cfg, out / PIPELINE_FILE)
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    data = [[load_training(task, task_cfg) for task, task_cfg in zip(s.tasks, s.configs)] for s in stages]
    target = stages[-1]
    task, target_cfg, training = target.tasks[0], target.configs[0], data[-1][0]
    targets, notes, warnings = load_targets(task, target_cfg, training)
    if not targets:
        raise MissingDataError(f"no language of {task.name} has evaluation data; nothing to score")
    oracle_sets = load_oracle_sets(task, target_cfg, targets) if target_cfg.oracle_selection else {}
    model = build_pipeline_model(stages)
    if torch.cuda.is_available():
        model.to("cuda")
    records: list[dict[str, Any]] = []
    pending: Stage | None = None  # the last finished stage, whose state the model does not hold yet
    for i, (stage, stage_data) in enumerate(zip(stages, data)):
        marker = stage.directory / STAGE_MARKER
        if marker.is_file():
            records.append(json.loads(marker.read_text(encoding="utf-8")))
            log.info("stage %d/%s finished earlier; skipped", stage.index, stage.name)
            pending = stage
            continue
        if pending is not None:
            load_stage_state(model, pending)
            pending = None
        records.append(run_stage(model, tokenizer, stage, stage_data, cfg, stages[:i],
                                 oracle_sets if stage.is_target else None))
    if pending is not None:
        load_stage_state(model, pending)
    rss_after_train = peak_rss_mb()
    scores, eval_timings = evaluate_targets(model, tokenizer, task, target_cfg, targets, notes, out / "predictions")
    final_cfg = target_cfg.replace(output_dir=str(out))
    results = Results(
        task=task_summary(task), model={"name_or_path": cfg.model, **model.encoder.describe()},
        fusion={"method": cfg.fusion, "layer": cfg.fusion_layer, "options": dict(cfg.fusion_options)},
        seed=cfg.seed, config={**final_cfg.to_dict(), "intermediate": describe(stages)},
        languages=scores, averages=averages(scores, training.train.lang), stages=records,
        environment=environment(),
        timings={**train_timings(records), **eval_timings, "peak_rss_mb_train": rss_after_train,
                 "peak_rss_mb": peak_rss_mb(), **gpu_memory()},
        warnings=warnings, run_dir=str(out),
    )
    save_yaml(final_cfg, out / "config.yaml")  # the target's resolved config: `xling evaluate --run` reads it
    finish_run(model, tokenizer, cfg, out, results)
    for stage in stages:
        (stage.directory / STATE_FILE).unlink(missing_ok=True)
    return results


def train_timings(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Training totals over all stages."""
    seconds = sum(r["timings"]["train_seconds"] for r in records)
    tokens = sum(r["timings"]["train_tokens"] for r in records)
    examples = sum(r["timings"]["train_examples"] for r in records)
    return {"train_seconds": seconds, "train_tokens": tokens, "train_examples": examples,
            "train_tokens_per_second": tokens / seconds if seconds else None,
            "train_examples_per_second": examples / seconds if seconds else None,
            "stage_train_seconds": [r["timings"]["train_seconds"] for r in records]}
