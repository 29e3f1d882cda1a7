"""Multiple choice (COPA, XCOPA): each choice is one (premise, connective + choice) pair.

Input formulation. COPA asks for the *cause* or the *effect* of a premise. Each
choice becomes the sentence pair ``premise [SEP] connective choice`` with

=========  ============  =====================================================
question   connective    pair read as
=========  ============  =====================================================
cause      ``because``   "The man broke his toe. [SEP] because He dropped a hammer ..."
effect     ``so``        "I tipped the bottle. [SEP] so The liquid poured out."
=========  ============  =====================================================

The connective is the same token(s) for every language (the task declaration's
``options["connectives"]``, by default the two English words above): it carries
only the question type, is seen in every training pair, and is not translated,
so no per-language word lists enter the evaluation. Multilingual encoders have
seen these frequent words in many contexts; translating them per language would
be a form of target-language engineering that zero-shot transfer avoids. A
question that is not a key of the mapping is used verbatim as the prefix (other
multiple-choice datasets), an empty one adds nothing. (XTREME-R's
``run_xcopa.py`` instead appends "What was the cause?" to the premise.)

Labels are the index of the right choice; the head scores each pair and the
prediction is the arg-max over choices.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import xling.models.choice_head  # noqa: F401 - registers the "multiple_choice" head
from xling.config import TrainConfig
from xling.data.files import check_labelled, read_lines
from xling.errors import DataError
from xling.kinds.base import KINDS, Kind
from xling.tasks.task import Task

DEFAULT_CONNECTIVES = {"cause": "because", "effect": "so"}


@dataclass
class ChoiceExample:
    """Multiple choice (XCOPA): a premise, a question type and the choices."""

    premise: str
    choices: list[str]
    question: str = ""
    label: int | None = None
    id: str = ""


def read_choices(path: str | Path) -> tuple[list[ChoiceExample], bool]:
    """COPA / XCOPA JSON lines: ``premise, choice1, choice2, question, label, idx``."""
    examples = []
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
        choices = [row[k] for k in sorted(k for k in row if k.startswith("choice"))]
        if "premise" not in row or len(choices) < 2:
            raise DataError(f"{path}:{number}: expected 'premise' and at least 'choice1', 'choice2'")
        label = row.get("label")
        examples.append(ChoiceExample(row["premise"], choices, row.get("question", ""),
                                      None if label in (None, -1) else int(label), str(row.get("idx", number))))
    flags = [e.label is not None for e in examples]
    return examples, check_labelled(path, flags, [(i + 1, "") for i in range(len(flags))])


def connective_for(question: str, connectives: dict[str, str]) -> str:
    """The prefix of each choice for a question type (see the module docstring)."""
    key = question.strip().lower()
    return connectives.get(key, question.strip())


def choice_features(examples: Sequence[ChoiceExample], tokenizer: Any, max_length: int,
                    connectives: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One feature per example with (choices, T) ``input_ids``; ``labels`` = index of the right choice."""
    connectives = DEFAULT_CONNECTIVES if connectives is None else connectives
    if not examples:
        return []
    counts = {len(e.choices) for e in examples}
    if len(counts) > 1:
        odd = next(e for e in examples if len(e.choices) != len(examples[0].choices))
        raise DataError(f"multiple-choice examples must all have the same number of choices: example {odd.id!r} "
                        f"has {len(odd.choices)}, example {examples[0].id!r} has {len(examples[0].choices)}")
    firsts, seconds = [], []
    for example in examples:
        prefix = connective_for(example.question, connectives)
        for choice in example.choices:
            firsts.append(example.premise)
            seconds.append(f"{prefix} {choice}" if prefix else choice)
    encoded = tokenizer(firsts, seconds, truncation=True, max_length=max_length)
    features, row = [], 0
    for index, example in enumerate(examples):
        n = len(example.choices)
        if example.label is not None and not 0 <= example.label < n:
            raise DataError(f"example {example.id!r}: label {example.label} is not a choice index (0..{n - 1})")
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][row:row + n], "example": index}
        if "token_type_ids" in encoded:
            feature["token_type_ids"] = encoded["token_type_ids"][row:row + n]
        if example.label is not None:
            feature["labels"] = example.label
        features.append(feature)
        row += n
    return features


class MultipleChoice(Kind):
    name = "multiple_choice"
    head = "multiple_choice"
    task_options = Kind.task_options | {"pooling", "connectives"}
    example_type = ChoiceExample

    def is_labelled(self, example: ChoiceExample) -> bool:
        return example.label is not None

    def read(self, task, path, lang, label_file=None, row_filter=None):
        return read_choices(path)

    def from_hub_row(self, task, hub, row, label_name, ident) -> ChoiceExample:
        f = hub.fields
        label = row.get(f.get("label", "label"))
        return ChoiceExample(row[f["premise"]], [row[c] for c in f["choices"].split(",")],
                             row.get(f.get("question", "question"), ""), None if label in (None, -1) else int(label),
                             ident)

    def head_options(self, task: Task, cfg: TrainConfig) -> dict[str, Any]:
        # --pooling is the classification head's; the task declares this head's pooling (default mean).
        return {"dropout": cfg.dropout, "pooling": task.options.get("pooling", "mean")}

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        return choice_features(examples, tokenizer, max_length, task.options.get("connectives"))

    def decode(self, task: Task, outputs: Sequence[np.ndarray], examples) -> list[int]:
        return [int(np.argmax(p)) for p in outputs]

    def references(self, task: Task, examples: Sequence[ChoiceExample]) -> list[int | None]:
        return [e.label for e in examples]


KINDS.register(MultipleChoice.name, MultipleChoice())
