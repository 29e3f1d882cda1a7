"""No silent zeros: a degenerate selected model (one class, no entities) is a warning in the log and results.json."""

from __future__ import annotations

import logging

import torch

from xling.config import TrainConfig
from xling.kinds import get_kind
from xling.tasks import get_task


def test_kinds_name_degenerate_predictions():
    pawsx, panx, udpos, xquad = (get_task(n) for n in ("pawsx", "panx", "udpos", "xquad"))
    pair = get_kind(pawsx.kind)
    assert "predicts the class '0' for all 4 examples" in pair.degenerate(pawsx, ["0"] * 4, ["0", "1", "1", "0"])
    assert pair.degenerate(pawsx, ["0", "1", "0", "0"], ["0", "1", "1", "0"]) is None
    assert pair.degenerate(pawsx, ["1"] * 3, ["1"] * 3) is None  # one gold class: nothing to say
    tags = get_kind(panx.kind)
    gold = [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]
    assert "predicts no entity in 2 sentences" in tags.degenerate(panx, [["O"] * 3, ["O"] * 2], gold)
    assert tags.degenerate(panx, [["B-PER", "O", "O"], ["O", "O"]], gold) is None
    assert "the tag 'NOUN' for all 4 words" in tags.degenerate(udpos, [["NOUN"] * 2, ["NOUN"] * 2],
                                                                [["DET", "NOUN"], ["VERB", "NOUN"]])
    assert "an empty answer" in get_kind(xquad.kind).degenerate(xquad, ["", ""], [["a"], ["b"]])


def test_degenerate_model_is_a_warning_in_log_and_results(tiny_bert, sample_dir, tmp_path, monkeypatch, caplog):
    """A model that predicts O everywhere (here: its O logit pushed up and a learning rate of 1e-9, so one step
    cannot move it) gets F1 0 on every language; the run says why instead of writing silent zeros."""
    import xling.training.run as run

    built = run.build_run_model

    def always_o(task, cfg):
        model = built(task, cfg)
        with torch.no_grad():
            model.heads["panx"].out.bias[0] += 100.0  # the O tag
        return model

    monkeypatch.setattr(run, "build_run_model", always_o)
    cfg = TrainConfig(task="panx", model=str(tiny_bert), data_dir=str(sample_dir["panx"]), output_dir=str(tmp_path / "r"),
                      languages=["en", "de"], max_steps=1, batch_size=8, learning_rate=1e-9, head_learning_rate=1e-9,
                      max_seq_length=32, quiet=True, oracle_selection=False, save_model=False)
    with caplog.at_level(logging.WARNING, logger="xling"):
        results = run.run_training(cfg)
    assert all(score.primary == 0.0 for score in results.languages.values())
    warning = next(w for w in results.warnings if "degenerate model" in w)
    assert "predicts no entity" in warning and "dev-en" in warning and "learning rate 1e-09 with batch 8" in warning
    assert "--learning-rate 2e-4 --batch-size 16" in warning
    assert results.stages[0]["warnings"] == [warning]
    assert any("degenerate model" in r.getMessage() for r in caplog.records)
    # a model that learned something gets no such warning
    monkeypatch.setattr(run, "build_run_model", built)
    learned = run.run_training(cfg.replace(output_dir=str(tmp_path / "ok"), max_steps=None, epochs=2,
                                           learning_rate=1e-3, head_learning_rate=None))
    assert not any("degenerate" in w for w in learned.warnings) and learned.stages[0]["warnings"] == []
