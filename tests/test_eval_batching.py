"""Evaluation batches by token budget: sorted by length, filled up to N padded tokens, same predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xling.config import TrainConfig
from xling.data.features import sorted_batches
from xling.data.loading import load_split
from xling.errors import ConfigError
from xling.evaluation.evaluator import evaluate_split, predict_features
from xling.kinds import get_kind
from xling.models.build import build_run_model, load_tokenizer
from xling.tasks import get_task


def test_token_batches_fill_up_to_the_budget_longest_first():
    lengths = [5, 30, 7, 12, 30, 3, 9, 1]
    batches = sorted_batches(lengths, batch_size=2, max_tokens=40)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every index exactly once
    flat = [i for b in batches for i in b]
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for batch in batches:
        assert len(batch) * lengths[batch[0]] <= 40  # padded size within the budget
    # greedy: the next sequence would not have fit
    for batch, following in zip(batches, batches[1:]):
        assert (len(batch) + 1) * lengths[batch[0]] > 40
    assert sorted_batches([100, 2], batch_size=8, max_tokens=10) == [[0], [1]]  # a sequence over budget alone
    assert sorted_batches(lengths, batch_size=3) == sorted_batches(lengths, batch_size=3, max_tokens=0)
    with pytest.raises(ConfigError):
        TrainConfig(eval_tokens=-1)


def test_the_default_budget_depends_on_the_device():
    from xling.evaluation.evaluator import CPU_EVAL_TOKENS, GPU_EVAL_TOKENS, eval_token_budget

    assert TrainConfig().eval_tokens is None
    assert eval_token_budget(None, torch.device("cpu")) == CPU_EVAL_TOKENS == 512
    assert eval_token_budget(None, torch.device("cuda")) == GPU_EVAL_TOKENS > CPU_EVAL_TOKENS
    assert eval_token_budget(0, torch.device("cuda")) == 0 and eval_token_budget(2048, torch.device("cpu")) == 2048


@pytest.fixture(scope="module")
def panx_split(sample_dir):
    return load_split(get_task("panx"), "de", "test", data_dir=sample_dir["panx"])


def test_token_budget_gives_the_same_predictions_as_fixed_batches(tiny_bert, panx_split):
    task = get_task("panx")
    cfg = TrainConfig(model=str(tiny_bert), task="panx")
    torch.manual_seed(0)
    model = build_run_model(task, cfg)
    tokenizer = load_tokenizer(str(tiny_bert))
    kind = get_kind(task.kind)
    features = kind.featurize(task, panx_split.examples, tokenizer, 128, task.label_index())
    lengths = [len(f["input_ids"]) for f in features]
    assert len(set(lengths)) > 3  # various lengths, so that batches pad differently
    common = dict(pad_token_id=tokenizer.pad_token_id, device=torch.device("cpu"))
    fixed = predict_features(model, features, task, batch_size=64, **common)
    for budget in (1, 60, 300, 100_000):
        assert len(sorted_batches(lengths, 64, budget)) != len(sorted_batches(lengths, 64)) or budget == 100_000
        by_tokens = predict_features(model, features, task, batch_size=64, max_tokens=budget, **common)
        for a, b in zip(fixed, by_tokens):  # the original order, each feature's own output
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
            assert np.array_equal(a.argmax(-1), b.argmax(-1))
    scores = [evaluate_split(model, task, panx_split, tokenizer, max_length=128, batch_size=64, max_tokens=budget,
                             device=torch.device("cpu"), progress=False) for budget in (0, 60, 2048)]
    assert scores[0].predictions == scores[1].predictions == scores[2].predictions
    assert scores[0].metrics == scores[1].metrics == scores[2].metrics
