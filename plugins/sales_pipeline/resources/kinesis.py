"""The Kinesis data stream between the pipe and Firehose: provisioned shards, KMS encryption, retention."""

from __future__ import annotations

from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section, absent_on, wait_until
from sales_pipeline.resources.names import Names

KMS_KEY = "alias/aws/kinesis"  # the AWS managed key: no key policy for producers and consumers to need


class KinesisStream(Resource):
    kind = "Kinesis stream"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.kinesis = clients("kinesis")
        self.names = names
        self.name = names.config.kinesis_stream_name

    def summary(self) -> dict[str, Any] | None:
        reply = absent_on({"ResourceNotFoundException"},
                          lambda: self.kinesis.describe_stream_summary(StreamName=self.name))  # fmt: skip
        return None if reply is None else dict(reply["StreamDescriptionSummary"])

    def exists(self) -> bool:
        return self.summary() is not None

    def arn(self) -> str:
        return self.names.kinesis_arn

    def create(self) -> None:
        self.kinesis.create_stream(
            StreamName=self.name,
            ShardCount=self.names.config.shard_count,
            StreamModeDetails={"StreamMode": "PROVISIONED"},
            Tags=self.names.config.tags,
        )
        self.wait_ready()

    def delete(self) -> None:
        self.kinesis.delete_stream(StreamName=self.name, EnforceConsumerDeletion=True)
        wait_until(lambda: not self.exists(), f"stream {self.name} to be deleted", 300)

    def tags(self) -> dict[str, str]:
        reply = self.kinesis.list_tags_for_stream(StreamName=self.name)
        return {t["Key"]: t["Value"] for t in reply.get("Tags", [])}

    def health(self) -> list[str]:
        summary = self.summary()
        if summary is None:
            return ["does not exist"]
        status = summary["StreamStatus"]
        return [] if status == "ACTIVE" else [f"StreamStatus is {status}, not ACTIVE"]

    def _updated(self, call: Any, **kwargs: Any) -> None:
        """Kinesis takes one update at a time: each waits for the stream to be ACTIVE again."""
        call(StreamName=self.name, **kwargs)
        self.wait_ready()

    def _reshard(self, want: int) -> None:
        """UpdateShardCount may at most double or halve the open shards per call: hop there."""
        current = int((self.summary() or {}).get("OpenShardCount", want))
        while current != want:
            step = min(want, current * 2) if want > current else max(want, -(-current // 2))
            self._updated(self.kinesis.update_shard_count, TargetShardCount=step, ScalingType="UNIFORM_SCALING")
            current = step

    def _write_retention(self, want: int) -> None:
        current = (self.summary() or {}).get("RetentionPeriodHours", 24)
        change = self.kinesis.increase_stream_retention_period if want > current else (
            self.kinesis.decrease_stream_retention_period)  # fmt: skip
        self._updated(change, RetentionPeriodHours=want)

    def sections(self) -> list[Section]:
        def read(field: str) -> Any:
            return lambda: (self.summary() or {}).get(field)

        return [
            Section("OpenShardCount", self.names.config.shard_count, read("OpenShardCount"), self._reshard),
            Section("EncryptionType", "KMS", read("EncryptionType"),
                    lambda _want: self._updated(self.kinesis.start_stream_encryption,
                                                EncryptionType="KMS", KeyId=KMS_KEY)),
            Section("RetentionPeriodHours", self.names.config.kinesis_retention_hours, read("RetentionPeriodHours"),
                    self._write_retention),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.kinesis.add_tags_to_stream(StreamName=self.name, Tags=want)),
        ]  # fmt: skip
