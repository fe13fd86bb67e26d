"""One IAM role per service (pipe, firehose, lambda, crawler), each with one inline policy that allows
only the actions that service needs, on the exact ARNs of this env.

``WILDCARD_RESOURCE_ACTIONS`` lists the only actions granted on ``"*"``, each because the AWS API
admits no narrower resource for it; tests fail on any other ``*``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Exact, Resource, Section, absent_on, tag_dict, tag_list
from sales_pipeline.resources.names import Names

POLICY_NAME = "least-privilege"

# action -> why it cannot be scoped to a resource (Service Authorization Reference: no resource types).
WILDCARD_RESOURCE_ACTIONS = {
    "dynamodb:ListStreams": "ListStreams has no resource type; Pipes calls it to find the table's stream shards",
}

# Resources granted that are not named after the env, each because AWS fixes the name.
SHARED_RESOURCE_SUFFIXES = {
    ":catalog": "Glue authorises every catalog call on the account's Data Catalog as well as the database/table",
    ":log-group:/aws-glue/crawlers:*": "Glue crawlers always log to this fixed log group",
}


def _statement(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def trust_policy(names: Names, service: str) -> dict[str, Any]:
    """Only the service, acting for this account (and, for pipes and firehose, this very resource)."""
    principal = {
        "pipe": "pipes.amazonaws.com",
        "firehose": "firehose.amazonaws.com",
        "lambda": "lambda.amazonaws.com",
        "crawler": "glue.amazonaws.com",
    }[service]
    condition: dict[str, Any] = {}
    if service == "pipe":
        # Confused-deputy guard: Pipes may assume the role only on behalf of our pipe.
        condition = {"Condition": {"StringEquals": {"aws:SourceAccount": names.account.account_id},
                                   "ArnEquals": {"aws:SourceArn": names.pipe_arn}}}  # fmt: skip
    elif service == "firehose":
        # Firehose's documented guard: it passes the account as the external id when assuming the role.
        condition = {"Condition": {"StringEquals": {"sts:ExternalId": names.account.account_id}}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole", **condition}
        ],
    }


def pipe_policy(names: Names) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("ReadTableStream",
                       ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                       [names.table_streams_arn]),
            _statement("FindTableStream", ["dynamodb:ListStreams"], ["*"]),
            _statement("WriteKinesis", ["kinesis:PutRecord", "kinesis:PutRecords"], [names.kinesis_arn]),
            _statement("DeadLetters", ["sqs:SendMessage"], [names.dlq_arn]),
        ],
    }  # fmt: skip


def firehose_policy(names: Names) -> dict[str, Any]:
    config = names.config
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("ReadKinesis",
                       ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                        "kinesis:GetShardIterator", "kinesis:ListShards"],
                       [names.kinesis_arn]),
            _statement("BucketLevel",
                       ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                       [names.bucket_arn]),
            _statement("WriteDataAndErrors",
                       ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                       [f"{names.bucket_arn}/{config.data_prefix}*", f"{names.bucket_arn}/{config.error_prefix}*"]),
            _statement("Transform", ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
                       [names.function_arn]),
            _statement("DeliveryLogs", ["logs:PutLogEvents"],
                       [f"{names.log_group_arn(names.firehose_log_group)}:log-stream:*"]),
        ],
    }  # fmt: skip


def lambda_policy(names: Names) -> dict[str, Any]:
    # The log group is created by provisioning (with a retention), so no logs:CreateLogGroup.
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("FunctionLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                       [f"{names.log_group_arn(names.lambda_log_group)}:*"]),
        ],
    }  # fmt: skip


def crawler_policy(names: Names) -> dict[str, Any]:
    config = names.config
    crawler_logs = names.log_group_arn("/aws-glue/crawlers")
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("ListData", ["s3:ListBucket"], [names.bucket_arn],
                       Condition={"StringLike": {"s3:prefix": [f"{config.data_prefix}*"]}}),
            _statement("ReadData", ["s3:GetObject"], [f"{names.bucket_arn}/{config.data_prefix}*"]),
            _statement("Catalog",
                       ["glue:BatchCreatePartition", "glue:BatchGetPartition", "glue:CreatePartition",
                        "glue:CreateTable", "glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions",
                        "glue:GetTable", "glue:GetTables", "glue:UpdatePartition", "glue:UpdateTable",
                        "glue:BatchUpdatePartition"],
                       [names.glue_catalog_arn, names.glue_database_arn, names.glue_tables_arn]),
            _statement("CrawlerLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                       [f"{crawler_logs}:*"]),
        ],
    }  # fmt: skip


POLICIES = {"pipe": pipe_policy, "firehose": firehose_policy, "lambda": lambda_policy, "crawler": crawler_policy}


def all_policies(names: Names) -> dict[str, dict[str, Any]]:
    """Every permission policy provisioning writes, by role name (what the least-privilege test reads)."""
    return {names.role_name(service): build(names) for service, build in POLICIES.items()}


def _document(value: Any) -> Any:
    # IAM returns documents URL-encoded in the raw API; boto3 decodes them to dicts, some SDKs do not.
    return json.loads(unquote(value)) if isinstance(value, str) else value


class Role(Resource):
    kind = "IAM role"

    def __init__(self, clients: Clients, names: Names, service: str) -> None:
        self.iam = clients("iam")
        self.names = names
        self.service = service
        self.name = names.role_name(service)

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"NoSuchEntity"}, lambda: self.iam.get_role(RoleName=self.name))
        return None if reply is None else dict(reply["Role"])

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.role_arn(self.service)

    def create(self) -> None:
        self.iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(self.names, self.service)),
            Description=f"sales-stream {self.names.config.env}: the {self.service} service role",
            Tags=tag_list(self.names.config.tags),
        )

    def delete(self) -> None:
        for policy in self.iam.list_role_policies(RoleName=self.name)["PolicyNames"]:
            self.iam.delete_role_policy(RoleName=self.name, PolicyName=policy)
        for attached in self.iam.list_attached_role_policies(RoleName=self.name)["AttachedPolicies"]:
            self.iam.detach_role_policy(RoleName=self.name, PolicyArn=attached["PolicyArn"])
        self.iam.delete_role(RoleName=self.name)

    def tags(self) -> dict[str, str]:
        return tag_dict(self.iam.list_role_tags(RoleName=self.name).get("Tags", []))

    def sections(self) -> list[Section]:
        iam, name = self.iam, self.name

        def read_trust() -> Any:
            return _document((self.describe() or {}).get("AssumeRolePolicyDocument"))

        def read_policy() -> Any:
            reply = absent_on({"NoSuchEntity"}, lambda: iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME))
            return None if reply is None else _document(reply["PolicyDocument"])

        return [
            Section("TrustPolicy", Exact(trust_policy(self.names, self.service)), read_trust,
                    lambda want: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(want))),
            Section("InlinePolicy", Exact(POLICIES[self.service](self.names)), read_policy,
                    lambda want: iam.put_role_policy(
                        RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(want))),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: iam.tag_role(RoleName=name, Tags=tag_list(want))),
        ]  # fmt: skip


def roles(clients: Clients, names: Names) -> list[Role]:
    return [Role(clients, names, service) for service in POLICIES]
