"""`make demo`: start the embedded local AWS, point Airflow's aws_default at it, and run the project's
jobs against it, printing what a user would look at.

Each step is a real call through the AWS APIs; the steps grow as the DAGs land.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import boto3
from sales_pipeline.config import load_config

from localaws import LocalAWS

REPO = Path(__file__).resolve().parents[1]
LAMBDA_SOURCE = REPO / "include" / "lambda" / "sales_transform.py"


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def point_airflow_at(aws: LocalAWS, region: str) -> None:
    """aws_default for every DAG run in this process; fake credentials, so no real account is touched."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "localaws",
            "AWS_SECRET_ACCESS_KEY": "localaws",
            "AWS_DEFAULT_REGION": region,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {"conn_type": "aws", "extra": {"endpoint_url": aws.endpoint_url, "region_name": region}}
            ),
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


def run_transform_lambda(aws: LocalAWS, region: str) -> None:
    banner("Firehose transformation Lambda, deployed to localaws and invoked through the Lambda API")
    iam = boto3.client("iam", endpoint_url=aws.endpoint_url, region_name=region)
    lambda_client = boto3.client("lambda", endpoint_url=aws.endpoint_url, region_name=region)
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    role = iam.create_role(RoleName="demo-transform", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(LAMBDA_SOURCE, "sales_transform.py")
    lambda_client.create_function(
        FunctionName="demo-transform", Runtime="python3.12", Role=role, Handler="sales_transform.handler",
        Code={"ZipFile": package.getvalue()},
    )  # fmt: skip
    reply = lambda_client.invoke(FunctionName="demo-transform", Payload=json.dumps(sample_firehose_event(region)))
    result = json.loads(reply["Payload"].read())
    if reply.get("FunctionError"):
        raise SystemExit(f"the transform Lambda failed: {result}")
    for record in result["records"]:
        line = base64.b64decode(record["data"]).decode() if record["result"] == "Ok" else "-"
        print(f"{record['recordId']:8} {record['result']:16} {line}", end="" if line.endswith("\n") else "\n")


def main() -> int:
    config = load_config()
    with LocalAWS(port=int(os.environ.get("LOCALAWS_PORT", "0"))) as aws:
        banner(f"localaws serving on {aws.endpoint_url} (env {config.env}, region {config.region})")
        with urllib.request.urlopen(f"{aws.endpoint_url}/_localaws/health") as reply:
            health = json.load(reply)
        for service, about in health["services"].items():
            extra = f" ({', '.join(about['localaws_actions'])})" if "localaws_actions" in about else ""
            print(f"  {service:16} {about['provider']}{extra}")
        point_airflow_at(aws, config.region)
        run_transform_lambda(aws, config.region)
    banner("demo finished: localaws stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
