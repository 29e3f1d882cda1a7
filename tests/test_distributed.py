"""Training and evaluation on several processes: ``torchrun --nproc_per_node 2`` on CPU (gloo).

``--batch-size`` is the global batch: two processes train on the same batches as one, each on its half,
so the optimiser steps, the learning-rate schedule, the epochs and (without dropout, up to float
summation order) the weights and scores are those of one process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, run_cli
from xling.config import TrainConfig
from xling.data.features import loss_weight
from xling.distributed import ProcessBatches, gather_by_index
from xling.errors import ConfigError
from xling.kinds import get_kind
from xling.kinds.classification import PairExample
from xling.models.heads import IGNORE_INDEX
from xling.tasks import get_task
from xling.training.loop import Hooks, train_loop

TASK = get_task("xnli")
SENTENCES = ["Maria lives in Berlin .", "Paris is big .", "Rome is small .", "A man runs .", "A cat sleeps .",
             "The train is late .", "Jonas reads a book .", "It rains in Lyon ."]
# Tolerances of a 2-process run against a 1-process run with the same global batch, without dropout: the
# runs differ by float32 summation order only (observed: train loss within 5e-8 relative, identical scores).
LOSS_TOLERANCE = 1e-4  # relative, on the recorded training losses
SCORE_TOLERANCE = 0.5  # points of F1, per language and on the selection set


def eval_config(model: str) -> TrainConfig:
    return TrainConfig(model=model, dropout=0.0)


def eval_features(tokenizer, count: int) -> list[dict]:
    examples = [PairExample(SENTENCES[i % 8], SENTENCES[(3 * i + 1) % 8] + " x" * (i % 5), TASK.labels[i % 3])
                for i in range(count)]
    return get_kind(TASK.kind).featurize(TASK, examples, tokenizer, 32, TASK.label_index())


class Batches:
    def __init__(self, batches):
        self.batches = batches

    def set_epoch(self, epoch):
        pass

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def test_each_global_batch_is_split_across_processes_with_a_weightless_stand_in():
    batches = Batches([[0, 1, 2, 3], [4, 5, 6], [7]])
    weights, lengths = [1, 2, 3, 4, 5, 6, 7, 0], [10] * 8
    parts = [ProcessBatches(batches, weights, lengths, rank=r, world=2) for r in range(2)]
    assert [list(p) for p in parts] == [[[0, 2], [4, 6], [7]], [[1, 3], [5], [7]]]  # rank 1's last: a stand-in
    shares = [p.shares() for p in parts]
    assert [s.weight for s in shares[0]] == [4, 12, 0] and [s.weight for s in shares[1]] == [6, 6, 0]
    assert [s.batch_weight for s in shares[1]] == [10, 18, 0]
    assert [(s.examples, s.tokens) for s in shares[0]] == [(4, 40), (3, 30), (1, 10)]
    parts[0].skip = 2
    assert list(parts[0]) == [[7]]
    alone = ProcessBatches(batches, weights, lengths)
    assert list(alone) == batches.batches and all(s.weight == s.batch_weight for s in alone.shares())


def test_loss_weight_counts_labelled_tokens_and_examples():
    assert loss_weight({"labels": [IGNORE_INDEX, 3, IGNORE_INDEX, 1, 0]}) == 3
    assert loss_weight({"labels": 2}) == 1 and loss_weight({"labels": IGNORE_INDEX}) == 0
    assert loss_weight({"start_positions": 3}) == 1


def test_gather_refuses_features_not_scored_exactly_once():
    assert gather_by_index({1: "b", 0: "a"}, 2) == ["a", "b"]
    with pytest.raises(RuntimeError, match="not exactly once"):
        gather_by_index({0: "a"}, 2)


def test_batch_size_must_split_evenly_across_processes(tmp_path):
    class TwoProcesses:
        num_processes = 2

    cfg = TrainConfig(model="m", batch_size=7)
    with pytest.raises(ConfigError, match="global batch.*multiple of 2"):
        train_loop(torch.nn.Linear(1, 1), [], Batches([]), cfg, tmp_path, Hooks(evaluate=lambda s: (0.0, {})),
                   collate=list, accelerator=TwoProcesses())


# ------------------------------------------------------------------------------------- torchrun, 2 processes


def torchrun(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def no_dropout_bert(tiny_bert, tmp_path_factory) -> Path:
    """The tiny encoder without dropout: then only the split of the batches can make two processes differ."""
    out = tmp_path_factory.mktemp("nodrop") / "bert"
    shutil.copytree(tiny_bert, out)
    config = json.loads((out / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (out / "config.json").write_text(json.dumps(config))
    return out


def train_args(model, data, out, *extra):
    return ["train", "--task", "panx", "--model", str(model), "--data-dir", str(data), "--output-dir", str(out),
            "--languages", "en,de,fr", "--epochs", "2", "--batch-size", "8", "--learning-rate", "5e-3",
            "--dropout", "0", "--max-seq-length", "48", "--quiet", "--seed", "1", "--no-save-model",
            "--max-train-examples", "113", *extra]  # 14 batches of 8 and one of 1: rank 1 gets a weightless stand-in


@pytest.fixture(scope="module")
def runs(no_dropout_bert, sample_dir, tmp_path_factory):
    """One process and two processes, the same global batch of 8 (113 training sentences: 15 steps/epoch, the
    last batch a single sentence, which only rank 0 trains on)."""
    base = tmp_path_factory.mktemp("dist")
    one = run_cli(*train_args(no_dropout_bert, sample_dir["panx"], base / "one"))
    assert one.returncode == 0, one.stderr
    two = torchrun("-m", "xling", *train_args(no_dropout_bert, sample_dir["panx"], base / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    return {name: (json.loads((base / name / "results.json").read_text()), result)
            for name, result in (("one", one), ("two", two))}


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch(runs):
    (one, _), (two, _) = runs["one"], runs["two"]
    a, b = one["stages"][0], two["stages"][0]
    assert (a["processes"], b["processes"]) == (1, 2)
    assert a["steps"] == b["steps"] == 30 and a["epochs_trained"] == b["epochs_trained"] == 2.0
    assert a["timings"]["train_examples"] == b["timings"]["train_examples"] == 226  # not 452: each example once
    assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]] == [15, 30]
    assert [h["learning_rate"] for h in a["history"]] == [h["learning_rate"] for h in b["history"]]
    for x, y in zip(a["history"], b["history"]):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=LOSS_TOLERANCE)
        assert y["score"] == pytest.approx(x["score"], abs=SCORE_TOLERANCE)
    assert max(h["score"] for h in a["history"]) > 0  # the runs did learn something
    for lang, entry in one["languages"].items():
        other = two["languages"][lang]
        assert other["examples"] == entry["examples"] == 40  # every test sentence scored, once
        assert other["primary"] == pytest.approx(entry["primary"], abs=SCORE_TOLERANCE), lang


@pytest.mark.slow
def test_two_processes_log_each_line_once(runs):
    (_, one), (_, two) = runs["one"], runs["two"]
    lines = lambda text: [line for line in text.splitlines() if line.startswith("xling:")]  # noqa: E731
    assert len(lines(two.stderr)) == len(lines(one.stderr)) > 0
    assert two.stdout.count("| language |") == 1


@pytest.mark.slow
def test_two_processes_resume_after_a_kill(runs, no_dropout_bert, sample_dir, tmp_path):
    args = train_args(no_dropout_bert, sample_dir["panx"], tmp_path / "killed", "--checkpoint-every", "4")
    killed = torchrun("-m", "xling", *args, env={"XLING_TEST_KILL_AFTER_STEP": "10"})
    assert killed.returncode != 0 and (tmp_path / "killed" / "checkpoint").is_dir()
    assert not (tmp_path / "killed" / "checkpoint.tmp").exists()
    resumed = torchrun("-m", "xling", *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("resumed from") + resumed.stdout.count("resumed from") == 1
    assert "at step 8/30" in resumed.stdout + resumed.stderr
    data = json.loads((tmp_path / "killed" / "results.json").read_text())
    reference = runs["two"][0]
    assert data["stages"][0]["steps"] == 30
    for x, y in zip(reference["stages"][0]["history"], data["stages"][0]["history"]):
        assert (x["step"], x["learning_rate"]) == (y["step"], y["learning_rate"])
        assert y["score"] == pytest.approx(x["score"], abs=SCORE_TOLERANCE)
    for lang, entry in reference["languages"].items():
        assert data["languages"][lang]["primary"] == pytest.approx(entry["primary"], abs=SCORE_TOLERANCE)


@pytest.mark.slow
def test_evaluation_is_split_across_processes_and_gathers_every_example_once(no_dropout_bert, tmp_path):
    from xling.evaluation.evaluator import predict_features
    from xling.models.build import build_run_model, load_tokenizer

    count, batch_size = 13, 2  # 7 batches: 4 on rank 0, 3 on rank 1
    result = torchrun(str(ROOT / "tests" / "distributed_eval.py"), str(no_dropout_bert), str(tmp_path),
                      str(count), str(batch_size))
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(2)]
    assert sorted(r["rows"] for r in records) == [6, 7] and sum(r["rows"] for r in records) == count
    tokenizer = load_tokenizer(str(no_dropout_bert))
    torch.manual_seed(0)
    model = build_run_model(TASK, eval_config(str(no_dropout_bert)))
    alone = predict_features(model, eval_features(tokenizer, count), TASK, pad_token_id=tokenizer.pad_token_id,
                             batch_size=batch_size, device=torch.device("cpu"))
    for record in records:  # every process holds every output, in order, equal to one process's
        assert len(record["outputs"]) == count
        for got, expected in zip(record["outputs"], alone):
            assert torch.allclose(torch.tensor(got), torch.from_numpy(expected).float(), atol=1e-5)


def test_a_batch_that_does_not_split_is_refused_before_anything_starts(tiny_bert, sample_dir, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*train_args(tiny_bert, sample_dir["panx"], out, "--batch-size", "7"),
                     env={"WORLD_SIZE": "2", "RANK": "0"})  # as a launcher of 2 processes sets them
    assert result.returncode == 2 and "global batch, split across 2 processes" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_the_cli_leaves_the_process_group_when_a_command_ends(tmp_path):
    """`end_processes` (called by the CLI's main when a command ends, and at exit) leaves the group once:
    alone and a second time it does nothing."""
    import torch.distributed as dist

    from xling.distributed import end_processes

    end_processes()  # no process group: nothing
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    end_processes()
    assert not dist.is_initialized()
    end_processes(synchronise=False)  # twice: nothing
    assert not dist.is_initialized()
