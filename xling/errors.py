"""Errors a user can act on. The CLI prints them without a traceback."""

from __future__ import annotations


class XlingError(Exception):
    """Base class for errors caused by input, configuration or data."""


class ConfigError(XlingError, ValueError):
    """A configuration value is invalid or inconsistent."""


class DataError(XlingError):
    """Data is missing, malformed or unusable (says which file and line)."""


class MissingDataError(DataError, FileNotFoundError):
    """No data found for a task, language and split; lists what was tried."""


class UnlabelledSplitError(DataError):
    """A split has no gold labels (XTREME strips several test sets)."""


class LeakageError(DataError):
    """An evaluation set holds examples parallel to (translations of) what the run trained or selected on."""


class OutputError(XlingError):
    """Output cannot be written (a read-only folder, a full disk, a path that is not a folder)."""
