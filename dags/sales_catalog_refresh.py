"""
### Refresh the Glue catalog when data lands

Scheduled by the **landed data** Asset: a watcher on the landing queue (S3 ObjectCreated under the data
prefix, through the Amazon provider's SQS trigger) records an event for each batch of new objects. Also
triggerable by hand.

Firehose writes many objects an hour and a crawl costs crawler time, so the run first decides whether a
crawl can change the catalog: a **new hour** (a partition the table lacks) or a **new top-level
attribute** (read from a sample of the new objects). Otherwise it ends early and its log says why.

When a crawl is needed it starts the crawler (a crawl already running is waited on first, then ours
runs), waits deferred, fails with the crawler's own message if the crawl did not succeed, then
validates the table: the DESIGN.md columns and types, partition keys `year/month/day/hour`, and the new
partitions present. Objects under the data prefix that are not newline-delimited JSON are reported by
key: the crawler keeps them out of the table, and Athena could not read them.

A successful refresh emits the **catalog table** Asset (`athena://<database>/<table>`).
One run at a time: two crawls of one crawler never overlap.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from sales_pipeline.crawl_operator import CatalogCrawlOperator
from sales_pipeline.dag_support import AWS_CONN_ID, DEFAULT_ARGS, env_param
from sales_pipeline.landing import catalog_table, landed_data

SETTINGS = "ti.xcom_pull(task_ids='resolve_settings')"


@dag(
    dag_id="sales_catalog_refresh",
    schedule=[landed_data()],
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sales-stream", "catalog", "glue"],
    doc_md=__doc__,
    params={
        "env": env_param(),
        "force_crawl": Param(
            False,
            type="boolean",
            title="force_crawl",
            description="Crawl even when no new hour or attribute has landed.",
        ),
        "sample_objects": Param(
            20,
            type="integer",
            minimum=0,
            maximum=1000,
            title="sample_objects",
            description="How many of the newest objects (0-1000) to read whole when looking "
            "for new attributes; every new object's first line is checked.",
        ),
    },
)
def sales_catalog_refresh() -> None:
    @task
    def resolve_settings(params: dict[str, Any]) -> dict[str, Any]:
        from sales_pipeline.dag_support import settings_from_params

        return settings_from_params(params, ("env",))

    @task
    def plan_crawl(settings: dict[str, Any], params: dict[str, Any], **context: Any) -> dict[str, Any]:
        """What landed since the last crawl, and whether a crawl can change the catalog."""
        from sales_pipeline.catalog import Catalog, keys_from_notifications
        from sales_pipeline.dag_support import context_from_settings

        clients, names = context_from_settings(settings)
        config = names.config
        messages = [
            message
            for events in (context.get("triggering_asset_events") or {}).values()
            for event in events
            for message in ((event.extra or {}).get("payload") or {}).get("message_batch", [])
        ]
        notified = keys_from_notifications(messages, config.bucket, config.data_prefix)
        print(f"{len(messages)} landing notification(s) for {len(notified)} object(s) triggered this run")
        plan = Catalog(clients, config).plan(notified, params["sample_objects"], force=params["force_crawl"])
        decision = "CRAWL" if plan.crawl else "SKIP"
        print(f"{len(plan.new_objects)} new object(s) since the last crawl, {plan.sampled_objects} read whole.")
        print(f"Decision: {decision}: {plan.reason}")
        return plan.as_dict()

    @task.short_circuit
    def crawl_needed(plan: dict[str, Any]) -> bool:
        from airflow.sdk.exceptions import AirflowFailException

        if plan["crawl"]:
            return True
        if plan["not_json"]:
            # No crawl, but a finding all the same: Athena cannot read these objects.
            raise AirflowFailException(
                f"{plan['reason']}, but {len(plan['not_json'])} object(s) are not newline-delimited JSON:\n"
                + "\n".join(f"- {key}: {why}" for key, why in plan["not_json"].items())
            )
        print(f"Skipping the crawl: {plan['reason']}")
        return False

    crawl = CatalogCrawlOperator(
        task_id="crawl",
        crawler_name="{{ " + SETTINGS + "['config']['crawler_name'] }}",
        region_name="{{ " + SETTINGS + "['config']['region'] }}",
        aws_conn_id=AWS_CONN_ID,
        poll_interval=2,
    )

    @task(outlets=[catalog_table()])
    def validate_table(settings: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from sales_pipeline.catalog import Catalog
        from sales_pipeline.dag_support import context_from_settings

        clients, names = context_from_settings(settings)
        catalog = Catalog(clients, names.config)
        print(catalog.describe())
        problems, summary = catalog.validate(plan)
        if summary.get("logged_only_attributes"):
            print("New attribute(s) only logged (SchemaChangePolicy LOG): "
                  + ", ".join(summary["logged_only_attributes"]))  # fmt: skip
        if problems:
            raise AirflowFailException(f"{len(problems)} problem(s):\n" + "\n".join(f"- {p}" for p in problems))
        return summary

    settings = resolve_settings()
    plan = plan_crawl(settings)
    crawl_needed(plan) >> crawl >> validate_table(settings, plan)


sales_catalog_refresh()
