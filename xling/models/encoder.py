"""Any Hugging Face text encoder, returning every hidden state.

BERT, mBERT, XLM-R and e5 load through ``AutoModel``; T5 / mT5 load their
encoder stack alone (``T5EncoderModel`` / ``MT5EncoderModel``) through
``AutoModelForTextEncoding``, so no decoder weights are kept.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xling.errors import ConfigError

HUB_HINT = "Hugging Face hub names look like org/name, e.g. FacebookAI/xlm-roberta-base"


def check_model_source(name_or_path: str) -> None:
    """A local checkpoint folder must exist and hold a readable ``config.json``; a hub name must look like one."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        raise ConfigError(f"model {name_or_path} is a file; give the folder of a Hugging Face checkpoint "
                          "(config.json, model.safetensors, tokenizer files)")
    if path.is_dir():
        config = path / "config.json"
        if not config.is_file():
            what = "is empty" if not any(path.iterdir()) else "has no config.json"
            raise ConfigError(f"model folder {name_or_path} {what}: it is not a Hugging Face checkpoint")
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{config}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or "model_type" not in data:
            raise ConfigError(f"{config}: not a Hugging Face model config (no model_type)")
        return
    text = str(name_or_path)
    looks_local = text.startswith(("/", ".", "~")) or text.count("/") > 1 or "\\" in text or not text.strip()
    if looks_local:
        raise ConfigError(f"model path {name_or_path} does not exist ({HUB_HINT})")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")


def check_tokenizer_source(name_or_path: str) -> None:
    """A local checkpoint folder must hold tokenizer files (else transformers may pick some other tokenizer)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir() and not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ConfigError(f"model folder {name_or_path} has no tokenizer files (one of {', '.join(TOKENIZER_FILES)})")


@contextmanager
def loading(name_or_path: str, what: str = "model") -> Iterator[None]:
    """Turn a failure to load a checkpoint (missing, truncated or random weights, no hub) into one line."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers, safetensors and the hub raise many types
        message = str(exc).strip().splitlines()
        detail = message[0][:240] if message else type(exc).__name__
        local = Path(name_or_path).expanduser().exists()
        hint = "" if local else f"; it is not a local folder, and {HUB_HINT}"
        raise ConfigError(f"cannot load the {what} {name_or_path}: {type(exc).__name__}: {detail}{hint}") from None


class Encoder(nn.Module):
    """Wraps a pretrained encoder; ``forward`` returns ``num_layers + 1`` tensors of shape (B, T, d).

    Index 0 is the embedding output, index ``num_layers`` the last layer.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        config = model.config
        self.num_layers: int = getattr(config, "num_hidden_layers", None) or config.num_layers
        self.hidden_size: int = getattr(config, "hidden_size", None) or config.d_model
        params = inspect.signature(model.forward).parameters
        self.accepts_token_type_ids = "token_type_ids" in params

    @property
    def config(self) -> Any:
        return self.model.config

    @classmethod
    def from_pretrained(cls, name_or_path: str, **kwargs: Any) -> "Encoder":
        from transformers import AutoConfig

        check_model_source(name_or_path)
        with loading(name_or_path):
            config = AutoConfig.from_pretrained(name_or_path, **kwargs)
            return cls(_build(config, lambda model_cls, **extra: model_cls.from_pretrained(
                name_or_path, config=config, **kwargs, **extra)))

    @classmethod
    def from_config(cls, config: Any) -> "Encoder":
        return cls(_build(config, lambda model_cls, **extra: model_cls.from_config(config, **extra)))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self.accepts_token_type_ids:
            kwargs["token_type_ids"] = token_type_ids
        outputs = self.model(**kwargs, output_hidden_states=True, return_dict=True)
        hidden_states = tuple(outputs.hidden_states)
        if len(hidden_states) != self.num_layers + 1:
            raise RuntimeError(
                f"encoder returned {len(hidden_states)} hidden states, expected {self.num_layers + 1}"
            )
        return hidden_states

    def freeze_embeddings(self) -> None:
        self.model.get_input_embeddings().weight.requires_grad_(False)

    def gradient_checkpointing(self) -> None:
        """Recompute each layer's activations in the backward pass (non-reentrant: frozen embeddings work)."""
        if not getattr(self.model, "supports_gradient_checkpointing", False):
            raise ConfigError(f"{type(self.model).__name__} does not support gradient checkpointing")
        kwargs = {"use_reentrant": False}
        if hasattr(self.model, "activation_checkpointing_enable"):  # the name newer transformers use (the old one warns)
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    @property
    def checkpointing(self) -> bool:
        """Whether the layers recompute their activations in the backward pass."""
        flag = getattr(self.model, "is_activation_checkpointing", None)  # older transformers: the old name
        return bool(self.model.is_gradient_checkpointing if flag is None else flag)

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.config.model_type,
            "class": type(self.model).__name__,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "num_parameters": sum(p.numel() for p in self.parameters()),
        }


def _build(config: Any, make):
    """Build the encoder without a pooler where the architecture has one.

    xling pools in its own heads; an unused pooler would be randomly
    initialised when the checkpoint lacks it (e5) and would leave parameters
    without gradients under distributed training.
    """
    from transformers import AutoModel, AutoModelForTextEncoding
    from transformers.models.auto.modeling_auto import MODEL_FOR_TEXT_ENCODING_MAPPING_NAMES as TEXT_ENCODERS

    # T5 / mT5 / UMT5: the encoder stack alone. A saved MT5EncoderModel's config says
    # is_encoder_decoder=False, so look the class up by model type rather than that flag.
    if TEXT_ENCODERS.get(config.model_type, "").endswith("EncoderModel") or getattr(config, "is_encoder_decoder", False):
        return make(AutoModelForTextEncoding)
    try:
        return make(AutoModel, add_pooling_layer=False)
    except TypeError:
        return make(AutoModel)
