"""The container for one language's split. Example types are the kinds' (:mod:`xling.kinds`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
