"""Typed errors and exit codes. The core raises these; only the CLI turns them into exits."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DATA_ERROR = 1  # input or data error: file, column, values, support
    USAGE_ERROR = 2  # the command line itself is wrong
    GATE_FAILED = 3  # a --fail-if condition held (the report is complete)


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
        file_row: int | None = None,
    ) -> None:
        self.file, self.column, self.row, self.value = file, column, row, value
        self.file_row = file_row
        self.message = message
        where = []
        if file is not None:
            where.append(file)
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None and file_row is not None and file_row != row:
            # one of several files: its own row, and where that is in the data set
            where.append(f"row {file_row:,} (row {row:,} of the data set)")
        elif row is not None:
            where.append(f"row {row:,}")
        if value is not None:
            where.append(f"value {value!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


    def in_file(self, first_row: int) -> InputError:
        """The same error, its row also counted within its file, whose first row is the
        data set's row `first_row` (1-based)."""
        if self.row is None or self.file_row is not None:
            return self
        return InputError(self.message, file=self.file, column=self.column, row=self.row,
                          value=self.value, file_row=self.row - first_row + 1)


def plural(n: int, word: str) -> str:
    """ "1 row", "2 rows", "12,345 rows": a count and its noun (English -s plural)."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


class UsageError(LossCliError, ValueError):
    """The options asked for something that cannot be done (exit 2)."""

    exit_code = ExitCode.USAGE_ERROR


class GateFailed(LossCliError):
    """A `fail_if` condition held on the report (SPEC §10.4; exit 3 on the command line).
    `report`: the complete report; `conditions`: each holding condition as
    "FIELD = VALUE OP LIMIT", in the order given."""

    exit_code = ExitCode.GATE_FAILED

    def __init__(self, report: object, conditions: list[str]) -> None:
        self.report = report
        self.conditions = list(conditions)
        super().__init__("fail-if: " + "; ".join(self.conditions))


class FitError(LossCliError):
    """A family cannot be fitted or scored on these data (skipped in a comparison)."""


class OutOfRange(FitError):
    """The data are beyond what float64 can carry through this family's likelihood
    (squares that overflow near 1e154, or underflow near 1e-154)."""


# what a family's numerics can raise besides FitError (numpy's LinAlgError is a ValueError;
# InputError is one too, and callers let it through first)
NUMERIC_ERRORS = (ArithmeticError, ValueError)


def numeric_reason(exc: BaseException) -> str:
    """A numeric failure of one family's fit or score, in plain words (its skip reason).

    A FitError already says why in the family's words; any other exception is a float64
    limit that the family's formulas reached on these values, and its own text (math
    domain error, errno tuples) names no cause a user can act on, so it is not shown."""
    if isinstance(exc, FitError):
        return str(exc)
    if isinstance(exc, OverflowError) or (
            isinstance(exc, ArithmeticError) and "out of range" in str(exc).lower()):
        return ("values too large for float64 in this family's likelihood (an intermediate "
                "result overflows): rescale the target and predictions")
    if isinstance(exc, (ZeroDivisionError, FloatingPointError)):
        return ("values too extreme for float64 in this family's likelihood (a division by "
                "zero or an undefined result): rescale the target and predictions")
    return ("values too extreme for float64 in this family's likelihood (a formula was "
            "evaluated outside its domain, e.g. the log of 0 after an underflow): rescale "
            "the target and predictions")


def did_you_mean(word: str, known, aliases: dict | None = None, cutoff: float = 0.6) -> str:
    """ " (did you mean 'x'?)" for the closest known words (aliases shown as what they
    stand for), or nothing."""
    import difflib

    close = difflib.get_close_matches(word, list(known), n=3, cutoff=cutoff)
    if not close:
        return ""
    aliases = aliases or {}
    names = " or ".join(repr(c) for c in dict.fromkeys(aliases.get(c, c) for c in close))
    return f" (did you mean {names}?)"
