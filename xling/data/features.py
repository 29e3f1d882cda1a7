"""Features to batches: dynamic padding and length-grouped batching.

A feature is a dict built by a task kind's ``featurize`` (:mod:`xling.kinds`):
``input_ids`` (and ``token_type_ids`` where the tokenizer uses them),
``labels`` when known, and bookkeeping keys that map predictions back to
examples (``example``, and for tagging ``positions`` / ``word_start``).
Nothing is padded there: :class:`Collator` pads each batch to its own
longest sequence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from xling.models.heads import IGNORE_INDEX


@dataclass(frozen=True)
class SpecialTokens:
    """The ids a tokenizer puts around one sequence (``[CLS] x [SEP]``, ``<s> x </s>``, ``x </s>``)."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer: Any) -> "SpecialTokens":
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        full = tokenizer("a")["input_ids"]
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return cls(tuple(full[:start]), tuple(full[start + len(plain) :]))
        raise ValueError("cannot locate the text inside the tokenizer's special-token template")


# Keys every kind's features may have, padded to the batch's longest sequence, with their pad value
# (None: the tokenizer's pad id). A kind adds its own (``Kind.padded_keys`` / ``Kind.stacked_keys``).
PADDED_KEYS: Mapping[str, int | None] = MappingProxyType({"input_ids": None, "attention_mask": 0,
                                                          "token_type_ids": 0, "labels": IGNORE_INDEX})


class Collator:
    """Pads a list of features to the batch's longest sequence.

    Keys in ``padded`` (default :data:`PADDED_KEYS`) are padded, keys in
    ``stacked`` (fixed-size numeric values: QA start / end positions, image
    vectors) are stacked; every other key (bookkeeping such as ``example`` or
    ``task``) becomes a plain list. :func:`xling.kinds.collator_for` builds
    one with the keys of the kinds in a batch.
    """

    def __init__(self, pad_token_id: int, padded: Mapping[str, int | None] | None = None,
                 stacked: Iterable[str] = ()) -> None:
        self.pad_token_id = pad_token_id
        self.padded = dict(PADDED_KEYS if padded is None else padded)
        self.stacked = frozenset(stacked)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if "attention_mask" not in features[0]:
            features = [{**f, "attention_mask": _ones_like(f["input_ids"])} for f in features]
        batch: dict[str, Any] = {}
        for key in features[0]:
            values = [f[key] for f in features]
            if key in self.padded:
                pad = self.padded[key]
                batch[key] = self._padded(values, self.pad_token_id if pad is None else pad)
            elif key in self.stacked:
                batch[key] = torch.as_tensor(np.asarray(values))
            else:
                batch[key] = values
        return batch

    @staticmethod
    def _padded(values: list[Any], pad: int) -> torch.Tensor:
        if not isinstance(values[0], list):
            return torch.tensor(values, dtype=torch.long)
        if values[0] and isinstance(values[0][0], list):  # (choices, T) per example
            width = max(len(seq) for v in values for seq in v)
            return torch.tensor([[seq + [pad] * (width - len(seq)) for seq in v] for v in values], dtype=torch.long)
        width = max(len(v) for v in values)
        return torch.tensor([v + [pad] * (width - len(v)) for v in values], dtype=torch.long)


def _ones_like(ids: list[Any]) -> list[Any]:
    if ids and isinstance(ids[0], list):
        return [[1] * len(seq) for seq in ids]
    return [1] * len(ids)


def feature_length(feature: dict[str, Any]) -> int:
    ids = feature["input_ids"]
    return sum(len(seq) for seq in ids) if ids and isinstance(ids[0], list) else len(ids)


def loss_weight(feature: dict[str, Any]) -> int:
    """How many terms of a batch's mean loss this feature holds: its labelled tokens (tagging), 0 or 1 for an
    example label (IGNORE_INDEX: not counted), 1 otherwise (spans, choices, captions).

    The training loop weights every micro-batch by these, so that accumulated micro-batches and processes
    together give the loss of one batch over all of them.
    """
    labels = feature.get("labels")
    if isinstance(labels, list):
        return sum(1 for label in labels if label != IGNORE_INDEX)
    if isinstance(labels, int):
        return int(labels != IGNORE_INDEX)
    return 1


class LengthGroupedBatches(Sampler[list[int]]):
    """Shuffled batches of similar length (dynamic padding wastes little).

    Indices are shuffled, cut into mega-batches of ``group`` batches, sorted
    by length inside each, and the batches shuffled again; the longest batch
    goes first so that an out-of-memory error shows at step 1 (``group=None``:
    plain shuffled batches, for comparison). The order
    depends only on ``seed`` and the epoch (``set_epoch``), so a resumed run
    sees the same batches.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, group: int | None = 50) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        if not self.group:  # plain shuffled batches
            return iter([order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)])
        mega = self.batch_size * self.group
        batches = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start : start + mega], key=lambda i: -self.lengths[i])
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if not batches:
            return iter([])
        longest = max(range(len(batches)), key=lambda b: self.lengths[batches[b][0]])
        batches[0], batches[longest] = batches[longest], batches[0]
        rest = torch.randperm(len(batches) - 1, generator=generator).tolist()
        return iter([batches[0]] + [batches[1 + i] for i in rest])


def sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Evaluation batches of similar length, longest first (order is restored by the caller).

    ``batch_size`` sequences per batch; with ``max_tokens``, instead, each batch takes sequences while its
    padded size (sequences x its longest) stays within ``max_tokens`` (at least one sequence).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if not max_tokens:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * max(1, lengths[batches[-1][0]]) <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches
