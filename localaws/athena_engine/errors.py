"""Query failures as Athena engine v3 reports them: ``<ERROR_NAME>: line L:C: <message>``.

The text is both ``Status.StateChangeReason`` and ``Status.AthenaError.ErrorMessage``. ErrorCategory is 1
(SYSTEM), 2 (USER) or 3 (OTHER); ErrorType follows the Athena error catalog where AWS_SHAPES.md names a
number (COLUMN_NOT_FOUND 1006 was observed; the others are the catalog's closest entry, unconfirmed).
"""

from __future__ import annotations

# Trino error name -> (ErrorCategory, ErrorType).
_ATHENA_ERROR: dict[str, tuple[int, int]] = {
    "SYNTAX_ERROR": (2, 1006),
    "COLUMN_NOT_FOUND": (2, 1006),
    "AMBIGUOUS_NAME": (2, 1006),
    "TYPE_MISMATCH": (2, 1006),
    "FUNCTION_NOT_FOUND": (2, 1006),
    "EXPRESSION_NOT_AGGREGATE": (2, 1006),
    "MISSING_ORDER_BY": (2, 1006),
    "INVALID_PARAMETER_USAGE": (2, 1006),
    "DUPLICATE_COLUMN_NAME": (2, 1006),
    "ALREADY_EXISTS": (2, 1006),
    "TABLE_NOT_FOUND": (2, 1110),
    "SCHEMA_NOT_FOUND": (2, 1110),
    "CATALOG_NOT_FOUND": (2, 1110),
    "INVALID_FUNCTION_ARGUMENT": (2, 1106),
    "INVALID_CAST_ARGUMENT": (2, 1100),
    "DIVISION_BY_ZERO": (2, 1100),
    "NUMERIC_VALUE_OUT_OF_RANGE": (2, 1100),
    "NOT_SUPPORTED": (2, 1100),
    "HIVE_BAD_DATA": (2, 1001),
    "HIVE_CURSOR_ERROR": (2, 1001),
    "HIVE_UNSUPPORTED_FORMAT": (2, 1001),
    "FAILED": (2, 1003),  # Hive DDL: "FAILED: SemanticException ..."
    "GENERIC_INTERNAL_ERROR": (1, 200),
    "EXCEEDED_LIMIT": (2, 1000),
}


class QueryFailed(Exception):
    """The query ends FAILED with this reason (StateChangeReason and AthenaError.ErrorMessage)."""

    def __init__(self, name: str, message: str, line: int | None = None, column: int | None = None) -> None:
        self.name = name
        self.message = message
        self.line, self.column = line, column
        where = f"line {line}:{column}: " if line is not None and column is not None else ""
        self.reason = f"{name}: {where}{message}"
        super().__init__(self.reason)

    @property
    def category(self) -> int:
        return _ATHENA_ERROR.get(self.name, (2, 1000))[0]

    @property
    def error_type(self) -> int:
        return _ATHENA_ERROR.get(self.name, (2, 1000))[1]

    @property
    def retryable(self) -> bool:
        return self.category == 1


class HiveDDLFailed(QueryFailed):
    """A Hive DDL failure: the reason is the Hive text as is (``FAILED: SemanticException ...``)."""

    def __init__(self, text: str) -> None:
        super().__init__("FAILED", text)
        self.reason = text if text.startswith("FAILED") else f"FAILED: {text}"
        self.args = (self.reason,)


class QueryCancelled(Exception):
    """The query ends CANCELLED: stopped by StopQueryExecution, or over the workgroup's scan cut-off."""

    def __init__(self, reason: str | None = None, scanned_bytes: int = 0) -> None:
        super().__init__(reason or "cancelled")
        self.reason = reason
        self.scanned_bytes = scanned_bytes


def not_supported(what: str, line: int | None = None, column: int | None = None) -> QueryFailed:
    """A construct localaws does not run faithfully: the query fails rather than answer differently."""
    return QueryFailed("NOT_SUPPORTED", f"{what} is not supported by localaws", line, column)
