"""Micro-batches: a training batch split to fit a token budget, accumulated to the same gradient.

``--max-tokens-per-batch N`` cuts every batch whose padded size (rows x padded length, x choices) is over
N into consecutive row slices of at most N tokens; each slice runs forward and backward, its loss
weighted by its share of the batch's loss terms (labelled tokens for tagging, examples otherwise), so
the accumulated gradient and the reported loss are the batch's own, up to float rounding. Activations
are those of one slice. Batch statistics (AIF's batch norm) are then per slice, as with any gradient
accumulation.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

IGNORE_INDEX = -100


def loss_terms(inputs: dict[str, torch.Tensor]) -> int:
    """How many terms the batch's mean loss averages: labelled tokens for per-token labels, else rows."""
    labels = inputs.get("labels")
    if labels is not None and labels.ndim >= 2 and not labels.is_floating_point():
        return int((labels != IGNORE_INDEX).sum())
    return int(inputs["input_ids"].shape[0])


def micro_batches(inputs: dict[str, torch.Tensor], max_tokens: int | None) -> list[tuple[dict[str, torch.Tensor], float]]:
    """``[(slice, weight)]``: the batch itself with weight 1, or row slices of at most ``max_tokens`` padded
    tokens (at least one row) whose weights sum to 1."""
    rows = int(inputs["input_ids"].shape[0])
    width = math.prod(inputs["input_ids"].shape[1:])
    if not max_tokens or rows * width <= max_tokens or rows == 1:
        return [(inputs, 1.0)]
    size = max(1, max_tokens // max(1, width))
    parts = [{k: v[i : i + size] for k, v in inputs.items()} for i in range(0, rows, size)]
    terms = [loss_terms(part) for part in parts]
    total = sum(terms)
    if total == 0:  # nothing labelled: every slice's loss is a zero that reaches the parameters
        return [(part, 1.0 / len(parts)) for part in parts]
    return [(part, count / total) for part, count in zip(parts, terms)]


def forward_backward(model: torch.nn.Module, inputs: dict[str, torch.Tensor], task: str, accelerator: Any,
                     max_tokens: int | None = None, scale: float = 1.0, sync: bool = True) -> torch.Tensor:
    """Forward and backward over ``inputs`` (in micro-batches when over ``max_tokens``); the batch's loss.

    The gradient is that of ``scale`` x the batch's loss (the training loop's weight of this batch in its
    optimiser step). Gradients of all but the last slice are not synchronised across processes (one
    all-reduce per batch), and the last one only with ``sync`` (the batch that ends an accumulated step).
    """
    parts = micro_batches(inputs, max_tokens)
    total: torch.Tensor | None = None
    for i, (part, weight) in enumerate(parts):
        last = i == len(parts) - 1 and sync
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            loss = model(**part, task=task).loss
            factor = weight * scale
            accelerator.backward(loss if factor == 1.0 else loss * factor)
        contribution = loss.detach() * weight
        total = contribution if total is None else total + contribution
    assert total is not None
    return total
