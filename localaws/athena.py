"""Athena workgroups as the Athena API reference describes them (the query engine comes later).

moto answers GetWorkGroup for an unknown name with an empty 200 and has no UpdateWorkGroup; both
are implemented here over moto's own workgroup objects, so moto's Create/List/Delete stay in step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from moto.athena.models import athena_backends
from werkzeug.wrappers import Request, Response

from localaws.awsrequest import account_of, region_of, signed_for

TARGET_PREFIX = "AmazonAthena."

# ResultConfigurationUpdates member -> the Remove* flag that clears it.
_RESULT_REMOVALS = {
    "OutputLocation": "RemoveOutputLocation",
    "EncryptionConfiguration": "RemoveEncryptionConfiguration",
    "ExpectedBucketOwner": "RemoveExpectedBucketOwner",
    "AclConfiguration": "RemoveAclConfiguration",
}
_PLAIN_UPDATES = (
    "EnforceWorkGroupConfiguration",
    "PublishCloudWatchMetricsEnabled",
    "BytesScannedCutoffPerQuery",
    "RequesterPaysEnabled",
    "EngineVersion",
    "AdditionalConfiguration",
    "ExecutionRole",
    "CustomerContentEncryptionConfiguration",
    "EnableMinimumEncryptionConfiguration",
    "QueryResultsS3AccessGrantsConfiguration",
)
MIN_CUTOFF_BYTES = 10_000_000


def json_error(code: str, message: str, status: int = 400, **extra: Any) -> Response:
    """An awsJson1.1 error: the code in __type, as botocore reads it."""
    return Response(
        json.dumps({"__type": code, "Message": message, **extra}),
        status=status,
        content_type="application/x-amz-json-1.1",
    )


class AthenaWorkgroups:
    name = "athena"
    actions = {"athena": ["GetWorkGroup", "UpdateWorkGroup"]}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        target = request.headers.get("X-Amz-Target", "")
        if request.method != "POST" or not target.startswith(TARGET_PREFIX) or not signed_for(request, "athena"):
            return None
        return {"GetWorkGroup": self.get_work_group, "UpdateWorkGroup": self.update_work_group}.get(
            target[len(TARGET_PREFIX) :]
        )

    @staticmethod
    def _workgroup(request: Request, body: dict[str, Any]) -> tuple[Any, Response | None]:
        backend = athena_backends[account_of(request)][region_of(request)]
        name = body.get("WorkGroup", "")
        workgroup = backend.work_groups.get(name)
        if workgroup is None:
            return None, json_error("InvalidRequestException", f"WorkGroup {name} is not found.",
                                    AthenaErrorCode="INVALID_INPUT")  # fmt: skip
        return workgroup, None

    def get_work_group(self, request: Request) -> Response:
        workgroup, error = self._workgroup(request, request.get_json(force=True) or {})
        if error is not None:
            return error
        configuration = dict(workgroup.configuration)
        engine = dict(configuration.get("EngineVersion", {}))
        selected = engine.get("SelectedEngineVersion", "AUTO")
        engine["EffectiveEngineVersion"] = "Athena engine version 3" if selected == "AUTO" else selected
        configuration["EngineVersion"] = engine
        reply = {
            "WorkGroup": {
                "Name": workgroup.name,
                "State": workgroup.state,
                "Configuration": configuration,
                "Description": workgroup.description or "",
                "CreationTime": getattr(workgroup, "creation_time", time.time()),
            }
        }
        return Response(json.dumps(reply), content_type="application/x-amz-json-1.1")

    def update_work_group(self, request: Request) -> Response:
        body = request.get_json(force=True) or {}
        workgroup, error = self._workgroup(request, body)
        if error is not None:
            return error
        updates = body.get("ConfigurationUpdates", {})
        cutoff = updates.get("BytesScannedCutoffPerQuery")
        if cutoff is not None and cutoff < MIN_CUTOFF_BYTES:
            return json_error(
                "InvalidRequestException",
                f"BytesScannedCutoffPerQuery must be at least {MIN_CUTOFF_BYTES}",
                AthenaErrorCode="INVALID_INPUT",
            )
        if body.get("State") not in (None, "ENABLED", "DISABLED"):
            return json_error(
                "InvalidRequestException", f"Invalid State {body['State']}", AthenaErrorCode="INVALID_INPUT"
            )

        configuration = workgroup.configuration
        for member in _PLAIN_UPDATES:
            if member in updates:
                configuration[member] = updates[member]
        if updates.get("RemoveBytesScannedCutoffPerQuery"):
            configuration.pop("BytesScannedCutoffPerQuery", None)
        result_updates = updates.get("ResultConfigurationUpdates")
        if result_updates is not None:
            result = dict(configuration.get("ResultConfiguration", {}))
            for member, removal in _RESULT_REMOVALS.items():
                if result_updates.get(removal):
                    result.pop(member, None)
                elif member in result_updates:
                    result[member] = result_updates[member]
            configuration["ResultConfiguration"] = result
        if "Description" in body:
            workgroup.description = body["Description"]
        if "State" in body:
            workgroup.state = body["State"]
        return Response("{}", content_type="application/x-amz-json-1.1")
