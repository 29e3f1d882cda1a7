"""What a sweep keeps on disk, and the done / running / failed / pending view of it.

In the sweep directory: ``sweep.yaml`` (the resolved spec), ``sweep.json`` (the manifest: every run and
selection group), ``sweep-driver.json`` (the running ``xling sweep``'s heartbeat, which also keeps a second
driver out) and ``sweep.md`` (the tables). In each run directory, beside what ``xling train`` writes:
``sweep-run.yaml`` (the run's config), ``sweep.log`` (every attempt's output), ``sweep-status.json`` (the
latest attempt: running with a heartbeat, done, failed) and ``sweep-events.jsonl`` (one line per attempt's
start and end). A run is done when its ``results.json`` exists, nothing else.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.errors import ConfigError

SCHEMA = "xling.sweep/1"
SPEC_FILE = "sweep.yaml"
MANIFEST = "sweep.json"
DRIVER = "sweep-driver.json"
TABLES = "sweep.md"
RUN_FILE = "sweep-run.yaml"
STATUS = "sweep-status.json"
EVENTS = "sweep-events.jsonl"
LOG = "sweep.log"
RESULTS = "results.json"
HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 60.0  # a heartbeat older than this: the process is gone
STATES = ("done", "running", "failed", "pending")


def write_json(path: Path, data: Any) -> None:
    """Atomically (several processes, maybe on several machines, read these files)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{socket.gethostname()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def append_event(run_dir: Path, event: dict[str, Any]) -> None:
    with open(run_dir / EVENTS, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"time": time.time(), **event}) + "\n")


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    try:
        lines = (run_dir / EVENTS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------- one run


@dataclass
class RunState:
    key: str
    state: str  # done, running, failed, pending
    detail: str = ""
    log: Path | None = None
    status: dict[str, Any] = field(default_factory=dict)


def run_state(out: Path, key: str) -> RunState:
    """done: results.json; failed: its last attempt failed for good; running: a fresh heartbeat; else pending."""
    run_dir = out / key
    log = run_dir / LOG
    if (run_dir / RESULTS).is_file():
        return RunState(key, "done", log=log if log.exists() else None)
    status = read_json(run_dir / STATUS) or {}
    state = status.get("state")
    if state == "failed":
        return RunState(key, "failed", status.get("error", ""), log, status)
    if state == "running" and time.time() - float(status.get("heartbeat", 0)) < STALE_SECONDS:
        where = status.get("node") or status.get("host") or "?"
        detail = f"attempt {status.get('attempt', 1)} on {where}, {time.time() - float(status['started']):.0f} s"
        return RunState(key, "running", detail, log, status)
    detail = "interrupted, will resume" if state in ("running", "lost", "killed") else ""
    return RunState(key, "pending", detail, log if log.exists() else None, status)


# ---------------------------------------------------------------- the manifest


def write_manifest(out: Path, data: dict[str, Any]) -> None:
    write_json(out / MANIFEST, {"schema": SCHEMA, **data})


def read_manifest(out: Path) -> dict[str, Any]:
    data = read_json(Path(out) / MANIFEST)
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("xling.sweep/"):
        raise ConfigError(f"{out} is not a sweep directory (no readable {MANIFEST}); start one with "
                          "xling sweep SPEC.yaml --output-dir DIR")
    return data


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


# ---------------------------------------------------------------- the driver


class Driver:
    """The running sweep's heartbeat file; a second ``xling sweep`` on a live directory is refused."""

    def __init__(self, out: Path, backend: str, total: int) -> None:
        self.path = out / DRIVER
        current = read_json(self.path) or {}
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        if _alive(current) and {k: current.get(k) for k in me} != me:
            raise ConfigError(f"a sweep is already running in {out} (pid {current.get('pid')} on "
                              f"{current.get('host')}, alive {time.time() - float(current['heartbeat']):.0f} s ago); "
                              "wait for it, or stop it first")
        self.data = {**me, "backend": backend, "state": "running", "started": time.time(), "total": total}
        self.last = 0.0
        self.beat(force=True)

    def beat(self, force: bool = False, **changes: Any) -> None:
        self.data.update(changes)
        if force or time.monotonic() - self.last >= HEARTBEAT_SECONDS:
            self.data["heartbeat"] = time.time()
            write_json(self.path, self.data)
            self.last = time.monotonic()

    def stop(self, state: str) -> None:
        self.beat(force=True, state=state, ended=time.time())


def _alive(data: dict[str, Any]) -> bool:
    """A driver is alive while its heartbeat is fresh and, on this host, its process exists."""
    if data.get("state") != "running" or time.time() - float(data.get("heartbeat", 0)) >= STALE_SECONDS:
        return False
    if data.get("host") != socket.gethostname():
        return True  # another machine: the heartbeat is all there is
    pid = int(data.get("pid") or 0)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # the pid may have been reused by another program
        return b"xling" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def driver_state(out: Path) -> str:
    data = read_json(Path(out) / DRIVER) or {}
    if not data:
        return "no sweep has run here"
    if _alive(data):
        return (f"sweep running ({data.get('backend')} backend, pid {data.get('pid')} on {data.get('host')}, "
                f"alive {time.time() - float(data['heartbeat']):.0f} s ago)")
    ended = data.get("ended") or data.get("heartbeat")
    ago = f", {time.time() - float(ended):.0f} s ago" if ended else ""
    state = data.get("state") if data.get("state") != "running" else "stopped without a word (killed?)"
    return f"no sweep running (the last one: {state}{ago}); the same xling sweep command continues it"


def driver_alive(out: Path) -> bool:
    return driver_state(out).startswith("sweep running")


# ---------------------------------------------------------------- summary


@dataclass
class Summary:
    states: list[RunState]
    waiting: int  # runs not planned yet: they wait for a selection

    def count(self, state: str) -> int:
        return sum(s.state == state for s in self.states)

    @property
    def total(self) -> int:
        return len(self.states) + self.waiting

    def line(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in STATES)
        waiting = f" (+{self.waiting} after selection)" if self.waiting else ""
        return f"{self.total} runs: {counts}{waiting}"


def summarize(out: Path) -> Summary:
    manifest = read_manifest(out)
    states = [run_state(Path(out), run["key"]) for run in manifest["runs"]]
    waiting = sum(len(g.get("final_seeds", [])) for g in manifest.get("groups", []) if g.get("chosen") is None
                  and g.get("state") != "blocked")
    return Summary(states, waiting)


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def status_text(out: Path) -> str:
    """What ``xling sweep status`` prints: counts, a bar, the running and failed runs, the driver."""
    summary = summarize(out)
    finished = summary.count("done") + summary.count("failed")
    lines = [f"{out}: {summary.line()}", bar(finished, summary.total)]
    for state in summary.states:
        if state.state == "running":
            lines.append(f"  running  {state.key} ({state.detail})")
    for state in summary.states:
        if state.state == "failed":
            lines.append(f"  failed   {state.key}: {state.detail} (log: {state.log})")
    for state in summary.states:
        if state.state == "pending" and state.detail:
            lines.append(f"  pending  {state.key} ({state.detail})")
    lines.append(driver_state(out))
    return "\n".join(lines)
