"""The rules the SQL in include/sql/ keeps: one statement a file, Jinja only for identifiers, values as
ExecutionParameters, and every read of the raw table limited to the report day's partitions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from sales_pipeline.analytics import SQL_DIR, parameter_values, render_queries, render_sql, report_day
from sales_pipeline.analytics_queries import CHECKS, QUERIES, REPORTS, SETUP, QuerySpec
from sales_pipeline.config import load_config

CONFIG = load_config({"env": "sqltest"}, environ={}, variable_reader=lambda: None)


def test_every_sql_file_is_a_query_and_every_query_has_a_file() -> None:
    files = {str(path.relative_to(SQL_DIR)) for path in SQL_DIR.rglob("*.sql")}
    assert files == {spec.path for spec in QUERIES.values()}
    assert len(SETUP) == 3 and len(REPORTS) >= 4 and len(CHECKS) >= 5


@pytest.mark.parametrize("spec", QUERIES.values(), ids=lambda spec: spec.name)
def test_each_file_renders_to_one_statement_with_config_identifiers(spec: QuerySpec) -> None:
    sql = render_sql(spec, CONFIG)
    assert "{{" not in sql and "{%" not in sql
    statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    assert len(statements) == 1
    assert CONFIG.glue_database in sql


@pytest.mark.parametrize("spec", (*REPORTS, *CHECKS), ids=lambda spec: spec.name)
def test_values_are_parameters_and_each_raw_table_read_is_one_days_partitions(spec: QuerySpec) -> None:
    sql = render_sql(spec, CONFIG)
    assert sql.count("?") == len(spec.parameters) == 3
    assert not re.search(r"'\d{4}-\d{2}-\d{2}'|'20\d\d'", sql), "a date pasted into the SQL text"
    assert unpruned_reads(sql) == [], f"{spec.name} reads the raw table beyond the report day"


def unpruned_reads(sql: str) -> list[str]:
    """SELECTs that read the raw (or error) table without equality filters on year, month and day."""
    found = []
    for select in sqlglot.parse_one(sql, read="athena").find_all(exp.Select):
        source = select.args.get("from_") or select.args.get("from")
        # the tables this SELECT reads itself (a subquery's tables are its own SELECT's business)
        sources = [source.this] if source is not None else []
        sources += [join.this for join in select.args.get("joins") or []]
        tables = [table.name for table in sources if isinstance(table, exp.Table)]
        if CONFIG.glue_table in tables or f"{CONFIG.glue_table}_processing_errors" in tables:
            where = select.args.get("where")
            keys = {c.name for eq in where.find_all(exp.EQ) for c in eq.find_all(exp.Column)} if where else set()
            if not {"year", "month", "day"} <= keys:
                found.append(select.sql()[:80])
    return found


def test_the_partition_rule_checker_catches_a_read_of_all_history() -> None:
    table = f'"{CONFIG.glue_database}"."{CONFIG.glue_table}"'
    assert unpruned_reads(f"SELECT count(*) FROM {table} WHERE year = ? AND month = ?") != []
    assert unpruned_reads(f"WITH d AS (SELECT * FROM {table}) SELECT * FROM d WHERE day = ?") != []
    assert unpruned_reads(f"SELECT count(*) FROM {table} WHERE year = ? AND month = ? AND day = ?") == []


def test_rendered_queries_carry_the_days_partition_values_as_quoted_literals() -> None:
    queries = render_queries(CONFIG, dt.date(2026, 3, 7))
    assert queries["headline"]["parameters"] == ["'2026'", "'03'", "'07'"]
    assert queries["orders_current_view"]["parameters"] is None
    assert parameter_values(dt.date(2026, 3, 7))["report_date"] == "'2026-03-07'"


def test_report_day_comes_from_the_param_else_is_the_day_before_the_run() -> None:
    fired = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)
    assert report_day("2026-01-02", fired) == dt.date(2026, 1, 2)
    assert report_day(None, fired) == dt.date(2026, 11, 25)
    late_evening_elsewhere = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert report_day(None, late_evening_elsewhere) == dt.date(2026, 11, 26)  # 04:00 UTC on the 27th
    with pytest.raises(ValueError, match="report_date '2026-13-01' is not a date"):
        report_day("2026-13-01", None)


def test_the_schedule_fires_at_one_utc_and_each_run_reports_the_day_that_ended() -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    dag: Any = DagBag(dag_folder=str(SQL_DIR.parents[1] / "dags" / "sales_analytics.py")).dags["sales_analytics"]
    timetable: Any = dag.timetable
    assert (timetable.expression, str(timetable.timezone), timetable.interval) == ("0 1 * * *", "UTC", dt.timedelta(0))
    # what the scheduler makes of it: the first run fires at 01:00 UTC on the start date
    scheduler_side = CronTriggerTimetable(timetable.expression, timezone=timetable.timezone)
    first = scheduler_side.next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(dag.start_date, None, catchup=True)
    )
    assert first is not None
    fired = first.logical_date  # a cron trigger's run has no data interval: its logical date is when it fired
    assert fired == dt.datetime.combine(dag.start_date.date(), dt.time(1), dt.UTC)
    assert report_day(None, fired) == dag.start_date.date() - dt.timedelta(days=1)
    assert dag.catchup and dag.max_active_runs <= 2
