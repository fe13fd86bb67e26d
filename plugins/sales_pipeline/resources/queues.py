"""SQS: the pipe's dead-letter queue and the landing queue S3 notifies when data lands."""

from __future__ import annotations

import json
from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Exact, Resource, Section, absent_on
from sales_pipeline.resources.names import Names

FOURTEEN_DAYS_S = 14 * 24 * 3600


def dlq_attributes() -> dict[str, Any]:
    # SSE-SQS: encrypted at rest with no key policy for the pipe to need.
    return {"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": str(FOURTEEN_DAYS_S)}


def landing_policy(names: Names) -> dict[str, Any]:
    """Only this env's bucket, in this account, may send to the landing queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyThisBucketNotifies",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": names.landing_queue_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": names.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": names.account.account_id},
                },
            }
        ],
    }


def landing_attributes(names: Names) -> dict[str, Any]:
    # SSE-SQS, not SSE-KMS with the AWS managed key: S3 cannot publish to a queue encrypted with aws/sqs.
    return {
        "SqsManagedSseEnabled": "true",
        "MessageRetentionPeriod": str(4 * 24 * 3600),
        "Policy": Exact(landing_policy(names)),
    }


class Queue(Resource):
    kind = "SQS queue"

    def __init__(self, clients: Clients, names: Names, queue_name: str, attributes: dict[str, Any]) -> None:
        self.sqs = clients("sqs")
        self.names = names
        self.name = queue_name
        self.want_attributes = attributes
        self._known_url: str | None = None

    def _url(self) -> str | None:
        if self._known_url is None:
            reply = absent_on({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"},
                              lambda: self.sqs.get_queue_url(QueueName=self.name))  # fmt: skip
            self._known_url = None if reply is None else str(reply["QueueUrl"])
        return self._known_url

    def exists(self) -> bool:
        return self._url() is not None

    def arn(self) -> str:
        return self.names.queue_arn(self.name)

    def create(self) -> None:
        attributes = {k: json.dumps(v.value) if isinstance(v, Exact) else v for k, v in self.want_attributes.items()}
        self.sqs.create_queue(QueueName=self.name, Attributes=attributes, tags=self.names.config.tags)

    def delete(self) -> None:
        self.sqs.delete_queue(QueueUrl=self._url())
        self._known_url = None

    def tags(self) -> dict[str, str]:
        return dict(self.sqs.list_queue_tags(QueueUrl=self._url()).get("Tags", {}))

    def sections(self) -> list[Section]:
        def read_attributes() -> dict[str, Any]:
            names = list(self.want_attributes)
            return dict(self.sqs.get_queue_attributes(QueueUrl=self._url(), AttributeNames=names).get("Attributes", {}))

        def write_attributes(want: dict[str, Any]) -> None:
            attributes = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in want.items()}
            self.sqs.set_queue_attributes(QueueUrl=self._url(), Attributes=attributes)

        return [
            Section("Attributes", self.want_attributes, read_attributes, write_attributes),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.sqs.tag_queue(QueueUrl=self._url(), Tags=want)),
        ]  # fmt: skip


def dead_letter_queue(clients: Clients, names: Names) -> Queue:
    return Queue(clients, names, names.config.dlq_name, dlq_attributes())


def landing_queue(clients: Clients, names: Names) -> Queue:
    return Queue(clients, names, names.config.landing_queue_name, landing_attributes(names))
