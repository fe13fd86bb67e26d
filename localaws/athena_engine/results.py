"""Results as Athena shows them: Trino type names, ColumnInfo, values in Trino's text form, the CSV file.

GetQueryResults gives every value as a string (``VarCharValue``), NULL as a Datum without one. The text
is Trino's: booleans ``true``/``false``; doubles as Java's ``Double.toString`` (``1.0``, ``1.0E7``,
``1.0E-4``); decimals with their scale (``19.90``); dates ``2026-11-26``; timestamps
``2026-11-26 10:00:00.000`` (``... UTC`` with a time zone); arrays ``[1, 2]``, maps and rows ``{k=v}``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from localaws.athena_engine.errors import QueryFailed

Formatter = Callable[[Any], str]
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def java_double(value: float) -> str:
    """Java's Double.toString (what Trino prints for a double): shortest digits, E-notation out of [1e-3, 1e7)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return _java_floating(value, repr(float(value)))


def java_float(value: float) -> str:
    """Java's Float.toString (a Trino ``real``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return _java_floating(value, str(np.float32(value)))


def _java_floating(value: float, shortest: str) -> str:
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    number = decimal.Decimal(shortest)
    sign = "-" if number < 0 else ""
    number = abs(number)
    if decimal.Decimal("0.001") <= number < decimal.Decimal(10_000_000):
        text = format(number, "f")
        if "." not in text:
            text += ".0"
        integral, fraction = text.split(".")
        fraction = fraction.rstrip("0") or "0"
        return f"{sign}{integral}.{fraction}"
    digits = "".join(str(d) for d in number.as_tuple().digits).rstrip("0") or "0"
    exponent = number.adjusted()
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _decimal_text(value: decimal.Decimal) -> str:
    return format(value, "f")


def _timestamp_text(digits: int) -> Formatter:
    def text(value: dt.datetime) -> str:
        base = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.tzinfo is not None:
            base_zone = " UTC"
            value = value.astimezone(dt.UTC)
            base = value.strftime("%Y-%m-%d %H:%M:%S")
        else:
            base_zone = ""
        return f"{base}{_fraction(value.microsecond, digits)}{base_zone}"

    return text


def _fraction(microseconds: int, digits: int) -> str:
    if digits == 0:
        return ""
    if digits == 3 and microseconds % 1000:
        digits = 6  # sub-millisecond precision that Trino's timestamp(3) would not hold: show it, not hide it
    micros = f"{microseconds:06d}"
    return "." + (micros + "000")[:digits]


def _time_text(value: dt.time) -> str:
    return value.strftime("%H:%M:%S") + _fraction(value.microsecond, 3)


def _interval_text(value: dt.timedelta) -> str:
    negative = value < dt.timedelta(0)
    value = abs(value)
    days = value.days
    seconds = value.seconds
    millis = value.microseconds // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{'-' if negative else ''}{days} {hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _varbinary_text(value: bytes) -> str:
    return " ".join(f"{b:02x}" for b in value)


@dataclass
class ColumnType:
    """One result column's type, in the forms Athena and the Glue catalog need."""

    trino: str  # full Trino type: decimal(12,2), array(varchar), timestamp(3) with time zone
    athena: str  # ColumnInfo.Type: decimal, array, timestamp with time zone
    hive: str  # Glue column type: decimal(12,2), array<string>, timestamp
    precision: int = 0
    scale: int = 0
    case_sensitive: bool = False
    text: Formatter = str
    children: list[ColumnType] = field(default_factory=list)
    hugeint: bool = False

    def format(self, value: Any) -> str:
        """The value in Trino's text form (not for NULL)."""
        return self.text(value)


def _scalar(trino: str, hive: str, precision: int, text: Formatter = str, athena: str | None = None) -> ColumnType:
    return ColumnType(trino, athena or trino, hive, precision, 0, False, text)


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _bigint_text(value: Any) -> str:
    number = int(value)
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise QueryFailed("NUMERIC_VALUE_OUT_OF_RANGE", f"bigint addition overflow: {number}")
    return str(number)


def _nested_text(column: ColumnType) -> Formatter:
    """Arrays, maps and rows inside a value: elements in their own text form, NULL as ``null``."""

    def element(child: ColumnType, value: Any) -> str:
        return "null" if value is None else child.format(value)

    if column.athena == "array":
        child = column.children[0]
        return lambda value: "[" + ", ".join(element(child, v) for v in value) + "]"
    if column.athena == "map":
        key, val = column.children
        return lambda value: "{" + ", ".join(f"{element(key, k)}={element(val, v)}" for k, v in value.items()) + "}"
    names = [c.trino.split(" ", 1)[0] for c in column.children]

    def row(value: Any) -> str:
        items = value.values() if isinstance(value, dict) else value
        return (
            "{"
            + ", ".join(f"{n}={element(c, v)}" for n, c, v in zip(names, column.children, items, strict=False))
            + "}"
        )

    return row


def column_type(duckdb_type: Any) -> ColumnType:
    """A DuckDB result type (DuckDBPyType) as Trino/Athena/Hive see it."""
    kind = str(duckdb_type.id)
    if kind == "boolean":
        return _scalar("boolean", "boolean", 0, _bool_text)
    if kind in ("tinyint", "utinyint"):
        return _scalar("tinyint", "tinyint", 3) if kind == "tinyint" else _scalar("smallint", "smallint", 5)
    if kind in ("smallint", "usmallint"):
        return _scalar("smallint", "smallint", 5) if kind == "smallint" else _scalar("integer", "int", 10)
    if kind in ("integer", "uinteger"):
        return _scalar("integer", "int", 10) if kind == "integer" else _scalar("bigint", "bigint", 19)
    if kind in ("bigint", "ubigint", "hugeint", "uhugeint"):
        column = _scalar("bigint", "bigint", 19, _bigint_text)
        column.hugeint = kind != "bigint"
        return column
    if kind == "float":
        return _scalar("real", "float", 7, java_float)
    if kind == "double":
        return _scalar("double", "double", 17, java_double)
    if kind == "decimal":
        params = dict(duckdb_type.children)
        p, s = int(params["precision"]), int(params["scale"])
        return ColumnType(f"decimal({p},{s})", "decimal", f"decimal({p},{s})", p, s, False, _decimal_text)
    if kind == "varchar":
        column = _scalar("varchar", "string", 2147483647)
        column.case_sensitive = True
        if str(duckdb_type) == "JSON":
            column.trino = column.athena = "json"
        return column
    if kind == "blob":
        return _scalar("varbinary", "binary", 2147483647, _varbinary_text)
    if kind == "date":
        return _scalar("date", "date", 0, lambda v: v.isoformat())
    if kind in ("time", "time with time zone", "time_ns"):
        return _scalar("time(3)", "string", 3, _time_text, athena="time")
    if kind in ("timestamp", "timestamp_ms", "timestamp_s", "timestamp_ns"):
        digits = {"timestamp_s": 0, "timestamp_ns": 9}.get(kind, 3)
        return _scalar(f"timestamp({digits})", "timestamp", digits, _timestamp_text(digits), athena="timestamp")
    if kind == "timestamp with time zone":
        return _scalar("timestamp(3) with time zone", "timestamp", 3, _timestamp_text(3),
                       athena="timestamp with time zone")  # fmt: skip
    if kind == "interval":
        return _scalar("interval day to second", "string", 0, _interval_text)
    if kind == "uuid":
        return _scalar("uuid", "string", 0, lambda v: str(v) if isinstance(v, uuid.UUID) else str(uuid.UUID(str(v))))
    if kind == "null":
        return _scalar("unknown", "string", 0)
    if kind in ("list", "array"):
        child = column_type(dict(duckdb_type.children)["child"])
        column = ColumnType(f"array({child.trino})", "array", f"array<{child.hive}>", 0, 0, False, str, [child])
        column.text = _nested_text(column)
        return column
    if kind == "map":
        params = dict(duckdb_type.children)
        key, value = column_type(params["key"]), column_type(params["value"])
        column = ColumnType(f"map({key.trino},{value.trino})", "map", f"map<{key.hive},{value.hive}>", 0, 0, False,
                            str, [key, value])  # fmt: skip
        column.text = _nested_text(column)
        return column
    if kind == "struct":
        fields = [(name, column_type(child)) for name, child in duckdb_type.children]
        for name, child in fields:
            child.trino = f"{name} {child.trino}"  # kept as the row field's declaration
        trino = "row(" + ",".join(c.trino for _, c in fields) + ")"
        hive = "struct<" + ",".join(f"{n}:{c.hive}" for n, c in fields) + ">"
        column = ColumnType(trino, "row", hive, 0, 0, False, str, [c for _, c in fields])
        column.text = _nested_text(column)
        return column
    if kind == "enum":
        return _scalar("varchar", "string", 2147483647)
    raise QueryFailed("NOT_SUPPORTED", f"Result type {duckdb_type} is not supported by localaws")


def field_type(column: ColumnType) -> str:
    """The Trino type of a column as a view definition stores it (row fields keep their names)."""
    return column.trino


@dataclass
class ResultSet:
    """A finished query's result: column names and types, and every row as text (None for NULL)."""

    names: list[str]
    types: list[ColumnType]
    rows: list[list[str | None]]
    has_header: bool = True  # SELECT results have a header row on the first page; DDL/SHOW have none
    update_count: int = 0

    @classmethod
    def empty(cls) -> ResultSet:
        return cls([], [], [], has_header=False)

    @classmethod
    def text_lines(cls, name: str, lines: Iterable[str]) -> ResultSet:
        """One varchar column without a header row (SHOW / DESCRIBE / MSCK output)."""
        varchar = _scalar("varchar", "string", 2147483647)
        varchar.case_sensitive = True
        return cls([name], [varchar], [[line] for line in lines], has_header=False)

    def column_info(self) -> list[dict[str, Any]]:
        return [
            {
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Name": name,
                "Label": name,
                "Type": column.athena,
                "Precision": column.precision,
                "Scale": column.scale,
                "Nullable": "UNKNOWN",
                "CaseSensitive": column.case_sensitive,
            }
            for name, column in zip(self.names, self.types, strict=True)
        ]

    def api_rows(self) -> list[dict[str, Any]]:
        """Every row as GetQueryResults gives it, the header first when the statement has one."""
        rows: list[dict[str, Any]] = []
        if self.has_header:
            rows.append({"Data": [{"VarCharValue": name} for name in self.names]})
        rows.extend({"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in self.rows)
        return rows

    def csv(self) -> bytes:
        """The result file: header line, every non-NULL value quoted (``"`` doubled), NULL empty, ``\\n`` ends."""
        out = io.StringIO()
        lines: list[Sequence[str | None]] = [self.names, *self.rows]
        for line in lines:
            out.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in line))
            out.write("\n")
        return out.getvalue().encode("utf-8")

    def text_file(self) -> bytes:
        """A DDL/utility result file (.txt): one line per row, values tab-separated."""
        return "".join("\t".join(v or "" for v in row) + "\n" for row in self.rows).encode("utf-8")

    def metadata(self) -> bytes:
        """``<id>.csv.metadata``: binary on AWS and read only by Athena itself; localaws writes the ColumnInfo."""
        document = {"columnInfo": self.column_info(), "rowCount": len(self.rows)}
        return base64.b64encode(json.dumps(document).encode())


def format_rows(rows: Iterable[Sequence[Any]], types: Sequence[ColumnType]) -> list[list[str | None]]:
    formatters = [t.format for t in types]
    return [[None if v is None else f(v) for f, v in zip(formatters, row, strict=True)] for row in rows]
