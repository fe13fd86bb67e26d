"""The order simulator and the end-to-end canary, as DAG runs against localaws's data plane."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sales_pipeline.dag_runner import DagRunResult
from tests.integration.conftest import landed_lines, provisioned_env

ENV = "traffic"


@pytest.fixture(scope="module", autouse=True)
def provisioned(dag_runner: Any, localaws: Any) -> Iterator[None]:
    with provisioned_env(dag_runner, ENV):
        yield


def lake_lines(aws_client: Callable[[str], Any], prefix: str = "sales/") -> list[dict[str, Any]]:
    return landed_lines(aws_client("s3"), f"sales-stream-{ENV}-data", prefix)


def wait_for_lines(aws_client: Callable[[str], Any], orderid_prefix: str, count: int, timeout_s: float = 60) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        mine = [line for line in lake_lines(aws_client) if line["orderid"].startswith(orderid_prefix)]
        if len(mine) >= count or time.monotonic() > deadline:
            return mine
        time.sleep(0.5)


def test_simulated_changes_all_land_once_with_the_right_event_names(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    result = run_dag("sales_order_simulator", orders=400, update_ratio=0.25, delete_ratio=0.1, seed=11,
                     rate_per_s=5000)  # fmt: skip
    assert result.state == "success", result.task_states
    summary = result.returns["simulate"]
    assert (summary["orders"], summary["updates"], summary["deletes"]) == (400, 100, 40)

    lines = wait_for_lines(aws_client, summary["orderid_prefix"], summary["changes"])
    assert len(lines) == summary["changes"] == 540
    assert Counter(line["event_name"] for line in lines) == {"INSERT": 400, "MODIFY": 100, "REMOVE": 40}
    assert len({line["event_id"] for line in lines}) == 540  # no duplicates with the fault switch off
    assert all(line["is_deleted"] == (line["event_name"] == "REMOVE") for line in lines)

    # the latest line per order reproduces the simulator's expected final state
    latest: dict[str, dict[str, Any]] = {}
    for line in sorted(lines, key=lambda line: line["sequence_number"]):
        latest[line["orderid"]] = line
    live = [line for line in latest.values() if not line["is_deleted"]]
    assert len(live) == summary["live_orders"]
    assert sum(line["quantity"] for line in live) == summary["units"]


def test_canary_lands_and_reports_its_latency(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any]
) -> None:
    result = run_dag("sales_stream_verify", canary_timeout_s=60)
    assert result.state == "success", result.task_states
    canary = result.returns["canary"]
    assert canary["orderid"].startswith("canary-")
    assert 0 <= canary["latency_s"] < 60
    assert canary["key"].startswith("sales/year=")

    metrics = aws_client("cloudwatch").list_metrics(Namespace="SalesStream", MetricName="CanaryLatencySeconds")
    assert {"Name": "Env", "Value": ENV} in [d for m in metrics["Metrics"] for d in m["Dimensions"]]
    item = aws_client("dynamodb").get_item(TableName=f"sales-stream-{ENV}-orders",
                                           Key={"orderid": {"S": canary["orderid"]}})  # fmt: skip
    assert "Item" not in item  # the canary cleaned up after itself


def test_canary_names_the_stage_where_it_stopped(
    run_dag: Callable[..., DagRunResult], aws_client: Callable[[str], Any], capfd: pytest.CaptureFixture[str]
) -> None:
    pipes = aws_client("pipes")
    pipes.stop_pipe(Name=f"sales-stream-{ENV}-orders-to-kinesis")
    try:
        result = run_dag("sales_stream_verify", canary_timeout_s=10)
    finally:
        pipes.start_pipe(Name=f"sales-stream-{ENV}-orders-to-kinesis")
    assert result.state == "failed"
    assert result.task_states["canary"] == "failed"
    task_log = "".join(capfd.readouterr())  # dag.test() runs the task here: its log is our output
    stage = f"not in Kinesis: pipe sales-stream-{ENV}-orders-to-kinesis is STOPPED"
    assert f"did not land within 10 s: {stage}" in task_log
