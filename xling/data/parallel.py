"""Parallel data across languages: the identity of what a run trained and selected on, and the leakage guard.

XNLI and PAWS-X dev/test sets are row-aligned translations, XQuAD's questions are SQuAD v1.1 dev questions
with the same ids, MLQA's ids name parallel context-question pairs, Tatoeba is parallel line by line: a
task declares it (:class:`xling.tasks.task.Parallel`). A run that trained or selected on English rows and
then scored another language's translations of those rows would report memorised examples as transfer.

* :func:`uses_of` / :func:`data_records`: per stage, role (train, selection, held_out), language and split,
  the source, the rows used (compact ranges), their count and a content hash: ``results.json`` ``data``.
* :func:`overlaps` / :func:`leakage_error`: examples of an evaluation set parallel to used data; the run
  stops with a :class:`~xling.errors.LeakageError` instead of scoring them.
* The protocol that works (``--parallel-holdout N``): :func:`hold_out` keeps N rows of the English parallel
  split from training and selection; :func:`restrict` scores the other languages' parallel splits only on
  those rows. :func:`drop_from_selection` removes evaluated questions from a selection set (XQuAD vs
  SQuAD dev).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from xling.data.examples import SplitData
from xling.errors import ConfigError, DataError, LeakageError
from xling.tasks.task import Task

PROTOCOL = "docs/leakage.md"
HOLDOUT_SEED = 1  # one held-out row set for every seed and every run of a task
VERBS = {"train": "trained", "selection": "selected", "held_out": "held out"}


def base_split(split: str) -> str:
    """``dev`` for ``dev``, ``dev[held-out]`` and ``dev[rest]``."""
    return split.split("[", 1)[0]


def content_hash(examples: Iterable[Any]) -> str:
    """SHA-256 over the examples' fields, in order (the same examples give the same hash on any machine)."""
    digest = hashlib.sha256()
    for example in examples:
        fields = dataclasses.asdict(example) if dataclasses.is_dataclass(example) else repr(example)
        digest.update(json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def compact_rows(rows: Iterable[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2,5,7-8"`` (the set of rows; order is not kept)."""
    parts: list[str] = []
    ordered = sorted(set(rows))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def expand_rows(text: str) -> list[int]:
    rows: list[int] = []
    for part in filter(None, text.split(",")):
        start, _, end = part.partition("-")
        rows += range(int(start), int(end or start) + 1)
    return rows


@dataclass
class Used:
    """One language's part of a split that a run trained or selected on (or held out for evaluation)."""

    role: str  # train | selection | held_out
    task: str
    lang: str
    split: str
    source: str
    rows: list[int]
    ids: list[str]
    sha256: str
    total: int = 0
    stage: int | None = None
    dropped: dict[str, Any] | None = None

    def keys(self, by: str) -> set:
        return set(self.rows) if by == "row" else {i for i in self.ids if i}

    def record(self) -> dict[str, Any]:
        out = {"stage": self.stage, "role": self.role, "task": self.task, "lang": self.lang, "split": self.split,
               "source": self.source, "n": len(self.rows), "total": self.total, "rows": compact_rows(self.rows),
               "sha256": self.sha256}
        if self.dropped:
            out["dropped_parallel"] = self.dropped
        return out


def uses_of(data: SplitData, role: str, stage: int | None = None) -> list[Used]:
    """``data`` per language (several languages are concatenated for multilingual training)."""
    langs = data.languages_of_rows()
    order = list(dict.fromkeys(langs)) or [data.lang]
    sources = data.source.split("; ")
    if len(sources) != len(order):
        sources = [data.source] * len(order)
    out = []
    for lang, source in zip(order, sources):
        positions = sorted((i for i, other in enumerate(langs) if other == lang), key=lambda i: data.rows[i])
        examples = [data.examples[i] for i in positions]
        out.append(Used(role, data.task, lang, data.split, source, [data.rows[i] for i in positions],
                        [str(getattr(e, "id", "")) for e in examples], content_hash(examples),
                        data.total or len(data.examples), stage))
    return out


def _keys(data: SplitData, by: str) -> list:
    return list(data.rows) if by == "row" else [str(getattr(e, "id", "")) for e in data.examples]


def parallel_key(task: Task, data: SplitData, used: Used) -> str | None:
    """How ``data``'s examples and ``used``'s are the same examples (``row`` / ``id``), or None."""
    if used.task != data.task:
        return None
    split, other = base_split(data.split), base_split(used.split)
    group = task.parallel_group(split, other)
    if group is not None:
        return group.by
    if data.lang == used.lang and split == other and data.source == used.source:
        return "row"  # the very same file
    return None


def overlaps(task: Task, data: SplitData, used: Sequence[Used]) -> list[tuple[Used, int, str]]:
    """Each used split ``data`` shares examples with: (it, how many of ``data``'s examples, by what)."""
    hits = []
    for part in used:
        by = parallel_key(task, data, part)
        if by is None:
            continue
        keys = part.keys(by)
        count = sum(1 for key in _keys(data, by) if key in keys and key != "")
        if count:
            hits.append((part, count, by))
    return hits


def leakage_error(task: Task, data: SplitData, hits: list[tuple[Used, int, str]], what: str = "scoring") -> LeakageError:
    used, count, by = max(hits, key=lambda h: h[1])
    verb = VERBS.get(used.role, used.role)
    stage = f" in stage {used.stage}" if used.stage is not None else ""
    return LeakageError(
        f"{what} {data.describe()} of {task.name}: {count} of {len(data)} examples are parallel (by {by}) to "
        f"{used.split}-{used.lang}, which the run {verb} on{stage} ({used.source}); xling does not score "
        f"translations of its own training or selection data. Hold out rows nobody trains or selects on with "
        f"--parallel-holdout N and score them only there, or score another split (see {PROTOCOL})")


# ---------------------------------------------------------------- the row-disjoint protocol


def holdout_split(task: Task, train_split: str, dev_split: str) -> str:
    """The split ``--parallel-holdout`` cuts from: the training split if it is parallel, else the dev split."""
    for split in (train_split, dev_split):
        if task.parallel_group(split, split) is not None:
            return split
    raise ConfigError(f"parallel_holdout: neither {train_split} nor {dev_split} of {task.name} is declared parallel "
                      "across languages; there is nothing to hold out")


def hold_out(data: SplitData, count: int) -> SplitData:
    """Remove ``count`` examples (seeded, the same for every run) from ``data``; return them as ``split[eval]``."""
    if count >= len(data):
        raise ConfigError(f"parallel_holdout {count} leaves no data in {data.describe()} ({len(data)} examples)")
    order = list(range(len(data)))
    random.Random(HOLDOUT_SEED).shuffle(order)
    held = sorted(order[:count])
    held_set = set(held)
    out = data.subset(held, f"{base_split(data.split)}[eval]")
    data.keep([i for i in range(len(data)) if i not in held_set])
    return out


def restrict(task: Task, data: SplitData, held: Sequence[Used]) -> tuple[SplitData, str | None]:
    """``data`` reduced to the examples parallel to held-out rows (when its split is parallel to theirs)."""
    for part in held:
        by = parallel_key(task, data, part)
        if by is None:
            continue
        keys = part.keys(by)
        keep = [i for i, key in enumerate(_keys(data, by)) if key in keys]
        if not keep:
            raise DataError(f"{data.describe()} of {task.name} has none of the {len(part.rows)} {part.split}-"
                            f"{part.lang} rows held out for evaluation (--parallel-holdout)")
        note = (f"scored on the {len(keep)} of {len(data)} {base_split(data.split)} examples parallel to the "
                f"{len(part.rows)} {part.split}-{part.lang} rows held out from training and selection")
        return data.subset(keep, f"{base_split(data.split)}[held-out rows]"), note
    return data, None


def drop_from_selection(task: Task, selection: SplitData, evaluated: Iterable[SplitData]) -> dict[str, Any] | None:
    """Drop from ``selection`` the examples whose ids are evaluated, where the task declares it (XQuAD)."""
    split = base_split(selection.split)
    for group in task.parallel:
        if not group.drop_from_selection or split not in group.splits:
            continue
        ids = {str(getattr(e, "id", "")) for data in evaluated if base_split(data.split) in group.splits
               and data.task == selection.task for e in data.examples} - {""}
        keep = [i for i, e in enumerate(selection.examples) if str(getattr(e, "id", "")) not in ids]
        dropped = len(selection) - len(keep)
        if not dropped:
            return None
        if not keep:
            raise DataError(f"{selection.describe()} of {task.name}: every selection example is an evaluated "
                            f"question ({group.note or 'parallel'}); nothing is left to select on")
        selection.keep(keep)
        return {"count": dropped, "reason": group.note or f"parallel to the evaluated {'/'.join(group.splits)}"}
    return None


# ---------------------------------------------------------------- records


def stage_uses(stage: int | None, train: SplitData, selection: SplitData, held_out: SplitData | None = None,
               dropped: dict[str, Any] | None = None) -> list[Used]:
    uses = uses_of(train, "train", stage) + uses_of(selection, "selection", stage)
    if dropped:
        for use in uses:
            if use.role == "selection":
                use.dropped = dropped
    if held_out is not None:
        uses += uses_of(held_out, "held_out", stage)
    return uses


def from_record(record: dict[str, Any]) -> Used:
    return Used(record["role"], record["task"], record["lang"], record["split"], record["source"],
                expand_rows(record.get("rows", "")), [], record.get("sha256", ""), record.get("total", 0),
                record.get("stage"), record.get("dropped_parallel"))


def recorded_uses(task: Task, records: Sequence[dict[str, Any]], load: Any) -> list[Used]:
    """The uses a finished run recorded, with example ids re-read where ``task`` is parallel by id.

    ``load(task, lang, split, source)`` returns the split as the run read it; its rows are checked against
    the recorded content hash, so a changed file is an error rather than a silent miss.
    """
    uses = [from_record(r) for r in records]
    for use in uses:
        split = base_split(use.split)
        if use.task != task.name or not any(g.by == "id" and split in g.splits for g in task.parallel):
            continue
        data = load(task, use.lang, split, use.source)
        position = {row: i for i, row in enumerate(data.rows)}
        missing = [r for r in use.rows if r not in position]
        picked = [data.examples[position[r]] for r in use.rows if r in position]
        if missing or (use.sha256 and content_hash(picked) != use.sha256):
            raise DataError(f"{split}-{use.lang} of {task.name} ({use.source}) is not the data the run "
                            f"{VERBS.get(use.role, use.role)} on (rows or content hash differ); cannot check for "
                            "parallel examples")
        use.ids = [str(getattr(e, "id", "")) for e in picked]
    return uses

