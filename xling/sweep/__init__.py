"""Sweeps: many ``xling train`` / ``xling pipeline`` runs from one YAML file, on one machine or a Ray cluster.

- :mod:`xling.sweep.spec`: the sweep file (base, tasks, configs, grid, seeds, select, resources) and its
  expansion into named runs (``DIR/<task>/<config>[-<grid values>]-s<seed>``).
- :mod:`xling.sweep.options`: merging option sets, ``${VAR}`` substitution, absolute paths, name parts.
- :mod:`xling.sweep.state`: what lives in the sweep directory (the manifest, each run's status, events and
  log) and the done / running / failed / pending summary of ``xling sweep status``.
- :mod:`xling.sweep.worker`: one attempt of one run, a subprocess ``python -m xling train|pipeline --config
  RUN/sweep-run.yaml`` (the same code path as a bare run; a crash takes only that run down).
- :mod:`xling.sweep.scheduler`: skipping finished runs, bounded retries with ``--resume``, hyper-parameter
  selection on English dev, on a backend: :mod:`xling.sweep.local` (processes here) or
  :mod:`xling.sweep.ray_backend` (a Ray task per run).
- :mod:`xling.sweep.selection` and :mod:`xling.sweep.table`: what ``select:`` chose and why, and the runs
  ``xling report DIR`` tabulates (one column per config).

See docs/sweeps.md.
"""

from __future__ import annotations
