"""The local backend: N runs at once on this machine, the cores and GPUs split evenly between them.

Each of the N slots gets ``cores // N`` threads (``OMP_NUM_THREADS``, which torch reads) unless
``resources.cpus`` says otherwise, and its share of the visible GPUs through ``CUDA_VISIBLE_DEVICES``:
with ``gpus: 0.25`` four slots share each GPU, with ``gpus: 2`` a slot has two, with ``gpus: 0`` none; left
unset, slot i uses GPU i mod (number of GPUs). A thread per slot waits on its run's process.
"""

from __future__ import annotations

import math
import os
import queue
import shutil
import subprocess
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from xling.errors import ConfigError
from xling.sweep.spec import Resources
from xling.sweep.worker import Job, Outcome, execute, stop_all


def visible_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else what ``nvidia-smi`` lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()] if result.returncode == 0 else []


def gpu_slots(slots: int, gpus: list[str], per_run: float | None) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` for each slot (None: leave the environment alone)."""
    if per_run == 0:
        return [""] * slots
    if not gpus:
        if per_run:
            raise ConfigError(f"resources.gpus is {per_run:g} but no GPU is visible here")
        return [None] * slots
    if per_run is None or per_run <= 1:
        share = 1 if per_run is None else max(1, math.floor(1 / per_run + 1e-9))  # runs per GPU
        return [gpus[(i // share) % len(gpus)] for i in range(slots)]
    whole = int(math.ceil(per_run))
    if whole > len(gpus):
        raise ConfigError(f"resources.gpus is {per_run:g} but only {len(gpus)} GPU(s) are visible")
    return [",".join(gpus[(i * whole + j) % len(gpus)] for j in range(whole)) for i in range(slots)]


def default_jobs(resources: Resources) -> int:
    """Without --jobs: one run at a time, or as many as the GPUs hold with fractional ``gpus``."""
    gpus = visible_gpus()
    if resources.gpus and resources.gpus < 1 and gpus:
        return len(gpus) * max(1, math.floor(1 / resources.gpus + 1e-9))
    return 1


class LocalBackend:
    name = "local"

    def __init__(self, jobs: int, resources: Resources) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        cores = os.cpu_count() or 1
        self.threads = max(1, int(resources.cpus) if resources.cpus else cores // jobs)
        self.devices = gpu_slots(jobs, visible_gpus(), resources.gpus)
        self.slots: queue.Queue[int] = queue.Queue()
        for slot in range(jobs):
            self.slots.put(slot)
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="xling-sweep")
        self.futures: set[Future] = set()

    def describe(self) -> str:
        gpus = {d for d in self.devices if d}
        return (f"local, {self.jobs} run(s) at once, {self.threads} thread(s) each"
                + (f", GPUs {','.join(sorted(gpus))}" if gpus else ""))

    def free(self, in_flight: int) -> bool:
        return in_flight < self.jobs

    def submit(self, job: Job) -> None:
        self.futures.add(self.pool.submit(self._run, job))

    def _run(self, job: Job) -> Outcome:
        slot = self.slots.get()
        try:
            env = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
            if self.devices[slot] is not None:
                env["CUDA_VISIBLE_DEVICES"] = self.devices[slot]
            return execute(job, env)
        finally:
            self.slots.put(slot)

    def wait(self, timeout: float) -> list[Outcome]:
        if not self.futures:
            return []
        done, _ = wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
        self.futures -= done
        return [future.result() for future in done]

    def stop(self) -> None:
        """Interrupted: every run checkpoints (SIGTERM) and stops; wait for them."""
        stop_all()
        wait(self.futures, timeout=300)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
