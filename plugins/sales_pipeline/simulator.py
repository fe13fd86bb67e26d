"""Realistic order traffic for the orders table, and the exact final state it must leave behind.

Orders are written with BatchWriteItem (25 a call, unprocessed items retried), then some are updated
and some deleted, all throttled to a rate. The returned summary is what analytics must report: live
orders, units, revenue and per-product quantity, computed here from the same random choices.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.config import PipelineConfig

# (product, unit price): prices with cents, as the source system sends them.
CATALOGUE: tuple[tuple[str, str], ...] = (
    ("Espresso beans 1kg", "18.50"),
    ("Filter coffee 500g", "9.95"),
    ("Ceramic mug", "12.00"),
    ("Pour-over kettle", "54.90"),
    ("Burr grinder", "129.99"),
    ("Oat milk 1L", "2.49"),
    ("Paper filters x100", "4.75"),
    ("Travel tumbler", "24.30"),
    ("Café crème pods x10", "3.99"),
    ('Barista "pro" tamper', "39.00"),
)
BATCH_WRITE_LIMIT = 25  # BatchWriteItem takes at most 25 requests


class SimulatorRefused(ValueError):
    """The simulator will not run here (a production env without allow_in_prod)."""


@dataclass
class SimulationSummary:
    orders: int
    updates: int
    deletes: int
    changes: int
    live_orders: int
    units: int
    revenue: str  # exact decimal text
    per_product_quantity: dict[str, int]
    orderid_prefix: str
    first_write_epoch_s: float = 0.0
    last_write_epoch_s: float = 0.0
    write_calls: int = 0
    retried_items: int = 0
    deleted_orderids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Throttle:
    """At most ``rate_per_s`` items a second, measured from the start (so bursts catch up evenly)."""

    def __init__(self, rate_per_s: float) -> None:
        self.interval = 1.0 / rate_per_s
        self.started = time.monotonic()
        self.items = 0

    def take(self, items: int) -> None:
        self.items += items
        wait = self.started + self.items * self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def check_env_allowed(config: PipelineConfig, allow_in_prod: bool) -> None:
    if "prod" in config.env and not allow_in_prod:
        raise SimulatorRefused(
            f"env {config.env!r} looks like production: test orders are refused unless allow_in_prod is set"
        )


def simulate_orders(
    clients: Clients,
    config: PipelineConfig,
    *,
    orders: int,
    update_ratio: float = 0.2,
    delete_ratio: float = 0.1,
    seed: int = 42,
    rate_per_s: float = 1000.0,
    run_tag: str | None = None,
    allow_in_prod: bool = False,
) -> SimulationSummary:
    """Write ``orders`` orders, update ``round(orders*update_ratio)`` and delete ``round(orders*delete_ratio)``.

    ``seed`` fixes products, quantities and which orders change; ``run_tag`` makes the order ids unique to
    this run, so that running twice never turns one run's inserts into the other's updates.
    """
    check_env_allowed(config, allow_in_prod)
    if orders < 1 or not 0 <= update_ratio <= 1 or not 0 <= delete_ratio <= 1:
        raise ValueError("orders must be >= 1 and update_ratio, delete_ratio between 0 and 1")
    rng = random.Random(seed)
    tag = run_tag or uuid.uuid4().hex[:12]
    prefix = f"sim-{tag}-"
    table = config.table_name
    ddb = clients("dynamodb")
    throttle = _Throttle(rate_per_s)

    # orderid -> (product, quantity, unit price)
    state: dict[str, tuple[str, int, Decimal]] = {}
    for i in range(orders):
        product, price = rng.choice(CATALOGUE)
        state[f"{prefix}{i:07d}"] = (
            product,
            rng.choices((1, 2, 3, 4, 5, 10), (40, 25, 15, 10, 7, 3))[0],
            Decimal(price),
        )

    summary = SimulationSummary(0, 0, 0, 0, 0, 0, "0", {}, prefix, first_write_epoch_s=time.time())
    puts = [
        {"PutRequest": {"Item": {
            "orderid": {"S": orderid}, "product_name": {"S": product},
            "quantity": {"N": str(quantity)}, "price": {"N": str(price)},
        }}}
        for orderid, (product, quantity, price) in state.items()
    ]  # fmt: skip
    _batch_write(ddb, table, puts, throttle, summary)
    summary.orders = orders

    ids = list(state)
    for orderid in rng.sample(ids, round(orders * update_ratio)):
        product, quantity, unit_price = state[orderid]
        # DynamoDB writes no stream record for an update that changes nothing: always change quantity.
        new_quantity = quantity + rng.choice((1, 2, 3)) if rng.random() < 0.7 else max(1, quantity - 1)
        if new_quantity == quantity:
            new_quantity = quantity + 1
        throttle.take(1)
        ddb.update_item(
            TableName=table,
            Key={"orderid": {"S": orderid}},
            UpdateExpression="SET quantity = :q",
            ExpressionAttributeValues={":q": {"N": str(new_quantity)}},
        )
        summary.write_calls += 1
        state[orderid] = (product, new_quantity, unit_price)
        summary.updates += 1

    doomed = rng.sample(ids, round(orders * delete_ratio))
    _batch_write(ddb, table, [{"DeleteRequest": {"Key": {"orderid": {"S": o}}}} for o in doomed], throttle, summary)
    for orderid in doomed:
        del state[orderid]
    summary.deletes = len(doomed)
    summary.deleted_orderids = sorted(doomed)
    summary.last_write_epoch_s = time.time()

    summary.changes = summary.orders + summary.updates + summary.deletes
    summary.live_orders = len(state)
    summary.units = sum(quantity for _, quantity, _ in state.values())
    summary.revenue = str(sum((quantity * price for _, quantity, price in state.values()), Decimal("0.00")))
    per_product: Counter[str] = Counter()
    for product, quantity, _ in state.values():
        per_product[product] += quantity
    summary.per_product_quantity = dict(sorted(per_product.items()))
    return summary


def _batch_write(
    ddb: Any, table: str, requests: list[dict[str, Any]], throttle: _Throttle, summary: SimulationSummary
) -> None:
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = requests[start : start + BATCH_WRITE_LIMIT]
        throttle.take(len(pending))
        delay = 0.05
        while pending:
            reply = ddb.batch_write_item(RequestItems={table: pending})
            summary.write_calls += 1
            pending = reply.get("UnprocessedItems", {}).get(table, [])
            if pending:  # throttled: back off and resend only what was not written
                summary.retried_items += len(pending)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
