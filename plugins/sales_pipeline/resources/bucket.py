"""The S3 data-lake bucket: encrypted, private, TLS-only, results expiring, and notifying on landed data."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sales_pipeline.aws import Clients, error_code
from sales_pipeline.resources.base import Exact, Resource, Section, absent_on, tag_dict, tag_list
from sales_pipeline.resources.names import Names

NOTIFICATION_ID = "sales-data-landed"
RESULTS_EXPIRE_DAYS = 30


def encryption() -> dict[str, Any]:
    # SSE-S3: at rest, with no KMS key policy every reader (Firehose, Glue, Athena) would need.
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def public_access_block() -> dict[str, bool]:
    return {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def tls_only_policy(names: Names) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [names.bucket_arn, f"{names.bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def lifecycle_rules(names: Names) -> list[dict[str, Any]]:
    return [
        {
            "ID": "expire-athena-results",
            "Filter": {"Prefix": names.config.results_prefix},
            "Status": "Enabled",
            "Expiration": {"Days": RESULTS_EXPIRE_DAYS},
        }
    ]


def notification(names: Names) -> dict[str, Any]:
    """ObjectCreated under the data prefix only: error objects and query results must not wake the crawl."""
    return {
        "QueueConfigurations": [
            {
                "Id": NOTIFICATION_ID,
                "QueueArn": names.landing_queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": names.config.data_prefix}]}},
            }
        ]
    }


class Bucket(Resource):
    kind = "S3 bucket"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.s3 = clients("s3")
        self.names = names
        self.name = names.config.bucket

    def exists(self) -> bool:
        try:
            self.s3.head_bucket(Bucket=self.name)
        except ClientError as err:
            if error_code(err) in {"404", "NoSuchBucket", "NotFound"}:
                return False
            if error_code(err) in {"403", "AccessDenied"}:
                raise RuntimeError(
                    f"S3 bucket {self.name!r} exists but this identity cannot use it (bucket names are global: "
                    "another account may own it); set SALES_PIPELINE_BUCKET to a name of your own"
                ) from err
            raise
        return True

    def arn(self) -> str:
        return self.names.bucket_arn

    def create(self) -> None:
        region = self.names.account.region
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        self.s3.create_bucket(Bucket=self.name, **extra)

    def delete(self) -> None:
        """Empty the bucket (every version), then delete it: S3 refuses to delete a non-empty bucket."""
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.name):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]  # fmt: skip
            if doomed:
                self.s3.delete_objects(Bucket=self.name, Delete={"Objects": doomed, "Quiet": True})
        self.s3.delete_bucket(Bucket=self.name)

    def tags(self) -> dict[str, str]:
        reply = absent_on({"NoSuchTagSet"}, lambda: self.s3.get_bucket_tagging(Bucket=self.name))
        return {} if reply is None else tag_dict(reply["TagSet"])

    def _write_tags(self, want: dict[str, str]) -> None:
        # PutBucketTagging replaces the whole set: keep tags others put on the bucket.
        self.s3.put_bucket_tagging(Bucket=self.name, Tagging={"TagSet": tag_list({**self.tags(), **want})})

    def sections(self) -> list[Section]:
        s3, bucket = self.s3, self.name

        def read_encryption() -> Any:
            reply = absent_on({"ServerSideEncryptionConfigurationNotFoundError"},
                              lambda: s3.get_bucket_encryption(Bucket=bucket))  # fmt: skip
            return None if reply is None else reply["ServerSideEncryptionConfiguration"]

        def read_public_access_block() -> Any:
            reply = absent_on({"NoSuchPublicAccessBlockConfiguration"},
                              lambda: s3.get_public_access_block(Bucket=bucket))  # fmt: skip
            return None if reply is None else reply["PublicAccessBlockConfiguration"]

        def read_policy() -> Any:
            reply = absent_on({"NoSuchBucketPolicy"}, lambda: s3.get_bucket_policy(Bucket=bucket))
            return None if reply is None else json.loads(reply["Policy"])

        def read_lifecycle() -> Any:
            reply = absent_on({"NoSuchLifecycleConfiguration"},
                              lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))  # fmt: skip
            return None if reply is None else reply["Rules"]

        def read_notification() -> Any:
            reply = s3.get_bucket_notification_configuration(Bucket=bucket)
            for queue in reply.get("QueueConfigurations", []):
                # S3 takes rule names as "prefix" but answers "Prefix": compare them as one.
                for rule in queue.get("Filter", {}).get("Key", {}).get("FilterRules", []):
                    rule["Name"] = rule["Name"].lower()
            return {k: v for k, v in reply.items() if k != "ResponseMetadata"}

        return [
            Section("Tags", self.names.config.tags, self.tags, self._write_tags),
            Section("Encryption", encryption(), read_encryption,
                    lambda want: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=want)),
            Section("PublicAccessBlock", public_access_block(), read_public_access_block,
                    lambda want: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=want)),
            Section("Policy", Exact(tls_only_policy(self.names)), read_policy,
                    lambda want: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(want))),
            Section("Lifecycle", lifecycle_rules(self.names), read_lifecycle,
                    lambda want: s3.put_bucket_lifecycle_configuration(
                        Bucket=bucket, LifecycleConfiguration={"Rules": want})),
            Section("Notification", notification(self.names), read_notification,
                    lambda want: s3.put_bucket_notification_configuration(
                        Bucket=bucket, NotificationConfiguration=want)),
        ]  # fmt: skip
