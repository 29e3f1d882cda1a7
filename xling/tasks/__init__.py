"""Task declarations, and the task registry. A task is one :class:`~xling.tasks.task.Task` declaration.

This package holds declarations only (name, kind, languages, labels, metric, data sources); how a task of
a kind is read, featurized, decoded and scored is its kind's (:mod:`xling.kinds`), and loading its data
for a run is :mod:`xling.data`'s. Every module here that defines a ``TASKS`` tuple has its declarations
registered, so adding a task means adding a declaration (and a fixture file for its tests), nothing else.
Tasks of an existing kind can also be declared in YAML files, without Python (:mod:`xling.tasks.from_yaml`).
"""

from __future__ import annotations

import importlib
import pkgutil

from xling.registry import Registry, UnknownNameError
from xling.tasks.task import Task

TASKS: Registry[Task] = Registry("task")

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _task in getattr(_module, "TASKS", ()):
        TASKS.register(_task.name, _task)


def get_task(name: str) -> Task:
    """A registered task by name, or the task a YAML file declares (``path/to/task.yaml``, registered on first use)."""
    from xling.tasks.from_yaml import is_task_file, register_task_file

    if is_task_file(name):
        return register_task_file(name)
    try:
        return TASKS.get(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc} Or give a YAML task file (--task path/to/task.yaml, --include-tasks DIR; "
                               "see docs/tasks.md).") from None
