"""Tasks declared in YAML files: the same fields as a :class:`~xling.tasks.task.Task`, checked key by key.

``xling train --task my_task.yaml`` reads one file; ``--include-tasks DIR`` registers every ``*.yaml`` /
``*.yml`` file of a folder (or the files named), so their tasks can be named like built-in ones. A file
declares one task of an existing kind (see docs/tasks.md); every error names the file, the key and what
is allowed. A file's task is registered once; reading the same file again returns the registered task.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from xling.errors import ConfigError
from xling.tasks.task import HubSource, LocalPattern, Task

SUFFIXES = (".yaml", ".yml")
REQUIRED = ("name", "kind", "languages", "metric")
TEXT_KEYS = ("description", "train_language", "version", "reference")
TASK_KEYS = ("name", "kind", "description", "languages", "labels", "metric", "local", "hub", "train_language",
             "max_seq_length", "version", "reference", "options")
RUN_SPLITS = {"train_split": "--train-split", "dev_split": "--dev-split", "test_split": "--eval-split"}
LOCAL_KEYS = ("pattern", "merge", "label_file", "splits", "split_column", "split_values")
HUB_KEYS = ("path", "config", "splits", "fields", "languages", "lang_names", "language_column", "label_map")
PLACEHOLDERS = ("lang", "split", "lang3")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TaskFileError(ConfigError):
    """A YAML task file that cannot declare a task; the message names the file, the key and what is allowed."""


def is_task_file(name: str | Path | None) -> bool:
    """Whether a ``--task`` value names a YAML file rather than a registered task."""
    return name is not None and str(name).lower().endswith(SUFFIXES)


class _Checker:
    """Reads one file's mapping into Task arguments, raising :class:`TaskFileError` at the first bad key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> TaskFileError:
        return TaskFileError(f"{self.path}: key {key!r}: {problem}")

    def keys(self, data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        allowed = tuple(allowed)
        for key in data:
            if key not in allowed:
                raise TaskFileError(f"{self.path}: unknown key {where}{key!r}; allowed: {', '.join(allowed)}")

    def text(self, key: str, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(key, f"expected a string, got {value!r}")
        return str(value)

    def words(self, key: str, value: Any, allow_empty: bool = False) -> tuple[str, ...]:
        """A list of strings, or one comma- or space-separated string."""
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value) if v]
        if not isinstance(value, list) or any(isinstance(v, (dict, list, bool)) or v is None for v in value):
            raise self.fail(key, f"expected a list of strings, got {value!r}")
        items = tuple(str(v) for v in value)
        if not items and not allow_empty:
            raise self.fail(key, "the list is empty")
        duplicates = sorted({v for v in items if items.count(v) > 1})
        if duplicates:
            raise self.fail(key, f"repeated value(s) {duplicates}")
        return items

    def mapping(self, key: str, value: Any) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {value!r}")
        return value

    def choice(self, key: str, value: Any, allowed: list[str]) -> str:
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value

    def pattern(self, key: str, text: Any) -> str:
        text = self.text(key, text)
        try:
            names = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        except ValueError as exc:
            raise self.fail(key, f"{text!r} is not a valid pattern ({exc})") from None
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise self.fail(key, f"unknown placeholder(s) {unknown} in {text!r}; allowed: "
                                 + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
        return text

    def local(self, value: Any) -> tuple[LocalPattern, ...]:
        if not isinstance(value, list):
            raise self.fail("local", f"expected a list of patterns, got {value!r}")
        out = []
        for i, item in enumerate(value):
            where = f"local[{i}]"
            if isinstance(item, str):
                item = {"pattern": item}
            item = self.mapping(where, item)
            self.keys(item, LOCAL_KEYS, f"{where}.")
            if "pattern" not in item:
                raise self.fail(where, "a pattern entry needs 'pattern' (a file name below --data-dir)")
            splits = item.get("splits")
            out.append(LocalPattern(
                pattern=self.pattern(f"{where}.pattern", item["pattern"]),
                merge=self.flag(f"{where}.merge", item.get("merge", False)),
                label_file=None if item.get("label_file") is None else self.pattern(f"{where}.label_file",
                                                                                   item["label_file"]),
                splits=None if splits is None else self.words(f"{where}.splits", splits),
                split_column=None if item.get("split_column") is None else self.text(f"{where}.split_column",
                                                                                     item["split_column"]),
                split_values={str(k): self.text(f"{where}.split_values.{k}", v)
                              for k, v in self.mapping(f"{where}.split_values", item.get("split_values", {})).items()},
            ))
        return tuple(out)

    def hub(self, value: Any) -> tuple[HubSource, ...]:
        if not isinstance(value, list):
            raise self.fail("hub", f"expected a list of sources, got {value!r}")
        out = []
        for i, item in enumerate(value):
            where = f"hub[{i}]"
            item = self.mapping(where, item)
            self.keys(item, HUB_KEYS, f"{where}.")
            for needed in ("path", "splits", "fields"):
                if needed not in item:
                    raise self.fail(where, f"a hub source needs {needed!r} (it has {', '.join(item) or 'nothing'})")
            languages = item.get("languages")
            out.append(HubSource(
                path=self.text(f"{where}.path", item["path"]),
                config=None if item.get("config") is None else self.text(f"{where}.config", item["config"]),
                splits={str(k): self.text(f"{where}.splits.{k}", v)
                        for k, v in self.mapping(f"{where}.splits", item["splits"]).items()},
                fields={str(k): self.text(f"{where}.fields.{k}", v)
                        for k, v in self.mapping(f"{where}.fields", item["fields"]).items()},
                languages=None if languages is None else self.words(f"{where}.languages", languages),
                lang_names={str(k): self.text(f"{where}.lang_names.{k}", v)
                            for k, v in self.mapping(f"{where}.lang_names", item.get("lang_names", {})).items()},
                language_column=None if item.get("language_column") is None
                else self.text(f"{where}.language_column", item["language_column"]),
                label_map={k: self.text(f"{where}.label_map.{k}", v)
                           for k, v in self.mapping(f"{where}.label_map", item.get("label_map", {})).items()},
            ))
        return tuple(out)

    def flag(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def task(self, data: Mapping[str, Any]) -> Task:
        from xling.kinds import KINDS, get_kind
        from xling.metrics import METRICS

        for key, flag in RUN_SPLITS.items():
            if key in data:
                raise self.fail(key, f"a run chooses its splits, not the task: use {flag} (a YAML config key, "
                                     "or a pipeline's task_defaults); the task's layouts name every split")
        self.keys(data, TASK_KEYS, "")
        missing = [key for key in REQUIRED if data.get(key) in (None, "", [])]
        if missing:
            optional = ", ".join(k for k in TASK_KEYS if k not in REQUIRED)
            raise TaskFileError(f"{self.path}: missing key(s) {', '.join(map(repr, missing))}; a task file needs "
                                f"{', '.join(REQUIRED)} (and may set {optional})")
        name = self.text("name", data["name"])
        if not NAME.match(name):
            raise self.fail("name", f"{name!r} is not a task name; allowed: letters, digits, '_', '-', '.' "
                                    "(starting with a letter or digit)")
        kind_name = self.choice("kind", data["kind"], KINDS.names())
        kind = get_kind(kind_name)
        metric = self.choice("metric", data["metric"], METRICS.names())
        languages = self.words("languages", data["languages"])
        labels = None if data.get("labels") is None else self.words("labels", data["labels"])
        if kind.needs_labels and not labels:
            raise self.fail("labels", f"a {kind_name} task needs its label set (a list of strings)")
        options = self.mapping("options", data.get("options", {}))
        allowed = sorted(kind.task_options)
        for key in options:
            if key not in allowed:
                raise self.fail(f"options.{key}", f"not an option of {kind_name} tasks; allowed: {', '.join(allowed)}")
        texts = {key: self.text(key, data[key]) for key in TEXT_KEYS if data.get(key) is not None}
        task = Task(name=name, kind=kind_name, description=texts.pop("description", f"{name} (from {self.path.name})"),
                    languages=languages, metric=metric, labels=labels,
                    local=self.local(data.get("local", [])), hub=self.hub(data.get("hub", [])),
                    max_seq_length=self.positive("max_seq_length", data.get("max_seq_length", 128)),
                    options=dict(options), origin=str(self.path), **texts)
        if task.train_language not in task.languages and kind.trainable:
            raise self.fail("train_language", f"{task.train_language!r} is not one of the task's languages "
                                              f"({', '.join(task.languages)})")
        if not task.local and not task.hub:
            raise TaskFileError(f"{self.path}: the task has no data source: give 'local' (file patterns below "
                                "--data-dir) or 'hub' (Hugging Face datasets), or name files with --file")
        return task

    def positive(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, f"expected a whole number >= 1, got {value!r}")
        return value


def load_task_file(path: str | Path) -> Task:
    """The task a YAML file declares (not registered)."""
    import yaml

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaskFileError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise TaskFileError(f"{path}: expected a mapping of key: value (name, kind, languages, ...) at the top level")
    return _Checker(path).task(data)


def register_task_file(path: str | Path) -> Task:
    """Load a YAML task and register it; a task the same file registered before is replaced by its new reading."""
    from xling.tasks import TASKS

    task = load_task_file(path)
    if task.name in TASKS:
        existing = TASKS.get(task.name)
        if existing.origin != task.origin:
            where = f"declared in {existing.origin}" if existing.origin else "a built-in task"
            raise TaskFileError(f"{task.origin}: key 'name': {task.name!r} is already taken ({where}); "
                                "choose another name")
        if existing == task:
            return existing
    TASKS.register(task.name, task, replace=True)
    return task


def task_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named by ``--include-tasks`` entries: a folder's ``*.yaml`` / ``*.yml``, or the files."""
    out: list[Path] = []
    for entry in paths:
        path = Path(entry).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
            if not found:
                raise TaskFileError(f"--include-tasks {path}: the folder has no *.yaml or *.yml task files")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise TaskFileError(f"--include-tasks {path}: no such folder or file")
    return out


def include_tasks(paths: Iterable[str | Path]) -> list[Task]:
    """Register every task file of ``--include-tasks`` (folders or files)."""
    return [register_task_file(path) for path in task_files(paths)]
