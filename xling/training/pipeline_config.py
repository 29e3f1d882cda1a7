"""A pipeline's configuration: the shared options, the stages and the target, resolved stage by stage.

:class:`PipelineConfig` holds the options every stage shares as a :class:`~xling.config.TrainConfig`
(its ``train`` field) beside the pipeline's own; :func:`stage_specs` resolves each stage's per-task
configs and :func:`describe` names the intermediate stages for results and reports.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.config import TrainConfig, _coerce, build_config, field_names, parse_bool
from xling.data.multitask import task_probabilities
from xling.data.run_data import resolve_task
from xling.errors import ConfigError
from xling.reporting.tables import NOT_EXPERIMENT
from xling.tasks.task import Task

STAGE_SETTINGS = ("task", "tasks", "name", "sampler", "temperature", "carry_fusion")
# Options only the pipeline as a whole can set (one model, one run directory, one seed).
TOP_LEVEL_ONLY = frozenset({"model", "output_dir", "resume", "overwrite", "quiet", "num_workers", "seed", "fusion",
                            "fusion_layer", "fusion_options", "freeze_embeddings", "mixed_precision", "save_model",
                            "include_tasks", "report_to", "logging_steps"})
# Options each task of a multi-task stage may set for itself (its data); the rest is the stage's.
TASK_OPTIONS = frozenset({"data_dir", "files", "source", "image_features", "train_language", "train_languages",
                          "train_split", "dev_split", "selection_holdout", "parallel_holdout", "max_train_examples",
                          "max_selection_examples", "max_seq_length", "pooling", "dropout"})
STAGE_OPTIONS = sorted(set(field_names(TrainConfig)) - TOP_LEVEL_ONLY - {"task"})


@dataclass(frozen=True)
class PipelineConfig:
    """The options every stage shares (a :class:`TrainConfig` without a task), the stages and the target.

    In YAML and on the command line the shared options are flat keys and flags, beside the pipeline's
    own (``stages``, ``target``, ``task_defaults``, ``sampler``, ``temperature``, ``carry_fusion``).
    A stage is a task name or a mapping: ``task`` (or ``tasks: [..]`` for a multi-task stage, each a
    name or ``{task: NAME, <data options>}``), any TrainConfig option except those in
    :data:`TOP_LEVEL_ONLY`, and ``name``, ``sampler``, ``temperature``, ``carry_fusion``. Precedence:
    shared options < ``task_defaults[task]`` < the stage's options < a task entry's options.
    """

    train: TrainConfig = field(default_factory=TrainConfig)
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
        if self.train.task:
            raise ConfigError("a pipeline has no top-level task: name the target with target: {task: NAME} "
                              "(--target) and intermediate stages with stages (--intermediate)")
        task_probabilities([1], self.sampler, self.temperature)  # validates both
        for entry in [*self.stages, *([self.target] if self.target else [])]:
            parse_entry(entry)
        for name, options in self.task_defaults.items():
            if not isinstance(options, dict):
                raise ConfigError(f"task_defaults.{name} must be a mapping of option: value")
            _check_keys(options, STAGE_OPTIONS, f"task_defaults.{name}")

    @classmethod
    def of(cls, **options: Any) -> "PipelineConfig":
        """From flat options, as in a YAML file: ``PipelineConfig.of(model=..., stages=[...], target=...)``."""
        return build_config(cls, options)

    def replace(self, **changes: Any) -> "PipelineConfig":
        own = {k: v for k, v in changes.items() if k in OWN_OPTIONS}
        shared = {k: v for k, v in changes.items() if k not in OWN_OPTIONS}
        return dataclasses.replace(self, train=self.train.replace(**shared) if shared else self.train, **own)

    def to_dict(self) -> dict[str, Any]:
        """The flat options (shared ones first), as ``pipeline.yaml`` stores them."""
        return {**self.train.to_dict(), **{name: copy.deepcopy(getattr(self, name)) for name in OWN_OPTIONS}}


OWN_OPTIONS = ("stages", "target", "task_defaults", "sampler", "temperature", "carry_fusion")


def _check_keys(options: dict[str, Any], allowed: Any, where: str) -> None:
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
    base = {name: getattr(cfg.train, name) for name in field_names(TrainConfig)}
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
            configs.append(task_cfg.with_task_defaults(task))
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
