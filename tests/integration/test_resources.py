"""Resource behaviours that are cheaper to check through the library than through a DAG run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from localaws import LocalAWS
from sales_pipeline.aws import Account, Clients
from sales_pipeline.config import load_config
from sales_pipeline.resources.base import CREATED, UPDATED, OwnedElsewhere, ensure
from sales_pipeline.resources.kinesis import KinesisStream
from sales_pipeline.resources.names import Names
from sales_pipeline.resources.queues import landing_queue
from tests.integration.conftest import REGION, recorded_api_calls


def names_for(env: str, **overrides: Any) -> Names:
    config = load_config({"env": env, **overrides}, environ={}, variable_reader=lambda: None)
    return Names(config, Account("123456789012", REGION))


@pytest.fixture
def clients(localaws: LocalAWS) -> Clients:
    return Clients.from_session(REGION, localaws.tls_endpoint_url, localaws.ca_bundle)


def test_a_resource_tagged_for_another_env_is_refused_not_adopted(
    clients: Clients, aws_client: Callable[[str], Any]
) -> None:
    names = names_for("adopt")
    aws_client("sqs").create_queue(QueueName=names.config.landing_queue_name,
                                   tags={"project": "sales-stream", "env": "someone-elses"})  # fmt: skip
    with pytest.raises(OwnedElsewhere, match="env': 'someone-elses'"):
        ensure(landing_queue(clients, names), expected_tags=names.config.tags)
    url = aws_client("sqs").get_queue_url(QueueName=names.config.landing_queue_name)["QueueUrl"]
    assert aws_client("sqs").list_queue_tags(QueueUrl=url)["Tags"]["env"] == "someone-elses"  # untouched

    # an untagged queue of that name is adopted: tagged and configured as ours
    aws_client("sqs").delete_queue(QueueUrl=url)
    aws_client("sqs").create_queue(QueueName=names.config.landing_queue_name)
    assert ensure(landing_queue(clients, names), expected_tags=names.config.tags).outcome == UPDATED


def test_resharding_hops_at_most_doubling_or_halving(clients: Clients) -> None:
    def targets(calls: list[tuple[str, Any]]) -> list[int]:
        return [params["TargetShardCount"] for operation, params in calls if operation == "UpdateShardCount"]

    assert ensure(KinesisStream(clients, names_for("reshard", shard_count=1))).outcome == CREATED
    with recorded_api_calls() as calls:
        assert ensure(KinesisStream(clients, names_for("reshard", shard_count=5))).outcome == UPDATED
    assert targets(calls) == [2, 4, 5]
    with recorded_api_calls() as calls:
        assert ensure(KinesisStream(clients, names_for("reshard", shard_count=1))).outcome == UPDATED
    assert targets(calls) == [3, 2, 1]
