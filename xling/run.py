"""A zero-shot run: train on the source language, select on its dev set, score every target language.

:func:`run_training` is what ``xling train`` calls. It is built from pieces
that pipelines reuse: :func:`prepare_run_dir`, :func:`load_training`,
:func:`load_targets`, :func:`train_stage` and :func:`evaluate_targets`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xling.config import TrainConfig, load_yaml, save_yaml
from xling.errors import ConfigError, DataError, MissingDataError, UnlabelledSplitError
from xling.evaluate import LanguageResult, evaluate_split, write_predictions
from xling.features import LengthGroupedBatches, feature_length
from xling.kinds import get_kind
from xling.models import Encoder, HeadSpec, ModelSpec, XlingModel, build_model, save_model
from xling.results import LanguageScore, Results, averages, environment
from xling.tasks import get_task
from xling.tasks.base import Task
from xling.tasks.data import load_split
from xling.tasks.examples import SplitData
from xling.train import BEST_FILE, CHECKPOINT_DIR, Hooks, LoopState, peak_rss_mb, resolve_mixed_precision, train_loop

log = logging.getLogger("xling")

# Files and folders a run writes; --overwrite removes exactly these.
RUN_ARTIFACTS = ("results.json", "config.yaml", CHECKPOINT_DIR, CHECKPOINT_DIR + ".tmp", "model", "predictions",
                 BEST_FILE, "train_log.jsonl", "stages", "pipeline.yaml")
# Options that may differ between a killed run and its resumption.
RESUME_FREE = {"resume", "quiet", "overwrite", "num_workers", "eval_batch_size", "checkpoint_every",
               "checkpoint_minutes"}


# ---------------------------------------------------------------- run directory and config


def resolve_config(cfg: TrainConfig, task: Task) -> TrainConfig:
    """Fill the task's defaults into unset options."""
    epochs = cfg.epochs if cfg.epochs is not None else task.options.get("epochs", 3)
    return cfg.replace(
        epochs=epochs,
        max_seq_length=cfg.max_seq_length or task.max_seq_length,
        train_language=cfg.train_language or task.train_language,
        languages=list(cfg.languages) or list(task.languages),
    )


def prepare_run_dir(cfg: TrainConfig, config_file: str = "config.yaml") -> Path:
    """Create the run directory; refuse to clobber a finished run; check a resumed run's config.

    ``config_file`` is the saved config a resumed run is compared with (pipelines keep ``pipeline.yaml``).
    """
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} exists and is not a directory")
    finished = (out / "results.json").exists()
    unfinished = (out / CHECKPOINT_DIR).exists() or (out / "stages").exists()
    if cfg.overwrite:
        for name in RUN_ARTIFACTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    elif finished:
        raise ConfigError(f"{out} already holds a finished run (results.json); use --overwrite to replace it "
                          "or choose another --output-dir")
    elif unfinished and not cfg.resume:
        raise ConfigError(f"{out} holds an unfinished run (checkpoint/ or stages/); add --resume to continue it "
                          "or --overwrite to start again")
    elif cfg.resume and (out / config_file).exists():
        saved = load_yaml(out / config_file)
        current = cfg.to_dict()
        changed = sorted(k for k in current if k not in RESUME_FREE and k in saved and saved[k] != current[k])
        if changed:
            detail = "; ".join(f"{k}: {saved[k]!r} -> {current[k]!r}" for k in changed)
            raise ConfigError(f"cannot resume {out} with a different configuration ({detail})")
    out.mkdir(parents=True, exist_ok=True)
    return out


# ---------------------------------------------------------------- data


@dataclass
class TrainingData:
    train: SplitData
    selection: SplitData
    warnings: list[str] = field(default_factory=list)


def _load(task: Task, lang: str, split: str, cfg: TrainConfig, max_examples: int | None = None,
          sample_seed: int = 0) -> SplitData:
    return load_split(task, lang, split, data_dir=cfg.data_dir, files=cfg.files, source=cfg.source,
                      max_examples=max_examples, sample_seed=sample_seed)


def _load_languages(task: Task, langs: list[str], split: str, cfg: TrainConfig,
                    max_examples: int | None = None) -> SplitData:
    """One split of several languages, concatenated (multilingual training or selection data)."""
    parts = [_load(task, lang, split, cfg, max_examples) for lang in langs]
    if len(parts) == 1:
        return parts[0]
    return SplitData(task.name, "+".join(langs), split, [e for p in parts for e in p.examples],
                     "; ".join(p.source for p in parts), all(p.labelled for p in parts), sum(p.total for p in parts))


def load_training(task: Task, cfg: TrainConfig) -> TrainingData:
    """The labelled training split and the selection set (source-language dev, or a held-out part of train)."""
    langs = list(cfg.train_languages) or [cfg.train_language or task.train_language]
    lang = "+".join(langs)
    train = _load_languages(task, langs, cfg.train_split, cfg)
    if not train.labelled:
        raise UnlabelledSplitError(f"{train.describe()} of {task.name} has no labels; it cannot be trained on")
    if task.labels:
        unknown = get_kind(task.kind).labels_in(train.examples) - set(task.labels)
        if unknown:
            raise DataError(f"{train.describe()} ({train.source}) has labels outside {task.name}'s label set: "
                            f"{sorted(unknown)}; expected {list(task.labels)}")
    if cfg.selection_holdout:
        if cfg.selection_holdout >= len(train.examples):
            raise ConfigError(f"selection_holdout {cfg.selection_holdout} leaves no training data "
                              f"({len(train.examples)} examples)")
        order = list(range(len(train.examples)))
        random.Random(0).shuffle(order)  # the same held-out set for every seed
        held = set(order[: cfg.selection_holdout])
        selection = SplitData(task.name, lang, f"{cfg.train_split}[held-out]",
                              [e for i, e in enumerate(train.examples) if i in held], train.source, True)
        train.examples = [e for i, e in enumerate(train.examples) if i not in held]
        train.split = f"{cfg.train_split}[rest]"
    elif cfg.dev_split == cfg.train_split:
        raise ConfigError(f"training and selecting on the same split ({cfg.train_split}) would select on training "
                          "data; set --selection-holdout N to hold out N training examples for selection")
    else:
        selection = _load_languages(task, langs, cfg.dev_split, cfg)
        if not selection.labelled:
            raise UnlabelledSplitError(f"{selection.describe()} of {task.name} has no labels; it cannot select models")
    if cfg.max_train_examples and cfg.max_train_examples < len(train.examples):
        keep = sorted(random.Random(cfg.seed).sample(range(len(train.examples)), cfg.max_train_examples))
        train.examples = [train.examples[i] for i in keep]
    if cfg.max_selection_examples and cfg.max_selection_examples < len(selection.examples):
        keep = sorted(random.Random(0).sample(range(len(selection.examples)), cfg.max_selection_examples))
        selection.examples = [selection.examples[i] for i in keep]
    return TrainingData(train, selection)


def resolve_eval_split(task: Task, lang: str, cfg: TrainConfig, split: str | None = None,
                       max_examples: int | None = None) -> tuple[SplitData, str | None]:
    """The labelled split to score ``lang`` on; falls back (with a note) when the wanted one is unusable."""
    split = split or cfg.eval_split
    max_examples = max_examples if max_examples is not None else cfg.max_eval_examples
    try:
        data = _load(task, lang, split, cfg, max_examples)
        if data.labelled:
            return data, None
        problem = f"{split}-{lang} has no labels"
    except MissingDataError as exc:
        problem, error = f"{split}-{lang} was not found", exc
    fallback = cfg.fallback_split
    if fallback and fallback != split:
        try:
            data = _load(task, lang, fallback, cfg, max_examples)
        except MissingDataError:
            data = None
        if data is not None and data.labelled:
            return data, f"{problem}; scored on {fallback}"
    if problem.endswith("not found"):
        raise error
    raise UnlabelledSplitError(f"{problem} (XTREME strips several test sets); evaluate on dev "
                               f"(--eval-split dev), pass a labelled copy with --file {lang}:{split}=PATH, "
                               "or allow --fallback-split dev")


def load_targets(task: Task, cfg: TrainConfig, training: TrainingData | None = None,
                 split: str | None = None) -> tuple[dict[str, SplitData], dict[str, str], list[str]]:
    """Evaluation data per language, notes on fallbacks, and warnings (missing languages, unseen labels)."""
    targets: dict[str, SplitData] = {}
    notes: dict[str, str] = {}
    warnings: list[str] = []
    missing: dict[str, str] = {}
    for lang in cfg.languages:
        try:
            data, note = resolve_eval_split(task, lang, cfg, split)
        except MissingDataError as exc:
            missing[lang] = str(exc)
            warnings.append(str(exc).splitlines()[0] + "; skipped")
            continue
        if training and lang in training.train.lang.split("+") and data.split in (cfg.train_split, cfg.dev_split) \
                and data.source in training.train.source:
            warnings.append(f"{data.describe()} is the training/selection data; {lang} is not scored")
            continue
        targets[lang] = data
        if note:
            notes[lang] = note
            warnings.append(note)
    if missing and cfg.missing_languages == "error":
        raise MissingDataError(f"no evaluation data for {', '.join(missing)} of {task.name} "
                               "(choose with --languages, or pass --missing-languages skip). "
                               + next(iter(missing.values())))
    if training and task.labels:
        kind = get_kind(task.kind)
        seen = kind.labels_in(training.train.examples)
        for lang, data in targets.items():
            unseen = kind.labels_in(data.examples) - seen
            if unseen:
                warnings.append(f"{data.describe()} has labels the {training.train.lang} training data never had: "
                                f"{sorted(unseen)} (they can only be predicted wrongly)")
    for message in warnings:
        log.warning(message)
    return targets, notes, warnings


def load_oracle_sets(task: Task, cfg: TrainConfig, targets: dict[str, SplitData]) -> dict[str, SplitData]:
    """Target-language dev sets for the oracle selection record (never used to select)."""
    sets = {}
    for lang in targets:
        if lang == cfg.train_language or lang in cfg.train_languages:
            continue
        try:
            data = _load(task, lang, cfg.dev_split, cfg, cfg.max_oracle_examples)
        except (MissingDataError, DataError):
            continue
        if data.labelled:
            sets[lang] = data
    return sets


# ---------------------------------------------------------------- model


def resolve_task(cfg: TrainConfig) -> Task:
    """The task named in ``cfg``, with the run's image feature file in its options."""
    task = get_task(cfg.task)
    if cfg.image_features:
        task = dataclasses.replace(task, options={**task.options, "image_features": cfg.image_features})
    return task


def head_spec(task: Task, cfg: TrainConfig) -> HeadSpec:
    """The head a task gets (its kind's head, the task's labels, the run's head options)."""
    kind = get_kind(task.kind)
    head_options = {"dropout": cfg.dropout}
    if kind.head == "classification":
        head_options["pooling"] = cfg.pooling
    return HeadSpec(kind.head, list(task.labels or []), kind.head_options(task, head_options))


def build_run_model(task: Task, cfg: TrainConfig, encoder: Encoder | None = None) -> XlingModel:
    spec = ModelSpec(
        encoder=cfg.model, fusion=cfg.fusion, fusion_layer=cfg.fusion_layer, fusion_options=dict(cfg.fusion_options),
        heads={task.name: head_spec(task, cfg)},
    )
    model = build_model(spec, encoder if encoder is not None else Encoder.from_pretrained(cfg.model))
    if cfg.freeze_embeddings:
        model.encoder.freeze_embeddings()
    return model


def load_tokenizer(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name_or_path)


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


# ---------------------------------------------------------------- training stage


def train_stage(model: XlingModel, tokenizer: Any, task: Task, cfg: TrainConfig, run_dir: Path,
                training: TrainingData, oracle_sets: dict[str, SplitData] | None = None) -> dict[str, Any]:
    """Train one task with English-dev selection; returns the stage record for results.json."""
    return train_tasks(model, tokenizer, [StageTask(task, cfg, training)], cfg, run_dir, oracle_sets)


@dataclass
class StageTask:
    """One task of a training stage: its declaration, its own config (data options) and its data."""

    task: Task
    cfg: TrainConfig
    training: TrainingData


def train_tasks(model: XlingModel, tokenizer: Any, parts: list[StageTask], cfg: TrainConfig, run_dir: Path,
                oracle_sets: dict[str, SplitData] | None = None,
                make_batches: Callable[[list[list[int]]], Any] | None = None) -> dict[str, Any]:
    """Train on one or several tasks (each batch holds one); select on the mean of their selection scores.

    ``cfg`` holds the loop's options; each part's ``cfg`` its data options.
    ``make_batches(lengths per task)`` returns the batch sampler over the
    parts' features, concatenated in order (needed for several tasks; one task
    gets length-grouped batches). ``oracle_sets`` belong to the first task.
    """
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
    if make_batches is not None:
        batches = make_batches(lengths)
    elif len(parts) == 1:
        batches = LengthGroupedBatches(lengths[0], cfg.batch_size, seed=cfg.seed,
                                       group=50 if cfg.group_by_length else None)
    else:
        raise ValueError("training several tasks needs a batch sampler (make_batches)")
    mixed = resolve_mixed_precision(cfg.mixed_precision)
    if selection_points(cfg, len(batches)) < 2:
        oracle_sets = {}  # one selection point: the oracle cannot pick differently
    oracle_sets = oracle_sets or {}

    def evaluate_selection(step: int) -> tuple[float, dict[str, Any]]:
        scores: dict[str, float] = {}
        for part in parts:
            result = evaluate_split(model, part.task, part.training.selection, tokenizer,
                                    max_length=part.cfg.max_seq_length, batch_size=cfg.eval_batch_size,
                                    device=device_of(model), mixed_precision=mixed, progress=not cfg.quiet)
            scores[part.task.name] = result.primary
            log.info("step %d: %s %s %s = %.2f", step, part.task.name, part.training.selection.describe(),
                     part.task.metric, result.primary)
        first = parts[0]
        oracle = {lang: evaluate_split(model, first.task, data, tokenizer, max_length=first.cfg.max_seq_length,
                                       batch_size=cfg.eval_batch_size, device=device_of(model),
                                       mixed_precision=mixed, progress=not cfg.quiet).primary
                  for lang, data in oracle_sets.items()}
        details: dict[str, Any] = {"oracle": oracle} if oracle else {}
        if len(parts) > 1:
            details["tasks"] = scores
        return sum(scores.values()) / len(scores), details

    hooks = Hooks(evaluate=evaluate_selection)
    state = train_loop(model, features, batches, cfg, run_dir, hooks, pad_token_id=tokenizer.pad_token_id)
    records = [stage_record(p.task, p.cfg, p.training, state, len(n)) for p, n in zip(parts, lengths)]
    if len(records) == 1:
        return records[0]
    shared = ("steps", "epochs", "history", "oracle", "timings", "averaged_checkpoints")
    return {
        "task": "+".join(p.task.name for p in parts),
        "language": "+".join(dict.fromkeys(lang for r in records for lang in r["language"].split("+"))),
        "examples": sum(r["examples"] for r in records),
        "features": len(features),
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
        "selection": {
            "split": training.selection.split, "source": training.selection.source,
            "examples": len(training.selection.examples), "metric": task.metric,
            "best_step": state.best_step, "best_score": state.best_score,
        },
        "history": state.history,
        "averaged_checkpoints": state.averaged,  # None unless average_checkpoints: steps averaged, their score
        "oracle": oracle_summary(state),
        "timings": {
            "train_seconds": state.train_seconds,
            "train_tokens": state.train_tokens,
            "train_examples": state.train_examples,
            "train_tokens_per_second": state.train_tokens / state.train_seconds if state.train_seconds else None,
            "train_examples_per_second": state.train_examples / state.train_seconds if state.train_seconds else None,
        },
    }
    return record


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


# ---------------------------------------------------------------- evaluation and results


def evaluate_targets(model: XlingModel, tokenizer: Any, task: Task, cfg: TrainConfig,
                     targets: dict[str, SplitData], notes: dict[str, str],
                     predictions_dir: Path | None) -> tuple[dict[str, LanguageScore], dict[str, Any]]:
    """Score every language; returns the scores and evaluation timings."""
    scores: dict[str, LanguageScore] = {}
    start = time.perf_counter()
    total = 0
    mixed = resolve_mixed_precision(cfg.mixed_precision)
    for lang, data in targets.items():
        result: LanguageResult = evaluate_split(
            model, task, data, tokenizer, max_length=cfg.max_seq_length, batch_size=cfg.eval_batch_size,
            device=device_of(model), mixed_precision=mixed, progress=not cfg.quiet,
            keep_outputs=cfg.save_predictions,
        )
        total += result.examples
        scores[lang] = LanguageScore(result.split, result.source, result.examples, result.total_examples,
                                     result.metrics, result.primary, result.seconds,
                                     [notes[lang]] if lang in notes else [])
        log.info("%s %s: %s = %.2f (%d examples)", task.name, data.describe(), task.metric, result.primary,
                 result.examples)
        if predictions_dir is not None and cfg.save_predictions:
            write_predictions(task, data, result, predictions_dir)
    seconds = time.perf_counter() - start
    return scores, {"eval_seconds": seconds, "eval_examples": total,
                    "eval_examples_per_second": total / seconds if seconds else None}


def task_summary(task: Task) -> dict[str, Any]:
    from xling.metrics import METRICS

    return {"name": task.name, "kind": task.kind, "version": task.version, "metric": task.metric,
            "primary_metric": METRICS.get(task.metric).primary, "labels": list(task.labels or [])}


def run_training(cfg: TrainConfig) -> Results:
    """``xling train``: train, select on English dev, evaluate zero-shot, write ``results.json``."""
    from accelerate.utils import set_seed

    cfg.require("task", "model", "output_dir")
    task = resolve_task(cfg)
    head_spec(task, cfg)  # a task without a trainable head (retrieval) says so before any directory is made
    cfg = resolve_config(cfg, task)
    run_dir = prepare_run_dir(cfg)
    save_yaml(cfg, run_dir / "config.yaml")
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    training = load_training(task, cfg)
    targets, notes, warnings = load_targets(task, cfg, training)
    if not targets:
        raise MissingDataError(f"no language of {task.name} has evaluation data; nothing to score")
    oracle_sets = load_oracle_sets(task, cfg, targets) if cfg.oracle_selection else {}
    model = build_run_model(task, cfg)
    if torch.cuda.is_available():
        model.to("cuda")
    stage = train_stage(model, tokenizer, task, cfg, run_dir, training, oracle_sets)
    rss_after_train = peak_rss_mb()
    scores, eval_timings = evaluate_targets(model, tokenizer, task, cfg, targets, notes, run_dir / "predictions")
    results = Results(
        task=task_summary(task), model={"name_or_path": cfg.model, **model.encoder.describe()},
        fusion={"method": cfg.fusion, "layer": cfg.fusion_layer, "options": dict(cfg.fusion_options)},
        seed=cfg.seed, config=cfg.to_dict(), languages=scores,
        averages=averages(scores, training.train.lang), stages=[stage], environment=environment(),
        timings={**stage["timings"], **eval_timings, "peak_rss_mb_train": rss_after_train,
                 "peak_rss_mb": peak_rss_mb(), **gpu_memory()},
        warnings=warnings, run_dir=str(run_dir),
    )
    finish_run(model, tokenizer, cfg, run_dir, results)
    return results


def finish_run(model: XlingModel, tokenizer: Any, cfg: TrainConfig, run_dir: Path, results: Results) -> None:
    """Save the selected model (optional), write results.json last, and drop resumable state."""
    if cfg.save_model:
        save_model(model, run_dir / "model", tokenizer)
    results.save(run_dir)
    shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)
    (run_dir / BEST_FILE).unlink(missing_ok=True)


def gpu_memory() -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {}
    return {"peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}


def selection_points(cfg: TrainConfig, batches_per_epoch: int) -> int:
    """How many times the selection set will be evaluated."""
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / cfg.gradient_accumulation))
    total = cfg.max_steps or max(1, math.ceil(steps_per_epoch * (cfg.epochs or 1)))
    if cfg.eval_every:
        return math.ceil(total / cfg.eval_every)
    return math.ceil(total / steps_per_epoch)


# ---------------------------------------------------------------- re-evaluation

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
    from xling.models import load_model

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
    targets, notes, warnings = load_targets(task, cfg)
    output = Path(output) if output else run_dir / "evaluate.json"
    predictions = output.parent / (output.stem + "-predictions")
    scores, timings = evaluate_targets(model, tokenizer, task, cfg, targets, notes, predictions)
    previous = Results.load(run_dir) if (run_dir / "results.json").exists() else None
    results = Results(
        task=task_summary(task), model={"name_or_path": cfg.model, **model.encoder.describe()},
        fusion={"method": cfg.fusion, "layer": cfg.fusion_layer, "options": dict(cfg.fusion_options)},
        seed=cfg.seed, config=cfg.to_dict(), languages=scores,
        averages=averages(scores, cfg.train_language or task.train_language),
        stages=previous.stages if previous else [], environment=environment(),
        timings={**timings, "peak_rss_mb": peak_rss_mb(), **gpu_memory()}, warnings=warnings, run_dir=str(run_dir),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    results.save(output.parent, output.name)
    return results
