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
from xling.data.parallel import (PROTOCOL, Used, drop_from_selection, hold_out, holdout_split, leakage_error,
                                 overlaps, recorded_uses, restrict, stage_uses)
from xling.errors import ConfigError, DataError, MissingDataError, UnlabelledSplitError
from xling.kinds import get_kind
from xling.reporting.results import fallback_note
from xling.tasks import get_task
from xling.tasks.from_yaml import include_tasks
from xling.tasks.task import Task

log = logging.getLogger("xling")


def resolve_task(cfg: TrainConfig) -> Task:
    """The task named in ``cfg`` (after registering its ``include_tasks``), with the run's image feature file."""
    if cfg.include_tasks:
        include_tasks(cfg.include_tasks)
    task = get_task(cfg.task)
    if cfg.image_features:
        task = dataclasses.replace(task, options={**task.options, "image_features": cfg.image_features})
    return task


@dataclass
class TrainingData:
    """A stage's training data and selection set; ``held_out``: rows kept from both (``--parallel-holdout``)."""

    train: SplitData
    selection: SplitData
    warnings: list[str] = field(default_factory=list)
    held_out: SplitData | None = None
    dropped: dict | None = None  # selection examples dropped as evaluated questions (XQuAD vs SQuAD dev)
    stage: int | None = None

    def uses(self) -> list[Used]:
        """What this stage trained and selected on (and held out), per language: results.json ``data``."""
        return stage_uses(self.stage, self.train, self.selection, self.held_out, self.dropped)


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
                     "; ".join(p.source for p in parts), all(p.labelled for p in parts), sum(p.total for p in parts),
                     rows=[r for p in parts for r in p.rows], row_langs=[p.lang for p in parts for _ in p.examples])


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
    held_out = None
    cut_from = holdout_split(task, cfg.train_split, cfg.dev_split) if cfg.parallel_holdout else None
    if cut_from == cfg.train_split:
        held_out = hold_out(train, cfg.parallel_holdout)
    if cfg.selection_holdout:
        if cfg.selection_holdout >= len(train.examples):
            raise ConfigError(f"selection_holdout {cfg.selection_holdout} leaves no training data "
                              f"({len(train.examples)} examples)")
        order = list(range(len(train.examples)))
        random.Random(0).shuffle(order)  # the same held-out set for every seed
        held = set(order[: cfg.selection_holdout])
        selection = train.subset([i for i in range(len(train.examples)) if i in held], f"{cfg.train_split}[held-out]")
        train.keep([i for i in range(len(train.examples)) if i not in held])
        train.split = f"{cfg.train_split}[rest]"
    elif cfg.dev_split == cfg.train_split:
        raise ConfigError(f"training and selecting on the same split ({cfg.train_split}) would select on training "
                          "data; set --selection-holdout N to hold out N training examples for selection")
    else:
        selection = _load_languages(task, langs, cfg.dev_split, cfg)
        if not selection.labelled:
            raise UnlabelledSplitError(f"{selection.describe()} of {task.name} has no labels; it cannot select models")
        if cut_from is not None and held_out is None:
            held_out = hold_out(selection, cfg.parallel_holdout)
            selection.split = f"{cfg.dev_split}[rest]"
    if cfg.max_train_examples and cfg.max_train_examples < len(train.examples):
        train.keep(sorted(random.Random(cfg.seed).sample(range(len(train.examples)), cfg.max_train_examples)))
    if cfg.max_selection_examples and cfg.max_selection_examples < len(selection.examples):
        selection.keep(sorted(random.Random(0).sample(range(len(selection.examples)), cfg.max_selection_examples)))
    return TrainingData(train, selection, held_out=held_out)


def _cap(data: SplitData, limit: int | None) -> None:
    """The random subset :func:`load_split` takes (the same one for an uncut split), after a cut."""
    if limit and limit < len(data):
        data.keep(sorted(random.Random(0).sample(range(len(data)), limit)))


def resolve_eval_split(task: Task, lang: str, cfg: TrainConfig, split: str | None = None,
                       max_examples: int | None = None) -> tuple[SplitData, str | None]:
    """The labelled split to score ``lang`` on; falls back (with a note) when the wanted one is unusable."""
    split = split or cfg.eval_split
    max_examples = (max_examples or None) if max_examples is not None else cfg.max_eval_examples  # 0: every example
    try:  # (a file named with --file that is missing is a ConfigError: never a fallback)
        data = _load(task, lang, split, cfg, max_examples)
        if data.labelled:
            return data, None
        reason = "has no labels"
    except MissingDataError as exc:
        reason, error = "was not found", exc
    problem = f"{split}-{lang} {reason}"
    fallback = cfg.fallback_split
    if fallback and fallback != split:  # XTREME's unlabelled test sets, as documented
        try:
            data = _load(task, lang, fallback, cfg, max_examples)
        except MissingDataError:
            data = None
        if data is not None and data.labelled:
            return data, fallback_note(split, lang, reason, fallback)
    if problem.endswith("not found"):
        raise error
    raise UnlabelledSplitError(f"{problem} (XTREME strips several test sets); evaluate on dev "
                               f"(--eval-split dev), pass a labelled copy with --file {lang}:{split}=PATH, "
                               "or allow --fallback-split dev")


def load_targets(task: Task, cfg: TrainConfig, training: TrainingData | None = None,
                 split: str | None = None, *, used: list[Used] | None = None
                 ) -> tuple[dict[str, SplitData], dict[str, list[str]], list[str]]:
    """Evaluation data per language, its notes (a fallback split, held-out rows, ...), and warnings.

    Nothing parallel to what the run trained or selected on is scored (:mod:`xling.data.parallel`):
    ``training`` (the target stage) and ``used`` (earlier stages, or what a finished run recorded) say
    what that was. Parallel splits are cut to the held-out rows when there are any; XQuAD's selection
    set loses the evaluated questions; any other overlap raises :class:`~xling.errors.LeakageError`.
    """
    targets: dict[str, SplitData] = {}
    notes: dict[str, list[str]] = {}
    warnings: list[str] = []
    missing: dict[str, str] = {}
    uses = list(used or []) + (training.uses() if training else [])
    held = [u for u in uses if u.role == "held_out"]
    for lang in cfg.languages:
        try:  # with held-out rows: cut to them first, then take the subset (so n is the cap, not less)
            data, note = resolve_eval_split(task, lang, cfg, split, max_examples=0 if held else None)
        except MissingDataError as exc:
            missing[lang] = str(exc)
            warnings.append(str(exc).splitlines()[0] + "; skipped")
            continue
        data, cut = restrict(task, data, held)
        if held:
            _cap(data, cfg.max_eval_examples)
        targets[lang] = data
        if note or cut:  # one note per fact, so that a report can merge each across languages
            notes[lang] = [n for n in (note, cut) if n]
            warnings.append(f"{lang}: {'; '.join(notes[lang])}" if cut else note)
    if training is not None:
        training.dropped = drop_from_selection(task, training.selection, targets.values())
        if training.dropped:
            warnings.append(f"{training.selection.describe()}: {training.dropped['count']} selection examples are "
                            f"evaluated questions ({training.dropped['reason']}); selection uses the other "
                            f"{len(training.selection)}")
        uses = list(used or []) + training.uses()
    source_langs = set(training.train.lang.split("+")) if training else set()
    for lang, data in list(targets.items()):
        hits = [h for h in overlaps(task, data, uses) if h[0].role != "held_out"]
        if hits and lang in source_langs and all(h[0].lang == lang for h in hits):
            if any(h[0].role == "train" for h in hits):
                warnings.append(f"{data.describe()} is the training/selection data; {lang} is not scored")
                del targets[lang]
                notes.pop(lang, None)
            else:  # the source language's own selection set: scored, as before, and marked
                note = f"{hits[0][1]} of its {len(data)} examples are the selection set (an in-language score)"
                notes.setdefault(lang, []).append(note)
        elif hits:
            raise leakage_error(task, data, hits)
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


def load_oracle_sets(task: Task, cfg: TrainConfig, targets: dict[str, SplitData],
                     training: TrainingData | None = None, warnings: list[str] | None = None) -> dict[str, SplitData]:
    """Target-language dev sets for the oracle selection record (never used to select).

    A dev set parallel to the training data is an error (:class:`~xling.errors.LeakageError`); one parallel
    to the selection set only is left out of the oracle, with a warning appended to ``warnings``: the
    English pick would look better on the translations of what it was picked on.
    """
    uses = training.uses() if training else []
    held = [u for u in uses if u.role == "held_out"]
    sets = {}
    for lang in targets:
        if lang == cfg.train_language or lang in cfg.train_languages:
            continue
        try:
            data = _load(task, lang, cfg.dev_split, cfg, None if held else cfg.max_oracle_examples)
        except (MissingDataError, DataError):
            continue
        if not data.labelled:
            continue
        data, _ = restrict(task, data, held)
        if held:
            _cap(data, cfg.max_oracle_examples)
        hits = [h for h in overlaps(task, data, uses) if h[0].role != "held_out"]
        if any(h[0].role == "train" for h in hits):
            raise leakage_error(task, data, [h for h in hits if h[0].role == "train"], "oracle selection on")
        if hits:
            message = (f"oracle: {data.describe()} left out; {hits[0][1]} of its {len(data)} examples are parallel "
                       f"to the selection set {hits[0][0].split}-{hits[0][0].lang} (--parallel-holdout N gives the "
                       f"oracle rows nobody selected on; see {PROTOCOL})")
            log.warning(message)
            if warnings is not None:
                warnings.append(message)
            continue
        sets[lang] = data
    return sets


def recorded_data(task: Task, cfg: TrainConfig, records: list[dict] | None, run: str,
                  warnings: list[str]) -> list[Used]:
    """What a finished run (``records``: its results.json ``data``; ``cfg``: its own config) trained and
    selected on, for :func:`load_targets` to guard a later evaluation of its model."""
    if not records:
        message = (f"{run}: results.json has no data record (written before xling recorded what a run trained "
                   "on); parallel-data leakage is not checked")
        log.warning(message)
        warnings.append(message)
        return []

    def load(task: Task, lang: str, split: str, source: str) -> SplitData:
        try:
            return _load(task, lang, split, cfg)
        except MissingDataError as exc:
            raise DataError(f"{run}: checking for examples parallel to what the run trained or selected on needs "
                            f"{split}-{lang} of {task.name} as it read it ({source}); it is not found now: "
                            f"{str(exc).splitlines()[0]}") from None

    return recorded_uses(task, records, load)
