"""The daily analytics DAG end to end on localaws: simulated orders delivered at least once, crawled,
queried through the Athena API, and reported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sales_pipeline.config import load_config
from sales_pipeline.dag_runner import DagRunResult
from tests.integration.conftest import landed_lines, provisioned_env

ENV = "analytics"
CONFIG = load_config({"env": ENV}, environ={}, variable_reader=lambda: None)
DAILY_REPORTS = ("headline", "revenue_by_product", "hourly_activity", "order_size_distribution")


@pytest.fixture(scope="module", autouse=True)
def provisioned(dag_runner: Any, localaws: Any) -> Iterator[None]:
    with provisioned_env(dag_runner, ENV):
        yield


def in_env(run_dag: Callable[..., DagRunResult], dag_id: str, **conf: Any) -> DagRunResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALES_PIPELINE_ENV", ENV)
        return run_dag(dag_id, **conf)


def set_faults(localaws: Any, **settings: Any) -> dict[str, Any]:
    request = urllib.request.Request(f"{localaws.endpoint_url}/_localaws/faults", data=json.dumps(settings).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request) as reply:
        return dict(json.load(reply))


def lake_lines(aws_client: Callable[[str], Any]) -> list[dict[str, Any]]:
    return landed_lines(aws_client("s3"), CONFIG.bucket, CONFIG.data_prefix)


@pytest.fixture(scope="module")
def delivered(dag_runner: Any, localaws: Any, aws_client: Callable[[str], Any]) -> dict[str, Any]:
    """Simulated orders delivered with the at-least-once fault switch on, then crawled."""
    set_faults(localaws, redelivery_fraction=0.3, seed=5)
    try:
        simulated = in_env(dag_runner.run, "sales_order_simulator", orders=300, update_ratio=0.3, delete_ratio=0.1,
                           seed=21, rate_per_s=5000)  # fmt: skip
        assert simulated.state == "success", simulated.task_states
        summary = simulated.returns["simulate"]
        deadline = time.monotonic() + 90
        while True:
            lines = [line for line in lake_lines(aws_client)
                     if line["orderid"].startswith(summary["orderid_prefix"])]  # fmt: skip
            if len({line["event_id"] for line in lines}) >= summary["changes"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        set_faults(localaws, redelivery_fraction=0.0)
    time.sleep(2)  # a re-delivered batch may still be on its way
    refresh = in_env(dag_runner.run, "sales_catalog_refresh")
    assert refresh.state == "success", refresh.task_states
    lines = lake_lines(aws_client)
    return {"summary": summary, "lines": lines, "day": lines[0]["event_time"][:10]}


def test_the_report_headline_equals_the_simulators_final_state_despite_duplicates(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any], delivered: dict[str, Any]
) -> None:
    summary, lines, day = delivered["summary"], delivered["lines"], delivered["day"]
    copies = Counter(line["event_id"] for line in lines)
    duplicated = sorted(event_id for event_id, count in copies.items() if count > 1)
    assert duplicated, "the fault switch should have re-delivered some batches"

    result = in_env(run_dag, "sales_analytics", report_date=day)
    report = result.returns["publish_report"]
    headline = report["headline"]
    assert (headline["live_orders"], headline["units"], headline["revenue"]) == (
        summary["live_orders"], summary["units"], summary["revenue"])  # fmt: skip

    # the duplicate check finds exactly the re-delivered changes, and the run stands out as failed
    assert report["checks"]["check_duplicate_deliveries"] == len(duplicated)
    assert report["failed_checks"] == ["check_duplicate_deliveries"]
    assert result.task_states["publish_report"] == "success" and result.task_states["data_quality"] == "failed"
    assert result.state == "failed"

    s3 = aws_client("s3")
    prefix = f"{CONFIG.reports_prefix}ds={day}/"
    names = {obj["Key"][len(prefix) :] for obj in s3.list_objects_v2(Bucket=CONFIG.bucket, Prefix=prefix)["Contents"]}
    queries = [*DAILY_REPORTS, "check_duplicate_deliveries", "check_processing_errors", "check_non_positive_values",
               "check_late_events", "check_ordering_anomalies"]  # fmt: skip
    assert names == {"report.html", "report.md"} | {f"{q}.csv" for q in queries} | {f"{q}.png" for q in queries}
    html = s3.get_object(Bucket=CONFIG.bucket, Key=prefix + "report.html")["Body"].read().decode()
    assert summary["revenue"] in html.replace(",", "")

    by_product = s3.get_object(Bucket=CONFIG.bucket, Key=prefix + "revenue_by_product.csv")["Body"].read().decode()
    rows = list(csv.reader(io.StringIO(by_product)))[1:]
    assert {row[0]: int(row[2]) for row in rows} == {
        product: units for product, units in summary["per_product_quantity"].items() if units
    }


def test_a_daily_report_scans_the_same_bytes_with_one_day_or_seven_days_of_history(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any], delivered: dict[str, Any]
) -> None:
    day = dt.date.fromisoformat(delivered["day"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sales_pipeline.athena_operator.QUICK_LOOK_S", 0)  # every query waits deferred this time
        before = in_env(run_dag, "sales_analytics", report_date=day.isoformat()).returns["publish_report"]["queries"]

    # six more days of history, each a copy of the report day's objects in that day's folders
    s3 = aws_client("s3")
    day_prefix = f"{CONFIG.data_prefix}year={day:%Y}/month={day:%m}/day={day:%d}/"
    objects = s3.list_objects_v2(Bucket=CONFIG.bucket, Prefix=day_prefix)["Contents"]
    for back in range(1, 7):
        other = day - dt.timedelta(days=back)
        for obj in objects:
            key = obj["Key"].replace(
                day_prefix, f"{CONFIG.data_prefix}year={other:%Y}/month={other:%m}/day={other:%d}/"
            )
            s3.copy_object(Bucket=CONFIG.bucket, Key=key, CopySource={"Bucket": CONFIG.bucket, "Key": obj["Key"]})
    refresh = in_env(run_dag, "sales_catalog_refresh", force_crawl=True)
    assert refresh.state == "success", refresh.task_states
    assert refresh.returns["validate_table"]["partitions"] >= 7

    after = in_env(run_dag, "sales_analytics", report_date=day.isoformat()).returns["publish_report"]["queries"]
    for name in DAILY_REPORTS:
        assert before[name]["data_scanned_bytes"] > 0
        assert after[name]["data_scanned_bytes"] == before[name]["data_scanned_bytes"], name


def test_a_failed_query_fails_its_task_with_athenas_own_message(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from sales_pipeline.athena_operator import AthenaQueryOperator

    athena = aws_client("athena")
    query_id = athena.start_query_execution(QueryString="SELECT no_such_column FROM sales",
                                            QueryExecutionContext={"Database": CONFIG.glue_database},
                                            WorkGroup=CONFIG.athena_workgroup)["QueryExecutionId"]  # fmt: skip
    deadline = time.monotonic() + 30
    while (state := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"])["State"] in (
        "QUEUED", "RUNNING") and time.monotonic() < deadline:  # fmt: skip
        time.sleep(0.2)
    assert state["State"] == "FAILED"
    operator = AthenaQueryOperator(task_id="probe", query="-", database=CONFIG.glue_database, aws_conn_id="aws_default",
                                   region_name=CONFIG.region)  # fmt: skip
    with pytest.raises(AirflowFailException) as failure:
        operator.execute_complete({}, {"status": "error", "value": query_id})
    assert state["StateChangeReason"] in str(failure.value)
    assert "COLUMN_NOT_FOUND" in str(failure.value)
