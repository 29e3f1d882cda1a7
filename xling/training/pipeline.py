"""Pipelines: intermediate-task stages, then the target task, on one model.

The encoder (and, unless a stage says ``carry_fusion: false``, the fusion
module) carries over from stage to stage; every task has its own head. Each
stage trains with :func:`xling.training.stage.train_tasks` (the one training loop) in
``OUTPUT/stages/{i}-{name}/``; a multi-task stage interleaves its tasks'
batches with :class:`xling.data.multitask.MultiTaskBatches`. The target is then
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
import shutil
from pathlib import Path
from typing import Any

from xling.config import save_yaml
from xling.data.multitask import MultiTaskBatches, task_probabilities
from xling.data.run_data import load_oracle_sets, load_targets, load_training
from xling.distributed import check_batch_split, is_main, main_context, on_main, process_device, start_processes
from xling.errors import ConfigError, MissingDataError
from xling.evaluation.evaluator import evaluate_targets
from xling.models import XlingModel, build_fusion
from xling.models.build import build_run_model, check_sequence_length, device_of, head_spec, load_tokenizer
from xling.reporting.results import Results, peak_rss_mb, run_results
from xling.training.loop import BEST_FILE, CHECKPOINT_DIR
from xling.training.pipeline_config import PipelineConfig, Stage, describe, stage_specs
from xling.training.rundir import finish_run, run_directory
from xling.training.stage import StageTask, stage_warnings, train_tasks
from xling.training.trackers import Tracking, check_trackers, start_tracking

log = logging.getLogger("xling")

PIPELINE_FILE = "pipeline.yaml"
STAGE_MARKER = "stage.json"
STATE_FILE = "state.safetensors"


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
              earlier: list[Stage], oracle_sets: dict | None = None,
              tracking: Tracking | None = None) -> dict[str, Any]:
    from accelerate.utils import set_seed

    if stage.index > 1:
        set_seed(cfg.train.seed + stage.index - 1)
        if not stage.carry_fusion:
            reset_fusion(model)
    on_main(lambda: (stage.directory.mkdir(parents=True, exist_ok=True),
                     save_yaml(stage.loop, stage.directory / "config.yaml")))
    parts = [StageTask(task, task_cfg, training) for task, task_cfg, training in zip(stage.tasks, stage.configs, data)]
    loop = stage.loop
    make_batches = None
    if len(parts) > 1:
        def make_batches(lengths: list[list[int]]) -> MultiTaskBatches:
            return MultiTaskBatches(lengths, loop.batch_size, seed=loop.seed, sampler=stage.sampler,
                                    temperature=stage.temperature, group=50 if loop.group_by_length else None)
    log.info("stage %d/%s: %s", stage.index, stage.name, " + ".join(p.training.train.describe() for p in parts))
    record = train_tasks(model, tokenizer, parts, loop, stage.directory, oracle_sets, make_batches, tracking)
    record = {"stage": stage.index, "name": stage.name, "target": stage.is_target, **record,
              "carry_fusion": stage.carry_fusion if stage.index > 1 else None, "config": loop.to_dict()}
    if len(parts) > 1:
        sizes = [t["features"] for t in record["tasks"]]
        record["sampler"] = {"name": stage.sampler, "temperature": stage.temperature,
                             "probabilities": task_probabilities(sizes, stage.sampler, stage.temperature).tolist()}
    on_main(lambda: finish_stage(stage, record, earlier))
    return record


def run_pipeline(cfg: PipelineConfig) -> Results:
    """``xling pipeline``: train every stage, score the target zero-shot, write ``results.json``."""
    shared = cfg.train
    shared.require("model", "output_dir")
    check_trackers(shared.report_to)
    if not cfg.target:
        raise ConfigError("a pipeline needs a target stage: target: {task: NAME} in the YAML file or --target NAME")
    stages = stage_specs(cfg, Path(shared.output_dir))
    for stage in stages:
        check_batch_split(stage.loop.batch_size)  # each stage's global batch splits across the processes
    start_processes()  # several processes: the main one holds the run directory and writes its files
    with main_context(lambda: run_directory(shared, PIPELINE_FILE, cfg.to_dict())) as out:  # locked; rundir.py
        return _run(cfg, stages, out)


def _run(cfg: PipelineConfig, stages: list[Stage], out: Path) -> Results:
    from accelerate.utils import set_seed

    shared = cfg.train
    on_main(lambda: save_yaml(cfg, out / PIPELINE_FILE))
    set_seed(shared.seed)
    tokenizer = load_tokenizer(shared.model)
    for stage in stages:
        for task_cfg in stage.configs:
            check_sequence_length(tokenizer, task_cfg.max_seq_length, shared.model)
    data = [[load_training(task, task_cfg) for task, task_cfg in zip(s.tasks, s.configs)] for s in stages]
    for stage, stage_data in zip(stages, data):
        for training in stage_data:
            training.stage = stage.index
    target = stages[-1]
    task, target_cfg, training = target.tasks[0], target.configs[0], data[-1][0]
    earlier = [use for stage_data in data for t in stage_data if t is not training for use in t.uses()]
    targets, notes, warnings = load_targets(task, target_cfg, training, used=earlier)
    if not targets:
        raise MissingDataError(f"no language of {task.name} has evaluation data; nothing to score")
    oracle_sets = load_oracle_sets(task, target_cfg, targets, training, warnings) \
        if target_cfg.oracle_selection else {}
    model = build_pipeline_model(stages).to(process_device())  # this process's own device, not GPU 0 for all
    records: list[dict[str, Any]] = []
    pending: Stage | None = None  # the last finished stage, whose state the model does not hold yet
    with start_tracking(shared, out, cfg.to_dict()) as tracking:
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
            tracking.stage(f"{stage.index}-{stage.name}", offset=sum(r["steps"] for r in records))
            records.append(run_stage(model, tokenizer, stage, stage_data, cfg, stages[:i],
                                     oracle_sets if stage.is_target else None, tracking))
        if pending is not None:
            load_stage_state(model, pending)
        rss_after_train = peak_rss_mb()
        scores, eval_timings = evaluate_targets(model, tokenizer, task, target_cfg, targets, notes, out / "predictions")
        final_cfg = target_cfg.replace(output_dir=str(out))  # model, fusion and seed are the pipeline's
        results = run_results(task, final_cfg, model, scores, training.train.lang, stages=records,
                              warnings=warnings + stage_warnings(records),
                              run_dir=str(out), config={**final_cfg.to_dict(), "intermediate": describe(stages)},
                              timings={**train_timings(records), **eval_timings, "peak_rss_mb_train": rss_after_train},
                              data=[use for stage_data in data for t in stage_data for use in
                                    (u.record() for u in t.uses())])
        on_main(lambda: (save_yaml(final_cfg.with_absolute_paths(), out / "config.yaml"),  # `evaluate --run` reads it
                         finish_run(model, tokenizer, shared, out, results)))
        tracking.finish(results, out / "results.json", step=sum(r["steps"] for r in records))
    if is_main():
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
