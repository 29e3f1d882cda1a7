"""Opening the text files the field uses, gzipped or not, any line endings; the labelled-or-not rule.

Every reader (one family per task kind, in :mod:`xling.kinds`) returns
``(examples, labelled)``. A file is labelled when every record carries a label
and unlabelled when none does; a mix is a malformed file and raises
:class:`DataError` naming the file and line (:func:`check_labelled`).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from xling.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: str | Path):
    """Open a UTF-8 text file, transparently gunzipping it."""
    path = Path(path)
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` with ``\\n`` / ``\\r\\n`` / a BOM removed."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if number == 1:
                line = line.lstrip("\ufeff")
            yield number, line


def strip_trailing_blank(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop blank lines at the end of ``(number, line)`` pairs (files of one record per line)."""
    while lines and not lines[-1][1].strip():
        lines.pop()
    return lines


def header_column(header: list[str], names: tuple[str, ...]) -> int | None:
    """The index of the first of ``names`` in a header row (case-insensitive), or None."""
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def check_labelled(path, flags: list[bool], lines: list[tuple[int, object]]) -> bool:
    """True if every record is labelled, False if none is; a mix is an error."""
    if all(flags):
        return bool(flags)
    if not any(flags):
        return False
    odd = flags.index(False) if flags[0] else flags.index(True)
    raise DataError(
        f"{path}:{lines[odd][0]}: this record is {'un' if flags[0] else ''}labelled "
        f"but record 1 is {'' if flags[0] else 'un'}labelled; a file must be all one or the other"
    )
