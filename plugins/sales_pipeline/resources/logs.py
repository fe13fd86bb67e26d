"""CloudWatch log groups for Firehose delivery errors and the transform Lambda, with a retention."""

from __future__ import annotations

from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section
from sales_pipeline.resources.names import FIREHOSE_LOG_STREAM, Names

RETENTION_DAYS = 30


class LogGroup(Resource):
    kind = "log group"

    def __init__(self, clients: Clients, names: Names, group: str, streams: tuple[str, ...] = ()) -> None:
        self.logs = clients("logs")
        self.names = names
        self.name = group
        self.streams = streams

    def describe(self) -> dict[str, Any] | None:
        groups = self.logs.describe_log_groups(logGroupNamePrefix=self.name).get("logGroups", [])
        return next((g for g in groups if g["logGroupName"] == self.name), None)

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.log_group_arn(self.name)

    def create(self) -> None:
        self.logs.create_log_group(logGroupName=self.name, tags=self.names.config.tags)

    def delete(self) -> None:
        self.logs.delete_log_group(logGroupName=self.name)

    def tags(self) -> dict[str, str]:
        return dict(self.logs.list_tags_log_group(logGroupName=self.name).get("tags", {}))

    def _stream_names(self) -> list[str]:
        reply = self.logs.describe_log_streams(logGroupName=self.name)
        return sorted(s["logStreamName"] for s in reply.get("logStreams", []) if s["logStreamName"] in self.streams)

    def _create_streams(self, want: list[str]) -> None:
        for stream in set(want) - set(self._stream_names()):
            self.logs.create_log_stream(logGroupName=self.name, logStreamName=stream)

    def sections(self) -> list[Section]:
        sections = [
            Section("RetentionInDays", RETENTION_DAYS, lambda: (self.describe() or {}).get("retentionInDays"),
                    lambda want: self.logs.put_retention_policy(logGroupName=self.name, retentionInDays=want)),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.logs.tag_log_group(logGroupName=self.name, tags=want)),
        ]  # fmt: skip
        if self.streams:
            sections.append(Section("LogStreams", sorted(self.streams), self._stream_names, self._create_streams))
        return sections


def log_groups(clients: Clients, names: Names) -> list[LogGroup]:
    return [
        LogGroup(clients, names, names.firehose_log_group, (FIREHOSE_LOG_STREAM,)),
        LogGroup(clients, names, names.lambda_log_group),
    ]
