"""The canary as an Airflow operator: write, defer while waiting for the line to land, then report.

Waiting is deferred to the triggerer (no worker slot held for minutes); the trigger polls S3 in a
thread so the triggerer's event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

POLL_INTERVAL_S = 2.0
# Room for Firehose's buffer interval plus the pipe's batching window and the Lambda.
DEFAULT_MARGIN_S = 300


def _context(settings: dict[str, Any]) -> tuple[Any, Any]:
    from sales_pipeline.dag_support import context_from_settings

    return context_from_settings(settings)


class CanaryLandedTrigger(BaseTrigger):
    """Fires when the canary's line is in the data lake, or when the deadline passes."""

    def __init__(self, settings: dict[str, Any], orderid: str, since_epoch: float, deadline_epoch: float,
                 poll_interval_s: float = POLL_INTERVAL_S) -> None:  # fmt: skip
        super().__init__()
        self.settings = settings
        self.orderid = orderid
        self.since_epoch = since_epoch
        self.deadline_epoch = deadline_epoch
        self.poll_interval_s = poll_interval_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "settings": self.settings,
                "orderid": self.orderid,
                "since_epoch": self.since_epoch,
                "deadline_epoch": self.deadline_epoch,
                "poll_interval_s": self.poll_interval_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from sales_pipeline.canary import find_landed

        clients, names = await asyncio.to_thread(_context, self.settings)
        seen: set[str] = set()
        while True:
            landed = await asyncio.to_thread(find_landed, clients, names.config, self.orderid, self.since_epoch, seen)
            # The event carries the canary's identity: the resumed task needs nothing else.
            about = {"orderid": self.orderid, "since_epoch": self.since_epoch,
                     "timeout_s": round(self.deadline_epoch - self.since_epoch)}  # fmt: skip
            if landed is not None:
                yield TriggerEvent({"status": "landed", **about, **landed})
                return
            if time.time() > self.deadline_epoch:
                yield TriggerEvent({"status": "timeout", **about})
                return
            await asyncio.sleep(self.poll_interval_s)


class EndToEndCanaryOperator(BaseOperator):
    """Write ``canary-<run id>`` to the orders table and wait for its line under the data prefix.

    Succeeds with the end-to-end latency (also pushed to CloudWatch as SalesStream/CanaryLatencySeconds);
    fails naming the stage where the canary stopped. The canary order is deleted either way.
    """

    template_fields = ("settings",)

    def __init__(self, *, settings: Any, timeout_s: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.timeout_s = timeout_s

    def _timeout_s(self, context: Any) -> int:
        from sales_pipeline.config import PipelineConfig

        given = self.timeout_s or context["params"].get("canary_timeout_s")
        return int(given or PipelineConfig(**self.settings["config"]).buffer_interval_s + DEFAULT_MARGIN_S)

    def execute(self, context: Any) -> None:
        from sales_pipeline.canary import canary_orderid, write_canary

        clients, names = _context(self.settings)
        orderid = canary_orderid(context["run_id"], getattr(context.get("ti"), "try_number", 1) or 1)
        since = write_canary(clients, names.config, orderid)
        timeout_s = self._timeout_s(context)
        self.log.info("canary %s written to %s; waiting up to %d s for it to land", orderid,
                      names.config.table_name, timeout_s)  # fmt: skip
        self.defer(
            trigger=CanaryLandedTrigger(self.settings, orderid, since, since + timeout_s),
            method_name="execute_complete",
            # the trigger's own deadline fires first; this only bounds a lost trigger
            timeout=timedelta(seconds=timeout_s + 120),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from sales_pipeline.canary import delete_canary, diagnose, publish_latency

        orderid, since_epoch, timeout_s = event["orderid"], event["since_epoch"], event["timeout_s"]
        clients, names = _context(self.settings)
        try:
            if event["status"] != "landed":
                stage = diagnose(clients, names, orderid, since_epoch)
                raise AirflowFailException(f"canary {orderid} did not land within {timeout_s} s: {stage}")
            latency_s = round(max(0.0, event["landed_epoch"] - since_epoch), 3)
            publish_latency(clients, names.config, latency_s)
            self.log.info("canary %s landed in s3://%s/%s after %.3f s (DynamoDB write to S3 object)",
                          orderid, names.config.bucket, event["key"], latency_s)  # fmt: skip
            return {"orderid": orderid, "latency_s": latency_s, "key": event["key"]}
        finally:
            delete_canary(clients, names.config, orderid)
