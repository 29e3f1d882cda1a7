"""One training stage: one or several tasks through the one loop, selected on their selection sets.

:func:`train_tasks` featurizes each task with its kind, batches them (length-grouped, or a multi-task
sampler), runs :func:`xling.training.loop.train_loop` with a selection hook that scores the selection
set(s) and, for the record only, target-language dev sets (the oracle), and returns the stage's record
for ``results.json``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.config import TrainConfig
from xling.data.examples import SplitData
from xling.data.features import LengthGroupedBatches, feature_length
from xling.data.run_data import TrainingData
from xling.errors import ConfigError
from xling.evaluation.evaluator import eval_token_budget, evaluate_split
from xling.kinds import collator_for, get_kind
from xling.models import XlingModel
from xling.models.build import device_of, resolve_mixed_precision
from xling.reporting.results import LanguageScore
from xling.tasks.task import Task
from xling.training.loop import Hooks, LoopState, count_steps, train_loop
from xling.training.trackers import Tracking

log = logging.getLogger("xling")


def train_stage(model: XlingModel, tokenizer: Any, task: Task, cfg: TrainConfig, run_dir: Path,
                training: TrainingData, oracle_sets: dict[str, SplitData] | None = None,
                tracking: Tracking | None = None) -> dict[str, Any]:
    """Train one task with English-dev selection; returns the stage record for results.json."""
    return train_tasks(model, tokenizer, [StageTask(task, cfg, training)], cfg, run_dir, oracle_sets,
                       tracking=tracking)


@dataclass
class StageTask:
    """One task of a training stage: its declaration, its own config (data options) and its data."""

    task: Task
    cfg: TrainConfig
    training: TrainingData


def train_tasks(model: XlingModel, tokenizer: Any, parts: list[StageTask], cfg: TrainConfig, run_dir: Path,
                oracle_sets: dict[str, SplitData] | None = None,
                make_batches: Callable[[list[list[int]]], Any] | None = None,
                tracking: Tracking | None = None) -> dict[str, Any]:
    """Train on one or several tasks (each batch holds one); select on the mean of their selection scores.

    ``cfg`` holds the loop's options; each part's ``cfg`` its data options.
    ``make_batches(lengths per task)`` returns the batch sampler over the
    parts' features, concatenated in order (needed for several tasks; one task
    gets length-grouped batches). ``oracle_sets`` belong to the first task. ``tracking`` (``--report-to``)
    receives the loop's steps and evaluation points.
    """
    split = [p.task.name for p in parts if get_kind(p.task.kind).in_batch_loss]
    if cfg.max_tokens_per_batch and split:
        raise ConfigError(f"{', '.join(split)}: the loss compares the examples of a batch, so a batch cannot be "
                          "split into micro-batches; leave --max-tokens-per-batch unset")
    features, lengths = featurize_parts(parts, tokenizer)
    if make_batches is not None:
        batches = make_batches(lengths)
    elif len(parts) == 1:
        batches = LengthGroupedBatches(lengths[0], cfg.batch_size, seed=cfg.seed,
                                       group=50 if cfg.group_by_length else None)
    else:
        raise ValueError("training several tasks needs a batch sampler (make_batches)")
    if selection_points(cfg, len(batches)) < 2:
        oracle_sets = {}  # one selection point: the oracle cannot pick differently
    tracking = tracking or Tracking([])
    hooks = Hooks(evaluate=selection_hook(model, tokenizer, parts, cfg, oracle_sets or {}),
                  on_log=tracking.on_selection, on_step=tracking.on_step)
    collate = collator_for([get_kind(p.task.kind) for p in parts], tokenizer.pad_token_id)
    state = train_loop(model, features, batches, cfg, run_dir, hooks, collate=collate)
    records = [stage_record(p.task, p.cfg, p.training, state, len(n)) for p, n in zip(parts, lengths)]
    if len(records) == 1:
        return records[0]
    return multitask_record(parts, records, cfg, state, len(features))


def featurize_parts(parts: list[StageTask], tokenizer: Any) -> tuple[list[dict[str, Any]], list[list[int]]]:
    """Every part's training features, concatenated in order (each tagged with its task), and their lengths."""
    features: list[dict[str, Any]] = []
    lengths: list[list[int]] = []
    for part in parts:
        kind = get_kind(part.task.kind)
        label_index = part.task.label_index() if part.task.labels else None
        part_features = kind.featurize(part.task, part.training.train.examples, tokenizer, part.cfg.max_seq_length,
                                       label_index)
        for feature in part_features:
            feature["task"] = part.task.name
        lengths.append([feature_length(f) for f in part_features])
        features += part_features
    return features, lengths


def selection_hook(model: XlingModel, tokenizer: Any, parts: list[StageTask], cfg: TrainConfig,
                   oracle_sets: dict[str, SplitData]) -> Callable[[int], tuple[float, dict[str, Any]]]:
    """``evaluate(step)``: the mean primary score over the parts' selection sets, with the oracle dev scores
    (and, for several tasks, each task's score) as details."""
    mixed = resolve_mixed_precision(cfg.mixed_precision)
    budget = eval_token_budget(cfg.eval_tokens, device_of(model))

    def result(task: Task, data: SplitData, max_length: int) -> LanguageScore:
        return evaluate_split(model, task, data, tokenizer, max_length=max_length, batch_size=cfg.eval_batch_size,
                              device=device_of(model), mixed_precision=mixed, progress=not cfg.quiet,
                              max_tokens=budget)

    def evaluate(step: int) -> tuple[float, dict[str, Any]]:
        scores: dict[str, float] = {}
        degenerate: dict[str, str] = {}
        for part in parts:
            selection = part.training.selection
            outcome = result(part.task, selection, part.cfg.max_seq_length)
            scores[part.task.name] = outcome.primary
            kind = get_kind(part.task.kind)
            problem = kind.degenerate(part.task, outcome.predictions or [], kind.references(part.task,
                                                                                          selection.examples))
            if problem:
                degenerate[part.task.name] = problem
            log.info("step %d: %s %s %s = %.2f", step, part.task.name, selection.describe(),
                     part.task.metric, scores[part.task.name])
        first = parts[0]
        oracle = {lang: result(first.task, data, first.cfg.max_seq_length).primary
                  for lang, data in oracle_sets.items()}
        details: dict[str, Any] = {"oracle": oracle} if oracle else {}
        if len(parts) > 1:
            details["tasks"] = scores
        if degenerate:
            details["degenerate"] = degenerate
        return sum(scores.values()) / len(scores), details

    return evaluate


def multitask_record(parts: list[StageTask], records: list[dict[str, Any]], cfg: TrainConfig, state: LoopState,
                     num_features: int) -> dict[str, Any]:
    """One record for a multi-task stage: what the loop shared once, each task's own part under ``tasks``."""
    shared = ("steps", "epochs", "epochs_trained", "processes", "history", "oracle", "timings", "averaged_checkpoints")
    return {
        "task": "+".join(p.task.name for p in parts),
        "language": "+".join(dict.fromkeys(lang for r in records for lang in r["language"].split("+"))),
        "examples": sum(r["examples"] for r in records),
        "features": num_features,
        **{key: records[0][key] for key in shared},
        "epochs": cfg.epochs,
        "selection": {"metric": "mean of the tasks' primary scores", "best_step": state.best_step,
                      "best_score": state.best_score},
        "tasks": [{k: v for k, v in r.items() if k not in shared} for r in records],
    }


def stage_record(task: Task, cfg: TrainConfig, training: TrainingData, state: LoopState, num_features: int) -> dict:
    record: dict[str, Any] = {
        "task": task.name,
        "language": training.train.lang,
        "split": training.train.split,
        "source": training.train.source,
        "examples": len(training.train.examples),
        "total_examples": training.train.total,
        "features": num_features,
        "steps": state.step,
        "epochs": cfg.epochs,
        "epochs_trained": state.epochs_trained,
        "processes": state.processes,
        "selection": {
            "split": training.selection.split, "source": training.selection.source,
            "examples": len(training.selection.examples), "metric": task.metric,
            "best_step": state.best_step, "best_score": state.best_score,
        },
        "history": state.history,
        "averaged_checkpoints": state.averaged,  # None unless average_checkpoints: steps averaged, their score
        "oracle": oracle_summary(state),
        "warnings": degenerate_warnings(task, cfg, training, state),
        "timings": {
            "train_seconds": state.train_seconds,
            "selection_seconds": state.selection_seconds,
            "train_tokens": state.train_tokens,
            "train_examples": state.train_examples,
            "train_tokens_per_second": state.train_tokens / state.train_seconds if state.train_seconds else None,
            "train_examples_per_second": state.train_examples / state.train_seconds if state.train_seconds else None,
        },
    }
    return record


def degenerate_warnings(task: Task, cfg: TrainConfig, training: TrainingData, state: LoopState) -> list[str]:
    """A warning when the selected model is degenerate on the English selection set (one class, no entities):
    its zero-shot scores are then the defaults' failure, not transfer, and the log and results.json say so."""
    at_best = next((h for h in state.history if h["step"] == state.best_step), None)
    problem = (at_best or {}).get("degenerate", {}).get(task.name)
    if not problem:
        return []
    message = (f"{task.name}: the selected model (step {state.best_step} of {state.step}) {problem} on the selection "
               f"set {training.selection.describe()}: a degenerate model, so its zero-shot scores say nothing about "
               f"transfer. Likely cause: learning rate {cfg.learning_rate:g} with batch {cfg.batch_size} is too "
               f"small for {state.step} optimiser steps on {len(training.train)} examples; try a larger learning "
               "rate or smaller batches (e.g. --learning-rate 2e-4 --batch-size 16) or more epochs, and check "
               "the training labels")
    log.warning(message)
    return [message]


def stage_warnings(records: list[dict[str, Any]]) -> list[str]:
    """The warnings of stage records (a multi-task stage's are its tasks')."""
    return [w for r in records for part in [r, *r.get("tasks", [])] for w in part.get("warnings") or []]


def oracle_summary(state: LoopState) -> dict[str, Any] | None:
    """Per target language: the step its own dev set would pick, against the English-dev pick."""
    points = [h for h in state.history if h.get("oracle")]
    if len(points) < 2:
        return None
    at_selected = next(h for h in points if h["step"] == state.best_step)
    summary: dict[str, Any] = {}
    for lang in points[0]["oracle"]:
        best = max(points, key=lambda h: h["oracle"][lang])
        summary[lang] = {"best_step": best["step"], "best_dev": best["oracle"][lang],
                         "dev_at_selected": at_selected["oracle"][lang]}
    mean_best = max(points, key=lambda h: sum(h["oracle"].values()))
    return {"languages": summary, "best_step_by_average": mean_best["step"], "selected_step": state.best_step}


def selection_points(cfg: TrainConfig, batches_per_epoch: int) -> int:
    """How many times the selection set will be evaluated."""
    steps_per_epoch, total = count_steps(cfg, batches_per_epoch)
    if cfg.eval_every:
        return math.ceil(total / cfg.eval_every)
    return math.ceil(total / steps_per_epoch)
