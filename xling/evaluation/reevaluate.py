"""``xling evaluate``: score a saved run's model again, on other languages, splits, data or a task of its kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from xling.config import TrainConfig, load_yaml
from xling.data.run_data import load_targets, recorded_data, resolve_task
from xling.errors import ConfigError
from xling.evaluation.evaluator import evaluate_targets
from xling.models import XlingModel, load_model
from xling.models.build import load_tokenizer
from xling.reporting.results import Results, run_results
from xling.tasks.task import Task

EVALUATE_OPTIONS = ("task", "languages", "data_dir", "files", "source", "eval_split", "fallback_split",
                    "missing_languages", "max_eval_examples", "eval_batch_size", "quiet", "save_predictions")


def reuse_head(model: XlingModel, trained: Task, other: Task) -> None:
    """Let ``model`` score ``other`` with the head trained on ``trained`` (same kind, same labels).

    This is how one QA model is scored on XQuAD, MLQA and TyDiQA, or an NLI head on another NLI set.
    """
    if other.name in model.heads:
        return
    if other.kind != trained.kind or list(other.labels or []) != list(trained.labels or []):
        raise ConfigError(f"the run was trained on {trained.name!r} ({trained.kind}, labels {trained.labels}); "
                          f"its head cannot score {other.name!r} ({other.kind}, labels {other.labels}): "
                          "choose a task of the same kind with the same labels")
    model.heads[other.name] = model.heads[trained.name]


def evaluate_run(run_dir: str | Path, overrides: dict[str, Any], output: str | Path | None = None) -> Results:
    """``xling evaluate``: score a saved run's model again, on other languages or data."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not an xling run directory (no config.yaml)")
    if not (run_dir / "model").is_dir():
        raise ConfigError(f"{run_dir} has no saved model (it was trained with --no-save-model)")
    saved = load_yaml(run_dir / "config.yaml")
    other_task = overrides.get("task") not in (None, saved.get("task"))
    if other_task and "languages" not in overrides:
        saved["languages"] = []  # the trained task's languages say nothing about another task's
    if other_task and "data_dir" in overrides and "files" not in overrides:
        saved["files"] = {}  # file overrides belong to the trained task's data
    cfg = TrainConfig(**saved).replace(**{k: v for k, v in overrides.items() if k in EVALUATE_OPTIONS})
    task = resolve_task(cfg)
    cfg = cfg.replace(languages=list(overrides.get("languages") or saved.get("languages") or task.languages))
    tokenizer = load_tokenizer(str(run_dir / "model" / "encoder"))
    model = load_model(run_dir / "model")
    if other_task:
        reuse_head(model, resolve_task(TrainConfig(**load_yaml(run_dir / "config.yaml"))), task)
    if torch.cuda.is_available():
        model.to("cuda")
    previous = Results.load(run_dir) if (run_dir / "results.json").exists() else None
    recorded: list[str] = []
    used = recorded_data(task, TrainConfig(**saved), previous.data if previous else None, str(run_dir), recorded)
    targets, notes, warnings = load_targets(task, cfg, used=used)
    warnings = recorded + warnings
    output = Path(output) if output else run_dir / "evaluate.json"
    predictions = output.parent / (output.stem + "-predictions")
    scores, timings = evaluate_targets(model, tokenizer, task, cfg, targets, notes, predictions)
    results = run_results(task, cfg, model, scores, cfg.train_language or task.train_language,
                          stages=previous.stages if previous else [], timings=timings, warnings=warnings,
                          run_dir=str(run_dir), data=previous.data if previous else [])
    output.parent.mkdir(parents=True, exist_ok=True)
    results.save(output.parent, output.name)
    return results
