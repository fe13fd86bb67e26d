"""The data plane of a Firehose stream whose source is a Kinesis data stream: Kinesis -> Lambda -> S3.

moto stores delivery streams but never reads their Kinesis source, never runs the processor and
leaves ``!{timestamp:...}`` literal. ``FirehoseWorker`` (started and stopped by the Firehose
extension) keeps one ``DeliveryStreamRunner`` thread per ``KinesisStreamAsSource`` stream:

1. **Read** every shard of the source stream (a child shard once its parents are drained) from its
   checkpoint. Starting point: ``DeliveryStartTimestamp``, which AWS describes as "Firehose starts
   retrieving records from the Kinesis data stream starting with this timestamp" and which the
   Firehose guide puts at the LATEST position when the stream is created; localaws sets it to the
   delivery stream's creation time and reads each shard from its first record that arrived at or
   after it (AT_TIMESTAMP), so records put between the creation and the worker's first poll are
   not missed. A shard that appears later (a reshard) is read from its start.
2. **Invoke the processor** (a Lambda, in-process through ``LambdaRuntime``) when the records
   waiting for it reach the processor's ``BufferSizeInMBs`` (default 1) or the oldest has waited
   ``min(processor BufferIntervalInSeconds (default 60), destination IntervalInSeconds)``: the
   destination's interval is the delivery promise, and a record cannot be delivered before it is
   transformed. One invocation carries at most ``BufferSizeInMBs`` of records and stays under
   Lambda's 6 MB request limit; the event is the Firehose transformation event (AWS_SHAPES.md 2a).
   The response must name every recordId exactly once (else ``Lambda.MissingRecordId`` /
   ``Lambda.DuplicatedRecordId`` / ``Lambda.JsonProcessingException``: the whole invocation failed);
   a function error is retried ``NumberOfRetries`` times (default 3), then the whole invocation
   failed. ``Ok`` data is delivered as is; ``Dropped`` is counted; ``ProcessingFailed`` records
   (with or without ``data``) and the records of a failed invocation go to the error output.
3. **Deliver** by ``BufferingHints``: an object is written when the buffered bytes reach
   ``SizeInMBs`` or the oldest buffered record has waited ``IntervalInSeconds`` (0 = at once).
   Keys are ``<prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]`` with the prefix's
   ``!{timestamp:...}``, ``!{firehose:random-string}`` and ``!{firehose:error-output-type}`` expanded
   from the arrival time (UTC) of the OLDEST record in the object; GZIP compresses. Objects are put
   through moto's S3 backend, which sends the bucket's event notifications as a PUT would.
   Error objects hold one Firehose error record per line (AWS_SHAPES.md 3d) under the
   ``ErrorOutputPrefix`` with error-output-type ``processing-failed``.

Counters (the CloudWatch metrics one would watch) are served by the extension at
``GET /_localaws/firehose/{name}``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import gzip
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.firehose.models import DeliveryStream, firehose_backends
from moto.kinesis.models import Shard, kinesis_backends
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from localaws.faults import Faults
from localaws.lambda_runtime import MAX_SYNC_REQUEST_BYTES, LambdaRuntime
from localaws.pipes_worker import ProcessWideWorker, RunnerThread

log = logging.getLogger("localaws.firehose")

POLL_S = 0.05
SUPERVISE_S = 0.2
NO_SOURCE_S = 0.5
READ_LIMIT = 10_000  # records read from one shard per pass, so one busy shard cannot starve the loop
MIB = 1024 * 1024
DEFAULT_SIZE_MB = 5  # BufferingHints defaults
DEFAULT_INTERVAL_S = 300
DEFAULT_PROCESSOR_SIZE_MB = 1.0  # Lambda processor defaults (AWS_SHAPES.md 2c)
DEFAULT_PROCESSOR_INTERVAL_S = 60
DEFAULT_RETRIES = 3
RETRY_BASE_S = 0.2  # backoff between Lambda (re)invocations and S3 writes; doubles up to RETRY_MAX_S
RETRY_MAX_S = 5.0
# A conservative size of one record's entry in the event besides its data (ids, metadata, JSON punctuation).
EVENT_RECORD_OVERHEAD = 400
EVENT_ENVELOPE = 1024

PROCESSING_FAILED = "processing-failed"
MESSAGES = {
    "Lambda.FunctionError": "The Lambda function was successfully invoked but it returned an error result.",
    "Lambda.FunctionTimedOut": "The Lambda function was successfully invoked but it timed out.",
    "Lambda.MissingRecordId": "One or more record Ids were not returned. Ensure that the Lambda function returns "
    "all received record Ids.",
    "Lambda.DuplicatedRecordId": "Multiple records were returned with the same record Id. Ensure that the Lambda "
    "function returns a unique record Id for each record.",
    "Lambda.JsonProcessingException": "The Lambda function returned a response Firehose cannot read",
    "Lambda.ProcessingFailedStatus": "ProcessingFailed status set for record",
    "Lambda.ResourceNotFound": "The Lambda function could not be found",
}
RESULTS = ("Ok", "Dropped", "ProcessingFailed")

_KINESIS_ARN = re.compile(r"^arn:[\w-]+:kinesis:(?P<region>[\w-]+):(?P<account>\d{12}):stream/(?P<name>[^/]+)$")
_LAMBDA_ARN = re.compile(r"^arn:[\w-]+:lambda:(?P<region>[\w-]+):(?P<account>\d{12}):function:.+$")


# -- prefixes ---------------------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"!\{(?P<namespace>[^}:]+):(?P<value>[^}]*)\}")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def java_datetime_format(moment: dt.datetime, pattern: str) -> str:
    """``moment`` formatted with a Java ``DateTimeFormatter`` pattern (the letters Firehose prefixes use).

    Supported: y/u (year: yy two digits, else padded), M (M, MM, MMM, MMMM), d, D (day of year),
    H, h, m, s, S (fraction), E (EEE, EEEE), a; text in single quotes is literal, '' is a quote.
    Other letters are kept as they are.
    """
    out: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "'":
            end = pattern.find("'", position + 1)
            if end == position + 1:
                out.append("'")
                position += 2
                continue
            if end == -1:
                out.append(pattern[position + 1 :])
                break
            out.append(pattern[position + 1 : end])
            position = end + 1
            continue
        if not char.isalpha():
            out.append(char)
            position += 1
            continue
        end = position
        while end < len(pattern) and pattern[end] == char:
            end += 1
        out.append(_field(moment, char, end - position))
        position = end
    return "".join(out)


def _field(moment: dt.datetime, letter: str, count: int) -> str:
    if letter in "yu":
        return f"{moment.year % 100:02d}" if count == 2 else f"{moment.year:0{count}d}"
    if letter == "M":
        if count >= 4:
            return _MONTHS[moment.month - 1]
        if count == 3:
            return _MONTHS[moment.month - 1][:3]
        return f"{moment.month:0{count}d}"
    if letter == "E":
        name = _DAYS[moment.weekday()]
        return name if count >= 4 else name[:3]
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter == "S":
        return f"{moment.microsecond:06d}"[:count].ljust(count, "0")
    numbers = {
        "d": moment.day,
        "D": moment.timetuple().tm_yday,
        "H": moment.hour,
        "h": (moment.hour % 12) or 12,
        "m": moment.minute,
        "s": moment.second,
    }
    if letter in numbers:
        return f"{numbers[letter]:0{count}d}"
    return letter * count


def expand_prefix(prefix: str, moment: dt.datetime, error_output_type: str | None = None) -> str:
    """A Prefix or ErrorOutputPrefix with its ``!{namespace:value}`` expressions evaluated.

    Every ``!{timestamp:...}`` uses the same instant (the oldest record's arrival); each
    ``!{firehose:random-string}`` is a fresh 11-character string; ``!{partitionKeyFrom...}``
    (dynamic partitioning) is not supported and stays as written.
    """

    def evaluate(match: re.Match[str]) -> str:
        namespace, value = match.group("namespace"), match.group("value")
        if namespace == "timestamp":
            return java_datetime_format(moment, value)
        if namespace == "firehose" and value == "random-string":
            return str(uuid.uuid4())[:11]
        if namespace == "firehose" and value == "error-output-type" and error_output_type:
            return error_output_type
        return match.group(0)

    return _EXPRESSION.sub(evaluate, prefix)


def object_prefixes(destination: dict[str, Any]) -> tuple[str, str]:
    """(data prefix, error prefix) templates, with the defaults s3-prefixes.md describes."""
    prefix = str(destination.get("Prefix") or "")
    error_prefix = str(destination.get("ErrorOutputPrefix") or "")
    has_expression = "!{" in prefix
    if "!{timestamp:" not in prefix:
        prefix += "!{timestamp:yyyy/MM/dd/HH/}"
    if not error_prefix:
        # AWS refuses a Prefix with expressions and no ErrorOutputPrefix; localaws falls back to the default.
        base = "" if has_expression else str(destination.get("Prefix") or "")
        if base and not base.endswith("/"):
            base += "/"
        error_prefix = base + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}"
    return prefix, error_prefix


# -- buffers ----------------------------------------------------------------------------------------------


@dataclass
class _Incoming:
    """A Kinesis record Firehose has read and not yet transformed."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: str  # base64, as Kinesis keeps it
    size: int  # decoded bytes
    arrival_ms: int
    seen: float  # time.monotonic() when Firehose read it: buffering intervals count from here


@dataclass
class _Buffer:
    """Bytes waiting for one S3 object (the data or the error output)."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    records: int = 0
    oldest_arrival_ms: int | None = None
    oldest_seen: float | None = None

    def add(self, payload: bytes, arrival_ms: int, seen: float) -> None:
        self.parts.append(payload)
        self.size += len(payload)
        self.records += 1
        self.oldest_arrival_ms = min(arrival_ms, self.oldest_arrival_ms or arrival_ms)
        self.oldest_seen = min(seen, self.oldest_seen or seen)

    def due(self, size_limit: int, interval_s: float, now: float) -> bool:
        if not self.records or self.oldest_seen is None:
            return False
        return self.size >= size_limit or now - self.oldest_seen >= interval_s

    def take(self) -> tuple[bytes, int, int]:
        body, oldest, records = b"".join(self.parts), self.oldest_arrival_ms or 0, self.records
        self.parts, self.size, self.records, self.oldest_arrival_ms, self.oldest_seen = [], 0, 0, None, None
        return body, oldest, records


@dataclass
class _Object:
    bucket: str
    key: str
    body: bytes
    records: int
    kind: str  # "data", "redelivery" (a second copy of a data object) or "error"
    raw_size: int  # before compression
    attempts: int = 0


COUNTER_NAMES = (
    "IncomingRecords",  # read from the Kinesis source
    "IncomingBytes",
    "LambdaInvocations",
    "LambdaInvocationErrors",  # attempts that failed (function error, bad response, function missing)
    "ProcessedOkRecords",  # result Ok
    "DroppedRecords",  # result Dropped
    "FailedRecords",  # written to the processing-failed error output (ProcessingFailed or failed invocation)
    "DeliveredRecords",  # records in data objects written (a re-delivered object counts again)
    "DeliveredBytes",  # uncompressed
    "DataObjects",
    "ErrorObjects",
    "RedeliveredObjects",  # the at-least-once fault switch
    "S3WriteErrors",
    "Errors",  # unexpected failures of the worker itself (logged)
)


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(COUNTER_NAMES, 0)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0) + amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


@dataclass
class _Processor:
    lambda_arn: str
    retries: int
    buffer_bytes: int
    interval_s: float


# -- one delivery stream ----------------------------------------------------------------------------------


class DeliveryStreamRunner(RunnerThread):
    def __init__(
        self,
        stream: DeliveryStream,
        account: str,
        region: str,
        context: Callable[[], tuple[LambdaRuntime, Faults] | None],
    ) -> None:
        self.stream = stream
        self.account, self.region = account, region
        self._context = context  # the Lambda runtime and fault switch of the LocalAWS in charge now
        # DeliveryStartTimestamp: the creation time (see the module docstring), shown by DescribeDeliveryStream.
        created = stream.create_timestamp
        self.start_epoch = (created if created.tzinfo else created.replace(tzinfo=dt.UTC)).timestamp()
        if isinstance(stream.source, dict):
            stream.source.setdefault("DeliveryStartTimestamp", created)
        self.checkpoints: dict[str, int] = {}  # shard id -> sequence number of the next record to read
        self._incoming: list[_Incoming] = []
        self._incoming_bytes = 0
        self._data = _Buffer()
        self._errors = _Buffer()
        self._outbox: deque[_Object] = deque()
        self._retry_at = 0.0
        self.counters = _Counters()
        self.problem: str | None = None
        self._warned: set[str] = set()
        super().__init__(f"localaws-firehose-{stream.delivery_stream_name}")

    @property
    def name(self) -> str:
        return str(self.stream.delivery_stream_name)

    def status(self) -> dict[str, Any]:
        return {
            "DeliveryStreamName": self.name,
            "DeliveryStreamARN": self.stream.delivery_stream_arn,
            "Source": (self.stream.source or {}).get("KinesisStreamARN"),
            "DeliveryStartTimestamp": self.start_epoch,
            "Checkpoints": {shard: str(sequence) for shard, sequence in self.checkpoints.items()},
            "Buffered": {
                "AwaitingProcessing": len(self._incoming),
                "DataRecords": self._data.records,
                "ErrorRecords": self._errors.records,
                "ObjectsAwaitingWrite": len(self._outbox),
            },
            "Counters": self.counters.snapshot(),
            "Problem": self.problem,
        }

    def _note(self, problem: str | None) -> None:
        if problem is not None and problem != self.problem:
            log.warning("delivery stream %s: %s", self.name, problem)
        self.problem = problem

    # -- the loop -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._end.is_set():
            try:
                pause = self._step()
            except Exception as err:
                self.counters.add("Errors")
                self._note(f"{type(err).__name__}: {err}")
                log.exception("delivery stream %s: unexpected error; retrying", self.name)
                pause = NO_SOURCE_S
            if pause:
                self._end.wait(pause)

    def _step(self) -> float:
        destination = self._destination()
        if destination is None:
            self._note("no S3 or ExtendedS3 destination: nothing is delivered")
            return NO_SOURCE_S
        # An object S3 did not take yet: retry it first and read nothing new meanwhile.
        if self._outbox and (time.monotonic() < self._retry_at or not self._write_outbox()):
            return POLL_S
        read = self._read_source(destination)
        now = time.monotonic()
        processor = self._processor(destination)
        if self._incoming and (
            processor is None
            or self._incoming_bytes >= processor.buffer_bytes
            or now - self._incoming[0].seen >= min(processor.interval_s, _interval(destination))
        ):
            self._transform(processor, destination)
        size_limit = _size_limit(destination)
        if self._data.due(size_limit, _interval(destination), now):
            self._flush(self._data, destination, "data")
        if self._errors.due(size_limit, _interval(destination), now):
            self._flush(self._errors, destination, "error")
        if self._outbox:
            self._write_outbox()
        return 0 if read else POLL_S

    def _destination(self) -> dict[str, Any] | None:
        destinations = self.stream.destinations or [{}]
        found = destinations[0].get("ExtendedS3") or destinations[0].get("S3")
        return found if isinstance(found, dict) else None

    @staticmethod
    def _processor(destination: dict[str, Any]) -> _Processor | None:
        processing = destination.get("ProcessingConfiguration") or {}
        if processing.get("Enabled") is False:
            return None
        for processor in processing.get("Processors") or []:
            if processor.get("Type") != "Lambda":
                continue
            parameters = {p.get("ParameterName"): p.get("ParameterValue") for p in processor.get("Parameters") or []}
            if not parameters.get("LambdaArn"):
                continue
            return _Processor(
                lambda_arn=str(parameters["LambdaArn"]),
                retries=max(0, int(parameters.get("NumberOfRetries") or DEFAULT_RETRIES)),
                buffer_bytes=int(float(parameters.get("BufferSizeInMBs") or DEFAULT_PROCESSOR_SIZE_MB) * MIB),
                interval_s=float(parameters.get("BufferIntervalInSeconds") or DEFAULT_PROCESSOR_INTERVAL_S),
            )
        return None

    # -- reading ------------------------------------------------------------------------------------------
    def _read_source(self, destination: dict[str, Any]) -> int:
        arn = (self.stream.source or {}).get("KinesisStreamARN", "")
        match = _KINESIS_ARN.match(arn)
        kinesis = None
        if match is not None:
            try:
                kinesis = kinesis_backends[match["account"]][match["region"]].streams.get(match["name"])
            except Exception:
                kinesis = None
        if kinesis is None:
            self._note(f"source stream {arn} not found")
            return 0
        self._note(None)
        processor = self._processor(destination)
        shards: dict[str, Shard] = dict(kinesis.shards)
        read = 0
        for shard_id, shard in shards.items():
            if not self._parents_drained(shard, shards):
                continue
            sequence = self.checkpoints.get(shard_id)
            if sequence is None:
                sequence = _first_at_or_after(shard, self.start_epoch)
            records = shard.records
            count = 0
            while count < READ_LIMIT:
                record = records.get(sequence)
                if record is None:
                    break
                self._accept(shard_id, record, processor)
                sequence += 1
                count += 1
            self.checkpoints[shard_id] = sequence
            read += count
        return read

    def _parents_drained(self, shard: Shard, shards: dict[str, Shard]) -> bool:
        for parent_id in (shard.parent, shard.adjacent_parent):
            parent = shards.get(parent_id or "")
            if parent is None:
                continue
            if parent.is_open or parent.records.get(self.checkpoints.get(parent_id or "", 1)) is not None:
                return False
        return True

    def _accept(self, shard_id: str, record: Any, processor: _Processor | None) -> None:
        data = str(record.data)
        size = len(data) * 3 // 4 - (2 if data.endswith("==") else 1 if data.endswith("=") else 0)
        arrival_ms = int(record.created_at * 1000)
        now = time.monotonic()
        self.counters.add("IncomingRecords")
        self.counters.add("IncomingBytes", size)
        if processor is None:
            self._data.add(base64.b64decode(data), arrival_ms, now)
            return
        self._incoming.append(
            _Incoming(shard_id, str(record.sequence_number), str(record.partition_key), data, size, arrival_ms, now)
        )
        self._incoming_bytes += size

    # -- transforming -------------------------------------------------------------------------------------
    def _transform(self, processor: _Processor | None, destination: dict[str, Any]) -> None:
        records, self._incoming, self._incoming_bytes = self._incoming, [], 0
        if processor is None:
            for record in records:
                self._data.add(base64.b64decode(record.data), record.arrival_ms, record.seen)
            return
        for chunk in _invocation_chunks(records, processor.buffer_bytes):
            if self._end.is_set():
                return  # shutting down: what is buffered in memory is lost, as with any stopped process
            self._invoke(processor, chunk)

    def _invoke(self, processor: _Processor, records: list[_Incoming]) -> None:
        ids = [f"{record.shard_id}-{record.sequence_number.zfill(21)}" for record in records]
        event = {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": self.stream.delivery_stream_arn,
            "sourceKinesisStreamArn": (self.stream.source or {}).get("KinesisStreamARN"),
            "region": self.region,
            "records": [
                {
                    "recordId": record_id,
                    "approximateArrivalTimestamp": record.arrival_ms,
                    "data": record.data,
                    "kinesisRecordMetadata": {
                        "shardId": record.shard_id,
                        "partitionKey": record.partition_key,
                        "approximateArrivalTimestamp": record.arrival_ms,
                        "sequenceNumber": record.sequence_number,
                        "subsequenceNumber": "",
                    },
                }
                for record_id, record in zip(ids, records, strict=True)
            ],
        }
        attempts = 0
        while True:
            attempts += 1
            self.counters.add("LambdaInvocations")
            results, error_code, retryable = self._call(processor.lambda_arn, event, ids)
            if results is not None:
                break
            self.counters.add("LambdaInvocationErrors")
            if not retryable or attempts > processor.retries or self._end.is_set():
                assert error_code is not None
                self._note(f"Lambda {processor.lambda_arn}: {error_code} after {attempts} attempt(s)")
                for record in records:
                    self._fail(record, error_code, attempts, processor.lambda_arn)
                return
            self._end.wait(min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1)))
        for record_id, record in zip(ids, records, strict=True):
            result, data = results[record_id]
            if result == "Ok":
                self.counters.add("ProcessedOkRecords")
                self._data.add(data, record.arrival_ms, record.seen)
            elif result == "Dropped":
                self.counters.add("DroppedRecords")
            else:
                self._fail(record, "Lambda.ProcessingFailedStatus", attempts, processor.lambda_arn)

    def _call(
        self, lambda_arn: str, event: dict[str, Any], ids: list[str]
    ) -> tuple[dict[str, tuple[str, bytes]] | None, str | None, bool]:
        """One invocation: (results by recordId, None, _) or (None, error code, whether to retry)."""
        match = _LAMBDA_ARN.match(lambda_arn)
        account, region = (match["account"], match["region"]) if match else (self.account, self.region)
        try:
            function = lambda_backends[account][region].get_function(lambda_arn)
        except Exception:
            return None, "Lambda.ResourceNotFound", True
        context = self._context()
        if context is None:
            return None, "Lambda.ResourceNotFound", True  # LocalAWS is stopping
        headers, payload = context[0].run(function, event, lambda_arn)
        if headers.get("X-Amz-Function-Error"):
            try:
                error_type = json.loads(payload).get("errorType")
            except (ValueError, AttributeError):
                error_type = None
            code = "Lambda.FunctionTimedOut" if error_type == "Sandbox.Timedout" else "Lambda.FunctionError"
            return None, code, True
        # A response the function shaped wrongly is final: invoking again would give the same answer.
        try:
            document = json.loads(payload)
        except ValueError:
            return None, "Lambda.JsonProcessingException", False
        entries = document.get("records") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            return None, "Lambda.JsonProcessingException", False
        results: dict[str, tuple[str, bytes]] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("recordId"), str):
                return None, "Lambda.JsonProcessingException", False
            result = entry.get("result")
            if result not in RESULTS:
                return None, "Lambda.JsonProcessingException", False
            data = b""
            if result == "Ok":
                encoded = entry.get("data")
                if not isinstance(encoded, str):
                    return None, "Lambda.JsonProcessingException", False
                try:
                    data = base64.b64decode(encoded, validate=True)
                except (ValueError, binascii.Error):
                    return None, "Lambda.JsonProcessingException", False
            if entry["recordId"] in results:
                return None, "Lambda.DuplicatedRecordId", False
            results[entry["recordId"]] = (str(result), data)
        if set(results) != set(ids):
            return None, "Lambda.MissingRecordId", False
        return results, None, False

    def _fail(self, record: _Incoming, error_code: str, attempts: int, lambda_arn: str) -> None:
        """One line of the processing-failed error output, with the ORIGINAL record's bytes."""
        line = {
            "attemptsMade": attempts,
            "arrivalTimestamp": record.arrival_ms,
            "errorCode": error_code,
            "errorMessage": MESSAGES.get(error_code, error_code),
            "attemptEndingTimestamp": int(time.time() * 1000),
            "rawData": record.data,
            # The guide spells it lambdaArn, captured objects lambdaARN (AWS_SHAPES.md 3d): both, so
            # readers of either spelling find it.
            "lambdaArn": lambda_arn,
            "lambdaARN": lambda_arn,
        }
        self.counters.add("FailedRecords")
        self._errors.add(json.dumps(line, separators=(",", ":")).encode() + b"\n", record.arrival_ms, record.seen)

    # -- delivering ---------------------------------------------------------------------------------------
    def _flush(self, buffer: _Buffer, destination: dict[str, Any], kind: str) -> None:
        body, oldest_ms, records = buffer.take()
        raw_size = len(body)
        bucket = str(destination.get("BucketARN", "")).split(":::")[-1]
        moment = dt.datetime.fromtimestamp(oldest_ms / 1000, dt.UTC)
        data_prefix, error_prefix = object_prefixes(destination)
        template = data_prefix if kind == "data" else error_prefix
        compression = str(destination.get("CompressionFormat") or "UNCOMPRESSED")
        if compression == "GZIP":
            body = gzip.compress(body, compresslevel=6)
            extension = ".gz"
        else:
            if compression != "UNCOMPRESSED" and compression not in self._warned:
                self._warned.add(compression)
                log.warning("delivery stream %s: CompressionFormat %s is not supported by localaws: written "
                            "uncompressed", self.name, compression)  # fmt: skip
            extension = ""
        extension = str(destination.get("FileExtension") or extension)

        def key() -> str:
            prefix = expand_prefix(template, moment, PROCESSING_FAILED if kind == "error" else None)
            stamp = moment.strftime("%Y-%m-%d-%H-%M-%S")
            return f"{prefix}{self.name}-{self.stream.version_id}-{stamp}-{uuid.uuid4()}{extension}"

        self._outbox.append(_Object(bucket, key(), body, records, kind, raw_size))
        context = self._context()
        if kind == "data" and context is not None and context[1].redeliver("firehose", self.stream.delivery_stream_arn):
            # At least once: the same object written again, as after a retried S3 delivery.
            self._outbox.append(_Object(bucket, key(), body, records, "redelivery", raw_size))

    def _write_outbox(self) -> bool:
        """Write the objects waiting, in order; False if S3 refused one (it is retried later)."""
        s3 = s3_backends[self.account][get_partition(self.region)]
        while self._outbox:
            item = self._outbox[0]
            try:
                s3.put_object(item.bucket, item.key, item.body)
            except Exception as err:
                item.attempts += 1
                self.counters.add("S3WriteErrors")
                self._note(f"s3://{item.bucket}/{item.key}: {type(err).__name__}: {err}; retrying")
                self._retry_at = time.monotonic() + min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (item.attempts - 1))
                return False
            self._outbox.popleft()
            if item.kind == "error":
                self.counters.add("ErrorObjects")
                continue
            self.counters.add("DataObjects")
            self.counters.add("DeliveredRecords", item.records)
            self.counters.add("DeliveredBytes", item.raw_size)
            if item.kind == "redelivery":
                self.counters.add("RedeliveredObjects")
        return True


def _interval(destination: dict[str, Any]) -> float:
    hints = destination.get("BufferingHints") or {}
    value = hints.get("IntervalInSeconds")
    return float(DEFAULT_INTERVAL_S if value is None else value)


def _size_limit(destination: dict[str, Any]) -> int:
    hints = destination.get("BufferingHints") or {}
    return int(float(hints.get("SizeInMBs") or DEFAULT_SIZE_MB) * MIB)


def _first_at_or_after(shard: Shard, epoch_s: float) -> int:
    """The sequence number of the shard's first record that arrived at or after ``epoch_s`` (AT_TIMESTAMP)."""
    records = shard.records
    try:
        sequence = next(iter(records))  # one step: safe while a writer appends
    except (StopIteration, RuntimeError):
        return 1
    while True:
        record = records.get(sequence)
        if record is None or record.created_at >= epoch_s:
            return int(sequence)
        sequence += 1


def _invocation_chunks(records: list[_Incoming], buffer_bytes: int) -> list[list[_Incoming]]:
    """Records grouped per invocation: at most ``buffer_bytes`` of data and a request under 6 MB."""
    chunks: list[list[_Incoming]] = []
    chunk: list[_Incoming] = []
    size = request = 0
    for record in records:
        entry = len(record.data) + len(record.partition_key) + EVENT_RECORD_OVERHEAD
        if chunk and (size + record.size > buffer_bytes or EVENT_ENVELOPE + request + entry > MAX_SYNC_REQUEST_BYTES):
            chunks.append(chunk)
            chunk, size, request = [], 0, 0
        chunk.append(record)
        size += record.size
        request += entry
    if chunk:
        chunks.append(chunk)
    return chunks


# -- the supervisor ---------------------------------------------------------------------------------------


class FirehoseWorker(ProcessWideWorker):
    """Keeps one DeliveryStreamRunner per KinesisStreamAsSource delivery stream while it exists."""

    thread_name = "localaws-firehose"

    def __init__(self, lambda_runtime: LambdaRuntime, faults: Faults) -> None:
        self.lambda_runtime = lambda_runtime
        self.faults = faults

    @classmethod
    def context(cls) -> tuple[LambdaRuntime, Faults] | None:
        owner = cls.current()
        return None if owner is None else (owner.lambda_runtime, owner.faults)

    def reconcile(self) -> None:
        seen: set[int] = set()
        for account, regions in list(firehose_backends.items()):
            for region, backend in list(regions.items()):
                for stream in list(backend.delivery_streams.values()):
                    if stream.delivery_stream_type != "KinesisStreamAsSource":
                        continue
                    seen.add(id(stream))
                    self._keep(
                        id(stream), functools.partial(DeliveryStreamRunner, stream, account, region, self.context)
                    )
        # A deleted stream's runner ends: what it buffered is dropped, as AWS drops a deleted stream's buffer.
        self._forget_all_but(seen)
