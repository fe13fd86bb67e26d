"""The provision, verify and teardown DAGs, run with dag.test() against localaws.

The tests of one env run in file order: provision from nothing, again, after a config change, after
a half-finished run, verify, drift, teardown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow.sdk.exceptions import ParamValidationError

from localaws import LocalAWS
from sales_pipeline.aws import Account, Clients
from sales_pipeline.config import VARIABLE_NAME, load_config
from sales_pipeline.dag_runner import DagRunResult
from sales_pipeline.pipeline import ownership
from sales_pipeline.pipeline_steps import STEP_IDS
from sales_pipeline.resources.iam import SHARED_RESOURCE_SUFFIXES, WILDCARD_RESOURCE_ACTIONS
from sales_pipeline.resources.names import Names
from tests.integration.conftest import REGION, mutating

ENV = "itest"
RESOURCE_COUNT = 18  # 2 queues, table, stream, 4 roles, 2 log groups, db, classifier, bucket, function,
# crawler, workgroup, pipe, delivery stream


@pytest.fixture(scope="module", autouse=True)
def deployment_env() -> Iterator[None]:
    """This module's Airflow deployment is configured for env 'itest' (as SALES_PIPELINE_ENV would), with a
    1 s Firehose buffer so verify's canary lands quickly."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALES_PIPELINE_ENV", ENV)
        patch.setenv("SALES_PIPELINE_BUFFER_INTERVAL_S", "1")
        yield
    from airflow.models.variable import Variable

    Variable.delete(VARIABLE_NAME)


def names() -> Names:
    return Names(load_config(), Account("123456789012", REGION))


def outcomes(result: DagRunResult) -> dict[str, str]:
    """{'<kind> <name>': outcome} from every ensure task's return value."""
    return {
        f"{change['kind']} {change['name']}": change["outcome"]
        for step_id in STEP_IDS
        for change in result.returns.get(f"ensure_{step_id}", [])
    }


def test_provision_from_nothing_creates_everything(run_dag: Callable[..., DagRunResult]) -> None:
    result = run_dag("sales_stream_provision")
    assert result.state == "success", result.task_states
    got = outcomes(result)
    assert len(got) == RESOURCE_COUNT
    assert set(got.values()) == {"created"}, got
    assert result.returns["report"] == {"created": RESOURCE_COUNT}


def test_provision_again_changes_nothing_and_makes_no_mutating_call(run_dag: Callable[..., DagRunResult]) -> None:
    result = run_dag("sales_stream_provision")
    assert result.state == "success"
    assert set(outcomes(result).values()) == {"unchanged"}
    assert mutating(result.api_calls) == []
    assert len(result.api_calls) > RESOURCE_COUNT  # it did look


def test_config_change_updates_only_that_resource(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    result = run_dag("sales_stream_provision", shard_count=3)
    got = outcomes(result)
    assert got.pop(f"Kinesis stream sales-stream-{ENV}-changes") == "updated"
    assert set(got.values()) == {"unchanged"}
    summary = aws_client("kinesis").describe_stream_summary(StreamName=f"sales-stream-{ENV}-changes")
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 3
    assert set(mutating(result.api_calls)) == {"UpdateShardCount"}


def test_half_finished_run_is_finished_by_the_next(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    sqs, athena, logs = aws_client("sqs"), aws_client("athena"), aws_client("logs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=f"sales-stream-{ENV}-pipe-dlq")["QueueUrl"])
    athena.delete_work_group(WorkGroup=f"sales-stream-{ENV}", RecursiveDeleteOption=True)
    logs.delete_log_group(logGroupName=f"/aws/lambda/sales-stream-{ENV}-transform")

    got = outcomes(run_dag("sales_stream_provision"))
    recreated = {name for name, outcome in got.items() if outcome == "created"}
    assert recreated == {
        f"SQS queue sales-stream-{ENV}-pipe-dlq",
        f"Athena workgroup sales-stream-{ENV}",
        f"log group /aws/lambda/sales-stream-{ENV}-transform",
    }
    assert {got[name] for name in set(got) - recreated} == {"unchanged"}


def test_verify_passes_after_provision(run_dag: Callable[..., DagRunResult]) -> None:
    result = run_dag("sales_stream_verify")
    assert result.state == "success", {k: v for k, v in result.returns.items() if v}
    assert result.returns["check_transform_output"] == []


def test_verify_fails_naming_resource_and_field_after_drift(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    firehose = aws_client("firehose")
    name = f"sales-stream-{ENV}-to-s3"
    stream = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    firehose.update_destination(
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId=stream["VersionId"],
        DestinationId=stream["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300}},
    )
    # the canary cannot land through a 300 s buffer in this test's time: bound it
    result = run_dag("sales_stream_verify", canary_timeout_s=10)
    assert result.state == "failed"
    assert result.task_states["report"] == "failed"
    assert result.returns["check_delivery_stream"] == [
        f"Firehose stream {name}: drift in Destination.BufferingHints.IntervalInSeconds: want 1, have 300"
    ]
    assert all(not problems for task, problems in result.returns.items() if task != "check_delivery_stream"
               and task.startswith("check_"))  # fmt: skip

    # provisioning puts the drift right, and verify is green again
    assert outcomes(run_dag("sales_stream_provision"))[f"Firehose stream {name}"] == "updated"
    assert run_dag("sales_stream_verify").state == "success"


def test_every_written_iam_policy_is_least_privilege(aws_client: Callable[[str], Any]) -> None:
    iam = aws_client("iam")
    problems = []
    roles = [f"sales-stream-{ENV}-{service}" for service in ("pipe", "firehose", "lambda", "crawler")]
    for role in roles:
        for policy_name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
            for statement in document["Statement"]:
                actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
                resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
                problems += [f"{role}: action {a}" for a in actions if "*" in a]
                if any(r == "*" for r in resources):
                    problems += [f"{role}: {a} on *" for a in actions if a not in WILDCARD_RESOURCE_ACTIONS]
                for resource in resources:
                    ours = f"sales-stream-{ENV}" in resource or f"sales_stream_{ENV}" in resource
                    if resource != "*" and not ours and not resource.endswith(tuple(SHARED_RESOURCE_SUFFIXES)):
                        problems.append(f"{role}: resource {resource} is not this env's")
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert problems == []


def test_dry_run_plans_and_changes_nothing(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    result = run_dag("sales_stream_provision", env="dryrun", shard_count=4, dry_run=True)
    assert result.state == "success"
    assert set(outcomes(result).values()) == {"would create"}
    assert mutating(result.api_calls) == []
    assert "sales-stream-dryrun-orders" not in aws_client("dynamodb").list_tables()["TableNames"]

    # on the provisioned env, a dry run shows the update it would make, field by field, and makes none
    result = run_dag("sales_stream_provision", shard_count=4, dry_run=True)
    changes = [c for step in STEP_IDS for c in result.returns[f"ensure_{step}"] if c["outcome"] != "unchanged"]
    assert [(c["kind"], c["outcome"], c["details"]) for c in changes] == [
        ("Kinesis stream", "would update", ["OpenShardCount: want 4, have 3"])
    ]
    assert mutating(result.api_calls) == []


@pytest.mark.parametrize(
    ("param", "value"), [("shard_count", 0), ("pipe_batch_size", 20000), ("buffer_interval_s", 901)]
)
def test_bad_params_fail_before_any_aws_call(run_dag: Callable[..., DagRunResult], param: str, value: int) -> None:
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {param}"):
        run_dag("sales_stream_provision", **{param: value})


def test_teardown_with_wrong_confirmation_deletes_nothing(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    result = run_dag("sales_stream_teardown", confirm_env="production")
    assert result.state == "failed"
    assert result.task_states["confirm"] == "failed"
    assert mutating(result.api_calls) == [] and result.api_calls == []
    assert f"sales-stream-{ENV}-orders" in aws_client("dynamodb").list_tables()["TableNames"]


def test_teardown_deletes_tagged_resources_and_refuses_an_untagged_look_alike(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any], localaws: LocalAWS
) -> None:
    sqs = aws_client("sqs")
    landing = f"sales-stream-{ENV}-landing"
    # someone else's queue that happens to carry our landing queue's name
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=landing)["QueueUrl"])
    sqs.create_queue(QueueName=landing, tags={"team": "someone-else"})

    result = run_dag("sales_stream_teardown", confirm_env=ENV)
    assert result.state == "success", result.task_states
    summary = result.returns["report"]
    assert summary["refused"] == [f"SQS queue {landing}"]
    assert len(summary["deleted"]) == RESOURCE_COUNT - 1

    assert sqs.get_queue_url(QueueName=landing)["QueueUrl"]  # the look-alike is untouched
    left = {
        f"{item['kind']} {item['name']}"
        for items in ownership(
            Clients.from_session(REGION, localaws.tls_endpoint_url, localaws.ca_bundle), names()
        ).values()
        for item in items
        if item["exists"]
    }
    assert left == {f"SQS queue {landing}"}
    assert f"sales-stream-{ENV}-orders" not in aws_client("dynamodb").list_tables()["TableNames"]

    # a second teardown finds nothing of ours and fails on nothing
    again = run_dag("sales_stream_teardown", confirm_env=ENV)
    assert again.state == "success"
    assert set(again.returns["report"]) == {"absent", "refused"}


def test_recorded_params_are_the_envs_config(run_dag: Callable[..., DagRunResult]) -> None:
    from airflow.models.variable import Variable

    assert json.loads(Variable.get(VARIABLE_NAME)) == {"shard_count": 3}
