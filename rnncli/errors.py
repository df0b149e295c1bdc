"""Errors a user can cause, and the exit codes the CLI maps them to.

Core code raises an :class:`RnncliError` subclass with a one-paragraph ``message``
naming the problem and a ``hint`` naming the fix. Only the CLI's error boundary
prints them (``Error: …`` / ``hint: …`` on stderr) and exits with ``exit_code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes of ``rnn``; docs/exit-codes.md lists them and each has a test."""

    OK = 0
    UNEXPECTED = 1  # a bug: please report it (run with --verbose for the traceback)
    USAGE = 2  # bad command-line usage (unknown option, missing argument, bad --set)
    CONFIG = 3  # config file missing, not YAML, or invalid
    DATA = 4  # data or vocabulary file missing, unreadable or malformed
    RUN = 5  # run directory / checkpoint missing, incomplete or corrupt
    DIVERGED = 6  # training produced a NaN or infinite loss or gradient
    INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2, as a shell reports it
    TERMINATED = 143  # SIGTERM (a job scheduler, `timeout`, `kill`): 128 + 15


class RnncliError(Exception):
    """Base class of every error a user can cause."""

    exit_code: ExitCode = ExitCode.UNEXPECTED
    label = "Error"  # the first word the CLI prints: "Error: <message>"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(RnncliError):
    exit_code = ExitCode.USAGE


class ConfigError(RnncliError):
    exit_code = ExitCode.CONFIG

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        problems: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message, hint)
        # (dotted location, message) pairs when validation failed, so callers can
        # inspect them without parsing the text; empty for file/YAML errors.
        self.problems: list[tuple[str, str]] = list(problems or [])


class DataError(RnncliError):
    exit_code = ExitCode.DATA


class RunError(RnncliError):
    exit_code = ExitCode.RUN


class DivergedError(RnncliError):
    exit_code = ExitCode.DIVERGED


class TrainingInterrupted(RnncliError):
    """Ctrl-C or SIGTERM stopped training after the step in progress, and a checkpoint was saved."""

    exit_code = ExitCode.INTERRUPTED
    label = "Interrupted"

    def __init__(self, message: str, hint: str | None = None, terminated: bool = False) -> None:
        super().__init__(message, hint)
        if terminated:
            self.exit_code, self.label = ExitCode.TERMINATED, "Terminated"


class Terminated(Exception):
    """SIGTERM arrived where no step can be finished first: the CLI exits with 143."""


def show(value: Any) -> str:
    """A value as the user wrote it in YAML (for messages), shortened: ``'lstn'``, ``true``, ``null``, ``0.5``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 200:  # repr of a huge int is slow or refused
        return "a very large integer"
    text = repr(value) if isinstance(value, (str, int, float)) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."

