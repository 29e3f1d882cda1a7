"""Multiple-choice head (COPA / XCOPA): one score per choice, softmax over the choices.

:class:`~xling.models.model.XlingModel` flattens (B, C, T) inputs to (B*C, T)
before the encoder and passes the original shape as ``batch_shape``; this head
pools each choice's sequence, scores it, and reshapes the scores to (B, C).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from xling.errors import ConfigError
from xling.models.heads import HEADS, HeadOutput, pool


@HEADS.register("multiple_choice")
class MultipleChoiceHead(nn.Module):
    """Pool each (context, choice) sequence (``first`` or ``mean``), dropout, Linear(d, 1); CE over choices."""

    def __init__(self, hidden_size: int, pooling: str = "mean", dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in ("first", "mean"):
            raise ConfigError(f"pooling must be 'first' or 'mean', not {pooling!r}")
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, features: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None,
                batch_shape: torch.Size | tuple[int, ...] | None = None, **_) -> HeadOutput:
        """``features`` (B*C, T, d), ``attention_mask`` (B*C, T), ``labels`` (B,) -> logits (B, C)."""
        if batch_shape is None or len(batch_shape) != 3:
            raise ValueError("the multiple-choice head needs input_ids of shape (batch, choices, tokens); "
                             f"got batch_shape {tuple(batch_shape) if batch_shape is not None else None}")
        batch, choices = int(batch_shape[0]), int(batch_shape[1])
        pooled = pool(features, attention_mask, self.pooling)
        logits = self.score(self.dropout(pooled)).squeeze(-1).view(batch, choices)
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return HeadOutput(logits, loss)
