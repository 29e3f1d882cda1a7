"""Span-extraction head for extractive QA: start and end logits per token."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from xling.models.heads import HEADS, HeadOutput


@HEADS.register("span")
class SpanHead(nn.Module):
    """Linear(d, 2) over the fused tokens -> (B, T, 2) logits: ``[..., 0]`` start, ``[..., 1]`` end.

    Padding positions get the lowest logit, so scores do not depend on how a
    batch was padded. The loss is the mean of the start and end cross-entropies
    (as BERT's SQuAD head); a window without the answer points both at index 0.
    """

    def __init__(self, hidden_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 2)

    def forward(self, features: torch.Tensor, attention_mask: torch.Tensor, labels=None,
                start_positions: torch.Tensor | None = None, end_positions: torch.Tensor | None = None,
                **_) -> HeadOutput:
        logits = self.out(self.dropout(features))
        logits = logits.masked_fill((attention_mask == 0).unsqueeze(-1), torch.finfo(logits.dtype).min)
        loss = None
        if start_positions is not None and end_positions is not None:
            scores = logits.float()
            loss = (F.cross_entropy(scores[..., 0], start_positions.long())
                    + F.cross_entropy(scores[..., 1], end_positions.long())) / 2
        return HeadOutput(logits, loss)
