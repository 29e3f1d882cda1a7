"""The run directory: what a run writes there, never clobbering a finished run, resuming an unfinished one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from xling.config import RESUME_FREE, TrainConfig, load_yaml
from xling.errors import ConfigError
from xling.models import XlingModel, save_model
from xling.reporting.results import Results
from xling.training.checkpoint import CANDIDATES as CHECKPOINTS
from xling.training.loop import BEST_FILE

# Files and folders a run writes; --overwrite removes exactly these.
RUN_ARTIFACTS = ("results.json", "config.yaml", *CHECKPOINTS, "model", "predictions",
                 BEST_FILE, "train_log.jsonl", "stages", "pipeline.yaml")


def prepare_run_dir(cfg: TrainConfig, config_file: str = "config.yaml", options: dict[str, Any] | None = None) -> Path:
    """Create the run directory; refuse to clobber a finished run; check a resumed run's config.

    ``config_file`` is the saved config a resumed run is compared with, ``options`` what it is compared
    with (default ``cfg``'s; pipelines keep ``pipeline.yaml`` and compare all their options).
    """
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} exists and is not a directory")
    finished = (out / "results.json").exists()
    unfinished = any((out / name).exists() for name in CHECKPOINTS) or (out / "stages").exists()
    if cfg.overwrite:
        for name in RUN_ARTIFACTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    elif finished:
        raise ConfigError(f"{out} already holds a finished run (results.json); use --overwrite to replace it "
                          "or choose another --output-dir")
    elif unfinished and not cfg.resume:
        raise ConfigError(f"{out} holds an unfinished run (checkpoint/ or stages/); add --resume to continue it "
                          "or --overwrite to start again")
    elif cfg.resume and (out / config_file).exists():
        saved = load_yaml(out / config_file)
        current = cfg.to_dict() if options is None else options
        changed = sorted(k for k in current if k not in RESUME_FREE and k in saved and saved[k] != current[k])
        if changed:
            detail = "; ".join(f"{k}: {saved[k]!r} -> {current[k]!r}" for k in changed)
            raise ConfigError(f"cannot resume {out} with a different configuration ({detail})")
    out.mkdir(parents=True, exist_ok=True)
    return out


def finish_run(model: XlingModel, tokenizer: Any, cfg: TrainConfig, run_dir: Path, results: Results) -> None:
    """Save the selected model (optional), write results.json last, and drop resumable state."""
    if cfg.save_model:
        save_model(model, run_dir / "model", tokenizer)
    results.save(run_dir)
    for name in CHECKPOINTS:
        shutil.rmtree(run_dir / name, ignore_errors=True)
    (run_dir / BEST_FILE).unlink(missing_ok=True)
