"""What differs between task kinds, in one place per kind.

A :class:`Kind` turns examples into features, picks its head, turns the
head's logits into per-example outputs (probabilities, kept for ensembles),
decodes them to predictions and scores them. The training loop and the
evaluator never branch on the kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from xling.metrics import METRICS
from xling.registry import Registry
from xling.tasks.base import Task


class Kind:
    """Base class; subclasses override what differs."""

    name: str = ""
    head: str = ""

    def head_options(self, task: Task, options: dict[str, Any]) -> dict[str, Any]:
        """Options for the head constructor (``options`` are the user's head options)."""
        return dict(options)

    def featurize(self, task: Task, examples: Sequence[Any], tokenizer: Any, max_length: int,
                  label_index: dict[str, int] | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def gather(self, logits: torch.Tensor, batch: dict[str, Any]) -> list[np.ndarray]:
        """Per-feature outputs from a batch of logits (default: softmax over the last axis)."""
        return list(torch.softmax(logits.float(), dim=-1).cpu().numpy())

    def assemble(self, examples: Sequence[Any], features: Sequence[dict[str, Any]],
                 outputs: Sequence[np.ndarray]) -> list[Any]:
        """Per-example outputs from per-feature outputs (default: one feature per example)."""
        return list(outputs)

    def decode(self, task: Task, outputs: Sequence[Any], examples: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def references(self, task: Task, examples: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def labels_in(self, examples: Sequence[Any]) -> set[str]:
        """Every gold label string in the examples (for unseen-label warnings)."""
        return set()

    def score(self, task: Task, predictions: Sequence[Any], references: Sequence[Any], lang: str) -> dict[str, float]:
        return METRICS.get(task.metric).compute(predictions, references)

    def prediction_record(self, example: Any, prediction: Any, reference: Any) -> dict[str, Any]:
        """One line of ``predictions/{lang}.jsonl``."""
        return {"id": getattr(example, "id", ""), "prediction": prediction, "gold": reference}


KINDS: Registry[Kind] = Registry("task kind")


def get_kind(name: str) -> Kind:
    import xling.kinds  # noqa: F401 - registers the built-in kinds

    return KINDS.get(name)
