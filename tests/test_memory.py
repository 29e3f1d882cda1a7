"""Memory options: micro-batches give the batch's own loss and gradient; gradient checkpointing the same
gradient; QA's defaults split its batches."""

from __future__ import annotations

import copy

import pytest
import torch

from xling.config import TrainConfig
from xling.data.loading import load_split
from xling.kinds import collator_for, get_kind
from xling.models.build import build_run_model
from xling.tasks import get_task
from xling.training.micro import forward_backward, micro_batches

from tests.test_training_loop import (TASK, FixedBatches, encoder, features, model_for, tokenizer,  # noqa: F401
                                      train)


@pytest.fixture(scope="module")
def accelerator():
    from accelerate import Accelerator

    return Accelerator(cpu=True)


def tagging_batch(sample_dir, tokenizer, rows: int = 10):
    task = get_task("panx")
    data = load_split(task, "en", "train", data_dir=sample_dir["panx"])
    feats = get_kind(task.kind).featurize(task, data.examples[:rows], tokenizer, 64, task.label_index())
    batch = collator_for([get_kind(task.kind)], tokenizer.pad_token_id)(feats)
    return task, {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}


def pair_batch(tokenizer):
    batch = collator_for([get_kind(TASK.kind)], tokenizer.pad_token_id)(features(tokenizer, 10))
    return TASK, {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}


def grads_and_loss(model, inputs, task, accelerator, max_tokens):
    model.zero_grad()
    loss = forward_backward(model, inputs, task.name, accelerator, max_tokens)
    return float(loss), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("kind", ["tagging", "pairs"])
def test_micro_batches_give_the_batch_loss_and_gradient(kind, tiny_bert, encoder, tokenizer, sample_dir, accelerator):
    task, inputs = tagging_batch(sample_dir, tokenizer) if kind == "tagging" else pair_batch(tokenizer)
    width = inputs["input_ids"].shape[1]
    parts = micro_batches(inputs, 3 * width)
    assert [p["input_ids"].shape[0] for p, _ in parts] == [3, 3, 3, 1]
    assert sum(w for _, w in parts) == pytest.approx(1.0)
    if kind == "tagging":  # weights follow the labelled tokens, which differ between slices
        assert len({round(w, 6) for _, w in parts[:3]}) > 1
    cfg = TrainConfig(model=str(tiny_bert), dropout=0.0, fusion="scalar_mix")  # no batch statistics
    torch.manual_seed(0)
    model = build_run_model(task, cfg, copy.deepcopy(encoder)).double().train()
    whole_loss, whole = grads_and_loss(model, inputs, task, accelerator, None)
    split_loss, split = grads_and_loss(model, inputs, task, accelerator, 3 * width)
    assert split_loss == pytest.approx(whole_loss, rel=1e-6)  # the heads compute the loss in float32
    assert set(split) == set(whole)
    for name, grad in whole.items():
        assert torch.allclose(grad, split[name], rtol=1e-5, atol=1e-9), name
    # a budget the batch fits in, and 0, leave it whole
    assert len(micro_batches(inputs, 10 * width)) == 1 and len(micro_batches(inputs, 0)) == 1


def test_training_with_micro_batches_ends_with_the_same_weights(tiny_bert, encoder, tokenizer, tmp_path):
    feats = features(tokenizer, 16)
    base = TrainConfig(model=str(tiny_bert), dropout=0.0, epochs=1, batch_size=8, learning_rate=1e-3,
                       fusion_learning_rate=1e-3, warmup_ratio=0.0, quiet=True, checkpoint_minutes=1e6)
    weights = []
    for name, budget in (("whole", None), ("split", 40)):
        cfg = base.replace(max_tokens_per_batch=budget)
        model = model_for(encoder, cfg).double()
        train(model, feats, FixedBatches(len(feats), 8), cfg, tmp_path / name, tokenizer)
        weights.append(model.state_dict())
    for key, value in weights[0].items():
        assert torch.allclose(value, weights[1][key], rtol=0, atol=1e-9), key


def test_gradient_checkpointing_gives_the_same_gradient(tiny_bert, encoder, tokenizer, accelerator):
    task, inputs = pair_batch(tokenizer)
    grads = []
    for checkpointing in (False, True):
        cfg = TrainConfig(model=str(tiny_bert), dropout=0.0, freeze_embeddings=True,
                          gradient_checkpointing=checkpointing)
        torch.manual_seed(0)
        model = build_run_model(task, cfg, copy.deepcopy(encoder)).double().train()
        assert model.encoder.checkpointing == checkpointing
        grads.append(grads_and_loss(model, inputs, task, accelerator, None))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-6)  # the heads compute the loss in float32
    for name, grad in grads[0][1].items():
        assert torch.allclose(grad, grads[1][1][name], rtol=1e-5, atol=1e-9), name


def test_qa_defaults_split_batches_into_two_windows():
    for name in ("tydiqa", "xquad", "mlqa"):
        cfg = TrainConfig().with_task_defaults(get_task(name))
        assert cfg.max_tokens_per_batch == 2 * 384 and cfg.batch_size == 32  # the effective batch stays 32
    assert TrainConfig(max_tokens_per_batch=0).with_task_defaults(get_task("tydiqa")).max_tokens_per_batch == 0
    assert TrainConfig().with_task_defaults(get_task("panx")).max_tokens_per_batch is None


@pytest.mark.slow
def test_compiled_encoder_gives_the_same_outputs_and_names(tiny_bert, encoder, tokenizer, accelerator):
    task, inputs = pair_batch(tokenizer)
    results = []
    for compiled in (False, True):
        cfg = TrainConfig(model=str(tiny_bert), dropout=0.0, compile=compiled)
        torch.manual_seed(0)
        model = build_run_model(task, cfg, copy.deepcopy(encoder)).train()
        loss, grads = grads_and_loss(model, inputs, task, accelerator, None)
        results.append((loss, grads, list(model.state_dict())))
    assert results[0][2] == results[1][2]  # compiled in place: the same parameter names
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-5)
    for name, grad in results[0][1].items():
        assert torch.allclose(grad, results[1][1][name], rtol=1e-4, atol=1e-6), name
