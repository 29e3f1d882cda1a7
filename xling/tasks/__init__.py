"""Task declarations, and the task registry. A task is one :class:`~xling.tasks.task.Task` declaration.

This package holds declarations only (name, kind, languages, labels, metric, data sources); how a task of
a kind is read, featurized, decoded and scored is its kind's (:mod:`xling.kinds`), and loading its data
for a run is :mod:`xling.data`'s. Every module here that defines a ``TASKS`` tuple has its declarations
registered, so adding a task means adding a declaration (and a fixture file for its tests), nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from xling.registry import Registry
from xling.tasks.task import Task

TASKS: Registry[Task] = Registry("task")

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _task in getattr(_module, "TASKS", ()):
        TASKS.register(_task.name, _task)


def get_task(name: str) -> Task:
    return TASKS.get(name)
