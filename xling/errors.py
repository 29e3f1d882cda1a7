"""Errors a user can act on. The CLI prints them without a traceback."""

from __future__ import annotations


class XlingError(Exception):
    """Base class for errors caused by input, configuration or data (the CLI exits with ``exit_code``)."""

    exit_code = 2


class ConfigError(XlingError, ValueError):
    """A configuration value is invalid or inconsistent."""


class DataError(XlingError):
    """Data is missing, malformed or unusable (says which file and line)."""


class MissingDataError(DataError, FileNotFoundError):
    """No data found for a task, language and split; lists what was tried."""


class UnlabelledSplitError(DataError):
    """A split has no gold labels (XTREME strips several test sets)."""


class RunInterrupted(XlingError):
    """The run was stopped by a signal after saving a checkpoint; exits 128 + the signal (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message, signum)
        self.message, self.signum = message, signum
        self.exit_code = 128 + signum

    def __str__(self) -> str:
        return self.message


class LeakageError(DataError):
    """An evaluation set holds examples parallel to (translations of) what the run trained or selected on."""


class OutputError(XlingError):
    """Output cannot be written (a read-only folder, a full disk, a path that is not a folder)."""
