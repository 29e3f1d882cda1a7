"""Weight averaging: of runs that share an architecture, and of a run's last evaluation points.

Averaging checkpoints and runs gives consistent gains in zero-shot transfer (Schmidt et al., ACL
2023). :class:`StateAverager` is the one place weights are averaged: ``xling ensemble --method
weights`` feeds it the members' models, and the training loop (``average_checkpoints: K``) the
weights it snapshots at its last K evaluation points (:func:`save_snapshot`,
:func:`load_average`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from xling.errors import ConfigError

SNAPSHOT_DIR = "averaging"


class StateAverager:
    """Running mean of state dicts, accumulated in float64 (averaging identical states is exact).

    Floating-point entries are averaged and cast back to their dtype; other entries (integer
    buffers: position ids, BatchNorm's ``num_batches_tracked`` counter) are taken from the last
    state added (the latest checkpoint).
    """

    def __init__(self) -> None:
        self.count = 0
        self._sums: dict[str, torch.Tensor] = {}
        self._dtypes: dict[str, torch.dtype] = {}
        self._fixed: dict[str, torch.Tensor] = {}
        self._first = ""

    def add(self, state: Mapping[str, torch.Tensor], source: str = "a state") -> None:
        if not self.count:
            self._first = source
            for key, value in state.items():
                value = value.detach().cpu()
                if value.is_floating_point():
                    self._sums[key], self._dtypes[key] = value.to(torch.float64, copy=True), value.dtype
                else:
                    self._fixed[key] = value.clone()
            self.count = 1
            return
        known = set(self._sums) | set(self._fixed)
        missing, unexpected = sorted(known - set(state)), sorted(set(state) - known)
        if missing or unexpected:
            raise ConfigError(f"cannot average {source} with {self._first}: different parameters "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        for key, value in state.items():
            value = value.detach().cpu()
            reference = self._sums.get(key, self._fixed.get(key))
            if value.shape != reference.shape:
                raise ConfigError(f"cannot average {source} with {self._first}: {key} has shape "
                                  f"{tuple(value.shape)}, not {tuple(reference.shape)}")
            if key in self._sums:
                self._sums[key] += value.double()
            else:
                self._fixed[key] = value.clone()
        self.count += 1

    def average(self) -> dict[str, torch.Tensor]:
        if not self.count:
            raise ConfigError("nothing to average")
        out = {key: (total / self.count).to(self._dtypes[key]) for key, total in self._sums.items()}
        return {**out, **{key: value.clone() for key, value in self._fixed.items()}}


# ---------------------------------------------------------------- checkpoint averaging in the training loop


def _snapshot_path(run_dir: Path, step: int) -> Path:
    return run_dir / SNAPSHOT_DIR / f"step-{step}.pt"


def save_snapshot(accelerator: Any, model: torch.nn.Module, run_dir: Path, steps: list[int], keep: int) -> None:
    """Keep the weights of the evaluation point ``steps[-1]``; drop snapshots older than the last ``keep``.

    Frozen parameters are left out (they equal the final model's); buffers are kept. Snapshots
    live on disk, so a resumed run still averages every one of its last ``keep`` points.
    """
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    unwrapped = accelerator.unwrap_model(model)
    frozen = {name for name, p in unwrapped.named_parameters() if not p.requires_grad}
    state = {k: v.detach().cpu() for k, v in unwrapped.state_dict().items() if k not in frozen}
    path = _snapshot_path(run_dir, steps[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)  # torch.save keeps tied weights (mT5) shared; safetensors refuses them
    tmp.replace(path)
    wanted = {_snapshot_path(run_dir, step).name for step in steps[-keep:]}
    for old in path.parent.glob("step-*.pt"):
        if old.name not in wanted:
            old.unlink()


def load_average(accelerator: Any, model: torch.nn.Module, run_dir: Path, steps: list[int], keep: int,
                 evaluate: Callable[[int], tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    """Load the mean of the snapshots of the last ``keep`` evaluation points into ``model``.

    Returns the record for the stage: the number asked for, the steps averaged, and the
    selection score (with its details, e.g. oracle dev scores) of the averaged weights.
    """
    chosen = steps[-keep:]
    accelerator.wait_for_everyone()
    averager = StateAverager()
    for step in chosen:
        path = _snapshot_path(run_dir, step)
        if not path.is_file():
            raise ConfigError(f"checkpoint averaging: the snapshot of step {step} is missing ({path}); "
                              "it is written at every evaluation point while training")
        averager.add(torch.load(path, map_location="cpu", weights_only=True), str(path))
    unwrapped = accelerator.unwrap_model(model)
    result = unwrapped.load_state_dict(averager.average(), strict=False)
    if result.unexpected_keys:
        raise ConfigError(f"{run_dir / SNAPSHOT_DIR} does not fit the model: unexpected {result.unexpected_keys[:5]}")
    score, details = evaluate(steps[-1])
    return {"checkpoints": keep, "steps": chosen, "score": score, **details}


def drop_snapshots(accelerator: Any, run_dir: Path) -> None:
    """Remove the snapshots once the average is stored with the run's resumable state."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(run_dir / SNAPSHOT_DIR, ignore_errors=True)
