"""Athena (Trino) semantics of localaws's engine: each case is a query and the result Trino gives.

Engine level (no HTTP): statements run through ``AthenaEngine`` as StartQueryExecution would run them,
with tables in moto's Glue and S3 backends in-process under an account of this module's own.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends

from localaws.athena_engine import sql
from localaws.athena_engine.engine import AthenaEngine, QueryContext, QueryOutcome
from localaws.athena_engine.errors import QueryCancelled, QueryFailed
from localaws.athena_engine.results import java_double

ACCOUNT, REGION, DATABASE = "210987654321", "us-east-1", "semantics"
SERDE = "org.openx.data.jsonserde.JsonSerDe"


@pytest.fixture(scope="module")
def engine() -> Iterator[AthenaEngine]:
    engine = AthenaEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def tables() -> None:
    """``semantics.events``: a crawler-shaped table over gzip NDJSON in two Hive partitions, mixed-case keys."""
    s3 = s3_backends[ACCOUNT]["aws"]
    if "semantics-lake" not in s3.buckets:
        s3.create_bucket("semantics-lake", REGION)
    records = {
        "01": [{"OrderId": "o-1", "price": 19.99, "qty": 2, "tags": ["a", "b"], "item": {"sku": "x", "n": 1}},
               {"orderid": "o-2", "price": 5.5, "qty": 1, "tags": [], "item": None}],
        "02": [{"orderid": "o-3", "price": 0.125, "qty": 7, "tags": ["c"], "item": {"sku": "y", "n": 2}}],
    }  # fmt: skip
    for day, rows in records.items():
        body = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
        s3.put_object("semantics-lake", f"events/day={day}/part-0.gz", body)
    s3.put_object("semantics-lake", "events/day=02/_SUCCESS", b"")
    glue = glue_backends[ACCOUNT][REGION]
    if DATABASE not in glue.databases:
        glue.create_database(DATABASE, {"Name": DATABASE})
    columns = [{"Name": "orderid", "Type": "string"}, {"Name": "price", "Type": "double"},
               {"Name": "qty", "Type": "int"}, {"Name": "tags", "Type": "array<string>"},
               {"Name": "item", "Type": "struct<sku:string,n:int>"}]  # fmt: skip
    storage = {
        "Columns": columns,
        "Location": "s3://semantics-lake/events/",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"paths": "OrderId,item,orderid,price,qty,tags"}},
    }
    if "events" not in glue.databases[DATABASE].tables:
        glue.create_table(DATABASE, "events", {
            "Name": "events", "TableType": "EXTERNAL_TABLE", "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": "day", "Type": "string"}],
            "Parameters": {"classification": "json", "compressionType": "gzip"},
        })  # fmt: skip
        for day in records:
            glue.create_partition(DATABASE, "events", {
                "Values": [day], "StorageDescriptor": {**storage, "Location": f"s3://semantics-lake/events/day={day}/"},
            })  # fmt: skip


def run(engine: AthenaEngine, query: str, parameters: list[str] | None = None, **context: Any) -> QueryOutcome:
    statement = sql.classify(query, parameters)
    return engine.run(statement, QueryContext(ACCOUNT, REGION, DATABASE, **context))


def rows(engine: AthenaEngine, query: str, parameters: list[str] | None = None) -> list[list[str | None]]:
    return run(engine, query, parameters).result.rows


def failure(engine: AthenaEngine, query: str, parameters: list[str] | None = None) -> str:
    with pytest.raises(QueryFailed) as caught:
        run(engine, query, parameters)
    return caught.value.reason


# --- query -> Trino's answer -----------------------------------------------------------------------------------
CASES = [
    # integer division truncates toward zero; decimals keep a decimal with Trino's scale (HALF_UP)
    ("SELECT 7/2, -7/2, 7 % 3, -7 % 3", [["3", "-3", "1", "-1"]]),
    ("SELECT 7.0/2, 1.0/3, 2.0/3, 7e0/2", [["3.5", "0.3", "0.7", "3.5"]]),
    ("SELECT CAST(10 AS DECIMAL(10,2)) / 4, CAST(1 AS DECIMAL(10,2)) / 3", [["2.50", "0.33"]]),
    ("SELECT avg(x) FROM (VALUES CAST(1.25 AS DECIMAL(10,2)), CAST(2.5 AS DECIMAL(10,2))) t(x)", [["1.88"]]),
    ("SELECT avg(x) FROM (VALUES 1, 2) t(x)", [["1.5"]]),
    ("SELECT count(*) * 100.0 / 8 FROM (VALUES 1, 2, 3) t(x)", [["37.5"]]),
    # NULL handling
    ("SELECT NULL = NULL, NULL IS DISTINCT FROM 1, coalesce(NULL, 'x'), 'a' || NULL, concat('a', NULL)",
     [[None, "true", "x", None, None]]),
    ("SELECT count(x), count(*), sum(x), max(x) FROM (VALUES 1, NULL) t(x)", [["1", "2", "1", "1"]]),
    ("SELECT sum(x), avg(x) FROM (VALUES CAST(NULL AS integer)) t(x)", [[None, None]]),
    ("SELECT x FROM (VALUES 3, NULL, 1) t(x) ORDER BY x DESC", [["3"], ["1"], [None]]),
    ("SELECT greatest(1, NULL), nullif(1, 1), if(NULL, 'y', 'n')", [[None, None, "n"]]),
    # regular expressions
    ("SELECT regexp_extract('abc', 'x'), regexp_extract('order-42', '\\d+'), "
     "regexp_extract('order-42', '([a-z]+)-(\\d+)', 2)", [[None, "42", "42"]]),
    ("SELECT regexp_like('abc', 'B'), regexp_replace('a1b22', '\\d+', '#'), regexp_replace('abc', '(b)', '[$1]')",
     [["false", "a#b#", "a[b]c"]]),
    # dates and times
    ("SELECT date_trunc('hour', TIMESTAMP '2026-11-26 10:59:59.999'), date_trunc('month', DATE '2026-11-26')",
     [["2026-11-26 10:00:00.000", "2026-11-01"]]),
    ("SELECT date_format(TIMESTAMP '2026-11-26 09:05:07', '%Y-%m-%d %H:%i:%s'), "
     "date_format(TIMESTAMP '2026-11-26 21:05:07.250', '%W %M %e %l %p %f %j %c %a %b %y %T')",
     [["2026-11-26 09:05:07", "Thursday November 26 9 PM 250000 330 11 Thu Nov 26 21:05:07"]]),
    ("SELECT format_datetime(TIMESTAMP '2026-11-26 09:05:07.123', 'yyyy-MM-dd''T''HH:mm:ss.SSS EEE MMM d H')",
     [["2026-11-26T09:05:07.123 Thu Nov 26 9"]]),
    ("SELECT from_iso8601_timestamp('2026-11-26T10:00:00.000Z'), hour(from_iso8601_timestamp('2026-11-26T23:30:00Z')), "
     "date_trunc('hour', from_iso8601_timestamp('2026-11-26T10:59:00.123Z'))",
     [["2026-11-26 10:00:00.000 UTC", "23", "2026-11-26 10:00:00.000 UTC"]]),
    ("SELECT from_iso8601_timestamp('2026-11-26T10:00:00.000Z') - INTERVAL '1' HOUR, "
     "to_iso8601(from_iso8601_timestamp('2026-11-26T10:00:00Z')), from_iso8601_date('2026-11-26')",
     [["2026-11-26 09:00:00.000 UTC", "2026-11-26T10:00:00.000Z", "2026-11-26"]]),
    ("SELECT date_diff('second', TIMESTAMP '2026-11-26 10:00:00', TIMESTAMP '2026-11-26 10:01:30'), "
     "date_diff('hour', TIMESTAMP '2026-11-26 10:59:00', TIMESTAMP '2026-11-26 11:00:00'), "
     "date_diff('day', DATE '2026-11-26', DATE '2026-12-01')", [["90", "0", "5"]]),
    ("SELECT date_add('day', 1, DATE '2026-11-30'), date_add('month', 1, DATE '2026-01-31'), "
     "date_add('hour', 2, TIMESTAMP '2026-11-26 23:00:00.000'), date_add('day', -1, CAST('2026-03-01' AS DATE))",
     [["2026-12-01", "2026-02-28", "2026-11-27 01:00:00.000", "2026-02-28"]]),
    ("SELECT date_parse('2026-11-26 10:05', '%Y-%m-%d %H:%i'), day_of_week(DATE '2026-11-26'), "
     "day_of_year(DATE '2026-02-01'), year(DATE '2026-11-26'), month(DATE '2026-11-26')",
     [["2026-11-26 10:05:00.000", "4", "32", "2026", "11"]]),
    # window functions
    ("SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x DESC) AS rn, lag(x) OVER (PARTITION BY g ORDER BY x), "
     "lead(x, 1, 0) OVER (PARTITION BY g ORDER BY x), sum(x) OVER (PARTITION BY g) "
     "FROM (VALUES ('a', 1), ('a', 2), ('b', 3)) t(g, x) ORDER BY g, x",
     [["a", "1", "2", None, "2", "3"], ["a", "2", "1", "1", "0", "3"], ["b", "3", "1", None, "0", "3"]]),
    ("SELECT x, rank() OVER (ORDER BY x), dense_rank() OVER (ORDER BY x) FROM (VALUES 1, 1, 2) t(x) ORDER BY x",
     [["1", "1", "1"], ["1", "1", "1"], ["2", "3", "2"]]),
    # UNNEST, CTEs, set operations, grouping
    ("SELECT x FROM UNNEST(ARRAY[3, 1, 2]) AS t(x) ORDER BY x", [["1"], ["2"], ["3"]]),
    ("SELECT id, x, n FROM (VALUES (1, ARRAY['a', 'b'])) t(id, arr) CROSS JOIN UNNEST(arr) WITH ORDINALITY AS u(x, n) "
     "ORDER BY n", [["1", "a", "1"], ["1", "b", "2"]]),
    ("WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS x FROM a) SELECT x FROM a UNION ALL SELECT x FROM b ORDER BY 1",
     [["1"], ["2"]]),
    ("SELECT x AS y FROM (VALUES 2, 1) t(x) ORDER BY y", [["1"], ["2"]]),
    ("SELECT x AS x FROM (VALUES 2) t(x) WHERE x > 1 GROUP BY x", [["2"]]),
    ("SELECT g, count(DISTINCT x), sum(x) FROM (VALUES ('a', 1), ('a', 1), ('b', 2)) t(g, x) GROUP BY 1 ORDER BY 1 "
     "LIMIT 1", [["a", "1", "2"]]),
    ("SELECT CASE WHEN x > 1 THEN 'big' ELSE 'small' END, starts_with('canary-1', 'canary-'), "
     "'canary-1' NOT LIKE 'canary-%' FROM (VALUES 2) t(x)", [["big", "true", "false"]]),
    ("SELECT max_by(x, y), min_by(x, y), count_if(y > 1), arbitrary(x) IS NOT NULL "
     "FROM (VALUES ('a', 1), ('b', 2)) t(x, y)", [["b", "a", "1", "true"]]),
    ("SELECT cardinality(ARRAY[1, 2]), element_at(ARRAY[1, 2], 5), array_join(ARRAY['a', NULL, 'c'], ','), "
     "split('a,b', ',')[2], contains(ARRAY[1], 1), array_distinct(ARRAY[2, 1, 2])",
     [["2", None, "a,c", "b", "true", "[2, 1]"]]),
    ("SELECT repeat('a', 2), array_remove(ARRAY[1, NULL, 2, 1], 1), json_extract_scalar('{\"a\": {\"b\": 1}}', '$.a'), "
     "json_extract_scalar('{\"c\": \"x\"}', '$.c'), reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s), "
     "transform(ARRAY[1, 2], x -> x * 2), array_position(ARRAY[1, 2], 5), strpos('abc', 'c'), millisecond("
     "TIMESTAMP '2026-11-26 10:05:07.123')", [["[a, a]", "[null, 2]", None, "x", "6", "[2, 4]", "0", "3", "123"]]),
    # decimal text
    ("SELECT CAST(19.9 AS DECIMAL(12,2)), CAST(0.125E0 AS DECIMAL(10,2)), CAST(1.005E0 AS DECIMAL(10,2)), 1.5 * 2",
     [["19.90", "0.13", "1.01", "3.0"]]),
    ("SELECT round(CAST(123.45 AS DECIMAL(5,2)), 1), round(2.5E0), round(-2.5E0), round(1.23456E0, 2)",
     [["123.50", "3.0", "-3.0", "1.23"]]),
    ("SELECT sum(CAST(x AS DECIMAL(12,2)) * 2), coalesce(sum(CAST(x AS DECIMAL(12,2))), 0) "
     "FROM (VALUES 1.1E0, 2.2E0) t(x)", [["6.60", "3.30"]]),
    # timestamp, double and other text forms
    ("SELECT TIMESTAMP '2026-11-26 10:00:00', TIMESTAMP '2026-11-26 10:00:00.000', "
     "CAST('2026-11-26 10:00:00' AS timestamp), DATE '2026-11-26'",
     [["2026-11-26 10:00:00", "2026-11-26 10:00:00.000", "2026-11-26 10:00:00.000", "2026-11-26"]]),
    ("SELECT 1e7, 0.5e0, 1e0/3, CAST(1 AS double), 1e-4, 123456.5e0, true, false",
     [["1.0E7", "0.5", "0.3333333333333333", "1.0", "1.0E-4", "123456.5", "true", "false"]]),
    ("SELECT CAST(2.5e0 AS integer), CAST(-2.5e0 AS bigint), try_cast('x' AS integer), CAST(1.5e0 AS varchar), "
     "CAST(1e10 AS varchar), CAST(TIMESTAMP '2026-11-26 10:00:00.123' AS varchar), CAST('abc' AS varchar(2))",
     [["3", "-3", None, "1.5", "1.0E10", "2026-11-26 10:00:00.123", "ab"]]),
    ("SELECT ARRAY[1, 2], MAP(ARRAY['k'], ARRAY[1.5e0]), CAST(ROW(1, 'x') AS ROW(a integer, b varchar))",
     [["[1, 2]", "{k=1.5}", "{a=1, b=x}"]]),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_query_answers_as_trino_does(engine: AthenaEngine, query: str, expected: list[list[str | None]]) -> None:
    assert rows(engine, query) == expected


def test_approx_percentile_is_within_the_approximation_tolerance(engine: AthenaEngine) -> None:
    [[median, deciles, distinct]] = rows(
        engine,
        "SELECT approx_percentile(x, 0.5), approx_percentile(x, ARRAY[0.1, 0.9]), approx_distinct(x) "
        "FROM UNNEST(sequence(1, 1001)) AS t(x)",
    )
    assert abs(int(median or 0) - 501) <= 10  # Trino's qdigest: about 1% rank error
    low, high = (int(v) for v in (deciles or "").strip("[]").split(", "))
    assert abs(low - 101) <= 10 and abs(high - 901) <= 10
    assert abs(int(distinct or 0) - 1001) <= 1001 * 0.023  # approx_distinct's standard error


def test_result_columns_are_named_and_typed_as_athena_shows_them(engine: AthenaEngine) -> None:
    outcome = run(
        engine,
        "SELECT 1, 'a' AS Label, CAST(1 AS DECIMAL(12,2)) d, from_iso8601_timestamp('2026-11-26') ts, "
        'x, 2.5e0 AS "Mixed" FROM (VALUES 7) t(x)',
    )
    info = outcome.result.column_info()
    assert [c["Name"] for c in info] == ["_col0", "label", "d", "ts", "x", "Mixed"]
    assert [c["Type"] for c in info] == ["integer", "varchar", "decimal", "timestamp with time zone", "integer",
                                         "double"]  # fmt: skip
    assert (info[1]["Precision"], info[2]["Precision"], info[2]["Scale"], info[0]["Precision"]) == (
        2147483647, 12, 2, 10,
    )  # fmt: skip
    assert info[1]["CaseSensitive"] is True and info[0]["CaseSensitive"] is False


def test_java_double_text() -> None:
    assert [java_double(v) for v in (0.0, -0.0, 1.0, 100.0, 1e7, 9999999.0, 0.001, 0.0001, 1.5e-10, float("nan"))] == [
        "0.0", "-0.0", "1.0", "100.0", "1.0E7", "9999999.0", "0.001", "1.0E-4", "1.5E-10", "NaN",
    ]  # fmt: skip


# --- tables, partitions, parameters -------------------------------------------------------------------------------
@pytest.mark.usefixtures("tables")
def test_table_columns_match_json_keys_case_insensitively_and_partitions_are_columns(engine: AthenaEngine) -> None:
    assert rows(engine, "SELECT orderid, price, qty, tags, item.sku, day FROM events ORDER BY orderid") == [
        ["o-1", "19.99", "2", "[a, b]", "x", "01"],
        ["o-2", "5.5", "1", "[]", None, "01"],
        ["o-3", "0.125", "7", "[c]", "y", "02"],
    ]


@pytest.mark.usefixtures("tables")
def test_partition_pruning_reads_only_matching_partitions(engine: AthenaEngine) -> None:
    everything = run(engine, "SELECT count(*) FROM semantics.events")
    one_day = run(engine, "SELECT count(*) FROM events WHERE day = ?", ["'02'"])
    assert (everything.result.rows, one_day.result.rows) == ([["3"]], [["1"]])
    assert 0 < one_day.scanned_bytes < everything.scanned_bytes
    in_list = run(engine, "SELECT count(*) FROM events e WHERE e.day IN ('02', '09') AND qty > 0")
    assert in_list.scanned_bytes == one_day.scanned_bytes
    through_subquery = run(engine, "SELECT count(*) FROM (SELECT orderid, day FROM events) WHERE day >= '02'")
    assert through_subquery.scanned_bytes == one_day.scanned_bytes
    path = rows(engine, "SELECT DISTINCT \"$path\" FROM events WHERE day = '02'")
    assert path == [["s3://semantics-lake/events/day=02/part-0.gz"]]


@pytest.mark.usefixtures("tables")
def test_the_scan_cut_off_cancels_before_reading(engine: AthenaEngine) -> None:
    with pytest.raises(QueryCancelled) as caught:
        run(engine, "SELECT count(*) FROM events", bytes_scanned_cutoff=10)
    assert "Bytes scanned limit was exceeded" in str(caught.value.reason)


@pytest.mark.usefixtures("tables")
def test_views_are_stored_as_presto_views_and_read_back(engine: AthenaEngine) -> None:
    run(engine, "CREATE OR REPLACE VIEW cheap AS SELECT orderid, price, day FROM events WHERE price < 10")
    run(engine, "CREATE OR REPLACE VIEW cheap_ids AS SELECT orderid FROM cheap")
    assert rows(engine, "SELECT orderid FROM cheap_ids ORDER BY 1") == [["o-2"], ["o-3"]]
    assert (
        run(engine, "SELECT count(*) FROM cheap WHERE day = '01'").scanned_bytes
        < run(engine, "SELECT count(*) FROM cheap").scanned_bytes
    )  # the view only projects and filters: the outer predicate prunes
    view = glue_backends[ACCOUNT][REGION].databases[DATABASE].tables["cheap"].as_dict()
    assert view["TableType"] == "VIRTUAL_VIEW" and view["Parameters"]["presto_view"] == "true"
    assert view["StorageDescriptor"]["Columns"] == [
        {"Name": "orderid", "Type": "string"}, {"Name": "price", "Type": "double"}, {"Name": "day", "Type": "string"},
    ]  # fmt: skip


# --- errors worded as Athena engine v3 words them -----------------------------------------------------------------
ERRORS = [
    ("SELECT nope FROM (VALUES 1) t(x)", "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"),
    ("SELECT *\nFROM (VALUES 1) t(x)\nWHERE t.y = 1", "COLUMN_NOT_FOUND: line 3:7: Column 't.y' cannot be resolved"),
    ("SELECT * FROM nosuch", f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{DATABASE}.nosuch' does not exist"),
    ("SELECT * FROM nodb.t", "SCHEMA_NOT_FOUND: line 1:15: Schema 'nodb' does not exist"),
    ("SELECT * FROM other.nodb.t", "CATALOG_NOT_FOUND: line 1:15: Catalog 'other' does not exist"),
    ("SELEKT 1", "SYNTAX_ERROR: line 1:1: mismatched input 'SELEKT'. Expecting: 'ALTER', 'ANALYZE', 'CALL', "),
    ("SELECT 1 FROM", "SYNTAX_ERROR: line 1:14: mismatched input '<EOF>'"),
    ("SELECT 1; SELECT 2", "SYNTAX_ERROR: line 1:9: mismatched input ';'. Expecting: <EOF>"),
    ("SELECT 1/0", "DIVISION_BY_ZERO: Division by zero"),
    ("SELECT CAST('abc' AS integer)", "INVALID_CAST_ARGUMENT: Cannot cast 'abc' to INT"),
    ("SELECT foo_bar(1)", "FUNCTION_NOT_FOUND: line 1:8: Function 'foo_bar' not registered"),
    ("SELECT ?", "INVALID_PARAMETER_USAGE: line 1:1: Incorrect number of parameters: expected 1 but found 0"),
    ("SELECT date_trunc('fortnight', DATE '2026-01-01')",
     "INVALID_FUNCTION_ARGUMENT: line 1:19: 'fortnight' is not a valid Timestamp field"),
    ("SELECT qty * 2 AS double_qty, count(*) FROM events GROUP BY double_qty",
     "COLUMN_NOT_FOUND: line 1:61: Column 'double_qty' cannot be resolved"),
    ("SELECT x + 1 AS y FROM (VALUES 1) t(x) WHERE y > 1",
     "COLUMN_NOT_FOUND: line 1:46: Column 'y' cannot be resolved"),
    ("SELECT x, count(*) FROM (VALUES 1) t(x)",
     "EXPRESSION_NOT_AGGREGATE: line 1:8: 'x' must be an aggregate expression or appear in GROUP BY clause"),
]  # fmt: skip


@pytest.mark.usefixtures("tables")
@pytest.mark.parametrize(("query", "reason"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_errors_are_worded_as_athena_words_them(engine: AthenaEngine, query: str, reason: str) -> None:
    assert failure(engine, query).startswith(reason)


@pytest.mark.usefixtures("tables")
def test_comparing_a_string_column_with_a_number_is_a_type_mismatch(engine: AthenaEngine) -> None:
    assert failure(engine, "SELECT * FROM events WHERE day = 1") == (
        "TYPE_MISMATCH: line 1:28: Cannot apply operator: varchar = integer"
    )
    assert failure(engine, "SELECT * FROM events WHERE qty = ?", ["'2'"]) == (
        "TYPE_MISMATCH: line 1:28: Cannot apply operator: integer = varchar(1)"
    )


UNSUPPORTED = [
    "SELECT from_iso8601_timestamp('2026-11-26T10:00:00+02:00')",
    "SELECT url_extract_host('https://example.com/')",
    "SELECT approx_percentile(x, 2, 0.5) FROM (VALUES 1) t(x)",
    "SELECT a, b FROM UNNEST(ARRAY[1], ARRAY['x']) AS t(a, b)",
    "SELECT TIMESTAMP '2026-11-26 10:00:00' AT TIME ZONE 'America/New_York'",
    "SELECT date_format(TIMESTAMP '2026-11-26 10:00:00', f) FROM (VALUES '%Y') t(f)",
    "SELECT format_datetime(TIMESTAMP '2026-11-26 10:00:00', 'QQQ')",
    "INSERT INTO events SELECT * FROM events",
    "EXPLAIN SELECT 1",
    "SELECT array_intersect(ARRAY[1, 2], ARRAY[2])",
    "SELECT reduce(ARRAY[1, 2], 0, (s, x) -> s + x, s -> s * 10)",
]


@pytest.mark.usefixtures("tables")
@pytest.mark.parametrize("query", UNSUPPORTED, ids=[q[:40] for q in UNSUPPORTED])
def test_unsupported_constructs_fail_clearly_rather_than_answer_differently(engine: AthenaEngine, query: str) -> None:
    reason = failure(engine, query)
    assert reason.startswith("NOT_SUPPORTED:") and "not supported by localaws" in reason
