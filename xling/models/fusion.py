"""Layer fusion: reduce an encoder's hidden states to one (B, T, d) tensor.

Contract: ``fusion(hidden_states, attention_mask)`` where ``hidden_states``
is a sequence of ``num_layers + 1`` tensors of shape (B, T, d) (index 0 is
the embedding output, ``num_layers`` the last layer) and ``attention_mask``
is (B, T) with 1 on real tokens. Every method is built as
``FUSIONS.get(name)(hidden_size=d, num_layers=L, **options)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from xling.errors import ConfigError
from xling.registry import Registry

FUSIONS: Registry[type[nn.Module]] = Registry("fusion method")


def resolve_layer(layer: int | None, num_layers: int, *, allow_last: bool = False) -> int:
    """Map a user layer index (1..L-1, or negative as in Python over L+1 hidden states) to 0..L."""
    if layer is None:
        raise ConfigError("this fusion method needs --fusion-layer (1 .. %d, or negative)" % (num_layers - 1))
    resolved = layer + num_layers + 1 if layer < 0 else layer
    upper = num_layers if allow_last else num_layers - 1
    if not 1 <= resolved <= upper:
        raise ConfigError(
            f"fusion layer {layer} is out of range for a model with {num_layers} layers: "
            f"use 1 .. {upper} (or -{num_layers} .. -{num_layers + 1 - upper})"
        )
    return resolved


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: (B, T, d), (B, T) -> (B, d)."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


@FUSIONS.register("last")
class LastLayer(nn.Module):
    """The last layer: the baseline everybody reports."""

    def __init__(self, hidden_size: int, num_layers: int) -> None:
        super().__init__()

    def forward(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        return hidden_states[-1]


class MaskedBatchNorm(nn.Module):
    """BatchNorm over the real tokens of a (B, T, d) batch (padding neither counts nor changes)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 2:
            return self.norm(x)
        keep = mask.bool()
        out = torch.zeros_like(x)
        out[keep] = self.norm(x[keep])
        return out


class _Branch(nn.Module):
    """Two projections d -> d/r -> d with normalisation and ReLU between (a 1x1-conv pair of MS-CAM)."""

    def __init__(self, dim: int, reduction: int, norm: str) -> None:
        super().__init__()
        inner = max(1, dim // reduction)
        self.down, self.up = nn.Linear(dim, inner), nn.Linear(inner, dim)
        make = {"layer": nn.LayerNorm, "batch": MaskedBatchNorm}[norm]
        self.norm_inner, self.norm_out = make(inner), make(dim)
        self.batch_norm = norm == "batch"

    def _norm(self, layer: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return layer(x, mask) if self.batch_norm else layer(x)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.relu(self._norm(self.norm_inner, self.down(x), mask))
        return self._norm(self.norm_out, self.up(x), mask)


@FUSIONS.register("aif")
class AIFFusion(nn.Module):
    """DLFA with the AIF gate (Chen et al. 2022): fuse the last layer X with layer k, Y.

    A = X + Y; M = sigmoid(local(A) + global(masked_mean(A))); Z = M * X + (1 - M) * Y.
    ``local`` runs on every token, ``global`` on the sequence context, each two
    projections with normalisation and ReLU (SENet / MS-CAM). ``norm='batch'``
    uses batch norm over real tokens only; ``double=True`` is the factor-2
    output of the attentional-feature-fusion reference code (2MX + 2(1-M)Y).
    ``gate_bias`` (default 0, as in the paper) initialises the bias of each
    branch's output normalisation to ``gate_bias / 2``, so the gate starts near
    sigmoid(gate_bias): e.g. 4 starts at about 0.98, i.e. from the last layer
    (the baseline), and lets training bring layer k in. It is an xling option
    for short budgets, not part of the paper's method.
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int,
        layer: int | None = None,
        reduction: int = 4,
        norm: str = "layer",
        double: bool = False,
        gate_bias: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in ("layer", "batch"):
            raise ConfigError(f"aif norm must be 'layer' or 'batch', not {norm!r}")
        if reduction < 1:
            raise ConfigError(f"aif reduction must be >= 1, not {reduction}")
        self.layer = resolve_layer(layer, num_layers)
        self.local_branch = _Branch(hidden_size, reduction, norm)
        self.global_branch = _Branch(hidden_size, reduction, norm)
        for branch in (self.local_branch, self.global_branch):
            out_norm = branch.norm_out.norm if isinstance(branch.norm_out, MaskedBatchNorm) else branch.norm_out
            nn.init.constant_(out_norm.bias, float(gate_bias) / 2)
        self.scale = 2.0 if double else 1.0
        self.last_gate: torch.Tensor | None = None  # kept for analysis (detached)

    def gate(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        x, y = hidden_states[-1], hidden_states[self.layer]
        a = x + y
        local = self.local_branch(a, attention_mask)
        context = self.global_branch(masked_mean(a, attention_mask)).unsqueeze(1)
        return torch.sigmoid(local + context)

    def forward(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        m = self.gate(hidden_states, attention_mask)
        self.last_gate = m.detach()
        x, y = hidden_states[-1], hidden_states[self.layer]
        return self.scale * (m * x + (1.0 - m) * y)


@FUSIONS.register("scalar_mix")
class ScalarMix(nn.Module):
    """ELMo's scalar mix: gamma * sum_j softmax(w)_j * h_j over all layers (embeddings included)."""

    def __init__(self, hidden_size: int, num_layers: int, include_embeddings: bool = True) -> None:
        super().__init__()
        self.start = 0 if include_embeddings else 1
        self.weights = nn.Parameter(torch.zeros(num_layers + 1 - self.start))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack(tuple(hidden_states[self.start :]), dim=0)
        weights = torch.softmax(self.weights, dim=0).to(stacked.dtype)
        return self.gamma * torch.einsum("l,lbtd->btd", weights, stacked)


@FUSIONS.register("mean")
class MeanLayers(nn.Module):
    """The unweighted mean of chosen layers (default: all transformer layers 1..L)."""

    def __init__(self, hidden_size: int, num_layers: int, layers: Sequence[int] | None = None) -> None:
        super().__init__()
        chosen = list(layers) if layers else list(range(1, num_layers + 1))
        self.layers = [resolve_layer(k, num_layers, allow_last=True) for k in chosen]

    def forward(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.stack([hidden_states[k] for k in self.layers], dim=0).mean(0)


@FUSIONS.register("concat")
class ConcatProject(nn.Module):
    """[last; layer k] projected back to d by one linear layer."""

    def __init__(self, hidden_size: int, num_layers: int, layer: int | None = None) -> None:
        super().__init__()
        self.layer = resolve_layer(layer, num_layers)
        self.proj = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([hidden_states[-1], hidden_states[self.layer]], dim=-1))


def build_fusion(name: str, hidden_size: int, num_layers: int, layer: int | None = None, **options) -> nn.Module:
    """Build a fusion module; ``layer`` goes to methods that take one."""
    cls = FUSIONS.get(name)
    import inspect

    params = inspect.signature(cls.__init__).parameters
    if layer is not None:
        if "layer" not in params:
            raise ConfigError(f"fusion {name!r} takes no fusion layer (got {layer})")
        options["layer"] = layer
    unknown = sorted(set(options) - set(params) - {"self"})
    if unknown:
        allowed = sorted(set(params) - {"self", "hidden_size", "num_layers", "layer"})
        raise ConfigError(f"fusion {name!r} has no option(s) {unknown}; it takes {allowed or 'none'}")
    return cls(hidden_size=hidden_size, num_layers=num_layers, **options)
