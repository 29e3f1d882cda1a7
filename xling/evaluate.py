"""Zero-shot evaluation: one evaluator per language that knows its task's metric."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from xling.features import Collator, feature_length, sorted_batches
from xling.kinds import get_kind
from xling.metrics import METRICS
from xling.tasks.base import Task
from xling.tasks.examples import SplitData

# Gold-answer keys that must not reach the model at prediction time.
LABEL_KEYS = {"labels", "start_positions", "end_positions"}


@dataclass
class LanguageResult:
    """Scores of one language, with what they were computed on."""

    lang: str
    split: str
    source: str
    examples: int
    total_examples: int
    metrics: dict[str, float]
    primary: float
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    outputs: list[Any] | None = None  # per-example probabilities (not serialised)
    predictions: list[Any] | None = None


def autocast_context(device: torch.device, mixed_precision: str):
    if device.type == "cuda" and mixed_precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if mixed_precision == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


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
) -> list[np.ndarray]:
    """Per-feature outputs (probabilities), batches sorted by length, original order restored."""
    kind = get_kind(task.kind)
    collate = Collator(pad_token_id)
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray | None] = [None] * len(features)
    batches = sorted_batches([feature_length(f) for f in features], batch_size)
    bar = tqdm(batches, desc=progress, unit="batch", leave=False, disable=progress is None)
    try:
        for indices in bar:
            batch = collate([{k: v for k, v in features[i].items() if k not in LABEL_KEYS} for i in indices])
            inputs = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
            with autocast_context(device, mixed_precision):
                result = model(**inputs, task=task.name)
            for i, output in zip(indices, kind.gather(result.logits, batch)):
                outputs[i] = output
    finally:
        model.train(was_training)
    return outputs  # type: ignore[return-value]


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
) -> LanguageResult:
    """Score one language's split (it must be labelled)."""
    kind = get_kind(task.kind)
    start = time.perf_counter()
    features = kind.featurize(task, data.examples, tokenizer, max_length, task.label_index() if task.labels else None)
    per_feature = predict_features(
        model, features, task, pad_token_id=tokenizer.pad_token_id, batch_size=batch_size, device=device,
        mixed_precision=mixed_precision, progress=f"eval {data.describe()}" if progress else None,
    )
    outputs = kind.assemble(data.examples, features, per_feature)
    return score_outputs(task, data, outputs, time.perf_counter() - start, keep_outputs=keep_outputs)


def score_outputs(task: Task, data: SplitData, outputs: list[Any], seconds: float = 0.0,
                  keep_outputs: bool = False) -> LanguageResult:
    """Decode per-example outputs and score them (also used by ensembles)."""
    kind = get_kind(task.kind)
    predictions = kind.decode(task, outputs, data.examples)
    references = kind.references(task, data.examples)
    metrics = kind.score(task, predictions, references, data.lang)
    primary = METRICS.get(task.metric).primary
    return LanguageResult(
        lang=data.lang, split=data.split, source=data.source, examples=len(data.examples),
        total_examples=data.total or len(data.examples), metrics=metrics, primary=metrics[primary],
        seconds=seconds, outputs=outputs if keep_outputs else None, predictions=predictions,
    )


def write_predictions(task: Task, data: SplitData, result: LanguageResult, directory: Path) -> None:
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
