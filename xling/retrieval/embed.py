"""Sentence embeddings from any layer or fusion of a raw or fine-tuned encoder, mean-pooled over real tokens.

Used by retrieval (``xling retrieve``) and the layer analysis (``xling analyze
layers``). A representation reduces the encoder's ``L + 1`` hidden states
(B, T, d) to one (B, T, d) tensor: one hidden state (``--layer K``), or a
fusion module (:mod:`xling.models.fusion`) — a saved run's trained one, or a
parameter-free one (``last``, ``mean``) on a raw model. Sentences are then
mean-pooled over their attention mask (special tokens included, as XTREME's
retrieval code and e5 do).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from xling.errors import ConfigError
from xling.data.features import Collator, feature_length, sorted_batches
from xling.kinds.retrieval import sentence_features
from xling.models.encoder import Encoder
from xling.models.fusion import build_fusion, masked_mean

log = logging.getLogger("xling")

# (hidden_states: L + 1 tensors (B, T, d), attention_mask (B, T)) -> (B, T, d)
Reduce = Callable[[Sequence[torch.Tensor], torch.Tensor], torch.Tensor]


@dataclass
class Representation:
    """What a sentence vector is made of, as recorded in results (``method`` is ``layer`` or a fusion name)."""

    method: str
    layer: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return self.method + (f"@{self.layer}" if self.layer is not None else "")


class SentenceEncoder:
    """An encoder, its tokenizer and a representation; embeds sentences in length-sorted batches."""

    def __init__(self, encoder: Encoder, tokenizer: Any, reduce: Reduce, representation: Representation, *,
                 name: str = "", max_length: int = 128, batch_size: int = 64, progress: bool = True,
                 device: torch.device | None = None) -> None:
        self.encoder = encoder.eval()
        self.tokenizer = tokenizer
        self.reduce = reduce
        self.representation = representation
        self.name = name
        self.max_length = max_length
        self.batch_size = batch_size
        self.progress = progress
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.encoder.to(self.device)
        if isinstance(reduce, torch.nn.Module):
            reduce.eval().to(self.device)

    @property
    def num_layers(self) -> int:
        return self.encoder.num_layers

    def embed(self, sentences: Sequence[str], desc: str = "embed") -> np.ndarray:
        """(N, d): the representation, mean-pooled."""
        return self._pooled(sentences, lambda hidden, mask: [self.reduce(hidden, mask)], desc)[0]

    def embed_layers(self, sentences: Sequence[str], desc: str = "embed") -> np.ndarray:
        """(L + 1, N, d): every hidden state (index 0 = embeddings), mean-pooled."""
        return self._pooled(sentences, lambda hidden, mask: list(hidden), desc)

    @torch.inference_mode()
    def _pooled(self, sentences: Sequence[str], select, desc: str) -> np.ndarray:
        features = sentence_features(sentences, self.tokenizer, self.max_length)
        collate = Collator(self.tokenizer.pad_token_id)
        out: np.ndarray | None = None
        batches = sorted_batches([feature_length(f) for f in features], self.batch_size)
        for indices in tqdm(batches, desc=desc, unit="batch", leave=False, disable=not self.progress):
            batch = collate([features[i] for i in indices])
            mask = batch["attention_mask"].to(self.device)
            types = batch["token_type_ids"].to(self.device) if "token_type_ids" in batch else None
            hidden = self.encoder(batch["input_ids"].to(self.device), mask, types)
            pooled = torch.stack([masked_mean(h, mask) for h in select(hidden, mask)]).float().cpu().numpy()
            if out is None:
                out = np.zeros((pooled.shape[0], len(sentences), pooled.shape[-1]), dtype=np.float32)
            out[:, indices] = pooled
        if out is None:
            raise ConfigError("no sentences to embed")
        return out


def resolve_hidden_state(layer: int, num_layers: int) -> int:
    """0..L, or negative as Python indexes the L + 1 hidden states."""
    resolved = layer + num_layers + 1 if layer < 0 else layer
    if not 0 <= resolved <= num_layers:
        raise ConfigError(f"layer {layer} is out of range for a model with {num_layers} layers: use 0 (embeddings) "
                          f".. {num_layers}, or -1 .. -{num_layers + 1}")
    return resolved


def load_sentence_encoder(*, model: str | None = None, run: str | None = None, layer: int | None = None,
                          fusion: str | None = None, fusion_layer: int | None = None,
                          fusion_options: dict[str, Any] | None = None, **options: Any) -> SentenceEncoder:
    """A raw encoder (``model``) or a saved run's encoder and trained fusion (``run``), with a representation.

    Without ``layer`` / ``fusion``: the run's own fusion, or the last layer of a raw model.
    ``options`` go to :class:`SentenceEncoder` (max_length, batch_size, progress, device).
    """
    from transformers import AutoTokenizer

    if (model is None) == (run is None):
        raise ConfigError("give --model (a Hugging Face encoder) or --run (a run directory with a saved model), "
                          "not both" if model else "give --model M or --run RUN_DIR")
    if layer is not None and fusion is not None:
        raise ConfigError("choose either --layer K (one hidden state) or --fusion METHOD, not both")
    trained = None
    if run is not None:
        from xling.models import load_model  # the package registers every head a saved model may have

        directory = Path(run) / "model"
        if not directory.is_dir():
            raise ConfigError(f"{run} has no saved model ({directory} is missing; was it trained with --no-save-model?)")
        trained = load_model(directory)
        encoder, tokenizer, name = trained.encoder, AutoTokenizer.from_pretrained(str(directory / "encoder")), str(run)
    else:
        encoder, tokenizer, name = Encoder.from_pretrained(model), AutoTokenizer.from_pretrained(model), str(model)
    if layer is not None:
        k = resolve_hidden_state(layer, encoder.num_layers)
        return SentenceEncoder(encoder, tokenizer, lambda hidden, mask: hidden[k], Representation("layer", layer),
                               name=name, **options)
    spec = trained.spec if trained is not None else None
    if spec is not None and (fusion is None or (fusion == spec.fusion and fusion_layer in (None, spec.fusion_layer)
                                                 and not fusion_options)):
        return SentenceEncoder(encoder, tokenizer, trained.fusion,
                               Representation(spec.fusion, spec.fusion_layer, dict(spec.fusion_options)),
                               name=name, **options)
    method = fusion or "last"
    module = build_fusion(method, encoder.hidden_size, encoder.num_layers, fusion_layer, **dict(fusion_options or {}))
    if any(True for _ in module.parameters()):
        where = "this run was trained with another fusion" if trained is not None else "a raw model has none trained"
        raise ConfigError(f"fusion {method!r} has trainable parameters and {where}; its output would be random. "
                          "Use --layer K, a parameter-free fusion (last, mean), or --run RUN_DIR of a model trained "
                          f"with --fusion {method}")
    return SentenceEncoder(encoder, tokenizer, module, Representation(method, fusion_layer, dict(fusion_options or {})),
                           name=name, **options)
