"""Finding and loading a task's data: per-language file overrides, local files, the hub.

Which files a task has is its declaration's (:mod:`xling.tasks`); how a file or a hub row is read is
its kind's (:meth:`xling.kinds.Kind.read`, :meth:`xling.kinds.Kind.from_hub_row`).
"""

from __future__ import annotations

import glob
import itertools
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.data.examples import SplitData
from xling.errors import ConfigError, DataError, MissingDataError
from xling.kinds import get_kind
from xling.tasks.task import SPLIT_ALIASES, HubSource, Task

log = logging.getLogger(__name__)

SOURCES = ("auto", "local", "hub")


def read_file(task: Task, path: str | Path, lang: str, label_file: str | Path | None = None,
              row_filter: tuple[str, str] | None = None) -> tuple[list[Any], bool]:
    """Read one local file with the reader of the task's kind."""
    kind = get_kind(task.kind)
    if row_filter is not None and not kind.selects_rows:
        raise ConfigError(f"task {task.name!r}: selecting a split by column is not supported for {kind.name} files")
    return kind.read(task, path, lang, label_file, row_filter)


def _read_all(task: Task, paths: list[Path], lang: str, label_file: str | None = None,
              row_filter: tuple[str, str] | None = None) -> tuple[list[Any], bool]:
    """Read and concatenate files; the result is labelled only if every file is."""
    examples: list[Any] = []
    flags = []
    for path in paths:
        part, part_labelled = read_file(task, path, lang, label_file, row_filter)
        examples += part
        flags.append(part_labelled)
    if any(flags) and not all(flags):
        unlabelled = [str(p) for p, f in zip(paths, flags) if not f]
        raise DataError(f"some files of {task.name} {lang} carry labels and others do not: {', '.join(unlabelled)}")
    return examples, all(flags)


@dataclass
class LocalMatch:
    """Files found for one language and split, and how to read them."""

    paths: list[Path]
    label_file: str | None = None
    row_filter: tuple[str, str] | None = None


def find_local(task: Task, lang: str, split: str, data_dir: str | Path) -> tuple[LocalMatch | None, list[str]]:
    """The files for ``lang``/``split`` below ``data_dir`` (None if none), and what was tried."""
    root = Path(data_dir)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--data-dir {root} is a file, not a directory")
    if not root.is_dir():
        raise MissingDataError(f"data directory {root} does not exist")
    tried: list[str] = []
    for pattern in task.local:
        if pattern.splits and split not in pattern.splits:
            continue
        if pattern.split_column and split not in pattern.split_values:
            continue
        aliases = ("",) if pattern.split_column else SPLIT_ALIASES.get(split, (split,))
        for alias in aliases:
            relative = pattern.pattern.format(lang=lang, split=alias,
                                              lang3=task.options.get("lang3", {}).get(lang, lang))
            base = glob.escape(str(root)) + "/" + relative
            tried.append(f"{root / relative}[.gz]")
            found = sorted(set(glob.glob(base, recursive=True) + glob.glob(base + ".gz", recursive=True)))
            found = [Path(p) for p in found if Path(p).is_file()]
            if not found:
                continue
            if len(found) > 1 and not pattern.merge:
                raise DataError(
                    f"{len(found)} files match {split}-{lang} of {task.name}: "
                    + ", ".join(map(str, found)) + "; point --data-dir at one of their folders or use --file"
                )
            label_file = None
            if pattern.label_file:
                candidate = root / pattern.label_file.format(lang=lang, split=alias)
                label_file = str(candidate) if candidate.exists() else None
            row_filter = (pattern.split_column, pattern.split_values[split]) if pattern.split_column else None
            return LocalMatch(found, label_file, row_filter), tried
    return None, tried


def load_split(
    task: Task,
    lang: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    files: Mapping[str, Mapping[str, str]] | None = None,
    source: str = "auto",
    max_examples: int | None = None,
    sample_seed: int = 0,
) -> SplitData:
    """Load one language's split from (in order) a file override, local files, or the hub.

    ``source='auto'`` reads local files when a data directory or file override
    is given and the hub otherwise. ``max_examples`` keeps a random subset
    (seeded by ``sample_seed``, original order kept).
    """
    if source not in SOURCES:
        raise ConfigError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    tried: list[str] = []
    override = (files or {}).get(lang, {}).get(split)
    examples: list[Any] | None = None
    if override is not None:
        paths = [Path(p) for p in ([override] if isinstance(override, (str, Path)) else override)]
        for path in paths:
            tried.append(str(path))
            if path.is_dir():
                raise ConfigError(f"--file {lang}:{split}={path}: {path} is a directory, not a data file")
            if not path.is_file():  # whatever is named explicitly must exist: no fallback to another split
                raise ConfigError(f"--file {lang}:{split}={path}: {path} does not exist")
        examples, labelled = _read_all(task, paths, lang)
        where = " + ".join(str(p.resolve()) for p in paths)
    use_local = source == "local" or (source == "auto" and (data_dir is not None or files))
    if examples is None and use_local and data_dir is not None:
        match, tried_here = find_local(task, lang, split, data_dir)
        tried += tried_here
        if match is not None:
            examples, labelled = _read_all(task, match.paths, lang, match.label_file, match.row_filter)
            where = ", ".join(str(p.resolve()) for p in match.paths)
            if match.label_file:
                where += f" + labels {Path(match.label_file).resolve()}"
            if match.row_filter:
                where += f" [{match.row_filter[0]}={match.row_filter[1]}]"
    if examples is None and (source == "hub" or (source == "auto" and not use_local)):
        for hub in task.hub:
            if not hub.covers(lang, split):
                continue
            tried.append(hub.describe(lang, split))
            try:
                examples, labelled = load_hub(task, hub, lang, split)
            except Exception as exc:  # noqa: BLE001 - network, missing config, ...
                tried[-1] += f" ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
                continue
            where = hub.describe(lang, split)
            break
    if examples is None:
        raise MissingDataError(missing_message(task, lang, split, tried, data_dir if use_local else None))
    if not examples:
        raise DataError(f"{split}-{lang} of {task.name} is empty ({where})")
    total = len(examples)
    rows = list(range(total))
    if max_examples is not None and max_examples < total:
        rows = sorted(random.Random(sample_seed).sample(range(total), max_examples))
        examples = [examples[i] for i in rows]
    get_kind(task.kind).normalise_labels(task, examples)
    return SplitData(task.name, lang, split, examples, where, labelled, total, rows=rows)


def missing_message(task: Task, lang: str, split: str, tried: list[str], data_dir: str | Path | None) -> str:
    """What was tried, what the data directory holds, and how to name the file directly."""
    hint = "" if tried else " (no source declares it: pass --data-dir or --file)"
    lines = [f"no {split} data for {task.name} in {lang!r}{hint}. Tried:", *(f"  {t}" for t in tried or ["nothing"])]
    root = Path(data_dir) if data_dir is not None else None
    if root is not None and root.is_dir():
        files = (p for p in root.rglob("*") if p.is_file())
        present = sorted(str(p.relative_to(root)) for p in itertools.islice(files, 1000))
        total = f"{len(present)}{'+' if len(present) == 1000 else ''} files"
        shown = ", ".join(present[:8]) + (f", ... ({total})" if len(present) > 8 else "")
        lines.append(f"{root} holds: {shown or 'no files'}")
    listing = f"xling tasks --include-tasks {task.origin} {task.name}" if task.origin else f"xling tasks {task.name}"
    lines.append(f"Name the file directly with --file {lang}:{split}=PATH (repeatable, PATH1+PATH2 concatenates; "
                 "in YAML: files: {" + f"{lang}: {{{split}: PATH}}" + "}), or see `" + listing
                 + "` for the layouts --data-dir may have."
                 + (" Without a train split, train on dev: --train-split dev --selection-holdout N." if split == "train"
                    else ""))
    return "\n".join(lines)


def load_hub(task: Task, hub: HubSource, lang: str, split: str) -> tuple[list[Any], bool]:
    """Load from the Hugging Face hub (or a local dataset folder laid out like a hub repo)."""
    import datasets

    dataset = datasets.load_dataset(hub.path, hub.config_for(lang), split=hub.split_for(lang, split))
    if hub.language_column:
        column = dataset[hub.language_column]
        dataset = dataset.select([i for i, value in enumerate(column) if value == lang])
    return convert_hub_rows(task, hub, dataset)


def _names(feature: Any) -> list[str] | None:
    feature = getattr(feature, "feature", feature)  # Sequence(ClassLabel) / List(ClassLabel)
    return list(feature.names) if hasattr(feature, "names") else None


def convert_hub_rows(task: Task, hub: HubSource, dataset: Any) -> tuple[list[Any], bool]:
    """Turn a ``datasets.Dataset`` into xling examples using the source's field map."""
    f = hub.fields
    names = {key: _names(dataset.features[column]) for key, column in f.items() if column in dataset.features}

    def label_name(value: Any, key: str) -> str | None:
        if value is None or value == -1 or value == "":
            return None
        if value in hub.label_map:
            return hub.label_map[value]
        if names.get(key) and isinstance(value, int):
            return names[key][value]
        return str(value)

    kind = get_kind(task.kind)
    examples = [kind.from_hub_row(task, hub, row, label_name, str(row.get(f.get("id", "id"), i)))
                for i, row in enumerate(dataset)]
    flags = [kind.is_labelled(e) for e in examples]
    if any(flags) and not all(flags):
        raise DataError(f"{hub.path} {hub.config}: some rows are labelled and others are not")
    return examples, bool(flags) and all(flags)
