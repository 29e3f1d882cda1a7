"""``xling tasks``: the registered tasks, their languages and where their data can come from."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tasks", help="list tasks, languages and data sources")
    parser.add_argument("names", nargs="*", help="only these tasks (names or YAML task files)")
    parser.add_argument("--include-tasks", metavar="DIR,...", default="",
                        help="also list the tasks of these YAML task files or folders of them (docs/tasks.md)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import xling.kinds  # noqa: F401 - a kind may register its task's metric (image_recall)
    from xling.metrics import METRICS
    from xling.tasks import TASKS, get_task
    from xling.tasks.from_yaml import include_tasks

    include_tasks(p for p in args.include_tasks.split(",") if p.strip())
    names = args.names or TASKS.names()
    for name in names:
        task = get_task(name)
        metric = METRICS.get(task.metric)
        print(f"{task.name}  [{task.kind}, {metric.name}: {metric.description}]")
        print(f"  {task.description}")
        if task.origin:
            print(f"  declared in {task.origin}")
        print(f"  languages ({len(task.languages)}): {' '.join(task.languages)}")
        if task.labels:
            print(f"  labels ({len(task.labels)}): {' '.join(task.labels)}")
        for hub in task.hub:
            config = f" config {hub.config}" if hub.config else ""
            print(f"  hub: {hub.path}{config} splits {', '.join(f'{k}={v}' for k, v in hub.splits.items())}")
        if task.local:
            patterns = ", ".join(p.pattern + ("[merged]" if p.merge else "") for p in task.local)
            print(f"  local (--data-dir): {patterns} (also .gz)")
        print()
    return 0
