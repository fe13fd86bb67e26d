"""EventBridge Pipes through boto3 against localaws: conflicts, update merging, validation, states, tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws import LocalAWS
from localaws.pipes import Pipes

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipe-role"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipe-role-2"
STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders/stream/2024-01-01T00:00:00.000"
KINESIS = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders"
DLQ = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq"


@pytest.fixture(scope="module")
def pipes(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("pipes")


@pytest.fixture(scope="module")
def unchecked_pipes(localaws: LocalAWS) -> Any:
    """A client that sends what botocore would refuse (values below a minimum), as other SDKs may."""
    return boto3.client(
        "pipes",
        endpoint_url=localaws.endpoint_url,
        region_name="us-east-1",
        config=Config(parameter_validation=False),
    )


def create(pipes: Any, name: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "Name": name,
        "Source": STREAM,
        "Target": KINESIS,
        "RoleArn": ROLE,
        "Description": "orders into kinesis",
        "SourceParameters": {
            "DynamoDBStreamParameters": {
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 25,
                "MaximumRetryAttempts": 3,
                "MaximumBatchingWindowInSeconds": 5,
                "DeadLetterConfig": {"Arn": DLQ},
            }
        },
        "TargetParameters": {"KinesisStreamParameters": {"PartitionKey": "$.dynamodb.Keys.orderid.S"}},
        "Tags": {"project": "sales"},
        **overrides,
    }
    response: dict[str, Any] = pipes.create_pipe(**settings)
    return response


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def modeled(caught: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    """The error's modeled members (resourceId, fieldList...), which botocore puts beside "Error"."""
    return dict(caught.value.response)


def states(pipes: Any, name: str) -> tuple[str, str]:
    pipe = pipes.describe_pipe(Name=name)
    return pipe["DesiredState"], pipe["CurrentState"]


def test_created_pipe_settles_running(pipes: Any) -> None:
    created = create(pipes, "pipe-running")
    assert (created["DesiredState"], created["CurrentState"]) == ("RUNNING", "CREATING")
    assert created["Arn"] == f"arn:aws:pipes:us-east-1:{ACCOUNT}:pipe/pipe-running"
    assert states(pipes, "pipe-running") == ("RUNNING", "RUNNING")
    assert pipes.describe_pipe(Name="pipe-running")["CreationTime"] == created["CreationTime"]
    listed = {p["Name"]: p for p in pipes.list_pipes(NamePrefix="pipe-running")["Pipes"]}
    assert listed["pipe-running"]["CurrentState"] == "RUNNING"


def test_pipe_created_stopped_stays_stopped(pipes: Any) -> None:
    created = create(pipes, "pipe-born-stopped", DesiredState="STOPPED")
    assert (created["DesiredState"], created["CurrentState"]) == ("STOPPED", "CREATING")
    for _ in range(3):  # moto alone would walk it on to STARTING and RUNNING
        assert states(pipes, "pipe-born-stopped") == ("STOPPED", "STOPPED")
    assert pipes.list_pipes(NamePrefix="pipe-born-stopped")["Pipes"][0]["CurrentState"] == "STOPPED"


def test_creating_an_existing_pipe_is_a_conflict(pipes: Any) -> None:
    create(pipes, "pipe-conflict")
    with pytest.raises(ClientError) as caught:
        create(pipes, "pipe-conflict", Target=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/other")
    assert error_of(caught) == ("ConflictException", 409)
    assert modeled(caught)["resourceId"] == "pipe-conflict"
    assert modeled(caught)["resourceType"] == "pipe"
    assert pipes.describe_pipe(Name="pipe-conflict")["Target"] == KINESIS  # the first pipe is untouched


def test_update_changes_only_what_is_given(pipes: Any) -> None:
    create(pipes, "pipe-update")
    pipes.update_pipe(Name="pipe-update", RoleArn=OTHER_ROLE, Description="renamed")
    pipe = pipes.describe_pipe(Name="pipe-update")
    assert (pipe["RoleArn"], pipe["Description"]) == (OTHER_ROLE, "renamed")
    assert pipe["SourceParameters"]["DynamoDBStreamParameters"]["BatchSize"] == 25
    assert pipe["TargetParameters"] == {"KinesisStreamParameters": {"PartitionKey": "$.dynamodb.Keys.orderid.S"}}
    assert (pipe["Source"], pipe["Target"], pipe["Tags"]) == (STREAM, KINESIS, {"project": "sales"})

    # A service-specific parameters object is replaced as one: what it leaves out returns to the default,
    # except StartingPosition, which UpdatePipe cannot set and so keeps.
    updated = pipes.update_pipe(
        Name="pipe-update",
        RoleArn=OTHER_ROLE,
        SourceParameters={"DynamoDBStreamParameters": {"BatchSize": 50, "DeadLetterConfig": {"Arn": DLQ}}},
    )
    assert updated["CurrentState"] == "UPDATING"
    source = pipes.describe_pipe(Name="pipe-update")["SourceParameters"]["DynamoDBStreamParameters"]
    assert source == {"StartingPosition": "TRIM_HORIZON", "BatchSize": 50, "DeadLetterConfig": {"Arn": DLQ}}

    pipes.update_pipe(
        Name="pipe-update",
        RoleArn=OTHER_ROLE,
        TargetParameters={"KinesisStreamParameters": {"PartitionKey": "$.eventID"}},
    )
    pipe = pipes.describe_pipe(Name="pipe-update")
    assert pipe["TargetParameters"]["KinesisStreamParameters"]["PartitionKey"] == "$.eventID"
    assert pipe["SourceParameters"]["DynamoDBStreamParameters"]["BatchSize"] == 50
    assert pipe["Description"] == "renamed"
    assert pipe["LastModifiedTime"] >= pipe["CreationTime"]


def test_stop_start_and_update_keep_the_asked_state(pipes: Any) -> None:
    create(pipes, "pipe-states")
    assert states(pipes, "pipe-states") == ("RUNNING", "RUNNING")

    stopped = pipes.stop_pipe(Name="pipe-states")
    assert (stopped["DesiredState"], stopped["CurrentState"]) == ("STOPPED", "STOPPING")
    assert states(pipes, "pipe-states") == ("STOPPED", "STOPPED")

    updated = pipes.update_pipe(Name="pipe-states", RoleArn=ROLE, Description="still stopped")
    assert (updated["DesiredState"], updated["CurrentState"]) == ("STOPPED", "UPDATING")
    for _ in range(2):
        assert states(pipes, "pipe-states") == ("STOPPED", "STOPPED")

    started = pipes.start_pipe(Name="pipe-states")
    assert (started["DesiredState"], started["CurrentState"]) == ("RUNNING", "STARTING")
    assert states(pipes, "pipe-states") == ("RUNNING", "RUNNING")

    pipes.update_pipe(Name="pipe-states", RoleArn=ROLE, DesiredState="STOPPED")
    assert states(pipes, "pipe-states") == ("STOPPED", "STOPPED")
    pipes.update_pipe(Name="pipe-states", RoleArn=ROLE, DesiredState="RUNNING")
    assert states(pipes, "pipe-states") == ("RUNNING", "RUNNING")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("BatchSize", 0),
        ("BatchSize", 10001),
        ("MaximumBatchingWindowInSeconds", 301),
        ("MaximumRetryAttempts", -2),
        ("MaximumRetryAttempts", 10001),
        ("MaximumRecordAgeInSeconds", 604801),
    ],
)
def test_out_of_range_source_parameters_are_refused(unchecked_pipes: Any, field: str, value: int) -> None:
    name = f"pipe-range-{field.lower()}-{value}".replace("--", "-minus-")
    parameters = {"StartingPosition": "LATEST", field: value}
    with pytest.raises(ClientError) as caught:
        create(unchecked_pipes, name, SourceParameters={"DynamoDBStreamParameters": parameters})
    assert error_of(caught) == ("ValidationException", 400)
    fields = modeled(caught)["fieldList"]
    assert [f["name"] for f in fields] == [f"SourceParameters.DynamoDBStreamParameters.{field}"]
    assert "numeric instance is" in fields[0]["message"]
    with pytest.raises(ClientError) as caught:
        unchecked_pipes.describe_pipe(Name=name)
    assert error_of(caught) == ("NotFoundException", 404)  # nothing was created


def test_out_of_range_update_is_refused_and_changes_nothing(pipes: Any) -> None:
    create(pipes, "pipe-bad-update")
    with pytest.raises(ClientError) as caught:
        pipes.update_pipe(
            Name="pipe-bad-update",
            RoleArn=OTHER_ROLE,
            Description="should not stick",
            SourceParameters={"DynamoDBStreamParameters": {"BatchSize": 20000}},
        )
    assert error_of(caught) == ("ValidationException", 400)
    pipe = pipes.describe_pipe(Name="pipe-bad-update")
    assert (pipe["RoleArn"], pipe["Description"]) == (ROLE, "orders into kinesis")
    assert pipe["SourceParameters"]["DynamoDBStreamParameters"]["BatchSize"] == 25


def test_create_requires_a_starting_position_and_a_role_arn(unchecked_pipes: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(unchecked_pipes, "pipe-no-position", SourceParameters={"DynamoDBStreamParameters": {"BatchSize": 5}})
    assert error_of(caught) == ("ValidationException", 400)
    assert modeled(caught)["fieldList"][0]["name"] == "SourceParameters.DynamoDBStreamParameters.StartingPosition"
    with pytest.raises(ClientError) as caught:
        create(unchecked_pipes, "pipe-bad-role", RoleArn="not-an-arn")
    assert error_of(caught) == ("ValidationException", 400)
    assert modeled(caught)["fieldList"][0]["name"] == "RoleArn"


def test_deleted_pipe_is_gone(pipes: Any) -> None:
    create(pipes, "pipe-delete")
    deleted = pipes.delete_pipe(Name="pipe-delete")
    assert (deleted["DesiredState"], deleted["CurrentState"]) == ("DELETED", "DELETING")
    for call in (
        lambda: pipes.describe_pipe(Name="pipe-delete"),
        lambda: pipes.start_pipe(Name="pipe-delete"),
        lambda: pipes.stop_pipe(Name="pipe-delete"),
        lambda: pipes.update_pipe(Name="pipe-delete", RoleArn=ROLE),
        lambda: pipes.delete_pipe(Name="pipe-delete"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("NotFoundException", 404)
    create(pipes, "pipe-delete", Description="again")  # the name is free again
    assert pipes.describe_pipe(Name="pipe-delete")["Description"] == "again"


def test_tags(pipes: Any) -> None:
    arn = create(pipes, "pipe-tags")["Arn"]
    pipes.tag_resource(resourceArn=arn, tags={"env": "test"})
    assert pipes.list_tags_for_resource(resourceArn=arn)["tags"] == {"project": "sales", "env": "test"}
    pipes.untag_resource(resourceArn=arn, tagKeys=["project"])
    assert pipes.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}


def test_worker_api_lists_pipes_with_their_settled_state(pipes: Any, localaws: LocalAWS) -> None:
    create(pipes, "pipe-worker-on")
    create(pipes, "pipe-worker-off", DesiredState="STOPPED")
    extension = next(e for e in localaws.extensions if isinstance(e, Pipes))
    by_name = {state.pipe.name: state for state in extension.pipes()}
    assert by_name["pipe-worker-on"].settled_state == "RUNNING"
    assert by_name["pipe-worker-off"].settled_state == "STOPPED"
    worker_view = by_name["pipe-worker-on"].pipe
    assert worker_view.source == STREAM
    assert worker_view.source_parameters is not None and worker_view.target_parameters is not None
    assert worker_view.source_parameters["DynamoDBStreamParameters"]["BatchSize"] == 25
    assert worker_view.target_parameters["KinesisStreamParameters"]["PartitionKey"] == "$.dynamodb.Keys.orderid.S"
