"""Weight averaging: the running mean of state dicts, and checkpoint averaging in the training loop."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli
from xling.training.averaging import SNAPSHOT_DIR, StateAverager
from xling.config import TrainConfig
from xling.errors import ConfigError


def test_mean_of_states_hand_computed():
    averager = StateAverager()
    averager.add({"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.5]), "ids": torch.tensor([0, 1])})
    averager.add({"w": torch.tensor([3.0, 6.0]), "b": torch.tensor([1.5]), "ids": torch.tensor([0, 1])})
    mean = averager.average()
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0])) and torch.equal(mean["b"], torch.tensor([1.0]))
    assert torch.equal(mean["ids"], torch.tensor([0, 1])) and mean["ids"].dtype == torch.int64
    assert averager.count == 2
    averager.add({"w": torch.tensor([2.0, 4.0]), "b": torch.tensor([1.0]), "ids": torch.tensor([7, 8])})
    later = averager.average()  # a counter such as num_batches_tracked: the latest state's value
    assert torch.equal(later["ids"], torch.tensor([7, 8])) and torch.equal(later["w"], torch.tensor([2.0, 4.0]))


def test_identical_states_average_to_themselves_exactly():
    state = {"w": torch.randn(50, 7), "h": torch.randn(3).half()}
    averager = StateAverager()
    for _ in range(3):  # (x + x + x) / 3 is exact in the float64 accumulator
        averager.add(state)
    mean = averager.average()
    assert all(torch.equal(mean[k], state[k]) and mean[k].dtype == state[k].dtype for k in state)


@pytest.mark.parametrize(("other", "message"), [
    ({"w": torch.zeros(2)}, "missing"),
    ({"w": torch.zeros(2), "ids": torch.tensor([0, 1]), "extra": torch.zeros(1)}, "unexpected"),
    ({"w": torch.zeros(3), "ids": torch.tensor([0, 1])}, "shape"),
])
def test_states_that_cannot_be_averaged(other, message):
    averager = StateAverager()
    averager.add({"w": torch.ones(2), "ids": torch.tensor([0, 1])}, "first")
    with pytest.raises(ConfigError, match=message):
        averager.add(other, "second")


def test_config_rejects_negative_count():
    with pytest.raises(ConfigError, match="average_checkpoints"):
        TrainConfig(average_checkpoints=-1)


def test_training_ends_with_the_mean_of_the_last_evaluation_points(tiny_bert, sample_dir, tmp_path, monkeypatch):
    from xling.models import load_model
    from xling.training.run import run_training

    monkeypatch.setattr("xling.training.loop.drop_snapshots", lambda accelerator, run_dir: None)  # keep them to compare
    out = tmp_path / "avg"
    cfg = TrainConfig(task="pawsx", model=str(tiny_bert), data_dir=str(sample_dir["pawsx"]), output_dir=str(out),
                      languages=["de"], max_steps=3, eval_every=1, average_checkpoints=2, batch_size=8,
                      learning_rate=1e-2, freeze_embeddings=True, quiet=True, oracle_selection=False)
    results = run_training(cfg)
    stage = results.stages[0]
    assert [h["step"] for h in stage["history"]] == [1, 2, 3]
    averaged = stage["averaged_checkpoints"]
    assert averaged["checkpoints"] == 2 and averaged["steps"] == [2, 3] and 0 <= averaged["score"] <= 100
    snapshots = sorted(p.name for p in (out / SNAPSHOT_DIR).iterdir())
    assert snapshots == ["step-2.pt", "step-3.pt"]  # older ones are dropped while training
    two, three = (torch.load(out / SNAPSHOT_DIR / name, weights_only=True) for name in snapshots)
    assert "encoder.model.embeddings.word_embeddings.weight" not in two  # frozen: not snapshotted
    assert not torch.equal(two["heads.pawsx.out.weight"], three["heads.pawsx.out.weight"])
    final = load_model(out / "model").state_dict()
    for key in two:
        expected = ((two[key].double() + three[key].double()) / 2).to(two[key].dtype)
        assert torch.equal(final[key], expected), key


def ner_args(model, data, out, *extra):
    return ["train", "--task", "panx", "--model", model, "--data-dir", data, "--output-dir", out,
            "--languages", "de", "--max-steps", "4", "--eval-every", "1", "--average-checkpoints", "2",
            "--checkpoint-every", "1", "--batch-size", "8", "--learning-rate", "1e-3", "--max-seq-length", "48",
            "--quiet", "--seed", "3", "--no-oracle-selection", *extra]


def heads(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "model" / "xling_heads.safetensors"))


@pytest.mark.slow
def test_killed_run_with_averaging_resumes_to_the_same_model(tiny_bert, sample_dir, tmp_path):
    from xling.cli import build_parser
    from xling.config import make_config, overrides_from_args
    from xling.training.run import run_training

    full, killed = tmp_path / "full", tmp_path / "killed"
    run_training(make_config(TrainConfig, None, overrides_from_args(
        build_parser().parse_args(list(map(str, ner_args(tiny_bert, sample_dir["panx"], full)))))))
    args = ner_args(tiny_bert, sample_dir["panx"], killed)
    assert run_cli(*args, env={"XLING_TEST_KILL_AFTER_STEP": "3"}).returncode == -signal.SIGKILL
    assert (killed / SNAPSHOT_DIR).is_dir()
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = (json.loads((run / "results.json").read_text()) for run in (full, killed))
    assert a["stages"][0]["averaged_checkpoints"]["steps"] == [3, 4]
    assert a["stages"][0]["averaged_checkpoints"] == b["stages"][0]["averaged_checkpoints"]
    assert a["languages"]["de"]["primary"] == b["languages"]["de"]["primary"]
    assert all(torch.allclose(v, heads(killed)[k]) for k, v in heads(full).items())
    assert not (full / SNAPSHOT_DIR).exists() and not (killed / SNAPSHOT_DIR).exists()
