"""What every sales-stream DAG shares: default args, the config Params, and turning a run's Params into
a validated config, clients and names.

Imported at DAG-parse time, so it imports nothing heavy and calls nothing: the work happens in tasks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param

from sales_pipeline.config import INT_RANGES

AWS_CONN_ID = "aws_default"
OWNER = "sales-data-platform"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def _int_param(field: str, description: str) -> Param:
    low, high = INT_RANGES[field]
    return Param(
        None,
        type=["null", "integer"],
        minimum=low,
        maximum=high,
        title=field,
        description=f"{description} ({low}-{high}). Empty: the configured value.",
    )


def env_param() -> Param:
    return Param(
        None,
        type=["null", "string"],
        pattern="^[a-z][a-z0-9-]{0,19}$",
        title="env",
        description="Environment name; every resource name derives from it. Empty: SALES_PIPELINE_ENV (default local).",
    )


def sizing_params() -> dict[str, Param]:
    """The settings a provisioning run may change, with the AWS API's bounds."""
    return {
        "shard_count": _int_param("shard_count", "Kinesis shards; resharded in place when changed"),
        "pipe_batch_size": _int_param("pipe_batch_size", "Records per EventBridge Pipe batch"),
        "buffer_interval_s": _int_param("buffer_interval_s", "Firehose buffer interval in seconds"),
        "buffer_size_mb": _int_param("buffer_size_mb", "Firehose buffer size in MiB"),
    }


def settings_from_params(params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Validate the run's Params into a config (no AWS call before this succeeds), then find the account.

    Returns a JSON-able dict for XCom: {"config": {...}, "account": {...}}.
    """
    from dataclasses import asdict

    from sales_pipeline.aws import Account, Clients
    from sales_pipeline.config import load_config

    config = load_config({field: params.get(field) for field in fields})
    account = Account.discover(Clients.from_airflow(config.region, AWS_CONN_ID))
    return {"config": config.as_dict(), "account": asdict(account)}


def context_from_settings(settings: dict[str, Any]) -> tuple[Any, Any]:
    """(clients, names) for a task, from what settings_from_params returned."""
    from sales_pipeline.aws import Account, Clients
    from sales_pipeline.config import PipelineConfig
    from sales_pipeline.resources.names import Names

    config = PipelineConfig(**settings["config"])
    return Clients.from_airflow(config.region, AWS_CONN_ID), Names(config, Account(**settings["account"]))


def record_overrides(params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Make a successful run's Params the env's configured values (the Airflow Variable), so that verify
    and later runs compare against what was provisioned rather than report it as drift.

    Only for the env the deployment is configured for: provisioning another env from here leaves this
    deployment's config alone.
    """
    import json

    from airflow.sdk import Variable

    from sales_pipeline.config import VARIABLE_NAME, load_config

    given = {field: params[field] for field in fields if field != "env" and params.get(field) is not None}
    if not given or (params.get("env") not in (None, load_config().env)):
        return {}
    current = json.loads(Variable.get(VARIABLE_NAME, default=None) or "{}")
    merged = {**current, **given}
    if merged != current:
        Variable.set(VARIABLE_NAME, json.dumps(merged, sort_keys=True))
    return given
