"""Glue crawler execution: StartCrawler runs a crawl over the crawler's S3 targets and writes the catalog.

moto 5.2.5 records a crawl on StartCrawler and never runs it (states stick at RUNNING until a
ListCrawls advances them). This extension takes over ``StartCrawler``, ``StopCrawler`` and
``DeleteCrawler`` (awsJson1.1, ``X-Amz-Target: AWSGlue.<Op>``) and runs each crawl on its own
thread, straight on moto's backends (S3 objects read in-process; tables and partitions written into
moto's Glue catalog, so GetTable / GetPartitions / Athena see them):

1. **RUNNING.** The crawl lists every S3 target (``S3Targets[].Path``) minus its ``Exclusions``
   (Glue's globs, relative to the path), classifies each object (the crawler's custom JSON
   classifiers in order, then the built-in JSON classifier, else ``UNKNOWN``; GZIP/BZIP2/ZIP by magic
   bytes) and infers the schema (``glue_schema``). The compatible objects of a target (one
   classification and compression) make one table named after the target folder, with a partition
   per folder at the depth of the shallowest object; every other object gets a table of its own,
   named after the object. Then it writes the catalog under the SchemaChangePolicy and the
   Configuration (``CrawlerOutput.Partitions.AddOrUpdateBehavior: InheritFromTable``,
   ``CrawlerOutput.Tables.AddOrUpdateBehavior: MergeNewColumns``), and RecrawlPolicy
   ``CRAWL_NEW_FOLDERS_ONLY`` reads only partition folders not crawled before.
2. **STOPPING**, briefly, then **READY** with ``LastCrawl`` SUCCEEDED, FAILED (with ``ErrorMessage``)
   or CANCELLED (after StopCrawler), and ``GetCrawlerMetrics`` updated (``CrawlerMetrics.record_crawl``).

A crawl lasts at least ``MIN_RUN_S`` in RUNNING and ``STOPPING_S`` in STOPPING (a real crawl takes a
minute or more; these keep a test's waiter fast while still showing every state). Each crawl writes
its log, in Glue's words (``[<MessagePrefix>] BENCHMARK : Running Start Crawl for Crawler <name>``,
``INFO : Created table sales in database db``, ...), to CloudWatch Logs group ``/aws-glue/crawlers``,
stream ``<crawler name>``. ``stop()`` cancels the crawls this instance runs and joins their threads.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import utcnow
from moto.glue.models import FakeCrawl, FakeCrawler, FakeDatabase, FakePartition, FakeTable, GlueBackend, glue_backends
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.s3.models import FakeKey, s3_backends
from moto.utilities.utils import get_partition
from werkzeug.wrappers import Request, Response

from localaws import glue_schema as schema
from localaws.awsrequest import account_of, region_of
from localaws.glue_catalog import GlueCatalog, GlueError
from localaws.s3_policy import Caller, Decision, bucket_policy, evaluate_policy

log = logging.getLogger("localaws.glue")

MIN_RUN_S = 0.25  # shortest RUNNING phase of a crawl
STOPPING_S = 0.1  # how long a finishing crawl shows STOPPING
POLL_S = 0.01
LOG_GROUP = "/aws-glue/crawlers"
DEFAULT_DATABASE = "default"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
INTERNAL_ERROR = "Internal Service Exception"
ROLE_ERROR = "Service is unable to assume provided role. Please verify role's TrustPolicy"
# Parameters the crawler owns on a table (others, e.g. a user's projection settings, are kept).
_CRAWLER_PARAMETERS = {
    "CrawlerSchemaDeserializerVersion",
    "CrawlerSchemaSerializerVersion",
    "UPDATED_BY_CRAWLER",
    "CRAWL_RUN_ID",
    "averageRecordSize",
    "classification",
    "compressionType",
    "objectCount",
    "recordCount",
    "sizeKey",
    "typeOfData",
}
_TARGET_PREFIX = "AWSGlue."


class CrawlFailure(Exception):
    """Ends a crawl FAILED with this message as LastCrawl.ErrorMessage."""


class CrawlStopped(Exception):
    """StopCrawler (or LocalAWS stopping) arrived while the crawl was reading: it ends CANCELLED."""


class LocalCrawl(FakeCrawl):
    """A moto crawl whose status only its runner (and StopCrawler) moves.

    moto's FakeCrawl advances through its state manager whenever ListCrawls reads it; this one keeps
    RUNNING until the crawl really ends, and shows ErrorMessage and Summary in ListCrawls.
    """

    def __init__(self, crawler_name: str) -> None:
        super().__init__(crawler_name)
        self.error_message: str | None = None
        self.summary: str | None = None

    @property
    def status(self) -> str | None:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    def advance(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = super().as_dict()
        if self.error_message:
            described["ErrorMessage"] = self.error_message
        if self.summary:
            described["Summary"] = self.summary
        return described


# -- what a crawl found ------------------------------------------------------------------------------------


@dataclass
class ScannedObject:
    key: str
    uri: str
    size: int  # bytes as stored
    raw_bytes: int  # after decompression
    compression: str
    classification: str
    records: int
    schema: schema.TableSchema
    folders: tuple[str, ...]  # folder names between the target folder and the object


@dataclass
class Stats:
    objects: int = 0
    records: int = 0
    size: int = 0
    raw_bytes: int = 0

    def add(self, scanned: ScannedObject) -> None:
        self.objects += 1
        self.records += scanned.records
        self.size += scanned.size
        self.raw_bytes += scanned.raw_bytes


@dataclass
class PlannedPartition:
    values: list[str]
    location: str
    schema: schema.TableSchema = field(default_factory=schema.TableSchema)
    stats: Stats = field(default_factory=Stats)


@dataclass
class PlannedTable:
    base_name: str  # before a hash suffix for a name another location uses
    location: str
    classification: str
    compression: str
    schema: schema.TableSchema
    stats: Stats
    partition_keys: list[str] = field(default_factory=list)
    partitions: dict[tuple[str, ...], PlannedPartition] = field(default_factory=dict)


@dataclass
class TargetScan:
    uri: str  # s3://bucket/prefix/ (table root)
    readable: bool = True
    tables: list[PlannedTable] = field(default_factory=list)
    crawled_folders: set[str] = field(default_factory=set)


@dataclass
class Counts:
    tables: dict[str, int] = field(default_factory=lambda: {"ADD": 0, "UPDATE": 0, "DELETE": 0})
    partitions: dict[str, int] = field(default_factory=lambda: {"ADD": 0, "UPDATE": 0, "DELETE": 0})


# -- the extension --------------------------------------------------------------------------------------------


class GlueCrawler:
    name = "glue_crawler"
    actions = {"glue": ["StartCrawler", "StopCrawler", "DeleteCrawler"]}

    def __init__(self, catalog: GlueCatalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._runners: dict[int, CrawlRunner] = {}  # by id() of the moto crawl
        self._accepting = False
        # Partition folders each crawler has crawled (for CRAWL_NEW_FOLDERS_ONLY), by crawler name and scope.
        self._crawled: dict[tuple[str, str, str], set[str]] = {}

    # -- extension protocol -------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._accepting = True

    def stop(self) -> None:
        with self._lock:
            self._accepting = False
            runners = list(self._runners.values())
        for runner in runners:
            runner.shutdown()
        for runner in runners:
            runner.join()

    def route(self, request: Request) -> Callable[[Request], Response | None] | None:
        target = request.headers.get("X-Amz-Target", "")
        if request.method != "POST" or not target.startswith(_TARGET_PREFIX):
            return None
        operation = {
            "StartCrawler": self.start_crawler,
            "StopCrawler": self.stop_crawler,
            "DeleteCrawler": self.delete_crawler,
        }.get(target[len(_TARGET_PREFIX) :])
        return None if operation is None else self._handler(operation)

    def _handler(
        self, operation: Callable[[GlueBackend, tuple[str, str], dict[str, Any]], dict[str, Any] | None]
    ) -> Callable[[Request], Response | None]:
        def handle(request: Request) -> Response | None:
            scope = (account_of(request), region_of(request))
            try:
                try:
                    body = json.loads(request.get_data() or b"{}")
                except ValueError as err:
                    raise GlueError("InvalidInputException", f"Request body is not valid JSON: {err}") from err
                if not isinstance(body, dict):
                    raise GlueError("InvalidInputException", "Request body must be a JSON object")
                with self.catalog.lock:
                    result = operation(glue_backends[scope[0]][scope[1]], scope, body)
            except GlueError as err:
                return err.response()
            if result is None:
                return None  # declined: the seam hands the request to moto
            return Response(json.dumps(result), status=200, content_type="application/x-amz-json-1.1")

        return handle

    # -- operations -----------------------------------------------------------------------------
    def start_crawler(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        crawler = _crawler(backend, body.get("Name"))
        if crawler.status in ("RUNNING", "STOPPING"):
            raise GlueError("CrawlerRunningException", f"Crawler with name {crawler.name} has already started")
        crawl = LocalCrawl(crawler.name)
        crawler.crawls.append(crawl)
        self.catalog.metrics_for(crawler).still_estimating = True
        runner = CrawlRunner(self, crawler, crawl, backend, *scope)
        with self._lock:
            if not self._accepting:
                crawl.status, crawl.error_message = "FAILED", INTERNAL_ERROR
                return {}
            self._runners[id(crawl)] = runner
        runner.start()
        return {}

    def stop_crawler(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        crawler = _crawler(backend, body.get("Name"))
        state = crawler.status
        if state == "STOPPING":
            raise GlueError("CrawlerStoppingException", f"Crawler with name {crawler.name} is stopping")
        if state != "RUNNING":
            raise GlueError("CrawlerNotRunningException", f"Crawler with name {crawler.name} isn't running")
        crawl = crawler.crawls[-1]
        crawl.status = "STOPPING"  # the runner (of whichever LocalAWS runs it) sees the request
        with self._lock:
            runner = self._runners.get(id(crawl))
        if runner is not None:
            runner.wake()
        return {}

    def delete_crawler(
        self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]
    ) -> dict[str, Any] | None:
        name = body.get("Name")
        crawler = backend.crawlers.get(name) if isinstance(name, str) else None
        if crawler is not None and crawler.status in ("RUNNING", "STOPPING"):
            raise GlueError("CrawlerRunningException", f"Crawler with name {crawler.name} is running")
        return None  # moto deletes it (or answers EntityNotFoundException)

    # -- for the runners ----------------------------------------------------------------------------
    def crawled_folders(self, account: str, region: str, crawler: str) -> set[str]:
        with self._lock:
            return set(self._crawled.get((account, region, crawler), set()))

    def remember_folders(self, account: str, region: str, crawler: str, folders: set[str]) -> None:
        with self._lock:
            self._crawled.setdefault((account, region, crawler), set()).update(folders)

    def finished(self, runner: CrawlRunner) -> None:
        with self._lock:
            self._runners.pop(id(runner.crawl), None)


def _crawler(backend: GlueBackend, name: Any) -> FakeCrawler:
    if not isinstance(name, str) or not name:
        raise GlueError("InvalidInputException", "Name is required")
    crawler = backend.crawlers.get(name)
    if crawler is None:
        raise GlueError("EntityNotFoundException", f"Crawler entry with name {name} does not exist")
    return crawler


# -- one crawl ------------------------------------------------------------------------------------------------


class CrawlRunner:
    """Runs one crawl on its own thread, from RUNNING to READY."""

    def __init__(
        self,
        owner: GlueCrawler,
        crawler: FakeCrawler,
        crawl: LocalCrawl,
        backend: GlueBackend,
        account: str,
        region: str,
    ) -> None:
        self.owner, self.crawler, self.crawl, self.backend = owner, crawler, crawl, backend
        self.account, self.region = account, region
        self.run_id = crawl.crawl_id
        self._wake = threading.Event()
        self._shutdown = False
        self._finishing = False
        self._thread = threading.Thread(target=self._run, name=f"localaws-glue-crawl-{crawler.name}", daemon=True)
        self._log_stream_ready = False

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def wake(self) -> None:
        self._wake.set()

    def shutdown(self) -> None:
        """LocalAWS is stopping: end the crawl now (CANCELLED) without its usual pauses."""
        self._shutdown = True
        self._wake.set()

    # -- state ----------------------------------------------------------------------------------
    def _ended_elsewhere(self) -> bool:
        return self.crawl._status not in ("RUNNING", "STOPPING")

    def check_stopped(self) -> None:
        """Raise CrawlStopped if the crawl was stopped, or ended elsewhere, meanwhile."""
        if self._stop_requested() or self._ended_elsewhere():
            raise CrawlStopped

    def _stop_requested(self) -> bool:
        return self._shutdown or (self.crawl._status == "STOPPING" and not self._finishing)

    def _pause_until(self, deadline: float) -> bool:
        """Wait until the deadline; False as soon as the crawl is stopped or ended by someone else."""
        while True:
            if self._stop_requested() or self._ended_elsewhere():
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            self._wake.wait(min(POLL_S, remaining))
            self._wake.clear()

    # -- the run ----------------------------------------------------------------------------------
    def _run(self) -> None:
        started = time.monotonic()
        counts = Counts()
        error: str | None = None
        try:
            self.log("BENCHMARK", f"Running Start Crawl for Crawler {self.crawler.name}")
            crawl = Crawl(self)
            crawl.check_role()
            scans = crawl.scan()
            if self._pause_until(started + MIN_RUN_S):
                database = crawl.database_name
                self.log("BENCHMARK", f"Classification complete, writing results to database {database}")
                self.log("INFO", crawl.configuration_line())
                counts = crawl.write(scans)
                self.log("BENCHMARK", "Finished writing to Catalog")
                for kind, numbers in (("PARTITION", counts.partitions), ("TABLE", counts.tables)):
                    if any(numbers.values()):
                        self.log("INFO", f"Run Summary For {kind}:")
                        for action, number in numbers.items():
                            if number:
                                self.log("INFO", f"{action}: {number}")
                if not self._stop_requested():
                    remembered = {folder for scan in scans for folder in scan.crawled_folders}
                    self.owner.remember_folders(self.account, self.region, self.crawler.name, remembered)
        except CrawlStopped:
            pass
        except CrawlFailure as failure:
            error = str(failure)
            self.log("ERROR", error)
            self._pause_until(started + MIN_RUN_S)
        except Exception:
            log.exception("crawler %s: crawl failed unexpectedly", self.crawler.name)
            error = INTERNAL_ERROR
            self.log("ERROR", INTERNAL_ERROR)
        finally:
            try:
                self._finish(started, counts, error)
            finally:
                self.owner.finished(self)

    def _finish(self, started: float, counts: Counts, error: str | None) -> None:
        if self._ended_elsewhere():
            return  # someone else ended this crawl (or the crawler is gone): leave it as it is
        cancelled = self._stop_requested()
        self._finishing = True
        self.crawl.status = "STOPPING"
        if not self._shutdown:
            self._wake.clear()
            self._wake.wait(STOPPING_S)
        if self._ended_elsewhere():
            return
        status = "STOPPED" if cancelled else "FAILED" if error else "COMPLETED"
        summary = {
            kind: {k: v for k, v in numbers.items() if v}
            for kind, numbers in (("TABLE", counts.tables), ("PARTITION", counts.partitions))
        }
        self.crawl.summary = json.dumps({kind: numbers for kind, numbers in summary.items() if numbers})
        self.crawl.error_message = None if cancelled else error
        self.owner.catalog.metrics_for(self.crawler).record_crawl(
            time.monotonic() - started,
            tables_created=counts.tables["ADD"],
            tables_updated=counts.tables["UPDATE"],
            tables_deleted=counts.tables["DELETE"],
        )
        self.log("BENCHMARK", "Crawler has finished running and is in state READY")
        self.crawl.end_time = utcnow()
        self.crawl.status = status

    # -- CloudWatch Logs --------------------------------------------------------------------------
    def log(self, level: str, message: str) -> None:
        line = f"[{self.crawl.message_prefix}] {level} : {message}"
        log.log(logging.WARNING if level == "ERROR" else logging.DEBUG, "crawler %s: %s", self.crawler.name, line)
        try:
            logs = logs_backends[self.account][self.region]
            if not self._log_stream_ready:
                if LOG_GROUP not in logs.groups:
                    logs.create_log_group(LOG_GROUP, {})
                logs.ensure_log_stream(LOG_GROUP, self.crawler.name)
                self._log_stream_ready = True
            logs.put_log_events(LOG_GROUP, self.crawler.name, [{"timestamp": int(time.time() * 1000), "message": line}])
        except Exception:  # the crawl log is a courtesy; a crawl never fails on it
            log.debug("crawler %s: could not write to CloudWatch Logs", self.crawler.name, exc_info=True)


# -- reading S3 and writing the catalog -----------------------------------------------------------------------


class Crawl:
    """The settings of one crawl, what it read, and how it writes the catalog."""

    def __init__(self, runner: CrawlRunner) -> None:
        self.runner = runner
        crawler = runner.crawler
        self.crawler = crawler
        self.account, self.region = runner.account, runner.region
        self.database_name = crawler.database_name or DEFAULT_DATABASE
        self.prefix = crawler.table_prefix or ""
        policy = crawler.schema_change_policy or {}
        self.update_behavior = policy.get("UpdateBehavior") or "UPDATE_IN_DATABASE"
        self.delete_behavior = policy.get("DeleteBehavior") or "DEPRECATE_IN_DATABASE"
        self.incremental = (crawler.recrawl_policy or {}).get("RecrawlBehavior") == "CRAWL_NEW_FOLDERS_ONLY"
        try:
            configuration = json.loads(crawler.configuration) if crawler.configuration else {}
        except ValueError:
            configuration = {}
        self.configuration = configuration if isinstance(configuration, dict) else {}
        output = self.configuration.get("CrawlerOutput") or {}
        self.inherit_from_table = (output.get("Partitions") or {}).get("AddOrUpdateBehavior") == "InheritFromTable"
        self.merge_new_columns = (output.get("Tables") or {}).get("AddOrUpdateBehavior") == "MergeNewColumns"
        self.json_paths: list[str] = []
        for name in crawler.classifiers or []:
            stored = runner.owner.catalog.classifier(self.account, self.region, name)
            if stored is None:
                runner.log("WARN", f"Classifier {name} not found; it is skipped")
            elif stored.kind == "JsonClassifier":
                self.json_paths.append(str(stored.members["JsonPath"]))
            else:
                runner.log("WARN", f"Classifier {name} ({stored.kind}) is not run by localaws; it is skipped")
        self.s3 = s3_backends[self.account][get_partition(self.region)]
        self.now_ms = int(time.time() * 1000)
        self.role_session_arn = f"arn:{get_partition(self.region)}:sts::{self.account}:assumed-role/role/AWS-Crawler"
        self.role_id = "AROA"

    def configuration_line(self) -> str:
        policy = json.dumps({"UpdateBehavior": self.update_behavior, "DeleteBehavior": self.delete_behavior})
        if self.configuration:
            return (
                f"Crawler configured with Configuration {json.dumps(self.configuration)} and SchemaChangePolicy "
                f"{policy}. Note that values in the Configuration override values in the SchemaChangePolicy for "
                "S3 Targets."
            )
        return f"Crawler configured with SchemaChangePolicy {policy}."

    # -- the role ---------------------------------------------------------------------------------
    def check_role(self) -> None:
        """The crawler must be able to assume its role: it exists and trusts glue.amazonaws.com."""
        role_name = str(self.crawler.role or "")
        iam = iam_backends[self.account][get_partition(self.region)]
        roles = iam.get_roles()
        if role_name.startswith("arn:"):
            role = next((r for r in roles if r.arn == role_name), None)
        else:
            role = next((r for r in roles if r.name == role_name.rsplit("/", 1)[-1]), None)
        trust = str(getattr(role, "assume_role_policy_document", "") or "")
        if role is None or "glue.amazonaws.com" not in urllib.parse.unquote(trust):
            raise CrawlFailure(ROLE_ERROR)
        self.role_session_arn = (
            f"arn:{get_partition(self.region)}:sts::{self.account}:assumed-role/{role.name}/AWS-Crawler"
        )
        self.role_id = str(getattr(role, "id", "AROA"))

    # -- reading ------------------------------------------------------------------------------------
    def scan(self) -> list[TargetScan]:
        targets = (self.crawler.targets or {}).get("S3Targets") or []
        return [self._scan_target(target) for target in targets if isinstance(target, dict) and target.get("Path")]

    def _scan_target(self, target: dict[str, Any]) -> TargetScan:
        bucket_name, prefix = _split_s3_path(str(target["Path"]))
        root = f"s3://{bucket_name}/{prefix}"
        found = TargetScan(uri=root)
        bucket = self.s3.buckets.get(bucket_name)
        if bucket is None:
            self._read_error(
                f"The specified bucket does not exist (Service: Amazon S3; Status Code: 404; "
                f"Error Code: NoSuchBucket; Bucket: {bucket_name})"
            )
            found.readable = False
            return found
        if self._denied(bucket_name, "s3:ListBucket", f"arn:aws:s3:::{bucket_name}"):
            self._read_error("Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied)")
            found.readable = False
            return found
        patterns = [schema.glob_regex(str(p)) for p in target.get("Exclusions") or []]
        keys: list[FakeKey] = sorted(self.s3.list_objects(bucket, prefix or None, None, None, None)[0], key=_name)
        listed: list[tuple[FakeKey, str, tuple[str, ...]]] = []
        for key in keys:
            relative = key.name[len(prefix) :]
            if not relative or relative.endswith("/") or key.name.endswith("_$folder$") or not key.size:
                continue  # folder markers and empty objects hold no data
            if schema.excluded(relative, patterns):
                continue
            listed.append((key, relative, tuple(relative.split("/")[:-1])))

        existing = self._table_at(root) if self.incremental else None
        known: set[str] | None = None
        depth = 0
        if existing is not None:
            depth = len(existing.as_dict().get("PartitionKeys") or [])
            known = {_location(p.partition_input) for p in existing.partitions.values()}
            known |= self.runner.owner.crawled_folders(self.account, self.region, self.crawler.name)
        scanned: list[ScannedObject] = []
        for key, _, folders in listed:
            self.runner.check_stopped()
            if known is not None:
                if len(folders) < depth or depth == 0:
                    continue  # read by the crawl that made the table
                folder = root + "/".join(folders[:depth]) + "/"
                if folder in known:
                    continue  # CRAWL_NEW_FOLDERS_ONLY: a folder crawled before
            if self._denied(bucket_name, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key.name}"):
                found.readable = False  # what it holds is unknown: nothing under this target counts as gone
                self._read_error(
                    f"Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied) "
                    f"retrieving file at s3://{bucket_name}/{key.name}"
                )
                continue
            scanned.append(self._classify(key, bucket_name, folders))
        found.tables = self._group(root, scanned, existing)
        for table in found.tables:
            found.crawled_folders.update(p.location for p in table.partitions.values())
        return found

    def _read_error(self, message: str) -> None:
        self.runner.log(
            "ERROR", f"Not all read errors will be logged. com.amazonaws.services.s3.model.AmazonS3Exception: {message}"
        )

    def _denied(self, bucket: str, action: str, resource: str) -> bool:
        policy = bucket_policy(self.account, self.region, bucket)
        if policy is None:
            return False
        caller = Caller(self.role_session_arn, self.account, "AssumedRole", user_id=f"{self.role_id}:AWS-Crawler")
        now = dt.datetime.now(dt.UTC)
        context = {
            "aws:SecureTransport": ["true"],
            "aws:PrincipalArn": [caller.role_arn or self.role_session_arn],
            "aws:PrincipalAccount": [self.account],
            "aws:PrincipalType": ["AssumedRole"],
            "aws:userid": [caller.user_id or ""],
            "aws:CurrentTime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
            "aws:EpochTime": [str(int(now.timestamp()))],
            "aws:RequestedRegion": [self.region],
        }
        return evaluate_policy(policy, action, resource, caller, context) is Decision.DENY

    def _classify(self, key: FakeKey, bucket: str, folders: tuple[str, ...]) -> ScannedObject:
        data = bytes(key.value)
        compression = schema.compression_of(data)
        content = schema.decompress(data, compression)
        text = schema.decode_text(content) if content is not None else None
        classification, reading = schema.UNKNOWN, schema.JsonReading(0, schema.TableSchema())
        if text is not None:
            for json_path in [*self.json_paths, schema.BUILT_IN]:
                try:
                    attempt = schema.read_json(text, json_path)
                except schema.JsonPathError:
                    continue
                if attempt.matched:
                    classification, reading = schema.JSON, attempt
                    break
        uri = f"s3://{bucket}/{key.name}"
        if classification == schema.UNKNOWN:
            self.runner.log("WARN", f"No classifier recognized the data in {uri}: classification {schema.UNKNOWN}")
        return ScannedObject(
            key=key.name,
            uri=uri,
            size=len(data),
            raw_bytes=len(content if content is not None else data),
            compression=compression,
            classification=classification,
            records=reading.records,
            schema=reading.schema,
            folders=folders,
        )

    def _group(self, root: str, scanned: list[ScannedObject], existing: FakeTable | None) -> list[PlannedTable]:
        """One table for the largest compatible group, a table per object for every other object."""
        groups: dict[tuple[str, str], list[ScannedObject]] = {}
        for item in scanned:
            if item.classification != schema.UNKNOWN:
                groups.setdefault((item.classification, item.compression), []).append(item)
        main: list[ScannedObject] = []
        if groups:
            main = max(groups.values(), key=len)  # the first of equals: dicts keep insertion order
        tables: list[PlannedTable] = []
        if main:
            tables.append(self._main_table(root, main, existing))
        in_main = {id(item) for item in main}
        for item in scanned:
            if id(item) in in_main:
                continue
            stats = Stats()
            stats.add(item)
            tables.append(
                PlannedTable(
                    base_name=self.prefix + schema.table_name(item.key.rsplit("/", 1)[-1]),
                    location=item.uri,
                    classification=item.classification,
                    compression=item.compression,
                    schema=item.schema,
                    stats=stats,
                )
            )
        return tables

    def _main_table(self, root: str, items: list[ScannedObject], existing: FakeTable | None) -> PlannedTable:
        folder = root.rstrip("/").rsplit("/", 1)[-1] if root.count("/") > 3 else root[5:].strip("/")
        table = PlannedTable(
            base_name=self.prefix + schema.table_name(folder),
            location=root,
            classification=items[0].classification,
            compression=items[0].compression,
            schema=schema.TableSchema(),
            stats=Stats(),
        )
        existing_keys = [k["Name"] for k in (existing.as_dict().get("PartitionKeys") or [])] if existing else None
        depth = len(existing_keys) if existing_keys is not None else min(len(item.folders) for item in items)
        levels = schema.partition_levels([sorted({item.folders[level] for item in items}) for level in range(depth)])
        if existing_keys is not None:
            levels = [(name, name != f"partition_{i}") for i, name in enumerate(existing_keys)]
        table.partition_keys = [name for name, _ in levels]
        for item in items:
            table.schema = table.schema.merge(item.schema)
            table.stats.add(item)
            if depth:
                folders = item.folders[:depth]
                partition = table.partitions.get(folders)
                if partition is None:
                    partition = table.partitions[folders] = PlannedPartition(
                        values=schema.partition_values(folders, levels), location=root + "/".join(folders) + "/"
                    )
                partition.schema = partition.schema.merge(item.schema)
                partition.stats.add(item)
        return table

    def _table_at(self, location: str) -> FakeTable | None:
        database = self.runner.backend.databases.get(self.database_name)
        if database is None:
            return None
        candidates = [t for t in list(database.tables.values()) if _location(t.as_dict()) == location]
        mine = [
            t
            for t in candidates
            if (t.as_dict().get("Parameters") or {}).get("UPDATED_BY_CRAWLER") == self.crawler.name
        ]
        return next(iter(mine or candidates), None)

    # -- writing ------------------------------------------------------------------------------------
    def write(self, scans: list[TargetScan]) -> Counts:
        database = self._database()
        counts = Counts()
        produced: set[str] = set()
        for scan in scans:
            for planned in scan.tables:
                produced.add(self._write_table(database, planned, counts, scan.readable))
        if not self.incremental:
            for scan in scans:
                if scan.readable:
                    self._vanished_tables(database, scan.uri, produced, counts)
        return counts

    def _database(self) -> FakeDatabase:
        backend = self.runner.backend
        database = backend.databases.get(self.database_name)
        if database is None:
            if self.database_name != DEFAULT_DATABASE:
                raise CrawlFailure(f"Database {self.database_name} not found.")
            database = backend.create_database(
                DEFAULT_DATABASE, {"Name": DEFAULT_DATABASE, "Description": "Default Hive database"}
            )
        return database

    def _write_table(self, database: FakeDatabase, planned: PlannedTable, counts: Counts, complete: bool) -> str:
        current = self._table_at(planned.location)
        if current is None:
            name = planned.base_name
            if name in database.tables:  # the name belongs to a table elsewhere: Glue adds a hash
                name = f"{name}_{hashlib.md5(planned.location.encode()).hexdigest()[:8]}"
            table_input = self._table_input(name, planned, planned.schema.glue_columns(), planned.schema.paths, None)
            table = FakeTable(self.database_name, name, table_input, catalog_id=self.account)
            database.tables = _with(database.tables, name, table)
            counts.tables["ADD"] += 1
            self.runner.log("INFO", f"Created table {name} in database {self.database_name}")
        else:
            table, name = current, current.name
            before = table.as_dict()
            if self.update_behavior == "UPDATE_IN_DATABASE" and not self.incremental:
                columns, paths = self._updated_columns(before, planned)
                table_input = self._table_input(name, planned, columns, paths, before)
                if _schema_view(table_input) != _schema_view(before):
                    table.update(table_input)
                    counts.tables["UPDATE"] += 1
                    self.runner.log("INFO", f"Updated table {name} in database {self.database_name}")
                elif _stats_view(table_input) != _stats_view(before):
                    table.update(table_input)  # fresh statistics; the definition is unchanged
            else:
                proposed = self._table_input(name, planned, planned.schema.glue_columns(), planned.schema.paths, before)
                new = [c["Name"] for c in proposed["StorageDescriptor"]["Columns"] if c not in _columns(before)]
                if new or _schema_view(proposed) != _schema_view(before):
                    detail = f" (new or changed columns: {', '.join(new)})" if new else ""
                    self.runner.log(
                        "INFO",
                        f"Schema change detected for table {name} in database {self.database_name}{detail}; "
                        "the table is not changed because the SchemaChangePolicy UpdateBehavior is LOG",
                    )
        self._write_partitions(table, planned, counts, complete)
        return name

    def _updated_columns(self, before: dict[str, Any], planned: PlannedTable) -> tuple[list[dict[str, str]], str]:
        inferred = planned.schema.glue_columns()
        old = _columns(before)
        old_paths = [
            p
            for p in ((before.get("StorageDescriptor") or {}).get("SerdeInfo") or {})
            .get("Parameters", {})
            .get("paths", "")
            .split(",")
            if p
        ]
        if self.merge_new_columns:  # add new columns only: existing ones keep their types
            names = {c["Name"] for c in old}
            paths = sorted(set(old_paths) | planned.schema.keys)
            return [*old, *[c for c in inferred if c["Name"] not in names]], ",".join(paths)
        by_name = {c["Name"]: c for c in inferred}
        kept = [by_name[c["Name"]] for c in old if c["Name"] in by_name]  # existing order first
        kept_names = {c["Name"] for c in kept}
        return [*kept, *[c for c in inferred if c["Name"] not in kept_names]], planned.schema.paths

    def _write_partitions(self, table: FakeTable, planned: PlannedTable, counts: Counts, complete: bool) -> None:
        """Add and update the planned partitions; ``complete``: every object of the target was read, so a
        partition the plan lacks is gone (DeleteBehavior)."""
        if not planned.partition_keys and not table.partitions:
            return
        table_now = table.as_dict()
        partitions: OrderedDict[str, FakePartition] = OrderedDict(table.partitions)
        update = self.update_behavior == "UPDATE_IN_DATABASE" and not self.incremental
        changed = False
        for folders in sorted(planned.partitions):
            part = planned.partitions[folders]
            wanted = self._partition_input(table_now, planned, part)
            key = str(part.values)
            if key not in partitions:
                partitions[key] = FakePartition(self.database_name, table.name, wanted)
                counts.partitions["ADD"] += 1
                changed = True
            elif update and _partition_view(partitions[key].partition_input) != _partition_view(wanted):
                replacement = FakePartition(self.database_name, table.name, wanted)
                replacement.creation_time = partitions[key].creation_time
                partitions[key] = replacement
                counts.partitions["UPDATE"] += 1
                changed = True
        if update and self.inherit_from_table:  # every partition follows the table's schema
            planned_keys = {str(p.values) for p in planned.partitions.values()}
            for key, partition in list(partitions.items()):
                if key in planned_keys:
                    continue
                descriptor = partition.partition_input.get("StorageDescriptor") or {}
                inherited = self._inherited_descriptor(table_now, descriptor.get("Location", ""), descriptor)
                if inherited != descriptor:
                    refreshed = FakePartition(
                        self.database_name, table.name, {**partition.partition_input, "StorageDescriptor": inherited}
                    )
                    refreshed.creation_time = partition.creation_time
                    partitions[key] = refreshed
                    counts.partitions["UPDATE"] += 1
                    changed = True
        if complete and not self.incremental:
            planned_values = {str(p.values) for p in planned.partitions.values()}
            for key, partition in list(partitions.items()):
                if key in planned_values:
                    continue
                if self.delete_behavior == "DELETE_FROM_DATABASE":
                    del partitions[key]
                    counts.partitions["DELETE"] += 1
                    changed = True
                    self.runner.log(
                        "INFO",
                        f"Deleted partition of table {table.name} with partition values {_bracketed(partition.values)}",
                    )
                else:
                    self.runner.log(
                        "INFO",
                        f"Found partition of table {table.name} with partition values "
                        f"{_bracketed(partition.values)} with no matching schema at the "
                        "partition's S3 location",
                    )
        if changed:
            table.partitions = partitions  # one swap: a concurrent GetPartitions never sees a half-written dict

    def _vanished_tables(self, database: FakeDatabase, root: str, produced: set[str], counts: Counts) -> None:
        for table in list(database.tables.values()):
            described = table.as_dict()
            parameters = described.get("Parameters") or {}
            location = _location(described)
            if (
                table.name in produced
                or parameters.get("UPDATED_BY_CRAWLER") != self.crawler.name
                or not location.startswith(root)
            ):
                continue
            if self.delete_behavior == "DELETE_FROM_DATABASE":
                database.tables = _without(database.tables, table.name)
                counts.tables["DELETE"] += 1
                self.runner.log("INFO", f"Deleted table {table.name} in database {self.database_name}")
            elif self.delete_behavior == "DEPRECATE_IN_DATABASE":
                if "DEPRECATED_BY_CRAWLER" in parameters:
                    continue
                table_input = _as_input(described)
                table_input["Parameters"] = {**parameters, "DEPRECATED_BY_CRAWLER": str(self.now_ms)}
                descriptor = table_input.get("StorageDescriptor")
                if isinstance(descriptor, dict):
                    descriptor["Parameters"] = {
                        **(descriptor.get("Parameters") or {}),
                        "DEPRECATED_BY_CRAWLER": str(self.now_ms),
                    }
                table.update(table_input)
                counts.tables["UPDATE"] += 1
                self.runner.log(
                    "INFO",
                    f"Table {table.name} is marked deprecated because a matching schema was "
                    "not found at the table's location.",
                )
            else:
                self.runner.log(
                    "INFO",
                    f"Table {table.name} in database {self.database_name} has no matching "
                    "schema at the table's location; DeleteBehavior LOG leaves it in the "
                    "catalog",
                )

    # -- shapes ---------------------------------------------------------------------------------------
    def _parameters(self, planned_classification: str, compression: str, stats: Stats) -> dict[str, str]:
        parameters = {
            "CrawlerSchemaDeserializerVersion": "1.0",
            "CrawlerSchemaSerializerVersion": "1.0",
            "UPDATED_BY_CRAWLER": self.crawler.name,
            "CRAWL_RUN_ID": self.runner.run_id,
            "classification": planned_classification,
            "compressionType": compression,
            "typeOfData": "file",
            "objectCount": str(stats.objects),
            "sizeKey": str(stats.size),
        }
        if planned_classification != schema.UNKNOWN:
            parameters["recordCount"] = str(stats.records)
            parameters["averageRecordSize"] = str(stats.raw_bytes // stats.records if stats.records else 0)
        return parameters

    def _descriptor(
        self,
        location: str,
        classification: str,
        compression: str,
        columns: list[dict[str, str]],
        paths: str,
        parameters: dict[str, str],
    ) -> dict[str, Any]:
        descriptor: dict[str, Any] = {"Columns": columns, "Location": location}
        if classification == schema.JSON:
            descriptor["InputFormat"] = TEXT_INPUT
            descriptor["OutputFormat"] = TEXT_OUTPUT
        descriptor["Compressed"] = compression != "none"
        descriptor["NumberOfBuckets"] = -1
        descriptor["SerdeInfo"] = (
            {"SerializationLibrary": JSON_SERDE, "Parameters": {"paths": paths}}
            if classification == schema.JSON
            else {"Parameters": {}}
        )
        descriptor.update(
            {"BucketColumns": [], "SortColumns": [], "Parameters": parameters, "StoredAsSubDirectories": False}
        )
        return descriptor

    def _table_input(
        self, name: str, planned: PlannedTable, columns: list[dict[str, str]], paths: str, before: dict[str, Any] | None
    ) -> dict[str, Any]:
        parameters = self._parameters(planned.classification, planned.compression, planned.stats)
        if before is not None:  # keep what others set: a user's parameters, a deprecation mark
            kept = {k: v for k, v in (before.get("Parameters") or {}).items() if k not in _CRAWLER_PARAMETERS}
            parameters = {**kept, **parameters}
        table_input: dict[str, Any] = {
            "Name": name,
            "Owner": (before or {}).get("Owner", "owner"),
            "Retention": (before or {}).get("Retention", 0),
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in planned.partition_keys],
            "Parameters": parameters,
            "StorageDescriptor": self._descriptor(
                planned.location, planned.classification, planned.compression, columns, paths, dict(parameters)
            ),
            "CreatedBy": (before or {}).get("CreatedBy", self.role_session_arn),
            "IsRegisteredWithLakeFormation": False,
        }
        if before is not None and before.get("Description"):
            table_input["Description"] = before["Description"]
        return table_input

    def _partition_input(self, table: dict[str, Any], planned: PlannedTable, part: PlannedPartition) -> dict[str, Any]:
        parameters = self._parameters(planned.classification, planned.compression, part.stats)
        parameters.pop("CRAWL_RUN_ID")
        parameters.pop("UPDATED_BY_CRAWLER")
        if self.inherit_from_table:
            descriptor = self._inherited_descriptor(table, part.location, {"Parameters": parameters})
        else:
            descriptor = self._descriptor(
                part.location,
                planned.classification,
                planned.compression,
                part.schema.glue_columns(),
                part.schema.paths,
                dict(parameters),
            )
        return {"Values": part.values, "StorageDescriptor": descriptor, "Parameters": parameters}

    @staticmethod
    def _inherited_descriptor(table: dict[str, Any], location: str, descriptor: dict[str, Any]) -> dict[str, Any]:
        """A partition's storage descriptor with the table's columns, formats and SerDe (InheritFromTable)."""
        inherited = copy.deepcopy(table.get("StorageDescriptor") or {})
        inherited["Location"] = location
        inherited["Parameters"] = dict(descriptor.get("Parameters") or {})
        return inherited


# -- helpers ----------------------------------------------------------------------------------------------------


def _split_s3_path(path: str) -> tuple[str, str]:
    """(bucket, key prefix ending in / or empty) of an include path ``s3://bucket[/folder[/]]``."""
    rest = path[len("s3://") :] if path.startswith("s3://") else path
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _location(described: dict[str, Any]) -> str:
    return str((described.get("StorageDescriptor") or {}).get("Location") or "")


def _columns(described: dict[str, Any]) -> list[dict[str, str]]:
    return list((described.get("StorageDescriptor") or {}).get("Columns") or [])


def _schema_view(described: dict[str, Any]) -> Any:
    descriptor = described.get("StorageDescriptor") or {}
    parameters = described.get("Parameters") or {}
    return (
        [(c.get("Name"), c.get("Type")) for c in descriptor.get("Columns") or []],
        [(k.get("Name"), k.get("Type")) for k in described.get("PartitionKeys") or []],
        ((descriptor.get("SerdeInfo") or {}).get("Parameters") or {}).get("paths"),
        parameters.get("classification"),
        parameters.get("compressionType"),
    )


def _stats_view(described: dict[str, Any]) -> Any:
    parameters = described.get("Parameters") or {}
    return {k: parameters.get(k) for k in ("objectCount", "recordCount", "sizeKey", "averageRecordSize")}


def _partition_view(partition_input: dict[str, Any]) -> Any:
    descriptor = dict(partition_input.get("StorageDescriptor") or {})
    return descriptor, partition_input.get("Parameters")


def _as_input(described: dict[str, Any]) -> dict[str, Any]:
    """A TableInput from GetTable's Table: the members Glue computes are not part of it."""
    computed = {"DatabaseName", "CreateTime", "UpdateTime", "VersionId", "CatalogId", "IsMultiDialectView"}
    return copy.deepcopy({k: v for k, v in described.items() if k not in computed})


def _name(key: FakeKey) -> str:
    return str(key.name)


def _bracketed(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _with(tables: dict[str, FakeTable], name: str, table: FakeTable) -> OrderedDict[str, FakeTable]:
    """A copy with one more table: the catalog's dict is swapped whole, never changed under a reader."""
    updated: OrderedDict[str, FakeTable] = OrderedDict(tables)
    updated[name] = table
    return updated


def _without(tables: dict[str, FakeTable], name: str) -> OrderedDict[str, FakeTable]:
    updated: OrderedDict[str, FakeTable] = OrderedDict(tables)
    updated.pop(name, None)
    return updated
