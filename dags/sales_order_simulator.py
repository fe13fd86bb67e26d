"""
### Order simulator

Writes realistic orders to the env's DynamoDB table (a product catalogue, prices with cents, skewed
quantities) with BatchWriteItem, then updates and deletes some, throttled to `rate_per_s`, so the whole
CDC pipeline has traffic to carry. `seed` fixes the products, quantities and which orders change; order
ids are unique to the run (`sim-<run>-NNNNNNN`).

Returns the exact final state the reports must show: live orders, units, revenue and quantity per
product. Refuses an env whose name contains `prod` unless `allow_in_prod` is set.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from sales_pipeline.dag_support import DEFAULT_ARGS, env_param


@dag(
    dag_id="sales_order_simulator",
    schedule=None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["sales-stream", "test-data"],
    doc_md=__doc__,
    params={
        "env": env_param(),
        "orders": Param(
            1000,
            type="integer",
            minimum=1,
            maximum=1_000_000,
            title="orders",
            description="New orders to write (1-1,000,000).",
        ),
        "update_ratio": Param(
            0.2,
            type="number",
            minimum=0,
            maximum=1,
            title="update_ratio",
            description="Share of the new orders then updated once (0-1).",
        ),
        "delete_ratio": Param(
            0.1,
            type="number",
            minimum=0,
            maximum=1,
            title="delete_ratio",
            description="Share of the new orders then deleted (0-1).",
        ),
        "seed": Param(42, type="integer", title="seed", description="Random seed: same seed, same traffic."),
        "rate_per_s": Param(
            500,
            type="integer",
            minimum=1,
            maximum=40_000,
            title="rate_per_s",
            description="Item writes per second at most (1-40,000; on-demand tables adapt).",
        ),
        "allow_in_prod": Param(
            False,
            type="boolean",
            title="allow_in_prod",
            description="Allow test orders in an env whose name contains 'prod'.",
        ),
    },
)
def sales_order_simulator() -> None:
    @task
    def resolve_settings(params: dict[str, Any]) -> dict[str, Any]:
        """Validate, and refuse a production env before any AWS call."""
        from sales_pipeline.config import load_config
        from sales_pipeline.dag_support import settings_from_params
        from sales_pipeline.simulator import check_env_allowed

        check_env_allowed(load_config({"env": params.get("env")}), params["allow_in_prod"])
        return settings_from_params(params, ("env",))

    @task
    def simulate(settings: dict[str, Any], params: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        import re

        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.simulator import simulate_orders

        clients, names = context_from_settings(settings)
        summary = simulate_orders(
            clients,
            names.config,
            orders=params["orders"],
            update_ratio=params["update_ratio"],
            delete_ratio=params["delete_ratio"],
            seed=params["seed"],
            rate_per_s=params["rate_per_s"],
            run_tag=re.sub(r"[^0-9A-Za-z]", "", run_id or "")[-20:] or None,
            allow_in_prod=params["allow_in_prod"],
        )
        result = summary.as_dict()
        result.pop("deleted_orderids")  # can be large; the counts say it
        print(
            f"wrote {summary.orders} orders, {summary.updates} updates, {summary.deletes} deletes "
            f"({summary.changes} changes) in {summary.last_write_epoch_s - summary.first_write_epoch_s:.1f} s; "
            f"expected: {summary.live_orders} live orders, {summary.units} units, revenue {summary.revenue}"
        )
        return result

    simulate(resolve_settings())


sales_order_simulator()
