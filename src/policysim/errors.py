"""Errors raised for user mistakes.

Every user-facing error is a :class:`PolicysimError`. The CLI prints ``str(error)`` on one line
and exits with a non-zero code; it never shows a traceback for these. Library code raises them
with enough context that the message alone tells the user what to fix: the file, where in the
file (line, row, key path or column), the bad value and what was expected.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AllocationError",
    "DataError",
    "InfeasibleAllocationError",
    "PolicysimError",
    "ScenarioError",
]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PolicysimError(Exception):
    """Base class of every error caused by user input or an impossible request."""

    exit_code: int = 2


class ScenarioError(PolicysimError):
    """A scenario file is invalid.

    The message reads ``FILE:LINE: KEY.PATH = VALUE: expected EXPECTATION``; the parts that
    are unknown (a missing file has no line) are left out.
    """

    def __init__(
        self,
        file: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        key_path: str | None = None,
        value: object = ...,
        expected: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.key_path = key_path
        self.value = value
        self.expected = expected
        self.detail = message
        where = self.file or "<scenario>"
        if line is not None:
            where += f":{line}"
        parts = [where]
        subject = ""
        if key_path:
            subject = key_path
            if value is not ...:
                subject += f" = {_short(value)}"
        elif value is not ...:
            subject = _short(value)
        text = f"{where}: "
        if subject:
            text += f"{subject}: "
        text += message
        if expected:
            text += f" (expected {expected})"
        super().__init__(" ".join(text.split()))
        del parts


class DataError(PolicysimError):
    """A baseline data file is invalid: names the file, the row (1-based, header = row 1) and the
    column."""

    def __init__(
        self,
        file: str | Path,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        value: object = ...,
    ) -> None:
        self.file = str(file)
        self.row = row
        self.column = column
        self.value = value
        where = self.file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        text = f"{where}: "
        if value is not ...:
            text += f"value {_short(value)}: "
        text += message
        super().__init__(" ".join(text.split()))


class AllocationError(PolicysimError):
    """The allocation model could not produce a plan (solver failure, bad plan file)."""


class InfeasibleAllocationError(AllocationError):
    """The scenario's allocation requirements contradict each other; the message says which, in
    policy terms and with the numbers."""
