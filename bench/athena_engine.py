"""localaws's Athena engine on a day of change records, against pandas computing the same answers.

Run from the repository root: `.venv/bin/python bench/athena_engine.py [--records 1000000]` (or `make bench`).
Prints a table; never asserts timings (a loaded machine must not fail a build). Exit status 1 only if an answer
differs between the two, or a query's DataScannedInBytes is not the stored size of the objects it read.

Data: N change records as the Firehose transform writes them (orderid, product_name, quantity, price,
event_name INSERT/MODIFY/REMOVE, is_deleted, event_id, sequence_number zero-padded to 40 digits,
event_time ISO-8601 UTC with milliseconds), one day, in 24 hourly gzip NDJSON objects under
``sales/year=/month=/day=/hour=/``, with a few canary orders; a crawler-shaped Glue table over them
(AWS_SHAPES.md 4d) with its 24 partitions.

Queries (the reports' shapes, with the report day as ExecutionParameters): the latest state of every
order by ``row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC)`` then the headline
(live orders, units, revenue as DECIMAL), revenue by product, hourly activity (distinct changes by
kind), and price percentiles (``approx_percentile`` = exact nearest rank in localaws).

What is timed (wall-clock seconds):

- **pandas read**: ``pandas.read_json(lines=True)`` of the 24 gzip objects from local files, concatenated, plus
  the ``hour`` partition column (best of ``--pandas-repeats``).
- **pandas compute**: the query's answer with DataFrame operations, the frame already in memory (best of
  ``--pandas-repeats``). pandas runs on one core.
- **pandas read + compute**: the two added: what one report costs pandas starting from the files. This is the
  baseline of the goal, because Athena too reads the objects on every query (and bills them).
- **localaws cold**: the query's first run through the Athena API of a LocalAWS started in this process
  (StartQueryExecution, GetQueryExecution polled every 10 ms, GetQueryResults paginated), timed from the start
  request to the last result page. The first query also reads the 24 objects from S3 and decodes them into the
  engine's cache of columnar copies; the later queries' first runs find them there.
- **localaws warm**: the best of the next ``--repeats`` runs of the same query. DuckDB uses every core.

Both sides answer in full every time: no result is reused. Every localaws run's DataScannedInBytes is checked
to be the stored (compressed) size of the 24 objects, cold or warm. Answers are compared as the text Athena
returns (decimals with their scale, counts, percentiles).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

import boto3  # noqa: E402

from localaws import LocalAWS  # noqa: E402

BUCKET, DATABASE, TABLE, WORKGROUP = "bench-athena-lake", "bench", "sales", "bench"
DAY = ("2026", "11", "26")
COLUMNS = [
    ("orderid", "string"), ("product_name", "string"), ("quantity", "int"), ("price", "double"),
    ("event_name", "string"), ("is_deleted", "boolean"), ("event_id", "string"), ("sequence_number", "string"),
    ("event_time", "string"),
]  # fmt: skip
SERDE = "org.openx.data.jsonserde.JsonSerDe"
DAY_FILTER = "year = ? AND month = ? AND day = ?"
LATEST = f"""latest AS (
    SELECT orderid, product_name, quantity, price, is_deleted,
           row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC) AS recency
    FROM {TABLE}
    WHERE {DAY_FILTER} AND NOT starts_with(orderid, 'canary-')
)"""
QUERIES = {
    "headline": f"""WITH {LATEST}
        SELECT count_if(NOT is_deleted) AS live_orders,
               sum(CASE WHEN NOT is_deleted THEN quantity END) AS units,
               sum(CASE WHEN NOT is_deleted THEN quantity * CAST(price AS DECIMAL(12, 2)) END) AS revenue
        FROM latest WHERE recency = 1""",
    "by_product": f"""WITH {LATEST}
        SELECT product_name, count(*) AS orders, sum(quantity) AS units,
               sum(quantity * CAST(price AS DECIMAL(12, 2))) AS revenue
        FROM latest WHERE recency = 1 AND NOT is_deleted
        GROUP BY product_name ORDER BY revenue DESC, product_name""",
    "hourly": f"""SELECT hour, count_if(event_name = 'INSERT') AS inserts, count_if(event_name = 'MODIFY') AS updates,
               count_if(event_name = 'REMOVE') AS deletes
        FROM (SELECT DISTINCT event_id, event_name, hour FROM {TABLE}
              WHERE {DAY_FILTER} AND NOT starts_with(orderid, 'canary-'))
        GROUP BY hour ORDER BY hour""",
    "percentiles": f"""WITH {LATEST}
        SELECT approx_percentile(price, 0.5) AS p50, approx_percentile(price, ARRAY[0.1, 0.9, 0.99]) AS p10_p90_p99
        FROM latest WHERE recency = 1 AND NOT is_deleted""",
}


# --- data --------------------------------------------------------------------------------------------------------
def generate(records: int, directory: Path, seed: int = 26) -> list[Path]:
    """N change records of one day in 24 hourly gzip NDJSON files, as the transform Lambda writes them."""
    rng = np.random.default_rng(seed)
    orders = max(1, records * 3 // 10)
    # Every order is inserted once; the other changes modify or (last) remove an order inserted before them.
    insert_ms = np.sort(rng.integers(0, 86_400_000, orders))
    extra = records - orders
    owner = rng.integers(0, orders, extra)
    extra_ms = insert_ms[owner] + rng.integers(1, 3_600_000, extra)
    extra_ms = np.minimum(extra_ms, 86_399_999)
    order = np.concatenate([np.arange(orders), owner])
    millis = np.concatenate([insert_ms, extra_ms])
    kind = np.concatenate([np.zeros(orders, dtype=np.int8), np.ones(extra, dtype=np.int8)])
    by_time = np.lexsort((kind, millis))
    order, millis, kind = order[by_time], millis[by_time], kind[by_time]
    # The last change of 12 % of the orders with updates is a delete.
    last = np.zeros(records, dtype=bool)
    _, last_index = np.unique(order[::-1], return_index=True)
    last[records - 1 - last_index] = True
    removes = last & (kind == 1) & (rng.random(records) < 0.12)
    kind[removes] = 2
    quantity = rng.integers(1, 12, records)
    cents = rng.integers(100, 50_000, records)
    product = rng.integers(0, 250, records)
    canary = rng.random(records) < 0.002
    names = np.array(["INSERT", "MODIFY", "REMOVE"])[kind]
    files: list[Path] = []
    hours = millis // 3_600_000
    for hour in range(24):
        lines = []
        for i in np.flatnonzero(hours == hour):
            ms = int(millis[i])
            stamp = f"2026-11-26T{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
            prefix = "canary-" if canary[i] else "order-"
            lines.append(
                f'{{"orderid":"{prefix}{int(order[i]):07d}","product_name":"product-{int(product[i]):03d}",'
                f'"quantity":{int(quantity[i])},"price":{int(cents[i]) // 100}.{int(cents[i]) % 100:02d},'
                f'"event_name":"{names[i]}","is_deleted":{"true" if kind[i] == 2 else "false"},'
                f'"event_id":"{i:032x}","sequence_number":"{i + 1:040d}","event_time":"{stamp}"}}\n'
            )
        path = directory / f"year=2026/month=11/day=26/hour={hour:02d}/sales-stream-1-2026-11-26-{hour:02d}-00-00.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress("".join(lines).encode(), compresslevel=6))
        files.append(path)
    return files


# --- localaws ----------------------------------------------------------------------------------------------------
def provision(clients: Callable[[str], Any], files: list[Path], root: Path) -> int:
    s3, glue, athena = clients("s3"), clients("glue"), clients("athena")
    s3.create_bucket(Bucket=BUCKET)
    size = 0
    for path in files:
        body = path.read_bytes()
        size += len(body)
        s3.put_object(Bucket=BUCKET, Key=f"sales/{path.relative_to(root).as_posix()}", Body=body)

    def descriptor(location: str) -> dict[str, Any]:
        return {
            "Columns": [{"Name": n, "Type": t} for n, t in COLUMNS],
            "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": SERDE,
                "Parameters": {"paths": ",".join(sorted(n for n, _ in COLUMNS))},
            },
            "Compressed": False,
            "NumberOfBuckets": -1,
        }

    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": TABLE, "TableType": "EXTERNAL_TABLE", "StorageDescriptor": descriptor(f"s3://{BUCKET}/sales/"),
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day", "hour")],
            "Parameters": {"classification": "json", "compressionType": "gzip", "typeOfData": "file"},
        },
    )  # fmt: skip
    glue.batch_create_partition(
        DatabaseName=DATABASE,
        TableName=TABLE,
        PartitionInputList=[
            {"Values": [*DAY, f"{h:02d}"],
             "StorageDescriptor": descriptor(f"s3://{BUCKET}/sales/year=2026/month=11/day=26/hour={h:02d}/")}
            for h in range(24)
        ],
    )  # fmt: skip
    athena.create_work_group(
        Name=WORKGROUP,
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/athena-results/"},
                       "EnforceWorkGroupConfiguration": True, "BytesScannedCutoffPerQuery": 10_000_000_000},
    )  # fmt: skip
    return size


def run_on_localaws(athena: Any, sql: str) -> tuple[list[list[str | None]], float, int]:
    started = time.perf_counter()
    query_id = athena.start_query_execution(
        QueryString=sql,
        WorkGroup=WORKGROUP,
        QueryExecutionContext={"Database": DATABASE},
        ExecutionParameters=[f"'{v}'" for v in DAY],
    )["QueryExecutionId"]
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.01)
    if state != "SUCCEEDED":
        raise SystemExit(f"query failed: {execution['Status'].get('StateChangeReason')}\n{sql}")
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows += [[d.get("VarCharValue") for d in row["Data"]] for row in page["ResultSet"]["Rows"]]
    elapsed = time.perf_counter() - started
    return rows[1:], elapsed, int(execution["Statistics"]["DataScannedInBytes"])


# --- pandas ------------------------------------------------------------------------------------------------------
def read_with_pandas(files: list[Path]) -> pd.DataFrame:
    frames = []
    for path in files:
        frame = pd.read_json(path, lines=True, compression="gzip", dtype=False)
        frame["hour"] = path.parent.name.split("=", 1)[1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def latest_live(frame: pd.DataFrame) -> pd.DataFrame:
    day = frame[~frame["orderid"].str.startswith("canary-")]
    latest = day.sort_values("sequence_number").drop_duplicates("orderid", keep="last")
    return latest


def with_cents(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["line_cents"] = np.rint(frame["price"].to_numpy() * 100).astype(np.int64) * frame["quantity"].to_numpy()
    return frame


def nearest_rank(values: np.ndarray, quantile: float) -> float:
    ordered = np.sort(values)
    return float(ordered[max(0, math.ceil(quantile * len(ordered)) - 1)])


def java_double(value: float) -> str:
    from localaws.athena_engine.results import java_double as text

    return text(value)


def pandas_answer(name: str, frame: pd.DataFrame) -> list[list[str | None]]:
    if name == "headline":
        latest = with_cents(latest_live(frame))
        live = latest[~latest["is_deleted"]]
        return [[str(len(live)), str(int(live["quantity"].sum())), money(int(live["line_cents"].sum()))]]
    if name == "by_product":
        latest = with_cents(latest_live(frame))
        live = latest[~latest["is_deleted"]]
        grouped = live.groupby("product_name").agg(orders=("orderid", "size"), units=("quantity", "sum"),
                                                   revenue=("line_cents", "sum")).reset_index()  # fmt: skip
        grouped = grouped.sort_values(["revenue", "product_name"], ascending=[False, True])
        return [[p, str(o), str(u), money(int(r))] for p, o, u, r in grouped.itertuples(index=False)]
    if name == "hourly":
        day = frame[~frame["orderid"].str.startswith("canary-")]
        distinct = day.drop_duplicates(["event_id", "event_name", "hour"])
        counts = distinct.groupby(["hour", "event_name"]).size().unstack(fill_value=0)
        return [
            [hour, str(int(row.get("INSERT", 0))), str(int(row.get("MODIFY", 0))), str(int(row.get("REMOVE", 0)))]
            for hour, row in counts.sort_index().iterrows()
        ]
    if name == "percentiles":
        latest = latest_live(frame)
        prices = latest[~latest["is_deleted"]]["price"].to_numpy()
        many = ", ".join(java_double(nearest_rank(prices, q)) for q in (0.1, 0.9, 0.99))
        return [[java_double(nearest_rank(prices, 0.5)), f"[{many}]"]]
    raise KeyError(name)


# --- main --------------------------------------------------------------------------------------------------------
def best_of(repeats: int, work: Callable[[], Any]) -> tuple[Any, float]:
    """The last result of ``work()`` and its best wall-clock time over ``repeats`` runs."""
    best, result = math.inf, None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return result, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="warm localaws runs per query (the best is reported)")
    parser.add_argument("--pandas-repeats", type=int, default=2, help="pandas reads and computes (the best counts)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="bench-athena-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        files = generate(args.records, root)
        generated = time.perf_counter() - t0
        print(f"generated {args.records:,} change records in 24 hourly gzip objects "
              f"({sum(p.stat().st_size for p in files) / 1e6:.1f} MB) in {generated:.1f} s; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip

        frame, pandas_read = best_of(args.pandas_repeats, lambda: read_with_pandas(files))
        expected: dict[str, list[list[str | None]]] = {}
        pandas_compute: dict[str, float] = {}
        for name in QUERIES:
            expected[name], pandas_compute[name] = best_of(args.pandas_repeats, partial(pandas_answer, name, frame))
        del frame  # the frame's memory is not the engine's to share

        results: dict[str, dict[str, Any]] = {}
        with LocalAWS(port=0, tls_port=None) as aws:

            def clients(service: str) -> Any:
                return boto3.client(service, endpoint_url=aws.endpoint_url, region_name="us-east-1",  # type: ignore[call-overload]
                                    aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip

            stored = provision(clients, files, root)
            athena = clients("athena")
            for name, sql in QUERIES.items():
                rows, cold, scanned = run_on_localaws(athena, sql)
                warm_runs = [run_on_localaws(athena, sql) for _ in range(max(1, args.repeats))]
                results[name] = {
                    "rows": rows,
                    "cold": cold,
                    "warm": min(r[1] for r in warm_runs),
                    "scanned": [scanned, *(r[2] for r in warm_runs)],
                    "same_warm": all(r[0] == rows for r in warm_runs),
                }

    print(f"""
pandas read    = read_json of the 24 gzip objects (local files), best of {args.pandas_repeats}: {pandas_read:.1f} s
pandas compute = the answer from the DataFrame already in memory (best of {args.pandas_repeats}; one core)
localaws cold  = first run through the Athena API (StartQueryExecution .. last GetQueryResults page); the first
                 query also reads the 24 objects from S3 and decodes them into the engine's cache
localaws warm  = best of the next {args.repeats} runs; every run's DataScannedInBytes is the objects' stored size
x faster       = pandas time / localaws warm time (read + compute: the goal's baseline; compute alone: the frame
                 already in memory, as the engine's copies are)
""")  # fmt: skip
    header = (f"{'query':<12} {'rows':>4} {'pandas':>9} {'pandas':>8} {'localaws':>9} {'localaws':>9} "
              f"{'x faster':>9} {'x faster':>9}  {'answers':<9} {'DataScannedInBytes':>18}")  # fmt: skip
    under = (f"{'':<12} {'':>4} {'read+comp':>9} {'compute':>8} {'cold':>9} {'warm':>9} "
             f"{'read+comp':>9} {'compute':>9}  {'':<9} {'(cold and warm)':>18}")  # fmt: skip
    print(header)
    print(under)
    print("-" * len(header))
    failures = 0
    met = 0
    summary: dict[str, dict[str, Any]] = {}
    for name in QUERIES:
        result = results[name]
        baseline = pandas_read + pandas_compute[name]
        same = result["rows"] == expected[name] and result["same_warm"]
        honest = all(s == stored for s in result["scanned"])
        failures += (not same) + (not honest)
        met += baseline / result["warm"] >= 10
        billed = f"{stored:,}" if honest else "/".join(f"{s:,}" for s in result["scanned"]) + " WRONG"
        print(f"{name:<12} {len(result['rows']):>4} {baseline:>8.2f}s {pandas_compute[name]:>7.2f}s "
              f"{result['cold']:>8.2f}s {result['warm']:>8.2f}s {baseline / result['warm']:>8.1f}x "
              f"{pandas_compute[name] / result['warm']:>8.1f}x  {'equal' if same else 'DIFFERENT':<9} "
              f"{billed:>18}")  # fmt: skip
        if not same:
            print(f"   localaws: {result['rows'][:3]}\n   pandas:   {expected[name][:3]}")
        summary[name] = {"pandas_read_compute_s": round(baseline, 3),
                         "pandas_compute_s": round(pandas_compute[name], 3),
                         "localaws_cold_s": round(result["cold"], 3), "localaws_warm_s": round(result["warm"], 3),
                         "equal": same, "scanned_bytes_honest": honest}  # fmt: skip
    total_pandas = sum(pandas_read + c for c in pandas_compute.values())
    compute = sum(pandas_compute.values())
    cold = sum(r["cold"] for r in results.values())
    warm = sum(r["warm"] for r in results.values())
    print("-" * len(header))
    print(f"{'all four':<12} {'':>4} {total_pandas:>8.2f}s {compute:>7.2f}s {cold:>8.2f}s {warm:>8.2f}s "
          f"{total_pandas / warm:>8.1f}x {compute / warm:>8.1f}x")  # fmt: skip
    print(f"\ngoal (localaws warm at least 10x faster than pandas read + compute): met by {met} of {len(QUERIES)} "
          f"queries; bench ran {time.perf_counter() - started:.0f} s")  # fmt: skip
    print(json.dumps({"records": args.records, "failures": failures, "pandas_read_s": round(pandas_read, 3),
                      "queries": summary}))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
