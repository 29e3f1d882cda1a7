"""Example types, one per task kind, and the container for one language's split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass
class PairExample:
    """Sentence-pair classification (XNLI, PAWS-X). ``label`` is None when unlabelled."""

    text_a: str
    text_b: str
    label: str | None = None
    id: str = ""


@dataclass
class TagExample:
    """One sentence of word-level tags (NER, POS). ``tags`` is None when unlabelled."""

    tokens: list[str]
    tags: list[str] | None = None
    id: str = ""


@dataclass
class QAExample:
    """Extractive QA: a question over a context; ``answers`` hold text and character start."""

    id: str
    question: str
    context: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""


@dataclass
class ChoiceExample:
    """Multiple choice (XCOPA): a premise, a question type and the choices."""

    premise: str
    choices: list[str]
    question: str = ""
    label: int | None = None
    id: str = ""


Example = Union[PairExample, TagExample, QAExample, ChoiceExample]


def is_labelled(example: Example) -> bool:
    if isinstance(example, PairExample):
        return example.label is not None
    if isinstance(example, TagExample):
        return example.tags is not None
    if isinstance(example, QAExample):
        return bool(example.answers)
    if isinstance(example, ChoiceExample):
        return example.label is not None
    raise TypeError(f"not an xling example: {type(example).__name__}")


@dataclass
class SplitData:
    """The examples of one task, language and split, and where they came from."""

    task: str
    lang: str
    split: str
    examples: list[Any]
    source: str
    labelled: bool
    total: int = 0  # examples before subsampling

    def __len__(self) -> int:
        return len(self.examples)

    def describe(self) -> str:
        return f"{self.split}-{self.lang}"
