"""The daily analytics queries: which SQL file, what it answers, its ExecutionParameters and its chart.

Imported at DAG-parse time (it names the tasks), so it is plain data: the SQL files are read only when
a task renders them (``sales_pipeline.analytics``).
"""

from __future__ import annotations

from dataclasses import dataclass

# The report day's partition values, in the order the SQL's ``?`` placeholders use them.
DAY_PARAMETERS = ("year", "month", "day")


@dataclass(frozen=True)
class QuerySpec:
    name: str
    kind: str  # "setup" (DDL the others rely on), "report" or "check" (a non-empty result is a finding)
    path: str  # under include/sql/
    title: str
    description: str
    parameters: tuple[str, ...] = ()
    # (kind, x column, y columns, title) for sales_pipeline.reporting.Chart; None: a table, no chart
    chart: tuple[str, str, tuple[str, ...], str] | None = None


SETUP = (
    QuerySpec("orders_current_view", "setup", "views/orders_current.sql", "View orders_current",
              "The latest state of every order."),
    QuerySpec("processing_errors_table", "setup", "tables/processing_errors.sql", "Table of processing errors",
              "Records the transformation Lambda could not read, as Firehose keeps them."),
    QuerySpec("processing_errors_partitions", "setup", "tables/processing_errors_partitions.sql",
              "Partitions of processing errors", "Registers the error prefix's hour folders."),
)  # fmt: skip

REPORTS = (
    QuerySpec("headline", "report", "reports/headline.sql", "Headline",
              "Orders first created on the report day, in their state at the end of the day.",
              DAY_PARAMETERS),
    QuerySpec("revenue_by_product", "report", "reports/revenue_by_product.sql", "Revenue by product",
              "Live orders, units and revenue per product, for orders first created on the report day.",
              DAY_PARAMETERS, ("bar", "product_name", ("revenue",), "Revenue by product")),
    QuerySpec("hourly_activity", "report", "reports/hourly_activity.sql", "Hourly change activity",
              "Inserts, updates and deletes that arrived in each hour (UTC); a re-delivered change counts once.",
              DAY_PARAMETERS, ("bar", "hour", ("inserts", "updates", "deletes"), "Changes per hour (UTC)")),
    QuerySpec("order_size_distribution", "report", "reports/order_size_distribution.sql", "Order size distribution",
              "Live orders per quantity bucket, with the median and 90th percentile unit price in each.",
              DAY_PARAMETERS, ("hist", "quantity_bucket", ("orders",), "Orders by quantity")),
)  # fmt: skip

CHECKS = (
    QuerySpec("check_duplicate_deliveries", "check", "checks/duplicate_deliveries.sql", "Duplicate deliveries",
              "Changes delivered more than once (same event_id); reports keep one copy.", DAY_PARAMETERS),
    QuerySpec("check_processing_errors", "check", "checks/processing_errors.sql", "Records under the error prefix",
              "Records the transformation Lambda failed on; they are missing from the reports.", DAY_PARAMETERS),
    QuerySpec("check_non_positive_values", "check", "checks/non_positive_values.sql", "Non-positive quantity or price",
              "Live changes with a quantity or price of zero or less.", DAY_PARAMETERS),
    QuerySpec("check_late_events", "check", "checks/late_events.sql", "Events more than an hour late",
              "Changes that reached the data lake more than an hour after they happened.", DAY_PARAMETERS),
    QuerySpec("check_ordering_anomalies", "check", "checks/ordering_anomalies.sql", "Ordering anomalies",
              "Orders whose latest change carries an earlier time than another of their changes.", DAY_PARAMETERS),
)  # fmt: skip

QUERIES = {spec.name: spec for spec in (*SETUP, *REPORTS, *CHECKS)}
