"""One Athena statement, run: a query in DuckDB over the S3 objects of its Glue tables, or a DDL on the catalog.

A query goes through: parse (``sql``) -> bind tables and views (``planner``) -> per scan, the partitions
whose values satisfy the pushed-down predicates (evaluated in DuckDB over the partition values) and
their objects -> the bytes-scanned cut-off (the compressed sizes of exactly those objects, counted on every
query) -> each object's decoded copy from the engine's cache (``cache``: Parquet in the Glue column types,
made from the object's JSON lines the first time) -> a DuckDB relation per scan over those copies -> the
rewritten query -> results in Trino's text form.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from localaws.athena_engine import sql
from localaws.athena_engine.cache import Lease, ObjectCache, ObjectId, object_id
from localaws.athena_engine.catalog import (
    CATALOG_NAME,
    JSON_SERDES,
    OPENX_SERDE,
    Catalog,
    Column,
    GlueTable,
    Partition,
    S3Object,
    encode_view,
    external_table_input,
    hive_from_datatype,
    list_keys_under,
    list_objects,
    view_table_input,
)
from localaws.athena_engine.errors import HiveDDLFailed, QueryCancelled, QueryFailed, not_supported
from localaws.athena_engine.planner import Binder, Scan, check_alias_references, output_names
from localaws.athena_engine.results import ResultSet, column_type, format_rows, java_double, java_float

SCAN_LIMIT_REASON = "Bytes scanned limit was exceeded"
_FILE = "__localaws_file"
DECODERS = max(1, min(4, os.cpu_count() or 1))  # objects decoded at once (one DuckDB thread each: gzip is serial)


@dataclass
class QueryContext:
    """Where and for whom a statement runs."""

    account: str
    region: str
    database: str | None
    catalog: str = "AwsDataCatalog"
    owner: str = ""
    bytes_scanned_cutoff: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass
class QueryOutcome:
    result: ResultSet
    scanned_bytes: int = 0
    engine_ms: int = 0
    planning_ms: int = 0


@dataclass
class _ScanPlan:
    scan: Scan
    partitions: list[tuple[Partition | None, list[S3Object]]]
    local: dict[str, str] = field(default_factory=dict)  # local file read -> the object's s3:// URI

    @property
    def objects(self) -> list[tuple[Partition | None, S3Object]]:
        return [(p, o) for p, objects in self.partitions for o in objects]

    @property
    def bytes(self) -> int:
        return sum(o.size for _, o in self.objects)


@dataclass
class _Decoding:
    """How a scan turns one object's JSON lines into the table's typed columns (the same SQL for every object)."""

    columns: list[tuple[Column, str]]
    exact: bool  # every column is read under its own name: read_json with the column types
    options: str
    projections: list[str]  # over __r, each named after its column

    def source(self, paths: list[str], filename: bool) -> str:
        files = "[" + ", ".join(_string(p) for p in paths) + "]"
        options = self.options + (f", filename = '{_FILE}'" if filename else "")
        if self.exact:
            spec = "{" + ", ".join(f"{_string(c.name)}: {_string(t)}" for c, t in self.columns) + "}"
            if not self.columns:
                spec = "{'__localaws_none': 'VARCHAR'}"
            return f"read_json({files}, columns = {spec}, {options})"
        return f"read_ndjson_objects({files}, {options})"

    def sql(self, path: str) -> str:
        """The whole object, every column decoded: what its cached copy holds."""
        return f"SELECT {', '.join(self.projections)} FROM {self.source([path], False)} AS __r"

    @functools.cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.sql("\0object\0").encode()).hexdigest()


class AthenaEngine:
    """Runs statements; one DuckDB database (macros installed once), one connection per running statement.

    ``cache_bytes`` bounds the decoded copies of S3 objects (default: ``LOCALAWS_ATHENA_CACHE_MB``, else 1 GB).
    """

    def __init__(self, cache_bytes: int | None = None) -> None:
        self.cache = ObjectCache(cache_bytes)
        self._database = duckdb.connect(":memory:")
        for macro in sql.MACROS:
            self._database.execute(macro)
        self._database.create_function("trino_java_double", java_double, ["DOUBLE"], "VARCHAR")
        self._database.create_function("trino_java_float", java_float, ["FLOAT"], "VARCHAR")
        self._lock = threading.Lock()
        self._running: dict[str, list[duckdb.DuckDBPyConnection]] = {}  # a statement's cursor, then its helpers
        self._cursor_lock = threading.Lock()

    def close(self) -> None:
        with self._cursor_lock:
            for cursors in self._running.values():
                for cursor in cursors:
                    cursor.interrupt()
        self._database.close()
        self.cache.close()

    def interrupt(self, token: str) -> None:
        with self._cursor_lock:
            cursors = list(self._running.get(token, []))
        for cursor in cursors:
            cursor.interrupt()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            cursor = self._database.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute("SET integer_division = true")
        cursor.execute("SET default_null_order = 'NULLS_LAST'")
        return cursor

    def _helper(self, cursor: Any) -> duckdb.DuckDBPyConnection:
        """Another cursor for the statement running on ``cursor``, interrupted with it."""
        helper = self._cursor()
        with self._cursor_lock:
            for cursors in self._running.values():
                if cursors and cursors[0] is cursor:
                    cursors.append(helper)
        return helper

    def _drop_helper(self, helper: duckdb.DuckDBPyConnection) -> None:
        with self._cursor_lock:
            for cursors in self._running.values():
                if helper in cursors[1:]:
                    cursors.remove(helper)
        helper.close()

    # -- entry -----------------------------------------------------------------------------------------------------
    def run(self, statement: sql.Statement, context: QueryContext, token: str = "") -> QueryOutcome:
        """Run one classified statement; raises QueryFailed or QueryCancelled."""
        if context.catalog.lower() != CATALOG_NAME:
            raise QueryFailed("CATALOG_NOT_FOUND", f"Catalog '{context.catalog.lower()}' does not exist")
        cursor = self._cursor()
        with self._cursor_lock:
            self._running[token] = [cursor]
        try:
            runner = getattr(self, f"_run_{statement.kind}")
            outcome: QueryOutcome = runner(statement, context, cursor)
            return outcome
        except duckdb.InterruptException as err:
            raise QueryCancelled() from err
        finally:
            with self._cursor_lock:
                self._running.pop(token, None)
            cursor.close()

    # -- queries ---------------------------------------------------------------------------------------------------
    def _run_query(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        started = time.monotonic()
        catalog = Catalog(context.account, context.region)
        assert statement.ast is not None
        binder = Binder(catalog, context.database, statement.positions)
        tree = binder.bind(statement.ast)
        check_alias_references(tree, binder.scans, statement.positions)
        rewriter = sql.Rewriter(statement.positions)
        plans = [self._plan(scan, context, cursor, rewriter) for scan in binder.scans]
        scanned = sum(plan.bytes for plan in plans)
        cutoff = context.bytes_scanned_cutoff
        if cutoff is not None and scanned > cutoff:
            raise QueryCancelled(SCAN_LIMIT_REASON, _bytes_until(plans, cutoff))
        rewritten = rewriter.rewrite(tree)
        planning_ms = int((time.monotonic() - started) * 1000)
        lease = self.cache.lease(context.account, context.region)
        try:
            for plan in plans:
                self._check_cancelled(context)
                self._relation(plan, context, cursor, binder.uses_path, lease)
            self._check_cancelled(context)
            duck_sql = sql.duckdb_sql(sql.separate_top_n_filters(_settle_types(rewritten, cursor)))
            cursor.execute(duck_sql)
            description = cursor.description or []
            rows = cursor.fetchall()
        except duckdb.InterruptException:
            raise
        except duckdb.Error as err:  # also while binding a relation: DuckDB samples a JSON object's first lines
            raise _translate_error(err, statement, plans) from err
        finally:
            lease.release()
        types = [column_type(d[1]) for d in description]
        names = _names(output_names(tree), [str(d[0]) for d in description])
        result = ResultSet(names, types, format_rows(rows, types))
        return QueryOutcome(result, scanned, int((time.monotonic() - started) * 1000), planning_ms)

    @staticmethod
    def _check_cancelled(context: QueryContext) -> None:
        if context.cancelled.is_set():
            raise QueryCancelled()

    def _plan(self, scan: Scan, context: QueryContext, cursor: Any, rewriter: sql.Rewriter) -> _ScanPlan:
        table = scan.table
        if table.serde not in JSON_SERDES:
            raise not_supported(f"Reading table {table.qualified} (SerDe {table.serde or 'none'}; localaws reads "
                                f"JSON tables: {', '.join(sorted(JSON_SERDES))})")  # fmt: skip
        if not table.partition_keys:
            return _ScanPlan(scan, [(None, list_objects(context.account, context.region, table.location))])
        catalog = Catalog(context.account, context.region)
        partitions = self._prune(scan, catalog.partitions(table), cursor, rewriter)
        return _ScanPlan(
            scan,
            [(p, list_objects(context.account, context.region, p.location)) for p in partitions if p.location],
        )

    @staticmethod
    def _prune(scan: Scan, partitions: list[Partition], cursor: Any, rewriter: sql.Rewriter) -> list[Partition]:
        """The partitions whose values satisfy every pushed-down predicate (all of them if one cannot be judged)."""
        keys = scan.table.partition_keys
        if not scan.predicates or not partitions:
            return partitions
        columns = ", ".join(_quote(k.name) for k in keys)
        rows = []
        for index, partition in enumerate(partitions):
            values = [
                f"TRY_CAST({_string(v)} AS {k.type.duckdb()})" if v != "__HIVE_DEFAULT_PARTITION__" else "NULL"
                for k, v in zip(keys, partition.values, strict=False)
            ]
            rows.append(f"({index}, {', '.join(values)})")
        predicate = " AND ".join(f"({rewriter.to_duckdb(p)})" for p in scan.predicates)
        query = f"SELECT __i FROM (VALUES {', '.join(rows)}) AS __p(__i, {columns}) WHERE {predicate}"
        try:
            kept = {row[0] for row in cursor.execute(query).fetchall()}
        except duckdb.Error:
            return partitions  # not judged here: read them all, the query's own WHERE still filters
        return [p for i, p in enumerate(partitions) if i in kept]

    def _relation(
        self, plan: _ScanPlan, context: QueryContext, cursor: Any, uses_path: bool, lease: Lease | None
    ) -> None:
        """``__scan<N>``: the table's columns (Glue types), partition keys and "$path" over its objects."""
        table = plan.scan.table
        columns = [(c, c.type.duckdb()) for c in table.columns]
        keys = table.partition_keys
        relation = plan.scan.relation
        objects = plan.objects
        if not objects or lease is None:
            nulls = [f"CAST(NULL AS {t}) AS {_quote(c.name)}" for c, t in columns]
            nulls += [f"CAST(NULL AS {k.type.duckdb()}) AS {_quote(k.name)}" for k in keys]
            if uses_path:
                nulls.append('CAST(NULL AS VARCHAR) AS "$path"')
            cursor.execute(f"CREATE OR REPLACE TEMP VIEW {relation} AS SELECT {', '.join(nulls)} WHERE false")
            return
        decoding = self._decoding(table, columns, [obj for _, obj in objects], cursor, lease)
        decoded = self._copies([obj for _, obj in objects], decoding, context, cursor, lease)
        paths: list[str] = []
        copies: list[str] = []  # decoded copies (Parquet)
        direct: list[str] = []  # objects that cannot be cached, read as they are
        for _, obj in objects:
            copy = decoded.get(object_id(obj))
            path = str(copy) if copy is not None else str(lease.raw(obj))
            listed = copies if copy is not None else direct
            if path not in listed:  # an object in two partitions: read once, joined to each partition's values
                listed.append(path)
            paths.append(path)
            plan.local[path] = obj.uri
        names = [_quote(c.name) for c, _ in columns]
        parts = []
        if copies:
            parquet = "[" + ", ".join(_string(p) for p in copies) + "]"
            read = ", ".join([*[f"__r.{n}" for n in names], f"__r.{_FILE}"])
            parts.append(f"SELECT {read} FROM read_parquet({parquet}, filename = '{_FILE}') AS __r")
        if direct:
            read = ", ".join([*decoding.projections, f"__r.{_FILE}"])
            parts.append(f"SELECT {read} FROM {decoding.source(direct, True)} AS __r")
        source = f"({' UNION ALL '.join(parts)})"
        projections = [f"__r.{n}" for n in names]
        if keys or uses_path:
            files = f"__files{plan.scan.id}"
            key_columns = ", ".join(_quote(k.name) for k in keys)
            rows = []
            for (partition, obj), path in zip(objects, paths, strict=True):
                values = [_string(path), _string(obj.uri)]
                values += [
                    f"TRY_CAST({_string(v)} AS {k.type.duckdb()})" if v != "__HIVE_DEFAULT_PARTITION__" else "NULL"
                    for k, v in zip(keys, partition.values if partition else [], strict=False)
                ]
                rows.append(f"({', '.join(values)})")
            header = f'{_FILE}, "$path"' + (f", {key_columns}" if keys else "")
            cursor.execute(
                f"CREATE OR REPLACE TEMP TABLE {files} AS SELECT * FROM (VALUES {', '.join(rows)}) AS v({header})"
            )
            projections += [f"__f.{_quote(k.name)}" for k in keys]
            if uses_path:
                projections.append('__f."$path"')
            body = f"SELECT {', '.join(projections)} FROM {source} AS __r JOIN {files} AS __f USING ({_FILE})"
        else:
            body = f"SELECT {', '.join(projections)} FROM {source} AS __r"
        cursor.execute(f"CREATE OR REPLACE TEMP VIEW {relation} AS {body}")

    def _decoding(
        self, table: GlueTable, columns: list[tuple[Column, str]], objects: list[S3Object], cursor: Any, lease: Lease
    ) -> _Decoding:
        """How the scan reads each object: by column name with the column types, or by JSON key when keys differ."""
        serde = table.serde_parameters
        insensitive = serde.get("case.insensitive", "true").lower() != "false" or table.serde != OPENX_SERDE
        mappings = {k[len("mapping.") :].lower(): v for k, v in serde.items() if k.lower().startswith("mapping.")}
        keys: set[str] = set()
        if insensitive and any(c.name not in mappings for c, _ in columns):
            unknown = [obj for obj in objects if self.cache.json_keys(obj) is None]
            if unknown:
                _scan_keys(unknown, lease, cursor)
            for obj in objects:
                keys |= self.cache.json_keys(obj) or frozenset()
        variants: dict[str, list[str]] = {}
        for column, _ in columns:
            if column.name in mappings:
                variants[column.name] = [mappings[column.name]]
            elif insensitive:
                variants[column.name] = sorted(k for k in keys if k.lower() == column.name) or [column.name]
            else:
                variants[column.name] = [column.name]
        ignore = serde.get("ignore.malformed.json", "false").lower() == "true"
        options = "format = 'newline_delimited', compression = 'auto_detect'"
        options += ", ignore_errors = true" if ignore else ""
        if all(v == [c.name] for (c, _), v in zip(columns, variants.values(), strict=True)):
            return _Decoding(columns, True, options, [f"__r.{_quote(c.name)} AS {_quote(c.name)}" for c, _ in columns])
        # Keys in other cases than the column name: read each record as JSON and match them by name.
        projections = []
        for column, duck_type in columns:
            extracts = [f"json_extract(__r.json, {_string(_json_path(k))})" for k in variants[column.name]]
            value = extracts[0] if len(extracts) == 1 else f"COALESCE({', '.join(extracts)})"
            if duck_type == "VARCHAR":
                value = value.replace("json_extract(", "json_extract_string(")
                projections.append(f"{value} AS {_quote(column.name)}")
            else:
                projections.append(f"CAST({value} AS {duck_type}) AS {_quote(column.name)}")
        return _Decoding(columns, False, options, projections)

    def _copies(
        self, objects: list[S3Object], decoding: _Decoding, context: QueryContext, cursor: Any, lease: Lease
    ) -> dict[ObjectId, Path]:
        """Each object's decoded copy: from the cache, else decoded now (several at once); absent if not cacheable."""
        found: dict[ObjectId, Path] = {}
        if not decoding.projections:
            return found
        missing: dict[ObjectId, S3Object] = {}
        for obj in objects:
            if object_id(obj) in found or object_id(obj) in missing:
                continue
            path = lease.cached(obj, decoding.digest)
            if path is not None:
                found[object_id(obj)] = path
            elif lease.cacheable(obj, decoding.digest):
                missing[object_id(obj)] = obj
        pending = list(missing.values())
        lock, failed = threading.Lock(), threading.Event()

        def decode(own: Any) -> None:
            while not failed.is_set():
                self._check_cancelled(context)
                with lock:
                    if not pending:
                        return
                    obj = pending.pop(0)
                try:
                    path = self._copy(obj, decoding, own, lease)
                except BaseException:
                    failed.set()
                    raise
                if path is not None:
                    with lock:
                        found[object_id(obj)] = path

        def helper() -> None:
            own = self._helper(cursor)
            try:
                decode(own)
            finally:
                self._drop_helper(own)

        workers = min(len(pending), DECODERS)
        if workers <= 1:
            decode(cursor)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="localaws-athena-decode") as pool:
                for future in [pool.submit(helper) for _ in range(workers)]:
                    future.result()
        return found

    def _copy(self, obj: S3Object, decoding: _Decoding, cursor: Any, lease: Lease) -> Path | None:
        """The object's decoded copy (Parquet, every column typed), made now if missing; None if it cannot be."""

        def build(target: Path) -> bool:
            source = lease.raw(obj)
            try:
                cursor.execute(f"COPY ({decoding.sql(str(source))}) TO {_string(str(target))} "
                               "(FORMAT parquet, COMPRESSION snappy)")  # fmt: skip
            except duckdb.InterruptException:
                raise
            except duckdb.Error:
                return False  # a value or line the query may never read: read the object itself, as before
            return True

        return lease.decoded(obj, decoding.digest, build)

    # -- DDL: views ------------------------------------------------------------------------------------------------
    def _run_create_view(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        started = time.monotonic()
        create = statement.ast
        assert isinstance(create, exp.Create)
        target = create.this
        if isinstance(target, exp.Schema):
            raise not_supported("CREATE VIEW with a column list", 1, 1)
        query = create.expression
        if not isinstance(target, exp.Table) or not isinstance(query, exp.Query):
            raise QueryFailed("SYNTAX_ERROR", "mismatched input 'VIEW'", 1, 1)
        database = target.db or context.database
        if not database:
            raise QueryFailed("SCHEMA_NOT_FOUND", "Schema must be specified when session schema is not set", 1, 1)
        catalog = Catalog(context.account, context.region)
        if not catalog.database_exists(database):
            raise QueryFailed("SCHEMA_NOT_FOUND", f"Schema '{database.lower()}' does not exist", 1, 1)
        binder = Binder(catalog, database, statement.positions)
        tree = binder.bind(query)
        check_alias_references(tree, binder.scans, statement.positions)
        rewriter = sql.Rewriter(statement.positions)
        for scan in binder.scans:
            self._relation(_ScanPlan(scan, []), context, cursor, binder.uses_path, None)
        try:
            duck_sql = sql.duckdb_sql(_settle_types(rewriter.rewrite(tree), cursor))
            cursor.execute(f"SELECT * FROM ({duck_sql}) AS __view LIMIT 0")
        except duckdb.Error as err:
            raise _translate_error(err, statement, []) from err
        description = cursor.description or []
        names = _names(output_names(tree), [str(d[0]) for d in description])
        types = [column_type(d[1]) for d in description]
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name.startswith("_col") and name[4:].isdigit():
                raise QueryFailed("MISSING_COLUMN_NAME", f"Column name not specified at position {index + 1}", 1, 1)
            if name in seen:
                raise QueryFailed("DUPLICATE_COLUMN_NAME", f"Column name '{name}' specified more than once", 1, 1)
            seen.add(name)
        original_sql = _view_sql(statement.text)
        name = target.name.lower()
        owner = context.owner or context.account
        text = encode_view(original_sql, database.lower(), [(n, t.trino) for n, t in zip(names, types, strict=True)],
                           owner)  # fmt: skip
        table_input = view_table_input(name, text, [(n, t.hive) for n, t in zip(names, types, strict=True)], owner)
        catalog.create_view(database, name, table_input, replace=bool(create.args.get("replace")))
        return QueryOutcome(ResultSet.empty(), 0, int((time.monotonic() - started) * 1000))

    def _run_drop_view(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        return self._drop(statement, context, view=True)

    def _run_drop_table(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        return self._drop(statement, context, view=False)

    def _drop(self, statement: sql.Statement, context: QueryContext, view: bool) -> QueryOutcome:
        try:
            drop = sqlglot.parse_one(statement.text, read="athena")
        except sqlglot.errors.ParseError as err:
            raise QueryFailed("SYNTAX_ERROR", str(err).splitlines()[0]) from err
        if not isinstance(drop, exp.Drop):
            raise QueryFailed("SYNTAX_ERROR", "mismatched input 'DROP'", 1, 1)
        tables = drop.args.get("tables") or [drop.this]
        for table in tables:
            database = table.db or context.database
            if not database:
                raise QueryFailed("SCHEMA_NOT_FOUND", "Schema must be specified when session schema is not set", 1, 1)
            Catalog(context.account, context.region).drop(database, table.name, view, bool(drop.args.get("exists")))
        return QueryOutcome(ResultSet.empty())

    # -- DDL: external tables and partitions ------------------------------------------------------------------------
    def _run_create_table(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        try:
            create = sqlglot.parse_one(statement.text, read="athena")
        except sqlglot.errors.ParseError as err:
            detail = err.errors[0] if err.errors else {}
            raise HiveDDLFailed(
                f"FAILED: ParseException line {detail.get('line', 1)}:{detail.get('col', 0)} "
                f"{detail.get('description', 'cannot recognize input')}"
            ) from err
        if not isinstance(create, exp.Create) or not isinstance(create.this, exp.Schema):
            raise not_supported("This CREATE TABLE form", 1, 1)
        properties = create.args.get("properties")
        items = list(properties.expressions) if properties is not None else []
        if not any(isinstance(p, exp.ExternalProperty) for p in items):
            raise not_supported("CREATE TABLE without EXTERNAL (managed or Iceberg tables)", 1, 1)
        table = create.this.this
        database = table.db or context.database
        if not database:
            raise HiveDDLFailed("FAILED: SemanticException [Error 10072]: Database does not exist: default")
        columns = [Column(d.name.lower(), hive_from_datatype(d.args["kind"])) for d in create.this.expressions]
        partition_keys: list[Column] = []
        serde, serde_parameters, table_properties = OPENX_SERDE, {}, {}
        location = ""
        input_format, output_format = (
            "org.apache.hadoop.mapred.TextInputFormat",
            ("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
        )
        for item in items:
            if isinstance(item, exp.PartitionedByProperty):
                partition_keys = [Column(d.name.lower(), hive_from_datatype(d.args["kind"]))
                                  for d in item.this.expressions]  # fmt: skip
            elif isinstance(item, exp.RowFormatSerdeProperty):
                serde = str(item.this.this)
                serde_properties = item.args.get("serde_properties")
                for prop in serde_properties.expressions if serde_properties is not None else []:
                    serde_parameters[str(prop.this.this if hasattr(prop.this, "this") else prop.this)] = str(
                        prop.args["value"].this
                    )
            elif isinstance(item, exp.LocationProperty):
                location = str(item.this.this)
            elif isinstance(item, exp.FileFormatProperty) and isinstance(item.this, exp.InputOutputFormat):
                input_format = str(item.this.args["input_format"].this)
                output_format = str(item.this.args["output_format"].this)
            elif isinstance(item, exp.FileFormatProperty):
                stored = str(item.this.name if isinstance(item.this, exp.Expr) else item.this).upper()
                if stored != "TEXTFILE":
                    raise not_supported(f"STORED AS {stored}", 1, 1)
            elif type(item) is exp.Property:
                key = item.this.this if isinstance(item.this, exp.Literal) else item.name
                table_properties[str(key)] = str(item.args["value"].this)
        names = [c.name for c in columns + partition_keys]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise HiveDDLFailed(f"FAILED: SemanticException [Error 10036]: Duplicate column name: {duplicate}")
        if not location:
            raise HiveDDLFailed("FAILED: SemanticException LOCATION is required for an external table in Athena")
        table_input = external_table_input(table.name.lower(), columns, partition_keys, location, serde,
                                           serde_parameters, table_properties, input_format, output_format)  # fmt: skip
        catalog = Catalog(context.account, context.region)
        catalog.create_table(database, table.name.lower(), table_input, bool(create.args.get("exists")))
        return QueryOutcome(ResultSet.empty())

    def _table_named(self, reference: str, context: QueryContext) -> GlueTable:
        parts = [p.strip('`"') for p in reference.split(".")]
        name = parts[-1]
        database = parts[-2] if len(parts) > 1 else context.database
        table = Catalog(context.account, context.region).table(database or "", name) if database else None
        if table is None:
            raise HiveDDLFailed(f"FAILED: SemanticException [Error 10001]: Table not found {database}.{name}")
        return table

    def _run_msck(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        """MSCK REPAIR TABLE: add the Hive ``key=value`` partitions found under the table location."""
        assert statement.match is not None
        table = self._table_named(statement.match.group("name"), context)
        keys = [k.name for k in table.partition_keys]
        if not keys:
            return QueryOutcome(ResultSet.empty())
        catalog = Catalog(context.account, context.region)
        known = {tuple(p.values) for p in catalog.partitions(table)}
        found: dict[tuple[str, ...], str] = {}
        for relative in list_keys_under(context.account, context.region, table.location):
            folders = relative.split("/")[:-1]
            if len(folders) < len(keys):
                continue
            values: list[str] = []
            for key, folder in zip(keys, folders, strict=False):
                name, sep, value = folder.partition("=")
                if not sep or name.lower() != key:
                    break
                values.append(urllib.parse.unquote(value))
            else:
                found.setdefault(tuple(values), "/".join(folders[: len(keys)]) + "/")
        missing = sorted(v for v in found if v not in known)
        lines: list[str] = []
        if missing:
            specs = [f"{table.name}:{found[v].rstrip('/')}" for v in missing]
            lines.append("Partitions not in metastore:\t" + "\t".join(specs))
            base = table.location if table.location.endswith("/") else table.location + "/"
            for partition_values, spec in zip(missing, specs, strict=True):
                catalog.add_partition(table, list(partition_values), base + found[partition_values], True)
                lines.append(f"Repair: Added partition to metastore {spec}")
        return QueryOutcome(ResultSet.text_lines("result", lines))

    _ADD = re.compile(
        r"(?is)^\s*alter\s+table\s+(?P<name>[\w.`\"]+)\s+add\s+(?P<ifne>if\s+not\s+exists\s+)?(?P<rest>.*?)\s*;?\s*$"
    )
    _PARTITION = re.compile(r"(?is)\s*partition\s*\((?P<spec>[^)]*)\)(\s*location\s*'(?P<location>[^']*)')?")

    def _run_add_partition(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        text = sql._COMMENTS.sub(" ", statement.text).strip()
        match = self._ADD.match(text)
        if match is None:
            raise not_supported("This ALTER TABLE ADD form", 1, 1)
        table = self._table_named(match.group("name"), context)
        rest = match.group("rest")
        specs = []
        while rest.strip():
            part = self._PARTITION.match(rest)
            if part is None:
                raise not_supported("ALTER TABLE ADD other than PARTITION (...) [LOCATION '...']", 1, 1)
            values: dict[str, str] = {}
            for item in part.group("spec").split(","):
                key, sep, value = item.partition("=")
                if not sep:
                    raise HiveDDLFailed(f"FAILED: ParseException cannot recognize input near '{item.strip()}'")
                values[key.strip().strip('`"').lower()] = value.strip().strip("'\"")
            specs.append((values, part.group("location")))
            rest = rest[part.end() :]
        catalog = Catalog(context.account, context.region)
        keys = [k.name for k in table.partition_keys]
        for values, location in specs:
            if set(values) != set(keys):
                raise HiveDDLFailed(
                    f"FAILED: ValidationException Partition spec {values} does not match the partition keys {keys}"
                )
            ordered = [values[k] for k in keys]
            base = table.location if table.location.endswith("/") else table.location + "/"
            where = location or base + "/".join(f"{k}={urllib.parse.quote(values[k], safe='')}" for k in keys) + "/"
            catalog.add_partition(table, ordered, where, if_not_exists=bool(match.group("ifne")))
        return QueryOutcome(ResultSet.empty())

    # -- utility statements ----------------------------------------------------------------------------------------
    def _run_show_databases(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        assert statement.match is not None
        names = _matching(Catalog(context.account, context.region).databases(), statement.match.group("pattern"))
        return QueryOutcome(ResultSet.text_lines("database_name", names))

    def _run_show_tables(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        assert statement.match is not None
        database = (statement.match.group("db") or context.database or "default").strip('`"')
        catalog = Catalog(context.account, context.region)
        if not catalog.database_exists(database):
            raise HiveDDLFailed(f"FAILED: SemanticException [Error 10072]: Database does not exist: {database}")
        names = _matching(catalog.tables(database), statement.match.group("pattern"))
        return QueryOutcome(ResultSet.text_lines("tab_name", names))

    def _run_show_partitions(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        assert statement.match is not None
        table = self._table_named(statement.match.group("name"), context)
        if not table.partition_keys:
            raise HiveDDLFailed(
                f"FAILED: SemanticException [Error 10241]: Table {table.name} is not a partitioned table"
            )
        lines = sorted(
            "/".join(f"{k.name}={v}" for k, v in zip(table.partition_keys, p.values, strict=False))
            for p in Catalog(context.account, context.region).partitions(table)
        )
        return QueryOutcome(ResultSet.text_lines("partition", lines))

    def _run_show_columns(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        assert statement.match is not None
        table = self._table_named(statement.match.group("name"), context)
        return QueryOutcome(ResultSet.text_lines("field", [c.name for c in table.columns + table.partition_keys]))

    def _run_describe(self, statement: sql.Statement, context: QueryContext, cursor: Any) -> QueryOutcome:
        assert statement.match is not None
        table = self._table_named(statement.match.group("name"), context)
        lines = [f"{c.name:<20}\t{c.hive:<20}\t" for c in table.columns + table.partition_keys]
        if table.partition_keys:
            lines += ["\t", "# Partition Information\t", f"{'# col_name':<20}\t{'data_type':<20}\t", "\t"]
            lines += [f"{k.name:<20}\t{k.hive:<20}\t" for k in table.partition_keys]
        return QueryOutcome(ResultSet.text_lines("col_name", lines))


# --- types DuckDB alone knows: decimal division and avg --------------------------------------------------------
_AGGREGATES = {"quantile_disc", "count_if", "arg_max", "arg_min", "any_value", "listagg", "string_agg"}


def _settle_types(tree: exp.Expr, cursor: Any) -> exp.Expr:
    """Replace each guarded division and avg with Trino's exact semantics for its operand types.

    The operand types come from DuckDB itself: ``DESCRIBE`` of a probe made of the operands in the same
    SELECT (same FROM, WHERE, GROUP BY and CTEs), innermost first. Where no probe binds (e.g. a correlated
    subquery), the guard stays: the query runs unless a DECIMAL really is divided or averaged.
    """
    guards = [
        node
        for node in reversed(list(tree.walk(bfs=False)))
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in ("trino_divide", "trino_avg_input")
    ]
    for node in guards:
        if node.parent is None and node is not tree:
            continue
        name = str(node.this).lower()
        operands = list(node.expressions)
        types = _probe(node, operands, cursor)
        if types is None:
            continue
        kinds = [sql.numeric_kind(t) for t in types]
        if name == "trino_divide":
            (left_kind, left), (right_kind, right) = kinds
            if (
                "decimal" in (left_kind, right_kind)
                and left_kind in ("decimal", "integer")
                and (right_kind in ("decimal", "integer"))
            ):
                assert left is not None and right is not None
                replacement, _ = sql.decimal_division(operands[0], operands[1], left, right)
            else:
                replacement = exp.Div(this=operands[0], expression=operands[1])
            node.replace(replacement)
            continue
        kind, precision_scale = kinds[0]
        average = node.parent.parent if isinstance(node.parent, exp.Distinct) else node.parent
        if not isinstance(average, exp.Avg):
            continue
        if kind != "decimal":
            node.replace(operands[0])
            continue
        assert precision_scale is not None
        average.replace(_exact_average(average, operands[0], precision_scale))
    return tree


def _exact_average(average: exp.Avg, value: exp.Expr, precision_scale: tuple[int, int]) -> exp.Expr:
    precision, scale = precision_scale
    distinct = isinstance(average.this, exp.Distinct)

    def aggregate(kind: type[exp.AggFunc]) -> exp.Expr:
        argument = exp.Distinct(expressions=[value.copy()]) if distinct else value.copy()
        call: exp.Expr = kind(this=argument)
        window = average.parent
        if isinstance(window, exp.Window):
            copy = window.copy()
            copy.set("this", call)
            call = copy
        return call

    quotient, _ = sql.decimal_division(aggregate(exp.Sum), aggregate(exp.Count), (38, scale), (19, 0), scale)
    result: exp.Expr = exp.Cast(this=quotient, to=exp.DataType.build(f"DECIMAL({precision}, {scale})"))
    if isinstance(average.parent, exp.Window):
        average.parent.replace(result)
        return average  # the window was replaced; keep the (detached) avg node as it is
    return result


def _probe(node: exp.Expr, operands: list[exp.Expr], cursor: Any) -> list[str] | None:
    """DuckDB's types for the operands, evaluated in the SELECT that holds them."""
    select = node.parent
    inside_aggregate = False
    while select is not None and not isinstance(select, exp.Select):
        if isinstance(select, exp.AggFunc) or (
            isinstance(select, exp.Anonymous) and str(select.this).lower() in _AGGREGATES
        ):
            inside_aggregate = True
        select = select.parent
    if select is None:
        return None
    clause = node
    while clause.parent is not select:
        clause = clause.parent  # type: ignore[assignment]
    probe = select.copy()
    for key in ("order", "limit", "offset", "distinct", "qualify"):
        probe.set(key, None)
    if inside_aggregate or clause.arg_key in ("where", "joins", "from_"):
        probe.set("group", None)
        probe.set("having", None)
    probe.set("expressions", [exp.alias_(o.copy(), f"__l{i}") for i, o in enumerate(operands)])
    ctes: list[exp.Expr] = []
    ancestor = select.parent
    while ancestor is not None:
        with_ = ancestor.args.get("with_")
        if isinstance(with_, exp.With):
            ctes = [c.copy() for c in with_.expressions] + ctes
        ancestor = ancestor.parent
    own = probe.args.get("with_")
    if ctes:
        probe.set("with_", exp.With(expressions=ctes + (list(own.expressions) if isinstance(own, exp.With) else [])))
    try:
        rows = cursor.execute(f"DESCRIBE {sql.duckdb_sql(probe)}").fetchall()
    except (duckdb.Error, QueryFailed):
        return None
    return [str(row[1]) for row in rows]


# --- helpers ---------------------------------------------------------------------------------------------------
def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scan_keys(objects: list[S3Object], lease: Lease, cursor: Any) -> None:
    """The top-level JSON keys of each object, in one parallel DuckDB pass, remembered by the cache."""
    paths = {str(lease.raw(obj)): obj for obj in objects}
    files = "[" + ", ".join(_string(p) for p in paths) + "]"
    query = (
        f"SELECT {_FILE}, list(DISTINCT k) FROM (SELECT {_FILE}, unnest(json_keys(json)) AS k FROM "
        f"read_ndjson_objects({files}, format = 'newline_delimited', compression = 'auto_detect', "
        f"filename = '{_FILE}', ignore_errors = true)) GROUP BY {_FILE}"
    )
    try:
        found = {str(row[0]): frozenset(row[1]) for row in cursor.execute(query).fetchall()}
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        found = {}  # unreadable objects: the read itself reports the error
    for path, obj in paths.items():
        lease.cache.remember_keys(obj, found.get(path, frozenset()))


def _bytes_until(plans: list[_ScanPlan], cutoff: int) -> int:
    """What a sequential scan reads until it passes the cut-off (what Athena reports for a cancelled query)."""
    total = 0
    for plan in plans:
        for _, obj in plan.objects:
            total += obj.size
            if total > cutoff:
                return total
    return total


def _names(from_query: list[str | None], from_duckdb: list[str]) -> list[str]:
    if len(from_query) == len(from_duckdb) and all(n is not None for n in from_query):
        return [str(n) for n in from_query]
    stars = from_query.count(None)
    if stars == 1:
        expanded = len(from_duckdb) - (len(from_query) - 1)
        names: list[str] = []
        for name in from_query:
            if name is None:
                names.extend(from_duckdb[len(names) : len(names) + expanded])
            else:
                names.append(name)
        if len(names) == len(from_duckdb):
            return names
    return [n.lower() for n in from_duckdb]


def _view_sql(text: str) -> str:
    """The query of CREATE VIEW ... AS <query>, as written (what Trino stores as originalSql)."""
    body = sql._COMMENTS.sub(" ", text, count=1) if text.lstrip().startswith(("--", "/*")) else text
    match = re.search(r"(?is)^\s*create\s+(or\s+replace\s+)?view\s+[\w.\"`]+\s+(security\s+\w+\s+)?as\s+", body)
    query = body[match.end() :] if match else body
    return query.strip().rstrip(";").strip()


def _matching(names: list[str], pattern: str | None) -> list[str]:
    if not pattern:
        return names
    alternatives = [re.escape(p.strip()).replace("\\*", ".*") for p in pattern.split("|")]
    regex = re.compile("(?i)^(" + "|".join(alternatives) + ")$")
    return [n for n in names if regex.match(n)]


_DUCK_TYPES = {"INT32": "INT", "INT64": "BIGINT", "INT16": "SMALLINT", "INT8": "TINYINT", "DOUBLE": "DOUBLE",
               "FLOAT": "REAL", "BOOL": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP"}  # fmt: skip


def _translate_error(err: duckdb.Error, statement: sql.Statement, plans: list[_ScanPlan]) -> QueryFailed:
    """A DuckDB error in Athena's words, at the line:column of the query as sent where one is known."""
    message = str(err)
    first = message.split("\n", 1)[0]
    detail = first.split(": ", 1)[1] if ": " in first else first
    own = re.match(r"^([A-Z_]+): (.*)$", detail, re.S)
    if own and own.group(1) in ("NOT_SUPPORTED", "INVALID_FUNCTION_ARGUMENT", "DIVISION_BY_ZERO"):
        return QueryFailed(own.group(1), own.group(2))
    tree = statement.ast

    def at(name: str) -> tuple[int | None, int | None]:
        if tree is None:
            return None, None
        for column in tree.find_all(exp.Column):
            if column.name.lower() == name.lower() or column.sql().lower().replace('"', "") == name.lower():
                return sql.position(column, statement.positions)
        return None, None

    column = re.search(r'Referenced column "([^"]+)" not found', detail)
    if column:
        return QueryFailed("COLUMN_NOT_FOUND", f"Column '{column.group(1)}' cannot be resolved", *at(column.group(1)))
    qualified = re.search(r'"([^"]+)" does not have a column named "([^"]+)"', detail)
    if qualified:
        name = f"{qualified.group(1)}.{qualified.group(2)}"
        return QueryFailed("COLUMN_NOT_FOUND", f"Column '{name}' cannot be resolved", *at(qualified.group(2)))
    table = re.search(r'Referenced table "([^"]+)" not found', detail)
    if table:
        return QueryFailed("COLUMN_NOT_FOUND", f"Column '{table.group(1)}' cannot be resolved", *at(table.group(1)))
    ambiguous = re.search(r'Ambiguous reference to column name "([^"]+)"', detail)
    if ambiguous:
        return QueryFailed("AMBIGUOUS_NAME", f"Column '{ambiguous.group(1)}' is ambiguous", *at(ambiguous.group(1)))
    group = re.search(r'column "([^"]+)" must appear in the GROUP BY clause', detail)
    if group:
        return QueryFailed("EXPRESSION_NOT_AGGREGATE",
                           f"'{group.group(1)}' must be an aggregate expression or appear in GROUP BY clause",
                           *at(group.group(1)))  # fmt: skip
    if "Division by zero" in detail:
        return QueryFailed("DIVISION_BY_ZERO", "Division by zero")
    cast = re.search(r"Could not convert string '([^']*)' to (\w+)", detail)
    if cast:
        target = _DUCK_TYPES.get(cast.group(2), cast.group(2))
        return QueryFailed("INVALID_CAST_ARGUMENT", f"Cannot cast '{cast.group(1)}' to {target}")
    if isinstance(err, duckdb.OutOfRangeException):
        return QueryFailed("NUMERIC_VALUE_OUT_OF_RANGE", detail)
    local = {path: uri for plan in plans for path, uri in plan.local.items()}
    if "JSON" in detail and ("Malformed" in detail or "transform error" in detail or "parse" in detail.lower()):
        for path, uri in local.items():
            detail = detail.replace(path, uri)
        name = "HIVE_BAD_DATA" if "transform error" in detail else "HIVE_CURSOR_ERROR"
        return QueryFailed(name, f"Row is not a valid JSON Object or its values do not fit the columns: {detail}")
    if isinstance(err, duckdb.CatalogException) and "Function with name" in detail:
        function = re.search(r"Function with name (\w+)", detail)
        return not_supported(f"Function {function.group(1) if function else detail} (in DuckDB's translation)")
    if isinstance(err, duckdb.BinderException) and "No function matches" in detail:
        function = re.search(r"'(\w+)\(", detail)
        name = function.group(1) if function else "?"
        return QueryFailed("TYPE_MISMATCH", f"Unexpected parameters for function {name}: {detail}")
    if isinstance(err, duckdb.ConversionException):
        return QueryFailed("INVALID_CAST_ARGUMENT", detail)
    if isinstance(err, duckdb.BinderException | duckdb.ParserException):
        return QueryFailed("SYNTAX_ERROR", detail)
    return QueryFailed("GENERIC_INTERNAL_ERROR", f"{type(err).__name__}: {detail}")
