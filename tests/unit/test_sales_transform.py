"""The Firehose transformation Lambda (include/lambda/sales_transform.py), on real record shapes.

Inputs are built like AWS_SHAPES.md 1b (a DynamoDB stream change as an EventBridge Pipe
writes it) inside a Firehose event like 2a; outputs are checked byte for byte.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT, Binary, TypeDeserializer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

HANDLER_PATH = Path(__file__).resolve().parents[2] / "include" / "lambda" / "sales_transform.py"

REGION = "us-east-1"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/sales-orders-local/stream/2026-11-26T08:00:00.000"
EVENT_ID = "7de3041dd709b024af6f29e4fa13d34c"
SEQUENCE = "111122223333444455556"  # 21 digits, as DynamoDB Streams hands them out
CREATED = 1795682370  # 2026-11-26T08:39:30Z, epoch seconds as DynamoDB Streams sends it
INVOCATION_ID = "2b4d1ad9-2f48-94bd-a088-767c317e994a"
LIMIT = 6_291_456


@pytest.fixture(scope="module")
def transform() -> ModuleType:
    # `lambda` is a keyword, so the file cannot be imported as a package: load it by path.
    spec = importlib.util.spec_from_file_location("sales_transform_under_test", HANDLER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- builders


def order_image(orderid: str = "ord-1001", **extra: Any) -> dict[str, Any]:
    image: dict[str, Any] = {
        "orderid": {"S": orderid},
        "product_name": {"S": "Espresso machine"},
        "quantity": {"N": "2"},
        "price": {"N": "249.00"},
    }
    image.update(extra)
    return image


def stream_record(
    event_name: str = "INSERT",
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    orderid: str | None = "ord-1001",
    sequence: Any = SEQUENCE,
    created: Any = CREATED,
) -> dict[str, Any]:
    """One DynamoDB stream change as an EventBridge Pipe delivers it (AWS_SHAPES.md 1b)."""
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": created}
    if orderid is not None:
        dynamodb["Keys"] = {"orderid": {"S": orderid}}
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    dynamodb["SequenceNumber"] = sequence
    dynamodb["SizeBytes"] = 123
    dynamodb["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": EVENT_ID,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


def record_id(index: int) -> str:
    return f"49546986683135544286507457936321625675700192471156785{index:03d}"


def b64(payload: Any) -> str:
    """base64 data as Firehose sends it: dicts are JSON-encoded, str is UTF-8, bytes as is."""
    if isinstance(payload, bytes):
        raw = payload
    elif isinstance(payload, str):
        raw = payload.encode()
    else:
        raw = json.dumps(payload).encode()
    return base64.b64encode(raw).decode()


def firehose_event(*payloads: Any) -> dict[str, Any]:
    """A Firehose transformation event (AWS_SHAPES.md 2a) with one record per payload."""
    records = []
    for index, payload in enumerate(payloads):
        records.append(
            {
                "recordId": record_id(index),
                "approximateArrivalTimestamp": 1795682371123,
                "data": b64(payload),
                "kinesisRecordMetadata": {
                    "shardId": "shardId-000000000000",
                    "partitionKey": "ord-1001",
                    "approximateArrivalTimestamp": 1795682371123,
                    "sequenceNumber": f"4954698668313554428650745793632162567570019247115678{index:04d}",
                    "subsequenceNumber": "",
                },
            }
        )
    return {
        "invocationId": INVOCATION_ID,
        "deliveryStreamArn": f"arn:aws:firehose:{REGION}:123456789012:deliverystream/sales-local",
        "sourceKinesisStreamArn": f"arn:aws:kinesis:{REGION}:123456789012:stream/sales-local",
        "region": REGION,
        "records": records,
    }


def run(transform: ModuleType, event: dict[str, Any]) -> list[dict[str, str]]:
    """Call the handler; check the response shape and that recordIds match one to one, in order."""
    response = transform.handler(event, None)
    assert list(response) == ["records"]
    out = response["records"]
    assert [r["recordId"] for r in out] == [r["recordId"] for r in event["records"]]
    for entry in out:
        assert entry["result"] in ("Ok", "ProcessingFailed")
        assert set(entry) <= {"recordId", "result", "data"}
        if entry["result"] == "Ok":
            assert set(entry) == {"recordId", "result", "data"}
    return out


def line(entry: dict[str, str]) -> bytes:
    assert entry["result"] == "Ok", entry
    return base64.b64decode(entry["data"], validate=True)


def one_line(transform: ModuleType, change: Any) -> bytes:
    [entry] = run(transform, firehose_event(change))
    return line(entry)


def one_failure(transform: ModuleType, payload: Any) -> tuple[dict[str, str], str]:
    """Run a single bad record; return its entry and the reason the handler logged."""
    event = firehose_event(payload)
    with contextlib.redirect_stdout(io.StringIO()) as logs:
        [entry] = run(transform, event)
    assert entry == {"recordId": record_id(0), "result": "ProcessingFailed", "data": event["records"][0]["data"]}
    error, summary = (json.loads(x) for x in logs.getvalue().splitlines())
    assert error["recordId"] == record_id(0) and summary["ProcessingFailed"] == 1
    return entry, error["reason"]


# --------------------------------------------------------------------------- the three events


def test_insert_becomes_one_exact_line(transform):
    change = stream_record("INSERT", new=order_image(customer_id={"S": "cust-042"}))
    assert one_line(transform, change) == (
        b'{"orderid":"ord-1001","product_name":"Espresso machine","quantity":2,"price":249.00,'
        b'"event_name":"INSERT","is_deleted":false,"event_id":"7de3041dd709b024af6f29e4fa13d34c",'
        b'"sequence_number":"0000000000000000000111122223333444455556",'
        b'"event_time":"2026-11-26T08:39:30.000Z","customer_id":"cust-042"}\n'
    )


def test_modify_takes_the_new_image(transform):
    old = order_image(quantity={"N": "2"}, status={"S": "new"})
    new = order_image(quantity={"N": "3"}, status={"S": "paid"})
    change = stream_record("MODIFY", new=new, old=old)
    assert one_line(transform, change) == (
        b'{"orderid":"ord-1001","product_name":"Espresso machine","quantity":3,"price":249.00,'
        b'"event_name":"MODIFY","is_deleted":false,"event_id":"7de3041dd709b024af6f29e4fa13d34c",'
        b'"sequence_number":"0000000000000000000111122223333444455556",'
        b'"event_time":"2026-11-26T08:39:30.000Z","status":"paid"}\n'
    )


def test_remove_takes_the_old_image_and_is_deleted(transform):
    change = stream_record("REMOVE", old=order_image(status={"S": "cancelled"}))
    assert one_line(transform, change) == (
        b'{"orderid":"ord-1001","product_name":"Espresso machine","quantity":2,"price":249.00,'
        b'"event_name":"REMOVE","is_deleted":true,"event_id":"7de3041dd709b024af6f29e4fa13d34c",'
        b'"sequence_number":"0000000000000000000111122223333444455556",'
        b'"event_time":"2026-11-26T08:39:30.000Z","status":"cancelled"}\n'
    )


def test_extra_attributes_keep_image_order_and_order_fields_come_first(transform):
    image = {
        "zeta": {"S": "z"},
        "price": {"N": "1.5"},
        "alpha": {"N": "1"},
        "orderid": {"S": "ord-7"},
        "quantity": {"N": "1"},
    }
    data = one_line(transform, stream_record(new=image, orderid="ord-7"))
    assert list(json.loads(data)) == [
        "orderid",
        "product_name",
        "quantity",
        "price",
        "event_name",
        "is_deleted",
        "event_id",
        "sequence_number",
        "event_time",
        "zeta",
        "alpha",
    ]


def test_every_dynamodb_type_is_unmarshalled(transform):
    image = order_image(
        s={"S": "text"},
        n={"N": "12.5"},
        b={"B": "AAEC/w=="},
        t={"BOOL": True},
        f={"BOOL": False},
        nothing={"NULL": True},
        m={"M": {"k": {"S": "v"}, "inner": {"M": {"deep": {"N": "-1"}}}}},
        l={"L": [{"S": "a"}, {"N": "2"}, {"BOOL": False}, {"NULL": True}, {"L": []}, {"M": {}}]},
        ss={"SS": ["b", "a", "c"]},
        ns={"NS": ["3", "1.50", "-2"]},
        bs={"BS": ["AQ==", "Ag=="]},
    )
    data = one_line(transform, stream_record(new=image))
    assert data.endswith(
        b'"event_time":"2026-11-26T08:39:30.000Z",'
        b'"s":"text","n":12.5,"b":"AAEC/w==","t":true,"f":false,"nothing":null,'
        b'"m":{"k":"v","inner":{"deep":-1}},'
        b'"l":["a",2,false,null,[],{}],'
        b'"ss":["b","a","c"],"ns":[3,1.50,-2],"bs":["AQ==","Ag=="]}\n'
    )


def test_missing_or_null_order_fields_are_null(transform):
    image = {"orderid": {"S": "ord-1"}, "product_name": {"NULL": True}, "price": {"NULL": True}}
    data = one_line(transform, stream_record(new=image, orderid="ord-1"))
    assert data.startswith(b'{"orderid":"ord-1","product_name":null,"quantity":null,"price":null,"event_name"')


def test_orderid_falls_back_to_the_image(transform):
    data = one_line(transform, stream_record(new=order_image("ord-from-image"), orderid=None))
    assert data.startswith(b'{"orderid":"ord-from-image",')


def test_keys_win_over_the_image_and_the_image_orderid_is_not_repeated(transform):
    data = one_line(transform, stream_record(new=order_image("ord-image"), orderid="ord-key"))
    assert data.startswith(b'{"orderid":"ord-key",')
    assert data.count(b'"orderid"') == 1


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("n_text", "expected"),
    [
        ("0.10", b"0.10"),
        ("-3", b"-3"),
        ("1E+2", b"1E+2"),
        ("12345678901234567890123456789012345678", b"12345678901234567890123456789012345678"),
        ("-0.00000000000000000000000000000000000001", b"-0.00000000000000000000000000000000000001"),
        ("9.9999999999999999999999999999999999999E+125", b"9.9999999999999999999999999999999999999E+125"),
        ("1e-130", b"1e-130"),
        # DynamoDB accepts these; JSON does not: rewritten through Decimal, value unchanged.
        (".5", b"0.5"),
        ("+5", b"5"),
        ("007", b"7"),
        ("5.", b"5"),
        ("-.25", b"-0.25"),
        ("+1.50E+3", b"1.50E+3"),
        ("00.000", b"0.000"),
    ],
)
def test_numbers_are_written_exactly(transform, n_text, expected):
    image = order_image(price={"N": n_text}, extra={"N": n_text}, many={"NS": [n_text]})
    data = one_line(transform, stream_record(new=image))
    assert b'"price":' + expected + b',"event_name"' in data
    assert data.endswith(b'"extra":' + expected + b',"many":[' + expected + b"]}\n")
    # And the value survives exactly (no float anywhere).
    parsed = json.loads(data, parse_float=Decimal, parse_int=Decimal)
    assert parsed["price"] == Decimal(n_text)
    assert parsed["price"].as_tuple() == Decimal(n_text).as_tuple()


@pytest.mark.parametrize(
    ("n_text", "expected"),
    [
        ("3", b"3"),
        ("0", b"0"),
        ("-4", b"-4"),
        ("12345678901234567890123456789012345678", b"12345678901234567890123456789012345678"),
        # Integral values in other notations are written as plain integers.
        ("1E+2", b"100"),
        ("3.0", b"3"),
        ("+7", b"7"),
        ("-0", b"0"),
        ("0.00", b"0"),
        ("25E-1", None),  # 2.5: not an integer
    ],
)
def test_quantity_is_a_plain_integer(transform, n_text, expected):
    change = stream_record(new=order_image(quantity={"N": n_text}))
    if expected is None:
        _, reason = one_failure(transform, change)
        assert reason == f"quantity must be an integer, got {n_text!r}"
    else:
        assert b'"quantity":' + expected + b',"price"' in one_line(transform, change)


@pytest.mark.parametrize(
    "n_text", ["NaN", "Infinity", "-Infinity", "1_000", "abc", "", " 1", "0x10", "١٢", "1e", "--1"]
)
def test_bad_numbers_fail_the_record(transform, n_text):
    _, reason = one_failure(transform, stream_record(new=order_image(weight={"N": n_text})))
    assert reason == f"attribute 'weight': N value {n_text!r} is not a finite decimal number"
    _, reason = one_failure(transform, stream_record(new=order_image(price={"N": n_text})))
    assert reason == f"price: N value {n_text!r} is not a finite decimal number"


# --------------------------------------------------------------------------- strings


def test_unicode_quotes_and_backslashes_in_product_names(transform):
    name = 'Café "crème" \\ 50% \u2013 寿司 🍣\n\t\x01'
    image = order_image(product_name={"S": name}, note={"S": "ü"})
    image["clé"] = {"S": "x"}
    data = one_line(transform, stream_record(new=image))
    # Non-ASCII is written as UTF-8, never \u-escaped; JSON's mandatory escapes are applied.
    expected_name = '"Café \\"crème\\" \\\\ 50% \u2013 寿司 🍣\\n\\t\\u0001"'.encode()
    assert b'"product_name":' + expected_name + b',"quantity"' in data
    assert data.endswith('"note":"ü","clé":"x"}\n'.encode())
    assert b"\\u00" not in data.replace(b"\\u0001", b"")
    assert json.loads(data)["product_name"] == name


# --------------------------------------------------------------------------- event time


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (CREATED, "2026-11-26T08:39:30.000Z"),  # epoch seconds (DynamoDB Streams)
        (1795682370123, "2026-11-26T08:39:30.123Z"),  # epoch milliseconds
        (Decimal("1795682370.1239"), "2026-11-26T08:39:30.123Z"),  # fractional seconds, truncated
        (Decimal("1795682370123.9"), "2026-11-26T08:39:30.123Z"),  # fractional milliseconds
        (99_999_999_999, "5138-11-16T09:46:39.000Z"),  # the largest value read as seconds
        (100_000_000_000, "1973-03-03T09:46:40.000Z"),  # the smallest value read as milliseconds
        (0, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_event_time_from_seconds_or_milliseconds(transform, created, expected):
    raw = json.dumps(stream_record(new=order_image())).replace(
        f'"ApproximateCreationDateTime": {CREATED}', f'"ApproximateCreationDateTime": {created}'
    )
    data = one_line(transform, raw)
    assert f'"event_time":"{expected}"'.encode() in data


@pytest.mark.parametrize(
    ("created", "reason"),
    [
        (None, "dynamodb.ApproximateCreationDateTime is missing or not an epoch number"),
        ('"2026-11-26T08:39:30Z"', "dynamodb.ApproximateCreationDateTime is missing or not an epoch number"),
        ("true", "dynamodb.ApproximateCreationDateTime is missing or not an epoch number"),
        ("NaN", "dynamodb.ApproximateCreationDateTime is missing or not an epoch number"),
        ("Infinity", "dynamodb.ApproximateCreationDateTime is missing or not an epoch number"),
        ("-1", "dynamodb.ApproximateCreationDateTime is out of range"),
        # microseconds (Kinesis Data Streams for DynamoDB, MICROSECOND precision) land past 9999
        ("1795682370123456", "dynamodb.ApproximateCreationDateTime is out of range"),
    ],
)
def test_bad_event_time_fails_the_record(transform, created, reason):
    raw = json.dumps(stream_record(new=order_image()))
    if created is None:
        raw = raw.replace(f'"ApproximateCreationDateTime": {CREATED}, ', "")
    else:
        raw = raw.replace(f'"ApproximateCreationDateTime": {CREATED}', f'"ApproximateCreationDateTime": {created}')
    assert raw != json.dumps(stream_record(new=order_image()))
    assert one_failure(transform, raw)[1] == reason


@pytest.mark.parametrize("sequence", ["1", "9" * 40])
def test_sequence_number_is_zero_padded_to_40_digits(transform, sequence):
    data = one_line(transform, stream_record(new=order_image(), sequence=sequence))
    assert f'"sequence_number":"{sequence.zfill(40)}"'.encode() in data


def test_padded_sequence_numbers_sort_as_text_like_numbers(transform):
    sequences = ["999", "1000", "111122223333444455556", "99999999999999999999", "5"]
    padded = []
    for sequence in sequences:
        padded.append(
            json.loads(one_line(transform, stream_record(new=order_image(), sequence=sequence)))["sequence_number"]
        )
    assert sorted(padded) == [s.zfill(40) for s in sorted(sequences, key=int)]


# --------------------------------------------------------------------------- bad input, one record at a time


BAD_PAYLOADS = [
    pytest.param(b"\xff\xfe{}", "data is not UTF-8 text", id="not-utf8"),
    pytest.param("{not json", "data is not JSON", id="not-json"),
    pytest.param('{"a": 1} trailing', "data is not JSON", id="json-with-trailing-garbage"),
    pytest.param("", "data is not JSON", id="empty"),
    pytest.param([stream_record(new=order_image())], "data is not a JSON object", id="pipe-array-not-one-record"),
    pytest.param("42", "data is not a JSON object", id="json-number"),
    pytest.param(
        {"hello": "world"},
        "not a DynamoDB stream record: eventName is not INSERT, MODIFY or REMOVE",
        id="json-not-a-stream-record",
    ),
    pytest.param(
        stream_record("UPDATE", new=order_image()),
        "not a DynamoDB stream record: eventName is not INSERT, MODIFY or REMOVE",
        id="bad-event-name",
    ),
    pytest.param(
        {k: v for k, v in stream_record(new=order_image()).items() if k != "dynamodb"},
        "not a DynamoDB stream record: no 'dynamodb' object",
        id="no-dynamodb",
    ),
    pytest.param(
        {k: v for k, v in stream_record(new=order_image()).items() if k != "eventID"},
        "not a DynamoDB stream record: eventID is missing or not a string",
        id="no-event-id",
    ),
    pytest.param(
        stream_record("INSERT", old=order_image()), "INSERT record has no dynamodb.NewImage", id="keys-only-insert"
    ),
    pytest.param(stream_record("MODIFY"), "MODIFY record has no dynamodb.NewImage", id="keys-only-modify"),
    pytest.param(
        stream_record("REMOVE", new=order_image()), "REMOVE record has no dynamodb.OldImage", id="remove-no-old"
    ),
    pytest.param(
        stream_record(new=order_image(), sequence="12a"),
        "dynamodb.SequenceNumber is not a string of 1 to 40 digits",
        id="sequence-not-digits",
    ),
    pytest.param(
        stream_record(new=order_image(), sequence="1" * 41),
        "dynamodb.SequenceNumber is not a string of 1 to 40 digits",
        id="sequence-too-long",
    ),
    pytest.param(
        stream_record(new=order_image(), sequence=111),
        "dynamodb.SequenceNumber is not a string of 1 to 40 digits",
        id="sequence-not-string",
    ),
    pytest.param(
        stream_record(new=order_image(), sequence="١٢٣"),
        "dynamodb.SequenceNumber is not a string of 1 to 40 digits",
        id="sequence-non-ascii-digits",
    ),
    pytest.param(
        stream_record(new={"product_name": {"S": "x"}}, orderid=None),
        "missing orderid (neither in dynamodb.Keys nor in the image)",
        id="missing-orderid",
    ),
    pytest.param(
        stream_record(new={"orderid": {"N": "5"}}, orderid=None),
        "orderid must be a non-empty DynamoDB S (string)",
        id="orderid-not-string",
    ),
    pytest.param(
        stream_record(new=order_image(""), orderid=""),
        "orderid must be a non-empty DynamoDB S (string)",
        id="orderid-empty",
    ),
    pytest.param(
        stream_record(new=order_image(quantity={"S": "3"})),
        "quantity must be a DynamoDB N (number), got S",
        id="quantity-string",
    ),
    pytest.param(
        stream_record(new=order_image(quantity={"N": "2.5"})),
        "quantity must be an integer, got '2.5'",
        id="quantity-fraction",
    ),
    pytest.param(
        stream_record(new=order_image(quantity={"N": "1E+200"})),
        "quantity is outside DynamoDB's number range",
        id="quantity-huge",
    ),
    pytest.param(
        stream_record(new=order_image(quantity={"N": 3})),
        "quantity must be a DynamoDB N (number), got a malformed N",
        id="quantity-n-not-text",
    ),
    pytest.param(
        stream_record(new=order_image(price={"S": "9.99"})),
        "price must be a DynamoDB N (number), got S",
        id="price-string",
    ),
    pytest.param(
        stream_record(new=order_image(product_name={"N": "1"})),
        "product_name must be a DynamoDB S (string), got N",
        id="product-name-number",
    ),
    pytest.param(
        stream_record(new=order_image(product_name={"SS": ["a"]})),
        "product_name must be a DynamoDB S (string), got SS",
        id="product-name-set",
    ),
    pytest.param(
        stream_record(new=order_image(product_name="plain")),
        "product_name must be a DynamoDB S (string), got a malformed AttributeValue",
        id="product-name-not-attribute-value",
    ),
    pytest.param(
        stream_record(new=order_image(event_time={"S": "now"})),
        "image attribute 'event_time' collides with the output field 'event_time'",
        id="collides-event-time",
    ),
    pytest.param(
        stream_record(new=order_image(is_deleted={"BOOL": True})),
        "image attribute 'is_deleted' collides with the output field 'is_deleted'",
        id="collides-is-deleted",
    ),
    pytest.param(
        stream_record(new=order_image(Sequence_Number={"S": "1"})),
        "image attribute 'Sequence_Number' collides with the output field 'sequence_number'",
        id="collides-case-insensitively",
    ),
    pytest.param(
        stream_record(new=order_image(Price={"N": "1"})),
        "image attribute 'Price' collides with the output field 'price'",
        id="collides-with-order-field-case",
    ),
    pytest.param(
        stream_record(new=order_image(color={"S": 1})),
        "attribute 'color': malformed S value",
        id="s-not-text",
    ),
    pytest.param(
        stream_record(new=order_image(color={"X": "1"})),
        "attribute 'color': unknown DynamoDB type 'X'",
        id="unknown-type",
    ),
    pytest.param(
        stream_record(new=order_image(color={"S": "a", "N": "1"})),
        "attribute 'color': not a DynamoDB AttributeValue (an object with one type key)",
        id="two-type-keys",
    ),
    pytest.param(
        stream_record(new=order_image(color={"BOOL": "true"})),
        "attribute 'color': malformed BOOL value",
        id="bool-as-text",
    ),
    pytest.param(
        stream_record(new=order_image(color={"NULL": False})),
        "attribute 'color': malformed NULL value",
        id="null-false",
    ),
    pytest.param(
        stream_record(new=order_image(color={"SS": ["a", 1]})),
        "attribute 'color': malformed SS value",
        id="ss-with-number",
    ),
    pytest.param(
        stream_record(new=order_image(color={"L": {"S": "a"}})),
        "attribute 'color': malformed L value",
        id="l-not-list",
    ),
    pytest.param(
        stream_record(new=order_image(color={"M": {"k": {"N": "x"}}})),
        "attribute 'color': N value 'x' is not a finite decimal number",
        id="nested-bad-number",
    ),
    pytest.param(
        stream_record(new=order_image(color={"NS": ["1", 2]})),
        "attribute 'color': malformed NS value",
        id="ns-with-json-number",
    ),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_PAYLOADS)
def test_bad_record_fails_alone_with_a_reason(transform, capsys, payload, reason):
    good = stream_record(new=order_image())
    event = firehose_event(good, payload, good)
    capsys.readouterr()
    out = run(transform, event)
    assert [e["result"] for e in out] == ["Ok", "ProcessingFailed", "Ok"]
    assert out[1] == {"recordId": record_id(1), "result": "ProcessingFailed", "data": event["records"][1]["data"]}
    assert line(out[0]) == line(out[2])
    logs = capsys.readouterr().out.splitlines()
    assert logs == [
        json.dumps(
            {"level": "ERROR", "message": "record failed", "recordId": record_id(1), "reason": reason},
            separators=(",", ":"),
        ),
        json.dumps(
            {
                "level": "INFO",
                "message": "batch transformed",
                "invocationId": INVOCATION_ID,
                "records": 3,
                "Ok": 2,
                "Dropped": 0,
                "ProcessingFailed": 1,
            },
            separators=(",", ":"),
        ),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not base64!", "data is not valid base64"),
        ("eyJhIjo", "data is not valid base64"),  # truncated: bad padding
        ("eyJhIjogMX0==", "data is not valid base64"),  # excess padding
        ("eyJhIjogMX0=\n", "data is not valid base64"),
        ("ZXlK\u00e9", "data is not valid base64"),
    ],
)
def test_data_that_is_not_base64_fails_and_is_echoed(transform, capsys, data, reason):
    event = firehose_event(stream_record(new=order_image()))
    event["records"][0]["data"] = data
    [entry] = run(transform, event)
    assert entry == {"recordId": record_id(0), "result": "ProcessingFailed", "data": data}
    error_line = capsys.readouterr().out.splitlines()[0]
    assert json.loads(error_line) == {
        "level": "ERROR",
        "message": "record failed",
        "recordId": record_id(0),
        "reason": reason,
    }


@pytest.mark.parametrize("data", [None, 42, ["eyJ9"]])
def test_data_missing_or_not_text_fails_without_echo(transform, capsys, data):
    event = firehose_event(stream_record(new=order_image()))
    if data is None:
        del event["records"][0]["data"]
    else:
        event["records"][0]["data"] = data
    [entry] = run(transform, event)
    assert entry == {"recordId": record_id(0), "result": "ProcessingFailed"}
    assert '"reason":"data is missing or not a string"' in capsys.readouterr().out


def test_json_whitespace_around_the_record_is_fine(transform):
    raw = json.dumps(stream_record(new=order_image()))
    assert one_line(transform, f" \n{raw}\r\n ") == one_line(transform, raw)


def test_lone_surrogate_fails_the_record(transform):
    raw = json.dumps(stream_record(new=order_image(product_name={"S": "\ud800"})))
    assert "\\ud800" in raw
    _, reason = one_failure(transform, raw)
    assert reason == "data holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"


def test_deep_nesting_never_raises(transform):
    assert run(transform, firehose_event("[" * 100_000 + "]" * 100_000))[0]["result"] == "ProcessingFailed"
    template = json.dumps(stream_record(new=order_image(deep={"S": "PLACEHOLDER"})))
    for depth, result in ((300, "Ok"), (600, "ProcessingFailed")):
        nested = '{"L": [' * depth + '{"S": "leaf"}' + "]}" * depth
        raw = template.replace('{"S": "PLACEHOLDER"}', nested)
        [entry] = run(transform, firehose_event(raw))
        assert entry["result"] == result
    assert one_failure(transform, raw)[1] == "data is nested too deeply"


# --------------------------------------------------------------------------- batches


def test_mixed_batch_logs_each_failure_and_one_summary(transform, capsys):
    event = firehose_event(
        stream_record("INSERT", new=order_image()),
        "garbage",
        stream_record("REMOVE", old=order_image()),
        {"eventName": "INSERT"},
    )
    capsys.readouterr()
    out = run(transform, event)
    assert [e["result"] for e in out] == ["Ok", "ProcessingFailed", "Ok", "ProcessingFailed"]
    assert capsys.readouterr().out == (
        f'{{"level":"ERROR","message":"record failed","recordId":"{record_id(1)}","reason":"data is not JSON"}}\n'
        f'{{"level":"ERROR","message":"record failed","recordId":"{record_id(3)}",'
        f'"reason":"not a DynamoDB stream record: no \'dynamodb\' object"}}\n'
        f'{{"level":"INFO","message":"batch transformed","invocationId":"{INVOCATION_ID}",'
        f'"records":4,"Ok":2,"Dropped":0,"ProcessingFailed":2}}\n'
    )


def test_empty_batch(transform, capsys):
    event = firehose_event()
    assert transform.handler(event, None) == {"records": []}
    assert json.loads(capsys.readouterr().out) == {
        "level": "INFO",
        "message": "batch transformed",
        "invocationId": INVOCATION_ID,
        "records": 0,
        "Ok": 0,
        "Dropped": 0,
        "ProcessingFailed": 0,
    }


def test_many_records_each_one_line(transform):
    changes = [
        stream_record(new=order_image(f"ord-{i}"), orderid=f"ord-{i}", sequence=str(10**20 + i)) for i in range(50)
    ]
    out = run(transform, firehose_event(*changes))
    for i, entry in enumerate(out):
        data = line(entry)
        assert data.count(b"\n") == 1 and data.endswith(b"\n")
        assert json.loads(data)["orderid"] == f"ord-{i}"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "event must be a JSON object, got list"),
        (None, "event must be a JSON object, got NoneType"),
        ({"invocationId": "x"}, "event has no 'records' key"),
        ({"records": {"recordId": "a"}}, "event['records'] must be a list, got dict"),
        ({"records": [{"recordId": "a", "data": ""}, {"data": ""}]}, "records[1] has no 'recordId'"),
        ({"records": ["eyJ9"]}, "records[0] has no 'recordId'"),
        ({"records": [{"recordId": 7, "data": ""}]}, "records[0].recordId must be a string"),
    ],
)
def test_a_malformed_batch_raises_a_clear_value_error(transform, event, message):
    with pytest.raises(ValueError) as info:
        transform.handler(event, None)
    assert str(info.value) == message


# --------------------------------------------------------------------------- the 6 MB response limit


def response_size(response: dict[str, Any]) -> int:
    # What the Lambda Python runtime sends back: json.dumps with default separators.
    return len(json.dumps(response).encode())


def test_response_budget_is_exact(transform, monkeypatch, capsys):
    event = firehose_event(*[stream_record(new=order_image(f"ord-{i}")) for i in range(5)], "garbage")
    full = transform.handler(event, None)
    size = response_size(full)

    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", size)
    assert transform.handler(event, None) == full  # fits exactly: nothing is cut

    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", size - 1)
    capsys.readouterr()
    cut = run(transform, event)
    # The last entry (the echoed garbage) no longer fits: it loses its data, nothing else changes.
    assert cut[:5] == full["records"][:5]
    assert cut[5] == {"recordId": record_id(5), "result": "ProcessingFailed"}
    assert response_size({"records": cut}) <= size - 1
    logs = capsys.readouterr().out.splitlines()
    assert json.loads(logs[0])["recordId"] == record_id(5)
    assert json.loads(logs[0])["reason"] == "response would exceed the 6 MB Lambda payload limit"


def test_records_past_the_limit_fail_without_data_and_nothing_is_lost(transform, monkeypatch, capsys):
    event = firehose_event(*[stream_record(new=order_image(f"ord-{i}")) for i in range(10)])
    full = transform.handler(event, None)["records"]
    entry_size = response_size(full[0]) + len(", ")
    stub_size = response_size({"recordId": record_id(0), "result": "ProcessingFailed"}) + len(", ")
    limit = response_size({"records": []}) + 3 * entry_size + 7 * stub_size + 10  # 3 records and 7 stubs
    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", limit)
    capsys.readouterr()

    out = run(transform, event)
    assert [e["result"] for e in out] == ["Ok"] * 3 + ["ProcessingFailed"] * 7
    assert out[:3] == full[:3]
    assert all("data" not in e for e in out[3:])
    assert response_size({"records": out}) <= limit
    logs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert logs[:-1] == [
        {
            "level": "ERROR",
            "message": "record failed",
            "recordId": record_id(i),
            "reason": "response would exceed the 6 MB Lambda payload limit",
        }
        for i in range(3, 10)
    ]
    assert logs[-1]["Ok"] == 3 and logs[-1]["ProcessingFailed"] == 7


def test_a_real_six_megabyte_batch_stays_under_the_limit(transform, capsys):
    # ~9 KB per record: about 700 records transform to ~8.7 MB of response, over the limit.
    blob = "x" * 9_000
    changes = [stream_record(new=order_image(f"ord-{i:04d}", notes={"S": blob})) for i in range(700)]
    event = firehose_event(*changes)
    assert sum(len(r["data"]) for r in event["records"]) > LIMIT

    out = run(transform, event)
    capsys.readouterr()
    size = response_size({"records": out})
    assert size <= LIMIT
    assert len(json.dumps({"records": out}, ensure_ascii=False).encode()) <= LIMIT  # the 3.12 runtime's form
    results = [e["result"] for e in out]
    ok = results.count("Ok")
    assert 400 < ok < 700
    assert results == ["Ok"] * ok + ["ProcessingFailed"] * (700 - ok)
    assert all(set(e) == {"recordId", "result"} for e in out[ok:])
    # As full as it can be: one more transformed record would not have fitted.
    next_entry = {"recordId": record_id(ok), "result": "Ok", "data": out[0]["data"]}
    assert (
        size + len(json.dumps(next_entry)) - len(json.dumps({"recordId": record_id(ok), "result": "ProcessingFailed"}))
        > LIMIT
    )


# --------------------------------------------------------------------------- property: boto3 agrees


NAME_CHARS = st.characters(codec="utf-8")  # any Unicode text DynamoDB can hold (no lone surrogates)
names = st.text(NAME_CHARS, min_size=1, max_size=8).filter(
    lambda n: (
        n.lower()
        not in {
            "orderid",
            "product_name",
            "quantity",
            "price",
            "event_name",
            "is_deleted",
            "event_id",
            "sequence_number",
            "event_time",
        }
    )
)


@st.composite
def n_texts(draw: st.DrawFn) -> str:
    """DynamoDB N text: up to 38 significant digits, in the spellings DynamoDB accepts."""
    coefficient = draw(st.one_of(st.integers(0, 10**38 - 1), st.integers(0, 1000), st.just(10**38 - 1)))
    exponent = draw(st.integers(-100, 80))
    negative = draw(st.booleans())
    number = Decimal((int(negative), tuple(int(d) for d in str(coefficient)), exponent))
    if number.adjusted() > 120 or (number and number.adjusted() < -120):
        exponent = 0
        number = Decimal((int(negative), tuple(int(d) for d in str(coefficient)), 0))
    style = draw(st.sampled_from(["str", "fixed", "e", "plus", "no-leading-zero", "int"]))
    if style == "fixed":
        text = format(number, "f")
    elif style == "e":
        text = format(number, "e")
    elif style == "plus":
        text = "+" + str(abs(number)) if not negative else str(number)
    elif style == "no-leading-zero":
        text = str(number).replace("0.", ".", 1) if str(number).lstrip("-").startswith("0.") else str(number)
    elif style == "int":
        text = str(coefficient if not negative else -coefficient)
    else:
        text = str(number)
    try:
        DYNAMODB_CONTEXT.create_decimal(text)  # what boto3 (and DynamoDB) accept
    except Exception:
        assume(False)
    return text


binaries = st.binary(min_size=1, max_size=12).map(lambda b: base64.b64encode(b).decode())
scalars = st.one_of(
    st.text(NAME_CHARS, max_size=12).map(lambda s: {"S": s}),
    n_texts().map(lambda n: {"N": n}),
    binaries.map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(NAME_CHARS, max_size=6), min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
    st.lists(n_texts(), min_size=1, max_size=4, unique_by=lambda n: Decimal(n)).map(lambda v: {"NS": v}),
    st.lists(binaries, min_size=1, max_size=3, unique=True).map(lambda v: {"BS": v}),
)
attribute_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(st.text(NAME_CHARS, max_size=6), children, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=12,
)


def binary_as_bytes(value: Any) -> Any:
    """boto3's TypeDeserializer wants B/BS as bytes (the low-level form), not base64 text."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": base64.b64decode(inner)}
    if tag == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if tag == "L":
        return {"L": [binary_as_bytes(v) for v in inner]}
    if tag == "M":
        return {"M": {k: binary_as_bytes(v) for k, v in inner.items()}}
    return value


def binary_text(value: Binary) -> str:
    return base64.b64encode(cast(Any, value).value).decode()  # the stubs omit Binary.value


def assert_same(ours: Any, theirs: Any) -> None:
    """Our unmarshalled JSON (parsed with Decimals) equals boto3's value exactly."""
    if isinstance(theirs, Decimal):
        assert isinstance(ours, Decimal) and ours.as_tuple() == theirs.as_tuple(), (ours, theirs)
    elif isinstance(theirs, Binary):
        assert ours == binary_text(theirs)
    elif isinstance(theirs, set):
        # Sets come out as arrays in the order given; compare them as sets, exactly.
        assert isinstance(ours, list) and len(ours) == len(theirs)
        if all(isinstance(x, Binary) for x in theirs):
            assert sorted(ours) == sorted(binary_text(x) for x in theirs)
        elif all(isinstance(x, Decimal) for x in theirs):
            assert sorted(x.as_tuple() for x in ours) == sorted(x.as_tuple() for x in theirs)
        else:
            assert sorted(ours) == sorted(theirs)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for key in theirs:
            assert_same(ours[key], theirs[key])
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_same(a, b)
    else:
        assert type(ours) is type(theirs) and ours == theirs, (ours, theirs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    extras=st.dictionaries(names, attribute_values, max_size=5),
    price=n_texts(),
    quantity=st.integers(-(10**38) + 1, 10**38 - 1),
)
def test_unmarshalling_matches_boto3(transform, extras, price, quantity):
    image = {"orderid": {"S": "ord-prop"}, "quantity": {"N": str(quantity)}, "price": {"N": price}, **extras}
    data = one_line(transform, stream_record("INSERT", new=image, orderid="ord-prop"))
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    row = json.loads(data, parse_float=Decimal, parse_int=Decimal)

    deserialize = TypeDeserializer().deserialize
    assert list(row)[:9] == [
        "orderid",
        "product_name",
        "quantity",
        "price",
        "event_name",
        "is_deleted",
        "event_id",
        "sequence_number",
        "event_time",
    ]
    assert_same(row["price"], deserialize({"N": price}))
    assert row["quantity"] == quantity
    assert str(row["quantity"]) == str(quantity)  # a plain integer literal
    theirs = {name: deserialize(binary_as_bytes(value)) for name, value in extras.items()}
    assert_same({k: v for k, v in row.items() if k in extras}, theirs)
    assert list(row)[9:] == list(extras)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()), st.text(max_size=64)))
def test_arbitrary_data_never_raises(transform, data):
    event = firehose_event()
    event["records"] = [{"recordId": "r-1", "data": data}]
    [entry] = run(transform, event)
    assert entry["result"] == "ProcessingFailed"
