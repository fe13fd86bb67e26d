"""What every extension needs from a signed AWS request, and AWS-shaped error replies."""

from __future__ import annotations

import json
import os
import re

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import get_account_id_from
from werkzeug.wrappers import Request, Response

# SigV4: "AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, ..."
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def signing_scope(request: Request) -> tuple[str, str, str] | None:
    """(access key id, region, service) from the Authorization header, or None when unsigned."""
    match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
    return (match.group(1), match.group(2), match.group(3)) if match else None


def signed_for(request: Request, service: str) -> bool:
    scope = signing_scope(request)
    return scope is not None and scope[2] == service


def region_of(request: Request, default: str = "us-east-1") -> str:
    scope = signing_scope(request)
    return scope[1] if scope else default


def account_of(request: Request) -> str:
    """The account moto would use for this request (MOTO_ACCOUNT_ID, then the caller's key)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    scope = signing_scope(request)
    return get_account_id_from(scope[0]) if scope else DEFAULT_ACCOUNT_ID


def rest_json_error(status: int, code: str, message: str, error_type: str = "User") -> Response:
    """An error as restJson1 services (Lambda, Pipes) send it: code in x-amzn-ErrorType."""
    body = {"Type": error_type, "message": message}
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers={"x-amzn-ErrorType": code}
    )
