"""Sentence retrieval (Tatoeba): no head and no training; sentences are only embedded.

The kind tokenises single sentences for :mod:`xling.retrieval.embed`, which
embeds and mean-pools them; :mod:`xling.retrieval.tatoeba` reads the bitexts
and scores them (``xling retrieve``). Training or head-based evaluation of a
retrieval task is refused with a pointer there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xling.config import TrainConfig
from xling.errors import ConfigError
from xling.kinds.base import KINDS, Kind
from xling.tasks.task import Task

NOT_HERE = ("task {name!r} is a retrieval task without a trainable head: score it with "
            "`xling retrieve --task {name} --model M` (or `--run RUN_DIR` for a fine-tuned encoder)")


def sentence_features(sentences: Sequence[str], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    """One feature per sentence: its ``input_ids`` (with special tokens, truncated) and its index."""
    encoded = tokenizer(list(sentences), truncation=True, max_length=max_length)
    features = []
    for i in range(len(sentences)):
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][i], "example": i}
        if "token_type_ids" in encoded:
            feature["token_type_ids"] = encoded["token_type_ids"][i]
        features.append(feature)
    return features


class Retrieval(Kind):
    name = "retrieval"
    head = ""
    example_type = str

    def featurize(self, task: Task, examples: Sequence[str], tokenizer: Any, max_length: int,
                  label_index: dict[str, int] | None) -> list[dict[str, Any]]:
        return sentence_features(examples, tokenizer, max_length)

    def is_labelled(self, example: str) -> bool:
        return False  # a sentence; its translation is the other side of the bitext

    def head_options(self, task: Task, cfg: TrainConfig) -> dict[str, Any]:
        raise ConfigError(NOT_HERE.format(name=task.name))

    def decode(self, task: Task, outputs, examples):
        raise ConfigError(NOT_HERE.format(name=task.name))

    def references(self, task: Task, examples):
        raise ConfigError(NOT_HERE.format(name=task.name))


KINDS.register(Retrieval.name, Retrieval())
