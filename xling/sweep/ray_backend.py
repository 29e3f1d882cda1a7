"""The Ray backend: each run is a Ray task with declared resources, on an embedded Ray or a cluster.

``address=None`` starts Ray inside this process (all cores; ``--jobs N`` gives each run ``cores // N``
CPUs, so N run at once); ``auto`` or ``HOST:PORT`` joins a running cluster (``ray start --head`` on a
machine, KubeRay, Slurm, a cloud launcher). A task asks for ``resources.cpus`` (default 1 on a cluster),
``resources.gpus`` (fractions let several small runs share a GPU; Ray sets ``CUDA_VISIBLE_DEVICES``) and
``resources.memory``. Ray does not retry tasks itself (``max_retries=0``): a task whose worker or node died
comes back as ``lost`` and the scheduler retries it within the sweep's bound, resuming from the run's
checkpoint, which needs the sweep directory on storage every node sees at the same path.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from xling.sweep.spec import Resources
from xling.sweep.worker import Job, Outcome, execute


def _ray():
    from xling.extras import require

    return require("ray", "ray", "xling sweep --backend ray")


def run_task(job: Job, env: dict[str, str]) -> Outcome:
    """The body of a Ray task: one attempt, recording the Ray node it ran on."""
    import ray

    return execute(job, env, node=ray.get_runtime_context().get_node_id())


class RayBackend:
    name = "ray"

    def __init__(self, address: str | None, jobs: int | None, resources: Resources) -> None:
        ray = _ray()
        self.ray = ray
        self.address = address
        cores = os.cpu_count() or 1
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
        if not ray.is_initialized():
            if address:
                ray.init(address=address, **quiet)
            else:
                from xling.sweep.local import visible_gpus

                ray.init(num_cpus=cores, num_gpus=len(visible_gpus()), include_dashboard=False, **quiet)
        self.cpus = resources.cpus or (max(1, cores // jobs) if jobs and not address else 1)
        self.gpus = resources.gpus or 0
        self.limit = jobs if address else None  # embedded: the CPUs per task already bound it
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus, "max_retries": 0}
        if resources.memory:
            options["memory"] = resources.memory
        self.remote = ray.remote(run_task).options(**options)
        self.threads = max(1, int(self.cpus))
        self.refs: dict[Any, Job] = {}

    def describe(self) -> str:
        where = f"cluster {self.address}" if self.address else "embedded"
        nodes = sum(1 for n in self.ray.nodes() if n.get("Alive"))
        return (f"ray ({where}, {nodes} node(s), {self.ray.cluster_resources().get('CPU', 0):g} CPUs), "
                f"{self.cpus:g} CPU(s)" + (f" and {self.gpus:g} GPU(s)" if self.gpus else "") + " per run")

    def free(self, in_flight: int) -> bool:
        return self.limit is None or in_flight < self.limit

    def submit(self, job: Job) -> None:
        env = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        self.refs[self.remote.remote(job, env)] = job

    def wait(self, timeout: float) -> list[Outcome]:
        if not self.refs:
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        return [self._outcome(ref) for ref in ready]

    def _outcome(self, ref: Any) -> Outcome:
        job = self.refs.pop(ref)
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:  # the task body raised: not a dead worker
            return Outcome(job.key, "failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        except self.ray.exceptions.RayError as exc:  # worker or node died, task cancelled, ...
            return Outcome(job.key, "lost", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")

    def stop(self) -> None:
        """Interrupted: cancel every task (each run gets SIGTERM, checkpoints and stops)."""
        for ref in list(self.refs):
            self.ray.cancel(ref, force=False)
        if self.refs:
            self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=300)

    def close(self) -> None:
        self.ray.shutdown()  # embedded: stops Ray; on a cluster: disconnects
