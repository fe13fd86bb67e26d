"""The Assets the catalog DAGs are scheduled on, and the trigger that watches the landing queue.

Imported at DAG-parse time: it reads the deployment's config from the environment only (no Airflow
Variable, no AWS call) and imports no heavy module.

S3 notifies the landing queue of every object Firehose writes under the data prefix. The provider's
``SqsSensorTrigger`` needs the queue's URL, which holds the account id, unknown until a task asks
AWS; ``LandingQueueTrigger`` is that trigger, given the queue's name and resolving the URL with
GetQueueUrl in the triggerer, where AWS calls belong.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
from airflow.sdk import Asset, AssetWatcher

from sales_pipeline.config import PipelineConfig, load_config

# SQS long polling: one ReceiveMessage waits up to 20 s for a message (the API maximum).
LONG_POLL_S = 20


class LandingQueueTrigger(SqsSensorTrigger):
    """The provider's SQS trigger, addressed by queue name rather than URL (see the module docstring)."""

    def __init__(self, sqs_queue: str, **kwargs: Any) -> None:
        super().__init__(sqs_queue=sqs_queue, **kwargs)

    async def poke(self, client: Any) -> Any:
        if not self.sqs_queue.startswith(("https://", "http://")):
            reply = await client.get_queue_url(QueueName=self.sqs_queue)
            self.sqs_queue = reply["QueueUrl"]
        return await super().poke(client)


def deployment_config() -> PipelineConfig:
    """The config this deployment's DAG files are parsed with: defaults and SALES_PIPELINE_* only."""
    return load_config(variable_reader=lambda: None)


def landed_data(config: PipelineConfig | None = None) -> Asset:
    """Objects under the data prefix; a watcher on the landing queue records an event per batch of them."""
    config = config or deployment_config()
    trigger = LandingQueueTrigger(
        sqs_queue=config.landing_queue_name,
        region_name=config.region,
        max_messages=10,
        wait_time_seconds=LONG_POLL_S,
        waiter_delay=1,
    )
    return Asset(
        name=f"sales_stream_{config.env}_landed_data",
        uri=f"s3://{config.bucket}/{config.data_prefix}",
        watchers=[AssetWatcher(name=f"sales_stream_{config.env}_landing_queue", trigger=trigger)],
    )


def catalog_table(config: PipelineConfig | None = None) -> Asset:
    """The Glue table Athena queries, updated by a successful catalog refresh."""
    config = config or deployment_config()
    return Asset(
        name=f"sales_stream_{config.env}_catalog_table",
        uri=f"athena://{config.glue_database}/{config.glue_table}",
    )


def first_landing_event(config: PipelineConfig | None = None, timeout_s: float = 60) -> dict[str, Any]:
    """Run the landed-data watcher's own trigger until it fires, as Airflow's triggerer would, and return the
    event's payload. For the demo and the tests (dag.test() runs no triggerer); never called by a DAG."""
    import asyncio

    (watcher,) = landed_data(config).watchers
    trigger: Any = watcher.trigger

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise RuntimeError("the landing watcher's trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first_event(), timeout_s))
