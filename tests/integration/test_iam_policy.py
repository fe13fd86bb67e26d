"""iam/airflow-policy.json grants the Airflow identity every AWS API call the DAGs make, and nothing else.

The DAGs run here against localaws through one env's whole life (provision, verify with its canary,
simulate orders, the landing watcher, catalog refresh, analytics, teardown) while every botocore and
aiobotocore call made in this process is recorded. Each call is mapped to the IAM action(s) AWS
authorises it as (Service Authorization Reference: e.g. S3 ListObjectsV2 is s3:ListBucket, DynamoDB
Streams' calls are dynamodb:*, a role handed to Pipes/Firehose/Lambda/Glue needs iam:PassRole) and to the
ARN(s) it acts on where the request names them. The policy is evaluated as IAM evaluates an allow: an
Allow statement whose Action matches, whose Resource patterns match each ARN, and whose Condition holds.

Calls that AWS makes with the caller's permissions but localaws makes internally are added from the
request: an Athena query reads the Glue catalog and the table's S3 objects and writes its results as the
caller; a Create call that carries tags also needs the service's tagging action.

A static scan adds every boto3 operation the library's code names on a client it got from
``Clients``: a path this run does not take (an update, a drift fix, a lost canary's diagnosis) must be
granted too, at least by action.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import fnmatch
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.client
import botocore.exceptions
import botocore.session
import pytest

from sales_pipeline.config import VARIABLE_NAME, load_config
from sales_pipeline.dag_runner import DagRunResult
from sales_pipeline.landing import first_landing_event
from tests.integration.conftest import wait_until_landed

REPO = Path(__file__).resolve().parents[2]
POLICY_PATH = REPO / "iam" / "airflow-policy.json"
ENV = "policy"
CONFIG = load_config({"env": ENV}, environ={}, variable_reader=lambda: None)
ACCOUNT, REGION = "123456789012", CONFIG.region  # moto's account

# The only statements allowed on "*": their actions take no narrower resource (Service Authorization Reference).
WILDCARD_RESOURCE_ACTIONS = {
    "glue:CreateClassifier": "Glue classifiers have no ARN",
    "glue:GetClassifier": "Glue classifiers have no ARN",
    "glue:UpdateClassifier": "Glue classifiers have no ARN",
    "glue:DeleteClassifier": "Glue classifiers have no ARN",
    "glue:GetCrawlerMetrics": "no resource type; the request names crawlers in CrawlerNameList",
    "cloudwatch:PutMetricData": "no resource type; the statement's Condition pins the namespace",
}
# Granted but not called in this run, each for a reason (a path the run cannot take).
GRANTED_FOR_UNTAKEN_PATHS = {
    "athena:StopQueryExecution": "the provider's AthenaOperator.on_kill stops a query when its task is killed",
}
# botocore service name -> IAM service prefix, where they differ.
IAM_PREFIX = {"dynamodbstreams": "dynamodb"}
# (service, operation) -> IAM action(s), where the action is not "<prefix>:<operation>".
ACTION_OF = {
    ("s3", "ListObjectsV2"): ["s3:ListBucket"],
    ("s3", "ListObjects"): ["s3:ListBucket"],
    ("s3", "HeadBucket"): ["s3:ListBucket"],
    ("s3", "HeadObject"): ["s3:GetObject"],
    ("s3", "ListObjectVersions"): ["s3:ListBucketVersions"],
    ("s3", "DeleteObjects"): ["s3:DeleteObject"],
    ("s3", "GetBucketEncryption"): ["s3:GetEncryptionConfiguration"],
    ("s3", "PutBucketEncryption"): ["s3:PutEncryptionConfiguration"],
    ("s3", "GetPublicAccessBlock"): ["s3:GetBucketPublicAccessBlock"],
    ("s3", "PutPublicAccessBlock"): ["s3:PutBucketPublicAccessBlock"],
    ("s3", "GetBucketLifecycleConfiguration"): ["s3:GetLifecycleConfiguration"],
    ("s3", "PutBucketLifecycleConfiguration"): ["s3:PutLifecycleConfiguration"],
    ("s3", "GetBucketNotificationConfiguration"): ["s3:GetBucketNotification"],
    ("s3", "PutBucketNotificationConfiguration"): ["s3:PutBucketNotification"],
    ("s3", "CreateMultipartUpload"): ["s3:PutObject"],
    ("s3", "UploadPart"): ["s3:PutObject"],
    ("s3", "CompleteMultipartUpload"): ["s3:PutObject"],
    ("sqs", "DeleteMessageBatch"): ["sqs:DeleteMessage"],
    ("sqs", "ChangeMessageVisibilityBatch"): ["sqs:ChangeMessageVisibility"],
    ("lambda", "Invoke"): ["lambda:InvokeFunction"],
    ("sts", "GetCallerIdentity"): [],  # needs no permission (sts GetCallerIdentity API reference)
}
# Tag-on-create: a Create call that carries tags is also authorised as the service's tagging action.
TAG_ON_CREATE = {
    ("dynamodb", "CreateTable"): ("Tags", "dynamodb:TagResource"),
    ("kinesis", "CreateStream"): ("Tags", "kinesis:AddTagsToStream"),
    ("firehose", "CreateDeliveryStream"): ("Tags", "firehose:TagDeliveryStream"),
    ("sqs", "CreateQueue"): ("tags", "sqs:TagQueue"),
    ("iam", "CreateRole"): ("Tags", "iam:TagRole"),
    ("pipes", "CreatePipe"): ("Tags", "pipes:TagResource"),
    ("lambda", "CreateFunction"): ("Tags", "lambda:TagResource"),
    ("glue", "CreateCrawler"): ("Tags", "glue:TagResource"),
    ("glue", "CreateDatabase"): ("Tags", "glue:TagResource"),
    ("athena", "CreateWorkGroup"): ("Tags", "athena:TagResource"),
    ("logs", "CreateLogGroup"): ("tags", "logs:TagResource"),
}
# Who a role passed in a request is passed to (the iam:PassedToService condition key).
PASSED_TO = {"pipes": "pipes.amazonaws.com", "firehose": "firehose.amazonaws.com",
             "lambda": "lambda.amazonaws.com", "glue": "glue.amazonaws.com"}  # fmt: skip
ROLE_KEYS = ("RoleArn", "RoleARN", "Role")


# -- recording ---------------------------------------------------------------------------------------------------
@dataclass
class Call:
    service: str  # botocore's service name: dynamodbstreams, s3, pipes, ...
    operation: str  # the API operation: ListObjectsV2, CreatePipe, ...
    params: dict[str, Any]
    response: dict[str, Any] | None


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    active: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, client: Any, operation: str, params: Any, response: Any) -> None:
        # localaws's own worker threads act as AWS (as Pipes or Firehose would), not as Airflow.
        if not self.active or threading.current_thread().name.startswith("localaws"):
            return
        with self.lock:
            self.calls.append(Call(client.meta.service_model.service_name, operation, dict(params or {}),
                                   response if isinstance(response, dict) else None))  # fmt: skip


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    """Record every AWS API call made in this process, by boto3 and by aiobotocore (the provider's triggers)."""
    import aiobotocore.client

    sync_original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
    async_original = aiobotocore.client.AioBaseClient._make_api_call

    def sync_record(client: Any, operation: str, params: Any) -> Any:
        response = None
        try:
            response = sync_original(client, operation, params)
            return response
        finally:
            recorder.add(client, operation, params, response)

    async def async_record(client: Any, operation: str, params: Any) -> Any:
        response = None
        try:
            response = await async_original(client, operation, params)
            return response
        finally:
            recorder.add(client, operation, params, response)

    with (
        mock.patch.object(botocore.client.BaseClient, "_make_api_call", sync_record),
        mock.patch.object(aiobotocore.client.AioBaseClient, "_make_api_call", async_record),
    ):
        yield


@pytest.fixture(scope="module")
def dag_calls(dag_runner: Any, localaws: Any, aws_client: Callable[[str], Any]) -> Iterator[list[Call]]:
    """One env's whole life, every DAG run against localaws, with the calls recorded (waits are not)."""
    recorder = Recorder()

    @contextlib.contextmanager
    def recorded() -> Iterator[None]:
        recorder.active = True
        try:
            yield
        finally:
            recorder.active = False

    def run(dag_id: str, **conf: Any) -> DagRunResult:
        with recorded():
            result: DagRunResult = dag_runner.run(dag_id, **conf)
        return result

    def succeeded(result: DagRunResult) -> bool:
        return result.state == "success"

    with pytest.MonkeyPatch.context() as patch, recording(recorder):
        patch.setenv("SALES_PIPELINE_ENV", ENV)
        patch.setenv("SALES_PIPELINE_BUFFER_INTERVAL_S", "1")
        try:
            result = run("sales_stream_provision")
            assert succeeded(result), result.task_states
            result = run("sales_stream_verify", canary_timeout_s=60)
            assert succeeded(result), result.task_states
            result = run("sales_order_simulator", orders=40, update_ratio=0.25, delete_ratio=0.1, seed=8,
                         rate_per_s=5000)  # fmt: skip
            assert succeeded(result), result.task_states
            wait_until_landed(
                aws_client("s3"), CONFIG.bucket, CONFIG.data_prefix, result.returns["simulate"]["changes"]
            )
            with recorded():
                first_landing_event(CONFIG)
            result = run("sales_catalog_refresh")
            assert succeeded(result), result.task_states
            day = dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
            result = run("sales_analytics", report_date=day.isoformat())
            # data_quality may fail on findings; what matters here is that every query ran and the report was written.
            assert result.task_states.get("publish_report") == "success", result.task_states
            result = run("sales_stream_teardown", confirm_env=ENV)
            assert succeeded(result), result.task_states
            yield recorder.calls
        finally:
            from airflow.models.variable import Variable

            Variable.delete(VARIABLE_NAME)  # provisioning records its Params there


# -- what a call needs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """One permission a request needs: an action on a resource (None: not derivable, action-level only)."""

    action: str
    resource: str | None
    context: tuple[tuple[str, str], ...] = ()  # condition keys the request carries
    why: str = ""


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return f"arn:aws:{service}:{REGION if region else ''}:{ACCOUNT if account else ''}:{resource}"


def log_group_arn(name: str) -> str:
    return arn("logs", f"log-group:{name}")


def queue_arn(params: dict[str, Any]) -> str | None:
    if "QueueUrl" in params:
        return arn("sqs", str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1])
    return arn("sqs", params["QueueName"]) if "QueueName" in params else None


def glue_table_resources(database: str, table: str) -> list[str]:
    return [arn("glue", "catalog"), arn("glue", f"database/{database}"), arn("glue", f"table/{database}/{table}")]


def resources_of(call: Call, workgroups: dict[str, str]) -> list[str] | None:
    """The ARN(s) a request acts on, from its parameters; None where they cannot be told."""
    p, op = call.params, call.operation
    match call.service:
        case "dynamodb":
            if op == "BatchWriteItem":
                return [arn("dynamodb", f"table/{name}") for name in p["RequestItems"]]
            if "TableName" in p:
                return [arn("dynamodb", f"table/{p['TableName']}")]
            return [p["ResourceArn"]] if "ResourceArn" in p else None
        case "dynamodbstreams":
            return [p["StreamArn"]] if "StreamArn" in p else None
        case "kinesis":
            if "StreamARN" in p:
                return [p["StreamARN"]]
            return [arn("kinesis", f"stream/{p['StreamName']}")] if "StreamName" in p else None
        case "firehose":
            name = p.get("DeliveryStreamName")
            return [arn("firehose", f"deliverystream/{name}")] if name else None
        case "lambda":
            name = p.get("FunctionName") or p.get("Resource")
            if not name:
                return None
            return [name if str(name).startswith("arn:") else arn("lambda", f"function:{name}")]
        case "sqs":
            found = queue_arn(p)
            return [found] if found else None
        case "s3":
            bucket = arn("s3", p["Bucket"], region=False, account=False) if "Bucket" in p else None
            if bucket is None:
                return None
            if op == "DeleteObjects":
                return [f"{bucket}/{obj['Key']}" for obj in p["Delete"]["Objects"]]
            return [f"{bucket}/{p['Key']}" if "Key" in p else bucket]
        case "iam":
            return [arn("iam", f"role/{p['RoleName']}", region=False)] if "RoleName" in p else None
        case "logs":
            if op == "DescribeLogGroups":
                return [log_group_arn("*")]
            return [log_group_arn(p["logGroupName"])] if "logGroupName" in p else None
        case "glue":
            if op in ("CreateClassifier", "GetClassifier", "UpdateClassifier", "DeleteClassifier", "GetCrawlerMetrics"):
                return ["*"]
            if "ResourceArn" in p:
                return [p["ResourceArn"]]
            if op.endswith("Crawler") or op == "ListCrawls":
                return [arn("glue", f"crawler/{p.get('Name') or p.get('CrawlerName')}")]
            if op.endswith("Database"):
                name = p.get("Name") or p.get("DatabaseInput", {}).get("Name")
                return [arn("glue", "catalog"), arn("glue", f"database/{name}")]
            if op == "GetTables":
                return glue_table_resources(p["DatabaseName"], "*")
            if "DatabaseName" in p:
                return glue_table_resources(p["DatabaseName"], p.get("TableName") or p.get("Name") or "*")
            return None
        case "athena":
            if "ResourceARN" in p:
                return [p["ResourceARN"]]
            group = p.get("WorkGroup") or p.get("Name") or workgroups.get(p.get("QueryExecutionId", ""))
            return [arn("athena", f"workgroup/{group}")] if group else None
        case "pipes":
            if "resourceArn" in p:
                return [p["resourceArn"]]
            return [arn("pipes", f"pipe/{p['Name']}")] if "Name" in p else None
        case "cloudwatch":
            return ["*"]
    return None


def actions_of(service: str, operation: str) -> list[str]:
    return ACTION_OF.get((service, operation), [f"{IAM_PREFIX.get(service, service)}:{operation}"])


def passed_roles(params: Any) -> Iterator[str]:
    """Every role named in a request (RoleArn, RoleARN, Role at any depth)."""
    if isinstance(params, dict):
        for key, value in params.items():
            if key in ROLE_KEYS and isinstance(value, str):
                yield value if value.startswith("arn:") else arn("iam", f"role/{value}", region=False)
            else:
                yield from passed_roles(value)
    elif isinstance(params, list):
        for item in params:
            yield from passed_roles(item)


SQL_TABLE = re.compile(r'(?:"|`)(\w+)(?:"|`)\.(?:"|`)(\w+)(?:"|`)')


def athena_query_needs(call: Call, results_bucket: str) -> Iterator[Need]:
    """What Athena does with the caller's permissions for one query (Athena user guide, "Identity and access
    management in Athena": Glue catalog access, S3 reads of the tables' data, writes of the results)."""
    sql = str(call.params["QueryString"])
    why = f"Athena query {sql.split(chr(10))[0][:60]!r}"
    tables = SQL_TABLE.findall(re.sub(r"--[^\n]*", "", sql))
    upper = sql.upper()
    for database, table in tables:
        for resource in glue_table_resources(database, table):
            for action in ("glue:GetDatabase", "glue:GetTable"):
                yield Need(action, resource, why=why)
        table_arn = glue_table_resources(database, table)[-1]
        if re.search(r"CREATE\s+(OR\s+REPLACE\s+)?VIEW", upper) and table == tables[0][1]:
            yield from (Need(a, table_arn, why=why) for a in ("glue:CreateTable", "glue:UpdateTable"))
        elif "CREATE EXTERNAL TABLE" in upper:
            yield Need("glue:CreateTable", table_arn, why=why)
        elif "MSCK REPAIR TABLE" in upper:
            yield from (Need(a, table_arn, why=why) for a in ("glue:GetPartitions", "glue:BatchCreatePartition"))
        else:
            yield from (Need(a, table_arn, why=why) for a in ("glue:GetPartitions", "glue:BatchGetPartition"))
    bucket = arn("s3", results_bucket, region=False, account=False)
    for prefix in (CONFIG.data_prefix, CONFIG.error_prefix):  # the tables' locations
        yield Need("s3:GetObject", f"{bucket}/{prefix}x", why=why)
    for action in ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"):
        yield Need(action, bucket, why=why)
    for action in ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        yield Need(action, f"{bucket}/{CONFIG.results_prefix}x", why=why)


def needs_of(calls: list[Call]) -> list[Need]:
    workgroups = {
        str(call.response["QueryExecutionId"]): str(call.params.get("WorkGroup"))
        for call in calls
        if call.operation == "StartQueryExecution" and call.response
    }
    needs: list[Need] = []
    for call in calls:
        why = f"{call.service} {call.operation}"
        derived = resources_of(call, workgroups)
        resources: list[str | None] = list(derived) if derived else [None]
        context: tuple[tuple[str, str], ...] = ()
        if call.service == "cloudwatch":
            context = (("cloudwatch:namespace", str(call.params.get("Namespace"))),)
        for action in actions_of(call.service, call.operation):
            for resource in resources:
                needs.append(Need(action, resource, context, why))
        if call.operation == "DeleteObjects" and any("VersionId" in o for o in call.params["Delete"]["Objects"]):
            needs += [Need("s3:DeleteObjectVersion", r, why=why) for r in resources]
        tag_rule = TAG_ON_CREATE.get((call.service, call.operation))
        if tag_rule and call.params.get(tag_rule[0]):
            needs += [Need(tag_rule[1], r, why=f"{why} with tags") for r in resources]
        if call.service in PASSED_TO and (call.operation.startswith(("Create", "Update"))):
            for role in passed_roles(call.params):
                passed = (("iam:PassedToService", PASSED_TO[call.service]),)
                needs.append(Need("iam:PassRole", role, passed, f"{why} passes {role}"))
        if call.operation == "StartQueryExecution":
            needs += list(athena_query_needs(call, CONFIG.bucket))
    return needs


# -- the policy, evaluated -----------------------------------------------------------------------------------------
def policy() -> dict[str, Any]:
    return dict(json.loads(POLICY_PATH.read_text()))


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, allowed in tests.items():
            if key not in context:
                return False  # a condition on a key the request does not carry: IAM does not match it
            value = context[key]
            if operator == "StringEquals" and value not in as_list(allowed):
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(value, a) for a in as_list(allowed)):
                return False
            if operator not in ("StringEquals", "StringLike"):
                return False  # unknown to this evaluator: never taken as a grant
    return True


def allowed(document: dict[str, Any], need: Need) -> bool:
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(need.action.lower(), a.lower()) for a in as_list(statement["Action"])):
            continue
        if need.resource is None:  # action-level only: the request's resource and context are unknown
            return True
        if not any(fnmatch.fnmatchcase(need.resource, pattern) for pattern in as_list(statement["Resource"])):
            continue
        if not condition_holds(statement.get("Condition", {}), dict(need.context)):
            continue
        return True
    return False


def static_operations() -> set[tuple[str, str]]:
    """(service, operation) of every boto3 call the library and the DAG files name on a client they got from
    ``clients("<service>")`` (or any call whose name says client), directly or through an alias."""
    session = botocore.session.get_session()
    services = set(session.get_available_services())
    operations: dict[str, set[str]] = {}
    found: set[tuple[str, str]] = set()

    def camel(name: str) -> str:
        return "".join(part[:1].upper() + part[1:] for part in name.split("_"))

    def ops(service: str) -> set[str]:
        if service not in operations:
            operations[service] = set(session.get_service_model(service).operation_names)
        return operations[service]

    def key(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return f"{node.value.id}.{node.attr}"
        return None

    def client_call(node: ast.AST) -> str | None:
        """The service of ``clients("svc")`` (any callee whose name says client)."""
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            return None
        callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        service = str(node.args[0].value)
        return service if "client" in callee.lower() and service in services else None

    for path in sorted([*(REPO / "plugins").rglob("*.py"), *(REPO / "dags").glob("*.py")]):
        tree = ast.parse(path.read_text())
        names: dict[str, str] = {}
        for _ in range(2):  # aliases of aliases
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                    continue
                pairs = [(node.targets[0], node.value)]
                if isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple):  # a, b = x, y
                    pairs = list(zip(node.targets[0].elts, node.value.elts, strict=False))
                for target, value in pairs:
                    service = client_call(value) or names.get(key(value) or "")
                    if service and (name := key(target)):
                        names[name] = service
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                service = client_call(node.value) or names.get(key(node.value) or "")
                if service and camel(node.attr) in ops(service):
                    found.add((service, camel(node.attr)))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get_paginator" and node.args:
                service = client_call(node.func.value) or names.get(key(node.func.value) or "")  # type: ignore[attr-defined]
                if service and isinstance(node.args[0], ast.Constant):
                    found.add((service, camel(str(node.args[0].value))))
    return found


# -- the tests -----------------------------------------------------------------------------------------------------
def test_every_call_the_dags_make_is_allowed_on_its_resource(dag_calls: list[Call]) -> None:
    document = policy()
    needs = needs_of(dag_calls)
    assert {call.service for call in dag_calls} >= {"dynamodb", "kinesis", "pipes", "firehose", "lambda", "s3",
                                                    "sqs", "iam", "logs", "glue", "athena", "cloudwatch"}  # fmt: skip
    assert any(need.action == "iam:PassRole" for need in needs)
    denied = sorted({f"{n.action} on {n.resource or '(any)'} ({n.why})" for n in needs if not allowed(document, n)})
    assert denied == [], "the policy does not allow:\n" + "\n".join(denied)


def test_every_operation_the_library_names_is_granted() -> None:
    """Paths this run does not take (drift fixes, a lost canary's diagnosis) are granted too, at least by action."""
    document = policy()
    operations = static_operations()
    assert ("kinesis", "UpdateShardCount") in operations and ("dynamodbstreams", "GetRecords") in operations
    denied = sorted(
        f"{action} ({service} {operation})"
        for service, operation in operations
        for action in actions_of(service, operation)
        if not allowed(document, Need(action, None))
    )
    assert denied == [], "the policy does not grant:\n" + "\n".join(denied)


def test_the_policy_grants_nothing_the_dags_do_not_use(dag_calls: list[Call]) -> None:
    used = {need.action.lower() for need in needs_of(dag_calls)}
    used |= {action.lower() for service, op in static_operations() for action in actions_of(service, op)}
    used |= {action.lower() for action in GRANTED_FOR_UNTAKEN_PATHS}
    granted = {action for statement in policy()["Statement"] for action in as_list(statement["Action"])}
    assert not [a for a in granted if "*" in a], "no action wildcards: name each action"
    assert sorted(a for a in granted if a.lower() not in used) == []


def test_resources_are_scoped_to_the_projects_names() -> None:
    document = policy()
    assert document["Version"] == "2012-10-17"
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                unexplained = set(as_list(statement["Action"])) - set(WILDCARD_RESOURCE_ACTIONS)
                assert not unexplained, f"{statement['Sid']}: {unexplained} granted on '*'"
            else:
                scoped = any(name in resource for name in ("sales-stream-*", "sales_stream_*", ":catalog"))
                assert scoped or resource.endswith(":log-group:*"), f"{statement['Sid']}: {resource} is not scoped"
    # An inline role policy may hold 10,240 characters (IAM quotas; whitespace not counted).
    assert len(json.dumps(document, separators=(",", ":"))) < 10_240


def test_a_call_outside_the_policy_is_caught() -> None:
    """The evaluator itself: what the policy does not name is refused, by action, by resource and by condition."""
    document = policy()
    other_table = Call("dynamodb", "DeleteTable", {"TableName": "payroll"}, None)
    untagged = Call("dynamodb", "ListTables", {}, None)
    metric = Call("cloudwatch", "PutMetricData", {"Namespace": "Other"}, None)
    stranger = Call("lambda", "CreateFunction", {"FunctionName": "sales-stream-x-transform", "Role": "admin"}, None)
    for call in (other_table, untagged, metric, stranger):
        assert not all(allowed(document, need) for need in needs_of([call])), call
    ours = Call("dynamodb", "DeleteTable", {"TableName": "sales-stream-x-orders"}, None)
    assert all(allowed(document, need) for need in needs_of([ours]))
