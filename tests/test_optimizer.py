"""Fused AdamW: the same update as the plain per-parameter AdamW, within float rounding."""

from __future__ import annotations

import copy

import torch

from xling.config import TrainConfig
from xling.training.loop import adamw, build_optimizer

from tests.test_training_loop import encoder, features, model_for, tokenizer  # noqa: F401


def test_fused_adamw_matches_the_plain_optimizer(tiny_bert, encoder, tokenizer):
    cfg = TrainConfig(model=str(tiny_bert), fusion="aif", fusion_layer=1, freeze_embeddings=True,
                      learning_rate=1e-3, fusion_learning_rate=1e-2, weight_decay=0.05, dropout=0.0)
    fused_model = model_for(encoder, cfg)
    plain_model = copy.deepcopy(fused_model)
    fused = build_optimizer(fused_model, cfg)
    assert fused.defaults["fused"] is True  # torch has a CPU kernel
    groups = [{**g, "params": [dict(plain_model.named_parameters())[n] for n in names]}
              for g, names in zip(fused.param_groups, _names(fused_model, fused))]
    plain = torch.optim.AdamW(groups, eps=1e-8, foreach=False, fused=False)  # the optimiser before
    batch = _batch(tokenizer)
    for _ in range(5):
        for model, optimizer in ((fused_model, fused), (plain_model, plain)):
            model(**batch, task="xnli").loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    start = model_for(encoder, cfg).state_dict()
    moved = 0.0
    for (name, a), b in zip(fused_model.state_dict().items(), plain_model.state_dict().values()):
        if a.is_floating_point():
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
            moved = max(moved, (a - start[name]).abs().max().item())
    assert moved > 1e-3
    foreach = build_optimizer(fused_model, cfg.replace(fused_optimizer=False))
    assert not foreach.defaults["fused"] and foreach.defaults["foreach"]


def test_without_a_fused_kernel_foreach_is_used():
    params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))]  # no fused kernel for complex
    optimizer = adamw([{"params": params}])
    assert not optimizer.defaults["fused"] and optimizer.defaults["foreach"]


def _names(model, optimizer):
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [[by_id[id(p)] for p in g["params"]] for g in optimizer.param_groups]


def _batch(tokenizer):
    from xling.kinds import collator_for, get_kind
    from xling.tasks import get_task

    feats = features(tokenizer, 8)
    batch = collator_for([get_kind(get_task("xnli").kind)], tokenizer.pad_token_id)(feats)
    return {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
