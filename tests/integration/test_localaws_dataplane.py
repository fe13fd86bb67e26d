"""The streaming data plane end to end: DynamoDB -> Pipe -> Kinesis -> Firehose (+ Lambda) -> S3 -> SQS.

The whole pipeline of env ``dataplane`` is provisioned once for the module with the project's own
provisioning steps; the tests then write to DynamoDB (and, for a bad record, to Kinesis) through
boto3 over HTTPS and assert what a user would see: lines in the S3 objects, messages in the queues,
records in Kinesis, answers of the APIs.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS
from sales_pipeline.aws import Account, Clients
from sales_pipeline.config import PipelineConfig, load_config
from sales_pipeline.pipeline import provision_step
from sales_pipeline.pipeline_steps import STEP_IDS
from sales_pipeline.resources.names import Names
from tests.integration.conftest import REGION, REPO

ACCOUNT = "123456789012"
WAIT_S = 30
# <prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz, the prefix's hour partitions expanded.
DATA_KEY = re.compile(
    r"^sales/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/"
    r"sales-stream-dataplane-to-s3-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.gz$"
)


@pytest.fixture(scope="module")
def pipeline(localaws: LocalAWS) -> Names:
    config = load_config(
        {"env": "dataplane", "buffer_interval_s": 1, "pipe_batching_window_s": 0},
        environ={},
        variable_reader=lambda: None,
    )
    clients = Clients.from_session(REGION, localaws.tls_endpoint_url, localaws.ca_bundle)
    names = Names(config, Account(ACCOUNT, REGION))
    for step_id in STEP_IDS:
        provision_step(step_id, clients, names)
    return names


@pytest.fixture(scope="module")
def config(pipeline: Names) -> PipelineConfig:
    return pipeline.config


@pytest.fixture
def faults(localaws: LocalAWS) -> Iterator[Callable[..., dict[str, Any]]]:
    def set_faults(**settings: Any) -> dict[str, Any]:
        return post_json(f"{localaws.endpoint_url}/_localaws/faults", settings)

    yield set_faults
    set_faults(redelivery_fraction=0.0)


# -- helpers ----------------------------------------------------------------------------------------------


def post_json(url: str, document: Any) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST")
    with urllib.request.urlopen(request) as reply:
        return dict(json.loads(reply.read()))


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url) as reply:
        return dict(json.loads(reply.read()))


class Lake:
    """The objects under one prefix of the bucket, read once each and gunzipped."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.objects: dict[str, list[bytes]] = {}

    def refresh(self) -> None:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                if item["Key"] not in self.objects:
                    body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                    self.objects[item["Key"]] = gzip.decompress(body).splitlines()

    def lines(self, where: Callable[[dict[str, Any]], bool] = lambda _line: True) -> list[dict[str, Any]]:
        self.refresh()
        found = [json.loads(raw) for lines in self.objects.values() for raw in lines]
        return [line for line in found if where(line)]

    def raw_lines(self, where: Callable[[dict[str, Any]], bool]) -> list[bytes]:
        self.refresh()
        return [raw for lines in self.objects.values() for raw in lines if where(json.loads(raw))]


def pipe_status(localaws: LocalAWS, name: str) -> dict[str, Any] | None:
    """The pipe's data-plane status, or None while no worker serves it."""
    try:
        return get_json(f"{localaws.endpoint_url}/_localaws/pipes/{name}")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def of_orders(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda line: str(line.get("orderid", "")).startswith(prefix)


def order(orderid: str, quantity: int = 1) -> dict[str, Any]:
    return {"orderid": {"S": orderid}, "product_name": {"S": "Widget"}, "quantity": {"N": str(quantity)},
            "price": {"N": "9.90"}}  # fmt: skip


def batch_write(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={table: requests})


# -- the tests --------------------------------------------------------------------------------------------


def test_every_change_lands_exactly_once_with_its_event_name(
    aws_client: Callable[[str], Any], config: PipelineConfig
) -> None:
    ddb = aws_client("dynamodb")
    inserts, updates, deletes = 60, 20, 10
    batch_write(ddb, config.table_name, [order(f"once-{i:03d}") for i in range(inserts)])
    for i in range(updates):
        ddb.update_item(TableName=config.table_name, Key={"orderid": {"S": f"once-{i:03d}"}},
                        UpdateExpression="SET quantity = :q", ExpressionAttributeValues={":q": {"N": "7"}})  # fmt: skip
    for i in range(inserts - deletes, inserts):
        ddb.delete_item(TableName=config.table_name, Key={"orderid": {"S": f"once-{i:03d}"}})

    lake = Lake(aws_client("s3"), config.bucket, config.data_prefix)
    total = inserts + updates + deletes
    wait_for(lambda: len(lake.lines(of_orders("once-"))) >= total, f"{total} lines")
    time.sleep(1.5)  # one more buffering interval: nothing else may arrive
    lines = lake.lines(of_orders("once-"))

    assert len(lines) == total
    assert Counter(line["event_name"] for line in lines) == {"INSERT": inserts, "MODIFY": updates, "REMOVE": deletes}
    assert len({line["event_id"] for line in lines}) == total  # no duplicates
    modified = [line for line in lines if line["event_name"] == "MODIFY"]
    assert {line["quantity"] for line in modified} == {7}
    removed = [line for line in lines if line["event_name"] == "REMOVE"]
    assert all(line["is_deleted"] is True for line in removed)
    assert all(DATA_KEY.match(key) for key in lake.objects), list(lake.objects)


def test_kinesis_gets_each_change_as_pipes_delivers_it_keyed_and_in_order(
    aws_client: Callable[[str], Any], pipeline: Names
) -> None:
    config = pipeline.config
    ddb, kinesis = aws_client("dynamodb"), aws_client("kinesis")
    ddb.put_item(TableName=config.table_name, Item=order("shape-1"))
    ddb.update_item(TableName=config.table_name, Key={"orderid": {"S": "shape-1"}},
                    UpdateExpression="SET quantity = :q", ExpressionAttributeValues={":q": {"N": "2"}})  # fmt: skip
    ddb.delete_item(TableName=config.table_name, Key={"orderid": {"S": "shape-1"}})
    stream_arn = ddb.describe_table(TableName=config.table_name)["Table"]["LatestStreamArn"]

    def changes() -> list[tuple[dict[str, Any], dict[str, Any]]]:
        found = []
        for shard in kinesis.list_shards(StreamName=config.kinesis_stream_name)["Shards"]:
            iterator = kinesis.get_shard_iterator(StreamName=config.kinesis_stream_name, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
            for record in kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]:
                change = json.loads(record["Data"])
                if change["dynamodb"]["Keys"]["orderid"]["S"] == "shape-1":
                    found.append((record, change))
        return found

    wait_for(lambda: len(changes()) >= 3, "three Kinesis records")
    found = changes()
    assert [change["eventName"] for _, change in found] == ["INSERT", "MODIFY", "REMOVE"]  # one shard, in order
    assert {record["PartitionKey"] for record, _ in found} == {"shape-1"}  # $.dynamodb.Keys.orderid.S
    sequence = [int(change["dynamodb"]["SequenceNumber"]) for _, change in found]
    assert sequence == sorted(sequence)

    insert, modify, remove = (change for _, change in found)
    assert list(insert) == ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                            "eventSourceARN"]  # fmt: skip
    assert insert["eventSourceARN"] == stream_arn
    assert (insert["eventSource"], insert["awsRegion"], insert["eventVersion"]) == ("aws:dynamodb", REGION, "1.1")
    assert re.fullmatch(r"[0-9a-f]{32}", insert["eventID"])
    body = insert["dynamodb"]
    assert list(body) == ["ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber", "SizeBytes",
                          "StreamViewType"]  # fmt: skip
    assert isinstance(body["ApproximateCreationDateTime"], int)
    assert abs(body["ApproximateCreationDateTime"] - time.time()) < 120
    assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert body["NewImage"] == order("shape-1")
    assert modify["dynamodb"]["OldImage"]["quantity"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["quantity"] == {"N": "2"}
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["OldImage"]["quantity"] == {"N": "2"}


def test_data_objects_notify_the_landing_queue(aws_client: Callable[[str], Any], config: PipelineConfig) -> None:
    aws_client("dynamodb").put_item(TableName=config.table_name, Item=order("notify-1"))
    lake = Lake(aws_client("s3"), config.bucket, config.data_prefix)
    wait_for(lambda: bool(lake.lines(of_orders("notify-"))), "the line to land")
    key = next(key for key, lines in lake.objects.items() if any(b'"notify-1"' in line for line in lines))

    sqs = aws_client("sqs")
    url = sqs.get_queue_url(QueueName=config.landing_queue_name)["QueueUrl"]
    keys: list[str] = []

    def notified() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for record in json.loads(message["Body"]).get("Records", []):
                assert record["eventName"] == "ObjectCreated:Put"
                keys.append(unquote_plus(record["s3"]["object"]["key"]))
        return key in keys

    wait_for(notified, f"an ObjectCreated message for {key}", timeout_s=10)
    assert all(k.startswith(config.data_prefix) for k in keys)  # the notification filters on the data prefix


def test_a_record_the_lambda_cannot_read_lands_under_processing_failed(
    aws_client: Callable[[str], Any], pipeline: Names, localaws: LocalAWS
) -> None:
    config = pipeline.config
    bad = b"this is not a stream change " + str(time.time()).encode()
    aws_client("kinesis").put_record(StreamName=config.kinesis_stream_name, Data=bad, PartitionKey="bad-record")
    errors = Lake(aws_client("s3"), config.bucket, f"{config.error_prefix}processing-failed/")
    raw = base64.b64encode(bad).decode()
    wait_for(lambda: bool(errors.lines(lambda line: line.get("rawData") == raw)), "the error record")

    (line,) = errors.lines(lambda line: line.get("rawData") == raw)
    assert list(line) == ["attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp",
                          "rawData", "lambdaArn", "lambdaARN"]  # fmt: skip
    assert line["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert line["attemptsMade"] == 1
    assert line["lambdaArn"] == line["lambdaARN"] == pipeline.function_arn
    assert line["arrivalTimestamp"] <= line["attemptEndingTimestamp"]
    key = next(key for key in errors.objects if any(raw.encode() in item for item in errors.objects[key]))
    error_key = (r"^errors/processing-failed/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/"
                 r"sales-stream-dataplane-to-s3-\d+-[\d-]{19}-[0-9a-f-]{36}\.gz$")  # fmt: skip
    assert re.match(error_key, key), key
    status = get_json(f"{localaws.endpoint_url}/_localaws/firehose/{config.delivery_stream_name}")
    assert status["Counters"]["FailedRecords"] >= 1 and status["Counters"]["ErrorObjects"] >= 1


def test_a_stopped_pipe_moves_nothing_and_loses_nothing_once_started(
    aws_client: Callable[[str], Any], config: PipelineConfig, localaws: LocalAWS
) -> None:
    pipes, ddb = aws_client("pipes"), aws_client("dynamodb")
    lake = Lake(aws_client("s3"), config.bucket, config.data_prefix)
    pipes.stop_pipe(Name=config.pipe_name)
    assert pipes.describe_pipe(Name=config.pipe_name)["CurrentState"] == "STOPPED"
    try:
        batch_write(ddb, config.table_name, [order(f"paused-{i:02d}") for i in range(30)])
        time.sleep(2.5)  # more than the buffering interval and many polls
        assert lake.lines(of_orders("paused-")) == []
        status = get_json(f"{localaws.endpoint_url}/_localaws/pipes/{config.pipe_name}")
        assert status["State"] == "STOPPED"
    finally:
        pipes.start_pipe(Name=config.pipe_name)
    wait_for(lambda: len(lake.lines(of_orders("paused-"))) >= 30, "30 lines after the restart")
    time.sleep(1.5)
    lines = lake.lines(of_orders("paused-"))
    assert sorted(line["orderid"] for line in lines) == [f"paused-{i:02d}" for i in range(30)]


def test_redelivered_batches_are_exact_copies_and_every_change_lands(
    aws_client: Callable[[str], Any],
    config: PipelineConfig,
    faults: Callable[..., dict[str, Any]],
    localaws: LocalAWS,
) -> None:
    switch = faults(redelivery_fraction=0.5, seed=7)
    assert (switch["redelivery_fraction"], switch["seed"], switch["stages"]) == (0.5, 7, ["pipe", "firehose"])
    ddb = aws_client("dynamodb")
    for round_ in range(8):  # several pipe batches and several objects, each a coin toss
        batch_write(ddb, config.table_name, [order(f"again-{round_}-{i}") for i in range(5)])
        time.sleep(0.3)
    lake = Lake(aws_client("s3"), config.bucket, config.data_prefix)
    wanted = {f"again-{round_}-{i}" for round_ in range(8) for i in range(5)}
    wait_for(lambda: {line["orderid"] for line in lake.lines(of_orders("again-"))} == wanted, "every order")
    time.sleep(1.5)
    redelivered = faults(redelivery_fraction=0.0)["redelivered_batches"]

    raw = lake.raw_lines(of_orders("again-"))
    by_event: dict[str, set[bytes]] = {}
    for line in raw:
        by_event.setdefault(json.loads(line)["event_id"], set()).add(line)
    assert len(by_event) == len(wanted)  # one change per order...
    assert all(len(copies) == 1 for copies in by_event.values())  # ...and every copy byte for byte the same
    assert len(raw) > len(wanted)  # there were duplicates
    assert redelivered["pipe"] > 0 and redelivered["firehose"] > 0
    assert get_json(f"{localaws.endpoint_url}/_localaws/faults")["redelivery_fraction"] == 0.0


def test_the_fault_switch_refuses_what_it_cannot_apply(localaws: LocalAWS) -> None:
    for bad in ({"redelivery_fraction": 1.5}, {"redelivery_fraction": "half"}, {"seed": "x"},
                {"stages": ["kinesis"]}, {"fraction": 0.1}):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as caught:
            post_json(f"{localaws.endpoint_url}/_localaws/faults", bad)
        assert caught.value.code == 400
        assert json.loads(caught.value.read())["message"]
    assert get_json(f"{localaws.endpoint_url}/_localaws/faults")["redelivery_fraction"] == 0.0


def test_exhausted_retries_are_described_to_the_dead_letter_queue(
    aws_client: Callable[[str], Any], pipeline: Names, localaws: LocalAWS
) -> None:
    config = pipeline.config
    ddb, pipes, sqs = aws_client("dynamodb"), aws_client("pipes"), aws_client("sqs")
    stream_arn = ddb.describe_table(TableName=config.table_name)["Table"]["LatestStreamArn"]
    name = "dataplane-to-nowhere"
    arn = pipes.create_pipe(
        Name=name,
        Source=stream_arn,
        Target=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/no-such-stream",
        RoleArn=pipeline.role_arn("pipe"),
        SourceParameters={"DynamoDBStreamParameters": {
            "StartingPosition": "LATEST", "BatchSize": 10, "MaximumRetryAttempts": 1,
            "DeadLetterConfig": {"Arn": pipeline.dlq_arn}}},
        TargetParameters={"KinesisStreamParameters": {"PartitionKey": "$.dynamodb.Keys.orderid.S"}},
    )["Arn"]  # fmt: skip
    url = sqs.get_queue_url(QueueName=config.dlq_name)["QueueUrl"]
    try:
        wait_for(lambda: bool((pipe_status(localaws, name) or {}).get("Checkpoints")),
                 "the LATEST position to be taken", timeout_s=5)  # fmt: skip
        ddb.put_item(TableName=config.table_name, Item=order("lost-1"))
        messages: list[dict[str, Any]] = []

        def dead_lettered() -> bool:
            messages.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
            return bool(messages)

        wait_for(dead_lettered, "a dead-letter message", timeout_s=10)
    finally:
        pipes.delete_pipe(Name=name)
    message = json.loads(messages[0]["Body"])
    assert list(message) == ["context", "version", "timestamp", "DDBStreamBatchInfo"]
    assert message["context"] == {"partnerResourceArn": arn, "condition": "RetryAttemptsExhausted"}
    assert message["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", message["timestamp"])
    info = message["DDBStreamBatchInfo"]
    assert list(info) == ["shardId", "startSequenceNumber", "endSequenceNumber", "approximateArrivalOfFirstRecord",
                          "approximateArrivalOfLastRecord", "batchSize", "streamArn"]  # fmt: skip
    assert (info["batchSize"], info["streamArn"]) == (1, stream_arn)
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    # The DLQ says where the record is, and GetRecords can still read it there.
    streams = aws_client("dynamodbstreams")
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=info["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=info["startSequenceNumber"])["ShardIterator"]  # fmt: skip
    record = streams.get_records(ShardIterator=iterator, Limit=1)["Records"][0]
    assert record["dynamodb"]["Keys"]["orderid"]["S"] == "lost-1"
    # The deleted pipe's worker ends.
    wait_for(lambda: pipe_status(localaws, name) is None, "the deleted pipe's worker to end", timeout_s=5)


def test_firehose_refuses_direct_writes_to_a_kinesis_sourced_stream(
    aws_client: Callable[[str], Any], pipeline: Names
) -> None:
    firehose = aws_client("firehose")
    name = pipeline.config.delivery_stream_name
    for call in (lambda: firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x"}),
                 lambda: firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}])):  # fmt: skip
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "InvalidArgumentException", 400)  # fmt: skip
        assert error["Message"] == "This operation is not permitted on KinesisStreamAsSource delivery stream type."
    source = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Source"]
    started = source["KinesisStreamSourceDescription"]["DeliveryStartTimestamp"].timestamp()
    assert time.time() - 600 < started <= time.time()  # the stream's creation, in this module's fixture


def test_firehose_direct_put_streams_still_take_records(aws_client: Callable[[str], Any]) -> None:
    s3, firehose = aws_client("s3"), aws_client("firehose")
    s3.create_bucket(Bucket="dataplane-direct-put")
    firehose.create_delivery_stream(
        DeliveryStreamName="dataplane-direct",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": f"arn:aws:iam::{ACCOUNT}:role/r",
                                            "BucketARN": "arn:aws:s3:::dataplane-direct-put"},
    )  # fmt: skip
    assert firehose.put_record(DeliveryStreamName="dataplane-direct", Record={"Data": b"hello\n"})["RecordId"]
    with pytest.raises(ClientError) as caught:
        firehose.put_record(DeliveryStreamName="no-such-stream", Record={"Data": b"x"})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_no_worker_thread_outlives_localaws_and_the_fault_switch_is_set_at_start() -> None:
    # In a process of its own: here the session's LocalAWS already runs the (process-wide) workers.
    script = (
        "import json, threading, time, urllib.request\n"
        "from localaws import LocalAWS\n"
        "with LocalAWS(port=0, redelivery_fraction=0.25, redelivery_seed=3) as aws:\n"
        "    time.sleep(0.5)\n"
        "    switch = json.load(urllib.request.urlopen(aws.endpoint_url + '/_localaws/faults'))\n"
        "    assert (switch['redelivery_fraction'], switch['seed']) == (0.25, 3), switch\n"
        "    assert any(t.name == 'localaws-pipes' for t in threading.enumerate())\n"
        "    assert any(t.name == 'localaws-firehose' for t in threading.enumerate())\n"
        "left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]\n"
        "assert left == [], left\n"
    )
    env_path = f"{REPO / 'plugins'}:{REPO}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
