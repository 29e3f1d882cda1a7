"""Task heads: consume the fused (B, T, d) tensor, return typed outputs, loss only with labels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from xling.errors import ConfigError
from xling.models.fusion import masked_mean
from xling.registry import Registry

HEADS: Registry[type[nn.Module]] = Registry("head")

IGNORE_INDEX = -100


@dataclass
class HeadOutput:
    """``logits`` in the head's own shape; ``loss`` is None without labels."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None


def pool(features: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(B, T, d) -> (B, d): the first token or the mean over real tokens."""
    if pooling == "first":
        return features[:, 0]
    if pooling == "mean":
        return masked_mean(features, attention_mask)
    raise ConfigError(f"pooling must be 'first' or 'mean', not {pooling!r}")


@HEADS.register("classification")
class ClassificationHead(nn.Module):
    """Sequence (pair) classification: pool, dense + tanh, dropout, linear (as RoBERTa's head)."""

    def __init__(self, hidden_size: int, num_labels: int, pooling: str = "first", dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in ("first", "mean"):
            raise ConfigError(f"pooling must be 'first' or 'mean', not {pooling!r}")
        self.pooling = pooling
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, features, attention_mask, labels=None, **_) -> HeadOutput:
        x = self.dropout(pool(features, attention_mask, self.pooling))
        x = self.dropout(torch.tanh(self.dense(x)))
        logits = self.out(x)
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return HeadOutput(logits, loss)


@HEADS.register("tagging")
class TaggingHead(nn.Module):
    """Token classification; labels sit on the first sub-word of each word, -100 elsewhere."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, features, attention_mask, labels=None, **_) -> HeadOutput:
        logits = self.out(self.dropout(features))
        loss = None
        if labels is not None:
            flat = labels.flatten()
            if bool((flat != IGNORE_INDEX).any()):
                loss = F.cross_entropy(logits.flatten(0, 1).float(), flat, ignore_index=IGNORE_INDEX)
            else:  # a batch with no labelled word: zero loss that still reaches every parameter
                loss = logits.sum() * 0.0
        return HeadOutput(logits, loss)
