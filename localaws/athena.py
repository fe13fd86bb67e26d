"""Athena as the Athena API reference describes it: workgroups moto lacks, and query executions that run.

moto 5.2.5 answers GetWorkGroup for an unknown name with an empty 200, has no UpdateWorkGroup and never
runs SQL. Implemented here, over moto's own workgroup objects (so moto's Create/List/Delete stay in step):

- GetWorkGroup (InvalidRequestException for an unknown name) and UpdateWorkGroup.
- StartQueryExecution: the workgroup's enforced configuration (EnforceWorkGroupConfiguration: its
  ResultConfiguration replaces the client's; BytesScannedCutoffPerQuery always applies), the
  "No output location provided" error, ClientRequestToken idempotency, ExecutionParameters, and a
  background worker that moves the query QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED through
  ``athena_engine`` (DuckDB over the Glue tables' S3 objects).
- GetQueryExecution, BatchGetQueryExecution, ListQueryExecutions (per workgroup, newest first),
  GetQueryResults (header row on the first page, MaxResults <= 1000, NextToken), StopQueryExecution.
- Result files: ``<OutputLocation><id>.csv`` + ``.csv.metadata`` (``.txt`` + ``.txt.metadata`` for DDL and
  utility statements), written through moto's S3 backend with the result configuration's encryption.

Executions are kept per account and region for the whole process (moto's backends are process-wide too),
and one set of worker threads runs them however many LocalAWS instances the process starts.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.athena.models import athena_backends
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition
from werkzeug.wrappers import Request, Response

from localaws.athena_engine import sql
from localaws.athena_engine.catalog import split_s3
from localaws.athena_engine.engine import AthenaEngine, QueryContext, QueryOutcome
from localaws.athena_engine.errors import QueryCancelled, QueryFailed
from localaws.athena_engine.results import ResultSet
from localaws.awsrequest import account_of, region_of, signed_for

log = logging.getLogger("localaws.athena")

TARGET_PREFIX = "AmazonAthena."
ENGINE_VERSION = "Athena engine version 3"
WORKERS = 2
MAX_RESULTS = 1000
NO_OUTPUT_LOCATION = (
    "No output location provided. An output location is required either through the Workgroup result "
    "configuration setting or as an API input."
)

# ResultConfigurationUpdates member -> the Remove* flag that clears it.
_RESULT_REMOVALS = {
    "OutputLocation": "RemoveOutputLocation",
    "EncryptionConfiguration": "RemoveEncryptionConfiguration",
    "ExpectedBucketOwner": "RemoveExpectedBucketOwner",
    "AclConfiguration": "RemoveAclConfiguration",
}
_PLAIN_UPDATES = (
    "EnforceWorkGroupConfiguration",
    "PublishCloudWatchMetricsEnabled",
    "BytesScannedCutoffPerQuery",
    "RequesterPaysEnabled",
    "EngineVersion",
    "AdditionalConfiguration",
    "ExecutionRole",
    "CustomerContentEncryptionConfiguration",
    "EnableMinimumEncryptionConfiguration",
    "QueryResultsS3AccessGrantsConfiguration",
)
MIN_CUTOFF_BYTES = 10_000_000


class AthenaRequestError(Exception):
    """An API error reply (not a query failure): InvalidRequestException with an AthenaErrorCode."""

    def __init__(self, message: str, code: str = "InvalidRequestException", athena_code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.message, self.code, self.athena_code = message, code, athena_code


def json_error(code: str, message: str, status: int = 400, **extra: Any) -> Response:
    """An awsJson1.1 error: the code in __type, as botocore reads it."""
    return Response(
        json.dumps({"__type": code, "Message": message, **extra}),
        status=status,
        content_type="application/x-amz-json-1.1",
    )


def _reply(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), content_type="application/x-amz-json-1.1")


# --- one query execution ---------------------------------------------------------------------------------------
@dataclass
class Execution:
    id: str
    account: str
    region: str
    query: str
    workgroup: str
    context: dict[str, str]
    result_configuration: dict[str, Any]  # effective, OutputLocation being the folder
    parameters: list[str] | None
    reuse: dict[str, Any]
    engine_version: dict[str, str]
    cutoff: int | None
    statement: sql.Statement | None = None
    early_failure: QueryFailed | None = None
    statement_type: str = "DML"
    substatement_type: str = "SELECT"
    state: str = "QUEUED"
    reason: str | None = None
    error: dict[str, Any] | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    completed: float | None = None
    outcome: QueryOutcome | None = None
    service_ms: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def finished(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @property
    def extension(self) -> str:
        return ".csv" if self.statement_type == "DML" else ".txt"

    @property
    def output_location(self) -> str:
        folder = str(self.result_configuration.get("OutputLocation") or "")
        return (folder if folder.endswith("/") else folder + "/") + self.id + self.extension

    def as_api(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.reason is not None:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = self.error
        result_configuration = {k: v for k, v in self.result_configuration.items() if k != "OutputLocation"}
        result_configuration["OutputLocation"] = self.output_location
        end = self.completed or time.time()
        queued_until = self.started or end
        statistics: dict[str, Any] = {
            "EngineExecutionTimeInMillis": self.outcome.engine_ms if self.outcome else 0,
            "DataScannedInBytes": self.outcome.scanned_bytes if self.outcome else 0,
            "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
            "QueryQueueTimeInMillis": int((queued_until - self.submitted) * 1000),
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": self.outcome.planning_ms if self.outcome else 0,
            "ServiceProcessingTimeInMillis": self.service_ms,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        execution: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "SubstatementType": self.substatement_type,
            "ResultConfiguration": result_configuration,
            "ResultReuseConfiguration": self.reuse,
            "QueryExecutionContext": self.context,
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.workgroup,
            "EngineVersion": self.engine_version,
        }
        if self.parameters is not None:
            execution["ExecutionParameters"] = self.parameters
        return execution


# --- the process-wide service: executions, worker threads, the engine ------------------------------------------
class AthenaService:
    """Every execution of the process, and the workers that run them (started while any LocalAWS runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executions: dict[tuple[str, str], OrderedDict[str, Execution]] = {}
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._queue: queue.Queue[Execution | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._users = 0
        self.engine: AthenaEngine | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------
    def acquire(self) -> None:
        with self._lock:
            if self._users > 0:
                self._users += 1
                return
            self.engine = AthenaEngine()  # first: a bad LOCALAWS_ATHENA_CACHE_MB fails the start, nothing half-started
            self._users = 1
            self._threads = [
                threading.Thread(target=self._work, name=f"localaws-athena-{i}", daemon=True) for i in range(WORKERS)
            ]
            for thread in self._threads:
                thread.start()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            threads, self._threads = self._threads, []
            for group in self._executions.values():
                for execution in group.values():
                    if not execution.finished:
                        execution.cancel.set()
            engine = self.engine
        if engine is not None:
            for group in list(self._executions.values()):
                for execution in list(group.values()):
                    engine.interrupt(execution.id)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join()
        with self._lock:
            for group in self._executions.values():
                for execution in group.values():
                    if not execution.finished and self._users == 0:
                        self._finish(execution, "CANCELLED", "localaws stopped before the query finished")
        with self._lock:
            if self._users == 0 and self.engine is engine and engine is not None:
                engine.close()
                self.engine = None

    # -- executions ---------------------------------------------------------------------------------------------
    def submit(self, execution: Execution, token: str | None) -> str:
        with self._lock:
            scope = (execution.account, execution.region)
            if token is not None:
                known = self._tokens.get((*scope, token))
                if known is not None:
                    return known
                self._tokens[(*scope, token)] = execution.id
            self._executions.setdefault(scope, OrderedDict())[execution.id] = execution
        self._queue.put(execution)
        return execution.id

    def get(self, account: str, region: str, execution_id: str) -> Execution | None:
        with self._lock:
            group = self._executions.get((account, region))
            return group.get(execution_id) if group is not None else None

    def listed(self, account: str, region: str, workgroup: str) -> list[Execution]:
        with self._lock:
            found = [e for e in self._executions.get((account, region), {}).values() if e.workgroup == workgroup]
        return list(reversed(found))

    def stop(self, execution: Execution) -> None:
        execution.cancel.set()
        with self._lock:
            if execution.state == "QUEUED":
                self._finish(execution, "CANCELLED")
                return
        if self.engine is not None:
            self.engine.interrupt(execution.id)

    @staticmethod
    def _finish(
        execution: Execution, state: str, reason: str | None = None, failure: QueryFailed | None = None
    ) -> None:
        execution.state = state
        execution.completed = time.time()
        execution.reason = reason
        if failure is not None:
            execution.error = {
                "ErrorCategory": failure.category,
                "ErrorType": failure.error_type,
                "Retryable": failure.retryable,
                "ErrorMessage": failure.reason,
            }

    # -- the worker ---------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            execution = self._queue.get()
            if execution is None:
                return
            try:
                self._run(execution)
            except Exception:  # a worker never dies on one query
                log.exception("Athena query %s failed unexpectedly", execution.id)
                with self._lock:
                    if not execution.finished:
                        failure = QueryFailed("GENERIC_INTERNAL_ERROR", "localaws internal error (see its log)")
                        self._finish(execution, "FAILED", failure.reason, failure)

    def _run(self, execution: Execution) -> None:
        with self._lock:
            if execution.finished:
                return
            if execution.cancel.is_set():
                self._finish(execution, "CANCELLED")
                return
            execution.state = "RUNNING"
            execution.started = time.time()
            engine = self.engine
        assert engine is not None
        context = QueryContext(
            account=execution.account,
            region=execution.region,
            database=execution.context.get("Database") or "default",  # Athena's session schema when none is given
            catalog=execution.context.get("Catalog") or "AwsDataCatalog",
            owner=execution.account,
            bytes_scanned_cutoff=execution.cutoff,
            cancelled=execution.cancel,
        )
        try:
            if execution.early_failure is not None:
                raise execution.early_failure
            assert execution.statement is not None
            outcome = engine.run(execution.statement, context, token=execution.id)
        except QueryFailed as failure:
            with self._lock:
                self._finish(execution, "FAILED", failure.reason, failure)
            return
        except QueryCancelled as cancelled:
            with self._lock:
                if cancelled.scanned_bytes:
                    execution.outcome = QueryOutcome(ResultSet.empty(), cancelled.scanned_bytes)
                self._finish(execution, "CANCELLED", cancelled.reason)
            return
        written = time.monotonic()
        try:
            self._write_results(execution, outcome.result)
        except QueryFailed as failure:
            with self._lock:
                self._finish(execution, "FAILED", failure.reason, failure)
            return
        with self._lock:
            execution.outcome = outcome
            execution.service_ms = int((time.monotonic() - written) * 1000)
            if execution.cancel.is_set():
                self._finish(execution, "CANCELLED")
            else:
                self._finish(execution, "SUCCEEDED")

    @staticmethod
    def _write_results(execution: Execution, result: ResultSet) -> None:
        bucket, prefix = split_s3(str(execution.result_configuration["OutputLocation"]))
        s3 = s3_backends[execution.account][get_partition(execution.region)]
        if bucket not in s3.buckets:
            raise QueryFailed("HIVE_FILESYSTEM_ERROR", f"Unable to verify/create output bucket {bucket}")
        encryption = (execution.result_configuration.get("EncryptionConfiguration") or {}).get("EncryptionOption")
        options: dict[str, Any] = {}
        if encryption == "SSE_S3":
            options["encryption"] = "AES256"
        elif encryption == "SSE_KMS":
            options["encryption"] = "aws:kms"
            options["kms_key_id"] = execution.result_configuration["EncryptionConfiguration"].get("KmsKey")
        body = result.csv() if execution.extension == ".csv" else result.text_file()
        key = f"{prefix}{execution.id}{execution.extension}"
        s3.put_object(bucket, key, body, **options)
        s3.put_object(bucket, key + ".metadata", result.metadata(), **options)


SERVICE = AthenaService()


# --- the extension (HTTP) --------------------------------------------------------------------------------------
class Athena:
    name = "athena"
    actions = {
        "athena": [
            "GetWorkGroup", "UpdateWorkGroup", "StartQueryExecution", "GetQueryExecution", "BatchGetQueryExecution",
            "ListQueryExecutions", "GetQueryResults", "StopQueryExecution",
        ]
    }  # fmt: skip

    def __init__(self, service: AthenaService = SERVICE) -> None:
        self.service = service
        self._operations: dict[str, Callable[[Request, dict[str, Any]], Response]] = {
            "GetWorkGroup": self.get_work_group,
            "UpdateWorkGroup": self.update_work_group,
            "StartQueryExecution": self.start_query_execution,
            "GetQueryExecution": self.get_query_execution,
            "BatchGetQueryExecution": self.batch_get_query_execution,
            "ListQueryExecutions": self.list_query_executions,
            "GetQueryResults": self.get_query_results,
            "StopQueryExecution": self.stop_query_execution,
        }
        self._started = False

    def start(self) -> None:
        if not self._started:
            self.service.acquire()
            self._started = True

    def stop(self) -> None:
        if self._started:
            self._started = False
            self.service.release()

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        target = request.headers.get("X-Amz-Target", "")
        if request.method != "POST" or not target.startswith(TARGET_PREFIX) or not signed_for(request, "athena"):
            return None
        operation = self._operations.get(target[len(TARGET_PREFIX) :])
        if operation is None:
            return None

        def handle(request: Request) -> Response:
            try:
                body = json.loads(request.get_data() or b"{}")
                if not isinstance(body, dict):
                    raise AthenaRequestError("Request body must be a JSON object")
                return operation(request, body)
            except ValueError:
                return json_error("InvalidRequestException", "Request body is not valid JSON",
                                  AthenaErrorCode="INVALID_INPUT")  # fmt: skip
            except AthenaRequestError as err:
                return json_error(err.code, err.message, AthenaErrorCode=err.athena_code)

        return handle

    # -- workgroups -----------------------------------------------------------------------------------------------
    @staticmethod
    def _workgroup(request: Request, name: str) -> Any:
        backend = athena_backends[account_of(request)][region_of(request)]
        workgroup = backend.work_groups.get(name)
        if workgroup is None:
            raise AthenaRequestError(f"WorkGroup {name} is not found.")
        return workgroup

    def get_work_group(self, request: Request, body: dict[str, Any]) -> Response:
        workgroup = self._workgroup(request, str(body.get("WorkGroup", "")))
        configuration = dict(workgroup.configuration)
        engine = dict(configuration.get("EngineVersion", {}))
        selected = engine.get("SelectedEngineVersion", "AUTO")
        engine["EffectiveEngineVersion"] = ENGINE_VERSION if selected == "AUTO" else selected
        configuration["EngineVersion"] = engine
        return _reply(
            {
                "WorkGroup": {
                    "Name": workgroup.name,
                    "State": workgroup.state,
                    "Configuration": configuration,
                    "Description": workgroup.description or "",
                    "CreationTime": getattr(workgroup, "creation_time", time.time()),
                }
            }
        )

    def update_work_group(self, request: Request, body: dict[str, Any]) -> Response:
        workgroup = self._workgroup(request, str(body.get("WorkGroup", "")))
        updates = body.get("ConfigurationUpdates", {})
        cutoff = updates.get("BytesScannedCutoffPerQuery")
        if cutoff is not None and cutoff < MIN_CUTOFF_BYTES:
            raise AthenaRequestError(f"BytesScannedCutoffPerQuery must be at least {MIN_CUTOFF_BYTES}")
        if body.get("State") not in (None, "ENABLED", "DISABLED"):
            raise AthenaRequestError(f"Invalid State {body['State']}")
        configuration = workgroup.configuration
        for member in _PLAIN_UPDATES:
            if member in updates:
                configuration[member] = updates[member]
        if updates.get("RemoveBytesScannedCutoffPerQuery"):
            configuration.pop("BytesScannedCutoffPerQuery", None)
        result_updates = updates.get("ResultConfigurationUpdates")
        if result_updates is not None:
            result = dict(configuration.get("ResultConfiguration", {}))
            for member, removal in _RESULT_REMOVALS.items():
                if result_updates.get(removal):
                    result.pop(member, None)
                elif member in result_updates:
                    result[member] = result_updates[member]
            configuration["ResultConfiguration"] = result
        if "Description" in body:
            workgroup.description = body["Description"]
        if "State" in body:
            workgroup.state = body["State"]
        return _reply({})

    # -- query executions ----------------------------------------------------------------------------------------
    def start_query_execution(self, request: Request, body: dict[str, Any]) -> Response:
        query = body.get("QueryString")
        if not isinstance(query, str) or not query.strip():
            raise AthenaRequestError("QueryString is required")
        if len(query.encode()) > sql.MAX_QUERY_LENGTH:
            raise AthenaRequestError(f"QueryString is longer than the maximum {sql.MAX_QUERY_LENGTH} bytes")
        workgroup_name = str(body.get("WorkGroup") or "primary")
        workgroup = self._workgroup(request, workgroup_name)
        if workgroup.state == "DISABLED":
            raise AthenaRequestError(f"WorkGroup {workgroup_name} is disabled.")
        configuration = workgroup.configuration or {}
        own = dict(configuration.get("ResultConfiguration") or {})
        client = dict(body.get("ResultConfiguration") or {})
        # Enforced: the workgroup's settings override the client's (moto fills Enforce... True by default).
        effective = own if configuration.get("EnforceWorkGroupConfiguration", True) else {**own, **client}
        if not effective.get("OutputLocation"):
            raise AthenaRequestError(NO_OUTPUT_LOCATION)
        parameters = body.get("ExecutionParameters")
        if parameters is not None:
            if not isinstance(parameters, list) or not parameters:
                raise AthenaRequestError("ExecutionParameters must hold at least one value")
            if any(not isinstance(p, str) or not 1 <= len(p) <= 1024 for p in parameters):
                raise AthenaRequestError("Each of ExecutionParameters must be a string of 1 to 1024 characters")
        context = dict(body.get("QueryExecutionContext") or {})
        engine = dict(configuration.get("EngineVersion") or {"SelectedEngineVersion": "AUTO"})
        selected = engine.get("SelectedEngineVersion", "AUTO")
        execution = Execution(
            id=str(uuid.uuid4()),
            account=account_of(request),
            region=region_of(request),
            query=query,
            workgroup=workgroup_name,
            context=context,
            result_configuration=effective,
            parameters=parameters,
            reuse=body.get("ResultReuseConfiguration") or {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            engine_version={"SelectedEngineVersion": selected,
                            "EffectiveEngineVersion": ENGINE_VERSION if selected == "AUTO" else selected},
            cutoff=configuration.get("BytesScannedCutoffPerQuery"),
        )  # fmt: skip
        try:
            execution.statement = sql.classify(query, parameters)
            execution.statement_type = execution.statement.statement_type
            execution.substatement_type = execution.statement.substatement_type
        except QueryFailed as failure:
            execution.early_failure = failure  # the query is accepted and then FAILS, as on Athena
        token = body.get("ClientRequestToken")
        return _reply({"QueryExecutionId": self.service.submit(execution, str(token) if token else None)})

    def _execution(self, request: Request, body: dict[str, Any]) -> Execution:
        execution_id = str(body.get("QueryExecutionId") or "")
        execution = self.service.get(account_of(request), region_of(request), execution_id)
        if execution is None:
            raise AthenaRequestError(f"QueryExecution {execution_id} was not found")
        return execution

    def get_query_execution(self, request: Request, body: dict[str, Any]) -> Response:
        return _reply({"QueryExecution": self._execution(request, body).as_api()})

    def batch_get_query_execution(self, request: Request, body: dict[str, Any]) -> Response:
        ids = body.get("QueryExecutionIds")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
            raise AthenaRequestError("QueryExecutionIds must hold 1 to 50 ids")
        found, missing = [], []
        for execution_id in ids:
            execution = self.service.get(account_of(request), region_of(request), str(execution_id))
            if execution is None:
                missing.append({"QueryExecutionId": execution_id, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"QueryExecution {execution_id} was not found"})  # fmt: skip
            else:
                found.append(execution.as_api())
        return _reply({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})

    def list_query_executions(self, request: Request, body: dict[str, Any]) -> Response:
        workgroup = str(body.get("WorkGroup") or "primary")
        self._workgroup(request, workgroup)
        limit = int(body.get("MaxResults") or 50)
        if not 0 <= limit <= 50:
            raise AthenaRequestError("MaxResults must be from 0 to 50")
        ids = [e.id for e in self.service.listed(account_of(request), region_of(request), workgroup)]
        start = _token_offset(body.get("NextToken"), "list", workgroup)
        page = ids[start : start + (limit or 50)]
        reply: dict[str, Any] = {"QueryExecutionIds": page}
        if start + len(page) < len(ids):
            reply["NextToken"] = _token("list", workgroup, start + len(page))
        return _reply(reply)

    def get_query_results(self, request: Request, body: dict[str, Any]) -> Response:
        execution = self._execution(request, body)
        if execution.state in ("QUEUED", "RUNNING"):
            raise AthenaRequestError(f"Query has not yet finished. Current state: {execution.state}")
        if execution.state != "SUCCEEDED" or execution.outcome is None:
            raise AthenaRequestError(execution.reason or f"Query did not succeed. Final state: {execution.state}")
        limit = body.get("MaxResults", MAX_RESULTS)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
            raise AthenaRequestError(f"MaxResults is more than maximum allowed length {MAX_RESULTS}")
        result = execution.outcome.result
        rows = result.api_rows()
        start = _token_offset(body.get("NextToken"), "results", execution.id)
        page = rows[start : start + limit]
        reply: dict[str, Any] = {
            "UpdateCount": result.update_count,
            "ResultSet": {"Rows": page, "ResultSetMetadata": {"ColumnInfo": result.column_info()}},
        }
        if start + len(page) < len(rows):
            reply["NextToken"] = _token("results", execution.id, start + len(page))
        return _reply(reply)

    def stop_query_execution(self, request: Request, body: dict[str, Any]) -> Response:
        execution = self._execution(request, body)
        if not execution.finished:
            self.service.stop(execution)
        return _reply({})


AthenaWorkgroups = Athena  # the name this extension had before it ran queries


def _token(kind: str, owner: str, offset: int) -> str:
    raw = json.dumps({"k": kind, "o": owner, "n": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _token_offset(token: Any, kind: str, owner: str) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if decoded["k"] == kind and decoded["o"] == owner and int(decoded["n"]) >= 0:
            return int(decoded["n"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise AthenaRequestError("The NextToken is not valid for this request")
