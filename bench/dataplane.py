"""Throughput and latency of localaws's streaming data plane, against the Kinesis shards' write capacity.

Run from the repository root: `.venv/bin/python bench/dataplane.py [--changes 20000] [--writers 4] [--https]`.
Prints a table; never asserts timings (a loaded machine must not fail a build). Exit status 1 only
if a change never landed.

What it does: starts a LocalAWS, provisions the whole pipeline (2 Kinesis shards, Firehose buffer
interval 1 s, the project's own settings otherwise: pipe batches of 100, 1 s batching window,
GZIP, the real transform Lambda) with the project's provisioning steps, then:

1. **live**: writes N changes (60 % inserts, 25 % updates, 15 % deletes) to DynamoDB with
   BatchWriteItem from several producer processes at full speed, and waits until every change has
   landed as a line in the S3 data objects;
2. **backlog**: stops the pipe, writes N more changes, starts the pipe and times the drain: the
   data plane's own capacity, without the DynamoDB write path (moto, in the same process and so
   under the same interpreter lock as the workers) competing with it.

Measures:

- **throughput**: changes landed / (last landed object's creation time - first write sent); for
  the backlog, changes / (last landed object's creation time - StartPipe).
- **latency of a change**: the creation time of the S3 object holding its line (moto's
  ``LastModified``, microseconds, read in-process) minus the time its BatchWriteItem was SENT (so
  the request's own time counts against us). A change is identified by (orderid, event_name, rev):
  every write carries a ``rev`` attribute, which the Lambda carries through to the line.
- the same split at the Kinesis record (the pipe's stage: write -> Kinesis arrival; Firehose's
  stage: Kinesis arrival -> S3 object).

Baseline: what the provisioned Kinesis stream can take, 1,000 records/s per shard (the Kinesis
PutRecords write quota), i.e. 2,000 records/s for 2 shards; the goal is to sustain it with a p50
latency under 2 s (the Firehose buffer interval alone is 1 s).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import json
import logging
import multiprocessing
import os
import random
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
for _name, _value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
    os.environ.setdefault(_name, _value)  # localaws checks signatures' shape only

from localaws import LocalAWS  # noqa: E402
from sales_pipeline.aws import Account, Clients  # noqa: E402
from sales_pipeline.config import load_config  # noqa: E402
from sales_pipeline.pipeline import provision_step  # noqa: E402
from sales_pipeline.pipeline_steps import STEP_IDS  # noqa: E402
from sales_pipeline.resources.names import Names  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"
SHARDS = 2
KINESIS_RECORDS_PER_SHARD_S = 1000  # Kinesis write quota per shard
GOAL_P50_S = 2.0
Change = tuple[str, str, int]  # (orderid, event_name, rev)


@dataclass
class Writer:
    """One writer thread's keys and what it sent when."""

    index: int
    changes: int
    seed: int
    sent: dict[Change, float] = field(default_factory=dict)
    batches: int = 0

    def plan(self) -> list[list[tuple[str, dict[str, Any] | None, Change]]]:
        """Batches of at most 25 writes to distinct keys: (orderid, item or None for a delete, change)."""
        rng = random.Random(self.seed)
        live: dict[str, int] = {}  # orderid -> its current rev
        made = 0
        batches = []
        while made < self.changes:
            batch: list[tuple[str, dict[str, Any] | None, Change]] = []
            used: set[str] = set()
            while len(batch) < 25 and made < self.changes:
                roll = rng.random()
                candidates = [key for key in live if key not in used] if roll >= 0.6 else []
                if not candidates:
                    orderid = f"bench-{self.index}-{made:06d}"
                    live[orderid] = 0
                    batch.append((orderid, _item(orderid, 0, rng), (orderid, "INSERT", 0)))
                else:
                    orderid = rng.choice(candidates[-200:])  # recent orders change, as in a shop
                    if roll < 0.85:
                        live[orderid] += 1
                        batch.append((orderid, _item(orderid, live[orderid], rng), (orderid, "MODIFY", live[orderid])))
                    else:
                        batch.append((orderid, None, (orderid, "REMOVE", live.pop(orderid))))
                used.add(orderid)
                made += 1
            batches.append(batch)
        return batches

    def send(self, client: Any, table: str, batches: list[list[tuple[str, dict[str, Any] | None, Change]]]) -> None:
        for batch in batches:
            requests = [
                {"PutRequest": {"Item": item}}
                if item is not None
                else {"DeleteRequest": {"Key": {"orderid": {"S": k}}}}
                for k, item, _ in batch
            ]
            sent = time.time()
            reply = client.batch_write_item(RequestItems={table: requests})
            if reply.get("UnprocessedItems"):
                raise RuntimeError(f"unprocessed items: {reply['UnprocessedItems']}")
            for _, _, change in batch:
                self.sent[change] = sent
            self.batches += 1


def _item(orderid: str, rev: int, rng: random.Random) -> dict[str, Any]:
    return {
        "orderid": {"S": orderid},
        "product_name": {"S": rng.choice(["Widget", "Gadget", "Gizmo", "Doohickey"])},
        "quantity": {"N": str(rng.randint(1, 9))},
        "price": {"N": f"{rng.randint(100, 99999) / 100:.2f}"},
        "rev": {"N": str(rev)},
        "customer": {"S": f"c-{rng.randint(1, 5000)}"},
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def landed_lines(bucket: str, prefix: str, seen: dict[str, tuple[float, list[bytes]]]) -> None:
    """Read the data objects not read yet, in-process: {key: (creation epoch, lines)}."""
    from moto.s3.models import s3_backends

    keys = s3_backends[ACCOUNT]["aws"].buckets[bucket].keys
    for name in list(keys.keys()):
        if name in seen or not name.startswith(prefix):
            continue
        key = keys[name]
        created = key.last_modified.replace(tzinfo=dt.UTC).timestamp()
        seen[name] = (created, gzip.decompress(key.value).splitlines())


def kinesis_arrivals(stream_name: str) -> dict[str, float]:
    """DynamoDB sequence number -> when its record arrived in Kinesis (first copy), read in-process."""
    from moto.kinesis.models import kinesis_backends

    arrivals: dict[str, float] = {}
    for shard in kinesis_backends[ACCOUNT][REGION].streams[stream_name].shards.values():
        for record in list(shard.records.values()):
            change = json.loads(base64.b64decode(record.data))
            arrivals.setdefault(change["dynamodb"]["SequenceNumber"], record.created_at)
    return arrivals


def _write_in_process(
    endpoint: str, ca_bundle: str, table: str, index: int, changes: int, start_at: float
) -> dict[Change, float]:
    """One producer process: its writer's changes, sent when the wall clock reaches ``start_at``."""
    writer = Writer(index, changes, seed=index)
    client = Clients.from_session(REGION, endpoint, ca_bundle)("dynamodb")
    batches = writer.plan()
    time.sleep(max(0.0, start_at - time.time()))
    writer.send(client, table, batches)
    return writer.sent


def write_all(
    aws: LocalAWS, table: str, changes: int, writers: int, first_index: int, https: bool = False
) -> tuple[dict[Change, float], float]:
    """Write ``changes`` from ``writers`` producer processes at full speed; (send time of each, seconds taken).

    Producers run in processes of their own, as an application writing to DynamoDB would: in this
    process their boto3 work would compete with localaws for the one interpreter lock. Plain HTTP by
    default: on AWS, DynamoDB's TLS front end does not share a CPU with Pipes and Firehose, here it
    would (``https=True`` measures that too).
    """
    endpoint = aws.tls_endpoint_url if https else aws.endpoint_url
    share = changes // writers
    sizes = [share + (changes % writers if i == 0 else 0) for i in range(writers)]
    start_at = time.time() + 3.0  # every producer imported and its plan made
    context = multiprocessing.get_context("spawn")
    with context.Pool(writers) as pool:
        jobs = [
            pool.apply_async(_write_in_process, (endpoint, aws.ca_bundle, table, first_index + i, size, start_at))
            for i, size in enumerate(sizes)
        ]
        results = [job.get(timeout=600) for job in jobs]
    sent = {change: at for result in results for change, at in result.items()}
    if len(sent) != changes:
        raise RuntimeError(f"a writer failed: {len(sent)} of {changes} changes sent")
    return sent, max(sent.values()) - start_at


class Landing:
    """Every line landed in the data objects: {change: creation time of its first object}."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix
        self.seen: dict[str, tuple[float, list[bytes]]] = {}
        self.landed: dict[Change, float] = {}
        self.sequence_of: dict[Change, str] = {}
        self.lines = 0

    def wait(self, wanted: dict[Change, float], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while any(change not in self.landed for change in wanted) and time.monotonic() < deadline:
            time.sleep(0.1)
            before = set(self.seen)
            landed_lines(self.bucket, self.prefix, self.seen)
            for name in set(self.seen) - before:
                created, object_lines = self.seen[name]
                for raw in object_lines:
                    line = json.loads(raw)
                    change = (line["orderid"], line["event_name"], int(line["rev"]))
                    self.landed.setdefault(change, created)
                    self.sequence_of[change] = line["sequence_number"].lstrip("0")
                    self.lines += 1


def row(label: str, value: str, note: str = "") -> str:
    return f"{label:<46} {value:>14}  {note}".rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--https", action="store_true", help="producers write over the TLS listener")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with LocalAWS(port=0) as aws:
        config = load_config(
            {"env": "bench", "shard_count": SHARDS, "buffer_interval_s": 1}, environ={}, variable_reader=lambda: None
        )
        clients = Clients.from_session(REGION, aws.tls_endpoint_url, aws.ca_bundle)
        names = Names(config, Account(ACCOUNT, REGION))
        for step_id in STEP_IDS:
            provision_step(step_id, clients, names)
        landing = Landing(config.bucket, config.data_prefix)

        # 1. Live: writers at full speed, the data plane keeping up.
        sent, writing_s = write_all(aws, config.table_name, args.changes, args.writers, 0, args.https)
        landing.wait(sent, args.timeout)
        arrivals = kinesis_arrivals(config.kinesis_stream_name)

        # 2. Backlog: the same number of changes written while the pipe is stopped, then drained, so
        # the data plane's own capacity shows without the DynamoDB write path (moto, same process) in it.
        pipes = clients("pipes")
        pipes.stop_pipe(Name=config.pipe_name)
        backlog, backlog_writing_s = write_all(aws, config.table_name, args.changes, args.writers, 100, args.https)
        pipes.start_pipe(Name=config.pipe_name)
        drain_start = time.time()
        landing.wait(backlog, args.timeout)
        with urllib.request.urlopen(f"{aws.endpoint_url}/_localaws/firehose/{config.delivery_stream_name}") as reply:
            counters = json.loads(reply.read())["Counters"]

    landed = {change: at for change, at in landing.landed.items() if change in sent}
    missing = len(sent) - len(landed) + sum(1 for change in backlog if change not in landing.landed)
    first_sent = min(sent.values())
    elapsed = max(landed.values()) - first_sent
    rate = len(landed) / elapsed
    drained = [landing.landed[change] for change in backlog if change in landing.landed]
    drain_rate = len(drained) / (max(drained) - drain_start) if drained else float("nan")
    latency = [landed[c] - sent[c] for c in landed]
    sequence = landing.sequence_of
    pipe_stage = [arrivals[sequence[c]] - sent[c] for c in landed if sequence[c] in arrivals]
    firehose_stage = [landed[c] - arrivals[sequence[c]] for c in landed if sequence[c] in arrivals]
    baseline = SHARDS * KINESIS_RECORDS_PER_SHARD_S
    kinds = {kind: sum(1 for c in sent if c[1] == kind) for kind in ("INSERT", "MODIFY", "REMOVE")}
    everything = len(sent) + len(backlog)

    print()
    print(f"localaws data plane: {len(sent):,} changes ({kinds['INSERT']:,} inserts, {kinds['MODIFY']:,} updates, "
          f"{kinds['REMOVE']:,} deletes) by {args.writers} BatchWriteItem writers; {SHARDS} Kinesis shards; "
          f"Firehose buffer interval 1 s; producers over {'HTTPS' if args.https else 'HTTP'}")  # fmt: skip
    print(row("measure", "value", "note"))
    print(row("-" * 46, "-" * 14, "-" * 34))
    print(row("baseline: Kinesis write capacity, records/s", f"{baseline:,}",
              f"{SHARDS} shards x {KINESIS_RECORDS_PER_SHARD_S:,} records/s"))  # fmt: skip
    print(row("live: writes, changes/s", f"{len(sent) / writing_s:,.0f}", f"all written in {writing_s:.1f} s"))
    print(row("live: DynamoDB stream -> S3, changes/s", f"{rate:,.0f}",
              f"{rate / baseline:.2f}x baseline; first write -> last line {elapsed:.1f} s"))  # fmt: skip
    print(row("live: latency write -> S3 object, p50 s", f"{statistics.median(latency):.2f}",
              f"goal < {GOAL_P50_S:.0f} s"))  # fmt: skip
    print(row("live: latency write -> S3 object, p95 / max s",
              f"{percentile(latency, 0.95):.2f} / {max(latency):.2f}"))  # fmt: skip
    if pipe_stage:
        print(row("  pipe stage (write -> Kinesis), p50 / p95 s",
                  f"{statistics.median(pipe_stage):.2f} / {percentile(pipe_stage, 0.95):.2f}"))  # fmt: skip
        print(row("  Firehose stage (Kinesis -> S3), p50 / p95 s",
                  f"{statistics.median(firehose_stage):.2f} / {percentile(firehose_stage, 0.95):.2f}"))  # fmt: skip
    print(row("backlog: writes (pipe stopped), changes/s", f"{len(backlog) / backlog_writing_s:,.0f}"))
    print(row("backlog: stream -> S3 drain, changes/s", f"{drain_rate:,.0f}",
              f"{drain_rate / baseline:.2f}x baseline; {len(backlog):,} changes after StartPipe"))  # fmt: skip
    print(row("S3 data objects / Lambda invocations", f"{counters['DataObjects']} / {counters['LambdaInvocations']}"))
    duplicates = landing.lines - len(landing.landed)
    print(row("lines landed / duplicates / missing", f"{landing.lines:,} / {duplicates} / {missing}",
              f"of {everything:,} changes"))  # fmt: skip
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
