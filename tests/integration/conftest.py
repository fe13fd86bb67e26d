"""One LocalAWS per test session on a free port, with Airflow's aws_default pointed at it."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.client
import pytest

from localaws import LocalAWS
from sales_pipeline.dag_runner import DagRunResult

REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def localaws() -> Iterator[LocalAWS]:
    with LocalAWS(port=0) as aws:
        connection = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            # HTTPS, verified against localaws's own CA: the TLS-only bucket policy admits it, as on AWS.
            "extra": {"endpoint_url": aws.tls_endpoint_url, "region_name": REGION, "verify": aws.ca_bundle},
        }
        saved = {key: os.environ.get(key) for key in ("AIRFLOW_CONN_AWS_DEFAULT", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE")}
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(connection)
        # Any client a test builds without an endpoint still lands here, never on real AWS.
        os.environ["AWS_ENDPOINT_URL"] = aws.tls_endpoint_url
        os.environ["AWS_CA_BUNDLE"] = aws.ca_bundle
        try:
            yield aws
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def aws_client(localaws: LocalAWS) -> Callable[[str], Any]:
    """boto3 clients for asserting what a user would see in the APIs."""

    def make(service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=localaws.tls_endpoint_url, region_name=REGION, verify=localaws.ca_bundle
        )

    return make


READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Head", "Query", "Scan", "BatchGet")


def mutating(calls: list[str]) -> list[str]:
    return [call for call in calls if not call.startswith(READ_ONLY_PREFIXES)]


@pytest.fixture(scope="session")
def dag_runner() -> Any:
    from sales_pipeline.dag_runner import DagRunner

    return DagRunner()


@contextmanager
def recorded_api_calls() -> Iterator[list[tuple[str, Any]]]:
    """Every AWS API call made in this process while the block runs, as (operation, parameters)."""
    calls: list[tuple[str, Any]] = []
    original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(client: Any, operation: str, params: Any) -> Any:
        calls.append((operation, params))
        return original(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", record):
        yield calls


@pytest.fixture
def run_dag(localaws: LocalAWS, dag_runner: Any) -> Callable[..., DagRunResult]:
    """Run a DAG with dag.test() against localaws, recording every AWS API call its tasks make."""

    def run(dag_id: str, **conf: Any) -> DagRunResult:
        with recorded_api_calls() as calls:
            result: DagRunResult = dag_runner.run(dag_id, **conf)
        result.api_calls = [operation for operation, _ in calls]
        return result

    return run


@contextmanager
def provisioned_env(dag_runner: Any, env: str) -> Iterator[None]:
    """A test module's own env, provisioned once, with a 1 s Firehose buffer so data lands in seconds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALES_PIPELINE_ENV", env)
        patch.setenv("SALES_PIPELINE_BUFFER_INTERVAL_S", "1")
        result = dag_runner.run("sales_stream_provision")
        assert result.state == "success", result.task_states
        yield


def landed_lines(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every line of every object under the prefix (Firehose's objects are GZIP, one JSON object a line)."""
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            lines += [json.loads(line) for line in text.splitlines()]
    return lines


def wait_until_landed(s3: Any, bucket: str, prefix: str, changes: int, timeout_s: float = 60) -> None:
    """Until at least ``changes`` lines are under the prefix (GZIP objects, one change a line)."""
    deadline = time.monotonic() + timeout_s
    lines = 0
    while time.monotonic() < deadline:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        lines = sum(gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).count(b"\n")
                    for key in keys)  # fmt: skip
        if lines >= changes:
            return
        time.sleep(0.5)
    raise AssertionError(f"{lines} of {changes} changes landed in {timeout_s} s")
