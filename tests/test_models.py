"""The run model: parameter groups, frozen embeddings, saving and loading (the per-kind contract: test_kinds.py)."""

from __future__ import annotations

import torch

from xling.config import TrainConfig
from xling.models import load_model, save_model
from xling.models.build import build_run_model, load_tokenizer
from xling.tasks import TASKS


def test_parameter_groups_and_frozen_embeddings(tiny_bert):
    task = TASKS.get("panx")
    cfg = TrainConfig(task="panx", model=str(tiny_bert), fusion="aif", fusion_layer=1, freeze_embeddings=True)
    model = build_run_model(task, cfg)
    groups = model.parameter_groups()
    assert groups["fusion"] and groups["heads"] and groups["encoder"]
    embeddings = model.encoder.model.get_input_embeddings().weight
    assert not embeddings.requires_grad and all(p is not embeddings for p in groups["encoder"])


def test_save_and_load_round_trip(tiny_model, tmp_path):
    task = TASKS.get("xnli")
    cfg = TrainConfig(task="xnli", model=str(tiny_model), fusion="aif", fusion_layer=2, pooling="mean")
    torch.manual_seed(0)
    model = build_run_model(task, cfg).eval()
    tokenizer = load_tokenizer(str(tiny_model))
    save_model(model, tmp_path / "model", tokenizer)
    loaded = load_model(tmp_path / "model").eval()
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        assert torch.allclose(model(ids, mask).logits, loaded(ids, mask).logits, atol=1e-6)
    assert loaded.spec.heads["xnli"].labels == list(task.labels)
    assert loaded.spec.fusion == "aif" and loaded.fusion.layer == 2
