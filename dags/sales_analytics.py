"""
### Daily sales analytics on Athena

Every day at 01:00 UTC, for the day that has just ended (UTC); catchup is on, so missed days and
backfills each get their report. Triggered by hand it reports yesterday, or the `report_date` Param's day.

1. **Setup**: ensures the view `orders_current` (the latest state of every order), the table over
   the error prefix, and that table's partitions.
2. **Reports and checks** run in parallel in the configured workgroup (its result location and scan
   cut-off are enforced). The SQL is in `include/sql/`; the report day reaches Athena as
   `ExecutionParameters`, and every query on the raw table reads only that day's partitions.
   Reports count each order once in its latest state (the change log is delivered at least once).
3. **publish_report** writes `report.html` (one self-contained page), `report.md`, and one CSV and one
   PNG per query to `s3://<bucket>/reports/ds=<date>/`, logs a summary table and returns a summary.
4. **data_quality** fails the run when a check has findings, after the report is published: the
   report is there to read, and the failed run stands out in the UI. A query that fails fails its
   task with Athena's own message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, chain, dag, task

from sales_pipeline.analytics_queries import CHECKS, REPORTS, SETUP
from sales_pipeline.athena_operator import AthenaQueryOperator
from sales_pipeline.dag_support import AWS_CONN_ID, DEFAULT_ARGS, env_param

SETTINGS = "ti.xcom_pull(task_ids='resolve_settings')"
QUERIES = "ti.xcom_pull(task_ids='render_queries')"


def athena_task(name: str) -> AthenaQueryOperator:
    return AthenaQueryOperator(
        task_id=name,
        query="{{ " + QUERIES + f"['{name}']['sql'] }}}}",
        execution_parameters="{{ " + QUERIES + f"['{name}']['parameters'] }}}}",
        database="{{ " + SETTINGS + "['config']['glue_database'] }}",
        workgroup="{{ " + SETTINGS + "['config']['athena_workgroup'] }}",
        region_name="{{ " + SETTINGS + "['config']['region'] }}",
        aws_conn_id=AWS_CONN_ID,
    )


@dag(
    dag_id="sales_analytics",
    schedule=CronTriggerTimetable("0 1 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 25, tzinfo=UTC),
    catchup=True,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,  # ExecutionParameters stay a list
    tags=["sales-stream", "analytics", "athena"],
    doc_md=__doc__,
    params={
        "env": env_param(),
        "report_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="report_date",
            description="Day to report (YYYY-MM-DD, UTC). Empty: the day before the run (UTC).",
        ),
    },
)
def sales_analytics() -> None:
    @task
    def resolve_settings(params: dict[str, Any], **context: Any) -> dict[str, Any]:
        from sales_pipeline.analytics import report_day
        from sales_pipeline.dag_support import settings_from_params

        # A cron trigger's run has no interval: its logical date is when it fired (manual runs: run_after).
        day = report_day(params.get("report_date"), context.get("logical_date") or context["dag_run"].run_after)
        print(f"Reporting {day} (UTC)")
        return {**settings_from_params(params, ("env",)), "report_date": day.isoformat()}

    @task
    def render_queries(settings: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        from sales_pipeline.analytics import render_queries as render
        from sales_pipeline.config import PipelineConfig

        return render(PipelineConfig(**settings["config"]), dt.date.fromisoformat(settings["report_date"]))

    @task
    def publish_report(settings: dict[str, Any], query_execution_ids: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        from sales_pipeline.analytics import publish_report as publish
        from sales_pipeline.dag_support import context_from_settings

        clients, names = context_from_settings(settings)
        day = dt.date.fromisoformat(settings["report_date"])
        summary = publish(clients, names.config, day, query_execution_ids)
        print(f"Report: {summary['report_uri']}")
        return summary

    @task
    def data_quality(summary: dict[str, Any]) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        failed = {name: summary["checks"][name] for name in summary["failed_checks"]}
        if failed:
            raise AirflowFailException(
                f"{len(failed)} data-quality check(s) have findings (the report is published at "
                f"{summary['report_uri']}): " + ", ".join(f"{name}: {count}" for name, count in failed.items())
            )
        print(f"All {len(summary['checks'])} data-quality checks passed.")

    settings = resolve_settings()
    queries = render_queries(settings)
    setup = [athena_task(spec.name) for spec in SETUP]
    body = {spec.name: athena_task(spec.name) for spec in (*REPORTS, *CHECKS)}
    chain(queries, *setup, list(body.values()))
    summary = publish_report(settings, {name: operator.output for name, operator in body.items()})
    data_quality(summary)


sales_analytics()
