"""Opening the text files the field uses, gzipped or not, any line endings; the labelled-or-not rule.

Every reader (one family per task kind, in :mod:`xling.kinds`) returns
``(examples, labelled)``. A file is labelled when every record carries a label
and unlabelled when none does; a mix is a malformed file and raises
:class:`DataError` naming the file and line (:func:`check_labelled`).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xling.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def open_text(path: str | Path):
    """Open a UTF-8 text file, transparently gunzipping it (prefer :func:`read_lines` / :func:`read_text`,
    which name the file and line of an encoding error or a corrupt archive)."""
    path = Path(path)
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _open_binary(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def _decode(path: Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                        "xling reads UTF-8 text: convert the file, e.g. iconv -f latin1 -t utf-8") from None


@contextmanager
def _archive_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip file ({type(exc).__name__}: {exc})") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a data file") from None


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` with ``\\n`` / ``\\r\\n`` / ``\\r`` / a BOM removed.

    A line that is not UTF-8, or a truncated or corrupt ``.gz``, is a :class:`DataError` naming the file (and line).
    """
    path = Path(path)
    number = 0
    with _archive_errors(path), _open_binary(path) as handle:
        for raw in handle:
            for line in _LINE_BREAK.split(raw.rstrip(b"\n").rstrip(b"\r")) if b"\r" in raw else [raw.rstrip(b"\n")]:
                number += 1
                text = _decode(path, number, line)
                yield number, (text.lstrip("\ufeff") if number == 1 else text)


def read_text(path: str | Path) -> str:
    """A whole UTF-8 file (gzipped or not) as text, with the errors of :func:`read_lines`."""
    return "\n".join(line for _, line in read_lines(path))


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
