"""The sweep file and its expansion into named runs.

A sweep file is YAML::

    base: {model: M, learning_rate: 2e-4, ...}     # any train / pipeline option
    tasks: {panx: {data_dir: D}, udpos: {...}}    # optional: one directory per task, its own options
    configs: {last: {fusion: last}, aif8: {fusion: aif, fusion_layer: 8}}   # optional named option sets
    grid: {max_train_examples: [1000, 2000]}      # optional: Cartesian product (a config may have its own)
    seeds: [1, 2, 3]
    select: {key: learning_rate, values: [1e-4, 2e-4], on: english-dev}     # optional

Options merge in that order (base < task < config < grid values < selection candidate; mappings merge
key by key). Every run is ``DIR/<task>/<name>`` with ``name = <config>[-<grid values>][-<candidate>]-s<seed>``
(``lr2e-4``, ``L8``, ``bs16``, ...); its *label*, the name without the seed and the candidate, is its column
in reports. Names depend only on what a run is, never on the order of expansion.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xling.config import load_yaml
from xling.errors import ConfigError
from xling.sweep.options import UNSAFE, absolute_paths, merge, name_part, safe, substitute

TOP_KEYS = ("name", "command", "base", "tasks", "configs", "grid", "seeds", "select", "baseline", "resources",
            "retries", "vars", "output_dir", "source")  # source: where a saved (resolved) spec came from
COMMANDS = ("train", "pipeline")
SWEEP_SETS = ("seed", "output_dir", "resume", "overwrite")  # the sweep decides these for every run
PIPELINE_KEYS = ("stages", "target", "task_defaults")
SELECT_ON = ("english-dev",)



@dataclass(frozen=True)
class Resources:
    """What one run asks for: CPU cores (threads), GPUs (fractions share one), memory in bytes (Ray only)."""

    cpus: float | None = None
    gpus: float | None = None  # None: local runs share the visible GPUs; Ray runs ask for none
    memory: int | None = None


@dataclass(frozen=True)
class Select:
    """Candidates for some options, chosen per config by the English selection score (never a target's)."""

    keys: tuple[str, ...]
    candidates: tuple[dict, ...]
    grid: dict = field(default_factory=dict)  # option -> values; the candidates are their product
    on: str = "english-dev"
    seeds: tuple[int, ...] | None = None  # seeds the candidates run with (default: the sweep's)


@dataclass(frozen=True)
class SweepSpec:
    path: str
    name: str
    command: str
    base: dict
    tasks: dict  # task name -> options; {} when the task comes from base or the grid
    configs: dict  # config name -> (options, grid)
    grid: dict  # option -> list of values
    seeds: tuple[int, ...]
    select: Select | None = None
    baseline: str | None = None
    resources: Resources = field(default_factory=Resources)
    retries: int = 2
    output_dir: str | None = None

    @property
    def select_seeds(self) -> tuple[int, ...]:
        return (self.select.seeds or self.seeds) if self.select else self.seeds

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec (variables substituted, defaults filled in), as saved in ``DIR/sweep.yaml``."""
        out: dict[str, Any] = {"name": self.name, "source": self.path, "command": self.command, "base": self.base}
        if self.tasks:
            out["tasks"] = self.tasks
        if self.configs:
            out["configs"] = {name: {**options, **({"grid": grid} if grid else {})}
                              for name, (options, grid) in self.configs.items()}
        if self.grid:
            out["grid"] = self.grid
        out["seeds"] = list(self.seeds)
        if self.select:
            out["select"] = {"grid": self.select.grid, "on": self.select.on, "seeds": list(self.select_seeds)}
        if self.baseline:
            out["baseline"] = self.baseline
        out["resources"] = {"cpus": self.resources.cpus, "gpus": self.resources.gpus, "memory": self.resources.memory}
        out["retries"] = self.retries
        return out


@dataclass(frozen=True)
class Point:
    """One cell of the grid: a task entry, a config and the grid's values."""

    task: str | None
    config: str
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class PlannedRun:
    """One run: where it goes, what it is called, what it runs with."""

    key: str  # "<task>/<name>": its directory under the sweep's
    task: str
    name: str
    label: str  # the column in reports: config and grid values, no seed, no candidate
    config: str
    seed: int
    command: str
    options: dict  # the run's config file (output_dir included)
    point: Point
    candidate: int | None = None  # index in select.candidates

    @property
    def group(self) -> str:
        return f"{self.task}/{self.label}"


# ---------------------------------------------------------------- loading


def load_spec(path: str | Path, seeds: list[int] | None = None) -> SweepSpec:
    """Read and check a sweep file; ``seeds`` replaces its seeds."""
    raw = load_yaml(path, "sweep file", "a mapping (base:, grid:, configs:, seeds:, ...)")
    return parse_spec(raw, str(path), seeds)


def parse_spec(raw: dict[str, Any], where: str = "sweep", seeds: list[int] | None = None) -> SweepSpec:
    _known(raw, TOP_KEYS, where)
    variables = _mapping(raw.get("vars"), f"{where}: vars")
    raw = substitute({k: v for k, v in raw.items() if k != "vars"}, variables, where)
    base = _options(raw.get("base"), f"{where}: base")
    tasks_raw = raw.get("tasks") or {}
    if isinstance(tasks_raw, (list, str)):
        tasks_raw = {name: {} for name in _names(tasks_raw)}
    tasks = {str(name): _options(options, f"{where}: tasks.{name}") for name, options in
             _mapping(tasks_raw, f"{where}: tasks").items()}
    configs = {}
    for name, options in _mapping(raw.get("configs"), f"{where}: configs").items():
        options = _options(options, f"{where}: configs.{name}", allow=("grid",))
        grid = _grid(options.pop("grid", None), f"{where}: configs.{name}.grid")
        if not str(name) or UNSAFE.search(str(name)) or str(name) != str(name).strip("-"):
            raise ConfigError(f"{where}: config name {name!r} must be letters, digits and _ . + = - only")
        configs[str(name)] = (options, grid)
    grid = _grid(raw.get("grid"), f"{where}: grid")
    for name, (_, own) in configs.items():
        both = sorted(set(own) & set(grid))
        if both:
            raise ConfigError(f"{where}: {', '.join(both)} is both in grid and in configs.{name}.grid")
    spec_seeds = tuple(seeds) if seeds else _seeds(raw.get("seeds", [base.get("seed", 42)]), f"{where}: seeds")
    select = _select(raw.get("select"), f"{where}: select", grid, configs)
    command = raw.get("command") or _infer_command(base, tasks, configs, grid, select)
    if command not in COMMANDS:
        raise ConfigError(f"{where}: command must be train or pipeline, got {command!r}")
    baseline = raw.get("baseline")
    if baseline is not None and configs and str(baseline) not in configs:
        raise ConfigError(f"{where}: baseline {baseline!r} is not one of the configs ({', '.join(configs)})")
    retries = raw.get("retries", 2)
    if not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"{where}: retries must be an integer >= 0, got {retries!r}")
    return SweepSpec(path=where, name=str(raw.get("name") or Path(where).stem), command=command, base=base,
                     tasks=tasks, configs=configs, grid=grid, seeds=spec_seeds, select=select,
                     baseline=str(baseline) if baseline is not None else None,
                     resources=parse_resources(raw.get("resources"), f"{where}: resources"),
                     retries=retries, output_dir=raw.get("output_dir"))


def _known(data: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=2)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}; a sweep file has {', '.join(known)}.{hint}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping, got {value!r}")
    return value


def _options(value: Any, where: str, allow: tuple[str, ...] = ()) -> dict[str, Any]:
    options = dict(_mapping(value, where))
    for key in options:
        if key in SWEEP_SETS and key not in allow:
            raise ConfigError(f"{where}: {key} is set by the sweep for every run (use seeds: for seeds, "
                              "--output-dir for the directory)")
    return options


def _names(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def _grid(value: Any, where: str) -> dict[str, list[Any]]:
    grid = _mapping(value, where)
    for key, values in grid.items():
        if key in SWEEP_SETS:
            raise ConfigError(f"{where}: {key} is set by the sweep (use seeds: for seeds)")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.{key} must be a non-empty list of values, got {values!r}")
    return {str(k): list(v) for k, v in grid.items()}


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    try:
        seeds = tuple(int(str(s).strip()) for s in items if str(s).strip())
    except ValueError:
        raise ConfigError(f"{where} must be a list of integers, got {value!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where} must be one or more distinct integers, got {value!r}")
    return seeds


def _select(value: Any, where: str, grid: dict[str, list], configs: dict[str, tuple]) -> Select | None:
    if value is None:
        return None
    raw = dict(_mapping(value, where))
    if True in raw:  # YAML 1.1 reads a bare `on:` key as the boolean true
        raw["on"] = raw.pop(True)
    _known(raw, ("key", "values", "grid", "on", "seeds"), where)
    if ("grid" in raw) == ("key" in raw or "values" in raw):
        raise ConfigError(f"{where}: give key: OPTION with values: [...], or grid: {{OPTION: [...], ...}}")
    choices = _grid(raw["grid"], f"{where}.grid") if "grid" in raw else _grid({raw.get("key"): raw.get("values")},
                                                                                where)
    if None in choices or "None" in choices:
        raise ConfigError(f"{where}: key: names the option to choose, e.g. key: learning_rate")
    keys = tuple(choices)
    clash = sorted(set(keys) & (set(grid) | {k for options, own in configs.values() for k in [*options, *own]}))
    if clash:
        raise ConfigError(f"{where}: {', '.join(clash)} is also set by grid or configs; select chooses it")
    on = str(raw.get("on", "english-dev"))
    if on not in SELECT_ON:
        raise ConfigError(f"{where}: on: {on!r} is not supported; hyper-parameters are chosen on the English "
                          "selection set only (on: english-dev), never on target languages")
    candidates = tuple(dict(zip(keys, combo)) for combo in itertools.product(*choices.values()))
    seeds = _seeds(raw["seeds"], f"{where}.seeds") if raw.get("seeds") is not None else None
    return Select(keys, candidates, choices, on, seeds)


def _infer_command(base: dict, tasks: dict, configs: dict, grid: dict, select: Select | None) -> str:
    keys = set(base) | set(grid) | {k for o in tasks.values() for k in o}
    keys |= {k for options, own in configs.values() for k in [*options, *own]}
    return "pipeline" if keys & set(PIPELINE_KEYS) else "train"


def parse_resources(value: Any, where: str = "resources") -> Resources:
    raw = _mapping(value, where)
    _known(raw, ("cpus", "gpus", "memory"), where)
    try:
        cpus = float(raw["cpus"]) if raw.get("cpus") is not None else None
        gpus = float(raw["gpus"]) if raw.get("gpus") is not None else None
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: cpus and gpus are numbers, got {raw}") from None
    if (cpus is not None and cpus <= 0) or (gpus is not None and gpus < 0):
        raise ConfigError(f"{where}: cpus must be > 0 and gpus >= 0, got {raw}")
    return Resources(cpus, gpus, parse_memory(raw.get("memory"), where))


def parse_memory(value: Any, where: str = "memory") -> int | None:
    """``4GB``, ``512MiB``, ``2e9`` -> bytes."""
    if value is None or value == "":
        return None
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([KMGT]?i?B?)?\s*", str(value))
    units = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "KIB": 2**10, "M": 1e6, "MB": 1e6, "MIB": 2**20, "G": 1e9,
             "GB": 1e9, "GIB": 2**30, "T": 1e12, "TB": 1e12, "TIB": 2**40}
    unit = (match.group(2) or "").upper() if match else None
    if match is None or unit not in units:
        raise ConfigError(f"{where}: memory {value!r} is not a size such as 4GB or 512MiB")
    try:
        return int(float(match.group(1)) * units[unit])
    except ValueError:
        raise ConfigError(f"{where}: memory {value!r} is not a size such as 4GB or 512MiB") from None


# ---------------------------------------------------------------- expansion


def points(spec: SweepSpec) -> list[Point]:
    """Every (task entry, config, grid values) cell, tasks first, then configs, in file order."""
    cells = []
    for task in spec.tasks or [None]:
        for config, (_, own) in (spec.configs or {"": ({}, {})}).items():
            grid = {**own, **spec.grid}  # a config's own values first in names: aif-L8-lr2e-4
            for combo in itertools.product(*grid.values()):
                cells.append(Point(task, config, tuple(zip(grid, combo))))
    return cells


def plan_run(spec: SweepSpec, out: Path, point: Point, seed: int, candidate: int | None = None) -> PlannedRun:
    """The run of ``point`` with ``seed`` (and select candidate ``candidate``): name, directory, options."""
    chosen = spec.select.candidates[candidate] if spec.select and candidate is not None else {}
    config_options = spec.configs[point.config][0] if point.config else {}
    options = merge(spec.base, spec.tasks.get(point.task, {}) if point.task else {}, config_options,
                    dict(point.values), chosen)
    if point.task:
        if spec.command == "pipeline":
            options["target"] = merge(options.get("target") or {}, {"task": point.task})
        else:
            options["task"] = point.task
    task = _task_of(spec.command, options, spec.path)
    parts = ([point.config] if point.config else []) + [name_part(k, v) for k, v in point.values]
    label = "-".join(parts) or "base"
    name = "-".join([label] + [name_part(k, v) for k, v in chosen.items()] + [f"s{seed}"])
    key = f"{safe(task)}/{name}"
    options.setdefault("quiet", True)
    options.update(seed=seed, output_dir=str((out / key).absolute()))
    return PlannedRun(key, task, name, label, point.config, seed, spec.command, absolute_paths(options), point,
                      candidate)


def first_runs(spec: SweepSpec, out: Path) -> list[PlannedRun]:
    """What can run at once: every run, or with ``select`` every candidate with the selection seeds."""
    runs = []
    for point in points(spec):
        if spec.select:
            runs += [plan_run(spec, out, point, seed, i) for i in range(len(spec.select.candidates))
                     for seed in spec.select_seeds]
        else:
            runs += [plan_run(spec, out, point, seed) for seed in spec.seeds]
    check_unique(runs, spec.path)
    return runs


def check_unique(runs: list[PlannedRun], where: str) -> None:
    seen: dict[str, PlannedRun] = {}
    for run in runs:
        if run.key in seen and seen[run.key].options != run.options:
            raise ConfigError(f"{where}: two different runs would both be named {run.key}; give the configs "
                              "distinct names or grid values that tell them apart")
        seen[run.key] = run


def _task_of(command: str, options: dict[str, Any], where: str) -> str:
    task = (options.get("target") or {}).get("task") if command == "pipeline" else options.get("task")
    if not task or not isinstance(task, str):
        what = "target: {task: NAME}" if command == "pipeline" else "task"
        raise ConfigError(f"{where}: a run has no {what}; set it in base, tasks: or the grid")
    return task


def validate(run: PlannedRun) -> None:
    """Build the run's TrainConfig / PipelineConfig, as its process will, so a bad value stops the sweep first."""
    from xling.config import TrainConfig, make_config

    cls = TrainConfig
    if run.command == "pipeline":
        from xling.training.pipeline_config import PipelineConfig

        cls = PipelineConfig
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.yaml"
        path.write_text(yaml.safe_dump(run.options, sort_keys=False), encoding="utf-8")
        try:
            make_config(cls, path)
        except ConfigError as exc:
            raise ConfigError(f"run {run.key}: {str(exc).replace(str(path), 'its options')}") from None
