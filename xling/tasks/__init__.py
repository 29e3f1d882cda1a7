"""Task registry. A task is one :class:`~xling.tasks.base.Task` declaration.

Declarations live in the modules listed in ``_MODULES``; each exposes a
``TASKS`` tuple that is registered here.
"""

from __future__ import annotations

import importlib

from xling.registry import Registry
from xling.tasks.base import Task

TASKS: Registry[Task] = Registry("task")

_MODULES = ("xling.tasks.xtreme",)

for _name in _MODULES:
    for _task in importlib.import_module(_name).TASKS:
        TASKS.register(_task.name, _task)


def get_task(name: str) -> Task:
    return TASKS.get(name)
