"""One attempt of one run: ``python -m xling train|pipeline --config RUN/sweep-run.yaml [--resume]``.

Both backends call :func:`execute` (the local one in a thread, Ray in a task), so a run in a sweep is the
same process as a bare ``xling train`` of the same config: its own memory, its own log, and a crash that
takes only that run down. The process dies with whoever started it (``PR_SET_PDEATHSIG``), so a killed
worker or sweep never leaves a run training on behind a retry of it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from xling.sweep.state import (EVENTS, HEARTBEAT_SECONDS, LOG, RESULTS, RUN_FILE, STATUS, append_event, read_events,
                               write_json)

UNFINISHED = ("checkpoint", "stages")  # what xling train / pipeline leave to --resume from
STOPPED_BY_SIGNAL = "received; stopping after this step"  # xling's message when SIGTERM/SIGINT checkpointed it
RETRYABLE = ("killed", "lost")
_live: dict[str, subprocess.Popen] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Job:
    """What a backend ships to where the run executes (plain data: Ray pickles it)."""

    key: str
    run_dir: str
    command: str  # train or pipeline
    sweep: str  # the id of the xling sweep invocation that sent it
    attempt: int


@dataclass
class Outcome:
    key: str
    state: str  # done, skipped (finished before), failed, killed (a signal: retry), lost (the worker died: retry)
    returncode: int | None = None
    seconds: float = 0.0
    node: str = ""
    host: str = ""
    error: str = ""
    resumed: bool = False

    @property
    def retryable(self) -> bool:
        return self.state in RETRYABLE

    @property
    def finished(self) -> bool:
        return self.state in ("done", "skipped")


def xling_root() -> str:
    """The folder holding this ``xling`` package, put first on the run's PYTHONPATH (worktrees, clusters)."""
    import xling

    return str(Path(xling.__file__).resolve().parent.parent)


def command_line(job: Job, resume: bool) -> list[str]:
    run_dir = Path(job.run_dir)
    return [sys.executable, "-m", "xling", job.command, "--config", str(run_dir / RUN_FILE),
            *(["--resume"] if resume else [])]


def execute(job: Job, env: dict[str, str] | None = None, node: str | None = None) -> Outcome:
    """Run one attempt and say how it ended; a run whose results exist is not started again."""
    run_dir = Path(job.run_dir)
    host = socket.gethostname()
    node = node or host
    if (run_dir / RESULTS).is_file():
        return Outcome(job.key, "skipped", 0, node=node, host=host)
    resume = any((run_dir / name).is_dir() for name in UNFINISHED)
    command = command_line(job, resume)
    child_env = {**os.environ, **(env or {}), "XLING_NODE": node, "XLING_SWEEP_RUN": job.key,
                 "PYTHONPATH": os.pathsep.join(p for p in (xling_root(), os.environ.get("PYTHONPATH")) if p)}
    started = time.time()
    status = {"state": "running", "attempt": job.attempt, "sweep": job.sweep, "node": node, "host": host,
              "started": started, "heartbeat": started, "resume": resume, "log": str(run_dir / LOG)}
    log = run_dir / LOG
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"=== attempt {job.attempt} of sweep {job.sweep} on {node} ({host}) at "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=child_env,
                                   cwd=str(run_dir), preexec_fn=_die_with_parent)
        with _lock:
            _live[job.key] = process
        status["pid"] = process.pid
        write_json(run_dir / STATUS, status)
        append_event(run_dir, {"event": "start", "attempt": job.attempt, "sweep": job.sweep, "node": node,
                               "host": host, "pid": process.pid, "resume": resume})
        try:
            returncode = _wait(process, run_dir, status)
        except BaseException:  # cancelled (Ray) or interrupted: let the run checkpoint, then go
            _stop(process)
            raise
        finally:
            with _lock:
                _live.pop(job.key, None)
    seconds = time.time() - started
    done = returncode == 0 and (run_dir / RESULTS).is_file()
    text = _read_from(log, offset)
    if done:
        state, error = "done", ""
    elif returncode < 0 or STOPPED_BY_SIGNAL in text:
        state, error = "killed", f"stopped by signal {-returncode if returncode < 0 else 'SIGTERM/SIGINT'}"
    else:
        state, error = "failed", last_error(text) or f"exit status {returncode}"
    write_json(run_dir / STATUS, {**status, "state": state, "returncode": returncode, "ended": time.time(),
                                  "seconds": seconds, "error": error})
    append_event(run_dir, {"event": "end", "attempt": job.attempt, "sweep": job.sweep, "node": node,
                           "state": state, "returncode": returncode, "seconds": seconds})
    return Outcome(job.key, state, returncode, seconds, node, host, error, resume)


def _wait(process: subprocess.Popen, run_dir: Path, status: dict) -> int:
    while True:
        try:
            return process.wait(timeout=HEARTBEAT_SECONDS)
        except subprocess.TimeoutExpired:
            status["heartbeat"] = time.time()
            write_json(run_dir / STATUS, status)


def _stop(process: subprocess.Popen, grace: float = 120.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL this process when the thread that started it ends (a killed worker or sweep)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def last_error(text: str) -> str:
    """The line that says why a run failed: xling's one-line error, else a traceback's last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("===")]
    for line in reversed(lines):
        if line.startswith("xling: error:"):
            return line[len("xling: error:"):].strip()
    return lines[-1][:300] if lines else ""


def stop_all(sig: int = signal.SIGTERM) -> int:
    """Signal every run this process started (SIGTERM: they checkpoint and stop); returns how many."""
    with _lock:
        processes = list(_live.values())
    for process in processes:
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass
    return len(processes)


def attempts(run_dir: Path) -> list[dict]:
    """The run's attempts so far (start events), across sweeps."""
    return [e for e in read_events(run_dir) if e.get("event") == "start"]


__all__ = ["EVENTS", "Job", "Outcome", "attempts", "execute", "stop_all"]
