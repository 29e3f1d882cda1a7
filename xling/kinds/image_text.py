"""Image-text alignment: captions against precomputed image vectors, scored by caption->image retrieval.

Features carry the caption's token ids, its image vector (``image_features``,
stacked by the collator) and ``labels``: the image's number within the
featurized set, so the contrastive loss knows which captions share an image.
The head returns normalised text embeddings; decoding ranks the split's
distinct images for each caption, and the metric is recall@k (primary: @1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xling.config import TrainConfig
from xling.data.files import read_lines, strip_trailing_blank
from xling.data.images import task_image_features
from xling.errors import ConfigError, DataError
from xling.kinds.base import KINDS, Kind
from xling.metrics import METRICS, Metric
from xling.models.contrastive_head import IMAGE_KEY
from xling.tasks.task import Task

RANKS = (1, 5, 10)


@dataclass
class ImageTextExample:
    """A caption and the image it describes (``image_id`` None: unlabelled); ``image`` may carry the vector."""

    text: str
    image_id: str | None = None
    id: str = ""
    image: np.ndarray | None = field(default=None, repr=False)


def read_captions(path: str | Path, ids_file: str | Path | None = None) -> tuple[list[ImageTextExample], bool]:
    """Captions, one per line.

    With ``ids_file`` (Multi30K's ``image_splits/{split}.txt``) line i of both
    files belong together. Without it, lines are ``image_id<TAB>caption``, or
    plain captions with no image (unlabelled).
    """
    lines = strip_trailing_blank(list(read_lines(path)))
    for number, line in lines:
        if not line.strip():
            raise DataError(f"{path}:{number}: empty caption line")
    if ids_file is not None:
        ids = strip_trailing_blank(list(read_lines(ids_file)))
        if len(ids) != len(lines):
            raise DataError(f"{path} has {len(lines)} captions but {ids_file} has {len(ids)} image names; "
                            "they must be line-aligned")
        return [ImageTextExample(line, image.strip(), str(number))
                for (number, line), (_, image) in zip(lines, ids)], True
    tabbed = ["\t" in line for _, line in lines]
    if any(tabbed) and not all(tabbed):
        number = lines[tabbed.index(False) if tabbed[0] else tabbed.index(True)][0]
        raise DataError(f"{path}:{number}: some lines are image_id<TAB>caption and others plain captions")
    if not any(tabbed):
        return [ImageTextExample(line, None, str(number)) for number, line in lines], False
    examples = []
    for number, line in lines:
        image, caption = line.split("\t", 1)
        if not image.strip() or not caption.strip():
            raise DataError(f"{path}:{number}: expected image_id<TAB>caption, got {line[:80]!r}")
        examples.append(ImageTextExample(caption, image.strip(), str(number)))
    return examples, True


def image_vectors(task: Task, examples: Sequence[ImageTextExample], what: str = "captions") -> np.ndarray:
    """(N, D) float32 vectors for the examples' images: carried by the examples or read from the feature file."""
    if examples and all(e.image is not None for e in examples):
        return np.stack([np.asarray(e.image, dtype=np.float32) for e in examples])
    unlabelled = [e.id for e in examples if e.image_id is None and e.image is None]
    if unlabelled:
        raise DataError(f"{len(unlabelled)} {task.name} captions have no image (first ids: {unlabelled[:3]})")
    store = task_image_features(task)
    if store is None:
        raise ConfigError(f"task {task.name!r} pairs captions with image feature vectors: pass "
                          "--image-features FILE (.npy + .ids.txt, .safetensors or .parquet; "
                          "docs/pipelines.md shows how to compute them with CLIP)")
    vectors = store.lookup([e.image_id for e in examples], what)
    inline = [i for i, e in enumerate(examples) if e.image is not None]
    for i in inline:
        vectors[i] = examples[i].image
    return vectors


def recall_at_k(predictions: Sequence[Sequence[str]], references: Sequence[str]) -> dict[str, float]:
    """Share (percent) of captions whose image is among the first k ranked images, k in 1, 5, 10."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} rankings for {len(references)} references")
    if not references:
        raise ValueError("recall of an empty set is undefined")
    return {f"recall@{k}": 100.0 * sum(r in list(p)[:k] for p, r in zip(predictions, references)) / len(references)
            for k in RANKS}


METRICS.register("image_recall", Metric("image_recall", "recall@1", recall_at_k,
                                        "caption->image retrieval among the split's images: recall@1/5/10"))


def image_dim(task: Task) -> int:
    """The image vectors' dimension: the feature file's, else the task's ``image_dim`` option."""
    store = task_image_features(task)
    return store.dim if store is not None else int(task.options.get("image_dim", 512))


class ImageText(Kind):
    name = "image_text"
    head = "image_text"
    task_options = Kind.task_options | {"image_dim", "image_features"}
    example_type = ImageTextExample
    stacked_keys = frozenset({IMAGE_KEY})
    in_batch_loss = True  # contrastive: the other captions of the batch are the negatives

    def is_labelled(self, example: ImageTextExample) -> bool:
        return example.image_id is not None or example.image is not None

    def read(self, task, path, lang, label_file=None, row_filter=None):
        return read_captions(path, label_file)

    def head_options(self, task: Task, cfg: TrainConfig) -> dict[str, Any]:
        return {"dropout": cfg.dropout, "image_dim": image_dim(task)}

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        vectors = image_vectors(task, examples)
        expected = image_dim(task)
        if vectors.shape[1] != expected:
            raise DataError(f"{task.name}: image vectors have dimension {vectors.shape[1]}, the head expects {expected}")
        encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
        numbers: dict[str, int] = {}
        features = []
        for i, example in enumerate(examples):
            feature: dict[str, Any] = {"input_ids": encoded["input_ids"][i], "example": i, IMAGE_KEY: vectors[i],
                                       "labels": numbers.setdefault(example.image_id or f"#{i}", len(numbers))}
            if "token_type_ids" in encoded:
                feature["token_type_ids"] = encoded["token_type_ids"][i]
            features.append(feature)
        return features

    def gather(self, logits: torch.Tensor, batch: dict[str, Any]) -> list[np.ndarray]:
        return list(logits.float().cpu().numpy())  # normalised text embeddings

    def decode(self, task: Task, outputs: Sequence[np.ndarray], examples) -> list[list[str]]:
        """For each caption, the split's distinct images ranked by cosine similarity (the first 10)."""
        first: dict[str, int] = {}
        for i, example in enumerate(examples):
            first.setdefault(example.image_id or f"#{i}", i)
        candidates = list(first)
        images = image_vectors(task, [examples[i] for i in first.values()], "images")
        images = images / np.maximum(np.linalg.norm(images, axis=1, keepdims=True), 1e-12)
        similarity = np.stack(outputs).astype(np.float32) @ images.T
        top = np.argsort(-similarity, axis=1, kind="stable")[:, : max(RANKS)]
        return [[candidates[j] for j in row] for row in top]

    def references(self, task: Task, examples: Sequence[ImageTextExample]) -> list[str | None]:
        return [e.image_id for e in examples]

    def prediction_record(self, example: ImageTextExample, prediction, reference) -> dict[str, Any]:
        return {"id": example.id, "text": example.text, "prediction": prediction, "gold": reference}


KINDS.register(ImageText.name, ImageText())
