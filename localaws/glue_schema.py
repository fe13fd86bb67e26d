"""What a Glue crawler works out from S3 objects, as pure functions: no moto, no threads, no I/O.

- **Compression** by magic bytes, as Glue detects it (not by file extension): GZIP ``1f 8b``,
  BZIP2 ``BZh``, single-file ZIP ``PK 03 04``; anything else is uncompressed.
- **JSON classification.** A custom JSON classifier's ``JsonPath`` (``$``, ``$[*]``, ``$.records[*]``,
  ``$['a'].b``...) is applied to each top-level JSON value of the object (a file of newline-delimited
  objects is a sequence of top-level values); every JSON object it selects is a record. The built-in
  JSON classifier takes each top-level object as a record and a top-level array as one record with a
  single column ``array``. An object matches when at least one record is read from its start; one
  that is not JSON at all (or holds no JSON object) does not, and is left to the next classifier
  (finally ``UNKNOWN``).
- **Schema inference** (Hive types, as a crawler writes them for JSON): integers ``int`` (``bigint``
  outside 32 bits, ``double`` outside 64), numbers with a fraction or exponent ``double``, strings
  ``string`` (ISO timestamps included), booleans ``boolean``, objects ``struct<name:type,...>``,
  arrays ``array<type>``. Across records: int + bigint = bigint, int/bigint + double = double, null
  takes the other side's type, structs merge their fields, arrays merge their elements, anything
  else that disagrees is ``string``; a column that was only ever null is ``string``. Columns come in
  first-seen order, names lowercased (two keys that differ only in case are one column); the OpenX
  SerDe ``paths`` parameter lists the original keys, sorted.
- **Exclusions**: Glue's glob patterns, relative to the include path.
- **Names**: table names from folder or file names; Hive ``key=value`` partition folders.

Sources: the Glue developer guide (custom-classifier.md, add-classifier.md, crawler-data-stores
exclude patterns) and AWS_SHAPES.md section 4; what the docs leave open is marked in localaws/README.md.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
SAMPLE_BYTES = 1024 * 1024  # a crawler infers a JSON file's schema from its first megabyte...
MAX_SAMPLE_BYTES = 10 * SAMPLE_BYTES  # ...reading on, a megabyte at a time, up to 10 MB until it finds a record

UNKNOWN = "UNKNOWN"
JSON = "json"


# -- types ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Null:
    """Seen only as JSON null (or an empty array's element): no type yet."""


@dataclass(frozen=True)
class Scalar:
    name: str  # int | bigint | double | boolean | string


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, GlueType], ...]  # original-case names, first-seen order


@dataclass(frozen=True)
class Array:
    element: GlueType


GlueType = Null | Scalar | Struct | Array

NULL = Null()
INT, BIGINT, DOUBLE = Scalar("int"), Scalar("bigint"), Scalar("double")
BOOLEAN, STRING = Scalar("boolean"), Scalar("string")
_NUMERIC_RANK = {"int": 0, "bigint": 1, "double": 2}


def infer(value: Any) -> GlueType:
    """The Glue type of one JSON value."""
    if value is None:
        return NULL
    if isinstance(value, bool):  # before int: bool is an int in Python
        return BOOLEAN
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return INT
        return BIGINT if BIGINT_MIN <= value <= BIGINT_MAX else DOUBLE
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, dict):
        return _struct(value.items())
    if isinstance(value, list):
        element: GlueType = NULL
        for item in value:
            element = merge(element, infer(item))
        return Array(element)
    return STRING


def _struct(items: Iterable[tuple[str, Any]]) -> Struct:
    fields: dict[str, tuple[str, GlueType]] = {}  # lowercased name -> (first spelling, type)
    for name, value in items:
        key = name.lower()
        if key in fields:
            fields[key] = (fields[key][0], merge(fields[key][1], infer(value)))
        else:
            fields[key] = (name, infer(value))
    return Struct(tuple(fields.values()))


def merge(a: GlueType, b: GlueType) -> GlueType:
    """The type that holds values of both (Glue's widening; incompatible kinds become string)."""
    if isinstance(a, Null):
        return b
    if isinstance(b, Null) or a == b:
        return a
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        if a.name in _NUMERIC_RANK and b.name in _NUMERIC_RANK:
            return a if _NUMERIC_RANK[a.name] >= _NUMERIC_RANK[b.name] else b
        return STRING
    if isinstance(a, Struct) and isinstance(b, Struct):
        fields: dict[str, tuple[str, GlueType]] = {name.lower(): (name, kind) for name, kind in a.fields}
        for name, kind in b.fields:
            key = name.lower()
            fields[key] = (fields[key][0], merge(fields[key][1], kind)) if key in fields else (name, kind)
        return Struct(tuple(fields.values()))
    if isinstance(a, Array) and isinstance(b, Array):
        return Array(merge(a.element, b.element))
    return STRING


def render(kind: GlueType) -> str:
    """The Hive type string Glue stores: ``struct<a:int,b:array<string>>``."""
    if isinstance(kind, Null):
        return "string"
    if isinstance(kind, Scalar):
        return kind.name
    if isinstance(kind, Array):
        return f"array<{render(kind.element)}>"
    if not kind.fields:
        return "string"  # an object that never had a member
    return "struct<" + ",".join(f"{name}:{render(field_type)}" for name, field_type in kind.fields) + ">"


# -- a table's schema -------------------------------------------------------------------------------------


@dataclass
class TableSchema:
    """Top-level columns of the records seen so far, with the original keys behind them."""

    columns: dict[str, GlueType] = field(default_factory=dict)  # lowercased name -> type, first-seen order
    keys: set[str] = field(default_factory=set)  # original-case top-level keys

    def add_record(self, record: dict[str, Any]) -> None:
        for key, value in record.items():
            self.keys.add(key)
            name = key.lower()
            self.columns[name] = merge(self.columns.get(name, NULL), infer(value))

    def merge(self, other: TableSchema) -> TableSchema:
        merged = TableSchema(dict(self.columns), set(self.keys) | other.keys)
        for name, kind in other.columns.items():
            merged.columns[name] = merge(merged.columns.get(name, NULL), kind)
        return merged

    def glue_columns(self) -> list[dict[str, str]]:
        return [{"Name": name, "Type": render(kind)} for name, kind in self.columns.items()]

    @property
    def paths(self) -> str:
        """The OpenX JsonSerDe ``paths`` parameter: the original keys, sorted, comma-joined."""
        return ",".join(sorted(self.keys))


def schema_of(records: Iterable[dict[str, Any]]) -> TableSchema:
    schema = TableSchema()
    for record in records:
        schema.add_record(record)
    return schema


# -- compression ------------------------------------------------------------------------------------------


def compression_of(data: bytes) -> str:
    """Glue's compressionType for these bytes, by their magic number: gzip, bzip2, zip or none."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh" and data[3:4].isdigit():
        return "bzip2"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    return "none"


def decompress(data: bytes, compression: str) -> bytes | None:
    """The content, or None if it cannot be decompressed (a corrupt or multi-file archive)."""
    try:
        if compression == "gzip":
            return gzip.decompress(data)
        if compression == "bzip2":
            return bz2.decompress(data)
        if compression == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                return archive.read(names[0]) if len(names) == 1 else None
    except (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile):
        return None
    return data


# -- JSON classification ------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def json_values(text: str) -> Iterator[tuple[int, Any]]:
    """(offset, value) of each top-level JSON value, in order, until the end or the first unreadable text."""
    position = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    while position < len(text):
        try:
            value, end = _DECODER.raw_decode(text, position)
        except ValueError:
            return
        yield position, value
        position = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]


class JsonPathError(ValueError):
    pass


_STEP = re.compile(
    r"\.\*|\[\*\]|\.(?P<name>[^.\[\]]+)|\[(?P<index>-?\d+)\]|\[\s*'(?P<single>[^']*)'\s*\]|\[\s*\"(?P<double>[^\"]*)\"\s*\]"
)

Step = tuple[str, str | int | None]  # ("all", None) | ("member", name) | ("index", n)


def parse_json_path(path: str) -> list[Step]:
    """The steps of a classifier JsonPath: ``$``, ``.name``, ``['name']``, ``[n]``, ``[*]``, ``.*``."""
    if not path.startswith("$"):
        raise JsonPathError(f"a JsonPath starts with $: {path!r}")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise JsonPathError(f"unsupported JsonPath {path!r} at {path[position:]!r}")
        if match.group(0) in (".*", "[*]"):
            steps.append(("all", None))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        else:
            name = match.group("name") or match.group("single") or match.group("double") or ""
            steps.append(("member", name))
        position = match.end()
    return steps


def select(value: Any, steps: Sequence[Step]) -> list[Any]:
    """The values a parsed JsonPath selects in one JSON value."""
    current = [value]
    for kind, argument in steps:
        current = [found for item in current for found in _apply(item, kind, argument)]
    return current


def _apply(item: Any, kind: str, argument: str | int | None) -> list[Any]:
    if kind == "all":
        return list(item) if isinstance(item, list) else list(item.values()) if isinstance(item, dict) else []
    if kind == "member":
        return [item[argument]] if isinstance(item, dict) and argument in item else []
    if isinstance(item, list) and isinstance(argument, int) and -len(item) <= argument < len(item):
        return [item[argument]]
    return []


@dataclass
class JsonReading:
    """What a JSON classifier read from one object."""

    records: int  # every record in the object
    schema: TableSchema  # from the records in its first megabyte (Glue's sample)

    @property
    def matched(self) -> bool:
        return self.records > 0


BUILT_IN = None  # json_path for the built-in JSON classifier


def read_json(text: str, json_path: str | None) -> JsonReading:
    """Records of one object's text under a custom classifier's JsonPath, or the built-in classifier (None)."""
    steps = parse_json_path(json_path) if json_path is not None else None
    schema = TableSchema()
    records = 0
    for offset, value in json_values(text):
        if steps is None:
            found = [value] if isinstance(value, dict) else [{"array": value}] if isinstance(value, list) else []
        else:
            found = [item for item in select(value, steps) if isinstance(item, dict)]
        in_sample = offset < SAMPLE_BYTES or (records == 0 and offset < MAX_SAMPLE_BYTES)
        for record in found:
            if in_sample:
                schema.add_record(record)
        records += len(found)
    return JsonReading(records, schema)


def decode_text(content: bytes) -> str | None:
    """UTF-8 text (a BOM dropped), or None for bytes that are not UTF-8."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


# -- exclusions -----------------------------------------------------------------------------------------------


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Glue's exclude-pattern glob as a regular expression over a key relative to the include path.

    ``*`` matches within one name component, ``**`` across folders, ``?`` one character, ``[a-z]`` /
    ``[!a-z]`` one character of a set, ``{a,b}`` one of the subpatterns, ``\\`` escapes; a leading dot
    is an ordinary character.
    """
    out: list[str] = []
    position, in_group = 0, False
    while position < len(pattern):
        char = pattern[position]
        if char == "\\" and position + 1 < len(pattern):
            out.append(re.escape(pattern[position + 1]))
            position += 2
            continue
        if char == "*":
            if pattern.startswith("**", position):
                out.append(".*")
                position += 2
            else:
                out.append("[^/]*")
                position += 1
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find(
                "]", position + 2 if pattern[position + 1 : position + 2] in ("!", "]") else position + 1
            )
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[position + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                members = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[").replace("]", "\\]")
                out.append(f"[^/{members}]" if negate else f"(?!/)[{members}]")
                position = end + 1
                continue
        elif char == "{" and not in_group:
            out.append("(?:")
            in_group = True
        elif char == "}" and in_group:
            out.append(")")
            in_group = False
        elif char == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(char))
        position += 1
    if in_group:
        out.append(")")
    return re.compile("".join(out), re.DOTALL)


def excluded(relative_key: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(pattern.fullmatch(relative_key) for pattern in patterns)


# -- names -------------------------------------------------------------------------------------------------


def table_name(component: str) -> str:
    """A catalog table name from a folder or file name: lowercase, other characters as ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", component.lower()) or "_"


def hive_pair(folder: str) -> tuple[str, str] | None:
    """(key, value) of a Hive-style ``key=value`` folder name, else None."""
    key, sep, value = folder.partition("=")
    return (key, value) if sep and key else None


def partition_levels(levels: Sequence[Sequence[str]]) -> list[tuple[str, bool]]:
    """(column name, Hive-style?) for the folder names seen at each level below the table root.

    A level whose folders are all ``key=value`` with one key is named after the key (lowercased);
    any other level is ``partition_<level>``.
    """
    named: list[tuple[str, bool]] = []
    for index, folders in enumerate(levels):
        keys = {pair[0].lower() if (pair := hive_pair(folder)) else None for folder in folders}
        only = next(iter(keys)) if len(keys) == 1 else None
        named.append((only, True) if only else (f"partition_{index}", False))
    return named


def partition_values(folders: Sequence[str], levels: Sequence[tuple[str, bool]]) -> list[str]:
    """A partition's values: the text after ``=`` on a Hive-style level, else the whole folder name."""
    values = []
    for folder, (_, hive) in zip(folders, levels, strict=True):
        pair = hive_pair(folder)
        values.append(pair[1] if hive and pair else folder)
    return values
