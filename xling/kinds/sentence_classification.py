"""Single-sentence classification (a toy kind, to show what adding a kind takes): ``sentence<TAB>label`` files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xling.config import TrainConfig
from xling.data.files import check_labelled, read_lines
from xling.errors import DataError
from xling.kinds.base import KINDS, Kind
from xling.models.heads import IGNORE_INDEX


@dataclass
class SentenceExample:
    text: str
    label: str | None = None
    id: str = ""


def read_sentences(path) -> tuple[list[SentenceExample], bool]:
    lines = [(n, line) for n, line in read_lines(path) if line.strip()]
    examples = []
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) > 2:
            raise DataError(f"{path}:{number}: expected sentence[<TAB>label], got {len(fields)} fields")
        examples.append(SentenceExample(fields[0], fields[1].strip() if len(fields) == 2 else None, str(number)))
    return examples, check_labelled(path, [e.label is not None for e in examples], lines)


class SentenceClassification(Kind):
    name = "sentence_classification"
    head = "classification"
    example_type = SentenceExample

    def is_labelled(self, example: SentenceExample) -> bool:
        return example.label is not None

    def read(self, task, path, lang, label_file=None, row_filter=None):
        return read_sentences(path)

    def labels_in(self, examples: Sequence[SentenceExample]) -> set[str]:
        return {e.label for e in examples if e.label is not None}

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
        features = []
        for i, example in enumerate(examples):
            feature: dict[str, Any] = {"input_ids": encoded["input_ids"][i], "example": i}
            if label_index is not None and example.label is not None:
                feature["labels"] = label_index.get(example.label, IGNORE_INDEX)
            features.append(feature)
        return features

    def head_options(self, task, cfg: TrainConfig) -> dict[str, Any]:
        return {"dropout": cfg.dropout, "pooling": cfg.pooling}

    def decode(self, task, outputs: Sequence[np.ndarray], examples) -> list[str]:
        return [(task.labels or ())[int(np.argmax(p))] for p in outputs]

    def references(self, task, examples: Sequence[SentenceExample]) -> list[str | None]:
        return [e.label for e in examples]


KINDS.register(SentenceClassification.name, SentenceClassification())
