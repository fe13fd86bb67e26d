"""Catalog refresh: decide whether a crawl can change the catalog, and check the table a crawl leaves.

Firehose writes many objects an hour. A crawl is worth its cost only when it can change the catalog:
a new hour folder (a partition the table lacks) or a new top-level attribute (a column the table
lacks). Everything else is already queryable through the table's existing partitions.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import urllib.parse
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sales_pipeline.aws import Clients
from sales_pipeline.config import PipelineConfig
from sales_pipeline.resources.base import absent_on

PARTITION_KEYS = ("year", "month", "day", "hour")
# DESIGN.md "Transformed record" as Glue types a crawl of it: a JSON number with no fraction is int
# (bigint past 32 bits), any fraction makes it double; ISO timestamps stay strings.
EXPECTED_COLUMNS: dict[str, frozenset[str]] = {
    "orderid": frozenset({"string"}),
    "product_name": frozenset({"string"}),
    "quantity": frozenset({"int", "bigint"}),
    # An int price would pass today and fail Athena's JSON SerDe on the first price with cents.
    "price": frozenset({"double"}),
    "event_name": frozenset({"string"}),
    "is_deleted": frozenset({"boolean"}),
    "event_id": frozenset({"string"}),
    "sequence_number": frozenset({"string"}),
    "event_time": frozenset({"string"}),
}
# Enough of an object's head to hold its first line (a record is well under this).
HEAD_BYTES = 256 * 1024
# How far before the last crawl the listing of new objects starts (see Catalog.objects_since).
LOOKBACK_HOURS = 2
# After a crawl that did not succeed, how far back new objects are looked for (bounded, not the whole lake).
RETRY_WINDOW = dt.timedelta(days=1)
_HOUR_PATH = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/[^/]+$")


@dataclass
class CrawlPlan:
    crawl: bool
    reason: str
    new_objects: list[str] = field(default_factory=list)
    new_partitions: list[list[str]] = field(default_factory=list)
    new_attributes: list[str] = field(default_factory=list)
    not_json: dict[str, str] = field(default_factory=dict)
    sampled_objects: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def keys_from_notifications(messages: Iterable[Mapping[str, Any]], bucket: str, prefix: str) -> list[str]:
    """Object keys from S3 ObjectCreated notifications as SQS delivers them (AWS_SHAPES.md 6a).

    Keys arrive URL-encoded form-style ('+' for space); s3:TestEvent messages carry no Records.
    """
    keys: list[str] = []
    for message in messages:
        try:
            body = json.loads(message.get("Body", ""))
        except json.JSONDecodeError:
            continue
        for record in body.get("Records", []) if isinstance(body, dict) else []:
            s3 = record.get("s3", {})
            if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
                continue
            if s3.get("bucket", {}).get("name") != bucket:
                continue
            key = urllib.parse.unquote_plus(s3.get("object", {}).get("key", ""))
            if key.startswith(prefix) and key not in keys:
                keys.append(key)
    return keys


def partition_of(key: str, prefix: str) -> list[str] | None:
    """[year, month, day, hour] of an object in a Hive-style hour folder under the prefix."""
    match = _HOUR_PATH.fullmatch(key[len(prefix) :]) if key.startswith(prefix) else None
    return list(match.groups()) if match else None


def _folder(values: list[str]) -> str:
    return "/".join(f"{name}={value}" for name, value in zip(PARTITION_KEYS, values, strict=True)) + "/"


class Catalog:
    """The data lake's S3 objects and its Glue table, as one env's config names them."""

    def __init__(self, clients: Clients, config: PipelineConfig) -> None:
        self.s3 = clients("s3")
        self.glue = clients("glue")
        self.config = config

    # --- what the catalog holds ---------------------------------------------------------------------------
    def table(self) -> dict[str, Any] | None:
        config = self.config
        reply = absent_on(
            {"EntityNotFoundException"},
            lambda: self.glue.get_table(DatabaseName=config.glue_database, Name=config.glue_table),
        )
        return None if reply is None else dict(reply["Table"])

    def partitions(self) -> list[list[str]]:
        config = self.config
        paginator = self.glue.get_paginator("get_partitions")
        values = []
        for page in paginator.paginate(DatabaseName=config.glue_database, TableName=config.glue_table):
            values += [list(partition["Values"]) for partition in page.get("Partitions", [])]
        return sorted(values)

    def missing_partitions(self, wanted: list[list[str]]) -> list[list[str]]:
        config = self.config
        found: set[tuple[str, ...]] = set()
        for start in range(0, len(wanted), 1000):  # BatchGetPartition takes at most 1,000 entries
            asked = [{"Values": values} for values in wanted[start : start + 1000]]
            for _ in range(5):  # UnprocessedKeys (throttling) are asked again, a few times
                reply = self.glue.batch_get_partition(
                    DatabaseName=config.glue_database, TableName=config.glue_table, PartitionsToGet=asked
                )
                found |= {tuple(partition["Values"]) for partition in reply.get("Partitions", [])}
                asked = [entry["PartitionValues"] for entry in reply.get("UnprocessedKeys", [])]
                if not asked:
                    break
        # A partition still unprocessed counts as missing: at worst one crawl too many, never one too few.
        return [values for values in wanted if tuple(values) not in found]

    def last_crawl(self) -> dict[str, Any]:
        return dict(self.glue.get_crawler(Name=self.config.crawler_name)["Crawler"].get("LastCrawl") or {})

    # --- what has landed -----------------------------------------------------------------------------------
    def objects_since(self, since: dt.datetime | None) -> list[dict[str, Any]]:
        """Objects under the data prefix written at or after ``since`` (all of them when None), oldest first.

        Hour folders sort as they happen, so the listing starts LOOKBACK_HOURS folders before ``since``:
        Firehose names an object by its oldest record, which may be older than the object itself. An object
        put into an older folder by hand is found through its landing notification instead.
        """
        config = self.config
        kwargs: dict[str, Any] = {"Bucket": config.bucket, "Prefix": config.data_prefix}
        if since is not None:
            start = since.astimezone(dt.UTC) - dt.timedelta(hours=LOOKBACK_HOURS)
            kwargs["StartAfter"] = config.data_prefix + _folder([f"{start:%Y}", f"{start:%m}", f"{start:%d}",
                                                                 f"{start:%H}"])  # fmt: skip
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(**kwargs):
            for obj in page.get("Contents", []):
                # Empty objects and console "folders" hold no records; Glue skips them too.
                if obj["Size"] == 0 or obj["Key"].endswith("/"):
                    continue
                if since is None or obj["LastModified"] >= since:
                    found.append(obj)
        return sorted(found, key=lambda obj: (obj["LastModified"], obj["Key"]))

    def _read(self, key: str, head_only: bool) -> bytes:
        extra = {"Range": f"bytes=0-{HEAD_BYTES - 1}"} if head_only else {}
        return bytes(self.s3.get_object(Bucket=self.config.bucket, Key=key, **extra)["Body"].read())

    def json_records(self, key: str, head_only: bool = False) -> list[dict[str, Any]] | None:
        """The JSON objects of one newline-delimited object (GZIP detected by its magic bytes, as Glue does),
        or None when the object is gone (deleted since it was notified) or empty.

        Raises ValueError naming the first line that is not a JSON object. With ``head_only`` only the
        first line is read, from the object's first bytes.
        """
        try:
            data = self._read(key, head_only)
        except self.s3.exceptions.NoSuchKey:
            return None
        except ClientError as err:
            if err.response["Error"]["Code"] == "InvalidRange":  # a ranged read of an empty object
                return None
            raise
        if data[:2] == b"\x1f\x8b":
            try:
                data = zlib.decompressobj(wbits=31).decompress(data) if head_only else gzip.decompress(data)
            except (OSError, zlib.error) as err:
                raise ValueError(f"GZIP data is corrupt: {err}") from err
        lines = data.split(b"\n")
        if head_only:
            lines = lines[:1]
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ValueError(f"line {number} is not JSON ({err})") from err
            if not isinstance(record, dict):
                raise ValueError(f"line {number} is a JSON {type(record).__name__}, not an object")
            records.append(record)
        return records  # an empty object has no records and is harmless

    # --- the decision --------------------------------------------------------------------------------------
    def plan(self, notified_keys: list[str], sample_objects: int, force: bool = False) -> CrawlPlan:
        """Whether a crawl can change the catalog, and why (see the module docstring)."""
        config = self.config
        table = self.table()
        last = self.last_crawl()
        since = None
        if table is not None and last.get("StartTime"):
            # S3 LastModified has whole seconds: step back a second so no object written during it is missed.
            since = last["StartTime"].replace(microsecond=0) - dt.timedelta(seconds=1)
            if last.get("Status") != "SUCCEEDED":  # that crawl may have missed objects from before it
                since -= RETRY_WINDOW
        listed = [obj["Key"] for obj in self.objects_since(since)]
        new_objects = listed + [key for key in notified_keys if key not in listed]
        plan = CrawlPlan(crawl=False, reason="", new_objects=new_objects)

        # Every new object's first line must be a JSON object; the newest few are read whole for attributes.
        sampled = set(new_objects[-sample_objects:]) if sample_objects else set()
        attributes: set[str] = set()
        gone = []
        for key in new_objects:
            try:
                records = self.json_records(key, head_only=key not in sampled)
            except ValueError as err:
                plan.not_json[key] = str(err)
                continue
            if records is None:
                gone.append(key)
            for record in records or []:
                attributes.update(name.lower() for name in record)
        plan.new_objects = new_objects = [key for key in new_objects if key not in gone]
        plan.sampled_objects = len(sampled)

        hours = sorted({tuple(values) for key in new_objects if (values := partition_of(key, config.data_prefix))})
        if table is None:
            plan.new_partitions = [list(values) for values in hours]
            known_columns: set[str] = set()
        else:
            plan.new_partitions = self.missing_partitions([list(values) for values in hours])
            known_columns = {column["Name"].lower() for column in _columns(table)} | set(PARTITION_KEYS)
        plan.new_attributes = sorted(attributes - known_columns) if table is not None else []

        last_status = last.get("Status")
        reasons = []
        if force:
            reasons.append("forced by the force_crawl Param")
        if new_objects and last_status not in (None, "SUCCEEDED"):
            reasons.append(f"the last crawl ended {last_status}")
        if new_objects and table is None:
            reasons.append(f"table {config.glue_database}.{config.glue_table} is not in the catalog yet")
        if table is not None and plan.new_partitions:
            reasons.append(f"{len(plan.new_partitions)} new partition(s): "
                           + ", ".join(_folder(values) for values in plan.new_partitions))  # fmt: skip
        logged_only = ""
        if plan.new_attributes and config.crawler_update_behavior == "LOG":
            # A crawl cannot add them (the crawler only logs schema changes): no reason to crawl on their own.
            logged_only = ("; new attribute(s) " + ", ".join(plan.new_attributes)
                           + " stay out of the table: crawler_update_behavior is LOG")  # fmt: skip
        elif plan.new_attributes:
            reasons.append("new attribute(s): " + ", ".join(plan.new_attributes))
        if reasons:
            plan.crawl, plan.reason = True, "; ".join(reasons)
        elif not new_objects:
            plan.reason = "no new object under the data prefix since the last crawl"
        else:
            plan.reason = (f"no crawl needed: {len(new_objects)} new object(s), all in partitions the table has, "
                           "with no new attribute the crawler would add")  # fmt: skip
        plan.reason += logged_only
        return plan

    # --- the check after a crawl ---------------------------------------------------------------------------
    def validate(self, plan: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """Problems with the table after a crawl (empty when all is well), and a summary of the table."""
        config = self.config
        name = f"{config.glue_database}.{config.glue_table}"
        problems: list[str] = []
        last = self.last_crawl()
        if last.get("Status") != "SUCCEEDED":
            problems.append(f"last crawl {last.get('Status')}: {last.get('ErrorMessage', 'no message')}")
        table = self.table()
        if table is None:
            return [*problems, f"table {name} does not exist after the crawl"], {}

        columns = {column["Name"]: column["Type"] for column in _columns(table)}
        for column, types in EXPECTED_COLUMNS.items():
            if column not in columns:
                problems.append(f"column {column} is missing from {name}")
            elif columns[column] not in types:
                problems.append(f"column {column} is {columns[column]}, expected {' or '.join(sorted(types))}")
        keys = [(key["Name"], key["Type"]) for key in table.get("PartitionKeys", [])]
        if keys != [(key, "string") for key in PARTITION_KEYS]:
            problems.append(f"partition keys are {keys}, expected {', '.join(PARTITION_KEYS)} (all string)")
        partitions = self.partitions()
        expected = [list(values) for values in plan.get("new_partitions", [])]
        for values in expected:
            if values not in partitions:
                problems.append(f"partition {_folder(values)} is missing after the crawl")
        if config.crawler_update_behavior == "UPDATE_IN_DATABASE":
            for attribute in plan.get("new_attributes", []):
                if attribute not in columns:
                    problems.append(f"new attribute {attribute} did not become a column")
        for key, why in plan.get("not_json", {}).items():
            problems.append(f"s3://{config.bucket}/{key} is not newline-delimited JSON ({why}); "
                            "the crawler cannot add it to the table and Athena cannot read it")  # fmt: skip
        problems += self._foreign_tables()
        summary = {
            "table": name,
            "columns": columns,
            "partition_keys": [key for key, _ in keys],
            "partitions": len(partitions),
            "partitions_added": [_folder(values) for values in expected if values in partitions],
            "logged_only_attributes": [a for a in plan.get("new_attributes", []) if a not in columns],
            "location": table.get("StorageDescriptor", {}).get("Location"),
        }
        return problems, summary

    def _foreign_tables(self) -> list[str]:
        """Tables a crawl made from objects under the data prefix that are not our JSON (e.g. a stray CSV)."""
        config = self.config
        root = f"s3://{config.bucket}/{config.data_prefix}"
        found = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=config.glue_database):
            for table in page.get("TableList", []):
                location = table.get("StorageDescriptor", {}).get("Location", "")
                if table["Name"] != config.glue_table and location.startswith(root):
                    classification = table.get("Parameters", {}).get("classification", "unknown")
                    found.append(f"table {table['Name']} ({classification}) was made from {location}: "
                                 "an object there is not the pipeline's JSON")  # fmt: skip
        return found

    def describe(self) -> str:
        """The table's schema and partitions as text, for logs and the demo."""
        table = self.table()
        config = self.config
        if table is None:
            return f"{config.glue_database}.{config.glue_table}: not in the catalog"
        partitions = self.partitions()
        width = max((len(column["Name"]) for column in _columns(table) + table.get("PartitionKeys", [])), default=4)
        lines = [f"{config.glue_database}.{config.glue_table}  ({table.get('StorageDescriptor', {}).get('Location')})"]
        lines += [f"  {column['Name']:<{width}}  {column['Type']}" for column in _columns(table)]
        lines += [f"  {key['Name']:<{width}}  {key['Type']}  (partition key)" for key in table.get("PartitionKeys", [])]
        lines.append(f"  {len(partitions)} partition(s):")
        lines += [f"    {_folder(values)}" for values in partitions]
        return "\n".join(lines)


def _columns(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(table.get("StorageDescriptor", {}).get("Columns", []))
