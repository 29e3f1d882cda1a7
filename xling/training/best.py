"""The best model of a run on disk: only what trains, loaded in place, versioned with the checkpoint.

``best.safetensors`` holds the weights of the selected evaluation point, without the parameters that
do not train (frozen word embeddings: most of a multilingual encoder's size), since those equal the
model's own. Its metadata names the version it holds (``step-120``, ``average-300``), and the loop's
checkpoint records the version it expects. A selection after the last checkpoint replaces the file;
the version the checkpoint knows is kept as ``best.previous.safetensors`` until a checkpoint records
the new one, so a run killed between a selection and the next checkpoint resumes with the best model
of its own checkpoint, never one from a later step (:func:`check_best`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from xling.errors import XlingError

BEST_FILE = "best.safetensors"
PREVIOUS_BEST = "best.previous.safetensors"
VERSION_KEY = "xling_best"


class BestModelMismatch(XlingError):
    """The best-model file on disk is not the one the checkpoint expects."""


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict without its frozen parameters (every alias of them) and shared duplicates."""
    frozen = {name for name, p in model.named_parameters(remove_duplicate=False) if not p.requires_grad}
    state = {k: v for k, v in model.state_dict().items() if k not in frozen}
    return _dedupe(state)


def file_version(path: Path) -> str | None:
    """The version written in a best-model file's metadata (``None``: no file, or none recorded)."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as handle:
        return (handle.metadata() or {}).get(VERSION_KEY)


def write_best(model: torch.nn.Module, run_dir: Path, version: str, committed: str | None) -> None:
    """Write the model's trainable state as the best, tagged ``version``.

    ``committed`` is the version the last checkpoint records: if the current file holds it, it is kept
    as the previous best (a kill before the next checkpoint must find it) instead of being overwritten.
    """
    from safetensors.torch import save_file

    best = run_dir / BEST_FILE
    if committed is not None and file_version(best) == committed:
        best.replace(run_dir / PREVIOUS_BEST)
    tmp = run_dir / (BEST_FILE + ".tmp")
    tensors = {k: v.detach().contiguous().cpu() for k, v in trainable_state(model).items()}
    save_file(tensors, str(tmp), metadata={VERSION_KEY: version})
    tmp.replace(best)


def check_best(run_dir: Path, expected: str | None, best_step: int | None) -> None:
    """On resume: make ``best.safetensors`` the version the checkpoint expects, or fail.

    ``expected`` is the checkpoint's version (``None`` with a ``best_step``: a checkpoint written before
    versions were recorded, whose file is taken as it is). A file from a later selection is replaced by
    the kept previous one; without a best in the checkpoint, later files are removed.
    """
    best, previous = run_dir / BEST_FILE, run_dir / PREVIOUS_BEST
    if expected is None:
        if best_step is None:  # nothing selected yet at the checkpoint: any file is from later steps
            best.unlink(missing_ok=True)
            previous.unlink(missing_ok=True)
        return
    if file_version(best) == expected:
        previous.unlink(missing_ok=True)
    elif file_version(previous) == expected:
        previous.replace(best)
    else:
        raise BestModelMismatch(
            f"{best} holds {file_version(best) or 'no recorded version'}, but the checkpoint's best model is "
            f"{expected}; the run cannot resume with its own best model (start again with --overwrite)")


def load_best(model: torch.nn.Module, run_dir: Path, expected: str | None = None) -> None:
    """Copy the best weights into ``model``'s own tensors, one at a time (never a second state dict)."""
    from safetensors import safe_open

    path = run_dir / BEST_FILE
    if not path.is_file():
        return
    targets = model.state_dict()
    with safe_open(str(path), framework="pt") as handle:
        version = (handle.metadata() or {}).get(VERSION_KEY)
        if expected is not None and version != expected:
            raise BestModelMismatch(f"{path} holds {version or 'no recorded version'}, expected {expected}")
        unexpected = [k for k in handle.keys() if k not in targets]
        if unexpected:
            raise RuntimeError(f"{path} does not fit the model: unexpected {unexpected[:5]}")
        with torch.no_grad():
            for key in handle.keys():
                tensor = handle.get_tensor(key)
                if tensor.shape != targets[key].shape:
                    raise RuntimeError(f"{path} does not fit the model: {key} has shape {tuple(tensor.shape)}, "
                                       f"not {tuple(targets[key].shape)}")
                targets[key].copy_(tensor)


def drop_previous(run_dir: Path) -> None:
    (run_dir / PREVIOUS_BEST).unlink(missing_ok=True)


def _dedupe(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop tensors that share storage with one already kept (tied embeddings of T5)."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for key, tensor in state.items():
        ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if ident in seen:
            continue
        seen.add(ident)
        out[key] = tensor
    return out


def version_of(step: int, averaged: Any = None) -> str:
    return f"{'average' if averaged else 'step'}-{step}"
