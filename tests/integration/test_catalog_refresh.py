"""The catalog refresh DAG against localaws: the landing watcher fires, crawls run only when they can
change the catalog, and the table they leave is checked."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sales_pipeline.catalog import PARTITION_KEYS, keys_from_notifications
from sales_pipeline.config import load_config
from sales_pipeline.dag_runner import DagRunResult
from sales_pipeline.landing import first_landing_event
from tests.integration.conftest import provisioned_env, wait_until_landed

ENV = "catalog"
CONFIG = load_config({"env": ENV}, environ={}, variable_reader=lambda: None)


@pytest.fixture(scope="module", autouse=True)
def provisioned(dag_runner: Any, localaws: Any) -> Iterator[None]:
    with provisioned_env(dag_runner, ENV):
        yield


def hour_values(moment: dt.datetime) -> list[str]:
    return [f"{moment:%Y}", f"{moment:%m}", f"{moment:%d}", f"{moment:%H}"]


def folder(values: list[str]) -> str:
    return CONFIG.data_prefix + "/".join(f"{k}={v}" for k, v in zip(PARTITION_KEYS, values, strict=True)) + "/"


def record(orderid: str, **extra: Any) -> dict[str, Any]:
    return {"orderid": orderid, "product_name": "Widget", "quantity": 2, "price": 9.99, "event_name": "INSERT",
            "is_deleted": False, "event_id": f"e-{orderid}", "sequence_number": "1".zfill(40),
            "event_time": "2026-11-26T10:00:00.000Z", **extra}  # fmt: skip


def put_lines(aws_client: Callable[[str], Any], values: list[str], name: str, records: list[dict[str, Any]]) -> str:
    """An object as Firehose writes it (GZIP, one JSON object per line) into an hour folder."""
    key = folder(values) + name
    body = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    aws_client("s3").put_object(Bucket=CONFIG.bucket, Key=key, Body=body)
    return key


def partitions(aws_client: Callable[[str], Any]) -> list[list[str]]:
    pages = (
        aws_client("glue")
        .get_paginator("get_partitions")
        .paginate(DatabaseName=CONFIG.glue_database, TableName=CONFIG.glue_table)
    )
    return sorted(list(p["Values"]) for page in pages for p in page["Partitions"])


def columns(aws_client: Callable[[str], Any]) -> dict[str, str]:
    table = aws_client("glue").get_table(DatabaseName=CONFIG.glue_database, Name=CONFIG.glue_table)["Table"]
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


def crawls(aws_client: Callable[[str], Any]) -> int:
    """How many crawls the crawler has run (ListCrawls: its crawl history)."""
    return len(aws_client("glue").list_crawls(CrawlerName=CONFIG.crawler_name, MaxResults=1000)["Crawls"])


def put_key_in(keys: list[str], values: list[str]) -> bool:
    return folder(values) + "more-1.gz" in keys


def refresh(run_dag: Callable[..., DagRunResult], **conf: Any) -> DagRunResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALES_PIPELINE_ENV", ENV)
        return run_dag("sales_catalog_refresh", **conf)


def test_landing_fires_the_watcher_and_one_crawl_catalogs_every_landed_hour(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALES_PIPELINE_ENV", ENV)
        simulated = run_dag("sales_order_simulator", orders=120, update_ratio=0.25, delete_ratio=0.1, seed=3,
                            rate_per_s=5000)  # fmt: skip
    assert simulated.state == "success", simulated.task_states
    wait_until_landed(aws_client("s3"), CONFIG.bucket, CONFIG.data_prefix, simulated.returns["simulate"]["changes"])

    event = first_landing_event(CONFIG)
    assert event["status"] == "success"
    keys = keys_from_notifications(event["message_batch"], CONFIG.bucket, CONFIG.data_prefix)
    assert keys and all(key in _all_keys(aws_client) for key in keys)

    result = refresh(run_dag)
    assert result.state == "success", result.task_states
    plan = result.returns["plan_crawl"]
    assert plan["crawl"] is True and "not in the catalog yet" in plan["reason"]
    assert result.task_states["crawl"] == "success"

    table_columns = columns(aws_client)
    assert {name: table_columns[name] for name in ("orderid", "product_name", "event_name", "event_id",
            "sequence_number", "event_time")} == dict.fromkeys(("orderid", "product_name", "event_name", "event_id",
            "sequence_number", "event_time"), "string")  # fmt: skip
    assert table_columns["quantity"] == "int" and table_columns["price"] == "double"
    assert table_columns["is_deleted"] == "boolean"
    table = aws_client("glue").get_table(DatabaseName=CONFIG.glue_database, Name=CONFIG.glue_table)["Table"]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [(k, "string") for k in PARTITION_KEYS]

    landed_hours = sorted({tuple(k.split("/")[1:5]) for k in _all_keys(aws_client)})
    assert partitions(aws_client) == [[part.split("=")[1] for part in hour] for hour in landed_hours]
    assert result.returns["validate_table"]["partitions"] == len(landed_hours)


def _all_keys(aws_client: Callable[[str], Any]) -> list[str]:
    pages = aws_client("s3").get_paginator("list_objects_v2").paginate(Bucket=CONFIG.bucket, Prefix=CONFIG.data_prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def test_more_data_in_a_known_hour_skips_the_crawl_and_says_why(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    known = partitions(aws_client)[-1]
    before = crawls(aws_client)
    put_lines(aws_client, known, "more-1.gz", [record("o-more-1"), record("o-more-2")])

    result = refresh(run_dag)
    assert result.state == "success", result.task_states
    plan = result.returns["plan_crawl"]
    assert plan["crawl"] is False
    assert plan["reason"].startswith("no crawl needed:") and "all in partitions the table has" in plan["reason"]
    assert put_key_in(plan["new_objects"], known)
    assert result.task_states["crawl"] == "skipped" and result.task_states["validate_table"] == "skipped"
    assert crawls(aws_client) == before


def test_data_in_a_new_hour_makes_a_crawl_add_exactly_that_partition(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    before = partitions(aws_client)
    new_hour = hour_values(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
    assert new_hour not in before
    put_lines(aws_client, new_hour, "late-1.gz", [record("o-new-hour")])

    result = refresh(run_dag)
    assert result.state == "success", result.task_states
    assert result.returns["plan_crawl"]["new_partitions"] == [new_hour]
    assert partitions(aws_client) == sorted([*before, new_hour])
    assert result.returns["validate_table"]["partitions_added"] == [folder(new_hour)[len(CONFIG.data_prefix) :]]


def test_a_new_attribute_becomes_a_column(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    known = partitions(aws_client)[0]
    put_lines(aws_client, known, "coupon-1.gz", [record("o-coupon", Coupon_Code="SAVE10")])

    result = refresh(run_dag)
    assert result.state == "success", result.task_states
    assert result.returns["plan_crawl"]["new_attributes"] == ["coupon_code"]
    assert columns(aws_client)["coupon_code"] == "string"


def test_with_update_behavior_log_a_new_attribute_is_only_logged(
    run_dag: Callable[..., DagRunResult], dag_runner: Any, aws_client: Callable[[str], Any]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALES_PIPELINE_ENV", ENV)
        patch.setenv("SALES_PIPELINE_CRAWLER_UPDATE_BEHAVIOR", "LOG")
        assert dag_runner.run("sales_stream_provision").state == "success"
        try:
            # in a known hour: a crawl could not add the column, so none runs
            put_lines(aws_client, partitions(aws_client)[0], "channel-1.gz", [record("o-channel-1", channel="web")])
            result = run_dag("sales_catalog_refresh")
            assert result.state == "success", result.task_states
            plan = result.returns["plan_crawl"]
            assert (plan["crawl"], plan["new_attributes"]) == (False, ["channel"])
            assert "channel stay out of the table: crawler_update_behavior is LOG" in plan["reason"]

            # in a new hour: the crawl adds the partition and only logs the new attribute
            new_hour = hour_values(dt.datetime.now(dt.UTC) + dt.timedelta(hours=7))
            put_lines(aws_client, new_hour, "channel-2.gz", [record("o-channel-2", channel="app")])
            result = run_dag("sales_catalog_refresh")
            assert result.state == "success", result.task_states
            assert result.returns["plan_crawl"]["crawl"] is True
            assert new_hour in partitions(aws_client)
            assert "channel" not in columns(aws_client)
            assert result.returns["validate_table"]["logged_only_attributes"] == ["channel"]
        finally:
            patch.setenv("SALES_PIPELINE_CRAWLER_UPDATE_BEHAVIOR", "UPDATE_IN_DATABASE")
            assert dag_runner.run("sales_stream_provision").state == "success"


def test_a_refresh_during_a_running_crawl_waits_for_it_then_crawls(
    run_dag: Callable[..., DagRunResult], dag_runner: Any, aws_client: Callable[[str], Any]
) -> None:
    glue = aws_client("glue")
    before = crawls(aws_client)
    glue.start_crawler(Name=CONFIG.crawler_name)  # someone else's crawl, e.g. from the console
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sales_pipeline.athena_operator.QUICK_LOOK_S", 0)  # wait deferred, as for a long crawl
        result = refresh(run_dag, force_crawl=True)
    assert result.state == "success", result.task_states
    assert crawls(aws_client) == before + 2  # theirs, then ours: never two at once
    assert glue.get_crawler(Name=CONFIG.crawler_name)["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert dag_runner.dagbag.dags["sales_catalog_refresh"].max_active_runs == 1


def test_an_object_that_is_not_json_is_kept_out_of_the_table_and_reported_by_key(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    stray_hour = hour_values(dt.datetime.now(dt.UTC) + dt.timedelta(hours=5))
    key = folder(stray_hour) + "export.csv"
    aws_client("s3").put_object(Bucket=CONFIG.bucket, Key=key, Body=b"orderid,total\nA-1,10\n")
    columns_before = columns(aws_client)
    try:
        result = refresh(run_dag)
        assert result.state == "failed", result.task_states
        assert key in result.returns["plan_crawl"]["not_json"]
        assert result.task_states["validate_table"] == "failed"
        assert "total" not in columns(aws_client) and columns(aws_client) == columns_before
    finally:
        aws_client("s3").delete_object(Bucket=CONFIG.bucket, Key=key)


def test_a_crawl_that_fails_fails_the_run_with_the_crawlers_own_message(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any], capfd: pytest.CaptureFixture[str]
) -> None:
    glue = aws_client("glue")
    glue.update_crawler(Name=CONFIG.crawler_name, DatabaseName="no_such_database")
    try:
        capfd.readouterr()
        result = refresh(run_dag, force_crawl=True)
        task_log = "".join(capfd.readouterr())  # dag.test() runs the task here: its log is our output
    finally:
        glue.update_crawler(Name=CONFIG.crawler_name, DatabaseName=CONFIG.glue_database)
    last = glue.get_crawler(Name=CONFIG.crawler_name)["Crawler"]["LastCrawl"]
    assert last["Status"] == "FAILED" and last["ErrorMessage"]
    assert result.state == "failed" and result.task_states["crawl"] == "failed", result.task_states
    assert f"Crawl of {CONFIG.crawler_name} ended FAILED: {last['ErrorMessage']}" in task_log
    assert result.task_states["validate_table"] == "upstream_failed"
