"""Plan a sweep, skip what is finished, run the rest on a backend, retry the runs whose worker died.

- A run is finished when its ``results.json`` exists; such runs are never started again. A run directory
  holding a finished or unfinished run made with other options stops the sweep before anything runs.
- An attempt killed by a signal (OOM killer, preemption) or lost with its Ray worker or node is retried,
  at most ``retries`` times, with ``--resume`` when it left a checkpoint. A run that fails otherwise (a data
  or config error, a crash) is not retried: it is listed with its log, and the others go on.
- A killed ``xling sweep`` continues with the same command (a second one on a live directory is refused).
- With ``select:``, a config's candidates run first; once all are finished the best English selection score
  is chosen (:mod:`xling.sweep.selection`) and the config's remaining seeds run with it.
"""

from __future__ import annotations

import fnmatch
import signal
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from xling.config import RESUME_FREE
from xling.errors import ConfigError
from xling.sweep import selection
from xling.sweep.spec import PlannedRun, Point, SweepSpec, first_runs, plan_run, validate
from xling.sweep.state import (RESULTS, RUN_FILE, SPEC_FILE, STATUS, Driver, bar, read_json, read_manifest, write_json,
                               write_manifest)
from xling.sweep.worker import UNFINISHED, Job, Outcome



class Backend(Protocol):
    name: str

    def describe(self) -> str: ...
    def free(self, in_flight: int) -> bool: ...
    def submit(self, job: Job) -> None: ...
    def wait(self, timeout: float) -> list[Outcome]: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class SweepResult:
    out: Path
    ran: list[str] = field(default_factory=list)  # finished by this invocation
    earlier: list[str] = field(default_factory=list)  # finished before it
    failed: dict[str, Outcome] = field(default_factory=dict)
    retried: Counter = field(default_factory=Counter)
    interrupted: bool = False
    seconds: float = 0.0


class Sweep:
    """The runs of one sweep file in one directory, and their selection groups."""

    def __init__(self, spec: SweepSpec, out: Path, only: list[str] | None = None, retries: int | None = None,
                 check: bool = True) -> None:
        self.spec, self.out = spec, Path(out).absolute()
        self.retries = spec.retries if retries is None else retries
        self.runs: dict[str, PlannedRun] = {}
        self.roles: dict[str, str] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.points: dict[str, Point] = {}
        self.failed: dict[str, Outcome] = {}
        runs = first_runs(spec, self.out)
        chosen = select_only(runs, only)  # the manifest lists every run; --only says which run now
        self.only = {r.key for r in chosen} if only else None
        self.only_groups = {r.group for r in chosen}
        if check:
            seen = set()
            for run in runs:  # one check per distinct set of options (seeds and directories aside)
                signature = yaml.safe_dump({k: v for k, v in run.options.items() if k not in ("seed", "output_dir")})
                if signature not in seen:
                    seen.add(signature)
                    validate(run)
        for run in runs:
            self._add(run, "candidate" if run.candidate is not None else "run")
            if run.candidate is not None:
                self._group(run)
        for name in list(self.groups):
            self._resolve(name)

    # ------------------------------------------------------------ planning

    def _add(self, run: PlannedRun, role: str) -> None:
        check_run_dir(self.out, run)
        self.runs[run.key] = run
        self.roles[run.key] = role

    def _group(self, run: PlannedRun) -> None:
        spec = self.spec
        group = self.groups.get(run.group)
        if group is None:
            select_seeds = list(spec.select_seeds)
            group = self.groups[run.group] = {
                "group": run.group, "task": run.task, "label": run.label, "config": run.config,
                "keys": list(spec.select.keys),
                "candidates": [{"values": values, "runs": {}} for values in spec.select.candidates],
                "select_seeds": select_seeds, "seeds": list(spec.seeds),
                "final_seeds": [s for s in spec.seeds if s not in select_seeds], "chosen": None, "state": "waiting"}
            self.points[run.group] = run.point
        group["candidates"][run.candidate]["runs"][str(run.seed)] = run.key

    def _resolve(self, name: str) -> list[PlannedRun]:
        """Choose for a group whose candidates all finished; returns the runs that choice adds."""
        group = self.groups[name]
        if group["state"] != "waiting":
            return []
        keys = [key for c in group["candidates"] for key in c["runs"].values()]
        failed = [key for key in keys if key in self.failed]
        if failed:
            self.groups[name] = selection.block(group, failed)
            return []
        if not all(done(self.out, key) for key in keys):
            return []
        try:
            group = self.groups[name] = selection.choose(self.out, group)
        except selection.SelectionError as exc:
            self.groups[name] = {**group, "state": "blocked", "reason": str(exc)}
            return []
        added = [plan_run(self.spec, self.out, self.points[name], seed, group["chosen"]) for seed in group["final_seeds"]]
        for run in added:
            self._add(run, "final")
            if self.only is not None and name in self.only_groups:
                self.only.add(run.key)
        return [run for run in added if self.wanted(run)]

    def counted(self) -> list[str]:
        """The runs a report shows: every run without selection, and each group's chosen candidate's seeds."""
        keys = [key for key, role in self.roles.items() if role == "run"]
        for group in self.groups.values():
            if group.get("chosen") is None:
                continue
            chosen = group["candidates"][group["chosen"]]["values"]
            keys += [key for key, run in self.runs.items() if run.group == group["group"] and run.seed in group["seeds"]
                     and run.candidate is not None and self.spec.select.candidates[run.candidate] == chosen]
        return keys

    def manifest(self) -> dict[str, Any]:
        runs = [{"key": r.key, "task": r.task, "name": r.name, "label": r.label, "config": r.config,
                 "seed": r.seed, "candidate": r.candidate, "role": self.roles[r.key]} for r in self.runs.values()]
        earlier = self.earlier_runs()
        return {"name": self.spec.name, "command": self.spec.command, "spec": SPEC_FILE,
                "baseline": self.spec.baseline, "runs": runs + earlier,
                "groups": list(self.groups.values()), "counted": self.counted() + [run["key"] for run in earlier]}

    def earlier_runs(self) -> list[dict[str, Any]]:
        """Finished runs an earlier invocation counted that this one does not plan (other ``--seeds``), kept
        in the manifest (and so in reports) when they were run with this sweep's options for their config;
        runs made with other options are left out of the manifest (their directories stay)."""
        try:
            previous = read_manifest(self.out)
        except ConfigError:
            return []
        options = {(r.task, r.label): _signature(r.options) for r in self.runs.values()
                   if self.roles[r.key] == "run"}
        counted, kept = set(previous.get("counted", [])), []
        for entry in previous.get("runs", []):
            key = entry.get("key")
            if (key in self.runs or key not in counted or entry.get("role") != "run" or not done(self.out, key)
                    or not (self.out / key / RUN_FILE).is_file()):
                continue
            saved = yaml.safe_load((self.out / key / RUN_FILE).read_text(encoding="utf-8")) or {}
            if options.get((entry.get("task"), entry.get("label"))) == _signature(saved):
                kept.append(entry)
        return kept

    def save(self) -> None:
        """The resolved spec, the manifest, and the config file of each run to do now."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / SPEC_FILE).write_text(yaml.safe_dump(self.spec.to_dict(), sort_keys=False, allow_unicode=True),
                                          encoding="utf-8")
        for run in self.pending():
            write_run_file(self.out, run)
        write_manifest(self.out, self.manifest())

    def wanted(self, run: PlannedRun) -> bool:
        """Not finished, and chosen by --only (if given)."""
        return not done(self.out, run.key) and (self.only is None or run.key in self.only)

    def pending(self) -> list[PlannedRun]:
        return [run for run in self.runs.values() if self.wanted(run)]

    # ------------------------------------------------------------ running

    def run(self, backend: Backend, stream: Any = None) -> SweepResult:
        """Run every unfinished run on ``backend``; interrupted (Ctrl-C, SIGTERM) runs checkpoint and stop."""
        started = time.monotonic()
        stream = stream or sys.stderr
        self.save()
        result = SweepResult(self.out, earlier=[k for k in self.runs if done(self.out, k)])
        driver = Driver(self.out, backend.name, len(self.runs))
        progress = Progress(stream, self)
        queue, in_flight, attempts = deque(self.pending()), {}, Counter()
        chosen = " (--only)" if self.only is not None else ""
        progress.event(f"sweep {self.spec.name}: {len(self.runs)} runs in {self.out}, {len(result.earlier)} finished "
                       f"earlier, {len(queue)} to run now{chosen}; {backend.describe()}")
        sweep_id = uuid.uuid4().hex[:8]
        previous = _terminate_as_interrupt()
        try:
            while queue or in_flight:
                while queue and backend.free(len(in_flight)):
                    run = queue.popleft()
                    attempts[run.key] += 1
                    backend.submit(Job(run.key, str(self.out / run.key), run.command, sweep_id, attempts[run.key]))
                    in_flight[run.key] = run
                for outcome in backend.wait(timeout=1.0):
                    run = in_flight.pop(outcome.key)
                    if outcome.finished:
                        result.ran.append(run.key)
                        progress.event(f"done     {run.key} ({outcome.seconds:.0f} s on {outcome.node or '?'})")
                        added = self._after(run.key)
                        queue.extend(added)
                    elif outcome.retryable and attempts[run.key] <= self.retries:
                        result.retried[run.key] += 1
                        if outcome.state == "lost":
                            _mark(self.out, run.key, "lost", outcome.error)
                        progress.event(f"retry    {run.key} ({outcome.error}; attempt {attempts[run.key] + 1} of "
                                       f"{self.retries + 1}, resuming from its checkpoint if it left one)")
                        queue.appendleft(run)
                    else:
                        self.failed[run.key] = result.failed[run.key] = outcome
                        left = " (no retries left)" if outcome.retryable else ""
                        _mark(self.out, run.key, "failed", outcome.error + left)
                        progress.event(f"FAILED   {run.key}: {outcome.error}{left}; log {self.out / run.key}/sweep.log")
                        self._after(run.key)
                driver.beat(running=len(in_flight))
                progress.draw(len(in_flight))
        except KeyboardInterrupt:
            result.interrupted = True
            progress.event(f"interrupted: stopping {len(in_flight)} run(s) at their next step (they checkpoint); "
                           "the same command continues the sweep")
            backend.stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            backend.close()
            write_manifest(self.out, self.manifest())
            driver.stop("interrupted" if result.interrupted else "failed runs" if result.failed else "finished")
            progress.close()
        result.seconds = time.monotonic() - started
        return result

    def _after(self, key: str) -> list[PlannedRun]:
        """A run ended: resolve the selection group it belongs to; the manifest then lists what was added."""
        run = self.runs[key]
        if run.candidate is None or run.group not in self.groups:
            return []
        added = self._resolve(run.group)
        write_manifest(self.out, self.manifest())
        for new in added:
            write_run_file(self.out, new)
        return added


def select_only(runs: list[PlannedRun], patterns: list[str] | None) -> list[PlannedRun]:
    """``--only``: globs on ``TASK/LABEL`` or ``TASK/NAME``; a selection group is kept or dropped whole."""
    if not patterns:
        return runs

    def hit(text: str) -> bool:
        return any(fnmatch.fnmatchcase(text, p) for p in patterns)

    groups = {r.group for r in runs if r.candidate is not None and (hit(r.group) or hit(r.key))}
    kept = [r for r in runs if (r.group in groups if r.candidate is not None else hit(r.group) or hit(r.key))]
    if not kept:
        shown = ", ".join(sorted({r.group for r in runs})[:8])
        raise ConfigError(f"--only {','.join(patterns)} matches no run; the runs are TASK/CONFIG globs such as {shown}")
    return kept


def done(out: Path, key: str) -> bool:
    return (out / key / RESULTS).is_file()


def _normal(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in yaml.safe_load(yaml.safe_dump(options)).items() if k not in RESUME_FREE}


def _signature(options: dict[str, Any]) -> dict[str, Any]:
    """A run's options without what differs between the seeds of one config."""
    return {k: v for k, v in _normal(options).items() if k not in ("seed", "output_dir")}


def check_run_dir(out: Path, run: PlannedRun) -> None:
    """Refuse a directory holding a run that was made with other options (or not by a sweep)."""
    run_dir = out / run.key
    started = (run_dir / RESULTS).is_file() or any((run_dir / name).is_dir() for name in UNFINISHED)
    saved_file = run_dir / RUN_FILE
    if not saved_file.is_file():
        if started:
            raise ConfigError(f"{run_dir} holds a run this sweep did not start (no {RUN_FILE}); move it away or "
                              "use another --output-dir")
        return
    saved, current = _normal(yaml.safe_load(saved_file.read_text(encoding="utf-8")) or {}), _normal(run.options)
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed and started:
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:3])
        raise ConfigError(f"{run_dir} was run with other options ({detail}); delete it to run it again with the "
                          "sweep file's options, or use another --output-dir")


def write_run_file(out: Path, run: PlannedRun) -> None:
    run_dir = out / run.key
    if done(out, run.key):
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_FILE).write_text(yaml.safe_dump(run.options, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _mark(out: Path, key: str, state: str, error: str) -> None:
    """Record what the driver learnt about a run that could not say it itself (a lost worker, no retries left)."""
    path = out / key / STATUS
    write_json(path, {**(read_json(path) or {}), "state": state, "error": error, "ended": time.time()})


def _terminate_as_interrupt() -> Any:
    """SIGTERM to the sweep acts as Ctrl-C: runs checkpoint and stop, the sweep can continue later."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


class Progress:
    """Event lines; on a terminal also a progress bar that redraws in place."""

    def __init__(self, stream: Any, sweep: Sweep) -> None:
        self.stream, self.sweep = stream, sweep
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.shown = False

    def event(self, text: str) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\033[K")
        self.stream.write(f"xling: {text}\n")
        self.stream.flush()
        self.shown = False

    def draw(self, running: int) -> None:
        if not self.tty:
            return
        out = self.sweep.out
        finished = sum(done(out, k) for k in self.sweep.runs) + len(self.sweep.failed)
        waiting = sum(len(g["final_seeds"]) for g in self.sweep.groups.values() if g["state"] == "waiting")
        total = len(self.sweep.runs) + waiting
        self.stream.write(f"\r\033[K{bar(finished, total)} {running} running, {len(self.sweep.failed)} failed")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
