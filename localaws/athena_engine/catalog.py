"""The Glue Data Catalog and S3 as Athena sees them, in-process on moto's backends.

- ``Catalog``: databases, tables, views (``VIRTUAL_VIEW`` with ``presto_view`` and ``/* Presto View: ... */``,
  AWS_SHAPES.md 4e) and partitions of one account and region; the DDL that writes them.
- Hive types (``struct<a:int,b:array<string>>``) parsed and translated to DuckDB and Trino types.
- S3 as Hive lists it: the data objects under a table or partition location, read through moto's S3 backend
  (``cache.py`` keeps their decoded copies).
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.glue.models import GlueBackend, glue_backends
from moto.s3.models import FakeKey, s3_backends
from moto.utilities.utils import get_partition

from localaws.athena_engine.errors import HiveDDLFailed, QueryFailed, not_supported

CATALOG_NAME = "awsdatacatalog"
VIEW_PREFIX, VIEW_SUFFIX = "/* Presto View: ", " */"
JSON_SERDES = {
    "org.openx.data.jsonserde.JsonSerDe",
    "org.apache.hive.hcatalog.data.JsonSerDe",
    "org.apache.hadoop.hive.serde2.JsonSerDe",
}
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
OPENX_SERDE = "org.openx.data.jsonserde.JsonSerDe"


# --- Hive types ------------------------------------------------------------------------------------------------
@dataclass
class HiveType:
    kind: str  # string, int, decimal, array, map, struct, ...
    params: list[int] = field(default_factory=list)
    children: list[HiveType] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # struct field names

    def duckdb(self) -> str:
        simple = {
            "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "int": "INTEGER", "integer": "INTEGER",
            "bigint": "BIGINT", "smallint": "SMALLINT", "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT",
            "real": "FLOAT", "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "binary": "BLOB",
        }  # fmt: skip
        if self.kind in simple:
            return simple[self.kind]
        if self.kind == "decimal":
            precision, scale = [*self.params, 10, 0][:2] if self.params else (10, 0)
            return f"DECIMAL({precision},{scale if len(self.params) > 1 else 0})"
        if self.kind == "array":
            return f"{self.children[0].duckdb()}[]"
        if self.kind == "map":
            return f"MAP({self.children[0].duckdb()}, {self.children[1].duckdb()})"
        if self.kind == "struct":
            fields = ", ".join(f'"{n}" {c.duckdb()}' for n, c in zip(self.names, self.children, strict=True))
            return f"STRUCT({fields})"
        raise not_supported(f"The Hive column type {self.kind}")

    def trino(self) -> str:
        simple = {"string": "varchar", "int": "integer", "float": "real", "binary": "varbinary",
                  "timestamp": "timestamp(3)"}  # fmt: skip
        if self.kind in ("array", "map"):
            return f"{self.kind}({','.join(c.trino() for c in self.children)})"
        if self.kind == "struct":
            return "row(" + ",".join(f"{n} {c.trino()}" for n, c in zip(self.names, self.children, strict=True)) + ")"
        if self.params:
            return f"{simple.get(self.kind, self.kind)}({','.join(map(str, self.params))})"
        return simple.get(self.kind, self.kind)

    def family(self) -> str:
        """What a literal must be to compare with this type: string, number, boolean, time or other."""
        if self.kind in ("string", "varchar", "char"):
            return "string"
        if self.kind in ("int", "integer", "bigint", "smallint", "tinyint", "double", "float", "real", "decimal"):
            return "number"
        if self.kind == "boolean":
            return "boolean"
        return "time" if self.kind in ("date", "timestamp") else "other"


def parse_hive_type(text: str) -> HiveType:
    tokens = _hive_tokens(text)
    parsed, rest = _hive_type(tokens)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r} in Hive type {text!r}")
    return parsed


def _hive_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    word = ""
    for char in text:
        if char in "<>,:()":
            if word.strip():
                tokens.append(word.strip())
            word = ""
            tokens.append(char)
        elif char.isspace() and not word.strip():
            continue
        else:
            word += char
    if word.strip():
        tokens.append(word.strip())
    return tokens


def _hive_type(tokens: list[str]) -> tuple[HiveType, list[str]]:
    if not tokens:
        raise ValueError("empty Hive type")
    name, rest = tokens[0].lower(), tokens[1:]
    if name in ("array", "map", "struct"):
        if not rest or rest[0] != "<":
            raise ValueError(f"{name} without <")
        rest = rest[1:]
        result = HiveType(name)
        while True:
            if name == "struct":
                field_name, colon, rest = rest[0], rest[1], rest[2:]
                if colon != ":":
                    raise ValueError("struct field without :")
                result.names.append(field_name.strip("`"))
            child, rest = _hive_type(rest)
            result.children.append(child)
            if rest and rest[0] == ",":
                rest = rest[1:]
                continue
            if rest and rest[0] == ">":
                return result, rest[1:]
            raise ValueError(f"unterminated {name}")
    result = HiveType(name)
    if rest and rest[0] == "(":
        end = rest.index(")")
        result.params = [int(p) for p in rest[1:end] if p != ","]
        rest = rest[end + 1 :]
    return result, rest


def hive_from_datatype(node: Any) -> str:
    """A sqlglot DataType (Hive DDL) as Glue writes a column type: lowercase, no spaces."""
    from sqlglot import exp

    kind = node.this
    names = {
        exp.DataType.Type.INT: "int", exp.DataType.Type.BIGINT: "bigint", exp.DataType.Type.SMALLINT: "smallint",
        exp.DataType.Type.TINYINT: "tinyint", exp.DataType.Type.DOUBLE: "double", exp.DataType.Type.FLOAT: "float",
        exp.DataType.Type.BOOLEAN: "boolean", exp.DataType.Type.TEXT: "string", exp.DataType.Type.DATE: "date",
        exp.DataType.Type.TIMESTAMP: "timestamp", exp.DataType.Type.BINARY: "binary",
        exp.DataType.Type.VARBINARY: "binary",
    }  # fmt: skip
    if kind in names:
        return names[kind]
    params = [p.this.this if hasattr(p.this, "this") else p.this for p in node.expressions if not p.is_type]
    if kind in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR):
        base = "varchar" if kind == exp.DataType.Type.VARCHAR else "char"
        return f"{base}({params[0]})" if params else "string"
    if kind == exp.DataType.Type.DECIMAL:
        return "decimal(" + ",".join(str(p) for p in params) + ")" if params else "decimal(10,0)"
    if kind == exp.DataType.Type.ARRAY:
        return f"array<{hive_from_datatype(node.expressions[0])}>"
    if kind == exp.DataType.Type.MAP:
        return f"map<{hive_from_datatype(node.expressions[0])},{hive_from_datatype(node.expressions[1])}>"
    if kind == exp.DataType.Type.STRUCT:
        fields = [f"{f.name}:{hive_from_datatype(f.args['kind'])}" for f in node.expressions]
        return "struct<" + ",".join(fields) + ">"
    raise not_supported(f"The column type {node.sql(dialect='hive')}")


# --- catalog objects ---------------------------------------------------------------------------------------------
@dataclass
class Column:
    name: str
    hive: str

    @property
    def type(self) -> HiveType:
        return parse_hive_type(self.hive)


@dataclass
class GlueTable:
    database: str
    name: str
    table_type: str
    columns: list[Column]
    partition_keys: list[Column]
    location: str
    serde: str
    serde_parameters: dict[str, str]
    parameters: dict[str, str]
    view_original_text: str | None

    @property
    def is_view(self) -> bool:
        return self.table_type == "VIRTUAL_VIEW" or self.view_original_text is not None

    @property
    def qualified(self) -> str:
        return f"{CATALOG_NAME}.{self.database}.{self.name}"

    def view_definition(self) -> dict[str, Any]:
        text = self.view_original_text or ""
        if not (self.parameters.get("presto_view") == "true" and text.startswith(VIEW_PREFIX)):
            raise not_supported(f"The view {self.qualified} (not a Presto view: created by Hive or another engine)")
        body = text[len(VIEW_PREFIX) : -len(VIEW_SUFFIX)] if text.endswith(VIEW_SUFFIX) else text[len(VIEW_PREFIX) :]
        decoded: dict[str, Any] = json.loads(base64.b64decode(body))
        return decoded


def encode_view(original_sql: str, schema: str, columns: list[tuple[str, str]], owner: str) -> str:
    """``ViewOriginalText`` of an Athena (Trino) view: ``/* Presto View: <base64 of the definition JSON> */``."""
    definition = {
        "originalSql": original_sql,
        "catalog": CATALOG_NAME,
        "schema": schema,
        "columns": [{"name": name, "type": trino} for name, trino in columns],
        "owner": owner,
        "runAsInvoker": False,
        "properties": {},
    }
    encoded = base64.b64encode(json.dumps(definition, separators=(",", ":")).encode()).decode()
    return f"{VIEW_PREFIX}{encoded}{VIEW_SUFFIX}"


@dataclass
class Partition:
    values: list[str]
    location: str


class Catalog:
    """The Glue Data Catalog of one account and region (moto's GlueBackend), as Athena reads and writes it."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    @property
    def glue(self) -> GlueBackend:
        return glue_backends[self.account][self.region]

    def database_exists(self, name: str) -> bool:
        return self._database_name(name) is not None

    def _database_name(self, name: str) -> str | None:
        databases = self.glue.databases
        if name in databases:
            return name
        return next((d for d in databases if d.lower() == name.lower()), None)

    def databases(self) -> list[str]:
        return sorted(self.glue.databases)

    def tables(self, database: str) -> list[str]:
        db = self._database_name(database)
        return sorted(self.glue.databases[db].tables) if db else []

    def _fake_table(self, database: str, name: str) -> Any:
        db = self._database_name(database)
        if db is None:
            return None
        tables = self.glue.databases[db].tables
        if name in tables:
            return tables[name]
        return next((t for n, t in tables.items() if n.lower() == name.lower()), None)

    def table(self, database: str, name: str) -> GlueTable | None:
        fake = self._fake_table(database, name)
        if fake is None:
            return None
        spec = fake.as_dict()
        storage = spec.get("StorageDescriptor") or {}
        serde = storage.get("SerdeInfo") or {}
        return GlueTable(
            database=fake.database_name,
            name=fake.name,
            table_type=str(spec.get("TableType") or ""),
            columns=[Column(c["Name"].lower(), str(c.get("Type") or "string")) for c in storage.get("Columns") or []],
            partition_keys=[
                Column(c["Name"].lower(), str(c.get("Type") or "string")) for c in spec.get("PartitionKeys") or []
            ],
            location=str(storage.get("Location") or ""),
            serde=str(serde.get("SerializationLibrary") or ""),
            serde_parameters=dict(serde.get("Parameters") or {}),
            parameters=dict(spec.get("Parameters") or {}),
            view_original_text=spec.get("ViewOriginalText"),
        )

    def partitions(self, table: GlueTable) -> list[Partition]:
        fake = self._fake_table(table.database, table.name)
        if fake is None:
            return []
        found = []
        for partition in list(fake.partitions.values()):
            spec = partition.partition_input
            location = str((spec.get("StorageDescriptor") or {}).get("Location") or "")
            found.append(Partition([str(v) for v in spec.get("Values") or []], location))
        return found

    # -- DDL -----------------------------------------------------------------------------------------------------
    def create_view(self, database: str, name: str, table_input: dict[str, Any], replace: bool) -> None:
        db = self._database_name(database)
        if db is None:
            raise QueryFailed("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist", 1, 1)
        existing = self.table(db, name)
        qualified = f"{CATALOG_NAME}.{db}.{name}"
        if existing is not None and not existing.is_view:
            raise QueryFailed("TABLE_ALREADY_EXISTS", f"Table '{qualified}' already exists", 1, 1)
        if existing is not None and not replace:
            raise QueryFailed("ALREADY_EXISTS", f"View '{qualified}' already exists", 1, 1)
        if existing is not None:
            self.glue.update_table(db, existing.name, table_input)
        else:
            self.glue.create_table(db, name, table_input)

    def create_table(self, database: str, name: str, table_input: dict[str, Any], if_not_exists: bool) -> None:
        db = self._database_name(database)
        if db is None:
            raise HiveDDLFailed(f"FAILED: SemanticException [Error 10072]: Database does not exist: {database}")
        if self._fake_table(db, name) is not None:
            if if_not_exists:
                return
            raise HiveDDLFailed(
                "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
                f"AlreadyExistsException(message:Table {name} already exists)"
            )
        self.glue.create_table(db, name, table_input)

    def drop(self, database: str, name: str, view: bool, if_exists: bool) -> None:
        db = self._database_name(database) or database
        existing = self.table(db, name) if self._database_name(database) else None
        if existing is None:
            if if_exists:
                return
            if view:
                raise QueryFailed("TABLE_NOT_FOUND", f"View '{CATALOG_NAME}.{db}.{name}' does not exist", 1, 1)
            raise HiveDDLFailed(f"FAILED: SemanticException [Error 10001]: Table not found {db}.{name}")
        if view and not existing.is_view:
            raise QueryFailed("TABLE_NOT_FOUND", f"View '{existing.qualified}' does not exist", 1, 1)
        if not view and existing.is_view:
            raise HiveDDLFailed(
                "FAILED: SemanticException [Error 10131]: To drop a view you need to use the DROP VIEW command"
            )
        self.glue.delete_table(existing.database, existing.name)

    def add_partition(self, table: GlueTable, values: list[str], location: str, if_not_exists: bool) -> bool:
        """Add a partition with the table's storage settings; False when it existed (and IF NOT EXISTS)."""
        fake = self._fake_table(table.database, table.name)
        if str(values) in fake.partitions:
            if if_not_exists:
                return False
            spec = ", ".join(f"{k.name}={v}" for k, v in zip(table.partition_keys, values, strict=True))
            raise HiveDDLFailed(
                "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
                f"AlreadyExistsException(message:Partition already exists: {table.name}[{spec}])"
            )
        storage = copy.deepcopy(fake.as_dict().get("StorageDescriptor") or {})
        storage["Location"] = location
        self.glue.create_partition(
            table.database,
            fake.name,
            {"Values": list(values), "StorageDescriptor": storage, "Parameters": {}},
        )
        return True


def external_table_input(
    name: str,
    columns: list[Column],
    partition_keys: list[Column],
    location: str,
    serde: str,
    serde_parameters: dict[str, str],
    table_properties: dict[str, str],
    input_format: str = TEXT_INPUT,
    output_format: str = TEXT_OUTPUT,
) -> dict[str, Any]:
    """Glue TableInput for CREATE EXTERNAL TABLE, in the shape AWS_SHAPES.md 4d describes."""
    parameters = {"EXTERNAL": "TRUE", **table_properties, "transient_lastDdlTime": str(int(time.time()))}
    return {
        "Name": name,
        "Owner": "hadoop",
        "TableType": "EXTERNAL_TABLE",
        "Retention": 0,
        "PartitionKeys": [{"Name": c.name, "Type": c.hive} for c in partition_keys],
        "Parameters": parameters,
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": c.hive} for c in columns],
            "Location": location,
            "InputFormat": input_format,
            "OutputFormat": output_format,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": {"serialization.format": "1",
                                                                         **serde_parameters}},
            "BucketColumns": [],
            "SortColumns": [],
            "StoredAsSubDirectories": False,
        },
    }  # fmt: skip


def view_table_input(name: str, original_text: str, columns: list[tuple[str, str]], owner: str) -> dict[str, Any]:
    """Glue TableInput of an Athena view (AWS_SHAPES.md 4e); ``columns`` are (name, Hive type)."""
    return {
        "Name": name,
        "TableType": "VIRTUAL_VIEW",
        "Owner": owner,
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "PartitionKeys": [],
        "ViewOriginalText": original_text,
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "SerdeInfo": {},
            "Location": "",
        },
    }


# --- S3 ---------------------------------------------------------------------------------------------------------
def split_s3(uri: str) -> tuple[str, str]:
    """(bucket, key prefix) of ``s3://bucket/prefix``; a location is a folder, so the prefix ends in '/'."""
    if not uri.startswith(("s3://", "s3a://", "s3n://")):
        raise QueryFailed("HIVE_INVALID_METADATA", f"Table location is not an S3 path: {uri!r}")
    rest = uri.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_objects(account: str, region: str, location: str) -> list[S3Object]:
    """The data objects under a table or partition location (recursively), as Hive lists them.

    Objects whose name starts with ``_`` or ``.`` (Hive's hidden files), folder markers and empty objects
    hold no data and are skipped.
    """
    bucket_name, prefix = split_s3(location)
    backend = s3_backends[account][get_partition(region)]
    bucket = backend.buckets.get(bucket_name)
    if bucket is None:
        raise QueryFailed(
            "HIVE_FILESYSTEM_ERROR",
            f"The specified bucket does not exist (Service: Amazon S3; Status Code: 404; Error Code: NoSuchBucket): "
            f"{location}",
        )
    found = []
    for name, key in list(bucket.keys.items()):
        if not isinstance(key, FakeKey) or not name.startswith(prefix):
            continue
        base = name.rsplit("/", 1)[-1]
        if not base or base.startswith(("_", ".")) or name.endswith("_$folder$") or not key.size:
            continue
        found.append(S3Object(bucket_name, name, int(key.size), str(key.etag).strip('"')))
    return sorted(found, key=lambda o: o.key)


def read_object(account: str, region: str, obj: S3Object) -> bytes:
    backend = s3_backends[account][get_partition(region)]
    key = backend.get_object(obj.bucket, obj.key)
    if key is None:
        raise QueryFailed("HIVE_CANNOT_OPEN_SPLIT", f"Error opening Hive split {obj.uri}: object was deleted")
    return bytes(key.value)


def list_keys_under(account: str, region: str, location: str) -> Iterator[str]:
    bucket_name, prefix = split_s3(location)
    bucket = s3_backends[account][get_partition(region)].buckets.get(bucket_name)
    if bucket is None:
        return
    for name, key in list(bucket.keys.items()):
        if isinstance(key, FakeKey) and name.startswith(prefix):
            yield name[len(prefix) :]
