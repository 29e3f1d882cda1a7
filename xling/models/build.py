"""The model of a run: the task kind's head on the configured encoder and fusion; tokenizer, device, precision."""

from __future__ import annotations

from typing import Any

import torch

from xling.config import TrainConfig
from xling.errors import ConfigError
from xling.kinds import get_kind
from xling.models.encoder import Encoder, check_model_source, check_tokenizer_source, loading
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
    if cfg.gradient_checkpointing:
        model.encoder.gradient_checkpointing()
    if cfg.compile:
        model.encoder.model.compile(dynamic=True)  # in place: parameter names and saved files stay the same
    return model


def load_tokenizer(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    check_model_source(name_or_path)
    check_tokenizer_source(name_or_path)
    with loading(name_or_path, "tokenizer of"):
        return AutoTokenizer.from_pretrained(name_or_path)


def check_sequence_length(tokenizer: Any, max_seq_length: int | None, model: str) -> None:
    """``max_seq_length`` must hold the tokenizer's special tokens and at least one token."""
    if max_seq_length is None:
        return
    special = tokenizer.num_special_tokens_to_add(pair=False)
    if max_seq_length < special + 1:
        raise ConfigError(f"max_seq_length {max_seq_length} is too short for {model}: its {special} special "
                          f"token(s) leave no room for text; use at least {special + 1} (tasks default to 128)")


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def resolve_mixed_precision(setting: str) -> str:
    """``auto`` -> bf16 on a GPU that supports it, else no; other settings as given."""
    if setting != "auto":
        return setting
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"
