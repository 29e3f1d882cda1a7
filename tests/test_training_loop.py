"""The training loop on its own, with a tiny model: optimiser groups, schedule, accumulation, AIF's batch norm
in training mode, and what a checkpoint holds."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from xling.config import TrainConfig
from xling.kinds import collator_for, get_kind
from xling.kinds.classification import PairExample
from xling.models import Encoder
from xling.models.build import build_run_model, load_tokenizer
from xling.models.fusion import AIFFusion, MaskedBatchNorm
from xling.tasks import get_task
from xling.training.loop import (BEST_FILE, CHECKPOINT_DIR, Hooks, LoopState, build_optimizer, build_schedule,
                                 count_steps, train_loop)

TASK = get_task("xnli")
SENTENCES = ["Maria lives in Berlin .", "Paris is big .", "Rome is small .", "A man runs .", "A cat sleeps .",
             "The train is late .", "Jonas reads a book .", "It rains in Lyon ."]


class FixedBatches:
    """Batches of consecutive indices, the same order every epoch (what the loop needs from a sampler)."""

    def __init__(self, size: int, batch_size: int) -> None:
        self.batches = [list(range(i, min(i + batch_size, size))) for i in range(0, size, batch_size)]

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return load_tokenizer(str(tiny_bert))


@pytest.fixture(scope="module")
def encoder(tiny_bert):
    """The tiny encoder's architecture without dropout (so that batching alone decides results), seeded weights."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(tiny_bert), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    return Encoder.from_config(config)


def features(tokenizer, count: int = 16) -> list[dict]:
    examples = [PairExample(SENTENCES[i % 8], SENTENCES[(3 * i + 1) % 8], TASK.labels[i % 3]) for i in range(count)]
    out = get_kind(TASK.kind).featurize(TASK, examples, tokenizer, 32, TASK.label_index())
    return [{**f, "task": TASK.name} for f in out]


def model_for(encoder, cfg: TrainConfig):
    torch.manual_seed(0)
    return build_run_model(TASK, cfg, copy.deepcopy(encoder))


def train(model, feats, batches, cfg: TrainConfig, run_dir, tokenizer) -> LoopState:
    hooks = Hooks(evaluate=lambda step: (float(step), {}))  # later is better: the last point is selected
    run_dir.mkdir(parents=True, exist_ok=True)
    return train_loop(model, feats, batches, cfg, run_dir, hooks,
                      collate=collator_for([get_kind(TASK.kind)], tokenizer.pad_token_id))


def test_optimizer_groups_learning_rates_and_no_decay_on_biases_and_norms(tiny_bert, encoder):
    cfg = TrainConfig(model=str(tiny_bert), fusion="aif", fusion_layer=1, freeze_embeddings=True,
                      learning_rate=1e-5, fusion_learning_rate=1e-3, head_learning_rate=5e-4, weight_decay=0.05)
    model = model_for(encoder, cfg)
    optimizer = build_optimizer(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    seen: list[int] = []
    for group in optimizer.param_groups:
        part = group["name"]
        assert group["lr"] == {"encoder": 1e-5, "fusion": 1e-3, "heads": 5e-4}[part]
        for p in group["params"]:
            assert names[id(p)].startswith({"encoder": "encoder.", "fusion": "fusion.", "heads": "heads."}[part])
            # decay on matrices only: biases, LayerNorm and batch-norm weights (1-D) get none
            assert group["weight_decay"] == (0.05 if p.ndim >= 2 else 0.0), names[id(p)]
        seen += [id(p) for p in group["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(seen) == sorted(trainable)  # every trainable parameter exactly once, frozen ones not at all
    assert id(model.encoder.model.get_input_embeddings().weight) not in seen
    assert {g["name"] for g in optimizer.param_groups} == {"encoder", "fusion", "heads"}
    assert any(g["weight_decay"] == 0.0 for g in optimizer.param_groups if g["name"] == "fusion")
    # without a head learning rate the heads learn at the encoder's
    rates = {g["name"]: g["lr"] for g in build_optimizer(model, cfg.replace(head_learning_rate=None)).param_groups}
    assert rates["heads"] == 1e-5


def test_warmup_then_linear_decay_to_zero(tiny_bert, encoder):
    cfg = TrainConfig(model=str(tiny_bert), learning_rate=1e-3, fusion_learning_rate=1e-3, warmup_ratio=0.2)
    optimizer = build_optimizer(model_for(encoder, cfg), cfg)
    scheduler = build_schedule(optimizer, cfg, total_steps=10)  # 2 warm-up steps
    rates = []
    for _ in range(10):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    rates.append(scheduler.get_last_lr()[0])
    expected = [0.0, 0.5e-3, 1e-3] + [1e-3 * (10 - s) / 8 for s in range(3, 11)]
    assert rates == pytest.approx(expected, abs=1e-12)
    # steps: ceil(batches / accumulation) per epoch; fractional epochs round up; max_steps wins
    assert count_steps(cfg.replace(gradient_accumulation=2, epochs=1.5), 5) == (3, 5)
    assert count_steps(cfg.replace(max_steps=7, epochs=3), 5) == (5, 7)


def test_batch_8_equals_batch_4_with_two_accumulation_steps(tiny_bert, encoder, tokenizer, tmp_path):
    """Same examples, same order: one batch of 8 per step or two of 4 accumulated give the same weights.

    In float64 the two runs differ only by summation order; the bound is 1e-9 on every parameter
    (observed: about 2e-16; batch 4 without accumulation ends about 4e-3 away). Gradient clipping applies to
    the accumulated gradient in both.
    """
    feats = features(tokenizer, 16)
    base = TrainConfig(model=str(tiny_bert), dropout=0.0, epochs=1, learning_rate=1e-3, fusion_learning_rate=1e-3,
                       warmup_ratio=0.0, max_grad_norm=0.5, quiet=True, checkpoint_minutes=1e6)
    weights = []
    for name, batch_size, accumulation in (("b8", 8, 1), ("b4x2", 4, 2)):
        cfg = base.replace(batch_size=batch_size, gradient_accumulation=accumulation)
        model = model_for(encoder, cfg).double()
        start = {k: v.clone() for k, v in model.state_dict().items()}
        state = train(model, feats, FixedBatches(len(feats), batch_size), cfg, tmp_path / name, tokenizer)
        assert state.step == 2 and state.total_steps == 2
        weights.append(model.state_dict())
    moved = max((weights[0][k] - start[k]).abs().max().item() for k in start if start[k].is_floating_point())
    assert moved > 1e-4  # the runs did train
    for key, value in weights[0].items():
        assert torch.allclose(value, weights[1][key], rtol=0, atol=1e-9), key


def test_aif_batch_norm_in_training_uses_real_tokens_only():
    torch.manual_seed(0)
    hidden, batch, length = 8, 3, 6
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]])
    states = [torch.randn(batch, length, hidden) for _ in range(3)]
    garbage = [s.clone() for s in states]
    for s in garbage:
        s[mask == 0] = 1e3  # padding values must not reach the batch statistics
    fusion = AIFFusion(hidden_size=hidden, num_layers=2, layer=1, norm="batch").train()
    other = copy.deepcopy(fusion)
    out, out_garbage = fusion(states, mask), other(garbage, mask)
    real = mask.bool()
    assert torch.allclose(out[real], out_garbage[real], atol=1e-5)
    for a, b in zip(fusion.modules(), other.modules()):
        if isinstance(a, torch.nn.BatchNorm1d):  # running statistics moved, and identically
            assert a.num_batches_tracked.item() == 1 and a.running_mean.abs().sum() > 0
            assert torch.allclose(a.running_mean, b.running_mean, atol=1e-5)
            assert torch.allclose(a.running_var, b.running_var, atol=1e-4)
    out.sum().backward()
    assert all(p.grad is not None for p in fusion.parameters())
    # the masked norm is BatchNorm1d over the real tokens; padded positions come out as 0
    norm = MaskedBatchNorm(hidden).train()
    reference = torch.nn.BatchNorm1d(hidden).train()
    x = torch.randn(batch, length, hidden)
    normed = norm(x, mask)
    assert torch.allclose(normed[real], reference(x[real]), atol=1e-6)
    assert torch.equal(normed[~real], torch.zeros_like(normed[~real]))
    assert torch.allclose(norm.norm.running_mean, reference.running_mean)


def test_training_steps_update_aif_batch_norm_statistics(tiny_bert, encoder, tokenizer, tmp_path):
    cfg = TrainConfig(model=str(tiny_bert), fusion="aif", fusion_layer=1, fusion_options={"norm": "batch"},
                      batch_size=4, epochs=1, quiet=True, checkpoint_minutes=1e6)
    model = model_for(encoder, cfg)
    norms = [m for m in model.fusion.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all(m.num_batches_tracked.item() == 0 for m in norms)
    feats = features(tokenizer, 8)
    train(model, feats, FixedBatches(len(feats), 4), cfg, tmp_path / "run", tokenizer)
    assert all(m.num_batches_tracked.item() == 2 and m.running_mean.abs().sum() > 0 for m in norms)


def test_checkpoint_holds_model_optimizer_schedule_rng_and_loop_state(tiny_bert, encoder, tokenizer, tmp_path):
    cfg = TrainConfig(model=str(tiny_bert), batch_size=4, epochs=2, quiet=True, checkpoint_minutes=1e6)
    model = model_for(encoder, cfg)
    feats = features(tokenizer, 8)
    state = train(model, feats, FixedBatches(len(feats), 4), cfg, tmp_path, tokenizer)
    checkpoint = tmp_path / CHECKPOINT_DIR
    files = {p.name for p in checkpoint.iterdir()}
    assert {"pytorch_model.bin", "optimizer.bin", "scheduler.bin", "random_states_0.pkl",
            "custom_checkpoint_0.pkl"} <= files
    saved = torch.load(checkpoint / "custom_checkpoint_0.pkl", weights_only=False)
    assert set(saved) == {f.name for f in dataclasses.fields(LoopState)}
    # the last step ends the loop inside epoch 1, after its 2 batches (a resumed run would stop at once)
    assert (saved["step"], saved["epoch"], saved["batch_in_epoch"], saved["total_steps"]) == (4, 1, 2, 4)
    assert [h["step"] for h in saved["history"]] == [2, 4] and saved["best_step"] == 4
    assert saved["train_examples"] == 16 and saved["train_tokens"] > 0 and saved["loss_count"] == 0
    assert saved["finished"] is False and state.finished  # the loop marks itself finished after the last save
    weights = torch.load(checkpoint / "pytorch_model.bin", weights_only=True)
    assert set(weights) == set(model.state_dict())
    assert (tmp_path / BEST_FILE).is_file() and not (tmp_path / (CHECKPOINT_DIR + ".tmp")).exists()


def test_accumulated_tagging_loss_is_weighted_by_tokens(tiny_bert, encoder, tokenizer, tmp_path, monkeypatch):
    """Two micro-batches of 8 with many and few labelled tokens give the gradient of one batch of 16.

    The loss of a step is the mean over all its labelled tokens, not the mean of the micro-batches' means
    (which would weigh a token of a short sentence more; 60 and 16 tokens here). float64; bound 1e-10 on every
    gradient entry (observed: 7e-16); the mean of the two means, what accumulation gave before, is 0.2 away.
    """
    from xling.kinds.tagging import TagExample
    from xling.training import loop

    panx = get_task("panx")
    words = "Maria lives in Berlin and Jonas reads a book in Paris".split()
    examples = [TagExample(words[: 11 - (i % 8) if i < 8 else 2], [panx.labels[(i + j) % len(panx.labels)] for j in
                                                                    range(11 - (i % 8) if i < 8 else 2)])
                for i in range(16)]
    feats = [{**f, "task": panx.name} for f in
             get_kind(panx.kind).featurize(panx, examples, tokenizer, 32, panx.label_index())]
    tokens = [sum(label != -100 for f in feats[a:b] for label in f["labels"]) for a, b in ((0, 8), (8, 16))]
    assert tokens[0] > 3 * tokens[1]  # the first micro-batch holds far more labelled tokens
    grads = {}

    class Recording(torch.optim.AdamW):
        def step(self, *args, **kwargs):
            grads[self.accumulation] = [p.grad.clone() for group in self.param_groups for p in group["params"]]
            return super().step(*args, **kwargs)

    def recording(model, cfg):
        optimizer = build_optimizer(model, cfg)
        optimizer.__class__, optimizer.accumulation = Recording, cfg.gradient_accumulation
        return optimizer

    monkeypatch.setattr(loop, "build_optimizer", recording)
    base = TrainConfig(model=str(tiny_bert), dropout=0.0, max_steps=1, warmup_ratio=0.0, max_grad_norm=0.0,
                       quiet=True, checkpoint_minutes=1e6)
    reference = None
    for batch_size, accumulation in ((16, 1), (8, 2)):
        cfg = base.replace(batch_size=batch_size, gradient_accumulation=accumulation)
        torch.manual_seed(0)
        model = build_run_model(panx, cfg, copy.deepcopy(encoder)).double()
        if reference is None:
            reference = copy.deepcopy(model)
        hooks = Hooks(evaluate=lambda step: (0.0, {}))
        (tmp_path / f"b{batch_size}").mkdir()
        train_loop(model, feats, FixedBatches(16, batch_size), cfg, tmp_path / f"b{batch_size}", hooks,
                   collate=collator_for([get_kind(panx.kind)], tokenizer.pad_token_id))
    for a, b in zip(grads[1], grads[2]):
        assert torch.allclose(a, b, rtol=0, atol=1e-10), (a - b).abs().max().item()
    collate = collator_for([get_kind(panx.kind)], tokenizer.pad_token_id)
    means = []
    for part in (feats[:8], feats[8:]):  # what averaging the micro-batches' mean losses would have given
        reference.zero_grad()
        batch = collate(part)
        reference(**{k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}, task=panx.name).loss.backward()
        means.append([p.grad.clone() for group in build_optimizer(reference, base).param_groups
                      for p in group["params"]])
    farthest = max((a - (m1 + m2) / 2).abs().max().item() for a, m1, m2 in zip(grads[1], *means))
    assert farthest > 1e-4
