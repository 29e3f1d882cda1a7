"""The run directory: what a run writes there, never clobbering a finished run, resuming an unfinished one.

:func:`run_directory` is how a run holds its directory: it takes a lock (a second run given the same
``--output-dir`` is refused), moves a finished run aside under ``--overwrite`` and puts it back if the new
run fails, and on a failure removes what the failed run wrote, unless the run left a resumable checkpoint
(an interrupted run, or a failure after one was saved): that stays for ``--resume``.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xling.config import RESUME_FREE, TrainConfig, load_yaml
from xling.errors import ConfigError, OutputError, XlingError
from xling.models import XlingModel, save_model
from xling.reporting.results import Results
from xling.training.best import PREVIOUS_BEST
from xling.training.checkpoint import CANDIDATES as CHECKPOINTS
from xling.training.loop import BEST_FILE, CHECKPOINT_DIR, RunInterrupted

log = logging.getLogger("xling")

# Files and folders a run writes; --overwrite replaces exactly these.
RUN_ARTIFACTS = ("results.json", "results.tmp", "config.yaml", CHECKPOINT_DIR, CHECKPOINT_DIR + ".tmp",
                 CHECKPOINT_DIR + ".old", "model", "predictions", BEST_FILE, PREVIOUS_BEST, BEST_FILE + ".tmp",
                 "train_log.jsonl", "stages", "pipeline.yaml", "snapshots")
PARTIAL = ("results.tmp", CHECKPOINT_DIR + ".tmp", BEST_FILE + ".tmp")  # half-written files, never kept
LOCK_FILE = ".xling.lock"
PREVIOUS_DIR = ".xling-previous"  # a finished run moved aside by --overwrite until the new one finishes


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


class RunLock:
    """An exclusive lock on a run directory (``flock`` on ``.xling.lock``), released when the process ends."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self.handle: Any = None

    def acquire(self) -> "RunLock":
        import fcntl

        while True:
            handle = open(self.path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise ConfigError(f"{self.path.parent} is in use by another xling run (process {holder}); "
                                  "wait for it to finish or choose another --output-dir") from None
            try:  # the file may have been removed by the run that held it just before: lock the new one
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            self.path.unlink(missing_ok=True)
            self.handle.close()
            self.handle = None


def prepare_run_dir(cfg: TrainConfig, config_file: str = "config.yaml", options: dict[str, Any] | None = None) -> Path:
    """Check the run directory: refuse to clobber a finished run; check a resumed run's config.

    ``config_file`` is the saved config a resumed run is compared with, ``options`` what it is compared
    with (default ``cfg``'s; pipelines keep ``pipeline.yaml`` and compare all their options). Nothing is
    removed here: :func:`run_directory` moves a run that ``--overwrite`` replaces aside.
    """
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} exists and is not a directory")
    finished = (out / "results.json").exists()
    unfinished = any((out / name).exists() for name in (*CHECKPOINTS, "stages"))
    if cfg.overwrite:
        pass
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
    return out


def _present(out: Path) -> list[str]:
    """The run's artifacts in ``out``, with the evaluations of its model (``evaluate-*``, by ``xling evaluate``)."""
    names = [name for name in RUN_ARTIFACTS if (out / name).exists() or (out / name).is_symlink()]
    return names + sorted(p.name for p in out.glob("evaluate-*"))


def _move_aside(out: Path) -> Path | None:
    """``--overwrite``: the previous run's artifacts into ``.xling-previous/`` (kept until the new run finishes)."""
    previous = out / PREVIOUS_DIR
    present = _present(out)
    if previous.exists():  # an earlier --overwrite did not finish: the finished run there is the one to keep
        for name in present:
            _remove(out / name)
        return previous
    if not present:
        return None
    previous.mkdir()
    for name in present:
        os.replace(out / name, previous / name)
    return previous


def _restore(out: Path, previous: Path) -> None:
    for name in _present(out):
        _remove(out / name)
    for entry in previous.iterdir():
        os.replace(entry, out / entry.name)
    previous.rmdir()


def _resumable(out: Path) -> bool:
    return any((out / name).is_dir() for name in (CHECKPOINT_DIR, CHECKPOINT_DIR + ".old", "stages"))


def output_error(exc: BaseException, where: Path) -> XlingError | None:
    """A one-line error for a failure to write output (full disk, read-only folder, ...), or None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS,
                                                  errno.EPERM, errno.EFBIG):
        target = exc.filename or where
        return OutputError(f"cannot write {target}: {exc.strerror or exc}")
    if isinstance(exc, RuntimeError) and "write failed" in str(exc).lower():  # torch's zip writer on a full disk
        return OutputError(f"cannot write to {where}: {str(exc).splitlines()[-1].strip()[:200]} "
                           "(is the disk full?)")
    return None


@contextmanager
def run_directory(cfg: TrainConfig, config_file: str = "config.yaml",
                  options: dict[str, Any] | None = None) -> Iterator[Path]:
    """Hold ``cfg.output_dir`` for one run: checked, locked, the old run moved aside under ``--overwrite``.

    On success the moved-aside run is deleted. On failure the partial files go; a run that left a
    resumable checkpoint stays for ``--resume`` (and a moved-aside run stays in ``.xling-previous/``);
    otherwise what the run wrote is removed and a moved-aside run is put back.
    """
    out = prepare_run_dir(cfg, config_file, options)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out).acquire()
    except OSError as exc:
        raise output_error(exc, out) or OutputError(f"cannot create the run directory {out}: {exc}") from None
    previous: Path | None = out / PREVIOUS_DIR if (out / PREVIOUS_DIR).is_dir() else None
    try:
        prepare_run_dir(cfg, config_file, options)  # again, under the lock: another run may just have finished
        if cfg.overwrite:
            previous = _move_aside(out)
        yield out
    except BaseException as exc:
        for name in PARTIAL:
            _remove(out / name)
        replacement = output_error(exc, out)
        interrupted = not isinstance(exc, Exception) or isinstance(exc, RunInterrupted)
        # what a run can continue from stays: an interrupted run, a failure after a checkpoint (not a full
        # disk: what the run wrote goes, to free the space), and a resumed run's earlier work
        if _resumable(out) and (cfg.resume or interrupted or replacement is None):
            if previous is not None:
                log.warning("the run that --overwrite replaces is kept in %s until this run finishes", previous)
        else:
            for name in RUN_ARTIFACTS:
                _remove(out / name)
            if previous is not None:
                _restore(out, previous)
        lock.release()
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if replacement is not None:
            raise replacement from None
        raise
    else:
        shutil.rmtree(out / PREVIOUS_DIR, ignore_errors=True)  # also one an interrupted --overwrite run kept
        lock.release()


def finish_run(model: XlingModel, tokenizer: Any, cfg: TrainConfig, run_dir: Path, results: Results) -> None:
    """Save the selected model (optional), write results.json last, and drop resumable state."""
    if cfg.save_model:
        save_model(model, run_dir / "model", tokenizer)
    results.save(run_dir)
    for name in CHECKPOINTS:
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (BEST_FILE, PREVIOUS_BEST):
        (run_dir / name).unlink(missing_ok=True)
