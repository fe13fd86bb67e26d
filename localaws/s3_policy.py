"""S3 bucket policies evaluated as AWS does, conditions included (``aws:SecureTransport`` above all).

moto applies a bucket policy only in ``S3Response._key_response`` and ``_bucket_response_delete_keys``
(``FakeBucket.get_permission`` -> ``moto.iam.access_control.IAMPolicyStatement``): only for object
requests, with an action made of the HTTP method (``s3:HeadObject``), with a 403 that has no body, and
with conditions it cannot evaluate taken as met: its only condition operator is StringEquals and no
request values are passed in, so ``{"Bool": {"aws:SecureTransport": "false"}}`` always holds and a
TLS-only policy denies every object request.

This extension evaluates the bucket policy of every S3 request itself, before moto sees it:

- the request's IAM action and resource (``s3:ListBucket`` on the bucket, ``s3:GetObject`` on the
  object for GET and HEAD, ``s3:PutObject`` for uploads and multipart parts, subresources such as
  ``?policy`` or ``?tagging`` by the table in the S3 authorization docs; CopyObject also needs
  ``s3:GetObject`` on the source);
- the caller: an IAM user or assumed role that moto knows by access key, otherwise the account's root
  user; unsigned requests are anonymous;
- Principal/NotPrincipal, Action/NotAction, Resource/NotResource (wildcards, policy variables);
- every IAM condition operator (String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress, Arn*, Null,
  ``...IfExists``, ``ForAllValues:``/``ForAnyValue:``) over the request context: aws:SecureTransport
  (true on the HTTPS listener), aws:SourceIp, aws:CurrentTime, aws:EpochTime, aws:PrincipalArn,
  aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username, aws:UserAgent, aws:Referer,
  aws:RequestedRegion, and the S3 keys s3:x-amz-server-side-encryption(-aws-kms-key-id), s3:x-amz-acl,
  s3:x-amz-content-sha256, s3:x-amz-storage-class, s3:x-amz-copy-source, s3:x-amz-metadata-directive,
  s3:prefix, s3:delimiter, s3:max-keys, s3:signatureversion, s3:authType.

An explicit Deny answers 403 AccessDenied in S3's XML error shape (no body for HEAD). Anything else goes
on to moto, whose own check (``FakeBucket.get_permission``) is replaced while LocalAWS runs by this
evaluator, so it agrees (and DeleteObjects gets per-key AccessDenied entries as on AWS). As in moto,
an Allow is not required: identity policies are not enforced, so the caller may do what no Deny forbids.
Outside a LocalAWS request (moto's decorators in the same process) moto's own check runs unchanged.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from moto.iam.access_control import CreateAccessKeyFailure, PermissionResult, create_access_key
from moto.iam.models import get_account_id_from
from moto.s3.models import FakeBucket, s3_backends
from moto.s3.responses import S3Response
from moto.utilities.utils import get_partition
from werkzeug.wrappers import Request, Response

from localaws.awsrequest import account_of, region_of, signing_scope
from localaws.seam import came_over_tls, current_environ

log = logging.getLogger("localaws.s3_policy")


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NEUTRAL = "neutral"  # no statement applies


# -- the caller -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    arn: str | None  # None: anonymous
    account: str | None
    principal_type: str  # Account (root), User, AssumedRole, Anonymous
    user_name: str | None = None
    user_id: str | None = None

    @property
    def is_root(self) -> bool:
        return self.principal_type == "Account"

    @property
    def role_arn(self) -> str | None:
        """arn:aws:iam::<a>:role/<name> for an assumed-role session: a policy may name the role."""
        if self.arn and self.principal_type == "AssumedRole":
            partition, account, rest = self.arn.split(":")[1], self.arn.split(":")[4], self.arn.split(":", 5)[5]
            role_name = rest.split("/")[1]
            return f"arn:{partition}:iam::{account}:role/{role_name}"
        return None


_QUERY_CREDENTIAL = re.compile(r"^([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request$")


def resolve_caller(environ: Mapping[str, Any]) -> Caller:
    request = Request(dict(environ), shallow=True)
    scope = signing_scope(request)
    token = request.headers.get("X-Amz-Security-Token")
    if scope is None:
        # Presigned (SigV4 or SigV2 query) or SigV2 header ("AWS <key>:<signature>"); else anonymous.
        match = _QUERY_CREDENTIAL.match(request.args.get("X-Amz-Credential", ""))
        sigv2_header = request.headers.get("Authorization", "")
        if match is not None:
            scope = (match.group(1), match.group(2), match.group(3))
        elif "AWSAccessKeyId" in request.args:
            scope = (request.args["AWSAccessKeyId"], region_of(request), "s3")
        elif sigv2_header.startswith("AWS ") and ":" in sigv2_header:
            scope = (sigv2_header[4:].split(":", 1)[0], region_of(request), "s3")
        else:
            return Caller(arn=None, account=None, principal_type="Anonymous")
        token = request.args.get("X-Amz-Security-Token") or request.args.get("x-amz-security-token") or token
    access_key_id, region = scope[0], scope[1]
    account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(access_key_id)
    partition = get_partition(region)
    try:
        key = create_access_key(account, partition, access_key_id, {"X-Amz-Security-Token": token} if token else {})
    except CreateAccessKeyFailure:
        # A key moto's IAM does not know (the usual "testing"): the account's root user, as moto treats it.
        return Caller(f"arn:{partition}:iam::{account}:root", account, "Account", user_id=account)
    arn = key.arn
    if ":assumed-role/" in arn:
        return Caller(arn, account, "AssumedRole", user_id=f"{access_key_id}:{arn.rsplit('/', 1)[1]}")
    return Caller(arn, account, "User", user_name=arn.rsplit("/", 1)[1], user_id=access_key_id)


# -- the request: action, resources, condition context ------------------------------------------------


@dataclass(frozen=True)
class S3Request:
    bucket: str
    key: str | None
    # (action, bucket, resource ARN): each must be allowed by that bucket's policy (CopyObject has two)
    checks: list[tuple[str, str, str]]
    account: str
    region: str


# Subresource -> method -> action (docs: "Required permissions for Amazon S3 API operations").
# Deleting a bucket configuration takes the Put permission, as on AWS.
_BUCKET_SUBRESOURCES: dict[str, dict[str, str]] = {
    "policy": {"GET": "s3:GetBucketPolicy", "PUT": "s3:PutBucketPolicy", "DELETE": "s3:DeleteBucketPolicy"},
    "policyStatus": {"GET": "s3:GetBucketPolicyStatus"},
    "acl": {"GET": "s3:GetBucketAcl", "PUT": "s3:PutBucketAcl"},
    "cors": {"GET": "s3:GetBucketCORS", "PUT": "s3:PutBucketCORS", "DELETE": "s3:PutBucketCORS"},
    "encryption": {
        "GET": "s3:GetEncryptionConfiguration",
        "PUT": "s3:PutEncryptionConfiguration",
        "DELETE": "s3:PutEncryptionConfiguration",
    },
    "lifecycle": {
        "GET": "s3:GetLifecycleConfiguration",
        "PUT": "s3:PutLifecycleConfiguration",
        "DELETE": "s3:PutLifecycleConfiguration",
    },
    "location": {"GET": "s3:GetBucketLocation"},
    "logging": {"GET": "s3:GetBucketLogging", "PUT": "s3:PutBucketLogging"},
    "notification": {"GET": "s3:GetBucketNotification", "PUT": "s3:PutBucketNotification"},
    "ownershipControls": {
        "GET": "s3:GetBucketOwnershipControls",
        "PUT": "s3:PutBucketOwnershipControls",
        "DELETE": "s3:PutBucketOwnershipControls",
    },
    "publicAccessBlock": {
        "GET": "s3:GetBucketPublicAccessBlock",
        "PUT": "s3:PutBucketPublicAccessBlock",
        "DELETE": "s3:PutBucketPublicAccessBlock",
    },
    "replication": {
        "GET": "s3:GetReplicationConfiguration",
        "PUT": "s3:PutReplicationConfiguration",
        "DELETE": "s3:PutReplicationConfiguration",
    },
    "tagging": {"GET": "s3:GetBucketTagging", "PUT": "s3:PutBucketTagging", "DELETE": "s3:PutBucketTagging"},
    "versioning": {"GET": "s3:GetBucketVersioning", "PUT": "s3:PutBucketVersioning"},
    "website": {"GET": "s3:GetBucketWebsite", "PUT": "s3:PutBucketWebsite", "DELETE": "s3:DeleteBucketWebsite"},
    "object-lock": {"GET": "s3:GetBucketObjectLockConfiguration", "PUT": "s3:PutBucketObjectLockConfiguration"},
    "accelerate": {"GET": "s3:GetAccelerateConfiguration", "PUT": "s3:PutAccelerateConfiguration"},
    "requestPayment": {"GET": "s3:GetBucketRequestPayment", "PUT": "s3:PutBucketRequestPayment"},
    "uploads": {"GET": "s3:ListBucketMultipartUploads"},
    "versions": {"GET": "s3:ListBucketVersions"},
}
_BUCKET_PLAIN = {"GET": "s3:ListBucket", "HEAD": "s3:ListBucket", "DELETE": "s3:DeleteBucket"}
_OBJECT_SUBRESOURCES: dict[str, dict[str, str]] = {
    "acl": {"GET": "s3:GetObjectAcl", "PUT": "s3:PutObjectAcl"},
    "tagging": {"GET": "s3:GetObjectTagging", "PUT": "s3:PutObjectTagging", "DELETE": "s3:DeleteObjectTagging"},
    "retention": {"GET": "s3:GetObjectRetention", "PUT": "s3:PutObjectRetention"},
    "legal-hold": {"GET": "s3:GetObjectLegalHold", "PUT": "s3:PutObjectLegalHold"},
    "attributes": {"GET": "s3:GetObjectAttributes"},
    "restore": {"POST": "s3:RestoreObject"},
    "select": {"POST": "s3:GetObject"},
    "uploads": {"POST": "s3:PutObject"},
    "uploadId": {
        "GET": "s3:ListMultipartUploadParts",
        "PUT": "s3:PutObject",
        "POST": "s3:PutObject",
        "DELETE": "s3:AbortMultipartUpload",
    },
}
_OBJECT_PLAIN = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject", "DELETE": "s3:DeleteObject"}
_VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}
# The bucket owner's root user can always manage the bucket policy, so a policy cannot lock it out.
_ROOT_ALWAYS_ALLOWED = {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
# moto's own action names (method + "Object") mapped to IAM's, for the check moto makes itself.
_MOTO_ACTIONS = {"s3:HeadObject": "s3:GetObject", "s3:PostObject": "s3:PutObject"}
_HEADER_KEYS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-acl",
    "x-amz-content-sha256",
    "x-amz-storage-class",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
)


def s3_action(method: str, has_key: bool, query: Mapping[str, Any]) -> str | None:
    """The IAM action of an S3 request, or None when it is authorized per object (DeleteObjects) or not here."""
    subresources = _OBJECT_SUBRESOURCES if has_key else _BUCKET_SUBRESOURCES
    action: str | None = None
    for name, by_method in subresources.items():
        if name in query:
            action = by_method.get(method)
            break
    else:
        if not has_key and "delete" in query:
            return None  # DeleteObjects: moto checks s3:DeleteObject key by key (patched below)
        action = (_OBJECT_PLAIN if has_key else _BUCKET_PLAIN).get(method)
        if has_key and method == "POST":
            action = "s3:PutObject"  # browser-form POST upload
    if action and has_key and "versionId" in query:
        action = _VERSIONED.get(action, action)
    return action


def request_context(environ: Mapping[str, Any], caller: Caller, region: str) -> dict[str, list[str]]:
    """The condition keys IAM would put in this request's context (lower-case names; keys are case-insensitive)."""
    request = Request(dict(environ), shallow=True)
    now = dt.datetime.now(dt.UTC)
    context: dict[str, list[str]] = {
        "aws:securetransport": ["true" if came_over_tls(dict(environ)) else "false"],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "aws:requestedregion": [region],
    }
    if environ.get("REMOTE_ADDR"):
        context["aws:sourceip"] = [str(environ["REMOTE_ADDR"])]
    if caller.arn:
        context["aws:principalarn"] = [caller.role_arn or caller.arn]
        context["aws:principalaccount"] = [caller.account or ""]
        context["aws:principaltype"] = [caller.principal_type]
    if caller.user_id:
        context["aws:userid"] = [caller.user_id]
    if caller.user_name:
        context["aws:username"] = [caller.user_name]
    for header, name in (("User-Agent", "aws:useragent"), ("Referer", "aws:referer")):
        if request.headers.get(header):
            context[name] = [request.headers[header]]
    for header in _HEADER_KEYS:
        if request.headers.get(header):
            context[f"s3:{header}"] = [request.headers[header]]
    for parameter in ("prefix", "delimiter", "max-keys"):
        if parameter in request.args:
            context[f"s3:{parameter}"] = [request.args[parameter]]
    if request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
        context["s3:signatureversion"] = ["AWS4-HMAC-SHA256"]
        context["s3:authtype"] = ["REST-HEADER"]
    elif "X-Amz-Credential" in request.args:
        context["s3:signatureversion"] = ["AWS4-HMAC-SHA256"]
        context["s3:authtype"] = ["REST-QUERY-STRING"]
    elif request.headers.get("Authorization", "").startswith("AWS "):
        context["s3:signatureversion"] = ["AWS"]
        context["s3:authtype"] = ["REST-HEADER"]
    elif "AWSAccessKeyId" in request.args:
        context["s3:signatureversion"] = ["AWS"]
        context["s3:authtype"] = ["REST-QUERY-STRING"]
    return context


# -- policy evaluation ------------------------------------------------------------------------------


def evaluate_policy(
    policy: Mapping[str, Any],
    action: str,
    resource: str,
    caller: Caller,
    context: Mapping[str, list[str]],
) -> Decision:
    """IAM's evaluation of one resource-based policy: any matching Deny wins, then any matching Allow."""
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping) or not statement_applies(statement, action, resource, caller, context):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.DENY
        if statement.get("Effect") == "Allow":
            allowed = True
    return Decision.ALLOW if allowed else Decision.NEUTRAL


def statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, caller: Caller, context: Mapping[str, list[str]]
) -> bool:
    if "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], caller):
            return False
    elif "Principal" in statement and not _principal_matches(statement["Principal"], caller):
        return False
    if "NotAction" in statement:
        if any(_glob(pattern, action, ignore_case=True) for pattern in _strings(statement["NotAction"])):
            return False
    elif not any(_glob(pattern, action, ignore_case=True) for pattern in _strings(statement.get("Action", []))):
        return False
    if "NotResource" in statement:
        patterns = [_substitute(p, context) for p in _strings(statement["NotResource"])]
        if any(p is not None and _glob(p, resource) for p in patterns):
            return False
    elif "Resource" in statement:
        patterns = [_substitute(p, context) for p in _strings(statement["Resource"])]
        if not any(p is not None and _glob(p, resource) for p in patterns):
            return False
    return conditions_hold(statement.get("Condition", {}), context)


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for kind, values in principal.items():
        if kind != "AWS":
            continue  # Service, Federated, CanonicalUser: never the caller of a signed API request here
        for value in _strings(values):
            if value == "*":
                return True
            if caller.arn is None:
                continue
            if value in (caller.arn, caller.role_arn):
                return True
            # An account (id or root ARN) as principal stands for every identity of that account.
            if value == caller.account or re.fullmatch(rf"arn:[^:]+:iam::{caller.account}:root", value):
                return True
    return False


def conditions_hold(block: Mapping[str, Any], context: Mapping[str, list[str]]) -> bool:
    """A Condition block: every operator, and every key under it, must hold (AND); a key's values are ORed."""
    for operator, entries in block.items():
        if not isinstance(entries, Mapping):
            return False
        for key, policy_values in entries.items():
            if not _condition_holds(operator, key, _strings(policy_values), context):
                return False
    return True


def _condition_holds(operator: str, key: str, policy_values: list[str], context: Mapping[str, list[str]]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base.removesuffix("IfExists")
    values = context.get(key.lower())
    if base == "Null":
        # "true": the key must be absent; "false": present. (Values are lists of one here.)
        return any((values is None) == (expected.lower() == "true") for expected in policy_values)
    operation = _OPERATORS.get(base)
    if operation is None:
        log.warning("condition operator %s is not one IAM defines; the statement does not apply", operator)
        return False
    matches, negated = operation
    if base.startswith(("String", "Arn")):
        substituted = [_substitute(value, context) for value in policy_values]
        policy_values = [value for value in substituted if value is not None]
        if base not in ("StringLike", "StringNotLike") and not base.startswith("Arn"):
            policy_values = [value.replace("\0", "") for value in policy_values]  # no wildcards to protect

    def holds_for(value: str) -> bool:
        hit = any(matches(value, expected) for expected in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return not values or all(holds_for(value) for value in values)
    if qualifier == "ForAnyValue":
        return if_exists if not values else any(holds_for(value) for value in values)
    if values is None:
        # Docs: an absent key fails a condition, except a negated one ("...Not...") or one with IfExists.
        return if_exists or negated
    return any(holds_for(value) for value in values)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def matches(actual: str, expected: str) -> bool:
        try:
            return compare(float(actual), float(expected))
        except ValueError:
            return False

    return matches


def _date(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def matches(actual: str, expected: str) -> bool:
        left, right = _epoch(actual), _epoch(expected)
        return left is not None and right is not None and compare(left, right)

    return matches


def _epoch(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _ip_in(actual: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


def _arn_like(actual: str, expected: str) -> bool:
    # Each of the six colon-separated parts is matched on its own; the last may itself hold colons.
    actual_parts, expected_parts = actual.split(":", 5), expected.split(":", 5)
    if len(actual_parts) != 6 or len(expected_parts) != 6:
        return False
    return all(_glob(e, a) for a, e in zip(actual_parts, expected_parts, strict=True))


def _binary_equals(actual: str, expected: str) -> bool:
    try:
        return base64.b64decode(actual) == base64.b64decode(expected)
    except ValueError:
        return False


def _equal(a: str, b: str) -> bool:
    return a == b


def _equal_ignore_case(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _string_like(a: str, b: str) -> bool:
    return _glob(b, a)


# base operator -> (matches(request value, policy value), negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equal, False),
    "StringNotEquals": (_equal, True),
    "StringEqualsIgnoreCase": (_equal_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_equal_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
    "DateEquals": (_date(lambda a, b: a == b), False),
    "DateNotEquals": (_date(lambda a, b: a == b), True),
    "DateLessThan": (_date(lambda a, b: a < b), False),
    "DateLessThanEquals": (_date(lambda a, b: a <= b), False),
    "DateGreaterThan": (_date(lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_date(lambda a, b: a >= b), False),
    "Bool": (_equal_ignore_case, False),
    "BinaryEquals": (_binary_equals, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


def _strings(value: Any) -> list[str]:
    """Policy values as IAM compares them: strings, with JSON booleans as "true"/"false"."""
    items = value if isinstance(value, list) else [value]
    return [("true" if item else "false") if isinstance(item, bool) else str(item) for item in items]


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _substitute(text: str, context: Mapping[str, list[str]]) -> str | None:
    """Replace policy variables (``${aws:username}``); None when one is missing from the context (no match)."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name in ("*", "?", "$"):
            return "\0" + name  # a literal, protected from wildcard matching by _glob
        # ${key, 'default'}
        key, _, default = name.partition(",")
        values = context.get(key.strip().lower())
        if values:
            return values[0]
        if default.strip():
            return default.strip().strip("'")
        missing = True
        return ""

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(
        ".*" if part == "*" else "." if part == "?" else re.escape(part[1:] if part.startswith("\0") else part)
        for part in re.split(r"(\0[*?$]|[*?])", pattern)
        if part
    )
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


# -- the extension ----------------------------------------------------------------------------------


class S3BucketPolicies:
    name = "s3_policy"
    actions = {"s3": ["BucketPolicyConditions"]}

    _patch_lock = threading.Lock()
    _patch_users = 0
    _original_get_permission: Callable[..., Any] | None = None

    def start(self) -> None:
        cls = type(self)
        with cls._patch_lock:
            if cls._patch_users == 0:
                cls._original_get_permission = FakeBucket.get_permission
                FakeBucket.get_permission = _get_permission  # type: ignore[method-assign,assignment]
            cls._patch_users += 1

    def stop(self) -> None:
        cls = type(self)
        with cls._patch_lock:
            cls._patch_users -= 1
            if cls._patch_users == 0 and cls._original_get_permission is not None:
                FakeBucket.get_permission = cls._original_get_permission  # type: ignore[method-assign]
                cls._original_get_permission = None

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        s3_request = parse_s3_request(request)
        if s3_request is None:
            return None
        caller: Caller | None = None
        context: dict[str, list[str]] = {}
        for action, bucket_name, resource in s3_request.checks:
            policy = bucket_policy(s3_request.account, s3_request.region, bucket_name)
            if policy is None:
                continue
            if caller is None:  # only requests to buckets with a policy pay for this
                caller = resolve_caller(request.environ)
                context = request_context(request.environ, caller, s3_request.region)
            if caller.is_root and action in _ROOT_ALWAYS_ALLOWED:
                continue
            if evaluate_policy(policy, action, resource, caller, context) is Decision.DENY:
                log.info("bucket policy of %s denies %s on %s", bucket_name, action, resource)
                return _access_denied(caller, action, resource)
        return None


def parse_s3_request(request: Request) -> S3Request | None:
    """Bucket, key and IAM checks of an S3 request to an existing bucket; None for anything else."""
    scope = signing_scope(request)
    if scope is not None:
        if scope[2] != "s3":
            return None
    elif "X-Amz-Credential" in request.args:
        if "/s3/aws4_request" not in request.args["X-Amz-Credential"]:
            return None
    elif "X-Amz-Target" in request.headers or request.path.startswith(("/_localaws", "/moto-api")):
        return None
    if request.path.startswith("/v20180820/"):
        return None  # S3 Control
    region = region_of(request)
    match = _QUERY_CREDENTIAL.match(request.args.get("X-Amz-Credential", ""))
    if scope is None and match is not None:
        region = match.group(2)
        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(match.group(1))
    else:
        account = account_of(request)
    partition = get_partition(region)
    if S3Response.subdomain_based_buckets(request):
        bucket = request.host.split(".", 1)[0]
        key = request.path[1:] or None
    else:
        bucket, _, key_part = request.path.lstrip("/").partition("/")
        key = key_part or None
    if not bucket or bucket not in s3_backends[account][partition].buckets:
        return None
    action = s3_action(request.method, key is not None, request.args)
    if action is None:
        return None
    resource = f"arn:{partition}:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    checks = [(action, bucket, resource)]
    copy_source = request.headers.get("x-amz-copy-source")
    if copy_source and request.method == "PUT" and key is not None:
        source_path, _, source_query = unquote(copy_source).lstrip("/").partition("?")
        source_action = "s3:GetObjectVersion" if "versionId" in parse_qs(source_query) else "s3:GetObject"
        checks.append((source_action, source_path.split("/", 1)[0], f"arn:{partition}:s3:::{source_path}"))
    return S3Request(bucket=bucket, key=key, checks=checks, account=account, region=region)


def bucket_policy(account: str, region: str, bucket_name: str) -> dict[str, Any] | None:
    """The bucket's policy document, parsed; None when it has none."""
    bucket = s3_backends[account][get_partition(region)].buckets.get(bucket_name)
    if bucket is None or not bucket.policy:
        return None
    try:
        policy = json.loads(bucket.policy)
    except (ValueError, UnicodeDecodeError):
        return None
    return policy if isinstance(policy, dict) else None


def _access_denied(caller: Caller, action: str, resource: str) -> Callable[[Request], Response]:
    # Same-account callers get S3's detailed message (since 2024); anonymous ones the classic text.
    if caller.arn:
        message = (
            f'User: {caller.arn} is not authorized to perform: {action} on resource: "{resource}" '
            "with an explicit deny in a resource-based policy"
        )
    else:
        message = "Access Denied"

    def handler(request: Request) -> Response:
        # Read the upload we refuse: closing on a client still sending breaks its connection (on TLS, an
        # EOF error instead of the 403).
        while request.stream.read(1 << 16):
            pass
        request_id = uuid.uuid4().hex[:16].upper()
        host_id = base64.b64encode(uuid.uuid4().bytes * 2).decode()
        headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id}
        if request.method == "HEAD":
            return Response(status=403, headers=headers)  # HEAD responses carry no body
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
        )
        return Response(body, status=403, content_type="application/xml", headers=headers)

    return handler


def _get_permission(bucket: FakeBucket, action: str, resource: str) -> Any:
    """Replaces FakeBucket.get_permission while LocalAWS runs: the same evaluation as route(), with conditions."""
    environ = current_environ()
    original = S3BucketPolicies._original_get_permission
    if environ is None and original is not None:
        return original(bucket, action, resource)  # moto's decorators in this process: moto's behaviour
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    try:
        policy = json.loads(bucket.policy)
    except (ValueError, UnicodeDecodeError):
        return PermissionResult.NEUTRAL
    environ = environ or {}
    caller = resolve_caller(environ)
    region = region_of(Request(environ, shallow=True)) if environ else "us-east-1"
    decision = evaluate_policy(
        policy, _MOTO_ACTIONS.get(action, action), resource, caller, request_context(environ, caller, region)
    )
    return {
        Decision.DENY: PermissionResult.DENIED,
        Decision.ALLOW: PermissionResult.PERMITTED,
        Decision.NEUTRAL: PermissionResult.NEUTRAL,
    }[decision]
