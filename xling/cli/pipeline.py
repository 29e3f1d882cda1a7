"""``xling pipeline``: intermediate-task stages, then the target task, evaluated zero-shot."""

from __future__ import annotations

import argparse
from typing import Any

PIPELINE_SKIP = ("task", "stages", "target", "task_defaults")


def add_pipeline_arguments(parser: argparse.ArgumentParser, intermediate: bool = True) -> None:
    """The YAML file, --target, task options and every TrainConfig flag; with ``intermediate``, --intermediate."""
    from xling.config import add_config_arguments
    from xling.training.pipeline_config import PipelineConfig

    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of options (stages, target, shared options)")
    if intermediate:
        parser.add_argument("--intermediate", metavar="T1[+T2],T3",
                            help="intermediate stages in order, comma-separated; tasks joined by + share a "
                                 "multi-task stage (replaces the YAML file's stages; '' for none)")
    parser.add_argument("--target", dest="target_task", metavar="TASK",
                        help="target task (replaces the YAML file's target)")
    parser.add_argument("--task-option", action="append", default=[], metavar="TASK:KEY=VALUE",
                        help="an option for TASK wherever it appears, e.g. panx:data_dir=../shared/data/wikiann "
                             "or pawsx:train_split=dev (repeatable; adds to the YAML file's task_defaults)")
    add_config_arguments(parser, PipelineConfig, skip=PIPELINE_SKIP)


def parse_task_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``panx:data_dir=DIR`` (repeatable) -> {panx: {data_dir: DIR}}."""
    from xling.config import parse_scalar
    from xling.errors import ConfigError

    result: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        task, colon, key = target.partition(":")
        if not sep or not colon or not task or not key:
            raise ConfigError(f"--task-option expects TASK:KEY=VALUE, got {item!r}")
        result.setdefault(task.strip(), {})[key.strip().replace("-", "_")] = parse_scalar(value)
    return result


def parse_intermediate(text: str) -> list[Any]:
    """``sick+panx,udpos`` -> [{tasks: [sick, panx]}, udpos]."""
    stages: list[Any] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        names = [n.strip() for n in part.split("+") if n.strip()]
        stages.append(names[0] if len(names) == 1 else {"tasks": names})
    return stages


def pipeline_config(args: argparse.Namespace, **extra: Any):
    """The PipelineConfig from the YAML file, the flags and the short form."""
    from xling.config import make_config, overrides_from_args
    from xling.training.pipeline_config import PipelineConfig

    overrides = overrides_from_args(args, PipelineConfig)  # the skipped fields have no flags
    if getattr(args, "intermediate", None) is not None:
        overrides["stages"] = parse_intermediate(args.intermediate)
    if getattr(args, "target_task", None):
        overrides["target"] = {"task": args.target_task}
    cfg = make_config(PipelineConfig, args.config, {**overrides, **extra})
    flags = parse_task_options(args.task_option)
    if flags:
        merged = {task: dict(options) for task, options in cfg.task_defaults.items()}
        for task, options in flags.items():
            merged.setdefault(task, {}).update(options)
        cfg = cfg.replace(task_defaults=merged)
    return cfg


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "pipeline", help="intermediate-task training stages, then the target task, evaluated zero-shot",
        description="Stages come from the YAML file (stages:, target:) or the short form "
                    "(--intermediate sick,panx --target pawsx); shared options are flags or top-level YAML keys. "
                    "See docs/pipelines.md.",
    )
    add_pipeline_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.cli._common import setup_logging
    from xling.distributed import is_main
    from xling.reporting.tables import render
    from xling.training.pipeline import run_pipeline

    cfg = pipeline_config(args)
    setup_logging(cfg.train.quiet)
    results = run_pipeline(cfg)
    if not is_main():  # several processes: the first one prints
        return 0
    print(f"pipeline: {results.config['intermediate']} > {results.task['name']}")
    for stage in results.stages:
        selection = stage["selection"]
        print(f"  stage {stage['stage']} {stage['name']}: {stage['steps']} steps, selection "
              f"{selection['metric']} = {selection['best_score']:.2f} at step {selection['best_step']}")
    print(render([results]))
    print(f"results: {results.run_dir}/results.json")
    return 0
