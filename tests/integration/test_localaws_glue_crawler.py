"""Glue crawls against localaws: StartCrawler over S3 writes the tables and partitions a user then reads.

Each test has its own env (bucket, database, classifier, crawler), made with the library's crawler
settings, so the crawls are the ones the DAGs run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError

from localaws import LocalAWS, glue_crawler
from sales_pipeline.aws import Account
from sales_pipeline.config import load_config
from sales_pipeline.resources.base import unwrap
from sales_pipeline.resources.glue import JSON_PATH, crawler_settings
from sales_pipeline.resources.names import Names
from tests.integration.conftest import REGION

ACCOUNT = "123456789012"
HOUR_10 = "sales/year=2026/month=11/day=26/hour=10/"
HOUR_11 = "sales/year=2026/month=11/day=26/hour=11/"
GLUE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SALES_COLUMNS = [
    {"Name": "orderid", "Type": "string"},
    {"Name": "product_name", "Type": "string"},
    {"Name": "quantity", "Type": "int"},
    {"Name": "price", "Type": "double"},
    {"Name": "event_name", "Type": "string"},
    {"Name": "is_deleted", "Type": "boolean"},
    {"Name": "event_id", "Type": "string"},
    {"Name": "sequence_number", "Type": "string"},
    {"Name": "event_time", "Type": "string"},
]
SALES_PATHS = "event_id,event_name,event_time,is_deleted,orderid,price,product_name,quantity,sequence_number"


def order(n: int, **changes: Any) -> dict[str, Any]:
    """A record as the transform Lambda writes it."""
    record = {
        "orderid": f"o-{n}",
        "product_name": f"Widget {n}" if n % 3 else None,
        "quantity": n if n % 4 else None,
        "price": 19.99 if n % 2 else 20,
        "event_name": "INSERT",
        "is_deleted": False,
        "event_id": f"e-{n}",
        "sequence_number": str(n).zfill(40),
        "event_time": f"2026-11-26T10:00:{n % 60:02d}.000Z",
    }
    return {**record, **changes}


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


class Lake:
    """One env: its names and the clients to build and inspect it."""

    def __init__(self, aws_client: Callable[[str], Any], env: str, update: str = "UPDATE_IN_DATABASE") -> None:
        config = load_config({"env": env, "crawler_update_behavior": update}, environ={}, variable_reader=lambda: None)
        self.names = Names(config, Account(ACCOUNT, REGION))
        self.config = config
        self.glue, self.s3, self.logs = aws_client("glue"), aws_client("s3"), aws_client("logs")
        self.bucket, self.database, self.crawler = config.bucket, config.glue_database, config.crawler_name
        self.s3.create_bucket(Bucket=self.bucket)
        self.glue.create_database(DatabaseInput={"Name": self.database})
        self.glue.create_classifier(JsonClassifier={"Name": config.classifier_name, "JsonPath": JSON_PATH})
        aws_client("iam").create_role(
            RoleName=self.names.role_name("crawler"), AssumeRolePolicyDocument=json.dumps(GLUE_TRUST)
        )
        self.create_crawler()

    def create_crawler(self, name: str | None = None, **overrides: Any) -> str:
        settings = unwrap(crawler_settings(self.names))
        settings = {**settings, "Configuration": json.dumps(settings["Configuration"]), **overrides}
        self.glue.create_crawler(Name=name or self.crawler, **settings)
        return name or self.crawler

    def put(self, key: str, records: list[dict[str, Any]], compress: bool = True) -> int:
        body = gzip.compress(ndjson(records)) if compress else ndjson(records)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return len(body)

    def put_raw(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def delete(self, prefix: str) -> None:
        for item in self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", []):
            self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])

    def crawl(self, name: str | None = None) -> dict[str, Any]:
        """StartCrawler, then GetCrawler until READY (as the provider's waiter polls); the final Crawler."""
        name = name or self.crawler
        self.glue.start_crawler(Name=name)
        assert self.glue.get_crawler(Name=name)["Crawler"]["State"] == "RUNNING"  # at once, not READY
        return self.wait_ready(name)

    def wait_ready(self, name: str | None = None, timeout_s: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            crawler: dict[str, Any] = self.glue.get_crawler(Name=name or self.crawler)["Crawler"]
            if crawler["State"] == "READY":
                return crawler
            time.sleep(0.02)
        raise AssertionError(f"crawler {name} did not get READY in {timeout_s} s")

    def table(self, name: str = "sales") -> dict[str, Any]:
        return dict(self.glue.get_table(DatabaseName=self.database, Name=name)["Table"])

    def tables(self) -> dict[str, dict[str, Any]]:
        return {t["Name"]: t for t in self.glue.get_tables(DatabaseName=self.database)["TableList"]}

    def partitions(self, table: str = "sales") -> dict[tuple[str, ...], dict[str, Any]]:
        found = self.glue.get_partitions(DatabaseName=self.database, TableName=table)["Partitions"]
        return {tuple(p["Values"]): p for p in found}

    def metrics(self, name: str | None = None) -> dict[str, Any]:
        return dict(self.glue.get_crawler_metrics(CrawlerNameList=[name or self.crawler])["CrawlerMetricsList"][0])

    def log_lines(self, name: str | None = None) -> list[str]:
        reply = self.logs.get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=name or self.crawler)
        return [event["message"] for event in reply["events"]]


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture
def make_lake(aws_client: Callable[[str], Any], request: pytest.FixtureRequest) -> Callable[..., Lake]:
    def make(update: str = "UPDATE_IN_DATABASE") -> Lake:
        env = "crawl-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]  # one env per test
        return Lake(aws_client, env, update)

    return make


# -- a first crawl -----------------------------------------------------------------------------------------------------


def test_first_crawl_catalogs_the_sales_table_and_its_partition(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake()
    sizes = [lake.put(HOUR_10 + "part-a.gz", [order(n) for n in range(1, 6)]),
             lake.put(HOUR_10 + "part-b.gz", [order(n) for n in range(6, 8)])]  # fmt: skip
    lake.put(HOUR_10 + "_temporary/0/part-c.gz", [order(99, stray=1)])  # excluded: **/_temporary/**
    lake.put(HOUR_10 + "part-d.gz.tmp", [order(98, stray=1)])  # excluded: **.tmp
    lake.put_raw("elsewhere/notes.txt", b"outside the target")

    lake.glue.start_crawler(Name=lake.crawler)
    states: list[str] = []
    elapsed: list[int] = []
    while not states or states[-1] != "READY":
        crawler = lake.glue.get_crawler(Name=lake.crawler)["Crawler"]
        if not states or states[-1] != crawler["State"]:
            states.append(crawler["State"])
        elapsed.append(crawler["CrawlElapsedTime"])
        time.sleep(0.01)
    assert states == ["RUNNING", "STOPPING", "READY"]
    assert max(elapsed) > 0 and elapsed[-1] == 0  # milliseconds while running, 0 once READY

    last = crawler["LastCrawl"]
    assert last["Status"] == "SUCCEEDED" and "ErrorMessage" not in last
    assert (last["LogGroup"], last["LogStream"]) == ("/aws-glue/crawlers", lake.crawler)
    assert re.fullmatch(r"[0-9a-f-]{36}", last["MessagePrefix"])

    assert set(lake.tables()) == {"sales"}
    table = lake.table()
    descriptor = table["StorageDescriptor"]
    assert descriptor["Columns"] == SALES_COLUMNS
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [
        ("year", "string"), ("month", "string"), ("day", "string"), ("hour", "string"),
    ]  # fmt: skip
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert descriptor["Location"] == f"s3://{lake.bucket}/sales/"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert descriptor["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert descriptor["SerdeInfo"] == {
        "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
        "Parameters": {"paths": SALES_PATHS},
    }
    raw = len(ndjson([order(n) for n in range(1, 8)]))
    assert table["Parameters"] == {
        "classification": "json",
        "compressionType": "gzip",
        "typeOfData": "file",
        "recordCount": "7",
        "objectCount": "2",  # the excluded objects are not read
        "sizeKey": str(sum(sizes)),
        "averageRecordSize": str(raw // 7),
        "UPDATED_BY_CRAWLER": lake.crawler,
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
        "CRAWL_RUN_ID": last["MessagePrefix"],
    }
    assert all(isinstance(value, str) for value in descriptor["Parameters"].values())

    partitions = lake.partitions()
    assert list(partitions) == [("2026", "11", "26", "10")]
    partition = partitions[("2026", "11", "26", "10")]
    assert partition["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/{HOUR_10}"
    assert partition["StorageDescriptor"]["Columns"] == SALES_COLUMNS  # InheritFromTable
    assert partition["StorageDescriptor"]["SerdeInfo"] == descriptor["SerdeInfo"]
    assert {k: partition["Parameters"][k] for k in ("classification", "compressionType", "recordCount",
                                                    "objectCount", "typeOfData")} == {
        "classification": "json", "compressionType": "gzip", "recordCount": "7", "objectCount": "2",
        "typeOfData": "file",
    }  # fmt: skip

    metrics = lake.metrics()
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (1, 0, 0)
    assert 0 < metrics["LastRuntimeSeconds"] < 5 and metrics["MedianRuntimeSeconds"] == metrics["LastRuntimeSeconds"]
    assert not metrics["StillEstimating"]

    lines = lake.log_lines()
    prefix = f"[{last['MessagePrefix']}] "
    assert lines[0] == prefix + f"BENCHMARK : Running Start Crawl for Crawler {lake.crawler}"
    assert prefix + f"INFO : Created table sales in database {lake.database}" in lines
    assert lines[-1] == prefix + "BENCHMARK : Crawler has finished running and is in state READY"

    crawls = lake.glue.list_crawls(CrawlerName=lake.crawler)["Crawls"]
    assert [c["State"] for c in crawls] == ["COMPLETED"]
    assert json.loads(crawls[0]["Summary"]) == {"TABLE": {"ADD": 1}, "PARTITION": {"ADD": 1}}


def test_a_new_hour_and_a_new_attribute_update_the_table(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake("UPDATE_IN_DATABASE")  # with CRAWL_EVERYTHING, as crawler_settings pairs them
    lake.put(HOUR_10 + "part-a.gz", [order(1), order(2)])
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"

    lake.put(HOUR_11 + "part-a.gz", [order(3, coupon="XMAS", quantity=2**40)])
    crawler = lake.crawl()
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    table = lake.table()
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert list(columns)[-1] == "coupon" and columns["coupon"] == "string"  # appended
    assert columns["quantity"] == "bigint"  # widened
    assert table["StorageDescriptor"]["SerdeInfo"]["Parameters"]["paths"] == "coupon," + SALES_PATHS
    assert (table["Parameters"]["recordCount"], table["Parameters"]["objectCount"]) == ("3", "2")
    assert table["Parameters"]["CRAWL_RUN_ID"] == crawler["LastCrawl"]["MessagePrefix"]

    partitions = lake.partitions()
    assert sorted(partitions) == [("2026", "11", "26", "10"), ("2026", "11", "26", "11")]
    for partition in partitions.values():  # InheritFromTable: old and new partitions follow the table
        assert partition["StorageDescriptor"]["Columns"] == table["StorageDescriptor"]["Columns"]
    metrics = lake.metrics()
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (0, 1, 0)
    assert len(lake.glue.get_table_versions(DatabaseName=lake.database, TableName="sales")["TableVersions"]) == 2

    # nothing new: nothing changes
    lake.crawl()
    assert lake.table()["VersionId"] == table["VersionId"]
    assert lake.metrics()["TablesUpdated"] == 0


def test_log_update_behavior_keeps_the_schema_and_crawls_new_folders_only(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake("LOG")  # with CRAWL_NEW_FOLDERS_ONLY, as crawler_settings pairs them
    crawler = lake.glue.get_crawler(Name=lake.crawler)["Crawler"]
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    lake.put(HOUR_10 + "part-a.gz", [order(1), order(2)])
    lake.crawl()
    before = lake.table()

    lake.put(HOUR_11 + "part-a.gz", [order(3, coupon="XMAS")])
    lake.put_raw(HOUR_10 + "late.txt", b"not json, in a folder crawled before\n")
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"
    after = lake.table()
    assert after["StorageDescriptor"]["Columns"] == SALES_COLUMNS  # the new attribute is only logged
    assert after["VersionId"] == before["VersionId"]
    partitions = lake.partitions()
    assert sorted(partitions) == [("2026", "11", "26", "10"), ("2026", "11", "26", "11")]  # still added
    assert partitions[("2026", "11", "26", "11")]["StorageDescriptor"]["Columns"] == SALES_COLUMNS  # inherited
    assert set(lake.tables()) == {"sales"}  # hour=10 was not read again: late.txt is not seen
    assert any("coupon" in line and "UpdateBehavior is LOG" in line for line in lake.log_lines())
    assert (lake.metrics()["TablesCreated"], lake.metrics()["TablesUpdated"]) == (0, 0)


# -- objects that are not JSON -----------------------------------------------------------------------------------------


def test_an_object_that_is_not_json_gets_its_own_unknown_table(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake()
    lake.put(HOUR_10 + "part-a.gz", [order(1), order(2)])
    lake.put_raw(HOUR_10 + "notes.txt", b"this is not json\n")
    lake.put_raw(HOUR_10 + "broken.gz", gzip.compress(b"orderid,quantity\no-1,2\n"))
    crawler = lake.crawl()
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"

    tables = lake.tables()
    assert set(tables) == {"sales", "notes_txt", "broken_gz"}
    sales = tables["sales"]
    assert sales["StorageDescriptor"]["Columns"] == SALES_COLUMNS  # nothing merged from the other objects
    assert (sales["Parameters"]["objectCount"], sales["Parameters"]["recordCount"]) == ("1", "2")
    unknown = {
        t["StorageDescriptor"]["Location"]: t for t in tables.values() if t["Parameters"]["classification"] == "UNKNOWN"
    }
    assert sorted(unknown) == [f"s3://{lake.bucket}/{HOUR_10}broken.gz", f"s3://{lake.bucket}/{HOUR_10}notes.txt"]
    notes = tables["notes_txt"]
    assert notes["StorageDescriptor"]["Columns"] == [] and notes["PartitionKeys"] == []
    assert notes["Parameters"]["compressionType"] == "none"
    assert tables["broken_gz"]["Parameters"]["compressionType"] == "gzip"
    assert notes["Parameters"]["UPDATED_BY_CRAWLER"] == lake.crawler
    warned = [line for line in lake.log_lines() if "WARN" in line and "UNKNOWN" in line]
    assert len(warned) == 2 and any(f"s3://{lake.bucket}/{HOUR_10}notes.txt" in line for line in warned)
    assert lake.metrics()["TablesCreated"] == 3


# -- deleted data ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("behavior", ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"])
def test_delete_behavior_for_data_that_is_gone(make_lake: Callable[..., Lake], behavior: str) -> None:
    lake = make_lake()
    name = lake.create_crawler(
        f"{lake.crawler}-{behavior.lower()}",
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": behavior},
    )
    lake.put(HOUR_10 + "part-a.gz", [order(1)])
    lake.put(HOUR_11 + "part-a.gz", [order(2)])
    lake.crawl(name)

    lake.delete(HOUR_10)
    lake.crawl(name)
    hours = sorted(lake.partitions())
    if behavior == "DELETE_FROM_DATABASE":
        assert hours == [("2026", "11", "26", "11")]
    else:
        assert hours == [("2026", "11", "26", "10"), ("2026", "11", "26", "11")]
        assert any("with partition values [2026, 11, 26, 10] with no matching schema" in line
                   for line in lake.log_lines(name))  # fmt: skip

    lake.delete("sales/")
    assert lake.crawl(name)["LastCrawl"]["Status"] == "SUCCEEDED"
    metrics = lake.metrics(name)
    if behavior == "DELETE_FROM_DATABASE":
        assert "sales" not in lake.tables()
        assert (metrics["TablesDeleted"], metrics["TablesUpdated"]) == (1, 0)
    elif behavior == "DEPRECATE_IN_DATABASE":
        parameters = lake.table()["Parameters"]
        assert re.fullmatch(r"\d{13}", parameters["DEPRECATED_BY_CRAWLER"])  # epoch milliseconds
        assert (metrics["TablesDeleted"], metrics["TablesUpdated"]) == (0, 1)
        assert any("Table sales is marked deprecated" in line for line in lake.log_lines(name))
    else:
        assert "DEPRECATED_BY_CRAWLER" not in lake.table()["Parameters"]
        assert (metrics["TablesDeleted"], metrics["TablesUpdated"]) == (0, 0)


# -- running, stopping, failing ----------------------------------------------------------------------------------------


def test_a_running_crawler_refuses_to_start_and_a_stopped_crawl_is_cancelled(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake()
    lake.put(HOUR_10 + "part-a.gz", [order(1)])
    lake.glue.start_crawler(Name=lake.crawler)
    for call in (
        lambda: lake.glue.start_crawler(Name=lake.crawler),
        lambda: lake.glue.delete_crawler(Name=lake.crawler),
        lambda: lake.glue.update_crawler(Name=lake.crawler, Description="while running"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught)[:2] == ("CrawlerRunningException", 400)

    lake.glue.stop_crawler(Name=lake.crawler)
    assert lake.glue.get_crawler(Name=lake.crawler)["Crawler"]["State"] == "STOPPING"
    with pytest.raises(ClientError) as caught:
        lake.glue.stop_crawler(Name=lake.crawler)
    assert error_of(caught)[:2] == ("CrawlerStoppingException", 400)

    crawler = lake.wait_ready()
    assert crawler["LastCrawl"]["Status"] == "CANCELLED" and "ErrorMessage" not in crawler["LastCrawl"]
    assert "sales" not in lake.tables()  # stopped before it wrote the catalog
    assert lake.glue.list_crawls(CrawlerName=lake.crawler)["Crawls"][-1]["State"] == "STOPPED"
    with pytest.raises(ClientError) as caught:
        lake.glue.stop_crawler(Name=lake.crawler)
    assert error_of(caught)[:2] == ("CrawlerNotRunningException", 400)

    for call in (
        lambda: lake.glue.start_crawler(Name="crawl-no-such-crawler"),
        lambda: lake.glue.stop_crawler(Name="crawl-no-such-crawler"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        code, status, message = error_of(caught)
        assert (code, status) == ("EntityNotFoundException", 400)
        assert "crawl-no-such-crawler" in message

    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"  # the next crawl runs as usual
    lake.glue.delete_crawler(Name=lake.crawler)  # READY: may be deleted


def test_the_error_body_is_glues(localaws: LocalAWS, make_lake: Callable[..., Lake]) -> None:
    lake = make_lake()
    lake.glue.start_crawler(Name=lake.crawler)
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    raw = session.client("glue", endpoint_url=localaws.endpoint_url)
    captured: dict[str, Any] = {}
    raw.meta.events.register("after-call.glue.StartCrawler", lambda http_response, **_: captured.update(
        status=http_response.status_code, body=json.loads(http_response.content)))  # fmt: skip
    with pytest.raises(ClientError):
        raw.start_crawler(Name=lake.crawler)
    assert captured["status"] == 400
    assert captured["body"] == {
        "__type": "CrawlerRunningException",
        "Message": f"Crawler with name {lake.crawler} has already started",
    }
    lake.wait_ready()


def test_failed_crawls_say_why(make_lake: Callable[..., Lake], aws_client: Callable[[str], Any]) -> None:
    lake = make_lake()
    lake.put(HOUR_10 + "part-a.gz", [order(1)])

    missing_db = lake.create_crawler(f"{lake.crawler}-nodb", DatabaseName="crawl_no_such_database")
    crawler = lake.crawl(missing_db)
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert crawler["LastCrawl"]["ErrorMessage"] == "Database crawl_no_such_database not found."
    assert any("ERROR : Database crawl_no_such_database not found." in line for line in lake.log_lines(missing_db))
    assert lake.glue.list_crawls(CrawlerName=missing_db)["Crawls"][-1]["ErrorMessage"] == (
        "Database crawl_no_such_database not found."
    )

    aws_client("iam").create_role(RoleName="crawl-not-for-glue", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}))  # fmt: skip
    for role in (f"arn:aws:iam::{ACCOUNT}:role/crawl-not-for-glue", f"arn:aws:iam::{ACCOUNT}:role/crawl-no-such-role"):
        name = lake.create_crawler(f"{lake.crawler}-{role.rsplit('/', 1)[1]}", Role=role)
        last = lake.crawl(name)["LastCrawl"]
        assert (last["Status"], last["ErrorMessage"]) == (
            "FAILED",
            "Service is unable to assume provided role. Please verify role's TrustPolicy",
        )
        assert lake.metrics(name)["LastRuntimeSeconds"] > 0
    assert set(lake.tables()) == set()  # no failed crawl wrote anything


def test_a_missing_bucket_is_a_logged_read_error_not_a_failure(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake()
    name = lake.create_crawler(
        f"{lake.crawler}-nobucket", Targets={"S3Targets": [{"Path": "s3://crawl-no-such-bucket/sales/"}]}
    )
    crawler = lake.crawl(name)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert any("ERROR : Not all read errors will be logged." in line and "NoSuchBucket" in line
               for line in lake.log_lines(name))  # fmt: skip
    assert lake.metrics(name)["TablesCreated"] == 0


def test_a_bucket_policy_that_denies_the_crawler_role_is_a_read_error(make_lake: Callable[..., Lake]) -> None:
    lake = make_lake()
    lake.put(HOUR_10 + "part-a.gz", [order(1)])
    role_arn = lake.names.role_arn("crawler")
    lake.s3.put_bucket_policy(Bucket=lake.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": role_arn}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{lake.bucket}/*"}]}))  # fmt: skip
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "sales" not in lake.tables()
    assert any("AccessDenied" in line for line in lake.log_lines())


# -- the Airflow provider, unchanged -----------------------------------------------------------------------------------


def test_the_providers_operator_sensor_and_waiter_work(make_lake: Callable[..., Lake]) -> None:
    from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook
    from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator
    from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor

    lake = make_lake()
    lake.put(HOUR_10 + "part-a.gz", [order(1), order(2)])
    settings = unwrap(crawler_settings(lake.names))
    config = {"Name": lake.crawler, **settings, "Configuration": json.dumps(settings["Configuration"])}
    with pytest.warns(Warning, match="deprecated"):
        operator = GlueCrawlerOperator(task_id="crawl", config=config, poll_interval=1, wait_for_completion=True)
    assert operator.execute({}) == lake.crawler  # updates the crawler, starts it, waits for crawler_ready
    assert lake.glue.get_crawler(Name=lake.crawler)["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "sales" in lake.tables()
    assert GlueCrawlerSensor(task_id="sense", crawler_name=lake.crawler).poke({}) is True

    hook = GlueCrawlerHook()
    failing = lake.create_crawler(f"{lake.crawler}-fails", DatabaseName="crawl_no_such_database")
    hook.start_crawler(failing)
    with pytest.raises(WaiterError, match="FAILED"):
        hook.wait_for_crawler_completion(failing, poll_interval=1)


# -- lifecycle ---------------------------------------------------------------------------------------------------------


def test_health_lists_the_crawler_actions(localaws: LocalAWS) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{localaws.endpoint_url}/_localaws/health") as reply:
        glue = json.loads(reply.read())["services"]["glue"]
    assert glue["provider"] == "moto+localaws"
    assert {"StartCrawler", "StopCrawler", "DeleteCrawler", "GetCrawlerMetrics"} <= set(glue["localaws_actions"])


def test_stopping_localaws_cancels_its_crawls_and_leaves_no_thread(
    make_lake: Callable[..., Lake], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(glue_crawler, "MIN_RUN_S", 30.0)  # still running when LocalAWS stops
    lake = make_lake()
    lake.put(HOUR_10 + "part-a.gz", [order(1)])
    with LocalAWS(port=0, tls_port=None) as other:
        glue = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION).client(
            "glue", endpoint_url=other.endpoint_url
        )
        glue.start_crawler(Name=lake.crawler)  # runs on this short-lived LocalAWS
        assert glue.get_crawler(Name=lake.crawler)["Crawler"]["State"] == "RUNNING"
    assert not [t for t in threading.enumerate() if t.name.startswith("localaws-glue-crawl")]
    crawler = lake.glue.get_crawler(Name=lake.crawler)["Crawler"]  # moto's state outlives it
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "CANCELLED")


@pytest.fixture(autouse=True)
def _no_crawl_left_running() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(t.name.startswith("localaws-glue-crawl") for t in threading.enumerate()):
        time.sleep(0.02)
