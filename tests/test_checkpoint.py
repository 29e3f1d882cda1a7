"""Checkpoints that no kill can lose: the swap by renames, --resume from the newest complete one (saying so
when there is none), paths that survive a moved run folder, and the exit codes of stopped runs."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal

import pytest
import torch

from tests.conftest import run_cli
from tests.test_training_loop import FixedBatches, encoder, features, model_for, tokenizer, train  # noqa: F401
from xling.config import TrainConfig
from xling.training import checkpoint as ckpt
from xling.training.checkpoint import CHECKPOINT_DIR, RECORD, find_checkpoint


class Killed(Exception):
    """Stands in for a kill -9 at one moment of a checkpoint swap."""


def config(tiny_bert, **changes) -> TrainConfig:
    return TrainConfig(model=str(tiny_bert), batch_size=4, epochs=2, checkpoint_every=2, checkpoint_minutes=1e6,
                       learning_rate=1e-3, quiet=True, **changes)  # 16 examples: 4 steps per epoch, 8 in all


def kill_at(monkeypatch, phase: str, occurrence: int) -> None:
    seen = {"n": 0}

    def fault(reached: str) -> None:
        if reached == phase:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(phase)

    monkeypatch.setattr(ckpt, "_fault", fault)


@pytest.fixture(scope="module")
def reference(tiny_bert, encoder, tokenizer, tmp_path_factory):  # noqa: F811
    cfg = config(tiny_bert)
    model = model_for(encoder, cfg)
    feats = features(tokenizer, 16)
    state = train(model, feats, FixedBatches(16, 4), cfg, tmp_path_factory.mktemp("reference"), tokenizer)
    return state, {k: v.clone() for k, v in model.state_dict().items()}


# phase of the second checkpoint (step 4; the first is step 2) where the kill hits -> (the step resumed from,
# the folders left behind)
PHASES = {"written": (2, {"checkpoint", "checkpoint.tmp"}), "recorded": (4, {"checkpoint", "checkpoint.tmp"}),
          "moved": (4, {"checkpoint.old", "checkpoint.tmp"}), "renamed": (4, {"checkpoint", "checkpoint.old"})}


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_a_kill_anywhere_in_the_swap_resumes_from_the_newest_complete_checkpoint(
        phase, reference, tiny_bert, encoder, tokenizer, tmp_path, monkeypatch, capsys):  # noqa: F811
    cfg, feats = config(tiny_bert), features(tokenizer, 16)
    kill_at(monkeypatch, phase, 2)
    with pytest.raises(Killed):
        train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg, tmp_path, tokenizer)
    step, left = PHASES[phase]
    assert {p.name for p in tmp_path.iterdir() if p.name.startswith(CHECKPOINT_DIR)} == left
    assert ckpt.checkpoint_step(find_checkpoint(tmp_path)[0]) == step
    monkeypatch.setattr(ckpt, "_fault", lambda phase: None)
    capsys.readouterr()
    model = model_for(encoder, cfg)
    state = train(model, feats, FixedBatches(16, 4), cfg.replace(resume=True), tmp_path, tokenizer)
    assert f"at step {step}/8" in capsys.readouterr().out
    ref_state, ref_weights = reference
    assert state.step == 8 and state.train_examples == ref_state.train_examples == 32
    assert [h["step"] for h in state.history] == [h["step"] for h in ref_state.history]
    for key, value in model.state_dict().items():
        assert torch.allclose(value, ref_weights[key], atol=1e-6), key
    assert not any((tmp_path / name).exists() for name in ("checkpoint.tmp", "checkpoint.old"))


def test_resume_without_a_usable_checkpoint_says_so_and_starts_at_step_0(tiny_bert, encoder, tokenizer, tmp_path,
                                                                          monkeypatch, caplog):  # noqa: F811
    cfg, feats = config(tiny_bert), features(tokenizer, 16)
    kill_at(monkeypatch, "written", 1)  # the first checkpoint is written but never recorded
    with pytest.raises(Killed):
        train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg, tmp_path, tokenizer)
    assert find_checkpoint(tmp_path)[0] is None
    monkeypatch.setattr(ckpt, "_fault", lambda phase: None)
    with caplog.at_level(logging.WARNING, logger="xling"):
        state = train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg.replace(resume=True), tmp_path,
                      tokenizer)
    assert f"checkpoint.tmp/: incomplete (no {RECORD})" in caplog.text and "starting from step 0" in caplog.text
    assert state.step == 8 and state.train_examples == 32  # trained from the start, all of it


def test_an_incomplete_checkpoint_is_not_loaded(tiny_bert, encoder, tokenizer, tmp_path, caplog):  # noqa: F811
    cfg, feats = config(tiny_bert, max_steps=2), features(tokenizer, 16)
    train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg, tmp_path, tokenizer)
    optimizer_file = tmp_path / CHECKPOINT_DIR / "optimizer.bin"
    whole = optimizer_file.read_bytes()
    optimizer_file.write_bytes(whole[: len(whole) // 2])  # a disk that filled up, say
    assert ckpt.checkpoint_problem(tmp_path / CHECKPOINT_DIR) == (
        f"incomplete (optimizer.bin has {len(whole) // 2} bytes, not {len(whole)})")
    optimizer_file.write_bytes(whole)
    assert ckpt.checkpoint_problem(tmp_path / CHECKPOINT_DIR) is None
    (tmp_path / CHECKPOINT_DIR / "scheduler.bin").unlink()
    assert ckpt.checkpoint_problem(tmp_path / CHECKPOINT_DIR) == "incomplete (scheduler.bin is missing)"
    with caplog.at_level(logging.WARNING, logger="xling"):
        state = train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg.replace(resume=True, max_steps=4),
                      tmp_path, tokenizer)
    assert "no usable checkpoint" in caplog.text and "scheduler.bin is missing" in caplog.text
    assert state.train_examples == 16  # 4 steps from step 0
    empty = tmp_path / "empty"
    empty.mkdir()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xling"):
        train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg.replace(resume=True), empty, tokenizer)
    assert "no checkpoint was saved" in caplog.text and "starting from step 0" in caplog.text


# ---------------------------------------------------------------------------------------------- the command line


def cli_args(model, data, out, *extra):
    return ["train", "--task", "panx", "--model", model, "--data-dir", data, "--output-dir", out,
            "--languages", "en,de", "--max-steps", "8", "--batch-size", "8", "--learning-rate", "1e-3",
            "--max-seq-length", "48", "--quiet", "--seed", "1", *extra]


@pytest.mark.slow
def test_sigterm_exits_143_and_the_moved_run_resumes_and_evaluates_from_anywhere(tiny_bert, sample_dir, tmp_path):
    first, second, third = (tmp_path / name for name in ("first", "second", "third"))
    for folder in (first, second, third):
        folder.mkdir()
    shutil.copytree(sample_dir["panx"], first / "data")
    shutil.copytree(tiny_bert, first / "tiny")
    stopped = run_cli(*cli_args("tiny", "data", "run"), cwd=first, env={"XLING_TEST_KILL_AFTER_STEP": "5:TERM"})
    assert stopped.returncode == 128 + signal.SIGTERM == 143, stopped.stderr
    assert "--resume" in stopped.stderr and (first / "run" / CHECKPOINT_DIR).is_dir()
    saved = json.loads(json.dumps(__import__("yaml").safe_load((first / "run" / "config.yaml").read_text())))
    assert all(os.path.isabs(saved[key]) for key in ("model", "data_dir", "output_dir"))
    shutil.move(first / "run", second / "moved")  # the run folder moves; the data stays where it was
    resumed = run_cli(*cli_args(str(first / "tiny"), "../first/data", "moved", "--resume"), cwd=second)
    assert resumed.returncode == 0, resumed.stderr
    assert "at step 5/8" in resumed.stdout + resumed.stderr
    evaluated = run_cli("evaluate", "--run", "../second/moved", "--languages", "de", "--output", "eval.json",
                        "--quiet", cwd=third)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads((third / "eval.json").read_text())["languages"]["de"]["examples"] == 40


@pytest.mark.slow
def test_ctrl_c_exits_130_and_config_errors_exit_2(tiny_bert, sample_dir, tmp_path):
    out = tmp_path / "run"
    stopped = run_cli(*cli_args(tiny_bert, sample_dir["panx"], out, "--no-save-model"),
                      env={"XLING_TEST_KILL_AFTER_STEP": "2:INT"})
    assert stopped.returncode == 130, stopped.stderr
    assert "stopped at step 2/8" in stopped.stderr and (out / CHECKPOINT_DIR).is_dir()
    refused = run_cli(*cli_args(tiny_bert, sample_dir["panx"], out, "--no-save-model"))
    assert refused.returncode == 2 and "--resume" in refused.stderr


def test_a_checkpoint_from_before_completeness_records_is_used_when_its_files_are_there(tiny_bert, encoder, tokenizer,
                                                                                        tmp_path):  # noqa: F811
    cfg, feats = config(tiny_bert, max_steps=2), features(tokenizer, 16)
    train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg, tmp_path, tokenizer)
    checkpoint = tmp_path / CHECKPOINT_DIR
    (checkpoint / RECORD).unlink()  # what an older xling wrote
    assert ckpt.checkpoint_problem(checkpoint) is None and ckpt.checkpoint_step(checkpoint) == 2
    (checkpoint / "scheduler.bin").unlink()  # and one it left half-deleted
    assert ckpt.checkpoint_problem(checkpoint) == f"incomplete (no {RECORD})"


@pytest.mark.slow
def test_kill_9_between_the_renames_resumes_from_the_complete_tmp(tiny_bert, sample_dir, tmp_path):
    args = cli_args(tiny_bert, sample_dir["panx"], tmp_path / "run", "--checkpoint-every", "2", "--no-save-model")
    killed = run_cli(*args, env={"XLING_TEST_CHECKPOINT_FAULT": "moved:2"})  # checkpoint/ is .old, .tmp complete
    assert killed.returncode == -signal.SIGKILL
    assert {p.name for p in (tmp_path / "run").iterdir() if p.name.startswith("checkpoint")} == {
        "checkpoint.old", "checkpoint.tmp"}
    refused = run_cli(*args)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint.tmp/ (step 4)" in resumed.stderr and "at step 4/8" in resumed.stdout


def test_frozen_embeddings_stay_out_of_the_checkpoint_and_resume_exactly(tiny_bert, encoder, tokenizer, tmp_path,
                                                                          monkeypatch, capsys):  # noqa: F811
    """With --freeze-embeddings the checkpoint's model file holds only what trains; a kill after the first
    checkpoint resumes to the weights of an uninterrupted run (the frozen ones come from the rebuilt model)."""
    cfg, feats = config(tiny_bert, freeze_embeddings=True), features(tokenizer, 16)
    whole = tmp_path / "whole"
    reference_model = model_for(encoder, cfg)
    train(reference_model, feats, FixedBatches(16, 4), cfg, whole, tokenizer)
    frozen = ckpt.frozen_names(reference_model)
    assert any("word_embeddings" in name for name in frozen)
    saved = torch.load(whole / CHECKPOINT_DIR / ckpt.MODEL_FILE, weights_only=True)
    assert not frozen & set(saved) and set(saved) | frozen == set(reference_model.state_dict())
    record = json.loads((whole / CHECKPOINT_DIR / ckpt.FROZEN).read_text())
    assert set(record) == frozen and all(entry["shape"] for entry in record.values())
    assert ckpt.FROZEN in json.loads((whole / CHECKPOINT_DIR / RECORD).read_text())["files"]

    run = tmp_path / "killed"
    kill_at(monkeypatch, "written", 2)  # the second checkpoint never lands: resume from step 2
    with pytest.raises(Killed):
        train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg, run, tokenizer)
    monkeypatch.setattr(ckpt, "_fault", lambda phase: None)
    capsys.readouterr()
    model = model_for(encoder, cfg)
    train(model, feats, FixedBatches(16, 4), cfg.replace(resume=True), run, tokenizer)
    assert "at step 2/8" in capsys.readouterr().out
    for key, value in model.state_dict().items():
        assert torch.allclose(value, reference_model.state_dict()[key], atol=1e-6), key


def test_resume_refuses_a_model_whose_frozen_weights_differ(tiny_bert, encoder, tokenizer, tmp_path):  # noqa: F811
    cfg, feats = config(tiny_bert, freeze_embeddings=True, max_steps=2), features(tokenizer, 16)
    train(model_for(encoder, cfg), feats, FixedBatches(16, 4), cfg, tmp_path, tokenizer)
    other = model_for(encoder, cfg)
    with torch.no_grad():
        other.encoder.model.embeddings.word_embeddings.weight.add_(0.01)  # other pretrained weights
    with pytest.raises(ckpt.CheckpointMismatch, match="word_embeddings.*same --model"):
        train(other, feats, FixedBatches(16, 4), cfg.replace(resume=True, max_steps=4), tmp_path, tokenizer)
    unfrozen = cfg.replace(freeze_embeddings=False, resume=True, max_steps=4)
    with pytest.raises(ckpt.CheckpointMismatch, match="other frozen parameters"):
        train(model_for(encoder, unfrozen), feats, FixedBatches(16, 4), unfrozen, tmp_path, tokenizer)
