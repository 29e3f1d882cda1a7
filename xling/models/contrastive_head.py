"""Image-text alignment head: project the pooled fused text to the image-feature space, symmetric InfoNCE.

As in CLIP: both sides are L2-normalised, similarities are scaled by a
learnable temperature (``exp(logit_scale)``, clamped at 100), and the loss
averages caption->image and image->caption cross-entropy over the batch.
Images are given as precomputed feature vectors; only the text side is
projected. ``labels`` identify images within a batch, so that two captions of
one image (e.g. its English and German captions) are both positives.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from xling.errors import ConfigError
from xling.models.heads import HEADS, HeadOutput, pool

IMAGE_KEY = "image_features"  # the batch key holding (B, D) image vectors


def info_nce(text: torch.Tensor, images: torch.Tensor, scale: torch.Tensor | float,
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE of L2-normalised ``text`` (B, D) and ``images`` (B, D).

    Without ``labels``, caption i belongs to image i only; with them, to every
    image of the batch with the same label (the target spreads evenly over them).
    """
    logits = scale * text @ images.T
    size = logits.shape[0]
    if labels is None:
        positives = torch.eye(size, device=logits.device)
    else:
        positives = (labels[:, None] == labels[None, :]).float()
    targets = positives / positives.sum(dim=1, keepdim=True)
    caption_loss = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    image_loss = -(targets * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()  # positives are symmetric
    return (caption_loss + image_loss) / 2


@HEADS.register("image_text")
class ImageTextHead(nn.Module):
    """Pool the fused text, project to the image dimension, L2-normalise; InfoNCE when labels are given.

    ``logits`` are the normalised text embeddings (B, image_dim); retrieval
    compares them with the normalised image vectors.
    """

    def __init__(self, hidden_size: int, image_dim: int = 512, pooling: str = "mean", dropout: float = 0.1,
                 temperature: float = 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        if image_dim < 1:
            raise ConfigError(f"image_dim must be >= 1, got {image_dim}")
        if not 0 < temperature:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        if pooling not in ("first", "mean"):
            raise ConfigError(f"pooling must be 'first' or 'mean', not {pooling!r}")
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(hidden_size, image_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))
        self.max_scale = max_scale

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=self.max_scale)

    def forward(self, features, attention_mask, labels=None, image_features=None, **_) -> HeadOutput:
        pooled = pool(features, attention_mask, self.pooling)
        text = F.normalize(self.project(self.dropout(pooled)).float(), dim=-1)
        loss = None
        if labels is not None:
            if image_features is None:
                raise ValueError(f"image-text training batches need {IMAGE_KEY!r}")
            images = F.normalize(image_features.float(), dim=-1)
            loss = info_nce(text, images, self.scale(), labels)
        return HeadOutput(text, loss)
