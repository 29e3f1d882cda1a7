"""``xling evaluate``: score a saved run's model again, on other languages, splits, data or a task of its kind."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from xling.config import TrainConfig, check_keys, load_yaml
from xling.data.run_data import load_targets, recorded_data, resolve_task
from xling.errors import ConfigError, OutputError
from xling.evaluation.evaluator import evaluate_targets
from xling.models import XlingModel, load_model
from xling.models.build import load_tokenizer
from xling.reporting.results import Results, run_results
from xling.tasks.task import Task

log = logging.getLogger("xling")

EVALUATE_OPTIONS = ("task", "include_tasks", "languages", "data_dir", "files", "source", "eval_split", "fallback_split",
                    "missing_languages", "max_eval_examples", "eval_batch_size", "eval_tokens", "compile",
                    "quiet", "save_predictions", "overwrite")
# what names an evaluation's output (besides its task, split and languages): the data it read
DATA_OPTIONS = ("data_dir", "files", "source", "fallback_split", "max_eval_examples")
RUN_FILES = ("results.json", "config.yaml", "pipeline.yaml", "train_log.jsonl")


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


def load_run_config(run_dir: Path) -> dict[str, Any]:
    """A run's saved ``config.yaml``, checked: an unknown key or a bad value is a one-line error."""
    path = run_dir / "config.yaml"
    saved = load_yaml(path)
    check_keys(saved, TrainConfig, str(path))
    try:
        TrainConfig(**saved)
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return saved


def output_name(task: str, cfg: TrainConfig, saved: dict[str, Any]) -> str:
    """``evaluate-TASK-SPLIT-LANGS[-HASH]``: one name per evaluation, so that several live side by side.

    The hash (of the data options that differ from the run's) tells apart evaluations on other data.
    """
    langs = "+".join(cfg.languages)
    if len(langs) > 40:
        langs = f"{len(cfg.languages)}langs-" + hashlib.sha1(langs.encode()).hexdigest()[:6]
    name = f"evaluate-{task}-{cfg.eval_split}-{langs}"
    data = {k: getattr(cfg, k) for k in DATA_OPTIONS if getattr(cfg, k) != saved.get(k, getattr(cfg, k))}
    if data:
        name += "-" + hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return name


def check_output(run_dir: Path, output: Path, predictions: Path, overwrite: bool) -> None:
    """Never a run's own files; never an existing evaluation without ``--overwrite``."""
    protected = {(run_dir / name).resolve() for name in RUN_FILES} | {(run_dir / "predictions").resolve()}
    for path in (output, predictions):
        if path.resolve() in protected:
            raise ConfigError(f"--output {output} would replace the run's own {path.name}; choose another file")
    if output.exists() and not output.is_file():
        raise ConfigError(f"--output {output} exists and is not a file")
    if output.exists() and not overwrite:
        raise ConfigError(f"{output} already exists (an earlier evaluation); add --overwrite to replace it "
                          "or choose another --output")


def source_languages(cfg: TrainConfig, task: Task) -> str:
    """The training language(s) of a run, as results.json spells them (``de+en`` for several)."""
    return "+".join(cfg.train_languages) if cfg.train_languages else cfg.train_language or task.train_language


def evaluate_run(run_dir: str | Path, overrides: dict[str, Any], output: str | Path | None = None) -> Results:
    """``xling evaluate``: score a saved run's model again, on other languages or data.

    Results go to ``RUN/evaluate-TASK-SPLIT-LANGS.json`` (or ``output``) and predictions beside them in
    ``...-predictions/``; the run's own ``results.json`` is never touched and an existing evaluation is
    replaced only with ``overwrite`` (its predictions folder as a whole, so no stale file stays).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not an xling run directory (no config.yaml)")
    if not (run_dir / "model").is_dir():
        raise ConfigError(f"{run_dir} has no saved model (it was trained with --no-save-model)")
    saved = load_run_config(run_dir)
    trained_config = dict(saved)
    other_task = overrides.get("task") not in (None, saved.get("task"))
    if other_task and "languages" not in overrides:
        saved["languages"] = []  # the trained task's languages say nothing about another task's
    if other_task and "data_dir" in overrides and "files" not in overrides:
        saved["files"] = {}  # file overrides belong to the trained task's data
    cfg = TrainConfig(**saved).replace(**{k: v for k, v in overrides.items() if k in EVALUATE_OPTIONS})
    task = resolve_task(cfg)
    cfg = cfg.replace(languages=list(overrides.get("languages") or saved.get("languages") or task.languages))
    output = Path(output) if output else run_dir / (output_name(task.name, cfg, trained_config) + ".json")
    predictions = output.parent / (output.stem + "-predictions")
    check_output(run_dir, output, predictions, cfg.overwrite)
    tokenizer = load_tokenizer(str(run_dir / "model" / "encoder"))
    model = load_model(run_dir / "model")
    if other_task:
        reuse_head(model, resolve_task(TrainConfig(**trained_config)), task)
    if cfg.compile:  # the run's own choice, or --compile / --no-compile
        model.encoder.model.compile(dynamic=True)
    if torch.cuda.is_available():
        model.to("cuda")
    previous = Results.load(run_dir) if (run_dir / "results.json").exists() else None
    recorded: list[str] = []
    used = recorded_data(task, TrainConfig(**trained_config), previous.data if previous else None, str(run_dir),
                         recorded)
    targets, notes, warnings = load_targets(task, cfg, used=used)
    warnings = recorded + warnings
    staging = predictions.with_name(predictions.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        scores, timings = evaluate_targets(model, tokenizer, task, cfg, targets, notes, staging)
        results = run_results(task, cfg, model, scores, source_languages(cfg, task),
                              stages=previous.stages if previous else [], timings=timings, warnings=warnings,
                              run_dir=str(run_dir), data=previous.data if previous else [])
        shutil.rmtree(predictions, ignore_errors=True)  # the earlier evaluation's files go as a whole
        if staging.is_dir():
            staging.rename(predictions)
        results.save(output.parent, output.name)
        log.info("evaluation written to %s (predictions in %s)", output, predictions)
    except OSError as exc:
        raise OutputError(f"cannot write {exc.filename or output}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return results
