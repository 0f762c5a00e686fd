"""Typed errors and exit codes. The core raises these; only the CLI turns them into exits."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DATA_ERROR = 1  # input or data error: file, column, values, support
    USAGE_ERROR = 2  # the command line itself is wrong


class LossCliError(Exception):
    """Base of every error losscli reports as one `error: …` line."""

    exit_code = ExitCode.DATA_ERROR


class InputError(LossCliError, ValueError):
    """Something in the user's file is wrong; the message names where.

    `file`, `column`, `row` (1-based data row) and `value` are kept so that the message is
    built in one place and tests can check each part.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        value: object = None,
    ) -> None:
        self.file, self.column, self.row, self.value = file, column, row, value
        where = []
        if file is not None:
            where.append(file)
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        if value is not None:
            where.append(f"value {value!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class UsageError(LossCliError, ValueError):
    """The options asked for something that cannot be done (exit 2)."""

    exit_code = ExitCode.USAGE_ERROR


class FitError(LossCliError):
    """A family cannot be fitted or scored on these data (skipped in a comparison)."""
