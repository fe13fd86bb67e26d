"""Exact names and ARNs of every resource of one env: what IAM policies and wiring refer to."""

from __future__ import annotations

from dataclasses import dataclass

from sales_pipeline.aws import Account
from sales_pipeline.config import PipelineConfig

ROLE_SERVICES = ("pipe", "firehose", "lambda", "crawler")
FIREHOSE_LOG_STREAM = "DestinationDelivery"


@dataclass(frozen=True)
class Names:
    config: PipelineConfig
    account: Account

    def role_name(self, service: str) -> str:
        return f"sales-stream-{self.config.env}-{service}"

    def role_arn(self, service: str) -> str:
        return self.account.arn("iam", f"role/{self.role_name(service)}", region=False)

    @property
    def bucket_arn(self) -> str:
        return self.account.arn("s3", self.config.bucket, region=False, account=False)

    @property
    def table_arn(self) -> str:
        return self.account.arn("dynamodb", f"table/{self.config.table_name}")

    @property
    def table_streams_arn(self) -> str:
        """Every stream of the table: a stream's ARN changes when it is re-enabled, the table's does not."""
        return f"{self.table_arn}/stream/*"

    @property
    def kinesis_arn(self) -> str:
        return self.account.arn("kinesis", f"stream/{self.config.kinesis_stream_name}")

    def queue_arn(self, queue_name: str) -> str:
        return self.account.arn("sqs", queue_name)

    @property
    def dlq_arn(self) -> str:
        return self.queue_arn(self.config.dlq_name)

    @property
    def landing_queue_arn(self) -> str:
        return self.queue_arn(self.config.landing_queue_name)

    @property
    def function_arn(self) -> str:
        return self.account.arn("lambda", f"function:{self.config.transform_function_name}")

    @property
    def pipe_arn(self) -> str:
        return self.account.arn("pipes", f"pipe/{self.config.pipe_name}")

    @property
    def delivery_stream_arn(self) -> str:
        return self.account.arn("firehose", f"deliverystream/{self.config.delivery_stream_name}")

    @property
    def firehose_log_group(self) -> str:
        return f"/aws/kinesisfirehose/{self.config.delivery_stream_name}"

    @property
    def lambda_log_group(self) -> str:
        return f"/aws/lambda/{self.config.transform_function_name}"

    def log_group_arn(self, group: str) -> str:
        return self.account.arn("logs", f"log-group:{group}")

    @property
    def glue_catalog_arn(self) -> str:
        return self.account.arn("glue", "catalog")

    @property
    def glue_database_arn(self) -> str:
        return self.account.arn("glue", f"database/{self.config.glue_database}")

    @property
    def glue_tables_arn(self) -> str:
        return self.account.arn("glue", f"table/{self.config.glue_database}/*")

    @property
    def crawler_arn(self) -> str:
        return self.account.arn("glue", f"crawler/{self.config.crawler_name}")

    @property
    def classifier_arn(self) -> str:
        # Glue classifiers take no tags and have no ARN in the Glue API; this is only for reports.
        return f"classifier/{self.config.classifier_name}"

    @property
    def workgroup_arn(self) -> str:
        return self.account.arn("athena", f"workgroup/{self.config.athena_workgroup}")

    def s3_uri(self, prefix: str) -> str:
        return f"s3://{self.config.bucket}/{prefix}"
