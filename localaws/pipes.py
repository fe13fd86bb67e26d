"""EventBridge Pipes control plane as the Pipes API reference describes it, over moto's pipes backend.

moto stores pipes but: CreatePipe with an existing name overwrites the pipe; UpdatePipe replaces
SourceParameters/TargetParameters/EnrichmentParameters wholesale (dropping StartingPosition, say);
no range is validated; a pipe created with DesiredState STOPPED settles RUNNING (its only path out of
CREATING); and a STOPPED pipe moves on to STARTING and RUNNING by itself (its transition table has
STOPPED -> STARTING).

This extension implements CreatePipe, UpdatePipe, StartPipe and StopPipe (restJson1:
``POST|PUT /v1/pipes/{Name}``, ``POST /v1/pipes/{Name}/start|stop``) on moto's own ``Pipe`` objects:

- CreatePipe on an existing name: ConflictException (409, ``{message, resourceId, resourceType}``).
- UpdatePipe changes only the members given. In SourceParameters, EnrichmentParameters and
  TargetParameters each member given (``DynamoDBStreamParameters``, ``KinesisStreamParameters``,
  ``FilterCriteria``, ``InputTemplate``...) replaces the old one as a whole, so optional fields left out
  return to their defaults, except the fields an update cannot set (those only in the Create shapes,
  e.g. ``StartingPosition``), which are kept. Members not given keep their value. Source never changes.
- Validation as the model's constraints: required members, name and ARN patterns, enums, and the
  numeric ranges (BatchSize 1..10000, MaximumBatchingWindowInSeconds 0..300, MaximumRetryAttempts
  -1..10000, MaximumRecordAgeInSeconds -1..604800, ParallelizationFactor 1..10): ValidationException
  (400, ``{message, fieldList: [{name, message}]}``).
- States: each pipe gets its own transition table, so the transitional state a call returns (CREATING,
  UPDATING, STARTING, STOPPING) settles on the next read to the desired one: RUNNING or STOPPED as
  asked, and a stopped pipe stays stopped until StartPipe or an UpdatePipe with DesiredState RUNNING.
  Start/Stop/Update while a pipe is still in a transitional state: ConflictException.

DescribePipe, ListPipes, DeletePipe and the tag operations stay moto's: they read the same objects.
``Pipes.pipes()`` is the API for the worker that moves data: every pipe with its settled state.
The worker itself (``pipes_worker.PipesWorker``) runs from start() to stop(); its per-pipe counters
and checkpoints are served at ``GET /_localaws/pipes`` and ``GET /_localaws/pipes/{Name}``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from moto.core.utils import utcnow
from moto.pipes.models import EventBridgePipesBackend, Pipe, pipes_backends
from werkzeug.wrappers import Request, Response

from localaws.awsrequest import account_of, region_of, signed_for
from localaws.faults import Faults
from localaws.pipes_worker import PipesWorker

_PIPE_PATH = re.compile(r"^/v1/pipes/(?P<name>[^/]+)(?P<verb>/start|/stop)?/?$")
_STATUS_PATH = re.compile(r"^/_localaws/pipes(?:/(?P<name>[^/]+))?/?$")
_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
_ARN = re.compile(
    r"^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-]+):([a-z]{2,4}((-gov)|(-de)|(-iso([a-z]?)))?-[a-z]+(-\d{1})?)?:(\d{12})?:(.+)$"
)
_SOURCE = re.compile(
    r"^(smk://(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]):[0-9]{1,5}|"
    + _ARN.pattern[1:-1]
    + ")$"
)
_ROLE_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z0-9+=,.@\-_/]+$")

# Numeric constraints of the model's source parameter shapes, by member name.
_RANGES = {
    "BatchSize": (1, 10000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "MaximumRecordAgeInSeconds": (-1, 604800),
    "MaximumRetryAttempts": (-1, 10000),
    "ParallelizationFactor": (1, 10),
}
_STARTING_POSITIONS = {
    "DynamoDBStreamParameters": ("TRIM_HORIZON", "LATEST"),
    "KinesisStreamParameters": ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"),
}
TRANSITIONAL = ("CREATING", "UPDATING", "STARTING", "STOPPING", "DELETING")


class PipesError(Exception):
    def __init__(self, status: int, code: str, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status, self.code, self.body = status, code, body

    def response(self) -> Response:
        return Response(
            json.dumps(self.body),
            status=self.status,
            content_type="application/json",
            headers={"x-amzn-ErrorType": self.code},
        )


def _not_found(name: str) -> PipesError:
    return PipesError(404, "NotFoundException", {"message": f"Pipe {name} not found"})  # moto's DescribePipe text


def _conflict(message: str, name: str) -> PipesError:
    return PipesError(409, "ConflictException", {"message": message, "resourceId": name, "resourceType": "pipe"})


@dataclass(frozen=True)
class PipeState:
    """A pipe and the state it is in or heading to (what a worker acts on)."""

    pipe: Pipe  # moto's object: Source, SourceParameters, Target, TargetParameters, RoleArn, ...
    account: str
    region: str
    current_state: str
    settled_state: str  # RUNNING or STOPPED once any transition in progress has finished


class Pipes:
    name = "pipes"
    actions = {"pipes": ["CreatePipe", "UpdatePipe", "StartPipe", "StopPipe"]}

    def __init__(self, faults: Faults | None = None) -> None:
        self.worker = PipesWorker(self.pipes, settled_state, faults or Faults())
        model = botocore.session.get_session().get_service_model("pipes")
        # Fields only the Create shapes have (StartingPosition, TopicName...): an update keeps them.
        self._immutable: dict[str, set[str]] = {}
        create_source = model.shape_for("PipeSourceParameters").members  # type: ignore[attr-defined]
        update_source = model.shape_for("UpdatePipeSourceParameters").members  # type: ignore[attr-defined]
        for member, shape in update_source.items():
            create_members = set(getattr(create_source[member], "members", {}))
            self._immutable[member] = create_members - set(getattr(shape, "members", {}))

    # -- extension protocol -------------------------------------------------------------------
    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        if request.method == "GET" and _STATUS_PATH.match(request.path):
            return self.status
        match = _PIPE_PATH.match(request.path)
        if match is None or not signed_for(request, "pipes"):
            return None
        verb, method = match.group("verb"), request.method
        if verb is None and method == "POST":
            return self._handler(self.create_pipe)
        if verb is None and method == "PUT":
            return self._handler(self.update_pipe)
        if verb == "/start" and method == "POST":
            return self._handler(self.start_pipe)
        if verb == "/stop" and method == "POST":
            return self._handler(self.stop_pipe)
        return None  # DescribePipe, DeletePipe: moto

    def _handler(
        self, operation: Callable[[EventBridgePipesBackend, str, dict[str, Any]], Pipe]
    ) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            match = _PIPE_PATH.match(request.path)
            assert match is not None
            backend = pipes_backends[account_of(request)][region_of(request)]
            try:
                body = json.loads(request.get_data() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                return PipesError(400, "ValidationException", {"message": "Request body is not valid JSON"}).response()
            try:
                pipe = operation(backend, match.group("name"), body)
            except PipesError as err:
                return err.response()
            return Response(json.dumps(_summary(pipe)), status=200, content_type="application/json")

        return handle

    def status(self, request: Request) -> Response:
        """``GET /_localaws/pipes[/{Name}]``: what the data plane did per pipe (``?region=`` narrows it)."""
        match = _STATUS_PATH.match(request.path)
        assert match is not None
        region = request.args.get("region")
        runners = [r for r in self.worker.runners() if region in (None, r.region)]
        if match.group("name") is None:
            return Response(json.dumps({"Pipes": [r.status() for r in runners]}), content_type="application/json")
        found = [r.status() for r in runners if r.pipe.name == match.group("name")]
        if not found:
            return _not_found(match.group("name")).response()
        return Response(json.dumps(found[0]), content_type="application/json")

    # -- the API for a data-moving worker -------------------------------------------------------
    def pipes(self) -> list[PipeState]:
        """Every pipe in every account and region moto holds, with its current and settled state."""
        found = []
        for account, regions in list(pipes_backends.items()):
            for region, backend in list(regions.items()):
                for pipe in list(backend.pipes.values()):
                    current = str(pipe.current_state)
                    found.append(PipeState(pipe, account, region, current, _settled(pipe, current)))
        return found

    # -- operations ---------------------------------------------------------------------------------
    def create_pipe(self, backend: EventBridgePipesBackend, name: str, body: dict[str, Any]) -> Pipe:
        problems = _Problems()
        problems.check_name(name)
        for member, pattern in (("Source", _SOURCE), ("Target", _ARN), ("RoleArn", _ROLE_ARN)):
            if member not in body or body[member] in (None, ""):
                problems.add(member, "is required")
            else:
                problems.check_pattern(member, body[member], pattern)
        _validate_common(problems, body, create=True)
        problems.raise_if_any()
        if name in backend.pipes:
            raise _conflict(f"Pipe {name} already exists.", name)
        pipe = backend.create_pipe(
            name=name,
            description=body.get("Description"),
            desired_state=body.get("DesiredState"),
            source=body["Source"],
            source_parameters=body.get("SourceParameters"),
            enrichment=body.get("Enrichment") or None,
            enrichment_parameters=body.get("EnrichmentParameters"),
            target=body["Target"],
            target_parameters=body.get("TargetParameters"),
            role_arn=body["RoleArn"],
            tags=body.get("Tags"),
            log_configuration=body.get("LogConfiguration"),
            kms_key_identifier=body.get("KmsKeyIdentifier") or None,
        )
        _enter(pipe, "CREATING")
        return pipe

    def update_pipe(self, backend: EventBridgePipesBackend, name: str, body: dict[str, Any]) -> Pipe:
        problems = _Problems()
        problems.check_name(name)
        if body.get("RoleArn") in (None, ""):
            problems.add("RoleArn", "is required")
        else:
            problems.check_pattern("RoleArn", body["RoleArn"], _ROLE_ARN)
        if body.get("Target") is not None:
            problems.check_pattern("Target", body["Target"], _ARN)
        _validate_common(problems, body, create=False)
        problems.raise_if_any()
        pipe = self._settled_pipe(backend, name, "update")

        pipe.role_arn = body["RoleArn"]
        if "Description" in body:
            pipe.description = body["Description"]
        if body.get("DesiredState"):
            pipe.desired_state = body["DesiredState"]
        if "Enrichment" in body:
            pipe.enrichment = body["Enrichment"] or None  # "" removes the enrichment
        if body.get("Target"):
            pipe.target = body["Target"]
        if "LogConfiguration" in body:
            pipe.log_configuration = body["LogConfiguration"]
        if "KmsKeyIdentifier" in body:
            pipe.kms_key_identifier = body["KmsKeyIdentifier"] or None  # "" returns to an AWS owned key
        if body.get("SourceParameters") is not None:
            pipe.source_parameters = self._merge(pipe.source_parameters, body["SourceParameters"], self._immutable)
        if body.get("EnrichmentParameters") is not None:
            pipe.enrichment_parameters = self._merge(pipe.enrichment_parameters, body["EnrichmentParameters"], {})
        if body.get("TargetParameters") is not None:
            pipe.target_parameters = self._merge(pipe.target_parameters, body["TargetParameters"], {})
        pipe.last_modified_time = utcnow()
        _enter(pipe, "UPDATING")
        return pipe

    def start_pipe(self, backend: EventBridgePipesBackend, name: str, body: dict[str, Any]) -> Pipe:
        pipe = self._settled_pipe(backend, name, "start")
        pipe.desired_state = "RUNNING"
        if pipe.current_state == "STOPPED":
            _enter(pipe, "STARTING")
        pipe.last_modified_time = utcnow()
        return pipe

    def stop_pipe(self, backend: EventBridgePipesBackend, name: str, body: dict[str, Any]) -> Pipe:
        pipe = self._settled_pipe(backend, name, "stop")
        pipe.desired_state = "STOPPED"
        if pipe.current_state == "RUNNING":
            _enter(pipe, "STOPPING")
        pipe.last_modified_time = utcnow()
        return pipe

    @staticmethod
    def _settled_pipe(backend: EventBridgePipesBackend, name: str, verb: str) -> Pipe:
        pipe = backend.pipes.get(name)
        if pipe is None:
            raise _not_found(name)
        pipe.advance()  # as every moto read does: let a finished transition settle
        if pipe.current_state in TRANSITIONAL:
            raise _conflict(f"Cannot {verb} pipe {name} while it is {pipe.current_state}.", name)
        return pipe

    @staticmethod
    def _merge(
        current: dict[str, Any] | None, update: dict[str, Any], immutable: dict[str, set[str]]
    ) -> dict[str, Any] | None:
        """Each member given replaces the old one, keeping the fields an update cannot set."""
        merged = copy.deepcopy(current) if current else {}
        for member, value in update.items():
            old = merged.get(member)
            if value in (None, ""):  # e.g. InputTemplate "" removes the template
                merged.pop(member, None)
                continue
            if member == "FilterCriteria" and not (value or {}).get("Filters"):
                merged.pop(member, None)  # an empty Filters list removes the filter
                continue
            if isinstance(value, dict) and isinstance(old, dict):
                kept = {field: old[field] for field in immutable.get(member, ()) if field in old}
                value = {**kept, **value}
            merged[member] = value
        return merged or None


class _Problems:
    """Collects ValidationException fields the way the service reports them: one fieldList entry each."""

    def __init__(self) -> None:
        self.fields: list[dict[str, str]] = []

    def add(self, name: str, message: str) -> None:
        self.fields.append({"name": name, "message": message})

    def check_name(self, name: str) -> None:
        if not _NAME.match(name):
            self.add("Name", f"must match pattern [\\.\\-_A-Za-z0-9]+ and be 1 to 64 characters long (found: {name})")

    def check_pattern(self, name: str, value: Any, pattern: re.Pattern[str]) -> None:
        if not isinstance(value, str) or not pattern.match(value):
            self.add(name, f"must match pattern {pattern.pattern[1:-1]} (found: {value})")

    def check_range(self, name: str, value: Any, low: int, high: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(name, f"instance type ({type(value).__name__}) does not match any allowed primitive type")
        elif value < low:
            self.add(name, f"numeric instance is lower than the required minimum (minimum: {low}, found: {value})")
        elif value > high:
            self.add(name, f"numeric instance is greater than the required maximum (maximum: {high}, found: {value})")

    def raise_if_any(self) -> None:
        if self.fields:
            message = "[" + ", ".join(f"{f['name']}: {f['message']}" for f in self.fields) + "]"
            raise PipesError(400, "ValidationException", {"message": message, "fieldList": self.fields})


def _validate_common(problems: _Problems, body: dict[str, Any], *, create: bool) -> None:
    if body.get("DesiredState") not in (None, "RUNNING", "STOPPED"):
        problems.add("DesiredState", f"must be one of RUNNING, STOPPED (found: {body['DesiredState']})")
    description = body.get("Description")
    if description is not None and (not isinstance(description, str) or len(description) > 512):
        problems.add("Description", "must be at most 512 characters long")
    if body.get("Enrichment"):
        problems.check_pattern("Enrichment", body["Enrichment"], _ARN)
    source_parameters = body.get("SourceParameters") or {}
    if not isinstance(source_parameters, dict):
        problems.add("SourceParameters", "must be an object")
        source_parameters = {}
    for member, parameters in source_parameters.items():
        if not isinstance(parameters, dict) or member == "FilterCriteria":
            continue
        for field, (low, high) in _RANGES.items():
            if field in parameters:
                problems.check_range(f"SourceParameters.{member}.{field}", parameters[field], low, high)
        if member in _STARTING_POSITIONS and create:
            position = parameters.get("StartingPosition")
            if position is None:
                problems.add(f"SourceParameters.{member}.StartingPosition", "is required")
            elif position not in _STARTING_POSITIONS[member]:
                allowed = ", ".join(_STARTING_POSITIONS[member])
                problems.add(
                    f"SourceParameters.{member}.StartingPosition", f"must be one of {allowed} (found: {position})"
                )
        dead_letter = parameters.get("DeadLetterConfig")
        if isinstance(dead_letter, dict) and dead_letter.get("Arn"):
            problems.check_pattern(f"SourceParameters.{member}.DeadLetterConfig.Arn", dead_letter["Arn"], _ARN)
    target_parameters = body.get("TargetParameters") or {}
    kinesis = target_parameters.get("KinesisStreamParameters") if isinstance(target_parameters, dict) else None
    if isinstance(kinesis, dict):
        key = kinesis.get("PartitionKey")
        if not isinstance(key, str) or not key:
            problems.add("TargetParameters.KinesisStreamParameters.PartitionKey", "is required")
        elif len(key) > 256:
            problems.add("TargetParameters.KinesisStreamParameters.PartitionKey", "must be at most 256 characters")


def _enter(pipe: Pipe, state: str) -> None:
    """Put the pipe in a transitional state that settles (on moto's next read) where the pipe is heading."""
    desired = "STOPPED" if pipe.desired_state == "STOPPED" else "RUNNING"
    # Per-pipe table instead of moto's shared one, which has STOPPED -> STARTING and CREATING -> RUNNING only.
    pipe._transitions = [
        ("CREATING", desired),
        ("UPDATING", desired),
        ("STARTING", "RUNNING"),
        ("STOPPING", "STOPPED"),
    ]
    pipe.status = state
    pipe._tick = 0


def settled_state(pipe: Pipe) -> str:
    """RUNNING or STOPPED once any transition in progress has finished (no moto state is advanced)."""
    return _settled(pipe, str(pipe._status))


def _settled(pipe: Pipe, current: str) -> str:
    desired = "STOPPED" if pipe.desired_state == "STOPPED" else "RUNNING"
    return {"CREATING": desired, "UPDATING": desired, "STARTING": "RUNNING", "STOPPING": "STOPPED"}.get(
        current, current
    )


def _epoch(moment: dt.datetime) -> float:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # moto keeps naive UTC
    # Milliseconds, as moto's DescribePipe serializes them, so a Create response and a Describe agree.
    return math.floor(aware.timestamp() * 1000) / 1000


def _summary(pipe: Pipe) -> dict[str, Any]:
    """The response of Create/Update/Start/Stop/DeletePipe."""
    return {
        "Arn": pipe.arn,
        "Name": pipe.name,
        "DesiredState": pipe.desired_state,
        "CurrentState": pipe.current_state,
        "CreationTime": _epoch(pipe.creation_time),
        "LastModifiedTime": _epoch(pipe.last_modified_time),
    }
