"""The Firehose data plane against processors that behave and misbehave, through the AWS APIs.

Each test builds its own Kinesis stream, bucket, Lambda and KinesisStreamAsSource delivery stream
(interval 0: deliver at once), puts records into Kinesis and reads what Firehose wrote to S3.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import time
import urllib.request
import zipfile
from collections.abc import Callable
from itertools import count
from typing import Any

import pytest

from localaws import LocalAWS

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/firehose-test"
_names = count()

# Handlers: each answers the Firehose event in its own (mis)way.
HANDLERS = {
    "echo": """
import base64, json
def handler(event, context):
    # Ok: the line is what this record's entry in the event looked like, so a test can check it.
    top = {k: v for k, v in event.items() if k != "records"}
    return {"records": [{"recordId": r["recordId"], "result": "Ok",
                         "data": base64.b64encode((json.dumps({"event": top, "record": r}) + "\\n").encode()).decode()}
                        for r in event["records"]]}
""",
    "mixed": """
import base64
def handler(event, context):
    out = []
    for r in event["records"]:
        raw = base64.b64decode(r["data"])
        if raw.startswith(b"ok"):
            data = base64.b64encode(raw.upper() + b"\\n").decode()
            out.append({"recordId": r["recordId"], "result": "Ok", "data": data})
        elif raw.startswith(b"drop"):
            out.append({"recordId": r["recordId"], "result": "Dropped"})
        else:
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed"})  # no data: accepted
    return {"records": out}
""",
    "missing": """
def handler(event, context):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"][1:]]}
""",
    "duplicated": """
def handler(event, context):
    records = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]
    return {"records": records + records[:1]}
""",
    "shapeless": """
def handler(event, context):
    return {"items": []}
""",
    "raises": """
def handler(event, context):
    raise RuntimeError("boom")
""",
}


@pytest.fixture(scope="module", autouse=True)
def role(aws_client: Callable[[str], Any]) -> None:
    """The role the functions and streams name (moto's Lambda checks that it exists)."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["lambda.amazonaws.com", "firehose.amazonaws.com"]}}]}  # fmt: skip
    aws_client("iam").create_role(RoleName="firehose-test", AssumeRolePolicyDocument=json.dumps(trust))


def zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


class Delivery:
    """A Kinesis stream -> Firehose (Lambda processor) -> bucket, all of its own."""

    def __init__(self, aws_client: Callable[[str], Any], handler: str, **destination: Any) -> None:
        suffix = f"{handler}-{next(_names)}"
        self.stream, self.bucket, self.name = f"fh-src-{suffix}", f"fh-dest-{suffix}", f"fh-{suffix}"
        self.kinesis, self.s3, self.firehose = aws_client("kinesis"), aws_client("s3"), aws_client("firehose")
        self.kinesis.create_stream(StreamName=self.stream, ShardCount=1)
        self.s3.create_bucket(Bucket=self.bucket)
        function = aws_client("lambda").create_function(
            FunctionName=f"fh-fn-{suffix}", Runtime="python3.12", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": zip_of(HANDLERS[handler])},
        )  # fmt: skip
        self.function_arn = function["FunctionArn"]
        self.stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{self.stream}"
        config = {
            "RoleARN": ROLE,
            "BucketARN": f"arn:aws:s3:::{self.bucket}",
            "Prefix": "data/!{timestamp:yyyy}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "CompressionFormat": "UNCOMPRESSED",
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": self.function_arn},
                {"ParameterName": "NumberOfRetries", "ParameterValue": "1"},
            ]}]},
            **destination,
        }  # fmt: skip
        self.firehose.create_delivery_stream(
            DeliveryStreamName=self.name,
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": self.stream_arn, "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=config,
        )

    def put(self, *records: bytes) -> list[str]:
        return [
            self.kinesis.put_record(StreamName=self.stream, Data=data, PartitionKey=f"key-{i}")["SequenceNumber"]
            for i, data in enumerate(records)
        ]

    def objects(self, prefix: str) -> dict[str, bytes]:
        found = {}
        for item in self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", []):
            body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
            found[item["Key"]] = gzip.decompress(body) if item["Key"].endswith(".gz") else body
        return found

    def lines(self, prefix: str) -> list[bytes]:
        return [line for body in self.objects(prefix).values() for line in body.splitlines()]

    def wait_lines(self, prefix: str, at_least: int, timeout_s: float = 15) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while len(found := self.lines(prefix)) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {len(found)} line(s) under {prefix}, want {at_least}")
            time.sleep(0.2)
        return found


def status(localaws: LocalAWS, name: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{localaws.endpoint_url}/_localaws/firehose/{name}") as reply:
        return dict(json.loads(reply.read()))


def test_the_lambda_gets_the_firehose_transformation_event(aws_client: Callable[[str], Any]) -> None:
    delivery = Delivery(aws_client, "echo")
    (sequence,) = delivery.put(b"first record")
    (line,) = delivery.wait_lines("data/", 1)
    seen = json.loads(line)
    event, record = seen["event"], seen["record"]
    assert list(event) == ["invocationId", "deliveryStreamArn", "sourceKinesisStreamArn", "region"]
    assert event["deliveryStreamArn"] == f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{delivery.name}"
    assert (event["sourceKinesisStreamArn"], event["region"]) == (delivery.stream_arn, "us-east-1")
    assert re.fullmatch(r"[0-9a-f-]{36}", event["invocationId"])
    assert list(record) == ["recordId", "approximateArrivalTimestamp", "data", "kinesisRecordMetadata"]
    assert base64.b64decode(record["data"]) == b"first record"
    assert abs(record["approximateArrivalTimestamp"] / 1000 - time.time()) < 60  # epoch milliseconds
    assert record["kinesisRecordMetadata"] == {
        "shardId": "shardId-000000000000",
        "partitionKey": "key-0",
        "approximateArrivalTimestamp": record["approximateArrivalTimestamp"],
        "sequenceNumber": sequence,
        "subsequenceNumber": "",
    }
    (key,) = delivery.objects("data/")
    year = time.gmtime(record["approximateArrivalTimestamp"] / 1000).tm_year
    assert re.fullmatch(rf"data/{year}/{delivery.name}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}", key), key


def test_ok_dropped_and_processing_failed_each_go_their_way(
    aws_client: Callable[[str], Any], localaws: LocalAWS
) -> None:
    delivery = Delivery(aws_client, "mixed")
    delivery.put(b"ok one", b"drop me", b"bad one", b"ok two")
    assert sorted(delivery.wait_lines("data/", 2)) == [b"OK ONE", b"OK TWO"]
    (error,) = [json.loads(line) for line in delivery.wait_lines("errors/", 1)]
    assert (error["errorCode"], error["errorMessage"]) == (
        "Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record")  # fmt: skip
    assert base64.b64decode(error["rawData"]) == b"bad one"
    assert error["lambdaArn"] == delivery.function_arn
    assert all(key.startswith("errors/processing-failed/") for key in delivery.objects("errors/"))
    counters = status(localaws, delivery.name)["Counters"]
    assert counters["IncomingRecords"] == 4
    assert (counters["ProcessedOkRecords"], counters["DroppedRecords"], counters["FailedRecords"]) == (2, 1, 1)
    assert counters["DeliveredRecords"] == 2
    assert (counters["DataObjects"], counters["ErrorObjects"]) == (len(delivery.objects("data/")), 1)


@pytest.mark.parametrize(
    ("handler", "error_code", "attempts"),
    [
        ("missing", "Lambda.MissingRecordId", 1),
        ("duplicated", "Lambda.DuplicatedRecordId", 1),
        ("shapeless", "Lambda.JsonProcessingException", 1),
        ("raises", "Lambda.FunctionError", 2),  # NumberOfRetries 1: two attempts, then the error output
    ],
)
def test_a_failed_invocation_sends_its_whole_batch_to_the_error_output(
    aws_client: Callable[[str], Any], handler: str, error_code: str, attempts: int
) -> None:
    delivery = Delivery(aws_client, handler)
    delivery.put(b"one", b"two", b"three")
    errors = [json.loads(line) for line in delivery.wait_lines("errors/", 3)]
    assert sorted(base64.b64decode(e["rawData"]) for e in errors) == [b"one", b"three", b"two"]
    assert {(e["errorCode"], e["attemptsMade"]) for e in errors} == {(error_code, attempts)}
    assert delivery.lines("data/") == []


def test_gzip_and_the_default_prefixes(aws_client: Callable[[str], Any]) -> None:
    delivery = Delivery(aws_client, "mixed", Prefix="", ErrorOutputPrefix="", CompressionFormat="GZIP")
    delivery.put(b"ok gz", b"bad gz")
    delivery.wait_lines("", 2)
    keys = sorted(delivery.objects(""))
    # No Prefix: YYYY/MM/dd/HH/ (s3-prefixes.md); no ErrorOutputPrefix: processing-failed/YYYY/MM/dd/HH/.
    data_key = rf"\d{{4}}/\d\d/\d\d/\d\d/{delivery.name}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}\.gz"
    error_key = rf"processing-failed/\d{{4}}/\d\d/\d\d/\d\d/{delivery.name}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}\.gz"
    assert re.fullmatch(data_key, keys[0]) and re.fullmatch(error_key, keys[1]), keys
    assert delivery.objects(keys[0])[keys[0]] == b"OK GZ\n"
