"""Zero-shot evaluation: one evaluator per language that knows its task's kind and metric.

A split is featurized, predicted in length-sorted batches, assembled per example, decoded and scored,
each step by the task's kind (:mod:`xling.kinds`); :func:`evaluate_targets` does it for every target
language of a run and writes ``predictions/{lang}.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from xling.config import TrainConfig
from xling.data.examples import SplitData
from xling.data.parallel import content_hash
from xling.data.features import feature_length, sorted_batches
from xling.distributed import gather_by_index, is_main, mine
from xling.kinds import collator_for, get_kind
from xling.metrics import METRICS
from xling.models.build import device_of, resolve_mixed_precision
from xling.reporting.results import LanguageScore
from xling.tasks.task import Task

log = logging.getLogger("xling")


def autocast_context(device: torch.device, mixed_precision: str):
    if device.type == "cuda" and mixed_precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if mixed_precision == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


# --eval-tokens by default: on one CPU core, batches of about 512 padded tokens ran e5-small's evaluation of the
# 41 PAN-X languages at 1.74x the rate of 64 sentences per batch and 1.26x that of 2,048 tokens
# (benchmarks/eval_budget.py: larger batches spill the activations out of the cache); a GPU wants large
# batches (16,384 tokens: not measured here).
CPU_EVAL_TOKENS, GPU_EVAL_TOKENS = 512, 16384


def eval_token_budget(eval_tokens: int | None, device: torch.device) -> int:
    """The padded tokens per evaluation batch: ``eval_tokens`` as given (0: fixed batches), or the device's default."""
    if eval_tokens is not None:
        return eval_tokens
    return CPU_EVAL_TOKENS if device.type == "cpu" else GPU_EVAL_TOKENS


@torch.inference_mode()
def predict_features(
    model: torch.nn.Module,
    features: Sequence[dict[str, Any]],
    task: Task,
    *,
    pad_token_id: int,
    batch_size: int,
    device: torch.device,
    mixed_precision: str = "no",
    progress: str | None = None,
    max_tokens: int | None = None,
) -> list[np.ndarray]:
    """Per-feature outputs (probabilities), batches sorted by length, original order restored.

    Batches hold ``batch_size`` features, or with ``max_tokens`` as many as fit in that many padded tokens.

    With several processes each predicts every n-th batch and all of them get every output
    (:func:`~xling.distributed.gather_by_index`: each feature exactly once).
    """
    kind = get_kind(task.kind)
    collate = collator_for([kind], pad_token_id)
    was_training = model.training
    model.eval()
    outputs: dict[int, np.ndarray] = {}
    batches = mine(sorted_batches([feature_length(f) for f in features], batch_size, max_tokens))
    bar = tqdm(batches, desc=progress, unit="batch", leave=False, disable=progress is None or not is_main())
    try:
        for indices in bar:
            batch = collate([{k: v for k, v in features[i].items() if k not in kind.label_keys} for i in indices])
            inputs = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
            with autocast_context(device, mixed_precision):
                result = model(**inputs, task=task.name)
            for i, output in zip(indices, kind.gather(result.logits, batch)):
                outputs[i] = output
    finally:
        model.train(was_training)
    return gather_by_index(outputs, len(features))


def evaluate_split(
    model: torch.nn.Module,
    task: Task,
    data: SplitData,
    tokenizer: Any,
    *,
    max_length: int,
    batch_size: int,
    device: torch.device,
    mixed_precision: str = "no",
    progress: bool = True,
    keep_outputs: bool = False,
    max_tokens: int | None = None,
) -> LanguageScore:
    """Score one language's split (it must be labelled)."""
    kind = get_kind(task.kind)
    start = time.perf_counter()
    features = kind.featurize(task, data.examples, tokenizer, max_length, task.label_index() if task.labels else None)
    per_feature = predict_features(
        model, features, task, pad_token_id=tokenizer.pad_token_id, batch_size=batch_size, device=device,
        mixed_precision=mixed_precision, progress=f"eval {data.describe()}" if progress else None,
        max_tokens=max_tokens,
    )
    outputs = kind.assemble(data.examples, features, per_feature)
    return score_outputs(task, data, outputs, time.perf_counter() - start, keep_outputs=keep_outputs)


def score_outputs(task: Task, data: SplitData, outputs: list[Any], seconds: float = 0.0,
                  keep_outputs: bool = False) -> LanguageScore:
    """Decode per-example outputs and score them (also used by ensembles)."""
    kind = get_kind(task.kind)
    predictions = kind.decode(task, outputs, data.examples)
    references = kind.references(task, data.examples)
    metrics = kind.score(task, predictions, references, data.lang)
    primary = METRICS.get(task.metric).primary
    return LanguageScore(
        split=data.split, source=data.source, examples=len(data.examples),
        total_examples=data.total or len(data.examples), metrics=metrics, primary=metrics[primary],
        seconds=seconds, outputs=outputs if keep_outputs else None, predictions=predictions,
        sha256=content_hash(data.examples),
    )


def write_predictions(task: Task, data: SplitData, result: LanguageScore, directory: Path) -> None:
    """``predictions/{lang}.jsonl`` (one record per example) and ``{lang}.probs.npz`` when outputs are kept."""
    kind = get_kind(task.kind)
    directory.mkdir(parents=True, exist_ok=True)
    references = kind.references(task, data.examples)
    with open(directory / f"{data.lang}.jsonl", "w", encoding="utf-8") as handle:
        for example, prediction, reference in zip(data.examples, result.predictions or [], references):
            handle.write(json.dumps(kind.prediction_record(example, prediction, reference), ensure_ascii=False) + "\n")
    if result.outputs is not None and all(isinstance(o, np.ndarray) for o in result.outputs):
        arrays = {f"e{i}": o.astype(np.float16) for i, o in enumerate(result.outputs)}
        np.savez_compressed(directory / f"{data.lang}.probs.npz", **arrays)


def evaluate_targets(model: torch.nn.Module, tokenizer: Any, task: Task, cfg: TrainConfig,
                     targets: dict[str, SplitData], notes: dict[str, list[str]],
                     predictions_dir: Path | None) -> tuple[dict[str, LanguageScore], dict[str, Any]]:
    """Score every language (outputs not kept in the scores); returns the scores and evaluation timings."""
    scores: dict[str, LanguageScore] = {}
    start = time.perf_counter()
    total = 0
    mixed = resolve_mixed_precision(cfg.mixed_precision)
    budget = eval_token_budget(cfg.eval_tokens, device_of(model))
    for lang, data in targets.items():
        result = evaluate_split(
            model, task, data, tokenizer, max_length=cfg.max_seq_length, batch_size=cfg.eval_batch_size,
            device=device_of(model), mixed_precision=mixed, progress=not cfg.quiet,
            keep_outputs=cfg.save_predictions, max_tokens=budget,
        )
        total += result.examples
        scores[lang] = result.stored(notes.get(lang))
        log.info("%s %s: %s = %.2f (%d examples)", task.name, data.describe(), task.metric, result.primary,
                 result.examples)
        if predictions_dir is not None and cfg.save_predictions and is_main():
            write_predictions(task, data, result, predictions_dir)
    seconds = time.perf_counter() - start
    return scores, {"eval_seconds": seconds, "eval_examples": total,
                    "eval_examples_per_second": total / seconds if seconds else None,
                    "eval_tokens": budget, "eval_batch_size": cfg.eval_batch_size if not budget else None}
