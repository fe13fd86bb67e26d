"""The order simulator against an in-process moto DynamoDB: its summary equals the table's final state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sales_pipeline.aws import Clients
from sales_pipeline.config import load_config
from sales_pipeline.simulator import SimulatorRefused, simulate_orders

REGION = "us-east-1"


@pytest.fixture
def clients() -> Iterator[Clients]:
    with mock_aws():
        made = Clients(lambda service: boto3.client(service, region_name=REGION), REGION)  # type: ignore[call-overload]
        made("dynamodb").create_table(
            TableName="sales-stream-sim-orders",
            AttributeDefinitions=[{"AttributeName": "orderid", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "orderid", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield made


def scan(clients: Clients) -> list[dict[str, Any]]:
    pages = clients("dynamodb").get_paginator("scan").paginate(TableName="sales-stream-sim-orders")
    return [item for page in pages for item in page["Items"]]


def test_summary_is_the_tables_final_state(clients: Clients) -> None:
    config = load_config({"env": "sim"}, environ={}, variable_reader=lambda: None)
    summary = simulate_orders(
        clients, config, orders=300, update_ratio=0.3, delete_ratio=0.1, seed=7, rate_per_s=100_000, run_tag="t1"
    )
    assert (summary.orders, summary.updates, summary.deletes, summary.changes) == (300, 90, 30, 420)

    items = scan(clients)
    assert summary.live_orders == len(items) == 270
    assert summary.units == sum(int(i["quantity"]["N"]) for i in items)
    revenue = sum(Decimal(i["quantity"]["N"]) * Decimal(i["price"]["N"]) for i in items)
    assert Decimal(summary.revenue) == revenue
    assert summary.revenue == f"{revenue:.2f}"
    per_product: Counter[str] = Counter()
    for item in items:
        per_product[item["product_name"]["S"]] += int(item["quantity"]["N"])
    assert summary.per_product_quantity == dict(per_product)
    assert all(i["orderid"]["S"].startswith("sim-t1-") for i in items)
    assert not {i["orderid"]["S"] for i in items} & set(summary.deleted_orderids)
    assert summary.write_calls < 300  # batched: 12 puts + 90 updates + 2 deletes


def test_same_seed_same_traffic_other_run_other_ids(clients: Clients) -> None:
    config = load_config({"env": "sim"}, environ={}, variable_reader=lambda: None)
    first = simulate_orders(clients, config, orders=50, seed=3, rate_per_s=100_000, run_tag="a")
    second = simulate_orders(clients, config, orders=50, seed=3, rate_per_s=100_000, run_tag="b")
    assert first.per_product_quantity == second.per_product_quantity
    assert first.revenue == second.revenue
    assert len(scan(clients)) == first.live_orders + second.live_orders


def test_rate_is_respected(clients: Clients) -> None:
    config = load_config({"env": "sim"}, environ={}, variable_reader=lambda: None)
    summary = simulate_orders(clients, config, orders=100, update_ratio=0, delete_ratio=0, rate_per_s=200)
    # 100 items at 200/s cannot finish in under ~0.5 s (the last batch waits for its share of time)
    assert summary.last_write_epoch_s - summary.first_write_epoch_s >= 0.45


def test_production_env_is_refused_unless_allowed(clients: Clients) -> None:
    config = load_config({"env": "prod-eu", "table_name": "sales-stream-sim-orders"}, environ={},
                         variable_reader=lambda: None)  # fmt: skip
    with pytest.raises(SimulatorRefused, match="allow_in_prod"):
        simulate_orders(clients, config, orders=10)
    assert scan(clients) == []
    assert simulate_orders(clients, config, orders=10, allow_in_prod=True, rate_per_s=100_000).live_orders == 9
