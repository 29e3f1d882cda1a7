"""The multi-task batch sampler: task probabilities, empirical frequencies, determinism, one task per batch."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from xling.errors import ConfigError
from xling.data.multitask import MultiTaskBatches, task_probabilities

SIZES = (800, 200, 50)


def test_probabilities_follow_the_three_formulas():
    # proportional: n_i / sum n = 800/1050, 200/1050, 50/1050
    assert task_probabilities(SIZES, "proportional").tolist() == pytest.approx([0.761905, 0.190476, 0.047619], abs=1e-6)
    # temperature T=2: sqrt(n_i) = 28.2843, 14.1421, 7.0711; sum 49.4975
    assert task_probabilities(SIZES, "temperature", 2.0).tolist() == pytest.approx([0.571429, 0.285714, 0.142857],
                                                                                  abs=1e-6)
    assert task_probabilities(SIZES, "temperature", 1.0).tolist() == pytest.approx(
        task_probabilities(SIZES, "proportional").tolist())
    assert task_probabilities(SIZES, "uniform").tolist() == pytest.approx([1 / 3] * 3)


@pytest.mark.parametrize("sampler,temperature", [("proportional", 1.0), ("temperature", 2.0), ("temperature", 4.0),
                                                 ("uniform", 1.0)])
def test_empirical_task_frequencies_match(sampler, temperature):
    lengths = [[4 + i % 7] * n for i, n in enumerate(SIZES)]
    batches = MultiTaskBatches(lengths, batch_size=10, seed=3, sampler=sampler, temperature=temperature)
    assert len(batches) == 80 + 20 + 5
    offsets = [0, 800, 1000]
    counts: Counter[int] = Counter()
    epochs = 40
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        for batch in batches:
            tasks = {max(t for t, start in enumerate(offsets) if i >= start) for i in batch}
            assert len(tasks) == 1  # a batch holds one task
            counts[tasks.pop()] += 1
    draws = epochs * len(batches)
    expected = task_probabilities(SIZES, sampler, temperature)
    for task, p in enumerate(expected):
        tolerance = 4 * math.sqrt(p * (1 - p) / draws)  # four standard errors
        assert counts[task] / draws == pytest.approx(p, abs=tolerance)


def test_order_depends_only_on_seed_and_epoch():
    lengths = [[3, 9, 4, 7, 5], [2, 8, 6], [1] * 7]
    a = MultiTaskBatches(lengths, batch_size=2, seed=1, sampler="uniform")
    b = MultiTaskBatches(lengths, batch_size=2, seed=1, sampler="uniform")
    a.set_epoch(2)
    b.set_epoch(2)
    first = list(a)
    assert first == list(b) == list(a)  # repeatable, also on the same object
    b.set_epoch(3)
    assert list(b) != first
    other = MultiTaskBatches(lengths, batch_size=2, seed=2, sampler="uniform")
    other.set_epoch(2)
    assert list(other) != first
    every = [i for batch in first for i in batch]
    assert all(0 <= i < 15 for i in every)


def test_a_task_drawn_more_often_than_it_has_batches_starts_a_new_pass():
    # uniform over a 1-batch task and a 9-batch task: the small task is drawn ~5 times per epoch
    lengths = [[1, 1], [1] * 18]
    batches = MultiTaskBatches(lengths, batch_size=2, seed=0, sampler="uniform")
    order = batches.task_order()
    small = [batch for batch, task in zip(batches, order) if task == 0]
    assert len(small) == order.count(0) > 1 and all(sorted(b) == [0, 1] for b in small)


def test_every_task_needs_data_and_known_samplers():
    with pytest.raises(ConfigError, match="needs training data"):
        MultiTaskBatches([[3, 4], []], batch_size=2)
    with pytest.raises(ConfigError, match="sampler must be one of"):
        task_probabilities([1, 2], "square")
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        task_probabilities([1, 2], "temperature", 0.0)
