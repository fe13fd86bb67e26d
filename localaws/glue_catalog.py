"""Glue catalog control plane that moto lacks or gets wrong: classifiers, UpdateCrawler, crawler metrics, tags.

awsJson1.1, ``X-Amz-Target: AWSGlue.<Op>``, errors as the Glue model shapes them
(``{"__type": "<Code>", "Message": "..."}``, HTTP 400). moto 5.2.5 has no classifier API, no
UpdateCrawler and no GetCrawlerMetrics; it drops a crawler's LakeFormationConfiguration, fills none of
the defaults AWS fills (SchemaChangePolicy, RecrawlPolicy, LineageConfiguration), reports LastCrawl
with the crawl-history status (``COMPLETED``, or ``RUNNING`` while the first crawl runs) instead of
LastCrawlStatus (SUCCEEDED | CANCELLED | FAILED), and tags any ARN, even of a crawler that does not exist.

Implemented here:

- CreateClassifier / GetClassifier / GetClassifiers / UpdateClassifier / DeleteClassifier for the
  Json, Grok, XML and Csv kinds (one namespace; CreationTime, LastUpdated, Version + 1 per update).
  Kept in this module, per account and region (moto has no model for them).
- CreateCrawler (moto's backend, plus validation, AWS's defaults and LakeFormationConfiguration),
  UpdateCrawler (only the members given change; Version + 1, LastUpdated; CrawlerRunningException
  while a crawl runs), GetCrawler / GetCrawlers / BatchGetCrawlers (moto's crawler objects, with
  LastCrawl taken from the last finished crawl and its status in the LastCrawlStatus enum).
- GetCrawlerMetrics from a ``CrawlerMetrics`` record per crawler (zeros until a crawl ran), which
  the crawl runner updates through ``GlueCatalog.metrics_for(crawler)``.
- TagResource / UntagResource / GetTags over moto's tagger, refusing ARNs of crawlers and databases
  that do not exist (EntityNotFoundException) and of classifiers, which Glue cannot tag.

Crawl execution is in ``glue_crawler`` (StartCrawler / StopCrawler / DeleteCrawler). Its runner ends a
crawl by setting the moto crawl's status (``COMPLETED``, ``FAILED`` or ``STOPPED``, the ListCrawls
vocabulary; an ``error_message`` attribute becomes LastCrawl.ErrorMessage) and calling ``record_crawl``
on the metrics; GetCrawler shows ``CrawlElapsedTime`` (milliseconds) while a crawl runs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import utcnow
from moto.glue.models import FakeCrawler, GlueBackend, glue_backends
from werkzeug.wrappers import Request, Response

from localaws.awsrequest import account_of, region_of

_TARGET_PREFIX = "AWSGlue."
_GLUE_ARN = re.compile(
    r"^arn:aws(-(cn|us-gov|iso(-[bef])?))?:glue:(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)$"
)
_CRON = re.compile(r"^cron\(\s*\S+(\s+\S+){5}\s*\)$")
CLASSIFIER_KINDS = ("GrokClassifier", "XMLClassifier", "JsonClassifier", "CsvClassifier")
# Members each kind requires on create (model shapes Create<Kind>Request).
_REQUIRED = {
    "GrokClassifier": ("Classification", "Name", "GrokPattern"),
    "XMLClassifier": ("Classification", "Name"),
    "JsonClassifier": ("Name", "JsonPath"),
    "CsvClassifier": ("Name",),
}
_ALLOWED = {
    "GrokClassifier": {"Classification", "Name", "GrokPattern", "CustomPatterns"},
    "XMLClassifier": {"Classification", "Name", "RowTag"},
    "JsonClassifier": {"Name", "JsonPath"},
    "CsvClassifier": {
        "Name", "Delimiter", "QuoteSymbol", "ContainsHeader", "Header", "DisableValueTrimming",
        "AllowSingleColumn", "CustomDatatypeConfigured", "CustomDatatypes", "Serde",
    },
}  # fmt: skip
# What GetCrawler shows for members CreateCrawler left out (as AWS fills them in).
_CRAWLER_DEFAULTS: dict[str, dict[str, Any]] = {
    "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE"},
    "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
    "LineageConfiguration": {"CrawlerLineageSettings": "DISABLE"},
    "LakeFormationConfiguration": {"UseLakeFormationCredentials": False, "AccountId": ""},
}
_ENUMS = {
    ("SchemaChangePolicy", "UpdateBehavior"): ("LOG", "UPDATE_IN_DATABASE"),
    ("SchemaChangePolicy", "DeleteBehavior"): ("LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"),
    ("RecrawlPolicy", "RecrawlBehavior"): ("CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY", "CRAWL_EVENT_MODE"),
    ("LineageConfiguration", "CrawlerLineageSettings"): ("ENABLE", "DISABLE"),
}
# moto's crawl statuses (ListCrawls' vocabulary) -> LastCrawlInfo.Status.
_LAST_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "SUCCEEDED": "SUCCEEDED", "STOPPED": "CANCELLED",
                      "CANCELLED": "CANCELLED", "FAILED": "FAILED"}  # fmt: skip
# UpdateCrawler member -> moto FakeCrawler attribute.
_CRAWLER_ATTRIBUTES = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Schedule": "schedule",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


class GlueError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> Response:
        return Response(
            json.dumps({"__type": self.code, "Message": self.message}),
            status=400,
            content_type="application/x-amz-json-1.1",
            headers={"x-amzn-ErrorType": self.code},
        )


def _invalid(message: str) -> GlueError:
    return GlueError("InvalidInputException", message)


@dataclass
class CrawlerMetrics:
    """What GetCrawlerMetrics reports for one crawler; the crawl runner keeps it current."""

    runtimes: list[float] = field(default_factory=list)
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    time_left_seconds: float = 0.0
    still_estimating: bool = False

    def record_crawl(
        self, runtime_seconds: float, tables_created: int = 0, tables_updated: int = 0, tables_deleted: int = 0
    ) -> None:
        """A finished crawl: its runtime joins the median, its table counts replace the last ones."""
        self.runtimes.append(max(0.0, float(runtime_seconds)))
        self.tables_created, self.tables_updated, self.tables_deleted = tables_created, tables_updated, tables_deleted
        self.time_left_seconds, self.still_estimating = 0.0, False

    def as_api(self, crawler_name: str) -> dict[str, Any]:
        return {
            "CrawlerName": crawler_name,
            "TimeLeftSeconds": self.time_left_seconds,
            "StillEstimating": self.still_estimating,
            "LastRuntimeSeconds": self.runtimes[-1] if self.runtimes else 0.0,
            "MedianRuntimeSeconds": float(statistics.median(self.runtimes)) if self.runtimes else 0.0,
            "TablesCreated": self.tables_created,
            "TablesUpdated": self.tables_updated,
            "TablesDeleted": self.tables_deleted,
        }


@dataclass
class StoredClassifier:
    kind: str  # one of CLASSIFIER_KINDS
    members: dict[str, Any]  # as given: Name, JsonPath, ...
    creation_time: dt.datetime
    last_updated: dt.datetime
    version: int = 1

    @property
    def name(self) -> str:
        return str(self.members["Name"])

    def as_api(self) -> dict[str, Any]:
        return {
            self.kind: {
                **self.members,
                "CreationTime": _epoch(self.creation_time),
                "LastUpdated": _epoch(self.last_updated),
                "Version": self.version,
            }
        }


class GlueCatalog:
    name = "glue"
    actions = {
        "glue": [
            "CreateClassifier", "GetClassifier", "GetClassifiers", "UpdateClassifier", "DeleteClassifier",
            "CreateCrawler", "UpdateCrawler", "GetCrawler", "GetCrawlers", "BatchGetCrawlers", "GetCrawlerMetrics",
            "TagResource", "UntagResource", "GetTags",
        ]
    }  # fmt: skip

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._classifiers: dict[tuple[str, str], dict[str, StoredClassifier]] = {}
        # Keyed by moto's crawler object, so a crawler deleted and created again starts afresh.
        self._metrics: weakref.WeakKeyDictionary[FakeCrawler, CrawlerMetrics] = weakref.WeakKeyDictionary()
        self._lake_formation: weakref.WeakKeyDictionary[FakeCrawler, dict[str, Any]] = weakref.WeakKeyDictionary()
        self._operations: dict[str, Callable[[GlueBackend, tuple[str, str], dict[str, Any]], dict[str, Any]]] = {
            "CreateClassifier": self.create_classifier,
            "GetClassifier": self.get_classifier,
            "GetClassifiers": self.get_classifiers,
            "UpdateClassifier": self.update_classifier,
            "DeleteClassifier": self.delete_classifier,
            "CreateCrawler": self.create_crawler,
            "UpdateCrawler": self.update_crawler,
            "GetCrawler": self.get_crawler,
            "GetCrawlers": self.get_crawlers,
            "BatchGetCrawlers": self.batch_get_crawlers,
            "GetCrawlerMetrics": self.get_crawler_metrics,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "GetTags": self.get_tags,
        }

    # -- extension protocol -------------------------------------------------------------------
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        target = request.headers.get("X-Amz-Target", "")
        if request.method == "POST" and target.startswith(_TARGET_PREFIX):
            operation = self._operations.get(target[len(_TARGET_PREFIX) :])
            if operation is not None:
                return self._handler(operation)
        return None

    def _handler(
        self, operation: Callable[[GlueBackend, tuple[str, str], dict[str, Any]], dict[str, Any]]
    ) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            scope = (account_of(request), region_of(request))
            try:
                try:
                    body = json.loads(request.get_data() or b"{}")
                except ValueError as err:
                    raise _invalid(f"Request body is not valid JSON: {err}") from err
                if not isinstance(body, dict):
                    raise _invalid("Request body must be a JSON object")
                with self._lock:
                    result = operation(glue_backends[scope[0]][scope[1]], scope, body)
            except GlueError as err:
                return err.response()
            return Response(json.dumps(result), status=200, content_type="application/x-amz-json-1.1")

        return handle

    # -- the API for a crawl runner -------------------------------------------------------------
    @property
    def lock(self) -> threading.RLock:
        """Held while a request reads or changes a crawler; the crawler extension's StartCrawler takes it too."""
        return self._lock

    def metrics_for(self, crawler: FakeCrawler) -> CrawlerMetrics:
        """The metrics record GetCrawlerMetrics reports for this (moto) crawler, created on first use."""
        with self._lock:
            return self._metrics.setdefault(crawler, CrawlerMetrics())

    def classifier(self, account: str, region: str, name: str) -> StoredClassifier | None:
        with self._lock:
            return self._classifiers.get((account, region), {}).get(name)

    # -- classifiers --------------------------------------------------------------------------------
    def create_classifier(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        kind, members = _one_classifier(body)
        missing = [m for m in _REQUIRED[kind] if members.get(m) in (None, "")]
        if missing:
            raise _invalid(f"{kind}.{missing[0]} is required")
        _validate_classifier(kind, members)
        classifiers = self._classifiers.setdefault(scope, {})
        if members["Name"] in classifiers:
            raise GlueError("AlreadyExistsException", f"Classifier {members['Name']} already exists.")
        now = utcnow()
        classifiers[members["Name"]] = StoredClassifier(kind, dict(members), now, now)
        return {}

    def get_classifier(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {"Classifier": self._stored_classifier(scope, body.get("Name")).as_api()}

    def get_classifiers(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        stored = list(self._classifiers.get(scope, {}).values())
        page, next_token = _page(stored, body)
        return {"Classifiers": [c.as_api() for c in page], **({"NextToken": next_token} if next_token else {})}

    def update_classifier(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        kind, members = _one_classifier(body)
        stored = self._stored_classifier(scope, members.get("Name"))
        if stored.kind != kind:
            raise _invalid(f"Classifier {stored.name} is a {stored.kind}, not a {kind}")
        _validate_classifier(kind, members)
        given = {k: v for k, v in members.items() if v is not None}
        if kind in ("GrokClassifier", "XMLClassifier", "JsonClassifier"):
            for required in _REQUIRED[kind]:
                if given.get(required, stored.members.get(required)) in (None, ""):
                    raise _invalid(f"{kind}.{required} cannot be empty")
        stored.members.update(given)
        stored.version += 1
        stored.last_updated = utcnow()
        return {}

    def delete_classifier(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        stored = self._stored_classifier(scope, body.get("Name"))
        del self._classifiers[scope][stored.name]
        return {}

    def _stored_classifier(self, scope: tuple[str, str], name: Any) -> StoredClassifier:
        if not isinstance(name, str) or not name:
            raise _invalid("Name is required")
        stored = self._classifiers.get(scope, {}).get(name)
        if stored is None:
            raise GlueError("EntityNotFoundException", f"Classifier {name} not found.")
        return stored

    # -- crawlers -------------------------------------------------------------------------------------
    def create_crawler(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        for required in ("Name", "Role", "Targets"):
            if body.get(required) in (None, ""):
                raise _invalid(f"{required} is required")
        _validate_name(body["Name"])
        merged: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
        for member, default in _CRAWLER_DEFAULTS.items():
            merged[member] = {**default, **(body.get(member) or {})}
        _validate_crawler(merged)
        if body["Name"] in backend.crawlers:
            raise GlueError("AlreadyExistsException", "Crawler already exists.")  # moto's text
        backend.create_crawler(
            name=body["Name"],
            role=body["Role"],
            database_name=_absent_as_none(merged, "DatabaseName"),
            description=_absent_as_none(merged, "Description"),
            targets=body["Targets"],
            schedule=_absent_as_none(merged, "Schedule"),
            classifiers=list(merged.get("Classifiers") or []),
            table_prefix=_absent_as_none(merged, "TablePrefix"),
            schema_change_policy=merged["SchemaChangePolicy"],
            recrawl_policy=merged["RecrawlPolicy"],
            lineage_configuration=merged["LineageConfiguration"],
            configuration=_absent_as_none(merged, "Configuration"),
            crawler_security_configuration=_absent_as_none(merged, "CrawlerSecurityConfiguration"),
            tags=body.get("Tags") or {},
        )
        self._lake_formation[backend.crawlers[body["Name"]]] = merged["LakeFormationConfiguration"]
        return {}

    def update_crawler(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        crawler = self._crawler(backend, body.get("Name"))
        if crawler.status in ("RUNNING", "STOPPING"):
            raise GlueError("CrawlerRunningException", f"Crawler with name {crawler.name} has already started")
        given = {k: v for k, v in body.items() if v is not None and k not in ("Name", "CatalogId")}
        current = self._crawler_view(crawler)
        for member in _CRAWLER_DEFAULTS:
            if member in given:
                given[member] = {**_CRAWLER_DEFAULTS[member], **given[member]}
        _validate_crawler({**current, **given})
        for member, attribute in _CRAWLER_ATTRIBUTES.items():
            if member not in given:
                continue
            value = given[member]
            if member in ("Description", "Schedule", "TablePrefix") and value == "":
                value = None  # an empty string removes it
            setattr(crawler, attribute, value)
        if "LakeFormationConfiguration" in given:
            self._lake_formation[crawler] = given["LakeFormationConfiguration"]
        crawler.version += 1
        crawler.last_updated = utcnow()
        return {}

    def get_crawler(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return {"Crawler": _jsonable(self._crawler_view(self._crawler(backend, body.get("Name"))))}

    def get_crawlers(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        page, next_token = _page(list(backend.crawlers.values()), body)
        crawlers = [_jsonable(self._crawler_view(c)) for c in page]
        return {"Crawlers": crawlers, **({"NextToken": next_token} if next_token else {})}

    def batch_get_crawlers(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        names = body.get("CrawlerNames")
        if not isinstance(names, list) or len(names) > 100:
            raise _invalid("CrawlerNames must be a list of at most 100 names")
        found = [backend.crawlers[n] for n in names if n in backend.crawlers]
        return {
            "Crawlers": [_jsonable(self._crawler_view(c)) for c in found],
            "CrawlersNotFound": [n for n in names if n not in backend.crawlers],
        }

    def get_crawler_metrics(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        names = body.get("CrawlerNameList")
        if names is not None and (not isinstance(names, list) or len(names) > 100):
            raise _invalid("CrawlerNameList must be a list of at most 100 names")
        crawlers = list(backend.crawlers.values())
        if names is not None:  # unknown names are left out, as GetCrawlerMetrics lists no error for them
            crawlers = [backend.crawlers[n] for n in dict.fromkeys(names) if n in backend.crawlers]
        page, next_token = _page(crawlers, body)
        metrics = [self._metrics.get(c, CrawlerMetrics()).as_api(c.name) for c in page]
        return {"CrawlerMetricsList": metrics, **({"NextToken": next_token} if next_token else {})}

    def _crawler(self, backend: GlueBackend, name: Any) -> FakeCrawler:
        if not isinstance(name, str) or not name:
            raise _invalid("Name is required")
        crawler = backend.crawlers.get(name)
        if crawler is None:
            raise GlueError("EntityNotFoundException", f"Crawler entry with name {name} does not exist")
        return crawler

    def _crawler_view(self, crawler: FakeCrawler) -> dict[str, Any]:
        """GetCrawler's Crawler structure, from moto's object and what this module keeps beside it."""
        view = {k: v for k, v in crawler.as_dict().items() if v is not None and k != "LastCrawl"}
        if view.get("State") in ("RUNNING", "STOPPING") and crawler.crawls:  # milliseconds since the crawl began
            view["CrawlElapsedTime"] = max(0, int((utcnow() - crawler.crawls[-1].start_time).total_seconds() * 1000))
        view["Classifiers"] = list(crawler.classifiers or [])
        view["LakeFormationConfiguration"] = self._lake_formation.get(
            crawler, dict(_CRAWLER_DEFAULTS["LakeFormationConfiguration"])
        )
        finished = [c for c in crawler.crawls if c._status in _LAST_CRAWL_STATUS]  # _status: no state advance
        if finished:
            crawl = finished[-1]
            view["LastCrawl"] = {
                "Status": _LAST_CRAWL_STATUS[str(crawl._status)],
                **({"ErrorMessage": error} if (error := getattr(crawl, "error_message", None)) else {}),
                "LogGroup": crawl.log_group,
                "LogStream": crawl.log_stream,
                "MessagePrefix": crawl.message_prefix,
                "StartTime": crawl.start_time,
            }
        return view

    # -- tags -------------------------------------------------------------------------------------------
    def tag_resource(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        arn = self._taggable(backend, body.get("ResourceArn"))
        tags = body.get("TagsToAdd")
        if not isinstance(tags, dict):
            raise _invalid("TagsToAdd is required")
        _validate_tags(tags)
        if len({**backend.get_tags(arn), **tags}) > 50:
            raise _invalid("A resource can have at most 50 tags")
        backend.tag_resource(arn, tags)
        return {}

    def untag_resource(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        arn = self._taggable(backend, body.get("ResourceArn"))
        keys = body.get("TagsToRemove")
        if not isinstance(keys, list):
            raise _invalid("TagsToRemove is required")
        backend.untag_resource(arn, keys)
        return {}

    def get_tags(self, backend: GlueBackend, scope: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        arn = self._taggable(backend, body.get("ResourceArn"))
        return {"Tags": backend.get_tags(arn)}

    @staticmethod
    def _taggable(backend: GlueBackend, arn: Any) -> str:
        match = _GLUE_ARN.match(arn) if isinstance(arn, str) else None
        if match is None:
            raise _invalid(f"Invalid resource ARN: {arn}")
        kind, _, name = match.group("resource").partition("/")
        if kind == "classifier":
            raise _invalid(f"Tagging is not supported for resource type classifier: {arn}")
        if kind == "crawler" and name not in backend.crawlers:
            raise GlueError("EntityNotFoundException", f"Crawler entry with name {name} does not exist")
        if kind == "database" and name not in backend.databases:
            raise GlueError("EntityNotFoundException", f"Database {name} not found.")
        return arn


def _one_classifier(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    given = [kind for kind in CLASSIFIER_KINDS if body.get(kind) is not None]
    if len(given) != 1:
        raise _invalid("Exactly one of GrokClassifier, XMLClassifier, JsonClassifier or CsvClassifier must be given")
    members = body[given[0]]
    if not isinstance(members, dict):
        raise _invalid(f"{given[0]} must be an object")
    unknown = set(members) - _ALLOWED[given[0]]
    if unknown:
        raise _invalid(f"Unknown member(s) of {given[0]}: {', '.join(sorted(unknown))}")
    return given[0], members


def _validate_classifier(kind: str, members: Mapping[str, Any]) -> None:
    if "Name" in members:
        _validate_name(members["Name"])
    json_path = members.get("JsonPath")
    if json_path is not None and (not isinstance(json_path, str) or not json_path.startswith("$")):
        raise _invalid(f"Invalid JsonPath {json_path!r}: a JsonPath starts with $ (e.g. $[*] or $.records[*])")
    grok = members.get("GrokPattern")
    if grok is not None and (not isinstance(grok, str) or not 1 <= len(grok) <= 2048):
        raise _invalid("GrokPattern must be 1 to 2048 characters long")
    for single in ("Delimiter", "QuoteSymbol"):
        value = members.get(single)
        if value is not None and (not isinstance(value, str) or len(value) != 1 or value in "\r\n"):
            raise _invalid(f"{single} must be a single character other than a line break")
    if members.get("ContainsHeader") not in (None, "UNKNOWN", "PRESENT", "ABSENT"):
        raise _invalid("ContainsHeader must be one of UNKNOWN, PRESENT, ABSENT")
    if members.get("Serde") not in (None, "OpenCSVSerDe", "LazySimpleSerDe", "None"):
        raise _invalid("Serde must be one of OpenCSVSerDe, LazySimpleSerDe, None")


def _absent_as_none(members: Mapping[str, Any], name: str) -> Any:
    """A member or None: moto's signatures say str, but it stores None for what a request left out."""
    return members.get(name)


def _validate_name(name: Any) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise _invalid("Name must be 1 to 255 characters long")


def _validate_crawler(crawler: Mapping[str, Any]) -> None:
    for (member, field_name), allowed in _ENUMS.items():
        value = (crawler.get(member) or {}).get(field_name)
        if value is not None and value not in allowed:
            raise _invalid(f"{member}.{field_name} must be one of {', '.join(allowed)} (found: {value})")
    recrawl = (crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior")
    policy = crawler.get("SchemaChangePolicy") or {}
    if recrawl == "CRAWL_NEW_FOLDERS_ONLY" and (
        policy.get("UpdateBehavior") != "LOG" or policy.get("DeleteBehavior") != "LOG"
    ):
        # The Glue docs' rule for incremental crawls.
        raise _invalid(
            'The SchemaChangePolicy for "Crawl new folders only" Amazon S3 target can have only LOG '
            "DeleteBehavior value and LOG UpdateBehavior value."
        )
    schedule = crawler.get("Schedule")
    if isinstance(schedule, dict):
        schedule = schedule.get("ScheduleExpression")
    if schedule and not _CRON.match(schedule):
        raise _invalid(f"Invalid schedule expression {schedule!r}: expected cron(<6 fields>)")
    configuration = crawler.get("Configuration")
    if configuration:
        try:
            if not isinstance(json.loads(configuration), dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            raise _invalid(f"Crawler configuration not valid: {err}") from err
    if len(crawler.get("Description") or "") > 2048:
        raise _invalid("Description must be at most 2048 characters long")
    if len(crawler.get("TablePrefix") or "") > 128:
        raise _invalid("TablePrefix must be at most 128 characters long")
    targets = crawler.get("Targets")
    if targets is not None and not isinstance(targets, dict):
        raise _invalid("Targets must be an object")


def _validate_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(str(value)) > 256 or key.lower().startswith("aws:"):
            raise _invalid(f"Invalid tag {key!r}: keys are 1-128 characters, values up to 256, no aws: prefix")


def _page(items: list[Any], body: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """Glue's MaxResults (1..1000) / NextToken paging over a list in a stable order."""
    max_results = body.get("MaxResults") or 1000
    if not isinstance(max_results, int) or not 1 <= max_results <= 1000:
        raise _invalid("MaxResults must be between 1 and 1000")
    token = body.get("NextToken")
    start = 0
    if token:
        try:
            start = int(token)
        except (TypeError, ValueError) as err:
            raise _invalid("Invalid NextToken") from err
    end = start + max_results
    return items[start:end], (str(end) if end < len(items) else None)


def _epoch(moment: dt.datetime) -> float:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # moto keeps naive UTC
    return aware.timestamp()


def _jsonable(value: Any) -> Any:
    """Datetimes as epoch seconds (awsJson1.1 timestamps), recursively."""
    if isinstance(value, dt.datetime):
        return _epoch(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
