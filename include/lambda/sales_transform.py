"""Firehose data-transformation Lambda for the sales stream.

Every Kinesis record Firehose hands us holds ONE DynamoDB stream change, written by
the EventBridge Pipe as JSON (AWS_SHAPES.md 1b). We turn it into ONE JSON line for
the data lake, with the fixed order fields first (DESIGN.md, "Transformed record"):

    orderid, product_name, quantity, price, event_name, is_deleted, event_id,
    sequence_number, event_time, then every other image attribute, unmarshalled.

Standard library only: this file is zipped and deployed as is (Python 3.12 runtime).

Numbers never pass through float: a DynamoDB N is written as the JSON number literal
of its own text, so `"0.10"` stays `0.10` and a 38-digit integer stays exact.
Strings are written as UTF-8 (non-ASCII text is not \\u-escaped).

A record we cannot read is returned ProcessingFailed (Firehose then writes the
original bytes under the error prefix) and logged; it never fails the batch.
`Dropped` is not used today: every change to the table is data we keep.

The line is built as text (no intermediate dict, no json.dumps per record), and the
small pure helpers are memoised: a batch repeats the same attribute names, prices,
quantities and seconds over and over. That keeps the handler near the cost of the
base64 and JSON parsing it cannot avoid (see bench/lambda_transform.py).
"""

from __future__ import annotations

import binascii
import json
import re
import time
from decimal import Decimal
from functools import lru_cache

# The C string encoders behind json.dumps: calling them directly skips json.dumps'
# per-call set-up, which dominates for the short strings of an order record.
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

# Lambda's synchronous response limit. A module constant so tests (and the bench,
# which runs batches far bigger than Firehose ever sends) can change it.
RESPONSE_LIMIT_BYTES = 6_291_456
OVER_LIMIT_REASON = "response would exceed the 6 MB Lambda payload limit"

# The nine fixed fields. The first four come from the image; an image attribute
# with one of the other five names would overwrite (or duplicate) a field we set.
ORDER_FIELDS = ("orderid", "product_name", "quantity", "price")
_ORDER_FIELDS = frozenset(ORDER_FIELDS)
RESERVED_FIELDS = ("event_name", "is_deleted", "event_id", "sequence_number", "event_time")
# Glue and Athena fold column names to lower case, so `Event_Name` (or `Price`)
# would collide with our field in the catalog even though DynamoDB tells them apart.
_COLLIDING_NAMES = frozenset(ORDER_FIELDS + RESERVED_FIELDS)

# ApproximateCreationDateTime is epoch seconds from DynamoDB Streams, but epoch
# milliseconds from other producers (Kinesis Data Streams for DynamoDB). 1e11 s is
# the year 5138 while 1e11 ms is March 1973, before DynamoDB existed: no real value
# of either kind falls on the wrong side, so the magnitude tells them apart.
_MS_THRESHOLD = 100_000_000_000
_MAX_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z: ISO-8601 needs 4-digit years

# The largest DynamoDB number is 9.99...E+125; anything bigger is not from DynamoDB
# (and turning it into an integer could cost unbounded memory).
_MAX_ADJUSTED_EXPONENT = 125

# JSON's number grammar (RFC 8259), ASCII digits only.
_json_number = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?").fullmatch
_json_integer = re.compile(r"0|-?[1-9][0-9]*").fullmatch
# What DynamoDB (and Decimal) also accept: `+5`, `.5`, `5.`, `007`. Decimal itself
# would accept more (`1_000`, non-ASCII digits, `NaN`), which we refuse.
_loose_number = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?").fullmatch

# Floats only appear in a stream record as ApproximateCreationDateTime; Decimal keeps
# its fractional milliseconds exact. NaN/Infinity still parse (as float): refused.
_decoder = json.JSONDecoder(parse_float=Decimal)

# Sizes of the response entries as the Lambda Python runtime serialises them
# (json.dumps with default separators; it escapes less when ensure_ascii is off,
# so this is an upper bound either way), for the payload budget. The empty
# strings stand for the recordId and data, whose lengths are added per record.
_OK_SIZE = len(json.dumps({"recordId": "", "result": "Ok", "data": ""}))
_FAILED_DATA_SIZE = len(json.dumps({"recordId": "", "result": "ProcessingFailed", "data": ""}))
_FAILED_SIZE = len(json.dumps({"recordId": "", "result": "ProcessingFailed"}))
_ENVELOPE_SIZE = len(json.dumps({"records": []}))
_SEPARATOR_SIZE = len(", ")

_NULL = {"NULL": True}
_b2a_base64 = binascii.b2a_base64


class RecordError(ValueError):
    """One record cannot be transformed; the message is the logged reason."""


def handler(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Transform one Firehose batch; every input recordId comes back once, in order."""
    records, record_ids_size = _batch_records(event)

    # Payload budget. Once the response would outgrow Lambda's limit, that record
    # and all after it are returned ProcessingFailed WITHOUT data: Firehose writes
    # their original bytes to the error prefix itself, so nothing is lost, whereas a
    # too-big response would fail the whole invocation. Room for those short
    # data-less entries is reserved up front so the tail always fits (they are
    # smaller than the request entries they answer, and the request is <= 6 MB).
    # `room` is what is left for the data of the entries.
    room = RESPONSE_LIMIT_BYTES - _ENVELOPE_SIZE - _SEPARATOR_SIZE * max(len(records) - 1, 0)
    room -= (_FAILED_SIZE - 2) * len(records) + record_ids_size
    over_limit = False

    output: list[dict[str, str]] = []
    failed = 0
    for record in records:
        record_id = record["recordId"]
        if over_limit:
            output.append({"recordId": record_id, "result": "ProcessingFailed"})
            failed += 1
            _log_failure(record_id, OVER_LIMIT_REASON)
            continue

        data = record.get("data")
        entry: dict[str, str]
        try:
            encoded = _b2a_base64(_transform(data).encode(), newline=False).decode()
        except Exception as exc:  # never let one odd record fail the whole batch
            reason = _reason(exc)
            if type(data) is str:
                # Echo the original data, as AWS's blueprints do.
                entry = {"recordId": record_id, "result": "ProcessingFailed", "data": data}
                extra = _FAILED_DATA_SIZE - _FAILED_SIZE - 2 + len(encode_basestring_ascii(data))
            else:
                entry = {"recordId": record_id, "result": "ProcessingFailed"}
                extra = 0
        else:
            reason = ""
            entry = {"recordId": record_id, "result": "Ok", "data": encoded}
            extra = _OK_SIZE - _FAILED_SIZE + len(encoded)

        if extra > room:
            over_limit = True
            entry = {"recordId": record_id, "result": "ProcessingFailed"}
            reason = OVER_LIMIT_REASON
        else:
            room -= extra
        output.append(entry)
        if reason:
            failed += 1
            _log_failure(record_id, reason)

    # "Dropped" is always 0: this transform never drops, every change is data.
    _log(
        f'{{"level":"INFO","message":"batch transformed","invocationId":{_json_text(event.get("invocationId"))},'
        f'"records":{len(records)},"Ok":{len(records) - failed},"Dropped":0,"ProcessingFailed":{failed}}}'
    )
    return {"records": output}


def _batch_records(event: Any) -> tuple[list[dict[str, Any]], int]:
    """The event's records and the JSON size of their recordIds (for the budget).

    A malformed batch is not data: it raises ValueError, so the invocation fails loudly.
    """
    if not isinstance(event, dict):
        raise ValueError(f"event must be a JSON object, got {type(event).__name__}")
    if "records" not in event:
        raise ValueError("event has no 'records' key")
    records = event["records"]
    if not isinstance(records, list):
        raise ValueError(f"event['records'] must be a list, got {type(records).__name__}")
    record_ids_size = 0
    for index, record in enumerate(records):
        if type(record) is not dict or "recordId" not in record:
            raise ValueError(f"records[{index}] has no 'recordId'")
        record_id = record["recordId"]
        if type(record_id) is not str:
            raise ValueError(f"records[{index}].recordId must be a string")
        record_ids_size += len(encode_basestring_ascii(record_id))
    return records, record_ids_size


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecordError):
        return str(exc)
    if isinstance(exc, UnicodeEncodeError):  # from encoding the finished line
        return "data holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"
    if isinstance(exc, RecursionError):  # attributes nested past the stack's depth
        return "data is nested too deeply"
    return f"unexpected {type(exc).__name__}: {exc}"[:500]


def _log_failure(record_id: str, reason: str) -> None:
    record_id, reason = _json_text(record_id), _json_text(reason)
    _log(f'{{"level":"ERROR","message":"record failed","recordId":{record_id},"reason":{reason}}}')


def _log(line: str) -> None:
    # One JSON object per line on stdout: CloudWatch Logs Insights reads the fields.
    # The lines are formatted as text because json.dumps sets up an encoder on
    # every call, a fixed cost that showed in one-record batches.
    print(line)


def _json_text(value: object) -> str:
    """A log field as JSON text (ASCII, like json.dumps)."""
    return encode_basestring_ascii(value) if type(value) is str else json.dumps(value)


def _transform(data: object) -> str:
    """One Firehose record's data (base64 of a stream change) -> one JSON line."""
    if type(data) is not str:
        raise RecordError("data is missing or not a string")
    try:
        raw = binascii.a2b_base64(data, strict_mode=True)
    except ValueError:
        raise RecordError("data is not valid base64") from None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise RecordError("data is not UTF-8 text") from None
    change = _parse_json(text)
    if type(change) is not dict:
        raise RecordError("data is not a JSON object")

    event_name = change.get("eventName")
    if event_name == "INSERT" or event_name == "MODIFY":
        image_key, is_deleted = "NewImage", "false"
    elif event_name == "REMOVE":
        image_key, is_deleted = "OldImage", "true"
    else:
        raise RecordError("not a DynamoDB stream record: eventName is not INSERT, MODIFY or REMOVE")
    stream = change.get("dynamodb")
    if type(stream) is not dict:
        raise RecordError("not a DynamoDB stream record: no 'dynamodb' object")
    image = stream.get(image_key)
    if type(image) is not dict:
        raise RecordError(f"{event_name} record has no dynamodb.{image_key}")
    event_id = change.get("eventID")
    if type(event_id) is not str:
        raise RecordError("not a DynamoDB stream record: eventID is missing or not a string")
    sequence = stream.get("SequenceNumber")
    if not (type(sequence) is str and 0 < len(sequence) <= 40 and sequence.isascii() and sequence.isdigit()):
        raise RecordError("dynamodb.SequenceNumber is not a string of 1 to 40 digits")
    created = stream.get("ApproximateCreationDateTime")
    # `type() is int` keeps bools out; a float can only be NaN or Infinity here.
    if type(created) is not int and not (type(created) is Decimal and created.is_finite()):
        raise RecordError("dynamodb.ApproximateCreationDateTime is missing or not an epoch number")
    event_time = _event_time(created)

    keys = stream.get("Keys")
    key = keys.get("orderid") if type(keys) is dict else None
    if key is None:
        key = image.get("orderid")
    if key is None:
        raise RecordError("missing orderid (neither in dynamodb.Keys nor in the image)")
    orderid = key.get("S") if type(key) is dict and len(key) == 1 else None
    if type(orderid) is not str or not orderid:
        raise RecordError("orderid must be a non-empty DynamoDB S (string)")

    # The typed order fields keep the Glue schema stable: a wrong type fails the
    # record rather than turning a column into a string for everyone downstream.
    # An explicit DynamoDB NULL means the same as an absent attribute: null.
    value = image.get("product_name")
    if type(value) is dict and len(value) == 1 and type(inner := value.get("S")) is str:
        product_name = encode_basestring(inner)
    elif value is None or value == _NULL:
        product_name = "null"
    else:
        raise RecordError(f"product_name must be a DynamoDB S (string), got {_type_of(value)}")

    value = image.get("quantity")
    if type(value) is dict and len(value) == 1 and type(inner := value.get("N")) is str:
        quantity = _integer_json(inner)
    elif value is None or value == _NULL:
        quantity = "null"
    else:
        raise RecordError(f"quantity must be a DynamoDB N (number), got {_type_of(value)}")

    value = image.get("price")
    if type(value) is dict and len(value) == 1 and type(inner := value.get("N")) is str:
        try:
            price = _number_json(inner)
        except RecordError as exc:
            raise RecordError(f"price: {exc}") from None
    elif value is None or value == _NULL:
        price = "null"
    else:
        raise RecordError(f"price must be a DynamoDB N (number), got {_type_of(value)}")

    parts = [
        f'{{"orderid":{encode_basestring(orderid)},"product_name":{product_name},'
        f'"quantity":{quantity},"price":{price},"event_name":"{event_name}",'
        f'"is_deleted":{is_deleted},"event_id":{encode_basestring(event_id)},'
        f'"sequence_number":"{sequence.zfill(40)}","event_time":"{event_time}"'
    ]
    for name, value in image.items():
        if name in _ORDER_FIELDS:
            continue  # written above
        key_text = _attribute_key(name)
        # Fast path: most extra attributes are plain strings.
        if type(value) is dict and len(value) == 1 and type(inner := value.get("S")) is str:
            parts.append(key_text + encode_basestring(inner))
            continue
        try:
            parts.append(key_text + _attribute_json(value))
        except RecordError as exc:
            raise RecordError(f"attribute {name!r}: {exc}") from None
    parts.append("}\n")
    return "".join(parts)


def _parse_json(text: str) -> Any:
    # raw_decode skips decode()'s two whitespace scans; the full decode() only runs
    # for text that raw_decode does not consume exactly (whitespace or errors).
    try:
        value, end = _decoder.raw_decode(text)
        if end == len(text):
            return value
    except ValueError:
        pass  # leading whitespace, or not JSON: decode() tells which
    except RecursionError:
        raise RecordError("data is nested too deeply") from None
    try:
        return _decoder.decode(text)
    except ValueError:
        raise RecordError("data is not JSON") from None


def _type_of(value: object) -> str:
    """A short description of a wrong attribute value, for the failure reason."""
    if type(value) is dict and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in ("S", "N") and type(inner) is not str:
            return f"a malformed {tag}"
        return str(tag)
    return "a malformed AttributeValue"


@lru_cache(maxsize=1024)
def _attribute_key(name: str) -> str:
    """`,"name":` for an extra attribute, after checking it collides with no field."""
    if name.lower() in _COLLIDING_NAMES:
        raise RecordError(f"image attribute {name!r} collides with the output field {name.lower()!r}")
    return f",{encode_basestring(name)}:"


@lru_cache(maxsize=4096)
def _event_time(created: int | Decimal) -> str:
    """ApproximateCreationDateTime (epoch s or ms) -> `2026-11-26T08:39:30.123Z`."""
    if not 0 <= created < _MAX_MS:
        raise RecordError("dynamodb.ApproximateCreationDateTime is out of range")
    # int() truncates: sub-millisecond digits are dropped, never rounded up.
    millis = int(created) if created >= _MS_THRESHOLD else int(created * 1000)
    seconds, millis = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


@lru_cache(maxsize=4096)
def _number_json(text: str) -> str:
    """DynamoDB N text -> JSON number text with exactly the same value."""
    if _json_number(text):
        return text
    if _loose_number(text):
        # `+5`, `.5`, `007`: valid DynamoDB numbers but not JSON. Decimal's str()
        # keeps every digit and is always valid JSON number text.
        return str(Decimal(text))
    raise RecordError(f"N value {text[:40]!r} is not a finite decimal number")


@lru_cache(maxsize=1024)
def _integer_json(text: str) -> str:
    """quantity's N text -> JSON integer text, or RecordError if it is not integral.

    Integral values in other notations (`1E+2`, `3.0`, `+7`) are written as plain
    integers (`100`, `3`, `7`), so Glue always sees an integer column.
    """
    if _json_integer(text):
        return text
    try:
        number = Decimal(_number_json(text))
    except RecordError as exc:
        raise RecordError(f"quantity: {exc}") from None
    if number.is_zero():
        return "0"
    if number.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise RecordError("quantity is outside DynamoDB's number range")
    if number != number.to_integral_value():
        raise RecordError(f"quantity must be an integer, got {text[:40]!r}")
    return str(int(number))


def _attribute_json(value: object) -> str:
    """A DynamoDB AttributeValue (JSON form) -> JSON text, unmarshalled.

    Sets become arrays in the order given; B and BS stay as their base64 text.
    """
    if type(value) is not dict or len(value) != 1:
        raise RecordError("not a DynamoDB AttributeValue (an object with one type key)")
    ((tag, inner),) = value.items()
    if tag == "S" or tag == "B":
        if type(inner) is str:
            return encode_basestring(inner)
    elif tag == "N":
        if type(inner) is str:
            return _number_json(inner)
    elif tag == "BOOL":
        if inner is True:
            return "true"
        if inner is False:
            return "false"
    elif tag == "NULL":
        if inner is True:
            return "null"
    elif tag == "M":
        if type(inner) is dict:
            return "{" + ",".join([f"{encode_basestring(k)}:{_attribute_json(v)}" for k, v in inner.items()]) + "}"
    elif tag == "L":
        if type(inner) is list:
            return "[" + ",".join([_attribute_json(v) for v in inner]) + "]"
    elif tag == "SS" or tag == "BS":
        if type(inner) is list and all(type(v) is str for v in inner):
            return "[" + ",".join([encode_basestring(v) for v in inner]) + "]"
    elif tag == "NS":
        if type(inner) is list and all(type(v) is str for v in inner):
            return "[" + ",".join([_number_json(v) for v in inner]) + "]"
    else:
        raise RecordError(f"unknown DynamoDB type {tag!r}")
    raise RecordError(f"malformed {tag} value")
