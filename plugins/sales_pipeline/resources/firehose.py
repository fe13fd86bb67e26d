"""The Firehose delivery stream: reads Kinesis, transforms with the Lambda, writes GZIP JSON lines to S3.

Firehose's own server-side encryption applies only to Direct PUT streams; with a Kinesis source the
records are encrypted at rest by the Kinesis stream (KMS) and in S3 by the bucket's default encryption.
"""

from __future__ import annotations

from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section, absent_on, retry_while, wait_until
from sales_pipeline.resources.names import FIREHOSE_LOG_STREAM, Names

HOUR_PARTITIONS = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
LAMBDA_RETRIES = "3"
# Records handed to one Lambda invocation; 1 MB keeps request and response far below Lambda's 6 MB.
LAMBDA_BUFFER_MB = "1"


def processor_parameters(names: Names) -> dict[str, str]:
    return {"LambdaArn": names.function_arn, "NumberOfRetries": LAMBDA_RETRIES, "BufferSizeInMBs": LAMBDA_BUFFER_MB}


def destination(names: Names) -> dict[str, Any]:
    """ExtendedS3 destination, with the processor's parameters as a dict (AWS may list them in any order)."""
    config = names.config
    return {
        "RoleARN": names.role_arn("firehose"),
        "BucketARN": names.bucket_arn,
        "Prefix": f"{config.data_prefix}{HOUR_PARTITIONS}",
        "ErrorOutputPrefix": f"{config.error_prefix}!{{firehose:error-output-type}}/{HOUR_PARTITIONS}",
        "BufferingHints": {"SizeInMBs": config.buffer_size_mb, "IntervalInSeconds": config.buffer_interval_s},
        "CompressionFormat": "GZIP",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},  # the bucket's SSE-S3 applies
        "CloudWatchLoggingOptions": {
            "Enabled": True,
            "LogGroupName": names.firehose_log_group,
            "LogStreamName": FIREHOSE_LOG_STREAM,
        },
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [{"Type": "Lambda", "Parameters": processor_parameters(names)}],
        },
        "S3BackupMode": "Disabled",
    }


def source(names: Names) -> dict[str, str]:
    return {"KinesisStreamARN": names.kinesis_arn, "RoleARN": names.role_arn("firehose")}


def to_api(want: dict[str, Any]) -> dict[str, Any]:
    processors = [
        {
            "Type": p["Type"],
            "Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in p["Parameters"].items()],
        }
        for p in want["ProcessingConfiguration"]["Processors"]
    ]
    return {**want, "ProcessingConfiguration": {**want["ProcessingConfiguration"], "Processors": processors}}


def from_api(described: dict[str, Any]) -> dict[str, Any]:
    processing = described.get("ProcessingConfiguration", {})
    processors = [
        {
            "Type": p.get("Type"),
            "Parameters": {q["ParameterName"]: q["ParameterValue"] for q in p.get("Parameters", [])},
        }
        for p in processing.get("Processors", [])
    ]
    return {**described, "ProcessingConfiguration": {**processing, "Processors": processors}}


class DeliveryStream(Resource):
    kind = "Firehose stream"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.firehose = clients("firehose")
        self.names = names
        self.name = names.config.delivery_stream_name

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"ResourceNotFoundException"},
                          lambda: self.firehose.describe_delivery_stream(DeliveryStreamName=self.name))  # fmt: skip
        return None if reply is None else dict(reply["DeliveryStreamDescription"])

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.delivery_stream_arn

    def create(self) -> None:
        # Firehose checks that it can assume the role; a just-created role may need a moment.
        retry_while(
            {"InvalidArgumentException"},
            lambda: self.firehose.create_delivery_stream(
                DeliveryStreamName=self.name,
                DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration=source(self.names),
                ExtendedS3DestinationConfiguration=to_api(destination(self.names)),
                Tags=[{"Key": k, "Value": v} for k, v in self.names.config.tags.items()],
            ),
            timeout_s=60,
        )
        self.wait_ready()

    def delete(self) -> None:
        self.firehose.delete_delivery_stream(DeliveryStreamName=self.name)
        wait_until(lambda: not self.exists(), f"delivery stream {self.name} to be deleted", 600)

    def tags(self) -> dict[str, str]:
        reply = self.firehose.list_tags_for_delivery_stream(DeliveryStreamName=self.name)
        return {t["Key"]: t["Value"] for t in reply.get("Tags", [])}

    def health(self) -> list[str]:
        stream = self.describe()
        if stream is None:
            return ["does not exist"]
        status = stream["DeliveryStreamStatus"]
        return [] if status == "ACTIVE" else [f"DeliveryStreamStatus is {status}, not ACTIVE"]

    def _read_source(self) -> Any:
        described = (self.describe() or {}).get("Source", {}).get("KinesisStreamSourceDescription", {})
        return {k: described.get(k) for k in ("KinesisStreamARN", "RoleARN")}

    def _read_destination(self) -> Any:
        destinations = (self.describe() or {}).get("Destinations", [])
        return from_api(destinations[0].get("ExtendedS3DestinationDescription", {})) if destinations else None

    def _rebuild(self, _want: Any) -> None:
        """A delivery stream's source cannot be updated: replace the stream."""
        self.delete()
        self.create()

    def _update_destination(self, want: dict[str, Any]) -> None:
        stream = self.describe() or {}
        self.firehose.update_destination(
            DeliveryStreamName=self.name,
            CurrentDeliveryStreamVersionId=stream["VersionId"],
            DestinationId=stream["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate=to_api(want),
        )
        self.wait_ready()

    def sections(self) -> list[Section]:
        return [
            Section("Source", source(self.names), self._read_source, self._rebuild),
            Section("Destination", destination(self.names), self._read_destination, self._update_destination),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.firehose.tag_delivery_stream(
                        DeliveryStreamName=self.name, Tags=[{"Key": k, "Value": v} for k, v in want.items()])),
        ]  # fmt: skip
