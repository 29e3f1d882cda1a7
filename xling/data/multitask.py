"""Multi-task batches: each batch holds one task; tasks are interleaved by a task sampler.

Per epoch, each task's features are cut into length-grouped batches (as in
single-task training); then, for each of the epoch's batch slots, a task is
drawn with probability

- ``proportional``: p_i ∝ n_i (n_i = number of features of task i),
- ``temperature``: p_i ∝ n_i^(1/T) (T = 1 is proportional; large T tends to uniform),
- ``uniform``: p_i = 1 / number of tasks,

and its next batch is taken. An epoch has as many batches as all tasks
together; a task drawn more often than it has batches starts a fresh,
reshuffled pass over its data, one drawn less often leaves some unused.
The order depends only on the seed and the epoch (``set_epoch``), so a resumed
run sees the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from xling.errors import ConfigError
from xling.data.features import LengthGroupedBatches

SAMPLERS = ("proportional", "temperature", "uniform")
_PASSES = 10_000  # per-task passes an epoch may start (keeps stream epochs distinct across epochs)


def task_probabilities(sizes: Sequence[int], sampler: str = "proportional", temperature: float = 1.0) -> np.ndarray:
    """The probability of drawing each task for a batch."""
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"every task of a multi-task stage needs training data; sizes {list(sizes)}")
    if sampler == "temperature" and not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    counts = np.asarray(sizes, dtype=np.float64)
    if sampler == "proportional":
        weights = counts
    elif sampler == "temperature":
        weights = counts ** (1.0 / temperature)
    else:
        weights = np.ones_like(counts)
    return weights / weights.sum()


class MultiTaskBatches(Sampler[list[int]]):
    """Batches over the concatenation of several tasks' features (task i's indices follow task i-1's)."""

    def __init__(self, lengths: Sequence[Sequence[int]], batch_size: int, seed: int = 0,
                 sampler: str = "proportional", temperature: float = 1.0, group: int | None = 50) -> None:
        self.probabilities = task_probabilities([len(task) for task in lengths], sampler, temperature)
        self.offsets = np.cumsum([0] + [len(task) for task in lengths[:-1]]).tolist()
        self.streams = [LengthGroupedBatches(task, batch_size, seed=seed * 1000 + i, group=group)
                        for i, task in enumerate(lengths)]
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return sum(len(stream) for stream in self.streams)

    def task_order(self) -> list[int]:
        """The task of each batch slot of the current epoch."""
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        weights = torch.as_tensor(self.probabilities, dtype=torch.float64)
        return torch.multinomial(weights, len(self), replacement=True, generator=generator).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        passes = [0] * len(self.streams)
        pending: list[list[list[int]]] = [[] for _ in self.streams]
        batches = []
        for task in self.task_order():
            if not pending[task]:
                stream = self.streams[task]
                stream.set_epoch(self.epoch * _PASSES + passes[task])
                pending[task] = list(stream)[::-1]  # popped from the end, in order
                passes[task] += 1
            offset = self.offsets[task]
            batches.append([offset + i for i in pending[task].pop()])
        return iter(batches)
