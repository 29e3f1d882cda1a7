"""Resumable checkpoints that a kill at any moment cannot lose.

A checkpoint is written to ``checkpoint.tmp`` by every process (accelerate's state: model, optimiser,
schedule, each process's random states, the loop's state), then the main process writes a completeness
record (:data:`RECORD`: the step and every file with its size) and swaps it in by renames:
``checkpoint`` -> ``checkpoint.old``, ``checkpoint.tmp`` -> ``checkpoint``, then deletes ``.old``. Whatever
moment a kill hits, one complete checkpoint is on disk, and ``--resume`` takes the newest complete one of
the three (:func:`find_checkpoint`), saying so when none is usable.
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

log = logging.getLogger("xling")

CHECKPOINT_DIR = "checkpoint"
TMP_SUFFIX, OLD_SUFFIX = ".tmp", ".old"
RECORD = "xling-checkpoint.json"
CANDIDATES = (CHECKPOINT_DIR, CHECKPOINT_DIR + TMP_SUFFIX, CHECKPOINT_DIR + OLD_SUFFIX)


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
