"""AWS clients for the library: from an Airflow connection in DAGs, from a boto3 session elsewhere.

The library never decides where AWS is: the connection (or session) does. That is the only reason
the same code runs against a real account and against localaws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Standard retry mode backs off on throttling and transient 5xx, as AWS's SDK guidance recommends.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class Clients:
    """A cache of boto3 clients, one per service, all in one region."""

    def __init__(self, factory: Callable[[str], Any], region: str) -> None:
        self._factory = factory
        self.region = region
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._factory(service)
        return self._cache[service]

    @classmethod
    def from_airflow(cls, region: str, aws_conn_id: str = "aws_default") -> Clients:
        """Clients built by the Amazon provider's hook: endpoint, verify and credentials come from the connection."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        def factory(service: str) -> Any:
            hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type=service, config=CLIENT_CONFIG)
            return hook.get_client_type(region_name=region)

        return cls(factory, region)

    @classmethod
    def from_session(cls, region: str, endpoint_url: str | None = None, verify: str | bool | None = None) -> Clients:
        session = boto3.session.Session(region_name=region)

        def factory(service: str) -> Any:
            return session.client(  # type: ignore[call-overload]
                service, endpoint_url=endpoint_url, verify=verify, config=CLIENT_CONFIG
            )

        return cls(factory, region)


@dataclass(frozen=True)
class Account:
    """Where the pipeline lives: needed to write exact ARNs into IAM policies."""

    account_id: str
    region: str
    partition: str = "aws"

    @classmethod
    def discover(cls, clients: Clients) -> Account:
        arn = clients("sts").get_caller_identity()["Arn"]
        return cls(account_id=arn.split(":")[4], region=clients.region, partition=arn.split(":")[1])

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account_id if account else "",
                resource,
            ]
        )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
