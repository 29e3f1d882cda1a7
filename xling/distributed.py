"""Several processes (``torchrun``, ``accelerate launch``): one global batch split across them, one writer.

A run's results must not depend on how many processes trained it. So ``--batch-size`` is the global batch:
the training loop draws the same batches as one process would (:class:`ProcessBatches` splits each one
across the processes), weights every process's loss by its share of the batch's loss terms, and takes the
optimiser step once per global batch. Evaluation splits its batches across the processes and gathers the
outputs (:func:`gather_by_index`), every example exactly once. Only the main process writes files
(:func:`on_main`) and prints (:func:`is_main`).

With one process every function here is a no-op or the identity.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from torch.utils.data import Sampler

T = TypeVar("T")


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def rank() -> int:
    """This process's rank: from the process group, else from the launcher's ``RANK`` (0 alone)."""
    dist = _dist()
    return dist.get_rank() if dist else int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Processes in the process group (1 without one)."""
    dist = _dist()
    return dist.get_world_size() if dist else 1


def is_main() -> bool:
    return rank() == 0


def launched_processes() -> int:
    """How many processes the launcher started (``WORLD_SIZE``), before any process group exists."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_batch_split(batch_size: int, processes: int | None = None) -> None:
    """``--batch-size`` is the global batch: it must split evenly across the processes."""
    processes = processes or launched_processes()
    if batch_size % processes:
        from xling.errors import ConfigError

        raise ConfigError(f"--batch-size {batch_size} is the global batch, split across {processes} processes; "
                          f"it must be a multiple of {processes}")


def start_processes() -> None:
    """Join the launcher's process group (accelerate's state: gloo on CPU, nccl on GPUs); alone: nothing."""
    if launched_processes() > 1:
        import torch
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())  # accelerate joins CPU processes only when told
        if not _ending:
            import atexit

            _ending.append(True)
            atexit.register(end_processes, synchronise=False)


_ending: list[bool] = []


def end_processes(*, synchronise: bool = True) -> None:
    """Leave the process group, once every process has got here (``synchronise``), before the interpreter
    shuts down: gloo's threads otherwise may abort a process ("terminate called without an active exception")
    while it exits. The CLI calls it when a command ends; an ``atexit`` hook calls it as a fallback. Without
    ``synchronise`` (a command that failed: another process may never reach a barrier) it only leaves.
    Alone, or called twice: nothing."""
    import sys

    if "torch.distributed" not in sys.modules:  # no process group without it (and a command without torch stays so)
        return
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if synchronise and dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()
    except Exception as exc:  # noqa: BLE001 - the command's work is done; say why the teardown failed
        print(f"xling: warning: rank {rank()} could not leave the process group: {exc!r}", file=sys.stderr)


def process_device() -> Any:
    """This process's device (``cuda:LOCAL_RANK`` under a launcher, the GPU or the CPU alone)."""
    start_processes()
    from accelerate import PartialState

    return PartialState().device


def barrier() -> None:
    dist = _dist()
    if dist and dist.get_world_size() > 1:
        dist.barrier()


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on the main process only (it writes files); every process gets its result or its error.

    An :class:`~xling.errors.XlingError` on the main process is raised on every process, so that all stop
    with the same message (printed once, by the main process).
    """
    dist = _dist()
    if not dist or dist.get_world_size() == 1:
        return fn()
    payload: list[Any] = [None]
    error: BaseException | None = None
    if dist.get_rank() == 0:
        try:
            payload = [("ok", fn())]
        except Exception as exc:  # noqa: BLE001 - re-raised below, on every process
            error = exc
            payload = [("error", exc if _picklable(exc) else RuntimeError(repr(exc)))]
    dist.broadcast_object_list(payload, src=0)
    status, value = payload[0]
    if status == "ok":
        return value
    if error is not None:
        raise error
    from xling.errors import XlingError

    if isinstance(value, XlingError):
        raise value
    raise RuntimeError(f"the main process failed: {value!r}")


def _picklable(value: Any) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(value))
    except Exception:  # noqa: BLE001 - anything that does not survive the trip is sent as text
        return False
    return True


@contextlib.contextmanager
def main_context(make: Callable[[], Any]) -> Iterator[Any]:
    """Enter the context manager ``make()`` (the run directory's lock) on the main process only; every
    process gets the value it yields, or its error. Leaving it (on success or failure) is the main one's."""
    with contextlib.ExitStack() as stack:
        yield on_main(lambda: stack.enter_context(make()))


def agree(*flags: bool) -> tuple[bool, ...]:
    """Each flag True on every process when it is True on any (a signal, a checkpoint deadline)."""
    dist = _dist()
    if not dist or dist.get_world_size() == 1:
        return tuple(flags)
    import torch

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    values = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in values.tolist())


def sum_over_processes(*values: float) -> tuple[float, ...]:
    dist = _dist()
    if not dist or dist.get_world_size() == 1:
        return tuple(values)
    import torch

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tuple(tensor.tolist())


def sync_buffers(model: Any) -> None:
    """Give every process the main process's buffers (batch-norm statistics) before evaluating or saving."""
    dist = _dist()
    if not dist or dist.get_world_size() == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def mine(items: Sequence[T]) -> list[T]:
    """This process's share of ``items`` (every ``world_size()``-th one, from its rank)."""
    return list(items[rank()::world_size()])


def gather_by_index(outputs: dict[int, Any], total: int) -> list[Any]:
    """Merge every process's ``{index: output}`` into one list of ``total``; each index exactly once."""
    dist = _dist()
    if dist and dist.get_world_size() > 1:
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, outputs)
    else:
        parts = [outputs]
    merged: list[Any] = [None] * total
    seen = [0] * total
    for part in parts:
        for index, output in part.items():
            merged[index] = output
            seen[index] += 1
    wrong = [i for i, count in enumerate(seen) if count != 1]
    if wrong:
        raise RuntimeError(f"evaluation across {len(parts)} processes scored {len(wrong)} of {total} features "
                           f"not exactly once (first: {wrong[:5]})")
    return merged


@dataclass(frozen=True)
class Share:
    """One global batch as one process sees it: its part's loss weight, the whole batch's, and its size."""

    weight: float  # loss terms in this process's part (0 for a stand-in part)
    batch_weight: float  # loss terms in the whole global batch
    examples: int  # examples in the global batch
    tokens: int  # tokens in the global batch


class ProcessBatches(Sampler[list[int]]):
    """Each global batch of ``batches`` split across the processes: this process's part, in the same order.

    A part is every ``world``-th index of the batch from ``rank`` (a length-grouped batch gives every process
    sequences of similar lengths). A last batch smaller than the number of processes leaves some processes
    with nothing: they get the batch's first index as a stand-in whose loss weight is 0, so that every
    process takes part in every step. ``skip`` batches are left out at the start (a resumed epoch).
    """

    def __init__(self, batches: Any, weights: Sequence[float], lengths: Sequence[int], rank: int = 0,
                 world: int = 1) -> None:
        self.batches = batches
        self.weights = list(weights)
        self.lengths = list(lengths)
        self.rank = rank
        self.world = world
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def part(self, batch: list[int]) -> list[int]:
        return list(batch[self.rank::self.world])

    def __iter__(self) -> Iterator[list[int]]:
        for i, batch in enumerate(self.batches):
            if i >= self.skip:
                yield self.part(batch) or [batch[0]]

    def shares(self) -> list[Share]:
        """The current epoch's batches, as this process's :class:`Share` of each (all of them, skip or not)."""
        out = []
        for batch in self.batches:
            part = self.part(batch)
            out.append(Share(weight=sum(self.weights[i] for i in part),
                             batch_weight=sum(self.weights[i] for i in batch),
                             examples=len(batch), tokens=sum(self.lengths[i] for i in batch)))
        return out
