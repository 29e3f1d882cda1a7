"""The ranges and choices of :class:`xling.config.TrainConfig`'s options, checked when a config is made.

Every bad value is a :class:`~xling.errors.ConfigError` naming the option and the value (the error
catalogue, ``tests/test_error_catalogue.py``, holds a case for each).
"""

from __future__ import annotations

import math
from typing import Any

from xling.config import MIXED_PRECISION
from xling.errors import ConfigError
from xling.tasks.task import SPLIT_ALIASES


def check_train_config(cfg: Any) -> None:
    """Raise a ConfigError for the first option of ``cfg`` out of its range."""
    positive = ("batch_size", "gradient_accumulation", "eval_batch_size")
    for name in positive:
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.eval_tokens is not None and cfg.eval_tokens < 0:
        raise ConfigError(f"eval_tokens must be >= 0 or unset, got {cfg.eval_tokens}")
    if cfg.max_tokens_per_batch is not None and cfg.max_tokens_per_batch < 0:
        raise ConfigError(f"max_tokens_per_batch must be >= 0 or unset, got {cfg.max_tokens_per_batch}")
    for name in ("max_train_examples", "max_eval_examples", "max_selection_examples", "max_steps",
                 "eval_every", "checkpoint_every", "max_seq_length"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be >= 1 or unset, got {value}")
    if cfg.epochs is not None and not (math.isfinite(cfg.epochs) and cfg.epochs > 0):
        raise ConfigError(f"epochs must be a finite number > 0, got {cfg.epochs}")
    for name in ("learning_rate", "fusion_learning_rate", "head_learning_rate", "checkpoint_minutes"):
        value = getattr(cfg, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a finite number > 0, got {value}")
    for name in ("weight_decay", "max_grad_norm"):
        if not (math.isfinite(getattr(cfg, name)) and getattr(cfg, name) >= 0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {getattr(cfg, name)}")
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed must be in [0, 2**32), got {cfg.seed}")
    if cfg.max_oracle_examples < 1:
        raise ConfigError(f"max_oracle_examples must be >= 1, got {cfg.max_oracle_examples}")
    if cfg.num_workers < 0:
        raise ConfigError(f"num_workers must be >= 0, got {cfg.num_workers}")
    for name in ("train_split", "dev_split", "eval_split", "fallback_split"):
        value = getattr(cfg, name)
        if value is not None and value not in SPLIT_ALIASES:
            raise ConfigError(f"{name} must be one of {', '.join(SPLIT_ALIASES)}, got {value!r}")
    if not 0 <= cfg.warmup_ratio < 1:
        raise ConfigError(f"warmup_ratio must be in [0, 1), got {cfg.warmup_ratio}")
    if cfg.mixed_precision not in MIXED_PRECISION:
        raise ConfigError(f"mixed_precision must be one of {MIXED_PRECISION}, got {cfg.mixed_precision!r}")
    if cfg.missing_languages not in ("error", "skip"):
        raise ConfigError(f"missing_languages must be error or skip, got {cfg.missing_languages!r}")
    if cfg.pooling not in ("first", "mean"):
        raise ConfigError(f"pooling must be first or mean, got {cfg.pooling!r}")
    if cfg.selection_holdout < 0:
        raise ConfigError("selection_holdout must be >= 0")
    if cfg.parallel_holdout < 0:
        raise ConfigError("parallel_holdout must be >= 0")
    if cfg.average_checkpoints < 0:
        raise ConfigError("average_checkpoints must be >= 0")
    if cfg.logging_steps < 1:
        raise ConfigError(f"logging_steps must be >= 1, got {cfg.logging_steps}")
    from xling.training.trackers import parse_report_to

    parse_report_to(cfg.report_to)  # names only; the packages are checked when a run starts
