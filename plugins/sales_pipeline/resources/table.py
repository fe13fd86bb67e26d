"""The DynamoDB orders table: orderid key, on-demand, a NEW_AND_OLD_IMAGES stream, point-in-time recovery."""

from __future__ import annotations

from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section, absent_on, retry_while, tag_dict, tag_list, wait_until
from sales_pipeline.resources.names import Names

STREAM_VIEW = "NEW_AND_OLD_IMAGES"  # REMOVE needs the old image; MODIFY analytics need the new one


def key_schema() -> dict[str, Any]:
    return {
        "AttributeDefinitions": [{"AttributeName": "orderid", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "orderid", "KeyType": "HASH"}],
    }


def settings() -> dict[str, Any]:
    return {
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW},
    }


class Table(Resource):
    kind = "DynamoDB table"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.ddb = clients("dynamodb")
        self.names = names
        self.name = names.config.table_name

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"ResourceNotFoundException"}, lambda: self.ddb.describe_table(TableName=self.name))
        return None if reply is None else dict(reply["Table"])

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.table_arn

    def stream_arn(self) -> str | None:
        table = self.describe()
        if table is None or not table.get("StreamSpecification", {}).get("StreamEnabled"):
            return None
        return table.get("LatestStreamArn")

    def create(self) -> None:
        # Encryption at rest is always on for DynamoDB (AWS owned key); nothing to request.
        self.ddb.create_table(
            TableName=self.name,
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW},
            Tags=tag_list(self.names.config.tags),
            **key_schema(),
        )
        self.wait_ready()

    def delete(self) -> None:
        self.ddb.delete_table(TableName=self.name)
        wait_until(lambda: not self.exists(), f"table {self.name} to be deleted", 300)

    def tags(self) -> dict[str, str]:
        return tag_dict(self.ddb.list_tags_of_resource(ResourceArn=self.names.table_arn).get("Tags", []))

    def health(self) -> list[str]:
        table = self.describe()
        if table is None:
            return ["does not exist"]
        problems = [] if table["TableStatus"] == "ACTIVE" else [f"TableStatus is {table['TableStatus']}, not ACTIVE"]
        if table.get("KeySchema") != key_schema()["KeySchema"]:
            # The key cannot change in place: report it, never "fix" it by recreating a table of orders.
            problems.append(f"KeySchema is {table.get('KeySchema')}, want orderid (S) as the only key")
        return problems

    def wait_ready(self, timeout_s: float = 600) -> None:
        wrong_key = [p for p in self.health() if p.startswith("KeySchema")]
        if wrong_key:  # waiting cannot fix a key: fail now
            raise RuntimeError(f"{self.kind} {self.name}: {wrong_key[0]}")
        super().wait_ready(timeout_s)

    def _write_settings(self, want: dict[str, Any]) -> None:
        """UpdateTable takes one kind of change at a time (billing, or streams): one call each, waiting between."""
        table = self.describe() or {}
        billing = want["BillingModeSummary"]["BillingMode"]
        if table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") != billing:
            self.ddb.update_table(TableName=self.name, BillingMode=billing)
            self.wait_ready()
        stream = table.get("StreamSpecification", {})
        if stream.get("StreamEnabled") and stream.get("StreamViewType") == STREAM_VIEW:
            return
        if stream.get("StreamEnabled"):
            # The view type of an enabled stream cannot change: disable, then enable (a new stream ARN).
            self.ddb.update_table(TableName=self.name, StreamSpecification={"StreamEnabled": False})
            self.wait_ready()
        self.ddb.update_table(TableName=self.name,
                              StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW})  # fmt: skip
        self.wait_ready()

    def _enable_pitr(self, _want: str) -> None:
        # Right after CreateTable, AWS may answer ContinuousBackupsUnavailableException for a while.
        retry_while(
            {"ContinuousBackupsUnavailableException"},
            lambda: self.ddb.update_continuous_backups(
                TableName=self.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            ),
            timeout_s=180,
        )

    def sections(self) -> list[Section]:
        ddb, name = self.ddb, self.name

        def read_settings() -> Any:
            table = self.describe() or {}
            return {
                "BillingModeSummary": table.get("BillingModeSummary", {"BillingMode": "PROVISIONED"}),
                "StreamSpecification": table.get("StreamSpecification", {"StreamEnabled": False}),
            }

        def read_pitr() -> Any:
            reply = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            return reply.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")

        return [
            Section("Settings", settings(), read_settings, self._write_settings),
            Section("PointInTimeRecovery", "ENABLED", read_pitr, self._enable_pitr),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: ddb.tag_resource(ResourceArn=self.names.table_arn, Tags=tag_list(want))),
        ]  # fmt: skip
