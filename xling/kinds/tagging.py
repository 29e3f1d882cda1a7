"""Word-level tagging (NER, POS): labels on the first sub-word of each word."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from xling.features import SpecialTokens
from xling.kinds.base import KINDS, Kind
from xling.models.heads import IGNORE_INDEX
from xling.tasks.base import TAGGING, Task
from xling.tasks.examples import TagExample

def tag_features(
    examples: Sequence[TagExample],
    tokenizer: Any,
    max_length: int,
    label_index: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Word-level tags on the first sub-word of each word, -100 on the rest.

    A sentence longer than ``max_length`` sub-words is split into several
    features at word boundaries, so every word is predicted and scored (the
    XTREME scripts silently drop the words past the limit). A word the
    tokenizer maps to nothing becomes the unknown token, as XTREME does.
    """
    special = SpecialTokens.of(tokenizer)
    budget = max_length - len(special.prefix) - len(special.suffix)
    vocab = sorted({t for e in examples for t in e.tokens})
    pieces = dict(zip(vocab, tokenizer(vocab, add_special_tokens=False)["input_ids"])) if vocab else {}
    unk = [tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.pad_token_id]
    features = []
    for index, example in enumerate(examples):
        words = [pieces[t] or unk for t in example.tokens]
        tags = example.tags
        start = 0
        while start < len(words) or (start == 0 and not words):
            ids, labels, positions = list(special.prefix), [], []
            end = start
            while end < len(words) and (end == start or len(ids) - len(special.prefix) + len(words[end]) <= budget):
                positions.append(len(ids))
                ids.extend(words[end][: budget - (len(ids) - len(special.prefix))])
                end += 1
            ids.extend(special.suffix)
            feature: dict[str, Any] = {"input_ids": ids, "example": index, "word_start": start, "positions": positions}
            if label_index is not None and tags is not None:
                labels = [IGNORE_INDEX] * len(ids)
                for position, tag in zip(positions, tags[start:end]):
                    labels[position] = label_index.get(tag, IGNORE_INDEX)
                feature["labels"] = labels
            features.append(feature)
            if end == start:  # empty sentence
                break
            start = end
    return features



class Tagging(Kind):
    name = TAGGING
    head = "tagging"

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        return tag_features(examples, tokenizer, max_length, label_index)

    def gather(self, logits: torch.Tensor, batch: dict[str, Any]) -> list[np.ndarray]:
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return [probs[row, positions] for row, positions in enumerate(batch["positions"])]

    def assemble(self, examples, features, outputs) -> list[np.ndarray]:
        parts: list[list[tuple[int, np.ndarray]]] = [[] for _ in examples]
        for feature, output in zip(features, outputs):
            parts[feature["example"]].append((feature["word_start"], output))
        return [np.concatenate([o for _, o in sorted(p, key=lambda x: x[0])]) if p else np.zeros((0, 0))
                for p in parts]

    def decode(self, task: Task, outputs: Sequence[np.ndarray], examples) -> list[list[str]]:
        labels = task.labels or ()
        return [[labels[int(i)] for i in np.argmax(p, axis=-1)] if p.size else [] for p in outputs]

    def references(self, task: Task, examples: Sequence[TagExample]) -> list[list[str] | None]:
        return [e.tags for e in examples]

    def labels_in(self, examples: Sequence[TagExample]) -> set[str]:
        return {t for e in examples if e.tags for t in e.tags}

    def prediction_record(self, example: TagExample, prediction, reference) -> dict[str, Any]:
        return {"id": example.id, "tokens": example.tokens, "prediction": prediction, "gold": reference}


KINDS.register(TAGGING, Tagging())
