"""Resumable checkpoints that a kill at any moment cannot lose.

A checkpoint is written to ``checkpoint.tmp`` by every process (accelerate's state: model, optimiser,
schedule, each process's random states, the loop's state), then the main process writes a completeness
record (:data:`RECORD`: the step and every file with its size) and swaps it in by renames:
``checkpoint`` -> ``checkpoint.old``, ``checkpoint.tmp`` -> ``checkpoint``, then deletes ``.old``. Whatever
moment a kill hits, one complete checkpoint is on disk, and ``--resume`` takes the newest complete one of
the three (:func:`find_checkpoint`), saying so when none is usable.

Parameters that do not train (frozen word embeddings: most of a multilingual encoder) are not written:
they equal the pretrained weights the run is rebuilt from on ``--resume``. The checkpoint lists them in
:data:`FROZEN` with each one's shape, dtype and a fingerprint of its first values, and a resume checks
those against the rebuilt model before loading the rest (:func:`register_frozen_hooks`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from xling.distributed import barrier
from xling.errors import XlingError

log = logging.getLogger("xling")

CHECKPOINT_DIR = "checkpoint"
TMP_SUFFIX, OLD_SUFFIX = ".tmp", ".old"
RECORD = "xling-checkpoint.json"
CANDIDATES = (CHECKPOINT_DIR, CHECKPOINT_DIR + TMP_SUFFIX, CHECKPOINT_DIR + OLD_SUFFIX)
FROZEN = "xling-frozen.json"
MODEL_FILE = "pytorch_model.bin"  # accelerate's name, with safe_serialization=False
FINGERPRINT_VALUES = 4096  # the first values of each frozen tensor that its fingerprint sums


class CheckpointMismatch(XlingError):
    """A checkpoint's frozen parameters are not the model's (another pretrained model, or other data types)."""


def frozen_names(model: Any) -> set[str]:
    """The state-dict keys of the parameters that do not train (every alias of each)."""
    return {name for name, p in model.named_parameters(remove_duplicate=False) if not p.requires_grad}


def _fingerprint(tensor: Any) -> dict[str, Any]:
    import torch

    head = tensor.detach().reshape(-1)[:FINGERPRINT_VALUES].to(device="cpu", dtype=torch.float64)
    return {"shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch."),
            "sum": float(head.sum()), "abs_sum": float(head.abs().sum())}


def register_frozen_hooks(accelerator: Any) -> None:
    """Make the accelerator's checkpoints leave out the frozen parameters, and load them back in place.

    Saving drops them from the state dict accelerate writes and records them in :data:`FROZEN`; loading a
    checkpoint with that record loads the model's file without them (in place, memory-mapped), after
    checking that the model's frozen parameters are the recorded ones. A checkpoint without the record (an
    xling from before) loads as accelerate does, whole.
    """

    def drop_frozen(models: list, weights: list, output_dir: str) -> None:
        record = {}
        for model, state in zip(models, weights):
            for name in sorted(frozen_names(model) & set(state)):
                record[name] = _fingerprint(state.pop(name))
        if accelerator.is_main_process:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            _write_synced(Path(output_dir) / FROZEN, json.dumps(record, indent=1))

    def load_without_frozen(models: list, input_dir: str) -> None:
        record_file = Path(input_dir) / FROZEN
        if not record_file.is_file() or not models:
            return
        if len(models) != 1:
            raise XlingError(f"{input_dir}: a checkpoint without frozen parameters holds one model, not {len(models)}")
        load_model_without(models[0], Path(input_dir), json.loads(record_file.read_text(encoding="utf-8")))
        models.clear()  # loaded here; accelerate loads the optimiser, schedule, RNG and loop state

    if getattr(accelerator, "_xling_frozen_hooks", False):  # once per accelerator, however many loops use it
        return
    accelerator.register_save_state_pre_hook(drop_frozen)
    accelerator.register_load_state_pre_hook(load_without_frozen)
    accelerator._xling_frozen_hooks = True


def load_model_without(model: Any, directory: Path, record: dict[str, dict[str, Any]]) -> None:
    """Load ``directory``'s model file into ``model`` in place; the keys it lacks must be the recorded frozen
    parameters, whose shape, dtype and fingerprint the model's own must match."""
    import torch

    state = model.state_dict()
    frozen = frozen_names(model)
    if set(record) != frozen & set(state):
        other = sorted(set(record) ^ (frozen & set(state)))
        raise CheckpointMismatch(f"{directory}: the checkpoint was written with other frozen parameters than this "
                                 f"run's ({len(other)} differ, e.g. {other[0]}); resume with the options it was "
                                 f"trained with (--freeze-embeddings)")
    for name, expected in record.items():
        found = _fingerprint(state[name])
        if found["shape"] != expected["shape"] or found["dtype"] != expected["dtype"] or not (
                abs(found["sum"] - expected["sum"]) <= 1e-6 * max(1.0, abs(expected["abs_sum"]))):
            raise CheckpointMismatch(f"{directory}: frozen parameter {name} is not the one the checkpoint was "
                                     f"trained with ({expected['shape']} {expected['dtype']}, here {found['shape']} "
                                     f"{found['dtype']}{'' if found['shape'] != expected['shape'] else ', other values'}"
                                     f"); resume with the same --model")
    saved = torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True, mmap=True)
    missing, unexpected = model.load_state_dict(saved, strict=False)
    lost = sorted(set(missing) - set(record))
    if lost or unexpected:
        raise CheckpointMismatch(f"{directory}: the checkpoint's model does not fit this run's "
                                 f"(missing {lost[:3]}, unexpected {sorted(unexpected)[:3]})")


def save_checkpoint(accelerator: Any, run_dir: Path, step: int) -> Path:
    """Write the accelerator's state as ``run_dir/checkpoint`` (every process calls this; barriers inside)."""
    checkpoint = run_dir / CHECKPOINT_DIR
    tmp, old = run_dir / (CHECKPOINT_DIR + TMP_SUFFIX), run_dir / (CHECKPOINT_DIR + OLD_SUFFIX)
    main = accelerator.is_main_process
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    barrier()
    accelerator.save_state(str(tmp), safe_serialization=False)  # each process writes its part
    barrier()
    if main:
        _fault("written")
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        record = {"step": step, "processes": accelerator.num_processes, "files": files}
        _write_synced(tmp / RECORD, json.dumps(record, indent=1))
        _fault("recorded")
        if checkpoint.exists():
            shutil.rmtree(old, ignore_errors=True)
            checkpoint.rename(old)
        _fault("moved")
        tmp.rename(checkpoint)
        _fault("renamed")
        shutil.rmtree(old, ignore_errors=True)
    barrier()
    return checkpoint


_FAULTS: dict[str, int] = {}


def _fault(phase: str) -> None:
    """For the tests: ``XLING_TEST_CHECKPOINT_FAULT=PHASE:N`` kills the process at the N-th time it reaches
    PHASE of a checkpoint swap (written, recorded, moved, renamed)."""
    wanted = os.environ.get("XLING_TEST_CHECKPOINT_FAULT", "")
    if not wanted.startswith(phase + ":"):
        return
    _FAULTS[phase] = _FAULTS.get(phase, 0) + 1
    if _FAULTS[phase] == int(wanted.split(":")[1]):
        os.kill(os.getpid(), signal.SIGKILL)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete checkpoint (None when it is)."""
    if not path.is_dir():
        return "absent"
    record_file = path / RECORD
    if not record_file.is_file():
        if path.name == CHECKPOINT_DIR and _legacy_complete(path):  # an xling from before completeness records
            return None  # renamed its checkpoints into place complete; a half-deleted one lacks files
        return f"incomplete (no {RECORD})"
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        files = dict(record["files"])
        int(record["step"])
    except (ValueError, KeyError, TypeError):
        return f"incomplete (unreadable {RECORD})"
    for name, size in files.items():
        file = path / name
        if not file.is_file():
            return f"incomplete ({name} is missing)"
        if file.stat().st_size != size:
            return f"incomplete ({name} has {file.stat().st_size} bytes, not {size})"
    return None


# what every checkpoint of one process holds (accelerate's names); the model is one of two files
LEGACY_FILES = ("optimizer.bin", "scheduler.bin", "random_states_0.pkl", "custom_checkpoint_0.pkl")


def _legacy_complete(path: Path) -> bool:
    return all((path / name).is_file() for name in LEGACY_FILES) and any(
        (path / name).is_file() for name in ("pytorch_model.bin", "model.safetensors"))


def checkpoint_step(path: Path) -> int:
    if not (path / RECORD).is_file():  # a checkpoint from before completeness records: its loop state says
        import torch

        return int(torch.load(path / "custom_checkpoint_0.pkl", weights_only=False)["step"])
    return int(json.loads((path / RECORD).read_text(encoding="utf-8"))["step"])


def find_checkpoint(run_dir: Path) -> tuple[Path | None, dict[str, str]]:
    """The newest complete checkpoint among ``checkpoint``, ``checkpoint.tmp`` and ``checkpoint.old``
    (None if none), and what is wrong with each of the others."""
    problems: dict[str, str] = {}
    complete: list[tuple[int, int, Path]] = []
    for order, name in enumerate(CANDIDATES):
        path = run_dir / name
        problem = checkpoint_problem(path)
        if problem is None:
            complete.append((checkpoint_step(path), -order, path))
        else:
            problems[name] = problem
    if not complete:
        return None, problems
    return max(complete)[2], problems


def resume_checkpoint(accelerator: Any, run_dir: Path) -> Path | None:
    """For ``--resume``: put the newest complete checkpoint in place as ``run_dir/checkpoint`` and return it,
    or say that there is none and return None (the run then starts at step 0). Every process calls this."""
    checkpoint = run_dir / CHECKPOINT_DIR
    found, problems = find_checkpoint(run_dir)
    if found is None:
        present = {name: p for name, p in problems.items() if p != "absent"}
        detail = "; ".join(f"{name}/: {p}" for name, p in present.items()) or "no checkpoint was saved"
        if accelerator.is_main_process:
            log.warning("--resume: no usable checkpoint in %s (%s); starting from step 0", run_dir, detail)
        return None
    barrier()
    if accelerator.is_main_process:
        if found != checkpoint:
            log.warning("--resume: %s/ is %s; resuming from %s/ (step %d)", CHECKPOINT_DIR,
                        problems.get(CHECKPOINT_DIR, "older"), found.name, checkpoint_step(found))
            if checkpoint.exists():
                shutil.rmtree(checkpoint)
            found.rename(checkpoint)
        for name in CANDIDATES[1:]:
            shutil.rmtree(run_dir / name, ignore_errors=True)
    barrier()
    return checkpoint
