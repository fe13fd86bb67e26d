"""One LocalAWS per test session on a free port, with Airflow's aws_default pointed at it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from localaws import LocalAWS

REGION = "us-east-1"


@pytest.fixture(scope="session")
def localaws() -> Iterator[LocalAWS]:
    with LocalAWS(port=0) as aws:
        connection = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": aws.endpoint_url, "region_name": REGION},
        }
        saved = {key: os.environ.get(key) for key in ("AIRFLOW_CONN_AWS_DEFAULT", "AWS_ENDPOINT_URL")}
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(connection)
        # Any client a test builds without an endpoint still lands here, never on real AWS.
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
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
        return boto3.client(service, endpoint_url=localaws.endpoint_url, region_name=REGION)  # type: ignore[call-overload]

    return make
