"""The end-to-end canary: one order written to DynamoDB and looked for in the data lake.

When it lands, its latency (DynamoDB write -> S3 object) is the pipeline's freshness; when it does not,
``diagnose`` walks the pipeline stage by stage and names the first one where the canary is missing.
Canary orders (``canary-`` ids) are excluded from every report.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sales_pipeline.aws import Clients, error_code
from sales_pipeline.config import PipelineConfig
from sales_pipeline.resources.names import Names

CANARY_PREFIX = "canary-"
METRIC_NAMESPACE = "SalesStream"
METRIC_NAME = "CanaryLatencySeconds"
# Scanning a stream for the diagnosis reads at most this many records a shard (the canary is recent).
SCAN_LIMIT = 20_000


def canary_orderid(run_id: str, try_number: int = 1) -> str:
    """Unique per try: a put identical to a leftover item would change nothing, and DynamoDB streams nothing."""
    return f"{CANARY_PREFIX}{run_id}-try{try_number}"


def write_canary(clients: Clients, config: PipelineConfig, orderid: str) -> float:
    """Put the canary order; return the write time (epoch seconds)."""
    written = time.time()
    clients("dynamodb").put_item(
        TableName=config.table_name,
        Item={"orderid": {"S": orderid}, "product_name": {"S": "canary"}, "quantity": {"N": "1"},
              "price": {"N": "0.01"}},
    )  # fmt: skip
    return written


def delete_canary(clients: Clients, config: PipelineConfig, orderid: str) -> None:
    clients("dynamodb").delete_item(TableName=config.table_name, Key={"orderid": {"S": orderid}})


def day_prefixes(prefix: str, since_epoch: float, until_epoch: float) -> list[str]:
    """``<prefix>year=YYYY/month=MM/day=DD/`` for every UTC day from ``since`` to ``until``."""
    day = datetime.fromtimestamp(since_epoch, UTC).date()
    last = datetime.fromtimestamp(until_epoch, UTC).date()
    days = []
    while day <= last:
        days.append(f"{prefix}year={day:%Y}/month={day:%m}/day={day:%d}/")
        day += timedelta(days=1)
    return days


def _objects_since(clients: Clients, bucket: str, prefixes: list[str], since_epoch: float) -> list[dict[str, Any]]:
    s3 = clients("s3")
    found = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            # A minute of slack: S3 timestamps have second resolution and clocks differ a little.
            found += [o for o in page.get("Contents", []) if o["LastModified"].timestamp() >= since_epoch - 60]
    return sorted(found, key=lambda o: o["LastModified"])


def _read_lines(clients: Clients, bucket: str, key: str) -> list[bytes]:
    body = clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    if body[:2] == b"\x1f\x8b":  # gzip by its magic bytes, whatever the key's extension
        body = gzip.decompress(body)
    return body.splitlines()


def find_landed(
    clients: Clients, config: PipelineConfig, orderid: str, since_epoch: float, seen: set[str] | None = None
) -> dict[str, Any] | None:
    """The canary's line in the data lake, if it is there: {key, landed_epoch, line}.

    ``seen`` collects the keys already read, so polling reads each object once.
    """
    needle = b'"orderid":' + json.dumps(orderid, ensure_ascii=False).encode()
    # Firehose files an object under the arrival hour of its OLDEST record, which can be the day before.
    prefixes = day_prefixes(config.data_prefix, since_epoch - config.buffer_interval_s - 60, time.time())
    for obj in _objects_since(clients, config.bucket, prefixes, since_epoch):
        if seen is not None and obj["Key"] in seen:
            continue
        for line in _read_lines(clients, config.bucket, obj["Key"]):
            if needle in line:
                return {"key": obj["Key"], "landed_epoch": obj["LastModified"].timestamp(), "line": line.decode()}
        if seen is not None:
            seen.add(obj["Key"])
    return None


def publish_latency(clients: Clients, config: PipelineConfig, latency_s: float) -> None:
    clients("cloudwatch").put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[{
            "MetricName": METRIC_NAME,
            "Dimensions": [{"Name": "Env", "Value": config.env}],
            "Value": latency_s,
            "Unit": "Seconds",
        }],
    )  # fmt: skip


# -- diagnosis: where did the canary stop? ------------------------------------------------------------


def diagnose(clients: Clients, names: Names, orderid: str, since_epoch: float) -> str:
    """The first stage the canary did not pass, in words an operator can act on."""
    config = names.config
    table = clients("dynamodb").describe_table(TableName=config.table_name)["Table"]
    stream_arn = table.get("LatestStreamArn") if table.get("StreamSpecification", {}).get("StreamEnabled") else None
    if stream_arn is None:
        return f"not in the stream: table {config.table_name} has no stream enabled"
    if not _in_table_stream(clients, stream_arn, orderid):
        return f"not in the stream: no change record for {orderid} in {stream_arn}"

    try:
        pipe = clients("pipes").describe_pipe(Name=config.pipe_name)
    except ClientError as err:
        if error_code(err) == "NotFoundException":
            return f"not in Kinesis: pipe {config.pipe_name} does not exist"
        raise
    if not _in_kinesis(clients, config.kinesis_stream_name, orderid, since_epoch):
        state = pipe.get("CurrentState")
        why = f"pipe {config.pipe_name} is {state}" + (f" ({pipe['StateReason']})" if pipe.get("StateReason") else "")
        return f"not in Kinesis: {why}; the change has not been put into {config.kinesis_stream_name}"

    failure = _in_error_output(clients, config, orderid, since_epoch)
    if failure:
        return f"failed in the Lambda: {failure}"
    return (
        f"not delivered: the change is in Kinesis stream {config.kinesis_stream_name} but Firehose "
        f"{config.delivery_stream_name} has not written it under s3://{config.bucket}/{config.data_prefix} "
        f"(buffer interval {config.buffer_interval_s} s)"
    )


def _in_table_stream(clients: Clients, stream_arn: str, orderid: str) -> bool:
    streams = clients("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"].get("Shards", [])
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        read = 0
        while iterator and read < SCAN_LIMIT:
            reply = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = reply.get("Records", [])
            if any(r["dynamodb"].get("Keys", {}).get("orderid", {}).get("S") == orderid for r in records):
                return True
            if not records:
                break
            read += len(records)
            iterator = reply.get("NextShardIterator")
    return False


def _in_kinesis(clients: Clients, stream_name: str, orderid: str, since_epoch: float) -> bool:
    kinesis = clients("kinesis")
    needle = json.dumps(orderid).encode()
    for shard in kinesis.list_shards(StreamName=stream_name).get("Shards", []):
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name,
            ShardId=shard["ShardId"],
            ShardIteratorType="AT_TIMESTAMP",
            Timestamp=datetime.fromtimestamp(since_epoch - 5, UTC),
        ).get("ShardIterator")
        read = 0
        while iterator and read < SCAN_LIMIT:
            reply = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records = reply.get("Records", [])
            if any(needle in record["Data"] for record in records):
                return True
            if not records or reply.get("MillisBehindLatest", 0) == 0:
                break
            read += len(records)
            iterator = reply.get("NextShardIterator")
    return False


def _in_error_output(clients: Clients, config: PipelineConfig, orderid: str, since_epoch: float) -> str | None:
    """The Lambda's verdict on the canary, read from Firehose's processing-failed error records."""
    prefixes = day_prefixes(f"{config.error_prefix}processing-failed/", since_epoch - config.buffer_interval_s - 60,
                            time.time())  # fmt: skip
    needle = json.dumps(orderid).encode()
    for obj in _objects_since(clients, config.bucket, prefixes, since_epoch):
        for line in _read_lines(clients, config.bucket, obj["Key"]):
            record = json.loads(line)
            if needle in base64.b64decode(record.get("rawData", "")):
                return f"{record.get('errorCode')}: {record.get('errorMessage')} (s3://{config.bucket}/{obj['Key']})"
    return None
