"""The EventBridge Pipe: DynamoDB stream -> Kinesis, in batches, with bounded retries and a DLQ."""

from __future__ import annotations

from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section, absent_on, retry_while, wait_until
from sales_pipeline.resources.names import Names

PARTITION_KEY = "$.dynamodb.Keys.orderid.S"  # all changes of one order stay in order on one shard
# Older records go to the DLQ while the 24 h stream retention still lets the DLQ pointer be read.
MAX_RECORD_AGE_S = 12 * 3600
UNUSABLE_STATES = {"CREATE_FAILED", "CREATE_ROLLBACK_FAILED", "DELETE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED"}


def source_parameters(names: Names) -> dict[str, Any]:
    config = names.config
    return {
        "DynamoDBStreamParameters": {
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": config.pipe_batch_size,
            "MaximumBatchingWindowInSeconds": config.pipe_batching_window_s,
            "MaximumRetryAttempts": config.pipe_max_retry_attempts,
            "MaximumRecordAgeInSeconds": MAX_RECORD_AGE_S,
            "DeadLetterConfig": {"Arn": names.dlq_arn},
        }
    }


def settings(names: Names) -> dict[str, Any]:
    return {
        "RoleArn": names.role_arn("pipe"),
        "Target": names.kinesis_arn,
        "DesiredState": "RUNNING",
        "Description": f"sales-stream {names.config.env}: order changes into Kinesis",
        "SourceParameters": source_parameters(names),
        "TargetParameters": {"KinesisStreamParameters": {"PartitionKey": PARTITION_KEY}},
    }


class Pipe(Resource):
    kind = "EventBridge pipe"

    def __init__(self, clients: Clients, names: Names, stream_arn: str) -> None:
        self.pipes = clients("pipes")
        self.names = names
        self.name = names.config.pipe_name
        self.stream_arn = stream_arn

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"NotFoundException"}, lambda: self.pipes.describe_pipe(Name=self.name))
        return None if reply is None else dict(reply)

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.pipe_arn

    def create(self) -> None:
        want = settings(self.names)
        # A just-created role may not be assumable yet; AWS then answers ValidationException.
        retry_while(
            {"ValidationException"},
            lambda: self.pipes.create_pipe(Name=self.name, Source=self.stream_arn, Tags=self.names.config.tags, **want),
            timeout_s=60,
        )
        self.wait_ready()

    def delete(self) -> None:
        self.pipes.delete_pipe(Name=self.name)
        wait_until(lambda: not self.exists(), f"pipe {self.name} to be deleted", 300)

    def tags(self) -> dict[str, str]:
        return dict(self.pipes.list_tags_for_resource(resourceArn=self.names.pipe_arn).get("tags", {}))

    def health(self) -> list[str]:
        pipe = self.describe()
        if pipe is None:
            return ["does not exist"]
        if pipe.get("CurrentState") == "RUNNING":
            return []
        reason = pipe.get("StateReason")
        return [f"CurrentState is {pipe.get('CurrentState')}, not RUNNING" + (f" ({reason})" if reason else "")]

    def _rebuild(self, _want: str) -> None:
        """The source of a pipe cannot change (a re-enabled table stream has a new ARN): replace the pipe."""
        self.delete()
        self.create()

    def _update(self, want: dict[str, Any]) -> None:
        update = {**want, "SourceParameters": {"DynamoDBStreamParameters": {
            k: v for k, v in want["SourceParameters"]["DynamoDBStreamParameters"].items()
            if k != "StartingPosition"  # fixed at creation: UpdatePipe does not take it
        }}}  # fmt: skip
        self.pipes.update_pipe(Name=self.name, **update)
        self.wait_ready()

    def _usable(self) -> str:
        """CREATE_FAILED and the *_ROLLBACK_FAILED states cannot be updated out of: the pipe is rebuilt."""
        state = (self.describe() or {}).get("CurrentState", "")
        return state if state in UNUSABLE_STATES else "usable"

    def sections(self) -> list[Section]:
        return [
            Section("CurrentState", "usable", self._usable, self._rebuild),
            Section("Source", self.stream_arn, lambda: (self.describe() or {}).get("Source"), self._rebuild),
            Section("Settings", settings(self.names), lambda: self.describe() or {}, self._update),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.pipes.tag_resource(resourceArn=self.names.pipe_arn, tags=want)),
        ]  # fmt: skip

    def wait_ready(self, timeout_s: float = 600) -> None:
        def settled() -> bool:
            state = (self.describe() or {}).get("CurrentState", "")
            if state.endswith("_FAILED"):
                raise RuntimeError(f"pipe {self.name} is {state}: {(self.describe() or {}).get('StateReason')}")
            return state == "RUNNING"

        wait_until(settled, f"pipe {self.name} to be RUNNING", timeout_s, self.health)
