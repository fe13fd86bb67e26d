"""The Athena workgroup: enforced, encrypted result location and a per-query scan cut-off."""

from __future__ import annotations

from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section, absent_on, tag_dict, tag_list
from sales_pipeline.resources.names import Names

ENGINE = "Athena engine version 3"


def configuration(names: Names) -> dict[str, Any]:
    return {
        "ResultConfiguration": {
            "OutputLocation": names.s3_uri(names.config.results_prefix),
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        },
        # Enforced: a client cannot send results elsewhere or lift the scan cut-off.
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "BytesScannedCutoffPerQuery": names.config.scan_cutoff_bytes,
        "EngineVersion": {"SelectedEngineVersion": ENGINE},
    }


def configuration_updates(want: dict[str, Any]) -> dict[str, Any]:
    """UpdateWorkGroup speaks in 'updates': the same settings under other member names."""
    return {
        "ResultConfigurationUpdates": want["ResultConfiguration"],
        "EnforceWorkGroupConfiguration": want["EnforceWorkGroupConfiguration"],
        "PublishCloudWatchMetricsEnabled": want["PublishCloudWatchMetricsEnabled"],
        "BytesScannedCutoffPerQuery": want["BytesScannedCutoffPerQuery"],
        "EngineVersion": want["EngineVersion"],
    }


class Workgroup(Resource):
    kind = "Athena workgroup"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.athena = clients("athena")
        self.names = names
        self.name = names.config.athena_workgroup

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"InvalidRequestException"}, lambda: self.athena.get_work_group(WorkGroup=self.name))
        return None if reply is None else dict(reply["WorkGroup"])

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.workgroup_arn

    def create(self) -> None:
        self.athena.create_work_group(
            Name=self.name,
            Configuration=configuration(self.names),
            Description=f"sales-stream {self.names.config.env} analytics",
            Tags=tag_list(self.names.config.tags),
        )

    def delete(self) -> None:
        self.athena.delete_work_group(WorkGroup=self.name, RecursiveDeleteOption=True)

    def tags(self) -> dict[str, str]:
        return tag_dict(self.athena.list_tags_for_resource(ResourceARN=self.arn()).get("Tags", []))

    def health(self) -> list[str]:
        workgroup = self.describe()
        if workgroup is None:
            return ["does not exist"]
        return [] if workgroup.get("State") == "ENABLED" else [f"State is {workgroup.get('State')}, not ENABLED"]

    def sections(self) -> list[Section]:
        return [
            Section("Configuration", configuration(self.names), lambda: (self.describe() or {}).get("Configuration"),
                    lambda want: self.athena.update_work_group(
                        WorkGroup=self.name, ConfigurationUpdates=configuration_updates(want))),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.athena.tag_resource(ResourceARN=self.arn(), Tags=tag_list(want))),
        ]  # fmt: skip
