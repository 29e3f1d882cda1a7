"""The best model on disk: only trainable weights, restored in place, versioned with the checkpoint."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from xling.config import TrainConfig
from xling.kinds import collator_for, get_kind
from xling.training import best as best_module
from xling.training.best import (BEST_FILE, PREVIOUS_BEST, BestModelMismatch, check_best, file_version, load_best,
                                 write_best)
from xling.training.loop import Hooks, train_loop

from tests.test_training_loop import TASK, FixedBatches, encoder, features, model_for, tokenizer  # noqa: F401

EMBEDDINGS = "encoder.model.embeddings.word_embeddings.weight"


def run(model, feats, cfg, run_dir, tok, score, snapshots=None):
    def evaluate(step):
        if snapshots is not None:
            snapshots[step] = {k: v.clone() for k, v in model.state_dict().items()}
        return score(step), {}

    run_dir.mkdir(parents=True, exist_ok=True)
    return train_loop(model, feats, FixedBatches(len(feats), 4), cfg, run_dir, Hooks(evaluate=evaluate),
                      collate=collator_for([get_kind(TASK.kind)], tok.pad_token_id))


def config(tiny_bert, **changes) -> TrainConfig:
    return TrainConfig(model=str(tiny_bert), batch_size=4, epochs=2, quiet=True, checkpoint_minutes=1e6,
                       freeze_embeddings=True, learning_rate=1e-3, **changes)


def test_best_file_leaves_out_frozen_parameters(tiny_bert, encoder, tokenizer, tmp_path):
    cfg = config(tiny_bert)
    model = model_for(encoder, cfg)
    assert EMBEDDINGS in model.state_dict() and not model.get_parameter(EMBEDDINGS).requires_grad
    run(model, features(tokenizer, 8), cfg, tmp_path, tokenizer, score=float)
    with safe_open(str(tmp_path / BEST_FILE), framework="pt") as handle:
        keys = set(handle.keys())
        assert handle.metadata()["xling_best"] == "step-4"
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n for n, _ in model.named_buffers()}
    assert EMBEDDINGS not in keys
    assert keys == trainable | (buffers & set(model.state_dict()))


def test_restored_model_equals_the_best_in_place(tiny_bert, encoder, tokenizer, tmp_path):
    cfg = config(tiny_bert)
    model = model_for(encoder, cfg)
    pointers = {n: p.data_ptr() for n, p in model.named_parameters()}
    snapshots: dict[int, dict] = {}
    state = run(model, features(tokenizer, 8), cfg, tmp_path, tokenizer, score=lambda step: -step,
                snapshots=snapshots)
    assert state.best_step == 2 and state.step == 4 and state.best_version == "step-2"
    final = model.state_dict()
    moved = max((snapshots[4][k] - snapshots[2][k]).abs().max().item() for k in final
                if final[k].is_floating_point())
    assert moved > 1e-4  # steps 2 and 4 differ, so the restore did something
    for key, value in final.items():
        assert torch.equal(value, snapshots[2][key]), key
    assert {n: p.data_ptr() for n, p in model.named_parameters()} == pointers  # the model's own tensors
    assert not (tmp_path / PREVIOUS_BEST).exists()


def test_no_restore_when_the_best_is_the_last_step(tiny_bert, encoder, tokenizer, tmp_path, monkeypatch):
    import xling.training.loop as loop

    def fail(*args, **kwargs):
        raise AssertionError("restored although the model holds the best")

    monkeypatch.setattr(loop, "load_best", fail)
    cfg = config(tiny_bert)
    state = run(model_for(encoder, cfg), features(tokenizer, 8), cfg, tmp_path, tokenizer, score=float)
    assert state.best_step == state.step == 4


def _tiny_module(value: float) -> torch.nn.Module:
    module = torch.nn.Linear(3, 2)
    with torch.no_grad():
        module.weight.fill_(value)
        module.bias.fill_(value)
    return module


def test_selection_after_the_checkpoint_keeps_the_checkpoints_best(tmp_path):
    write_best(_tiny_module(1.0), tmp_path, "step-2", committed=None)
    # the checkpoint at step 2 records step-2; then two selections before the next checkpoint
    write_best(_tiny_module(3.0), tmp_path, "step-3", committed="step-2")
    write_best(_tiny_module(4.0), tmp_path, "step-4", committed="step-2")
    assert file_version(tmp_path / BEST_FILE) == "step-4"
    assert file_version(tmp_path / PREVIOUS_BEST) == "step-2"
    # killed here: resuming from the step-2 checkpoint puts its best back
    check_best(tmp_path, "step-2", 2)
    assert file_version(tmp_path / BEST_FILE) == "step-2" and not (tmp_path / PREVIOUS_BEST).exists()
    target = _tiny_module(0.0)
    load_best(target, tmp_path, "step-2")
    assert torch.equal(target.weight, torch.ones(2, 3))
    # a checkpoint with no selection yet: files from later steps are dropped
    check_best(tmp_path, None, None)
    assert not (tmp_path / BEST_FILE).exists()


def test_version_mismatch_is_detected(tmp_path):
    write_best(_tiny_module(1.0), tmp_path, "step-5", committed=None)
    with pytest.raises(BestModelMismatch, match="step-5.*step-4"):
        check_best(tmp_path, "step-4", 4)
    with pytest.raises(BestModelMismatch):
        load_best(_tiny_module(0.0), tmp_path, "step-4")


def test_resume_refuses_a_best_file_from_another_step(tiny_bert, encoder, tokenizer, tmp_path):
    cfg = config(tiny_bert)
    feats = features(tokenizer, 8)
    run(model_for(encoder, cfg), feats, cfg, tmp_path, tokenizer, score=float)
    write_best(_tiny_module(1.0), tmp_path, "step-3", committed=None)  # as if from a selection never checkpointed
    with pytest.raises(BestModelMismatch):
        run(model_for(encoder, cfg), feats, cfg.replace(resume=True), tmp_path, tokenizer, score=float)


def test_trainable_state_drops_every_alias_of_a_frozen_tied_weight():
    module = torch.nn.Module()
    module.a = torch.nn.Embedding(4, 2)
    module.b = torch.nn.Linear(2, 4, bias=False)
    module.b.weight = module.a.weight  # tied, as T5's embeddings
    module.a.weight.requires_grad_(False)
    assert best_module.trainable_state(module) == {}
    module.a.weight.requires_grad_(True)
    assert list(best_module.trainable_state(module)) == ["a.weight"]
