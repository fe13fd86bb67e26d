"""The Glue catalog side: database, JSON classifier, and the crawler over the data prefix."""

from __future__ import annotations

import json
from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Exact, Resource, Section, absent_on, retry_while, unwrap, wait_until
from sales_pipeline.resources.names import Names

# Each line Firehose writes is one JSON object: the object itself is the record.
JSON_PATH = "$"
EXCLUSIONS = ["**/_temporary/**", "**.tmp"]


def crawler_configuration() -> dict[str, Any]:
    # One table for the prefix, whatever small schema differences the hours have; partitions follow the table.
    return {
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    }


def crawler_settings(names: Names) -> dict[str, Any]:
    config = names.config
    update = config.crawler_update_behavior
    return {
        "Role": names.role_arn("crawler"),
        "DatabaseName": config.glue_database,
        "Description": f"sales-stream {config.env}: catalogs {names.s3_uri(config.data_prefix)}",
        "Targets": {"S3Targets": [{"Path": names.s3_uri(config.data_prefix), "Exclusions": EXCLUSIONS}]},
        "Classifiers": [config.classifier_name],
        "SchemaChangePolicy": {"UpdateBehavior": update, "DeleteBehavior": "LOG"},
        # Glue allows incremental (new folders only) crawls only when schema changes are just logged;
        # a crawl that may add columns must look at everything.
        "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY" if update == "LOG" else "CRAWL_EVERYTHING"},
        "Configuration": Exact(crawler_configuration()),
    }


class GlueDatabase(Resource):
    kind = "Glue database"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.glue = clients("glue")
        self.names = names
        self.name = names.config.glue_database

    def exists(self) -> bool:
        return absent_on({"EntityNotFoundException"}, lambda: self.glue.get_database(Name=self.name)) is not None

    def arn(self) -> str:
        return self.names.glue_database_arn

    def create(self) -> None:
        self.glue.create_database(
            DatabaseInput={"Name": self.name, "Description": f"sales-stream {self.names.config.env} data lake"},
            Tags=self.names.config.tags,
        )

    def delete(self) -> None:
        self.glue.delete_database(Name=self.name)

    def tags(self) -> dict[str, str]:
        return dict(self.glue.get_tags(ResourceArn=self.arn()).get("Tags", {}))

    def sections(self) -> list[Section]:
        return [Section("Tags", self.names.config.tags, self.tags,
                        lambda want: self.glue.tag_resource(ResourceArn=self.arn(), TagsToAdd=want))]  # fmt: skip


class JsonClassifier(Resource):
    """Glue classifiers take no tags: ours is the one our (tagged) crawler uses, and only that one."""

    kind = "Glue classifier"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.glue = clients("glue")
        self.names = names
        self.name = names.config.classifier_name
        self.crawler = Crawler(clients, names)

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"EntityNotFoundException"}, lambda: self.glue.get_classifier(Name=self.name))
        return None if reply is None else dict(reply["Classifier"].get("JsonClassifier", {}))

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.classifier_arn

    def create(self) -> None:
        self.glue.create_classifier(JsonClassifier={"Name": self.name, "JsonPath": JSON_PATH})

    def delete(self) -> None:
        self.glue.delete_classifier(Name=self.name)

    def tags(self) -> dict[str, str]:
        described = self.crawler.describe()
        if described is None or self.name not in described.get("Classifiers", []):
            return {}
        return self.crawler.tags()

    def sections(self) -> list[Section]:
        return [
            Section("JsonPath", JSON_PATH, lambda: (self.describe() or {}).get("JsonPath"),
                    lambda want: self.glue.update_classifier(JsonClassifier={"Name": self.name, "JsonPath": want})),
        ]  # fmt: skip


class Crawler(Resource):
    kind = "Glue crawler"

    def __init__(self, clients: Clients, names: Names) -> None:
        self.glue = clients("glue")
        self.names = names
        self.name = names.config.crawler_name

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"EntityNotFoundException"}, lambda: self.glue.get_crawler(Name=self.name))
        return None if reply is None else dict(reply["Crawler"])

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.crawler_arn

    def _api(self, want: dict[str, Any]) -> dict[str, Any]:
        return {**want, "Configuration": json.dumps(want["Configuration"])}

    def create(self) -> None:
        want = self._api(unwrap(crawler_settings(self.names)))
        # Glue validates that it can assume the role; a just-created role may need a moment.
        retry_while({"InvalidInputException"},
                    lambda: self.glue.create_crawler(Name=self.name, Tags=self.names.config.tags, **want),
                    timeout_s=60)  # fmt: skip

    def delete(self) -> None:
        crawler = self.describe() or {}
        if crawler.get("State") == "RUNNING":
            self.glue.stop_crawler(Name=self.name)
        wait_until(lambda: (self.describe() or {}).get("State", "READY") == "READY",
                   f"crawler {self.name} to stop", 600)  # fmt: skip
        self.glue.delete_crawler(Name=self.name)

    def tags(self) -> dict[str, str]:
        return dict(self.glue.get_tags(ResourceArn=self.arn()).get("Tags", {}))

    def health(self) -> list[str]:
        crawler = self.describe()
        if crawler is None:
            return ["does not exist"]
        last = crawler.get("LastCrawl", {})
        if last.get("Status") == "FAILED":
            return [f"last crawl FAILED: {last.get('ErrorMessage', 'no message')}"]
        return []

    def wait_ready(self, timeout_s: float = 600) -> None:
        """A crawler is ready once it exists: a failed earlier crawl is verify's finding, not provisioning's."""
        wait_until(self.exists, f"crawler {self.name} to exist", timeout_s)

    def _read_settings(self) -> Any:
        crawler = self.describe() or {}
        return {**crawler, "Configuration": json.loads(crawler["Configuration"]) if crawler.get("Configuration")
                else None}  # fmt: skip

    def sections(self) -> list[Section]:
        return [
            Section("Settings", crawler_settings(self.names), self._read_settings,
                    lambda want: self.glue.update_crawler(Name=self.name, **self._api(want))),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.glue.tag_resource(ResourceArn=self.arn(), TagsToAdd=want)),
        ]  # fmt: skip
