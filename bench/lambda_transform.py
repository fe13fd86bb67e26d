"""Throughput and peak memory of the Firehose transform Lambda, against a named baseline.

From the repo root: `.venv/bin/python bench/lambda_transform.py` (or `make bench`). Prints a table; never
asserts timings (a loaded machine must not fail a build).

Three handlers get the same Firehose events (batches of 1, 500 and 20,000 realistic
stream changes: INSERT / MODIFY / REMOVE, the four order fields plus 1-2 extra
attributes), side by side in one process:

- ours:     include/lambda/sales_transform.py
- baseline: what public implementations of this pipeline do: base64-decode, json.loads,
            unmarshal each image with boto3's TypeDeserializer, build the same row dict,
            json.dumps with a Decimal -> int/float default, append "\\n", base64-encode.
- floor:    base64-decode + json.loads of each input, base64 of a fixed line: what any
            standard-library handler has to pay, i.e. the ceiling on throughput.

Throughput is records per second on one core, best of several repeats (time.perf_counter,
garbage collector on, as in Lambda). Peak memory is tracemalloc's peak over one call, in
a separate run (tracemalloc slows Python down, so it is never timed).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import importlib.util
import json
import os
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from boto3.dynamodb.types import Binary, TypeDeserializer

HANDLER_PATH = Path(__file__).resolve().parent.parent / "include" / "lambda" / "sales_transform.py"
BATCH_SIZES = (1, 500, 20_000)
REPEATS = 7
RECORDS_PER_TIMING = 20_000  # small batches are called repeatedly to time this many records

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler_module() -> ModuleType:
    # `lambda` is a keyword, so the file is loaded by path rather than imported.
    spec = importlib.util.spec_from_file_location("sales_transform", HANDLER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- input data

PRODUCTS = [
    ("Espresso machine", "249.00"),
    ("Milk frother", "39.95"),
    ("Café crème beans 1 kg", "18.50"),
    ("Grinder Pro", "129.99"),
    ('Mug "Morning"', "9.90"),
    ("Smörgåsbord tray", "24.00"),
    ("Descaler", "7.49"),
    ("Paper filters x100", "3.20"),
    ("Cold brew jar", "21.75"),
    ("Tamper 58mm", "15.00"),
]
STATUSES = ["new", "paid", "shipped", "delivered", "cancelled"]
STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/sales-orders-bench/stream/2026-11-26T08:00:00.000"


def make_image(rng: random.Random, orderid: str) -> dict[str, Any]:
    name, price = rng.choice(PRODUCTS)
    image: dict[str, Any] = {
        "orderid": {"S": orderid},
        "product_name": {"S": name},
        "quantity": {"N": str(rng.randint(1, 10))},
        "price": {"N": price},
        "customer_id": {"S": f"cust-{rng.randint(1, 50_000):06d}"},
    }
    if rng.random() < 0.5:
        image["status"] = {"S": rng.choice(STATUSES)}
    else:
        image["discount"] = {"N": rng.choice(["0", "0.05", "0.10", "0.15"])}
    return image


def make_change(rng: random.Random, index: int, now: int) -> dict[str, Any]:
    orderid = f"ord-{rng.getrandbits(64):016x}"
    roll = rng.random()
    keys = {"orderid": {"S": orderid}}
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": now + index // 50, "Keys": keys}
    if roll < 0.5:
        event_name = "INSERT"
        dynamodb["NewImage"] = make_image(rng, orderid)
    elif roll < 0.85:
        event_name = "MODIFY"
        dynamodb["NewImage"] = make_image(rng, orderid)
        dynamodb["OldImage"] = make_image(rng, orderid)
    else:
        event_name = "REMOVE"
        dynamodb["OldImage"] = make_image(rng, orderid)
    dynamodb["SequenceNumber"] = str(400_000_000_000_000_000_000 + index * 7)
    dynamodb["SizeBytes"] = rng.randint(80, 400)
    dynamodb["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": f"{rng.getrandbits(128):032x}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


def make_event(size: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    now = 1_795_682_370
    records = []
    for index in range(size):
        change = make_change(rng, index, now)
        sequence = f"4954698668313554428650745793632162567570019247{index:010d}"
        records.append(
            {
                "recordId": f"{sequence}000000000000",
                "approximateArrivalTimestamp": (now + index // 50) * 1000 + 123,
                "data": base64.b64encode(json.dumps(change).encode()).decode(),
                "kinesisRecordMetadata": {
                    "shardId": "shardId-000000000000",
                    "partitionKey": change["dynamodb"]["Keys"]["orderid"]["S"],
                    "approximateArrivalTimestamp": (now + index // 50) * 1000 + 123,
                    "sequenceNumber": sequence,
                    "subsequenceNumber": "",
                },
            }
        )
    return {
        "invocationId": "2b4d1ad9-2f48-94bd-a088-767c317e994a",
        "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/sales-bench",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/sales-bench",
        "region": "eu-west-1",
        "records": records,
    }


# --------------------------------------------------------------------------- baseline and floor

_deserializer = TypeDeserializer()


def _baseline_default(value: object) -> object:
    # The usual "DecimalEncoder": integral Decimals as int, others as float.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return list(value)
    if isinstance(value, Binary):
        return base64.b64encode(cast(Any, value).value).decode()  # the stubs omit Binary.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def baseline_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    output = []
    for record in event["records"]:
        change = json.loads(base64.b64decode(record["data"]))
        stream = change["dynamodb"]
        event_name = change["eventName"]
        image_av = stream["OldImage"] if event_name == "REMOVE" else stream["NewImage"]
        image = {k: _deserializer.deserialize(v) for k, v in image_av.items()}
        keys = {k: _deserializer.deserialize(v) for k, v in stream["Keys"].items()}
        row = {
            "orderid": keys.get("orderid", image.get("orderid")),
            "product_name": image.get("product_name"),
            "quantity": image.get("quantity"),
            "price": image.get("price"),
            "event_name": event_name,
            "is_deleted": event_name == "REMOVE",
            "event_id": change["eventID"],
            "sequence_number": stream["SequenceNumber"].zfill(40),
            "event_time": datetime.fromtimestamp(stream["ApproximateCreationDateTime"], tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        for name, value in image.items():
            row.setdefault(name, value)
        line = json.dumps(row, default=_baseline_default) + "\n"
        output.append(
            {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(line.encode()).decode()}
        )
    return {"records": output}


_FIXED_LINE = (
    b'{"orderid":"ord-0123456789abcdef","product_name":"Espresso machine","quantity":2,"price":249.00,'
    b'"event_name":"INSERT","is_deleted":false,"event_id":"7de3041dd709b024af6f29e4fa13d34c",'
    b'"sequence_number":"0000000000000000000400000000000000000000",'
    b'"event_time":"2026-11-26T08:39:30.000Z","customer_id":"cust-004242","status":"paid"}\n'
)


def floor_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    output = []
    for record in event["records"]:
        json.loads(binascii.a2b_base64(record["data"]))
        data = binascii.b2a_base64(_FIXED_LINE, newline=False).decode()
        output.append({"recordId": record["recordId"], "result": "Ok", "data": data})
    return {"records": output}


# --------------------------------------------------------------------------- measurement


def records_per_second(handlers: dict[str, Handler], event: dict[str, Any]) -> dict[str, float]:
    """Best-of-REPEATS throughput of each handler; the repeats take turns, so a burst of
    load from elsewhere on the machine hits all three alike."""
    size = len(event["records"])
    calls = max(1, RECORDS_PER_TIMING // size)
    for handler in handlers.values():
        handler(event, None)  # warm-up: lazily built caches and regexes
    best = dict.fromkeys(handlers, float("inf"))
    for _ in range(REPEATS):
        for name, handler in handlers.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(calls):
                handler(event, None)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: size * calls / seconds for name, seconds in best.items()}


def peak_memory(handler: Handler, event: dict[str, Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        handler(event, None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def check_outputs_agree(ours: Handler, event: dict[str, Any]) -> None:
    """Sanity: every record comes out Ok and matches the baseline's values (read as Decimal)."""
    mine = ours(event, None)["records"]
    theirs = baseline_handler(event, None)["records"]
    for a, b in zip(mine, theirs, strict=True):
        if a["result"] != "Ok":
            raise SystemExit(f"our handler failed a bench record: {a}")
        row_a = json.loads(base64.b64decode(a["data"]), parse_float=Decimal)
        row_b = json.loads(base64.b64decode(b["data"]), parse_float=Decimal)
        if row_a != row_b or list(row_a) != list(row_b):
            raise SystemExit(f"outputs differ:\n{row_a}\n{row_b}")


def human_bytes(count: int) -> str:
    return f"{count / 1024:,.0f} KiB" if count < 1024 * 1024 else f"{count / 1024 / 1024:,.1f} MiB"


def main() -> None:
    module = load_handler_module()
    # A 20,000-record batch is bigger than Firehose ever sends (the request is capped at
    # 6 MB too), so the response limit would fail most of it: lift it so every record is
    # transformed. The budget bookkeeping still runs and is timed.
    setattr(module, "RESPONSE_LIMIT_BYTES", sys.maxsize)  # noqa: B010 (a module loaded by path)
    ours: Handler = module.handler
    handlers: dict[str, Handler] = {"ours": ours, "baseline": baseline_handler, "floor": floor_handler}

    print(f"python {sys.version.split()[0]}, one core, best of {REPEATS}, ~{RECORDS_PER_TIMING:,} records a timing")
    print(f"handler: {HANDLER_PATH}")
    header = (
        f"{'batch':>6} | {'ours rec/s':>11} {'baseline rec/s':>15} {'floor rec/s':>12} | "
        f"{'ours/base':>9} {'floor/base':>10} | {'ours peak':>10} {'base peak':>10} {'floor peak':>10}"
    )
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        for size in BATCH_SIZES:
            event = make_event(size)
            with contextlib.redirect_stdout(devnull):  # our handler's log lines
                check_outputs_agree(ours, event)
                rates = records_per_second(handlers, event)
                peaks = {name: peak_memory(h, event) for name, h in handlers.items()}
            print(
                f"{size:>6} | {rates['ours']:>11,.0f} {rates['baseline']:>15,.0f} {rates['floor']:>12,.0f} | "
                f"{rates['ours'] / rates['baseline']:>8.2f}x {rates['floor'] / rates['baseline']:>9.2f}x | "
                f"{human_bytes(peaks['ours']):>10} {human_bytes(peaks['baseline']):>10} "
                f"{human_bytes(peaks['floor']):>10}"
            )
    input_mb = sum(len(r["data"]) for r in make_event(BATCH_SIZES[-1])["records"]) / 1024 / 1024
    print(
        f"({BATCH_SIZES[-1]:,}-record batch: {input_mb:.1f} MiB of base64 data; response limit lifted for the run. "
        f"total {time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
