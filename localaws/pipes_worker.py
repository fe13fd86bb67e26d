"""The data plane of EventBridge Pipes: DynamoDB stream -> Kinesis stream, as a Pipe moves it.

moto stores pipes but moves nothing. ``PipesWorker`` (started and stopped by the Pipes extension)
keeps one ``PipeRunner`` thread per pipe whose Source is a DynamoDB stream and whose Target is a
Kinesis stream, for as long as the pipe exists:

- It reads every shard of the stream (a child shard only once its parent is drained) from
  ``StartingPosition``: TRIM_HORIZON = the oldest record; LATEST = just after the newest record at
  the moment the pipe first runs. The position reached is kept per shard (the checkpoint), so a
  stopped pipe resumes where it stopped: nothing lost, nothing sent twice.
- Batches: a shard's batch goes out when it holds ``BatchSize`` records or when its oldest record
  has waited ``MaximumBatchingWindowInSeconds`` (0: whatever is there). One batch per shard at a
  time, in shard order, so the records of a partition key keep their order.
- Each record becomes one Kinesis record (PutRecords, at most 500 entries / 5 MiB a call): Data is
  that record's JSON as Pipes delivers it (AWS_SHAPES.md 1b, with ``eventSourceARN`` = the stream
  ARN), PartitionKey is the target's ``PartitionKey`` JSONPath evaluated on it (or the literal).
- Failed entries are retried with exponential backoff; once ``MaximumRetryAttempts`` retries are
  spent (or a record is older than ``MaximumRecordAgeInSeconds``) the batch is described to the
  ``DeadLetterConfig`` SQS queue (1d) and the pipe moves on.
- While the pipe is STOPPED (or STOPPING) nothing is sent; a deleted pipe's runner ends.

Records are read straight from moto's in-process backends (no HTTP, no shard iterators: moto's
GetRecords keeps every iterator it ever issued). Two moto methods are made thread-safe while a
worker runs, because request threads and workers now append to the same shards concurrently:
DynamoDB's ``StreamShard.add`` (sequence number = list length, taken without a lock) and Kinesis's
``Shard.put_record`` ("not safe for concurrency", and O(n) per record); see ``install_moto_locks``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.kinesis import models as kinesis_models
from moto.kinesis.models import kinesis_backends
from moto.sqs.models import sqs_backends

from localaws.faults import Faults

log = logging.getLogger("localaws.pipes")

POLL_S = 0.05  # idle poll of a running pipe: new records move within ~50 ms
SUPERVISE_S = 0.1  # how often the pipe list is re-read for created / deleted pipes
NO_SOURCE_S = 0.5  # a pipe whose stream or target is missing checks again this often
BACKOFF_BASE_S = 0.1  # first retry after a failed PutRecords; doubles up to BACKOFF_MAX_S
BACKOFF_MAX_S = 3.0
KINESIS_MAX_ENTRIES = 500  # PutRecords limits
KINESIS_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_BATCH_SIZE = 100  # PipeSourceDynamoDBStreamParameters.BatchSize when not given

_STREAM_ARN = re.compile(
    r"^arn:[\w-]+:dynamodb:(?P<region>[\w-]+):(?P<account>\d{12}):table/(?P<table>[^/]+)/stream/(?P<label>.+)$"
)
_KINESIS_ARN = re.compile(r"^arn:[\w-]+:kinesis:(?P<region>[\w-]+):(?P<account>\d{12}):stream/(?P<name>[^/]+)$")
_SQS_ARN = re.compile(r"^arn:[\w-]+:sqs:(?P<region>[\w-]+):(?P<account>\d{12}):(?P<name>[^:]+)$")


# -- moto thread safety ---------------------------------------------------------------------------------

_patch_lock = threading.Lock()
_patch_users = 0
_stream_add_lock = threading.Lock()
_kinesis_put_lock = threading.Lock()
_original_stream_add = StreamShard.add
_original_shard_put = kinesis_models.Shard.put_record


def _locked_stream_add(self: StreamShard, old: Any, new: Any) -> None:
    # moto numbers a record len(items) + start before appending it: two writers could share a number.
    with _stream_add_lock:
        _original_stream_add(self, old, new)


def _locked_shard_put(self: kinesis_models.Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    # moto's own: "not safe for concurrency", and list(keys) per record. Same numbering, under a lock, O(1).
    with _kinesis_put_lock:
        last = next(reversed(self.records), 0) if self.records else 0
        sequence_number = last + 1
        self.records[sequence_number] = kinesis_models.Record(partition_key, data, sequence_number, explicit_hash_key)
        return str(sequence_number)


def install_moto_locks() -> None:
    """Make moto's stream appends thread-safe while any data-plane worker runs (counted; idempotent)."""
    global _patch_users
    with _patch_lock:
        _patch_users += 1
        if _patch_users == 1:
            StreamShard.add = _locked_stream_add  # type: ignore[method-assign]
            kinesis_models.Shard.put_record = _locked_shard_put  # type: ignore[method-assign]


def uninstall_moto_locks() -> None:
    global _patch_users
    with _patch_lock:
        _patch_users = max(0, _patch_users - 1)
        if _patch_users == 0:
            StreamShard.add = _original_stream_add  # type: ignore[method-assign]
            kinesis_models.Shard.put_record = _original_shard_put  # type: ignore[method-assign]


# -- PartitionKey JSONPath ----------------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"\.(?P<name>[A-Za-z0-9_\-]+|\*)|\[(?P<index>\d+|\*)\]|\['(?P<quoted>[^']*)'\]")


class PartitionKeyError(ValueError):
    """The PartitionKey path does not resolve to a value for this record."""


def compile_partition_key(expression: str) -> Callable[[dict[str, Any]], str]:
    """The target's PartitionKey as a function of one event (AWS_SHAPES.md 1c).

    A value starting with ``$.`` is a JSONPath (dot names with letters, digits, ``_`` and ``-``,
    ``[n]`` indices, ``*``, ``['quoted']`` names), evaluated on the original event; anything else is
    a literal key used for every record. A path that resolves to an object or array gives its JSON.
    """
    if not expression.startswith("$."):
        return lambda _event: expression
    steps: list[str | int] = []
    position = 1
    while position < len(expression):
        match = _PATH_TOKEN.match(expression, position)
        if match is None:
            raise ValueError(f"unsupported PartitionKey path {expression!r} at character {position}")
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("quoted") is not None:
            steps.append(match.group("quoted"))
        elif match.group("index") == "*":
            steps.append("*")
        else:
            steps.append(int(match.group("index")))
        position = match.end()

    def evaluate(event: dict[str, Any]) -> str:
        value: Any = event
        for step in steps:
            if step == "*":
                items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
                if not items:
                    raise PartitionKeyError(f"{expression} matches nothing")
                value = items[0]  # a key is one value: the first match
            elif isinstance(step, int):
                if not isinstance(value, list) or step >= len(value):
                    raise PartitionKeyError(f"{expression} matches nothing")
                value = value[step]
            else:
                if not isinstance(value, dict) or step not in value:
                    raise PartitionKeyError(f"{expression} matches nothing")
                value = value[step]
        if isinstance(value, str):
            key = value
        elif isinstance(value, dict | list):
            key = json.dumps(value, separators=(",", ":"))
        else:
            key = json.dumps(value)
        if not 1 <= len(key) <= 256:
            raise PartitionKeyError(f"{expression} gives a key of {len(key)} characters (Kinesis allows 1 to 256)")
        return key

    return evaluate


# -- the DynamoDB stream, read in-process ---------------------------------------------------------------


@dataclass
class _Shard:
    """One shard of a DynamoDB stream, addressed by sequence number (moto numbers them without gaps)."""

    shard_id: str
    parent_id: str | None
    moto_shard: StreamShard
    closed: bool = False  # moto's stream shards never split or close; the runner handles it if they do

    @property
    def first(self) -> int:
        return int(self.moto_shard.starting_sequence_number)

    @property
    def end(self) -> int:
        """The sequence number the next record will get."""
        return self.first + len(self.moto_shard.items)

    def read(self, sequence_number: int, limit: int) -> list[StreamRecord]:
        start = max(0, sequence_number - self.first)
        return self.moto_shard.items[start : start + limit]  # a slice: safe while moto appends


@dataclass
class _Stream:
    arn: str
    region: str
    shards: list[_Shard]


def resolve_stream(arn: str) -> _Stream | None:
    """The DynamoDB stream an ARN names, if its table exists and that stream is still the enabled one."""
    match = _STREAM_ARN.match(arn)
    if match is None:
        return None
    try:
        backend = dynamodb_backends[match["account"]][match["region"]]
    except Exception:  # an unknown region: no such stream
        return None
    table = backend.tables.get(match["table"])
    if table is None or table.stream_shard is None or table.latest_stream_label != match["label"]:
        return None  # gone, disabled, or re-enabled (a new stream with a new ARN)
    if not (table.stream_specification or {}).get("StreamEnabled"):
        return None
    shard = table.stream_shard
    return _Stream(arn, match["region"], [_Shard(shard.id, None, shard)])


def _epoch(moment: Any) -> float:
    if isinstance(moment, dt.datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # moto keeps naive UTC
        return aware.timestamp()
    return float(moment)


def _iso_ms(epoch_s: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()  # binary attributes travel as base64 text, as in the API
    if isinstance(value, dt.datetime):
        return int(_epoch(value))
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def pipe_event(record: StreamRecord, stream: _Stream, created: float | None = None) -> dict[str, Any]:
    """One stream record as EventBridge Pipes hands it to a target (AWS_SHAPES.md 1b)."""
    raw = record.record
    change = raw["dynamodb"]
    if created is None:
        created = _epoch(change["ApproximateCreationDateTime"])
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(created),  # DynamoDB Streams: epoch seconds, rounded down
        "Keys": change["Keys"],
    }
    for image in ("NewImage", "OldImage"):
        if image in change:
            body[image] = change[image]
    body["SequenceNumber"] = change["SequenceNumber"]
    body["SizeBytes"] = change["SizeBytes"]
    body["StreamViewType"] = change["StreamViewType"]
    event = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",  # what DynamoDB Streams writes today (moto says 1.0)
        "eventSource": "aws:dynamodb",
        "awsRegion": stream.region,  # moto always says us-east-1
        "dynamodb": body,
        "eventSourceARN": stream.arn,
    }
    if "userIdentity" in raw:  # TTL deletes
        identity = raw["userIdentity"]
        event["userIdentity"] = {
            "type": identity.get("type", identity.get("Type")),
            "principalId": identity.get("principalId", identity.get("PrincipalId")),
        }
    return event


# -- one pipe ---------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    record: StreamRecord
    seen: float  # time.monotonic() when the runner first read it: the batching window counts from here
    created: float  # the record's ApproximateCreationDateTime, epoch seconds (for MaximumRecordAgeInSeconds)


@dataclass
class _Counters:
    values: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.values[name] = self.values.get(name, 0) + amount

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.values)


COUNTER_NAMES = (
    "RecordsRead",  # read from the stream into a batch (again after a stop: re-read from the checkpoint)
    "Batches",  # batches finished (delivered and/or dead-lettered)
    "RecordsDelivered",  # Kinesis entries accepted (a re-delivered batch counts twice)
    "PutRecordsCalls",
    "FailedEntries",  # PutRecords entries that failed (each attempt)
    "Retries",
    "DeadLetterBatches",
    "DeadLetterRecords",
    "DiscardedRecords",  # given up with no dead-letter queue to tell
    "RedeliveredBatches",  # the at-least-once fault switch
    "Errors",  # unexpected failures of the worker itself (logged)
)


class RunnerThread:
    """One resource's worker thread: ``_run`` loops until ``end()``; ``_end`` doubles as its sleep."""

    def __init__(self, thread_name: str) -> None:
        self._end = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def end(self) -> None:
        self._end.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class PipeRunner(RunnerThread):
    """Moves one pipe's records while it is RUNNING; keeps its per-shard checkpoints while it is not."""

    def __init__(
        self, pipe: Any, account: str, region: str, settled: Callable[[Any], str], faults: Callable[[], Faults]
    ) -> None:
        self.pipe = pipe
        self.account, self.region = account, region
        self._settled = settled
        self._faults = faults
        self.checkpoints: dict[str, int] = {}  # shard id -> sequence number of the next record to deliver
        self._pending: dict[str, list[_Pending]] = {}
        self.counters = _Counters({name: 0 for name in COUNTER_NAMES})
        self.problem: str | None = None  # why the pipe is not moving, for the introspection endpoint
        self._partition_key: tuple[str, Callable[[dict[str, Any]], str]] | None = None
        super().__init__(f"localaws-pipe-{pipe.name}")

    def running(self) -> bool:
        """Whether the pipe is (heading to) RUNNING right now, read from moto's object itself.

        The supervisor only polls every 100 ms; reading here means nothing is sent once StopPipe
        has answered.
        """
        return not self._end.is_set() and self._settled(self.pipe) == "RUNNING"

    def status(self) -> dict[str, Any]:
        return {
            "Name": self.pipe.name,
            "Arn": self.pipe.arn,
            "State": self._settled(self.pipe),
            "Source": self.pipe.source,
            "Target": self.pipe.target,
            "Checkpoints": {shard: str(sequence) for shard, sequence in self.checkpoints.items()},
            "Counters": self.counters.snapshot(),
            "Problem": self.problem,
        }

    # -- the loop ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._end.is_set():
            if not self.running():
                # Records read but not delivered are read again from the checkpoint when it runs again.
                self._pending.clear()
                self._end.wait(POLL_S)
                continue
            try:
                pause = self._step()
            except Exception as err:
                self.counters.add("Errors")
                self.problem = f"{type(err).__name__}: {err}"
                log.exception("pipe %s: unexpected error; retrying", self.pipe.name)
                pause = NO_SOURCE_S
            if pause:
                self._end.wait(pause)

    def _note(self, problem: str | None) -> None:
        if problem != self.problem and problem is not None:
            log.warning("pipe %s: %s", self.pipe.name, problem)
        self.problem = problem

    def _step(self) -> float:
        """Read and send what is due on every shard; return how long to pause (0 = go again now)."""
        stream = resolve_stream(self.pipe.source)
        if stream is None:
            self._note(f"source stream {self.pipe.source} not found (or no longer the table's enabled stream)")
            return NO_SOURCE_S
        target = _KINESIS_ARN.match(self.pipe.target or "")
        if target is None:
            self._note(f"target {self.pipe.target} is not a Kinesis stream ARN")
            return NO_SOURCE_S
        parameters = dict((self.pipe.source_parameters or {}).get("DynamoDBStreamParameters") or {})
        batch_size = int(parameters.get("BatchSize") or DEFAULT_BATCH_SIZE)
        window = float(parameters.get("MaximumBatchingWindowInSeconds") or 0)
        key_expression = ((self.pipe.target_parameters or {}).get("KinesisStreamParameters") or {}).get(
            "PartitionKey", ""
        )
        partition_key = self._compiled_key(key_expression)

        moved = False
        for shard in self._readable(stream):
            if shard.shard_id not in self.checkpoints:
                position = parameters.get("StartingPosition", "TRIM_HORIZON")
                self.checkpoints[shard.shard_id] = shard.end if position == "LATEST" else shard.first
            pending = self._pending.setdefault(shard.shard_id, [])
            if len(pending) < batch_size:
                after = int(pending[-1].record.record["dynamodb"]["SequenceNumber"]) + 1 if pending else None
                start = after if after is not None else self.checkpoints[shard.shard_id]
                now = time.monotonic()
                fresh = shard.read(start, batch_size - len(pending))
                pending.extend(_Pending(record, now, _record_epoch(record)) for record in fresh)
                self.counters.add("RecordsRead", len(fresh))
            if not pending:
                continue
            due = len(pending) >= batch_size or window <= 0 or time.monotonic() - pending[0].seen >= window
            if not due:
                continue
            batch = pending[:batch_size]
            if not self._deliver(batch, shard, stream, parameters, target, partition_key):
                self._pending.clear()  # stopped or ending mid-batch: read again from the checkpoint
                return 0
            del pending[: len(batch)]
            self.checkpoints[shard.shard_id] = int(batch[-1].record.record["dynamodb"]["SequenceNumber"]) + 1
            moved = True
        self._note(None)
        return 0 if moved else POLL_S

    def _readable(self, stream: _Stream) -> Iterator[_Shard]:
        """Shards in order, a child only once its parent is closed and read to its end."""
        by_id = {shard.shard_id: shard for shard in stream.shards}
        for shard in stream.shards:
            parent = by_id.get(shard.parent_id or "")
            if parent is not None and not (parent.closed and self.checkpoints.get(parent.shard_id, -1) >= parent.end):
                continue
            yield shard

    def _compiled_key(self, expression: str) -> Callable[[dict[str, Any]], str]:
        if self._partition_key is None or self._partition_key[0] != expression:
            self._partition_key = (expression, compile_partition_key(expression))
        return self._partition_key[1]

    # -- one batch ----------------------------------------------------------------------------------------
    def _deliver(
        self,
        batch: list[_Pending],
        shard: _Shard,
        stream: _Stream,
        parameters: dict[str, Any],
        target: re.Match[str],
        partition_key: Callable[[dict[str, Any]], str],
    ) -> bool:
        """Send one batch until it is in Kinesis or dead-lettered (True), or the pipe stops (False)."""
        entries: list[dict[str, str] | None] = []
        for item in batch:
            event = pipe_event(item.record, stream, item.created)
            data = json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()
            try:
                entries.append({"Data": base64.b64encode(data).decode(), "PartitionKey": partition_key(event)})
            except PartitionKeyError as err:
                self._note(str(err))
                entries.append(None)  # cannot be sent: fails every attempt, like a target that refuses it
        max_retries = int(parameters.get("MaximumRetryAttempts", -1))
        max_age = int(parameters.get("MaximumRecordAgeInSeconds", -1))
        remaining = list(range(len(batch)))
        delivered: list[int] = []
        attempt = 0
        while remaining:
            if not self.running():
                return False
            if max_age >= 0:
                now = time.time()
                expired = [i for i in remaining if now - batch[i].created > max_age]
                if expired:
                    records = [batch[i].record for i in expired]
                    self._dead_letter(records, shard, stream, parameters, "RecordAgeExceeded")
                    remaining = [i for i in remaining if i not in set(expired)]
                    continue
            failed = self._put(target, [entries[i] for i in remaining])
            delivered += [i for position, i in enumerate(remaining) if position not in failed]
            remaining = [remaining[position] for position in sorted(failed)]
            if not remaining:
                break
            attempt += 1
            if 0 <= max_retries < attempt:
                records = [batch[i].record for i in remaining]
                self._dead_letter(records, shard, stream, parameters, "RetryAttemptsExhausted")
                break
            self.counters.add("Retries")
            if self._end.wait(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))):
                return False
        if delivered and self._faults().redeliver("pipe", self.pipe.arn):
            # At least once: the same batch, in the same order, goes into Kinesis a second time.
            again = [entries[i] for i in sorted(delivered)]
            self._put(target, again)
            self.counters.add("RedeliveredBatches")
        self.counters.add("Batches")
        return True

    def _put(self, target: re.Match[str], entries: list[dict[str, str] | None]) -> set[int]:
        """PutRecords in calls of at most 500 entries / 5 MiB; the positions that failed.

        After a call fails as a whole, the later calls are not made (they count as failed), so
        records of one partition key never overtake each other.
        """
        failed: set[int] = set()
        try:
            backend = kinesis_backends[target["account"]][target["region"]]
        except Exception as err:
            self._note(f"target {target.group(0)}: {err}")
            return set(range(len(entries)))
        broken = False
        for chunk_start, chunk in _chunks(entries):
            if broken:
                failed.update(range(chunk_start, chunk_start + len(chunk)))
                continue
            sendable = [(offset, entry) for offset, entry in enumerate(chunk) if entry is not None]
            failed.update(chunk_start + offset for offset, entry in enumerate(chunk) if entry is None)
            if not sendable:
                continue
            try:
                self.counters.add("PutRecordsCalls")
                reply = backend.put_records(target.group(0), target["name"], [entry for _, entry in sendable])
            except Exception as err:  # e.g. the stream does not exist: the whole call failed
                self._note(f"PutRecords into {target.group(0)} failed: {type(err).__name__}: {err}")
                failed.update(chunk_start + offset for offset, _ in sendable)
                broken = True
                continue
            for (offset, _), result in zip(sendable, reply.get("Records", []), strict=False):
                if result.get("ErrorCode"):
                    failed.add(chunk_start + offset)
        self.counters.add("FailedEntries", len(failed))
        self.counters.add("RecordsDelivered", len(entries) - len(failed))
        return failed

    def _dead_letter(
        self, records: list[StreamRecord], shard: _Shard, stream: _Stream, parameters: dict[str, Any], condition: str
    ) -> None:
        """Describe given-up records to the DLQ (AWS_SHAPES.md 1d): where they are, not what they hold."""
        arn = (parameters.get("DeadLetterConfig") or {}).get("Arn")
        first, last = records[0].record, records[-1].record
        message = {
            "context": {"partnerResourceArn": self.pipe.arn, "condition": condition},
            "version": "1.0",
            "timestamp": _iso_ms(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso_ms(_record_epoch(records[0])),
                "approximateArrivalOfLastRecord": _iso_ms(_record_epoch(records[-1])),
                "batchSize": len(records),
                "streamArn": stream.arn,
            },
        }
        queue = _SQS_ARN.match(arn or "")
        if queue is None:
            self.counters.add("DiscardedRecords", len(records))
            log.warning("pipe %s: %s; %d record(s) discarded (no SQS dead-letter queue)", self.pipe.name,
                        condition, len(records))  # fmt: skip
            return
        try:
            sqs_backends[queue["account"]][queue["region"]].send_message(queue["name"], json.dumps(message))
        except Exception as err:
            self.counters.add("DiscardedRecords", len(records))
            self._note(f"dead-letter queue {arn}: {type(err).__name__}: {err}; {len(records)} record(s) discarded")
            return
        self.counters.add("DeadLetterBatches")
        self.counters.add("DeadLetterRecords", len(records))
        log.warning("pipe %s: %s; %d record(s) described to %s", self.pipe.name, condition, len(records), arn)


def _record_epoch(record: StreamRecord) -> float:
    return _epoch(record.record["dynamodb"]["ApproximateCreationDateTime"])


def _chunks(entries: list[dict[str, str] | None]) -> Iterator[tuple[int, list[dict[str, str] | None]]]:
    """(start position, entries) groups within PutRecords' count and size limits."""
    start, size = 0, 0
    chunk: list[dict[str, str] | None] = []
    for position, entry in enumerate(entries):
        entry_size = 0 if entry is None else len(entry["Data"]) * 3 // 4 + len(entry["PartitionKey"])
        if chunk and (len(chunk) >= KINESIS_MAX_ENTRIES or size + entry_size > KINESIS_MAX_BYTES):
            yield start, chunk
            start, chunk, size = position, [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield start, chunk


# -- process-wide supervision --------------------------------------------------------------------------


@dataclass
class _Shared:
    """What every instance of one worker class in the process shares."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    owners: list[Any] = field(default_factory=list)  # the started instances, oldest first
    runners: dict[int, Any] = field(default_factory=dict)  # by id() of the moto object served
    ending: list[Any] = field(default_factory=list)  # runners of deleted resources, finishing a last poll
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class ProcessWideWorker:
    """A data-plane worker whose supervisor and runners are shared by every LocalAWS in the process.

    moto's backends are global to the process: two LocalAWS instances (a test's short-lived one
    beside the session's) see the same pipes and streams, and two sets of runners would each
    deliver every record, from their own checkpoints. So the first instance started runs one
    supervisor and the runners; later ones only join in; the runners use the oldest instance still
    started for their settings (fault switch, Lambda runtime); the last one stopped ends them all.
    """

    _shared: _Shared
    thread_name = "localaws-worker"
    interval_s = SUPERVISE_S

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._shared = _Shared()

    def reconcile(self) -> None:
        """Start runners for new resources, end those of deleted ones (called by the supervisor)."""
        raise NotImplementedError

    @classmethod
    def current(cls) -> Any:
        """The oldest started instance: whose settings the runners use now (None when stopped)."""
        with cls._shared.lock:
            return cls._shared.owners[0] if cls._shared.owners else None

    def start(self) -> None:
        shared = self._shared
        with shared.lock:
            if self in shared.owners:
                return
            shared.owners.append(self)
            if len(shared.owners) > 1:
                return
            install_moto_locks()
            shared.stop = threading.Event()
            shared.thread = threading.Thread(
                target=self._supervise, args=(shared.stop,), name=self.thread_name, daemon=True
            )
            shared.thread.start()

    def stop(self) -> None:
        """Leave; the last instance to leave ends the supervisor and every runner, and waits for them."""
        shared = self._shared
        with shared.lock:
            if self not in shared.owners:
                return
            shared.owners.remove(self)
            if shared.owners:
                return
            thread, shared.thread = shared.thread, None
            shared.stop.set()
            runners = [*shared.runners.values(), *shared.ending]
            shared.runners, shared.ending = {}, []
        if thread is not None:
            thread.join()
        for runner in runners:
            runner.end()
        for runner in runners:
            runner.join()
        uninstall_moto_locks()

    def runners(self) -> list[Any]:
        with self._shared.lock:
            return list(self._shared.runners.values())

    def _supervise(self, stop: threading.Event) -> None:
        while not stop.is_set():
            owner = self.current()
            try:
                if owner is not None:
                    owner.reconcile()
            except Exception:
                log.exception("%s: could not reconcile; retrying", self.thread_name)
            stop.wait(self.interval_s)

    def _keep(self, key: int, make: Callable[[], Any]) -> None:
        """Start a runner for ``key`` unless one runs (make() builds it)."""
        shared = self._shared
        with shared.lock:
            if key in shared.runners or shared.stop.is_set():
                return
            runner = make()
            shared.runners[key] = runner
        runner.start()

    def _forget_all_but(self, keys: set[int]) -> None:
        """End the runners of resources that no longer exist."""
        shared = self._shared
        with shared.lock:
            ended = [shared.runners.pop(key) for key in [key for key in shared.runners if key not in keys]]
            shared.ending = [runner for runner in shared.ending if runner.alive] + ended
        for runner in ended:
            runner.end()  # its thread ends within one poll


# -- the pipes supervisor ------------------------------------------------------------------------------------


def moves_data(pipe: Any) -> bool:
    """A pipe this worker serves: DynamoDB stream source, Kinesis stream target."""
    return bool(_STREAM_ARN.match(pipe.source or "")) and bool(_KINESIS_ARN.match(pipe.target or ""))


class PipesWorker(ProcessWideWorker):
    """Keeps one PipeRunner per DynamoDB-stream -> Kinesis pipe, from its creation to its deletion."""

    thread_name = "localaws-pipes"

    def __init__(self, list_pipes: Callable[[], list[Any]], settled: Callable[[Any], str], faults: Faults) -> None:
        self._list_pipes = list_pipes  # Pipes.pipes(): PipeState(pipe, account, region, ...) items
        self._settled = settled
        self.faults = faults

    @classmethod
    def current_faults(cls) -> Faults:
        owner = cls.current()
        return owner.faults if owner is not None else Faults()

    def reconcile(self) -> None:
        seen: set[int] = set()
        for state in self._list_pipes():
            pipe = state.pipe
            if not moves_data(pipe):
                continue
            seen.add(id(pipe))
            self._keep(
                id(pipe),
                functools.partial(PipeRunner, pipe, state.account, state.region, self._settled, self.current_faults),
            )
        self._forget_all_but(seen)
