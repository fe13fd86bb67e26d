"""
### Provision the sales CDC pipeline

Creates or updates every AWS resource of one env, idempotently: DynamoDB table with its stream, the
EventBridge Pipe into Kinesis, the Firehose delivery stream with its transformation Lambda, the S3
data lake, the landing queue, the Glue database, classifier and crawler, and the Athena workgroup, each
with a least-privilege IAM role where it needs one, all tagged `project=sales-stream`, `env=<env>`.

Each `ensure_*` task compares the desired state (a pure function of the config) with what AWS
describes and creates, updates or leaves the resource: `created | updated | unchanged`. Running it
again changes nothing; a run that died half-way is finished by the next one. `dry_run` prints the plan
and makes no change. The last task prints one table: resource, ARN, outcome.

**Params** override the configured values (`sales_pipeline_config` Variable, `SALES_PIPELINE_*` env) for
this run; after a successful run they are recorded in the Variable, so `sales_stream_verify` checks the
env against what was provisioned.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from sales_pipeline.dag_support import DEFAULT_ARGS, env_param, sizing_params
from sales_pipeline.pipeline_steps import STEPS

CONFIG_FIELDS = ("env", "shard_count", "pipe_batch_size", "buffer_interval_s", "buffer_size_mb")


@dag(
    dag_id="sales_stream_provision",
    schedule=None,
    catchup=False,
    max_active_runs=1,  # two provisioning runs would race on the same resources
    default_args=DEFAULT_ARGS,
    tags=["sales-stream", "infrastructure"],
    doc_md=__doc__,
    params={
        "env": env_param(),
        **sizing_params(),
        "dry_run": Param(
            False, type="boolean", title="dry_run", description="Print what would change and change nothing."
        ),
    },
)
def sales_stream_provision() -> None:
    @task
    def resolve_settings(params: dict[str, Any]) -> dict[str, Any]:
        """Validate the Params into a config before any AWS call; then look up the account."""
        from sales_pipeline.dag_support import settings_from_params

        return settings_from_params(params, CONFIG_FIELDS)

    @task
    def ensure(settings: dict[str, Any], step_id: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.pipeline import format_table, provision_step

        clients, names = context_from_settings(settings)
        changes = provision_step(step_id, clients, names, dry_run=params["dry_run"])
        print(format_table(changes))
        return changes

    @task
    def wait_until_ready(settings: dict[str, Any], params: dict[str, Any]) -> None:
        """Table and stream ACTIVE, function Active, pipe RUNNING, delivery stream ACTIVE."""
        if params["dry_run"]:
            return
        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.pipeline import wait_until_ready as wait

        wait(*context_from_settings(settings))

    @task
    def report(changes: list[list[dict[str, Any]]], params: dict[str, Any]) -> dict[str, int]:
        from collections import Counter

        from sales_pipeline.dag_support import record_overrides
        from sales_pipeline.pipeline import format_table

        flat = [change for step_changes in changes for change in step_changes]
        print(("DRY RUN: nothing was changed.\n" if params["dry_run"] else "") + format_table(flat))
        if not params["dry_run"]:
            recorded = record_overrides(params, CONFIG_FIELDS)
            if recorded:
                print(f"Recorded {recorded} in the sales_pipeline_config Variable.")
        return dict(Counter(change["outcome"] for change in flat))

    settings = resolve_settings()
    ensured = {step.id: ensure.override(task_id=f"ensure_{step.id}")(settings, step.id) for step in STEPS}
    for step in STEPS:
        for upstream in step.after:
            ensured[upstream] >> ensured[step.id]
    ready = wait_until_ready(settings)
    list(ensured.values()) >> ready
    ready >> report(list(ensured.values()))


sales_stream_provision()
