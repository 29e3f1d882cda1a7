"""The model of a run: the task kind's head on the configured encoder and fusion; tokenizer, device, precision."""

from __future__ import annotations

from typing import Any

import torch

from xling.config import TrainConfig
from xling.kinds import get_kind
from xling.models.encoder import Encoder, check_model_source, loading
from xling.models.model import HeadSpec, ModelSpec, XlingModel, build_model
from xling.tasks.task import Task


def head_spec(task: Task, cfg: TrainConfig) -> HeadSpec:
    """The head a task gets: its kind's head, the task's labels, the options the kind takes from the run."""
    kind = get_kind(task.kind)
    return HeadSpec(kind.head, list(task.labels or []), kind.head_options(task, cfg))


def build_run_model(task: Task, cfg: TrainConfig, encoder: Encoder | None = None) -> XlingModel:
    """encoder (``cfg.model``) -> fusion (``cfg.fusion``...) -> the task's head."""
    spec = ModelSpec(
        encoder=cfg.model, fusion=cfg.fusion, fusion_layer=cfg.fusion_layer, fusion_options=dict(cfg.fusion_options),
        heads={task.name: head_spec(task, cfg)},
    )
    model = build_model(spec, encoder if encoder is not None else Encoder.from_pretrained(cfg.model))
    if cfg.freeze_embeddings:
        model.encoder.freeze_embeddings()
    return model


def load_tokenizer(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    check_model_source(name_or_path)
    with loading(name_or_path, "tokenizer of"):
        return AutoTokenizer.from_pretrained(name_or_path)


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def resolve_mixed_precision(setting: str) -> str:
    """``auto`` -> bf16 on a GPU that supports it, else no; other settings as given."""
    if setting != "auto":
        return setting
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"
