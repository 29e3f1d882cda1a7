"""A run's data: the training and selection sets, the evaluation set of every language, oracle dev sets.

Everything is read with :func:`xling.data.loading.load_split` under the run's data options
(``data_dir``, ``files``, ``source``, subsets); the rules that keep a zero-shot run honest live here:
selection never on training data, unlabelled test sets scored on a fallback split (and said so),
target languages that are the training data not scored, unseen labels warned about.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass, field

from xling.config import TrainConfig
from xling.data.examples import SplitData
from xling.data.loading import load_split
from xling.errors import ConfigError, DataError, MissingDataError, UnlabelledSplitError
from xling.kinds import get_kind
from xling.tasks import get_task
from xling.tasks.task import Task

log = logging.getLogger("xling")


def resolve_task(cfg: TrainConfig) -> Task:
    """The task named in ``cfg``, with the run's image feature file in its options."""
    task = get_task(cfg.task)
    if cfg.image_features:
        task = dataclasses.replace(task, options={**task.options, "image_features": cfg.image_features})
    return task


@dataclass
class TrainingData:
    train: SplitData
    selection: SplitData
    warnings: list[str] = field(default_factory=list)


def _load(task: Task, lang: str, split: str, cfg: TrainConfig, max_examples: int | None = None,
          sample_seed: int = 0) -> SplitData:
    return load_split(task, lang, split, data_dir=cfg.data_dir, files=cfg.files, source=cfg.source,
                      max_examples=max_examples, sample_seed=sample_seed)


def _load_languages(task: Task, langs: list[str], split: str, cfg: TrainConfig,
                    max_examples: int | None = None) -> SplitData:
    """One split of several languages, concatenated (multilingual training or selection data)."""
    parts = [_load(task, lang, split, cfg, max_examples) for lang in langs]
    if len(parts) == 1:
        return parts[0]
    return SplitData(task.name, "+".join(langs), split, [e for p in parts for e in p.examples],
                     "; ".join(p.source for p in parts), all(p.labelled for p in parts), sum(p.total for p in parts))


def load_training(task: Task, cfg: TrainConfig) -> TrainingData:
    """The labelled training split and the selection set (source-language dev, or a held-out part of train)."""
    langs = list(cfg.train_languages) or [cfg.train_language or task.train_language]
    lang = "+".join(langs)
    train = _load_languages(task, langs, cfg.train_split, cfg)
    if not train.labelled:
        raise UnlabelledSplitError(f"{train.describe()} of {task.name} has no labels; it cannot be trained on")
    if task.labels:
        unknown = get_kind(task.kind).labels_in(train.examples) - set(task.labels)
        if unknown:
            raise DataError(f"{train.describe()} ({train.source}) has labels outside {task.name}'s label set: "
                            f"{sorted(unknown)}; expected {list(task.labels)}")
    if cfg.selection_holdout:
        if cfg.selection_holdout >= len(train.examples):
            raise ConfigError(f"selection_holdout {cfg.selection_holdout} leaves no training data "
                              f"({len(train.examples)} examples)")
        order = list(range(len(train.examples)))
        random.Random(0).shuffle(order)  # the same held-out set for every seed
        held = set(order[: cfg.selection_holdout])
        selection = SplitData(task.name, lang, f"{cfg.train_split}[held-out]",
                              [e for i, e in enumerate(train.examples) if i in held], train.source, True)
        train.examples = [e for i, e in enumerate(train.examples) if i not in held]
        train.split = f"{cfg.train_split}[rest]"
    elif cfg.dev_split == cfg.train_split:
        raise ConfigError(f"training and selecting on the same split ({cfg.train_split}) would select on training "
                          "data; set --selection-holdout N to hold out N training examples for selection")
    else:
        selection = _load_languages(task, langs, cfg.dev_split, cfg)
        if not selection.labelled:
            raise UnlabelledSplitError(f"{selection.describe()} of {task.name} has no labels; it cannot select models")
    if cfg.max_train_examples and cfg.max_train_examples < len(train.examples):
        keep = sorted(random.Random(cfg.seed).sample(range(len(train.examples)), cfg.max_train_examples))
        train.examples = [train.examples[i] for i in keep]
    if cfg.max_selection_examples and cfg.max_selection_examples < len(selection.examples):
        keep = sorted(random.Random(0).sample(range(len(selection.examples)), cfg.max_selection_examples))
        selection.examples = [selection.examples[i] for i in keep]
    return TrainingData(train, selection)


def resolve_eval_split(task: Task, lang: str, cfg: TrainConfig, split: str | None = None,
                       max_examples: int | None = None) -> tuple[SplitData, str | None]:
    """The labelled split to score ``lang`` on; falls back (with a note) when the wanted one is unusable."""
    split = split or cfg.eval_split
    max_examples = max_examples if max_examples is not None else cfg.max_eval_examples
    data = _load(task, lang, split, cfg, max_examples)  # a split that is missing is missing: no fallback
    if data.labelled:
        return data, None
    problem = f"{split}-{lang} has no labels"
    fallback = cfg.fallback_split
    if fallback and fallback != split:  # XTREME's unlabelled test sets, as documented
        try:
            data = _load(task, lang, fallback, cfg, max_examples)
        except MissingDataError:
            data = None
        if data is not None and data.labelled:
            return data, f"{problem}; scored on {fallback}"
    raise UnlabelledSplitError(f"{problem} (XTREME strips several test sets); evaluate on dev "
                               f"(--eval-split dev), pass a labelled copy with --file {lang}:{split}=PATH, "
                               "or allow --fallback-split dev")


def load_targets(task: Task, cfg: TrainConfig, training: TrainingData | None = None,
                 split: str | None = None) -> tuple[dict[str, SplitData], dict[str, str], list[str]]:
    """Evaluation data per language, notes on fallbacks, and warnings (missing languages, unseen labels)."""
    targets: dict[str, SplitData] = {}
    notes: dict[str, str] = {}
    warnings: list[str] = []
    missing: dict[str, str] = {}
    for lang in cfg.languages:
        try:
            data, note = resolve_eval_split(task, lang, cfg, split)
        except MissingDataError as exc:
            missing[lang] = str(exc)
            warnings.append(str(exc).splitlines()[0] + "; skipped")
            continue
        if training and lang in training.train.lang.split("+") and data.split in (cfg.train_split, cfg.dev_split) \
                and data.source in training.train.source:
            warnings.append(f"{data.describe()} is the training/selection data; {lang} is not scored")
            continue
        targets[lang] = data
        if note:
            notes[lang] = note
            warnings.append(note)
    if missing and cfg.missing_languages == "error":
        raise MissingDataError(f"no evaluation data for {', '.join(missing)} of {task.name} "
                               "(choose with --languages, or pass --missing-languages skip). "
                               + next(iter(missing.values())))
    if task.labels and not training:  # (a training run warns of every label its training data never had)
        kind = get_kind(task.kind)
        for lang, data in targets.items():
            outside = kind.labels_in(data.examples) - set(task.labels)
            if outside:
                warnings.append(f"{data.describe()} has labels outside {task.name}'s label set "
                                f"{list(task.labels)}: {sorted(outside)} (they can only be predicted wrongly)")
    if training and task.labels:
        kind = get_kind(task.kind)
        seen = kind.labels_in(training.train.examples)
        for lang, data in targets.items():
            unseen = kind.labels_in(data.examples) - seen
            if unseen:
                warnings.append(f"{data.describe()} has labels the {training.train.lang} training data never had: "
                                f"{sorted(unseen)} (they can only be predicted wrongly)")
    for message in warnings:
        log.warning(message)
    return targets, notes, warnings


def load_oracle_sets(task: Task, cfg: TrainConfig, targets: dict[str, SplitData]) -> dict[str, SplitData]:
    """Target-language dev sets for the oracle selection record (never used to select)."""
    sets = {}
    for lang in targets:
        if lang == cfg.train_language or lang in cfg.train_languages:
            continue
        try:
            data = _load(task, lang, cfg.dev_split, cfg, cfg.max_oracle_examples)
        except (MissingDataError, DataError):
            continue
        if data.labelled:
            sets[lang] = data
    return sets
