"""Provision, verify and tear down the pipeline step by step (the steps: ``pipeline_steps``)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.pipeline_steps import STEP_IDS
from sales_pipeline.resources import athena, bucket, firehose, glue, iam, kinesis, lambda_function, logs, pipe, queues
from sales_pipeline.resources import table as table_module
from sales_pipeline.resources.base import ABSENT, DELETED, REFUSED, Change, Resource, ensure, verify
from sales_pipeline.resources.names import Names


def _pipe(clients: Clients, names: Names) -> list[Resource]:
    stream_arn = table_module.Table(clients, names).stream_arn()
    # Only a dry run on a fresh account gets here without a table; its plan names the stream to come.
    return [pipe.Pipe(clients, names, stream_arn or f"<stream of table {names.config.table_name}, once created>")]


BUILDERS: dict[str, Callable[[Clients, Names], list[Resource]]] = {
    "landing_queue": lambda c, n: [queues.landing_queue(c, n)],
    "dead_letter_queue": lambda c, n: [queues.dead_letter_queue(c, n)],
    "table": lambda c, n: [table_module.Table(c, n)],
    "kinesis_stream": lambda c, n: [kinesis.KinesisStream(c, n)],
    "iam_roles": lambda c, n: list(iam.roles(c, n)),
    "log_groups": lambda c, n: list(logs.log_groups(c, n)),
    "glue_database": lambda c, n: [glue.GlueDatabase(c, n)],
    "glue_classifier": lambda c, n: [glue.JsonClassifier(c, n)],
    "bucket": lambda c, n: [bucket.Bucket(c, n)],
    "transform_function": lambda c, n: [lambda_function.TransformFunction(c, n)],
    "crawler": lambda c, n: [glue.Crawler(c, n)],
    "athena_workgroup": lambda c, n: [athena.Workgroup(c, n)],
    "pipe": _pipe,
    "delivery_stream": lambda c, n: [firehose.DeliveryStream(c, n)],
}
assert set(BUILDERS) == set(STEP_IDS), "every step needs a builder"


def resources(step_id: str, clients: Clients, names: Names) -> list[Resource]:
    return BUILDERS[step_id](clients, names)


def provision_step(step_id: str, clients: Clients, names: Names, *, dry_run: bool = False) -> list[dict[str, Any]]:
    return [
        ensure(resource, expected_tags=names.config.tags, dry_run=dry_run).as_dict()
        for resource in resources(step_id, clients, names)
    ]


def verify_step(step_id: str, clients: Clients, names: Names) -> list[str]:
    return [problem for resource in resources(step_id, clients, names) for problem in verify(resource)]


def ownership(clients: Clients, names: Names) -> dict[str, list[dict[str, Any]]]:
    """Before anything is deleted: which resources exist and carry this env's tags (read once, up front,
    so that a classifier is still recognised by the crawler that uses it)."""
    report: dict[str, list[dict[str, Any]]] = {}
    for step_id in STEP_IDS:
        report[step_id] = []
        for resource in resources(step_id, clients, names):
            exists = resource.exists()
            tags = resource.tags() if exists else {}
            ours = exists and all(tags.get(k) == v for k, v in names.config.tags.items())
            report[step_id].append({"kind": resource.kind, "name": resource.name, "exists": exists, "ours": ours})
    return report


def teardown_step(
    step_id: str, clients: Clients, names: Names, owned: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    verdicts = {(o["kind"], o["name"]): o for o in owned}
    changes = []
    for resource in resources(step_id, clients, names):
        verdict = verdicts.get((resource.kind, resource.name), {"exists": False, "ours": False})
        # A retried teardown task finds what its first attempt already deleted: that is done, not an error.
        if not verdict["exists"] or not resource.exists():
            changes.append(Change(resource.kind, resource.name, ABSENT).as_dict())
        elif not verdict["ours"]:
            detail = "not tagged " + ", ".join(f"{k}={v}" for k, v in names.config.tags.items()) + ": not ours"
            changes.append(Change(resource.kind, resource.name, REFUSED, [detail]).as_dict())
        else:
            # Ownership was settled by the snapshot: re-reading tags now would disown the classifier
            # once the crawler that vouches for it is gone.
            resource.delete()
            changes.append(Change(resource.kind, resource.name, DELETED).as_dict())
    return changes


def wait_until_ready(clients: Clients, names: Names, timeout_s: float = 600) -> None:
    for step_id in STEP_IDS:
        for resource in resources(step_id, clients, names):
            resource.wait_ready(timeout_s)


def format_table(changes: Iterable[dict[str, Any]]) -> str:
    rows = [("resource", "name / ARN", "outcome")]
    for change in changes:
        rows.append((change["kind"], change.get("arn") or change["name"], change["outcome"]))
        rows.extend(("", f"  {detail}", "") for detail in change.get("details", []))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# -- the transform Lambda, checked through the real Invoke API ----------------------------------------


def synthetic_change(names: Names, now_s: int) -> dict[str, Any]:
    """One MODIFY change as the pipe puts it into Kinesis (DESIGN.md, "Pipe -> Kinesis record")."""
    image = {"orderid": {"S": "verify-0001"}, "product_name": {"S": "Verify \"probe\" ✓"},
             "quantity": {"N": "3"}, "price": {"N": "19.990"}}  # fmt: skip
    return {
        "eventID": "0123456789abcdef0123456789abcdef",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": names.account.region,
        "eventSourceARN": f"{names.table_arn}/stream/verify",
        "dynamodb": {
            "ApproximateCreationDateTime": now_s,
            "Keys": {"orderid": {"S": "verify-0001"}},
            "NewImage": image,
            "OldImage": {**image, "quantity": {"N": "2"}},
            "SequenceNumber": "400000000000000000001",
            "SizeBytes": 120,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def expected_line(now_s: int) -> dict[str, Any]:
    return {
        "orderid": "verify-0001",
        "product_name": 'Verify "probe" ✓',
        "quantity": 3,
        "price": "19.990",  # compared as the exact JSON number text, see check_transform_function
        "event_name": "MODIFY",
        "is_deleted": False,
        "event_id": "0123456789abcdef0123456789abcdef",
        "sequence_number": "400000000000000000001".zfill(40),
        "event_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now_s)),
    }


def check_transform_function(clients: Clients, names: Names) -> list[str]:
    """Invoke the deployed function with a Firehose event and check its one output line field by field."""
    now_s = int(time.time())
    event = {
        "invocationId": "sales-stream-verify",
        "deliveryStreamArn": names.delivery_stream_arn,
        "sourceKinesisStreamArn": names.kinesis_arn,
        "region": names.account.region,
        "records": [{
            "recordId": "verify-1",
            "approximateArrivalTimestamp": now_s * 1000,
            "data": base64.b64encode(json.dumps(synthetic_change(names, now_s)).encode()).decode(),
        }],
    }  # fmt: skip
    label = f"Lambda function {names.config.transform_function_name}"
    reply = clients("lambda").invoke(FunctionName=names.config.transform_function_name, Payload=json.dumps(event))
    payload = json.loads(reply["Payload"].read())
    if reply.get("FunctionError"):
        return [f"{label}: invocation failed: {payload.get('errorType')}: {payload.get('errorMessage')}"]
    records = payload.get("records", [])
    if [r.get("recordId") for r in records] != ["verify-1"] or records[0].get("result") != "Ok":
        return [f"{label}: want one Ok record for recordId verify-1, got {records}"]
    line = base64.b64decode(records[0]["data"]).decode()
    if not line.endswith("\n") or line.count("\n") != 1:
        return [f"{label}: output is not one newline-terminated line: {line!r}"]
    got = json.loads(line, parse_float=str)
    want = expected_line(now_s)
    problems = [f"{label}: output {k} is {got.get(k)!r}, want {v!r}" for k, v in want.items() if got.get(k) != v]
    return problems
