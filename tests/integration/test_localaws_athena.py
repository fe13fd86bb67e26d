"""Athena through boto3 against localaws: queries over a crawler-shaped Glue table, results, views, DDL, errors.

The data lake is what the pipeline writes (gzip NDJSON change records in Hive partitions
``year=/month=/day=/hour=``) and the table is what a Glue crawler makes of it (AWS_SHAPES.md 4d).
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import random
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

BUCKET = "athena-it-lake"
DATABASE = "athena_it"
DAYS = [f"{d:02d}" for d in range(20, 27)]  # seven days of history, the report day being the 26th
HOURS = ["00", "12"]
COLUMNS = [
    ("orderid", "string"), ("product_name", "string"), ("quantity", "int"), ("price", "double"),
    ("event_name", "string"), ("is_deleted", "boolean"), ("event_id", "string"), ("sequence_number", "string"),
    ("event_time", "string"),
]  # fmt: skip
SERDE = "org.openx.data.jsonserde.JsonSerDe"


def records(day: str, hour: str) -> list[dict[str, Any]]:
    """The change records Firehose delivered in one hour: inserts, updates and deletes, as the Lambda writes them."""
    rng = random.Random(f"{day}{hour}")
    out = []
    for i in range(40):
        kind = ["INSERT", "MODIFY", "REMOVE"][i % 3]
        sequence = int(day) * 10_000 + int(hour) * 100 + i
        out.append({
            "orderid": f"order-{day}-{i % 15:03d}", "product_name": f"product-{i % 4}", "quantity": 1 + i % 5,
            "price": round(rng.uniform(1, 100), 2), "event_name": kind, "is_deleted": kind == "REMOVE",
            "event_id": f"{day}{hour}{i:04d}", "sequence_number": f"{sequence:040d}",
            "event_time": f"2026-11-{day}T{hour}:{i:02d}:00.{i * 7 % 1000:03d}Z",
        })  # fmt: skip
    return out


def gzip_lines(rows: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode(), mtime=0)


def storage(location: str) -> dict[str, Any]:
    parameters = {"classification": "json", "compressionType": "gzip", "typeOfData": "file"}
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in COLUMNS],
        "Location": location,
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"paths": ",".join(sorted(n for n, _ in COLUMNS))}},
        "BucketColumns": [],
        "SortColumns": [],
        "StoredAsSubDirectories": False,
        "Parameters": parameters,
    }


def crawled_table(glue: Any, s3: Any, name: str, prefix: str, days: list[str]) -> None:
    """Objects under ``prefix`` and the table + partitions a crawler would write for them (AWS_SHAPES.md 4d)."""
    location = f"s3://{BUCKET}/{prefix}"
    for day in days:
        for hour in HOURS:
            key = f"{prefix}year=2026/month=11/day={day}/hour={hour}/sales-1-2026-11-{day}-{hour}-00-00-abc.gz"
            s3.put_object(Bucket=BUCKET, Key=key, Body=gzip_lines(records(day, hour)))
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": name, "Owner": "owner", "TableType": "EXTERNAL_TABLE", "Retention": 0,
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day", "hour")],
            "Parameters": {"classification": "json", "compressionType": "gzip", "typeOfData": "file",
                           "CrawlerSchemaDeserializerVersion": "1.0", "CrawlerSchemaSerializerVersion": "1.0",
                           "UPDATED_BY_CRAWLER": "sales-crawler", "objectCount": str(len(days) * 2)},
            "StorageDescriptor": storage(location),
        },
    )  # fmt: skip
    glue.batch_create_partition(
        DatabaseName=DATABASE,
        TableName=name,
        PartitionInputList=[
            {
                "Values": ["2026", "11", day, hour],
                "StorageDescriptor": storage(f"{location}year=2026/month=11/day={day}/hour={hour}/"),
                "Parameters": {"classification": "json", "compressionType": "gzip", "typeOfData": "file"},
            }
            for day in days
            for hour in HOURS
        ],
    )


@pytest.fixture(scope="module")
def athena(aws_client: Callable[[str], Any]) -> Any:
    s3, glue, client = aws_client("s3"), aws_client("glue"), aws_client("athena")
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    crawled_table(glue, s3, "week", "sales/week/", DAYS)
    crawled_table(glue, s3, "one_day", "sales/one/", ["26"])
    results = f"s3://{BUCKET}/results/"
    client.create_work_group(
        Name="it-enforced",
        Configuration={
            "ResultConfiguration": {"OutputLocation": results + "enforced/",
                                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}},
            "EnforceWorkGroupConfiguration": True,
            "BytesScannedCutoffPerQuery": 10_000_000,
        },
    )  # fmt: skip
    client.create_work_group(
        Name="it-open",
        Configuration={"ResultConfiguration": {"OutputLocation": results + "open/"},
                       "EnforceWorkGroupConfiguration": False},
    )  # fmt: skip
    client.create_work_group(Name="it-nowhere", Configuration={"EnforceWorkGroupConfiguration": False})
    return client


def start(athena: Any, query: str, workgroup: str = "it-enforced", **extra: Any) -> str:
    context = {"Database": DATABASE, "Catalog": "AwsDataCatalog"}
    request: dict[str, Any] = {"QueryString": query, "WorkGroup": workgroup, "QueryExecutionContext": context}
    return str(athena.start_query_execution(**request, **extra)["QueryExecutionId"])


def finish(athena: Any, query_id: str, timeout: float = 30.0) -> tuple[dict[str, Any], list[str]]:
    """The final QueryExecution, and every state it was seen in."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution, seen
        time.sleep(0.01)
    raise AssertionError(f"query {query_id} still {seen[-1]} after {timeout}s")


def run(athena: Any, query: str, **extra: Any) -> tuple[dict[str, Any], list[list[str | None]]]:
    execution, _ = finish(athena, start(athena, query, **extra))
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    pages = athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution["QueryExecutionId"])
    rows = [[d.get("VarCharValue") for d in row["Data"]] for page in pages for row in page["ResultSet"]["Rows"]]
    return execution, rows


def s3_object(aws_client: Callable[[str], Any], uri: str) -> bytes:
    bucket, key = uri[len("s3://") :].split("/", 1)
    return bytes(aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


DAY = ["'2026'", "'11'", "'26'"]


# --- queries, results and statistics ------------------------------------------------------------------------------
def test_a_query_runs_in_the_background_and_reports_like_athena(athena: Any) -> None:
    query = (
        "SELECT count(*) AS changes, count(DISTINCT orderid) AS orders FROM week "
        "WHERE year = ? AND month = ? AND day = ?"
    )
    query_id = start(athena, query, ExecutionParameters=DAY)
    execution, seen = finish(athena, query_id)
    assert seen[-1] == "SUCCEEDED" and set(seen) <= {"QUEUED", "RUNNING", "SUCCEEDED"}
    assert execution["StatementType"] == "DML" and execution["SubstatementType"] == "SELECT"
    assert execution["WorkGroup"] == "it-enforced"
    assert execution["ExecutionParameters"] == DAY
    assert execution["QueryExecutionContext"] == {"Database": DATABASE, "Catalog": "AwsDataCatalog"}
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{BUCKET}/results/enforced/{query_id}.csv"
    assert execution["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    status, statistics = execution["Status"], execution["Statistics"]
    assert status["CompletionDateTime"] >= status["SubmissionDateTime"]
    assert "StateChangeReason" not in status and "AthenaError" not in status
    for member in ("EngineExecutionTimeInMillis", "TotalExecutionTimeInMillis", "QueryQueueTimeInMillis",
                   "QueryPlanningTimeInMillis", "ServiceProcessingTimeInMillis", "DataScannedInBytes"):  # fmt: skip
        assert isinstance(statistics[member], int) and statistics[member] >= 0, member
    results = athena.get_query_results(QueryExecutionId=query_id)
    assert results["ResultSet"]["Rows"] == [
        {"Data": [{"VarCharValue": "changes"}, {"VarCharValue": "orders"}]},
        {"Data": [{"VarCharValue": "80"}, {"VarCharValue": "15"}]},
    ]
    info = results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"], c["Precision"]) for c in info] == [
        ("changes", "bigint", 19),
        ("orders", "bigint", 19),
    ]
    assert "NextToken" not in results


def test_values_are_text_in_trinos_form_and_null_is_an_empty_datum(athena: Any) -> None:
    _, rows = run(
        athena,
        "SELECT CAST(price AS DECIMAL(12, 2)) AS price, from_iso8601_timestamp(event_time) AS at, is_deleted, "
        "date_trunc('hour', from_iso8601_timestamp(event_time)) AS hour_start, CAST(NULL AS varchar) AS nothing, "
        "date_format(from_iso8601_timestamp(event_time), '%Y-%m-%d %H:%i') AS minute "
        "FROM week WHERE year = '2026' AND month = '11' AND day = '26' AND event_id = '26120003'",
    )
    expected_price = f"{records('26', '12')[3]['price']:.2f}"
    assert rows == [
        ["price", "at", "is_deleted", "hour_start", "nothing", "minute"],
        [
            expected_price,
            "2026-11-26 12:03:00.021 UTC",
            "false",
            "2026-11-26 12:00:00.000 UTC",
            None,
            "2026-11-26 12:03",
        ],
    ]


def test_results_are_paginated_with_the_header_on_the_first_page_only(athena: Any) -> None:
    query_id = start(athena, "SELECT event_id FROM one_day ORDER BY event_id")
    finish(athena, query_id)
    pages, token = [], None
    while True:
        page = athena.get_query_results(
            QueryExecutionId=query_id, MaxResults=25, **({"NextToken": token} if token else {})
        )
        pages.append([row["Data"][0]["VarCharValue"] for row in page["ResultSet"]["Rows"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [25, 25, 25, 6]  # 80 rows + the header
    everything = [value for page in pages for value in page]
    assert everything[0] == "event_id" and "event_id" not in everything[1:]
    everything = everything[1:]
    assert everything == sorted(everything) and len(set(everything)) == 80
    with pytest.raises(ClientError) as caught:
        athena.get_query_results(QueryExecutionId=query_id, MaxResults=1001)
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"


def test_result_files_are_a_quoted_csv_and_its_metadata(athena: Any, aws_client: Callable[[str], Any]) -> None:
    execution, _ = run(
        athena, "SELECT 'say \"hi\"' AS text, CAST(NULL AS integer) AS missing, 1.5e0 AS ratio, '' AS empty"
    )
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert s3_object(aws_client, location) == b'"text","missing","ratio","empty"\n"say ""hi""",,"1.5",""\n'
    assert s3_object(aws_client, location + ".metadata")
    head = aws_client("s3").head_object(Bucket=BUCKET, Key=location.split(f"{BUCKET}/", 1)[1])
    assert head["ServerSideEncryption"] == "AES256"  # the workgroup's EncryptionConfiguration
    assert list(csv.reader(io.StringIO(s3_object(aws_client, location).decode())))[1] == ['say "hi"', "", "1.5", ""]


def test_partition_pruning_one_day_of_seven_scans_what_one_day_alone_scans(athena: Any) -> None:
    query = "SELECT count(*) FROM {table} WHERE year = ? AND month = ? AND day = ?"
    week, week_rows = run(athena, query.format(table="week"), ExecutionParameters=DAY)
    alone, alone_rows = run(athena, query.format(table="one_day"), ExecutionParameters=DAY)
    everything, _ = run(athena, "SELECT count(*) FROM week")
    assert week_rows == alone_rows == [["_col0"], ["80"]]
    scanned = week["Statistics"]["DataScannedInBytes"]
    assert scanned == alone["Statistics"]["DataScannedInBytes"] > 0
    assert everything["Statistics"]["DataScannedInBytes"] > 6 * scanned


def test_the_report_queries_run(athena: Any) -> None:
    """The shapes the project's reports use: latest state per order, decimals, percentiles, windows, CTEs."""
    _, rows = run(
        athena,
        """WITH day_log AS (
               SELECT orderid, quantity, price, event_name, is_deleted, sequence_number, event_time
               FROM week WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
           ),
           latest AS (
               SELECT *, row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC) AS recency,
                      lag(event_time) OVER (PARTITION BY orderid ORDER BY sequence_number) AS previous_time
               FROM day_log WHERE orderid IN (SELECT orderid FROM day_log WHERE event_name = 'INSERT')
           )
           SELECT count_if(NOT is_deleted) AS live,
                  coalesce(sum(CASE WHEN NOT is_deleted THEN quantity * CAST(price AS DECIMAL(12, 2)) END), 0)
                      AS revenue,
                  CAST(sum(CASE WHEN NOT is_deleted THEN quantity * CAST(price AS DECIMAL(12, 2)) END)
                       / nullif(count_if(NOT is_deleted), 0) AS DECIMAL(12, 2)) AS average,
                  approx_percentile(price, 0.5) AS p50, approx_percentile(price, ARRAY[0.1, 0.9]) AS p10_90,
                  max(date_diff('second', from_iso8601_timestamp(previous_time), from_iso8601_timestamp(event_time)))
                      AS longest_gap
           FROM latest WHERE recency = 1""",
        ExecutionParameters=DAY,
    )
    day_log = records("26", "00") + records("26", "12")
    inserted = {r["orderid"] for r in day_log if r["event_name"] == "INSERT"}
    latest: dict[str, dict[str, Any]] = {}
    for record in (r for r in day_log if r["orderid"] in inserted):
        if record["orderid"] not in latest or record["sequence_number"] > latest[record["orderid"]]["sequence_number"]:
            latest[record["orderid"]] = record
    live = [r for r in latest.values() if not r["is_deleted"]]
    revenue = sum(Decimal(str(r["price"])).quantize(Decimal("0.01")) * r["quantity"] for r in live)
    header, values = rows
    assert header == ["live", "revenue", "average", "p50", "p10_90", "longest_gap"]
    assert values[:3] == [
        str(len(live)), f"{revenue:.2f}", str((revenue / len(live)).quantize(Decimal("0.01"), ROUND_HALF_UP))
    ]  # fmt: skip
    assert values[4] is not None and values[4].startswith("[") and int(values[5] or 0) > 0


# --- views and DDL --------------------------------------------------------------------------------------------------
def test_views_are_stored_in_glue_as_athena_stores_them(athena: Any, aws_client: Callable[[str], Any]) -> None:
    view_sql = (
        "SELECT orderid, quantity, price, event_time, year, month, day FROM (SELECT *, row_number() OVER "
        "(PARTITION BY orderid ORDER BY sequence_number DESC) AS recency FROM week) "
        "WHERE recency = 1 AND NOT is_deleted"
    )
    execution, rows = run(athena, f"CREATE OR REPLACE VIEW orders_current AS {view_sql}")
    assert (execution["StatementType"], execution["SubstatementType"]) == ("DDL", "CREATE_VIEW")
    assert execution["ResultConfiguration"]["OutputLocation"].endswith(f"{execution['QueryExecutionId']}.txt")
    assert rows == []
    table = aws_client("glue").get_table(DatabaseName=DATABASE, Name="orders_current")["Table"]
    assert table["TableType"] == "VIRTUAL_VIEW"
    assert table["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    assert table["PartitionKeys"] == []
    assert table["ViewExpandedText"] == "/* Presto View */"
    assert table["StorageDescriptor"]["Columns"] == [
        {"Name": "orderid", "Type": "string"}, {"Name": "quantity", "Type": "int"}, {"Name": "price", "Type": "double"},
        {"Name": "event_time", "Type": "string"}, {"Name": "year", "Type": "string"},
        {"Name": "month", "Type": "string"}, {"Name": "day", "Type": "string"},
    ]  # fmt: skip
    text = table["ViewOriginalText"]
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    definition = json.loads(base64.b64decode(text[len("/* Presto View: ") : -len(" */")]))
    assert definition["originalSql"] == view_sql
    assert (definition["catalog"], definition["schema"], definition["runAsInvoker"]) == ("awsdatacatalog", DATABASE,
                                                                                         False)  # fmt: skip
    assert definition["columns"][:3] == [
        {"name": "orderid", "type": "varchar"}, {"name": "quantity", "type": "integer"},
        {"name": "price", "type": "double"},
    ]  # fmt: skip

    run(athena, "CREATE OR REPLACE VIEW big_orders AS SELECT orderid, quantity FROM orders_current WHERE quantity >= 4")
    _, on_view = run(athena, "SELECT count(*) FROM big_orders")
    _, direct = run(
        athena,
        f"SELECT count(*) FROM ({view_sql}) WHERE quantity >= 4",
    )
    assert on_view == direct and int(on_view[1][0] or 0) > 0
    failed, _ = finish(athena, start(athena, "CREATE VIEW big_orders AS SELECT 1 AS x"))
    assert failed["Status"]["StateChangeReason"] == (
        f"ALREADY_EXISTS: line 1:1: View 'awsdatacatalog.{DATABASE}.big_orders' already exists"
    )
    run(athena, "DROP VIEW big_orders")
    gone, _ = finish(athena, start(athena, "SELECT * FROM big_orders"))
    assert gone["Status"]["StateChangeReason"] == (
        f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{DATABASE}.big_orders' does not exist"
    )


def test_create_external_table_msck_repair_and_add_partition(athena: Any, aws_client: Callable[[str], Any]) -> None:
    glue = aws_client("glue")
    execution, _ = run(
        athena,
        f"""CREATE EXTERNAL TABLE IF NOT EXISTS `{DATABASE}`.`history` (
                orderid string, quantity int, price double, event_time string
            )
            PARTITIONED BY (year string, month string, day string, hour string)
            ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
            LOCATION 's3://{BUCKET}/sales/week/'
            TBLPROPERTIES ('classification' = 'json')""",
    )
    assert (execution["StatementType"], execution["SubstatementType"]) == ("DDL", "CREATE_TABLE")
    table = glue.get_table(DatabaseName=DATABASE, Name="history")["Table"]
    assert table["TableType"] == "EXTERNAL_TABLE" and table["Parameters"]["classification"] == "json"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "month", "day", "hour"]
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == f"s3://{BUCKET}/sales/week/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == SERDE
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert descriptor["Columns"][1] == {"Name": "quantity", "Type": "int"}

    _, before = run(athena, "SELECT count(*) FROM history")
    assert before == [["_col0"], ["0"]]  # no partitions yet
    _, repaired = run(athena, f"MSCK REPAIR TABLE `{DATABASE}`.`history`")
    assert str(repaired[0][0]).startswith("Partitions not in metastore:")
    assert len(repaired) == 1 + len(DAYS) * len(HOURS)
    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName="history")["Partitions"]
    assert len(partitions) == len(DAYS) * len(HOURS)
    assert partitions[0]["StorageDescriptor"]["Location"].startswith(f"s3://{BUCKET}/sales/week/year=2026/month=11/")
    _, after = run(athena, "SELECT count(*) FROM history WHERE day = '26'")
    assert after == [["_col0"], ["80"]]
    _, again = run(athena, "MSCK REPAIR TABLE history")
    assert again == []

    run(athena, "ALTER TABLE history ADD IF NOT EXISTS PARTITION (year='2026', month='12', day='01', hour='00')")
    added = glue.get_partition(DatabaseName=DATABASE, TableName="history", PartitionValues=["2026", "12", "01", "00"])
    assert added["Partition"]["StorageDescriptor"]["Location"] == (
        f"s3://{BUCKET}/sales/week/year=2026/month=12/day=01/hour=00/"
    )
    run(athena, "DROP TABLE IF EXISTS history")
    with pytest.raises(ClientError):
        glue.get_table(DatabaseName=DATABASE, Name="history")


# --- workgroups, idempotency, listing ------------------------------------------------------------------------------
def test_an_enforced_workgroup_overrides_the_clients_result_location(athena: Any) -> None:
    elsewhere: dict[str, Any] = {"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/results/client/"}}
    enforced = start(athena, "SELECT 1", **elsewhere)
    open_ = start(athena, "SELECT 1", workgroup="it-open", **elsewhere)
    default = start(athena, "SELECT 1", workgroup="it-open")
    locations = [finish(athena, q)[0]["ResultConfiguration"]["OutputLocation"] for q in (enforced, open_, default)]
    assert locations == [
        f"s3://{BUCKET}/results/enforced/{enforced}.csv",
        f"s3://{BUCKET}/results/client/{open_}.csv",
        f"s3://{BUCKET}/results/open/{default}.csv",
    ]


def test_request_errors_are_invalid_request_exceptions(athena: Any) -> None:
    def error(**request: Any) -> tuple[str, str, str]:
        with pytest.raises(ClientError) as caught:
            athena.start_query_execution(QueryString="SELECT 1", **request)
        response = caught.value.response
        return response["Error"]["Code"], response["Error"]["Message"], str(response.get("AthenaErrorCode", ""))

    assert error(WorkGroup="it-nowhere") == (
        "InvalidRequestException",
        "No output location provided. An output location is required either through the Workgroup result "
        "configuration setting or as an API input.",
        "INVALID_INPUT",
    )
    assert error(WorkGroup="no-such-group")[:2] == ("InvalidRequestException", "WorkGroup no-such-group is not found.")
    with pytest.raises(ClientError) as caught:
        athena.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"


def test_client_request_token_makes_start_idempotent(athena: Any) -> None:
    token = "it-token-0123456789abcdefghijklmnopqrstuvwxyz"
    first = start(athena, "SELECT 42", ClientRequestToken=token)
    second = start(athena, "SELECT 42", ClientRequestToken=token)
    assert first == second
    assert start(athena, "SELECT 42") != first


def test_list_and_batch_get_query_executions(athena: Any) -> None:
    ids = [start(athena, f"SELECT {i}", workgroup="it-open") for i in range(3)]
    for query_id in ids:
        finish(athena, query_id)
    listed, token = [], None
    while True:
        page = athena.list_query_executions(
            WorkGroup="it-open", MaxResults=2, **({"NextToken": token} if token else {})
        )
        listed += page["QueryExecutionIds"]
        token = page.get("NextToken")
        if not token:
            break
    assert listed[:3] == list(reversed(ids))  # newest first
    batch = athena.batch_get_query_execution(QueryExecutionIds=[*ids, "missing-id"])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == ids
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "missing-id"


# --- failures, cancellation, the scan cut-off --------------------------------------------------------------------
def test_a_failed_query_carries_athenas_message_and_error_shape(athena: Any) -> None:
    missing_table, _ = finish(athena, start(athena, "SELECT * FROM nosuch"))
    status = missing_table["Status"]
    assert status["State"] == "FAILED"
    reason = f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{DATABASE}.nosuch' does not exist"
    assert status["StateChangeReason"] == status["AthenaError"]["ErrorMessage"] == reason
    assert status["AthenaError"]["ErrorCategory"] == 2 and status["AthenaError"]["Retryable"] is False

    missing_column, _ = finish(athena, start(athena, "SELECT orderid, nope FROM week"))
    assert (
        missing_column["Status"]["StateChangeReason"] == "COLUMN_NOT_FOUND: line 1:17: Column 'nope' cannot be resolved"
    )
    assert missing_column["Status"]["AthenaError"]["ErrorType"] == 1006

    mismatch, _ = finish(
        athena, start(athena, "SELECT count(*) FROM week WHERE year = ?", ExecutionParameters=["2026"])
    )
    assert (
        mismatch["Status"]["StateChangeReason"] == "TYPE_MISMATCH: line 1:33: Cannot apply operator: varchar = integer"
    )
    with pytest.raises(ClientError) as caught:
        athena.get_query_results(QueryExecutionId=mismatch["QueryExecutionId"])
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"


def test_a_query_over_the_scan_cut_off_is_cancelled(athena: Any, aws_client: Callable[[str], Any]) -> None:
    rng = random.Random(7)
    lines = "".join(json.dumps({"orderid": f"{rng.getrandbits(128):032x}" * 5}) + "\n" for _ in range(62_000))
    aws_client("s3").put_object(Bucket=BUCKET, Key="big/part-0.json", Body=lines.encode())  # ~10.9 MB, over 10 MB
    aws_client("glue").create_table(
        DatabaseName=DATABASE,
        TableInput={"Name": "big", "TableType": "EXTERNAL_TABLE", "PartitionKeys": [],
                    "StorageDescriptor": {**storage(f"s3://{BUCKET}/big/"), "Columns": [{"Name": "orderid",
                                                                                         "Type": "string"}]}},
    )  # fmt: skip
    execution, _ = finish(athena, start(athena, "SELECT count(*) FROM big"))
    status = execution["Status"]
    assert status["State"] == "CANCELLED"
    assert "Bytes scanned limit was exceeded" in status["StateChangeReason"]
    assert execution["Statistics"]["DataScannedInBytes"] > 10_000_000
    _, rows = run(athena, "SELECT count(*) FROM big", workgroup="it-open")  # no cut-off there
    assert rows == [["_col0"], ["62000"]]


def test_stop_query_execution_cancels_a_running_query(athena: Any) -> None:
    slow = (
        "SELECT count(*) FROM UNNEST(sequence(1, 20000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 20000)) AS b(y) "
        "WHERE (x * 31 + y * 17) % 1009 = 3"
    )
    query_id = start(athena, slow)
    deadline = time.monotonic() + 10
    while athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "QUEUED":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    athena.stop_query_execution(QueryExecutionId=query_id)
    execution, _ = finish(athena, query_id, timeout=10)
    assert execution["Status"]["State"] == "CANCELLED"
    athena.stop_query_execution(QueryExecutionId=query_id)  # stopping a finished query changes nothing
    assert finish(athena, query_id)[0]["Status"]["State"] == "CANCELLED"


# --- the Amazon provider, unchanged ----------------------------------------------------------------------------------
def test_the_providers_athena_operator_and_hook_work_against_localaws(athena: Any) -> None:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    operator = AthenaOperator(
        task_id="count_changes",
        query="SELECT count(*) AS changes FROM week WHERE day = '26'",
        database=DATABASE,
        workgroup="it-enforced",
        sleep_time=0,
        do_xcom_push=False,
    )
    query_id = str(operator.execute({}))
    hook = AthenaHook()
    assert hook.poll_query_status(query_id, sleep_time=0) == "SUCCEEDED"
    results = hook.get_query_results(query_id)
    assert results is not None
    assert results["ResultSet"]["Rows"][1]["Data"][0]["VarCharValue"] == "80"
    assert hook.get_output_location(query_id).endswith(f"{query_id}.csv")

    failing = AthenaOperator(task_id="fails", query="SELECT nope FROM week", database=DATABASE,
                             workgroup="it-enforced", sleep_time=0, do_xcom_push=False)  # fmt: skip
    with pytest.raises(Exception, match="COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"):
        failing.execute({})
