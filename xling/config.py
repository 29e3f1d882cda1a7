"""Run configuration: frozen dataclasses, loaded from YAML, overridden by flags, saved with the run.

Every field is a YAML key and a command-line flag (``max_train_examples``
<-> ``--max-train-examples``). Flags override the file; the resolved config
(with task defaults filled in) is written to the run directory. A config may
hold another one as a field (``PipelineConfig.train`` is the options its
stages share): the inner config's options are then flat keys and flags of
the outer one, as if they were its own (:func:`option_fields`).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xling.errors import ConfigError

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
# Options that may differ between a killed run and its resumption (the rest must match the saved config).
RESUME_FREE = frozenset({"resume", "quiet", "overwrite", "num_workers", "eval_batch_size", "eval_tokens",
                         "max_tokens_per_batch", "gradient_checkpointing", "compile", "checkpoint_every",
                         "checkpoint_minutes", "report_to", "logging_steps",
                         "output_dir"})  # output_dir: a run folder may be moved


def _opt(default: Any, help: str, **extra: Any) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **extra})
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on."""

    task: str | None = _opt(None, "task name (xling tasks lists them) or a YAML task file (docs/tasks.md)")
    include_tasks: list = _opt([], "YAML task files, or folders of them, whose tasks to register "
                                   "(comma-separated; docs/tasks.md)")
    model: str | None = _opt(None, "Hugging Face model id or local checkpoint directory")
    output_dir: str | None = _opt(None, "run directory (results.json, config, checkpoints, predictions)")
    # model
    fusion: str = _opt("last", "layer fusion method: last, aif, scalar_mix, mean, concat")
    fusion_layer: int | None = _opt(None, "lower layer fused with the last (1..L-1, or negative)")
    fusion_options: dict = _opt({}, "extra fusion options, e.g. reduction=4 norm=layer|batch double=true",
                                flag="fusion-option", metavar="KEY=VALUE")
    pooling: str = _opt("first", "sequence pooling for classification heads: first or mean")
    dropout: float = _opt(0.1, "dropout in the heads")
    freeze_embeddings: bool = _opt(False, "freeze the word-embedding matrix (much faster on CPU)")
    # data
    data_dir: str | None = _opt(None, "local data folder (XTREME layout, CoNLL-U, ...); default: the hub")
    files: dict = _opt({}, "per-language file override LANG:SPLIT=PATH (repeatable)", flag="file",
                       metavar="LANG:SPLIT=PATH")
    source: str = _opt("auto", "data source: auto (local if --data-dir/--file given, else hub), local, hub")
    image_features: str | None = _opt(None, "image feature file for image-text tasks such as multi30k (.npy + .ids.txt, "
                                            ".safetensors or .parquet; see docs/pipelines.md)")
    train_language: str | None = _opt(None, "training language (default: the task's, English)")
    train_languages: list = _opt([], "several training languages, comma-separated (multilingual training data; "
                                     "selection then uses their dev sets together)")
    train_split: str = _opt("train", "split to train on (e.g. dev for PAWS-X when only English dev exists)")
    dev_split: str = _opt("dev", "English split for model selection")
    selection_holdout: int = _opt(0, "hold out this many training examples as the selection set "
                                     "(needed when training on the dev split)")
    parallel_holdout: int = _opt(0, "hold out this many rows of the English split that is parallel across languages "
                                    "(the training split, else dev): no training or selection on them, and "
                                    "other languages' parallel splits are scored only on their translations")
    languages: list = _opt([], "evaluation languages, comma-separated (default: all of the task's)")
    eval_split: str = _opt("test", "split scored per language")
    fallback_split: str | None = _opt("dev", "split to score when eval_split has no labels or is missing "
                                             "(empty: fail instead)")
    missing_languages: str = _opt("error", "a language with no data: error or skip")
    max_train_examples: int | None = _opt(None, "random subset of the training data")
    max_eval_examples: int | None = _opt(None, "random subset of each evaluation set (same for every run)")
    max_selection_examples: int | None = _opt(None, "random subset of the English selection set")
    # optimisation
    seed: int = _opt(42, "random seed")
    epochs: float | None = _opt(None, "training epochs (default: the task's XTREME default)")
    max_steps: int | None = _opt(None, "stop after this many optimiser steps (overrides epochs)")
    batch_size: int = _opt(32, "examples per optimiser step before accumulation, over all processes (each takes "
                                "batch_size / processes)")
    gradient_accumulation: int = _opt(1, "batches accumulated per optimiser step")
    max_tokens_per_batch: int | None = _opt(None, "split a training batch over this many padded tokens into "
                                                  "micro-batches accumulated to the same gradient (default: "
                                                  "the task's, e.g. QA 768; 0: never split)")
    compile: bool = _opt(False, "torch.compile the encoder (dynamic shapes) for training and evaluation")
    gradient_checkpointing: bool = _opt(False, "recompute the encoder's activations in the backward pass "
                                               "(much less memory, about a third more compute)")
    eval_batch_size: int = _opt(64, "examples per evaluation batch (when eval_tokens is 0)")
    eval_tokens: int | None = _opt(None, "evaluation batches sorted by length and filled up to this many padded "
                                         "tokens (default: 512 on a CPU, 16384 on a GPU; 0: eval_batch_size "
                                         "examples per batch)")
    learning_rate: float = _opt(2e-5, "encoder learning rate")
    fusion_learning_rate: float = _opt(1e-3, "learning rate of the fusion module")
    head_learning_rate: float | None = _opt(None, "learning rate of the heads (default: learning_rate)")
    weight_decay: float = _opt(0.01, "AdamW weight decay (not on biases and norms)")
    warmup_ratio: float = _opt(0.1, "share of steps with linear warm-up")
    max_grad_norm: float = _opt(1.0, "gradient clipping norm (0: off)")
    fused_optimizer: bool = _opt(True, "fused AdamW kernel where torch has one for the device (else foreach)")
    max_seq_length: int | None = _opt(None, "sub-word limit per sequence (default: the task's, 128)")
    group_by_length: bool = _opt(True, "batch sequences of similar length (dynamic padding)")
    mixed_precision: str = _opt("auto", "auto (bf16 on a capable GPU), no, bf16, fp16")
    # selection, checkpoints, output
    eval_every: int | None = _opt(None, "evaluate on English dev every N steps (default: each epoch)")
    average_checkpoints: int = _opt(0, "end with the average of the weights at the last K evaluation points "
                                       "instead of the best one (0: off)")
    oracle_selection: bool = _opt(True, "also record which checkpoint target-language dev sets would pick")
    max_oracle_examples: int = _opt(1000, "examples per language for the oracle dev evaluation")
    checkpoint_every: int | None = _opt(None, "save a resumable checkpoint every N steps")
    checkpoint_minutes: float = _opt(10.0, "save a resumable checkpoint at least this often")
    save_model: bool = _opt(True, "keep the selected model in OUTPUT/model")
    save_predictions: bool = _opt(True, "write per-language predictions")
    num_workers: int = _opt(0, "data-loader worker processes")
    quiet: bool = _opt(False, "no progress bars (for logs)")
    report_to: list = _opt([], "experiment trackers, comma-separated: tensorboard, mlflow, wandb or none "
                               "(needs xling[trackers]; files in the run directory, see docs/trackers.md)")
    logging_steps: int = _opt(50, "log training loss, learning rate and gradient norm to the trackers every N steps")
    resume: bool = _opt(False, "continue a killed run from its last checkpoint")
    overwrite: bool = _opt(False, "replace a finished run in output_dir")

    def __post_init__(self) -> None:
        from xling.option_checks import check_train_config

        check_train_config(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def with_task_defaults(self, task: Any) -> "TrainConfig":
        """Fill a task declaration's defaults into unset options (epochs, sequence length, languages).

        A task from a YAML file is then named by the file's absolute path (as are ``include_tasks``), so
        that the saved config finds it again from any directory (``xling evaluate``, ``--resume``).
        """
        epochs = self.epochs if self.epochs is not None else task.options.get("epochs", 3)
        from_file = task.origin and str(self.task).lower().endswith((".yaml", ".yml"))
        return self.replace(
            task=task.origin if from_file else self.task,
            include_tasks=[str(Path(p).expanduser().resolve()) for p in self.include_tasks],
            epochs=epochs,
            max_seq_length=self.max_seq_length or task.max_seq_length,
            max_tokens_per_batch=(self.max_tokens_per_batch if self.max_tokens_per_batch is not None
                                  else task.options.get("max_tokens_per_batch")),
            train_language=self.train_language or task.train_language,
            languages=list(self.languages) or list(task.languages),
        )

    def with_absolute_paths(self) -> "TrainConfig":
        """Local paths made absolute (the model when it is a local folder, data, files, output), so that a
        saved config works from any working directory and a moved run still finds its data."""
        def absolute(path: Any) -> Any:
            if isinstance(path, list):
                return [absolute(p) for p in path]
            return os.path.abspath(os.path.expanduser(path)) if isinstance(path, str) and path else path

        model = self.model
        if model and os.path.exists(os.path.expanduser(model)):
            model = absolute(model)
        files = {lang: {split: absolute(p) for split, p in splits.items()} for lang, splits in self.files.items()}
        return self.replace(model=model, data_dir=absolute(self.data_dir), files=files,
                            image_features=absolute(self.image_features), output_dir=absolute(self.output_dir))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def require(self, *names: str) -> None:
        missing = [n for n in names if getattr(self, n) in (None, "")]
        if missing:
            flags = ", ".join("--" + n.replace("_", "-") for n in missing)
            raise ConfigError(f"missing required option(s): {flags} (on the command line or in the YAML config)")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` once per class (building the CLI parser asks for them hundreds of times)."""
    return typing.get_type_hints(cls)


def _nested(cls: type) -> dict[str, type]:
    """The fields of ``cls`` that hold a config of their own (name -> its class)."""
    hints = _hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}


def option_fields(cls: type = TrainConfig) -> list[dataclasses.Field]:
    """Every option of ``cls``, flat: a nested config's options stand in place of the field holding it."""
    nested = _nested(cls)
    own = {f.name for f in dataclasses.fields(cls) if f.name not in nested}
    out: list[dataclasses.Field] = []
    for f in dataclasses.fields(cls):
        if f.name in nested:
            out += [inner for inner in option_fields(nested[f.name]) if inner.name not in own]
        else:
            out.append(f)
    return out


def field_names(cls: type = TrainConfig) -> list[str]:
    return [f.name for f in option_fields(cls)]


def build_config(cls: type, options: dict[str, Any]):
    """``cls`` from flat options (each nested config gets the options that are its own)."""
    nested = _nested(cls)
    own = {f.name for f in dataclasses.fields(cls) if f.name not in nested}
    unknown = sorted(set(options) - set(field_names(cls)))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for {cls.__name__}")
    kwargs = {k: v for k, v in options.items() if k in own}
    for name, inner in nested.items():
        names = set(field_names(inner))
        kwargs[name] = build_config(inner, {k: v for k, v in options.items() if k in names and k not in own})
    return cls(**kwargs)


def load_yaml(path: str | Path, kind: str = "config file", shape: str = "a mapping of option: value") -> dict[str, Any]:
    """A YAML file whose top level is a mapping; a clear ConfigError names the file (a ``kind``) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{kind} {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected {shape} at the top level")
    return data


def check_keys(data: dict[str, Any], cls: type = TrainConfig, where: str = "config") -> None:
    known = field_names(cls)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"unknown option {key!r} in {where}.{hint}")


def make_config(cls: type = TrainConfig, yaml_path: str | Path | None = None,
                overrides: dict[str, Any] | None = None):
    """YAML file first, then overrides (flags). Unknown keys are errors."""
    data: dict[str, Any] = load_yaml(yaml_path) if yaml_path else {}
    check_keys(data, cls, str(yaml_path))
    data = {k: _coerce(cls, k, v) for k, v in data.items()}
    data.update(overrides or {})
    try:
        return build_config(cls, data)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def _field_type(cls: type, name: str) -> Any:
    hints = _hints(cls)
    if name in hints and name not in _nested(cls):
        return hints[name]
    for inner in _nested(cls).values():
        if name in field_names(inner):
            return _field_type(inner, name)
    raise KeyError(name)


def _base(annotation: Any) -> Any:
    """``int | None`` -> int; ``list`` -> list."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


def _coerce(cls: type, name: str, value: Any) -> Any:
    """YAML values to field types: '1e-5' -> float, 'de,es' -> list, ..."""
    base = _base(_field_type(cls, name))
    if value is None:
        return None
    try:
        if base is list:
            return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        if base is dict:
            if not isinstance(value, dict):
                raise ValueError("expected a mapping")
            return value
        if base is bool:
            return parse_bool(value)
        if base in (int, float):
            return base(value)
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {name}: cannot read {value!r} as {getattr(base, '__name__', base)} ({exc})") from None


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_scalar(text: str) -> Any:
    """``8`` -> 8, ``0.5`` -> 0.5, ``true`` -> True, ``a,b`` -> ['a', 'b'], else the string (via YAML)."""
    value = yaml.safe_load(text)
    if isinstance(value, str) and "," in value:
        return [parse_scalar(v) for v in value.split(",")]
    return value


# ---------------------------------------------------------------- argparse integration


def add_config_arguments(parser: argparse.ArgumentParser, cls: type = TrainConfig,
                         skip: tuple[str, ...] = ()) -> None:
    """One flag per option; defaults are suppressed so only given flags override the YAML file."""
    for f in option_fields(cls):
        if f.name in skip:
            continue
        base = _base(_field_type(cls, f.name))
        flag = "--" + f.metadata.get("flag", f.name.replace("_", "-"))
        help_text = f.metadata.get("help", "")
        common: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if base is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        elif base is dict:
            parser.add_argument(flag, action="append", metavar=f.metadata.get("metavar", "KEY=VALUE"), **common)
        elif base is list:
            parser.add_argument(flag, metavar="A,B,...", **common)
        else:
            metavar = f.name.upper() if base is str else base.__name__.upper()
            parser.add_argument(flag, type=_argparse_type(base), metavar=metavar, **common)


def _argparse_type(base: Any):
    if base is str:
        return lambda s: s if s != "" else None
    return base


def overrides_from_args(args: argparse.Namespace, cls: type = TrainConfig) -> dict[str, Any]:
    """The fields given on the command line, parsed to their types."""
    out: dict[str, Any] = {}
    for name in field_names(cls):
        if not hasattr(args, name):
            continue
        value = getattr(args, name)
        base = _base(_field_type(cls, name))
        if base is dict:
            flag = "--" + _option_field(cls, name).metadata.get("flag", name.replace("_", "-"))
            value = parse_files(value) if name == "files" else parse_key_values(value, flag)
        elif base is list:
            value = [v.strip() for v in value.split(",") if v.strip()]
        out[name] = value
    return out


def _option_field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in option_fields(cls) if f.name == name)


def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        result[key.strip().replace("-", "_")] = parse_scalar(value)
    return result


def parse_files(items: list[str]) -> dict[str, dict[str, Any]]:
    """``de:test=path`` (repeatable; ``path1+path2`` concatenates files) -> {de: {test: path}}."""
    result: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, path = item.partition("=")
        lang, colon, split = target.partition(":")
        if not sep or not colon or not lang or not split or not path:
            raise ConfigError(f"--file expects LANG:SPLIT=PATH, got {item!r}")
        result.setdefault(lang.strip(), {})[split.strip()] = path.split("+") if "+" in path else path
    return result


def save_yaml(config: Any, path: str | Path) -> None:
    """The config's flat options (``to_dict``) as YAML, in field order."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True))
