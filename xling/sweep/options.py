"""How a sweep's option sets become one run's options and name.

- :func:`substitute`: ``${NAME}`` / ``${NAME:-default}`` from the environment, then the file's ``vars``.
- :func:`merge`: later option sets win; mappings merge key by key, lists are replaced.
- :func:`absolute_paths`: data and local model paths made absolute, so a run does not depend on where its
  process starts (a Ray worker's directory is not the driver's).
- :func:`name_part`: ``learning_rate: 2e-4`` -> ``lr2e-4``, the pieces of a run's directory name.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from xling.errors import ConfigError

# Short forms of option names in run names; keys in BARE show their value alone (``aif``, ``mean``).
ABBREVIATIONS = {"learning_rate": "lr", "fusion_learning_rate": "flr", "head_learning_rate": "hlr",
                 "fusion_layer": "L", "batch_size": "bs", "max_train_examples": "n", "epochs": "ep",
                 "max_steps": "steps", "dropout": "do", "warmup_ratio": "wu", "weight_decay": "wd",
                 "max_seq_length": "len", "gradient_accumulation": "ga", "selection_holdout": "ho",
                 "parallel_holdout": "ph"}
BARE = {"task", "fusion", "pooling", "train_language", "train_languages", "stages", "sampler", "model"}
PATH_KEYS = {"data_dir", "image_features"}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
UNSAFE = re.compile(r"[^A-Za-z0-9_.+=-]+")


def substitute(value: Any, variables: dict[str, Any], where: str) -> Any:
    """``${NAME}`` and ``${NAME:-default}`` in every string: the environment first, then the file's vars."""
    if isinstance(value, dict):
        return {k: substitute(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, where) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if name in variables:
            return str(substitute(variables[name], {k: v for k, v in variables.items() if k != name}, where))
        if default is not None:
            return default
        raise ConfigError(f"{where}: ${{{name}}} is neither an environment variable nor in vars:")

    return VARIABLE.sub(one, value)


def merge(base: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    """Later mappings win; a mapping value merges with the mapping it replaces (lists are replaced)."""
    out = copy.deepcopy(base)
    for extra in more:
        for key, value in extra.items():
            if isinstance(out.get(key), dict) and isinstance(value, dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def name_part(key: str, value: Any) -> str:
    """``learning_rate: 2e-4`` -> ``lr2e-4``; ``fusion: aif`` -> ``aif``; ``freeze_embeddings: true`` ->
    ``freeze_embeddings=true``."""
    if key == "model" and isinstance(value, str):
        value = Path(value.rstrip("/")).name
    prefix = "" if key in BARE else ABBREVIATIONS.get(key, f"{key}=")
    return safe(prefix + format_value(value))


def format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{value:g}")
    if isinstance(value, list):
        return "+".join(format_value(v) for v in value) or "none"
    if isinstance(value, dict):
        if "task" in value or "tasks" in value:  # a pipeline stage
            return format_value(value.get("task") or value.get("tasks"))
        return "+".join(f"{k}={format_value(v)}" for k, v in value.items()) or "none"
    return str(value)


def safe(text: str) -> str:
    return UNSAFE.sub("_", text).strip("_") or "_"


def absolute_paths(options: dict[str, Any]) -> dict[str, Any]:
    """Data and model paths made absolute (from the working directory), so a run does not depend on where its
    process starts; a model that is not a local path (a hub id) is kept."""
    out = _absolute(options)
    model = out.get("model")
    if isinstance(model, str) and (model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()):
        out["model"] = _path(model)
    return out


def _absolute(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "files":
            return {k: _absolute(v, "files") for k, v in value.items()}
        return {k: _absolute(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute(v, key if key == "files" else "") for v in value]
    if isinstance(value, str) and value and key in PATH_KEYS | {"files"}:
        return _path(value)
    return value


def _path(text: str) -> str:
    return os.path.abspath(os.path.expanduser(text))
