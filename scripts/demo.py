"""`make demo`: start the embedded local AWS, point Airflow's aws_default at it, and run the project's
jobs against it, printing what a user would look at.

Each step is a real call through the AWS APIs; the steps grow as the DAGs land.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import io
import json
import os
import sys
import time
import urllib.request
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from localaws import LocalAWS
from sales_pipeline.aws import Clients
from sales_pipeline.catalog import Catalog, keys_from_notifications
from sales_pipeline.config import load_config
from sales_pipeline.dag_runner import DagRunner, DagRunResult
from sales_pipeline.pipeline import format_table
from sales_pipeline.pipeline_steps import STEP_IDS

# Task logs go to Airflow's log files; the demo prints what each run returned.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
# Airflow's in-process API client (dag.test) warns about a starlette deprecation: not ours, not news.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
# A laptop wants to see data land in seconds, not Firehose's default minute.
os.environ.setdefault("SALES_PIPELINE_BUFFER_INTERVAL_S", "1")
DEMO_ORDERS = 3000
REPORTS_DIR = Path(__file__).resolve().parents[1] / "reports"


class QuietRunner:
    """Runs DAGs with their tasks' own printing kept out of the demo's output (it is in the task logs)."""

    def __init__(self) -> None:
        self.runner = DagRunner()

    def run(self, dag_id: str, **conf: Any) -> DagRunResult:
        with contextlib.redirect_stdout(io.StringIO()):
            return self.runner.run(dag_id, **conf)


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def point_airflow_at(aws: LocalAWS, region: str) -> None:
    """aws_default for every DAG run in this process: localaws's HTTPS endpoint, verified with its CA,
    and fake credentials, so no real account can be touched."""
    extra = {"endpoint_url": aws.tls_endpoint_url, "region_name": region, "verify": aws.ca_bundle}
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "localaws",
            "AWS_SECRET_ACCESS_KEY": "localaws",
            "AWS_DEFAULT_REGION": region,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "extra": extra}),
        }
    )


def sample_firehose_event(region: str) -> dict[str, Any]:
    """A Firehose transformation event carrying one INSERT, one MODIFY and one REMOVE as the pipe delivers them."""
    stream_arn = (
        f"arn:aws:dynamodb:{region}:123456789012:table/sales-stream-local-orders/stream/2026-11-26T00:00:00.000"
    )

    def change(event_name: str, seq: int, image: dict[str, Any]) -> dict[str, Any]:
        dynamodb: dict[str, Any] = {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": {"orderid": image["orderid"]},
            "SequenceNumber": f"{seq:021d}",
            "SizeBytes": 80,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        dynamodb["OldImage" if event_name == "REMOVE" else "NewImage"] = image
        return {
            "eventID": f"demo{seq:028x}",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "eventSourceARN": stream_arn,
            "dynamodb": dynamodb,
        }

    order = {"orderid": {"S": "o-1001"}, "product_name": {"S": "Café crème"}, "quantity": {"N": "2"}}
    changes = [
        change("INSERT", 100, {**order, "price": {"N": "3.10"}}),
        change("MODIFY", 101, {**order, "price": {"N": "2.95"}}),
        change("REMOVE", 102, {**order, "price": {"N": "2.95"}}),
    ]
    return {
        "invocationId": "demo-invocation",
        "deliveryStreamArn": f"arn:aws:firehose:{region}:123456789012:deliverystream/demo",
        "region": region,
        "records": [
            {
                "recordId": f"demo-{i}",
                "approximateArrivalTimestamp": int(time.time() * 1000),
                "data": base64.b64encode(json.dumps(c).encode()).decode(),
            }
            for i, c in enumerate(changes)
        ],
    }


def provision_twice(runner: QuietRunner) -> None:
    banner("sales_stream_provision: every resource of the pipeline, on localaws")
    started = time.monotonic()
    provision = runner.run("sales_stream_provision")
    changes = [c for step in STEP_IDS for c in provision.returns.get(f"ensure_{step}", [])]
    print(format_table(changes))
    print(f"run {provision.state} in {time.monotonic() - started:.1f} s: {provision.returns.get('report')}")
    if provision.state != "success":
        raise SystemExit(f"provisioning failed: {provision.task_states}")

    banner("sales_stream_provision again: idempotent")
    again = runner.run("sales_stream_provision")
    print(f"run {again.state}: {again.returns.get('report')}")


def simulate_and_deliver(runner: QuietRunner, aws: LocalAWS, region: str) -> dict[str, Any]:
    banner(f"sales_order_simulator: {DEMO_ORDERS} orders, then updates and deletes, into DynamoDB")
    simulation = runner.run("sales_order_simulator", orders=DEMO_ORDERS, update_ratio=0.2, delete_ratio=0.1,
                            seed=2026, rate_per_s=2000)  # fmt: skip
    summary = simulation.returns.get("simulate") or {}
    if simulation.state != "success":
        raise SystemExit(f"the simulator failed: {simulation.task_states}")
    print(f"{summary['orders']} inserts, {summary['updates']} updates, {summary['deletes']} deletes "
          f"= {summary['changes']} changes; expected {summary['live_orders']} live orders, "
          f"{summary['units']} units, revenue {summary['revenue']}")  # fmt: skip

    banner("waiting for DynamoDB Streams -> Pipe -> Kinesis -> Firehose (+ Lambda) -> S3 to deliver them")
    config = load_config()
    s3 = boto3.client("s3", endpoint_url=aws.tls_endpoint_url, region_name=region, verify=aws.ca_bundle)
    started, objects = time.monotonic(), 0
    lines: list[dict[str, Any]] = []
    while time.monotonic() - started < 120:
        lines, objects = landed(s3, config.bucket, config.data_prefix, summary["orderid_prefix"])
        if len(lines) >= summary["changes"]:
            break
        time.sleep(1)
    by_event = dict(Counter(line["event_name"] for line in lines))
    elapsed = time.monotonic() - started
    where = f"s3://{config.bucket}/{config.data_prefix}"
    print(f"{len(lines)} of {summary['changes']} changes landed in {objects} GZIP objects under {where} "
          f"after {elapsed:.1f} s: {by_event}")  # fmt: skip
    if len(lines) != summary["changes"]:
        raise SystemExit("not every change landed")
    return dict(summary)


def landed(s3: Any, bucket: str, prefix: str, orderid_prefix: str) -> tuple[list[dict[str, Any]], int]:
    lines, objects = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            objects += 1
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            lines += [json.loads(line) for line in body.splitlines()]
    return [line for line in lines if line["orderid"].startswith(orderid_prefix)], objects


def verify_with_canary(runner: QuietRunner) -> None:
    banner("sales_stream_verify: health, drift, the transform Lambda's output, and the end-to-end canary")
    verify = runner.run("sales_stream_verify")
    problems = [p for task, found in verify.returns.items() if task.startswith("check") for p in found]
    print(f"run {verify.state}; problems: {problems or 'none'}")
    canary = verify.returns.get("canary")
    if canary:
        print(f"canary {canary['orderid']} landed in s3 object {canary['key']} after {canary['latency_s']} s")
    if verify.state != "success":
        raise SystemExit("verify failed")


def show_transform(aws: LocalAWS, region: str) -> None:
    banner("the deployed transform Lambda, invoked through the Lambda API with an INSERT, a MODIFY and a REMOVE")
    config = load_config()
    lambda_client = boto3.client("lambda", endpoint_url=aws.tls_endpoint_url, region_name=region,
                                 verify=aws.ca_bundle)  # fmt: skip
    event = sample_firehose_event(region)
    reply = lambda_client.invoke(FunctionName=config.transform_function_name, Payload=json.dumps(event))
    result = json.loads(reply["Payload"].read())
    if reply.get("FunctionError"):
        raise SystemExit(f"the transform Lambda failed: {result}")
    for record in result["records"]:
        line = base64.b64decode(record["data"]).decode() if record["result"] == "Ok" else "-\n"
        print(f"{record['recordId']:8} {record['result']:4} {line}", end="")


def landing_notifications() -> list[str]:
    """The object keys in the first event of the catalog DAG's landing watcher."""
    # Imported here, after the logging level above is set: it imports Airflow's provider, which configures logging.
    from sales_pipeline.landing import first_landing_event

    config = load_config()
    payload = first_landing_event(config)
    return keys_from_notifications(payload.get("message_batch", []), config.bucket, config.data_prefix)


def refresh_catalog(runner: QuietRunner, aws: LocalAWS, region: str) -> None:
    banner("the landing queue's AssetWatcher: S3 notified SQS of the new objects")
    keys = landing_notifications()
    print(f"the SQS trigger fired with {len(keys)} object(s), e.g. {keys[0] if keys else '-'}")

    banner("sales_catalog_refresh: data landed, so crawl if the catalog can change")
    refresh = runner.run("sales_catalog_refresh")
    plan = refresh.returns.get("plan_crawl") or {}
    print(f"run {refresh.state}: {'CRAWL' if plan.get('crawl') else 'SKIP'} ({plan.get('reason')})")
    if refresh.state != "success":
        raise SystemExit(f"the catalog refresh failed: {refresh.task_states}")
    config = load_config()
    print(Catalog(Clients.from_session(region, aws.tls_endpoint_url, aws.ca_bundle), config).describe())

    banner("sales_catalog_refresh again: nothing new has landed")
    again = runner.run("sales_catalog_refresh")
    plan = again.returns.get("plan_crawl") or {}
    print(f"run {again.state}: {'CRAWL' if plan.get('crawl') else 'SKIP'} ({plan.get('reason')})")


def run_analytics(runner: QuietRunner, aws: LocalAWS, region: str, expected: dict[str, Any]) -> None:
    day = dt.datetime.now(dt.UTC).date().isoformat()
    banner(f"sales_analytics for {day}: views, reports and checks on Athena, then the report")
    started = time.monotonic()
    run = runner.run("sales_analytics", report_date=day)
    summary = run.returns.get("publish_report")
    if not summary:
        raise SystemExit(f"the analytics run published no report: {run.task_states}")
    headline = summary["headline"]
    print(f"run {run.state} in {time.monotonic() - started:.1f} s; data-quality findings: "
          f"{ {name: n for name, n in summary['checks'].items() if n} or 'none'}")  # fmt: skip
    print(f"headline: {headline['live_orders']} live orders, {headline['units']} units, revenue {headline['revenue']}, "
          f"average order value {headline['average_order_value']}")  # fmt: skip
    print(f"simulator expected: {expected['live_orders']} live orders, {expected['units']} units, "
          f"revenue {expected['revenue']}")  # fmt: skip
    config = load_config()
    s3 = boto3.client("s3", endpoint_url=aws.tls_endpoint_url, region_name=region, verify=aws.ca_bundle)
    prefix = f"{config.reports_prefix}ds={day}/"
    target = REPORTS_DIR / f"ds={day}"
    target.mkdir(parents=True, exist_ok=True)
    for obj in s3.list_objects_v2(Bucket=config.bucket, Prefix=prefix).get("Contents", []):
        (target / obj["Key"][len(prefix) :]).write_bytes(
            s3.get_object(Bucket=config.bucket, Key=obj["Key"])["Body"].read()
        )
    print(f"report: {summary['report_uri']}, copied to {target / 'report.html'}")


def main() -> int:
    config = load_config()
    with LocalAWS(port=int(os.environ.get("LOCALAWS_PORT", "0"))) as aws:
        banner(f"localaws serving on {aws.endpoint_url} and {aws.tls_endpoint_url} (env {config.env}, {config.region})")
        with urllib.request.urlopen(f"{aws.endpoint_url}/_localaws/health") as reply:
            health = json.load(reply)
        for service, about in health["services"].items():
            extra = f" ({', '.join(about['localaws_actions'])})" if "localaws_actions" in about else ""
            print(f"  {service:16} {about['provider']}{extra}")
        point_airflow_at(aws, config.region)
        runner = QuietRunner()
        provision_twice(runner)
        show_transform(aws, config.region)
        expected = simulate_and_deliver(runner, aws, config.region)
        verify_with_canary(runner)
        refresh_catalog(runner, aws, config.region)
        run_analytics(runner, aws, config.region, expected)
    banner("demo finished: localaws stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
