"""Daily analytics: render the Athena SQL for a report day, read the results back, publish the report.

The SQL lives in include/sql/ (Athena's Trino dialect, one statement a file). Jinja fills in only
identifiers and locations from the config; values (the report day) go to Athena as ExecutionParameters.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sales_pipeline.analytics_queries import CHECKS, QUERIES, REPORTS, QuerySpec
from sales_pipeline.aws import Clients
from sales_pipeline.config import PipelineConfig

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
                 ".csv": "text/csv; charset=utf-8", ".png": "image/png"}  # fmt: skip


def errors_table(config: PipelineConfig) -> str:
    return f"{config.glue_table}_processing_errors"


def report_day(report_date: str | None, run_time: dt.datetime | None) -> dt.date:
    """The day to report: the report_date Param, else the (UTC) day before the run's time. A scheduled
    run fires at 01:00 UTC, so it reports the day that has just ended; a manual run reports yesterday."""
    if report_date:
        try:
            return dt.date.fromisoformat(report_date)
        except ValueError as err:
            raise ValueError(f"report_date {report_date!r} is not a date in YYYY-MM-DD form") from err
    moment = run_time or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def parameter_values(day: dt.date) -> dict[str, str]:
    """ExecutionParameters are SQL literals: the partition values are strings, quoted."""
    return {"year": f"'{day:%Y}'", "month": f"'{day:%m}'", "day": f"'{day:%d}'", "report_date": f"'{day}'"}


def render_sql(spec: QuerySpec, config: PipelineConfig, sql_dir: Path = SQL_DIR) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(sql_dir)), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    identifiers = {
        "database": config.glue_database,
        "table": config.glue_table,
        "errors_table": errors_table(config),
        "bucket": config.bucket,
        "error_prefix": config.error_prefix,
    }
    return environment.get_template(spec.path).render(**identifiers).strip()


def render_queries(config: PipelineConfig, day: dt.date, sql_dir: Path = SQL_DIR) -> dict[str, dict[str, Any]]:
    values = parameter_values(day)
    return {
        spec.name: {
            "sql": render_sql(spec, config, sql_dir),
            "parameters": [values[name] for name in spec.parameters] or None,
        }
        for spec in QUERIES.values()
    }


def fetch_result(athena: Any, spec: QuerySpec, query_execution_id: str) -> Any:
    """A finished query's rows and statistics, as sales_pipeline.reporting renders them."""
    from sales_pipeline.reporting import Chart, QueryResult

    execution = athena.get_query_execution(QueryExecutionId=query_execution_id)["QueryExecution"]
    statistics = execution.get("Statistics", {})
    columns: list[tuple[str, str]] = []
    rows: list[list[str | None]] = []
    first_page = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_execution_id):
        result_set = page["ResultSet"]
        if first_page:
            columns = [(c["Name"], c["Type"]) for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
        page_rows = [[datum.get("VarCharValue") for datum in row["Data"]] for row in result_set["Rows"]]
        rows += page_rows[1:] if first_page else page_rows  # a SELECT's first row is the header
        first_page = False
    chart = Chart(kind=spec.chart[0], x=spec.chart[1], y=spec.chart[2], title=spec.chart[3]) if spec.chart else None
    return QueryResult(
        name=spec.name,
        kind=spec.kind,
        title=spec.title,
        description=spec.description,
        columns=columns,
        rows=rows,
        query_execution_id=query_execution_id,
        engine_ms=int(statistics.get("EngineExecutionTimeInMillis", 0)),
        data_scanned_bytes=int(statistics.get("DataScannedInBytes", 0)),
        chart=chart,
    )


def publish_report(
    clients: Clients, config: PipelineConfig, day: dt.date, query_execution_ids: dict[str, str]
) -> dict[str, Any]:
    """Fetch every report and check result, render the report and write its files to S3."""
    from sales_pipeline import reporting

    athena = clients("athena")
    specs = [*REPORTS, *CHECKS]
    results = [fetch_result(athena, spec, query_execution_ids[spec.name]) for spec in specs]
    generated_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    files = reporting.render_report(day.isoformat(), config.env, results, generated_at)
    prefix = f"{config.reports_prefix}ds={day.isoformat()}/"
    s3 = clients("s3")
    for name, body in sorted(files.items()):
        s3.put_object(Bucket=config.bucket, Key=prefix + name, Body=body,
                      ContentType=CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"))  # fmt: skip
    summary = reporting.summary(day.isoformat(), results)
    summary["report_uri"] = f"s3://{config.bucket}/{prefix}report.html"
    summary["files"] = len(files)
    print(reporting.summary_table(results))
    return summary
