"""Layer fusion: reduce an encoder's hidden states to one (B, T, d) tensor.

Contract: ``fusion(hidden_states, attention_mask)`` where ``hidden_states``
is a sequence of ``num_layers + 1`` tensors of shape (B, T, d) (index 0 is
the embedding output, ``num_layers`` the last layer) and ``attention_mask``
is (B, T) with 1 on real tokens. Every method is built as
``FUSIONS.get(name)(hidden_size=d, num_layers=L, **options)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

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
    """Batch norm whose statistics come from real rows only: tokens of a (B, T, d) batch, or sequences of (B, d).

    ``mask`` is (B, T) for tokens or (B,) for sequences (default: every row is real). Only real rows are
    normalised and counted in the batch statistics and the running averages, so padding neither counts nor
    changes anything; the other rows come out as 0. In training mode, a batch with a single real row (one
    value per channel: no batch variance, where ``nn.BatchNorm1d`` raises) is normalised with the running
    statistics, as in eval mode, and does not update them (its weight and bias still learn). This is what
    happens to the global branch on an epoch's last batch of one; with ``batch_size=1`` throughout, the
    global branch would keep its initial statistics (mean 0, variance 1), so use batches of two or more.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)

    @property
    def weight(self) -> nn.Parameter:
        return self.norm.weight

    @property
    def bias(self) -> nn.Parameter:
        return self.norm.bias

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        keep = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        rows = x[keep]
        if self.training and rows.shape[0] < 2:
            norm = self.norm
            normed = F.batch_norm(rows, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                  training=False, eps=norm.eps)
        else:
            normed = self.norm(rows)
        out = normed.new_zeros(x.shape)
        out[keep] = normed
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
        """(..., d) -> (..., d); ``mask`` marks the real rows (batch norm only; layer norm is per row)."""
        x = torch.relu(self._norm(self.norm_inner, self.down(x), mask))
        return self._norm(self.norm_out, self.up(x), mask)


@FUSIONS.register("aif")
class AIFFusion(nn.Module):
    """DLFA with the AIF gate (Chen et al. 2022): fuse the last layer X with layer k, Y.

    A = X + Y; M = sigmoid(local(A) + global(masked_mean(A))); Z = M * X + (1 - M) * Y.
    ``local`` runs on every token, ``global`` on the sequence context (the mean
    of A over real tokens), each two per-token projections d -> d/r -> d
    (MS-CAM's 1x1 convolutions, r = ``reduction``) with normalisation and ReLU
    between. ``norm='batch'`` (default, the paper's design) is batch norm over
    real tokens only (local branch) and over the batch's sequences (global
    branch), see :class:`MaskedBatchNorm`. ``norm='layer'`` (an xling option;
    the default before batch norm was) puts a LayerNorm on each branch's
    output, which fixes the channel mean of the gate logits for every token:
    the gate can trade channels but not move a whole token towards layer k.
    ``double=True`` is the factor-2 output of the attentional-feature-fusion
    reference code (2MX + 2(1-M)Y). ``gate_bias`` (default 0, as in the paper)
    initialises the bias of each branch's output normalisation to
    ``gate_bias / 2``, so the gate starts near sigmoid(gate_bias): e.g. 4
    starts at about 0.98, i.e. from the last layer (the baseline), and lets
    training bring layer k in. It is an xling option for short budgets, not
    part of the paper's method.
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int,
        layer: int | None = None,
        reduction: int = 4,
        norm: str = "batch",
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
            nn.init.constant_(branch.norm_out.bias, float(gate_bias) / 2)
        self.scale = 2.0 if double else 1.0
        self.last_gate: torch.Tensor | None = None  # kept for analysis (detached)

    def gate_logits(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        """local(A) + global(context): (B, T, d), the gate before the sigmoid."""
        a = hidden_states[-1] + hidden_states[self.layer]
        local = self.local_branch(a, attention_mask)
        # the global branch's batch norm counts only sequences that have a real token
        context = self.global_branch(masked_mean(a, attention_mask), attention_mask.bool().any(1))
        return local + context.unsqueeze(1)

    def gate(self, hidden_states: Sequence[torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.gate_logits(hidden_states, attention_mask))

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


# Options whose default changed: a model saved before the change recorded no value and was built with these.
# (AIF's default norm was "layer" until the paper's batch norm became the default.)
DEFAULTS_BEFORE_RECORDING: dict[str, dict[str, Any]] = {"aif": {"norm": "layer"}}

_NOT_OPTIONS = {"self", "hidden_size", "num_layers", "layer"}


def _parameters(name: str) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(FUSIONS.get(name).__init__).parameters


def resolved_fusion_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every default of the method filled in, so a saved spec does not depend on defaults."""
    defaults = {key: param.default for key, param in _parameters(name).items()
                if key not in _NOT_OPTIONS and param.default is not inspect.Parameter.empty}
    return {**defaults, **options}


def saved_fusion_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a spec read from disk: a key it lacks takes the default it had when it was saved."""
    return {**DEFAULTS_BEFORE_RECORDING.get(name, {}), **options}


def build_fusion(name: str, hidden_size: int, num_layers: int, layer: int | None = None, **options) -> nn.Module:
    """Build a fusion module; ``layer`` goes to methods that take one."""
    cls = FUSIONS.get(name)
    params = _parameters(name)
    if layer is not None:
        if "layer" not in params:
            raise ConfigError(f"fusion {name!r} takes no fusion layer (got {layer})")
        options["layer"] = layer
    unknown = sorted(set(options) - set(params) - {"self"})
    if unknown:
        allowed = sorted(set(params) - _NOT_OPTIONS)
        raise ConfigError(f"fusion {name!r} has no option(s) {unknown}; it takes {allowed or 'none'}")
    return cls(hidden_size=hidden_size, num_layers=num_layers, **options)
