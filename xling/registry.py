"""One generic registry for everything pluggable: tasks, fusion methods, heads, metrics."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from xling.errors import XlingError

T = TypeVar("T")


class UnknownNameError(XlingError, KeyError):
    """A name that is not registered; the message lists the choices."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0])


class Registry(Generic[T]):
    """A named collection of objects of one kind.

    ``REG.register("name")`` decorates a class or function; ``REG.get("name")``
    returns it, or raises :class:`UnknownNameError` naming the closest choices.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None, replace: bool = False) -> Callable[[T], T] | T:
        """Add ``obj`` (or decorate it); ``replace`` lets a re-read declaration take the place of its old reading."""
        if obj is not None:
            self._add(name, obj, replace)
            return obj

        def decorator(item: T) -> T:
            self._add(name, item, replace)
            return item

        return decorator

    def _add(self, name: str, obj: T, replace: bool = False) -> None:
        if name in self._items and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._items), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.{hint} Choices: {', '.join(sorted(self._items))}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
