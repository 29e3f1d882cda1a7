"""encoder -> fusion -> head, joined by constructor injection; saving and loading."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xling.errors import ConfigError
from xling.models.encoder import Encoder, loading
from xling.models.fusion import build_fusion, resolved_fusion_options, saved_fusion_options
from xling.models.heads import HEADS, HeadOutput

SPEC_FILE = "xling_model.json"
WEIGHTS_FILE = "xling_heads.safetensors"


@dataclass
class HeadSpec:
    type: str
    labels: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelSpec:
    """Everything needed to rebuild a model around a saved encoder.

    ``build_model`` records every fusion option, defaults included, so a saved model does not depend on
    today's defaults; a spec saved before that (e.g. AIF without ``norm``) is read with the old defaults.
    """

    encoder: str
    fusion: str = "last"
    fusion_layer: int | None = None
    fusion_options: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, HeadSpec] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelSpec":
        heads = {name: HeadSpec(**spec) for name, spec in data.get("heads", {}).items()}
        options = saved_fusion_options(data.get("fusion", "last"), data.get("fusion_options", {}))
        return cls(**{**data, "heads": heads, "fusion_options": options})


class XlingModel(nn.Module):
    """An encoder, one fusion module and one head per task."""

    def __init__(self, encoder: Encoder, fusion: nn.Module, heads: dict[str, nn.Module], spec: ModelSpec) -> None:
        super().__init__()
        self.encoder = encoder
        self.fusion = fusion
        self.heads = nn.ModuleDict(heads)
        self.spec = spec

    @property
    def default_task(self) -> str:
        return next(iter(self.heads))

    def features(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """The fused (B, T, d) representation."""
        hidden_states = self.encoder(input_ids, attention_mask, token_type_ids)
        return self.fusion(hidden_states, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        task: str | None = None,
        **extra: Any,
    ) -> HeadOutput:
        head = self.heads[task or self.default_task]
        shape = input_ids.shape
        if input_ids.dim() == 3:  # (B, choices, T): encode each choice as its own sequence
            input_ids, attention_mask = input_ids.flatten(0, 1), attention_mask.flatten(0, 1)
            token_type_ids = token_type_ids.flatten(0, 1) if token_type_ids is not None else None
        features = self.features(input_ids, attention_mask, token_type_ids)
        return head(features, attention_mask, labels=labels, batch_shape=shape, **extra)

    def add_head(self, task: str, spec: HeadSpec) -> None:
        self.heads[task] = make_head(spec, self.encoder.hidden_size)
        self.spec.heads[task] = spec

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters split into encoder, fusion and heads (each gets its own learning rate)."""
        def trainable(module: nn.Module) -> list[nn.Parameter]:
            return [p for p in module.parameters() if p.requires_grad]

        return {"encoder": trainable(self.encoder), "fusion": trainable(self.fusion), "heads": trainable(self.heads)}


def make_head(spec: HeadSpec, hidden_size: int) -> nn.Module:
    cls = HEADS.get(spec.type)
    options = dict(spec.options)
    if spec.labels:
        options["num_labels"] = len(spec.labels)
    return cls(hidden_size=hidden_size, **options)


def build_model(spec: ModelSpec, encoder: Encoder | None = None) -> XlingModel:
    """Build a model; loads the pretrained encoder named in the spec unless one is given."""
    encoder = encoder if encoder is not None else Encoder.from_pretrained(spec.encoder)
    fusion = build_fusion(spec.fusion, encoder.hidden_size, encoder.num_layers, spec.fusion_layer,
                          **spec.fusion_options)
    spec = replace(spec, fusion_options=resolved_fusion_options(spec.fusion, spec.fusion_options))
    heads = {task: make_head(head, encoder.hidden_size) for task, head in spec.heads.items()}
    return XlingModel(encoder, fusion, heads, spec)


def save_model(model: XlingModel, directory: str | Path, tokenizer: Any = None) -> Path:
    """Write ``encoder/`` (a plain Hugging Face checkpoint), the fusion and head weights, and the spec."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.encoder.model.save_pretrained(directory / "encoder")
    if tokenizer is not None:
        tokenizer.save_pretrained(directory / "encoder")
    state = {f"fusion.{k}": v for k, v in model.fusion.state_dict().items()}
    state.update({f"heads.{k}": v for k, v in model.heads.state_dict().items()})
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(directory / WEIGHTS_FILE))
    (directory / SPEC_FILE).write_text(json.dumps(asdict(model.spec), indent=2) + "\n")
    return directory


def load_model(directory: str | Path) -> XlingModel:
    """Load a model written by :func:`save_model`."""
    from safetensors.torch import load_file

    directory = Path(directory)
    if not (directory / SPEC_FILE).exists():
        raise ConfigError(f"{directory} is not a saved xling model (no {SPEC_FILE})")
    with loading(str(directory / SPEC_FILE), "model description"):
        spec = ModelSpec.from_dict(json.loads((directory / SPEC_FILE).read_text(encoding="utf-8")))
    model = build_model(spec, Encoder.from_pretrained(str(directory / "encoder")))
    with loading(str(directory / WEIGHTS_FILE), "weights"):
        state = load_file(str(directory / WEIGHTS_FILE))
        model.fusion.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("fusion.")})
        model.heads.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("heads.")})
    return model
