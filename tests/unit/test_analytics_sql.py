"""The rules the SQL in include/sql/ keeps: one statement a file, Jinja only for identifiers, values as
ExecutionParameters, and every read of the raw table limited to the report day's partitions."""

from __future__ import annotations

import datetime as dt
import re

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
    tree = sqlglot.parse_one(sql, read="athena")
    for select in tree.find_all(exp.Select):
        tables = [t.name for t in select.args["from"].find_all(exp.Table)] if select.args.get("from") else []
        if CONFIG.glue_table in tables or f"{CONFIG.glue_table}_processing_errors" in tables:
            where = select.args.get("where")
            assert where is not None, f"{spec.name}: a read of the raw table without a WHERE"
            keys = {column.name for eq in where.find_all(exp.EQ) for column in eq.find_all(exp.Column)}
            assert {"year", "month", "day"} <= keys, f"{spec.name}: not limited to one day's partitions"


def test_rendered_queries_carry_the_days_partition_values_as_quoted_literals() -> None:
    queries = render_queries(CONFIG, dt.date(2026, 3, 7))
    assert queries["headline"]["parameters"] == ["'2026'", "'03'", "'07'"]
    assert queries["orders_current_view"]["parameters"] is None
    assert parameter_values(dt.date(2026, 3, 7))["report_date"] == "'2026-03-07'"


def test_report_day_comes_from_the_param_else_the_data_interval() -> None:
    interval_start = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)
    assert report_day("2026-01-02", interval_start) == dt.date(2026, 1, 2)
    assert report_day(None, interval_start) == dt.date(2026, 11, 25)
    with pytest.raises(ValueError, match="report_date '2026-13-01' is not a date"):
        report_day("2026-13-01", None)
