"""Sentence-pair classification (XNLI, PAWS-X)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xling.kinds.base import KINDS, Kind
from xling.models.heads import IGNORE_INDEX
from xling.tasks.base import PAIR_CLASSIFICATION, Task
from xling.tasks.examples import PairExample


def pair_features(
    examples: Sequence[PairExample],
    tokenizer: Any,
    max_length: int,
    label_index: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """``text_a [SEP] text_b``, longest-first truncation to ``max_length`` (as XTREME)."""
    encoded = tokenizer(
        [e.text_a for e in examples], [e.text_b for e in examples], truncation=True, max_length=max_length
    )
    features = []
    for i, example in enumerate(examples):
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][i], "example": i}
        if "token_type_ids" in encoded:
            feature["token_type_ids"] = encoded["token_type_ids"][i]
        if label_index is not None and example.label is not None:
            feature["labels"] = label_index.get(example.label, IGNORE_INDEX)
        features.append(feature)
    return features


class PairClassification(Kind):
    name = PAIR_CLASSIFICATION
    head = "classification"

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        return pair_features(examples, tokenizer, max_length, label_index)

    def decode(self, task: Task, outputs: Sequence[np.ndarray], examples) -> list[str]:
        labels = task.labels or ()
        return [labels[int(np.argmax(p))] for p in outputs]

    def references(self, task: Task, examples: Sequence[PairExample]) -> list[str | None]:
        return [e.label for e in examples]

    def labels_in(self, examples: Sequence[PairExample]) -> set[str]:
        return {e.label for e in examples if e.label is not None}


KINDS.register(PAIR_CLASSIFICATION, PairClassification())
