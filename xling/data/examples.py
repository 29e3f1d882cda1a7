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
    # Per example: its row in the file (or hub split) it was read from, and, for several languages
    # concatenated, its language. Subsets keep them aligned (:meth:`keep`); the leakage guard and the
    # data record of results.json (:mod:`xling.data.parallel`) read them.
    rows: list[int] | None = None
    row_langs: list[str] | None = None

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = list(range(len(self.examples)))

    def __len__(self) -> int:
        return len(self.examples)

    def languages_of_rows(self) -> list[str]:
        return list(self.row_langs) if self.row_langs is not None else [self.lang] * len(self.examples)

    def keep(self, indices: list[int]) -> None:
        """Keep only the examples at ``indices`` (positions in :attr:`examples`), in that order."""
        langs = self.languages_of_rows() if self.row_langs is not None else None
        self.examples = [self.examples[i] for i in indices]
        self.rows = [self.rows[i] for i in indices] if self.rows is not None else None
        if langs is not None:
            self.row_langs = [langs[i] for i in indices]

    def subset(self, indices: list[int], split: str | None = None) -> "SplitData":
        """A copy holding the examples at ``indices`` (named ``split`` when given)."""
        import copy

        other = copy.copy(self)
        other.keep(indices)
        if split is not None:
            other.split = split
        return other

    def describe(self) -> str:
        return f"{self.split}-{self.lang}"
