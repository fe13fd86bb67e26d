"""Glue through boto3 against localaws: classifiers, UpdateCrawler, GetCrawlerMetrics, LastCrawl, tags."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.glue.models import glue_backends

from localaws import LocalAWS
from localaws.glue_catalog import GlueCatalog

ROLE = "arn:aws:iam::123456789012:role/glue-crawler"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def glue(aws_client: Callable[[str], Any]) -> Any:
    client = aws_client("glue")
    client.create_database(DatabaseInput={"Name": "glue_test_db"}, Tags={"project": "sales"})
    return client


@pytest.fixture(scope="module")
def account(aws_client: Callable[[str], Any]) -> str:
    return str(aws_client("sts").get_caller_identity()["Account"])


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def create_crawler(glue: Any, name: str, **overrides: Any) -> None:
    settings: dict[str, Any] = {
        "Name": name,
        "Role": ROLE,
        "DatabaseName": "glue_test_db",
        "Description": "sales data",
        "Targets": {"S3Targets": [{"Path": "s3://lake/sales/", "Exclusions": ["**/_temporary/**", "**.tmp"]}]},
        "Classifiers": ["glue-test-json"],
        "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
        "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        "Configuration": json.dumps({"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}),
        "TablePrefix": "raw_",
        "Tags": {"project": "sales", "env": "test"},
        **overrides,
    }
    glue.create_crawler(**{k: v for k, v in settings.items() if v is not None})


def test_json_classifier_lifecycle(glue: Any) -> None:
    glue.create_classifier(JsonClassifier={"Name": "glue-test-json", "JsonPath": "$[*]"})
    created = glue.get_classifier(Name="glue-test-json")["Classifier"]["JsonClassifier"]
    assert created["Name"] == "glue-test-json"
    assert created["JsonPath"] == "$[*]"
    assert created["Version"] == 1
    assert created["LastUpdated"] == created["CreationTime"]

    glue.update_classifier(JsonClassifier={"Name": "glue-test-json", "JsonPath": "$.records[*]"})
    updated = glue.get_classifier(Name="glue-test-json")["Classifier"]["JsonClassifier"]
    assert updated["JsonPath"] == "$.records[*]"
    assert updated["Version"] == 2
    assert updated["CreationTime"] == created["CreationTime"]
    assert updated["LastUpdated"] > created["LastUpdated"]

    names = [c["JsonClassifier"]["Name"] for c in glue.get_classifiers()["Classifiers"] if "JsonClassifier" in c]
    assert "glue-test-json" in names


def test_classifier_errors(glue: Any) -> None:
    glue.create_classifier(JsonClassifier={"Name": "glue-test-dup", "JsonPath": "$"})
    with pytest.raises(ClientError) as caught:
        glue.create_classifier(JsonClassifier={"Name": "glue-test-dup", "JsonPath": "$[*]"})
    assert error_of(caught) == ("AlreadyExistsException", 400)
    for call in (
        lambda: glue.get_classifier(Name="glue-test-missing"),
        lambda: glue.update_classifier(JsonClassifier={"Name": "glue-test-missing", "JsonPath": "$"}),
        lambda: glue.delete_classifier(Name="glue-test-missing"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("EntityNotFoundException", 400)
    for bad in (
        {},  # no kind at all
        {
            "JsonClassifier": {"Name": "glue-test-two", "JsonPath": "$"},
            "XMLClassifier": {"Name": "x", "Classification": "xml"},
        },
        {"JsonClassifier": {"Name": "glue-test-bad-path", "JsonPath": "records[*]"}},
    ):
        with pytest.raises(ClientError) as caught:
            glue.create_classifier(**bad)
        assert error_of(caught) == ("InvalidInputException", 400)
    with pytest.raises(ClientError) as caught:  # a JSON classifier cannot be updated as a Grok one
        glue.update_classifier(GrokClassifier={"Name": "glue-test-dup", "GrokPattern": "%{WORD:w}"})
    assert error_of(caught) == ("InvalidInputException", 400)
    glue.delete_classifier(Name="glue-test-dup")
    with pytest.raises(ClientError) as caught:
        glue.get_classifier(Name="glue-test-dup")
    assert error_of(caught) == ("EntityNotFoundException", 400)


def test_grok_xml_and_csv_classifiers_are_stored_and_paged(glue: Any) -> None:
    glue.create_classifier(
        GrokClassifier={"Name": "glue-test-grok", "Classification": "logs", "GrokPattern": "%{COMBINEDAPACHELOG}"}
    )
    glue.create_classifier(XMLClassifier={"Name": "glue-test-xml", "Classification": "xml", "RowTag": "order"})
    glue.create_classifier(
        CsvClassifier={"Name": "glue-test-csv", "Delimiter": ";", "ContainsHeader": "PRESENT", "Header": ["a", "b"]}
    )
    assert glue.get_classifier(Name="glue-test-grok")["Classifier"]["GrokClassifier"]["GrokPattern"] == (
        "%{COMBINEDAPACHELOG}"
    )
    assert glue.get_classifier(Name="glue-test-xml")["Classifier"]["XMLClassifier"]["RowTag"] == "order"
    glue.update_classifier(CsvClassifier={"Name": "glue-test-csv", "Delimiter": ","})
    csv = glue.get_classifier(Name="glue-test-csv")["Classifier"]["CsvClassifier"]
    assert (csv["Delimiter"], csv["Header"], csv["ContainsHeader"], csv["Version"]) == (",", ["a", "b"], "PRESENT", 2)

    seen: list[str] = []
    token: str | None = None
    while True:
        page = glue.get_classifiers(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["Classifiers"]) <= 2
        seen += [next(iter(c.values()))["Name"] for c in page["Classifiers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert {"glue-test-grok", "glue-test-xml", "glue-test-csv"} <= set(seen)
    assert len(seen) == len(set(seen))


def test_get_crawler_returns_what_was_created(glue: Any) -> None:
    create_crawler(glue, "glue-test-full", LakeFormationConfiguration={"UseLakeFormationCredentials": False})
    crawler = glue.get_crawler(Name="glue-test-full")["Crawler"]
    assert crawler["Classifiers"] == ["glue-test-json"]
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    assert json.loads(crawler["Configuration"])["Grouping"] == {"TableGroupingPolicy": "CombineCompatibleSchemas"}
    assert crawler["Targets"]["S3Targets"][0]["Exclusions"] == ["**/_temporary/**", "**.tmp"]
    assert crawler["LakeFormationConfiguration"]["UseLakeFormationCredentials"] is False
    assert (crawler["State"], crawler["Version"], crawler["TablePrefix"]) == ("READY", 1, "raw_")
    assert "LastCrawl" not in crawler  # never crawled

    with pytest.raises(ClientError) as caught:
        create_crawler(glue, "glue-test-full")
    assert error_of(caught) == ("AlreadyExistsException", 400)


def test_crawler_without_policies_shows_the_defaults_aws_fills(glue: Any) -> None:
    create_crawler(glue, "glue-test-defaults", SchemaChangePolicy=None, RecrawlPolicy=None, Classifiers=None)
    crawler = glue.get_crawler(Name="glue-test-defaults")["Crawler"]
    assert crawler["SchemaChangePolicy"] == {
        "UpdateBehavior": "UPDATE_IN_DATABASE",
        "DeleteBehavior": "DEPRECATE_IN_DATABASE",
    }
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert crawler["LineageConfiguration"] == {"CrawlerLineageSettings": "DISABLE"}
    assert crawler["Classifiers"] == []


def test_update_crawler_changes_only_the_members_given(glue: Any) -> None:
    create_crawler(glue, "glue-test-update")
    before = glue.get_crawler(Name="glue-test-update")["Crawler"]

    glue.update_crawler(Name="glue-test-update", Description="hourly", Schedule="cron(15 * * * ? *)")
    after = glue.get_crawler(Name="glue-test-update")["Crawler"]
    assert after["Description"] == "hourly"
    assert after["Schedule"]["ScheduleExpression"] == "cron(15 * * * ? *)"
    assert after["Version"] == before["Version"] + 1
    assert after["LastUpdated"] > before["LastUpdated"]
    assert after["CreationTime"] == before["CreationTime"]
    for unchanged in ("Role", "DatabaseName", "Targets", "Classifiers", "SchemaChangePolicy", "RecrawlPolicy",
                      "Configuration", "TablePrefix"):  # fmt: skip
        assert after[unchanged] == before[unchanged], unchanged

    glue.update_crawler(
        Name="glue-test-update",
        Targets={"S3Targets": [{"Path": "s3://lake/sales-v2/", "Exclusions": ["**.json.tmp"]}]},
        Classifiers=[],
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE"},
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_EVERYTHING"},
        LakeFormationConfiguration={"UseLakeFormationCredentials": True, "AccountId": "123456789012"},
    )
    latest = glue.get_crawler(Name="glue-test-update")["Crawler"]
    assert latest["Targets"]["S3Targets"] == [{"Path": "s3://lake/sales-v2/", "Exclusions": ["**.json.tmp"]}]
    assert latest["Classifiers"] == []
    assert latest["SchemaChangePolicy"]["UpdateBehavior"] == "UPDATE_IN_DATABASE"
    assert latest["LakeFormationConfiguration"] == {"UseLakeFormationCredentials": True, "AccountId": "123456789012"}
    assert latest["Description"] == "hourly"  # from the previous update
    assert latest["Version"] == before["Version"] + 2
    # moto's own BatchGetCrawlers-style listing sees the same object
    listed = {c["Name"]: c for c in glue.get_crawlers()["Crawlers"]}
    assert listed["glue-test-update"]["Targets"] == latest["Targets"]


def test_update_crawler_errors(glue: Any) -> None:
    with pytest.raises(ClientError) as caught:
        glue.update_crawler(Name="glue-test-nope", Description="x")
    assert error_of(caught) == ("EntityNotFoundException", 400)

    create_crawler(glue, "glue-test-guarded")
    with pytest.raises(ClientError) as caught:  # incremental crawls must only log schema changes
        glue.update_crawler(Name="glue-test-guarded", SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE"})
    assert error_of(caught) == ("InvalidInputException", 400)
    with pytest.raises(ClientError) as caught:
        glue.update_crawler(Name="glue-test-guarded", Schedule="every hour")
    assert error_of(caught) == ("InvalidInputException", 400)
    assert glue.get_crawler(Name="glue-test-guarded")["Crawler"]["Version"] == 1  # nothing changed

    glue.start_crawler(Name="glue-test-guarded")
    with pytest.raises(ClientError) as caught:
        glue.update_crawler(Name="glue-test-guarded", Description="while running")
    assert error_of(caught) == ("CrawlerRunningException", 400)


def test_crawler_metrics_are_zero_until_a_crawl_ran(glue: Any, localaws: LocalAWS, account: str) -> None:
    create_crawler(glue, "glue-test-metrics-a")
    create_crawler(glue, "glue-test-metrics-b")
    metrics = glue.get_crawler_metrics(CrawlerNameList=["glue-test-metrics-a", "glue-test-metrics-b", "glue-test-nope"])
    assert [m["CrawlerName"] for m in metrics["CrawlerMetricsList"]] == ["glue-test-metrics-a", "glue-test-metrics-b"]
    assert metrics["CrawlerMetricsList"][0] == {
        "CrawlerName": "glue-test-metrics-a",
        "TimeLeftSeconds": 0.0,
        "StillEstimating": False,
        "LastRuntimeSeconds": 0.0,
        "MedianRuntimeSeconds": 0.0,
        "TablesCreated": 0,
        "TablesUpdated": 0,
        "TablesDeleted": 0,
    }

    # What a crawl runner does when a crawl finishes.
    catalog = next(e for e in localaws.extensions if isinstance(e, GlueCatalog))
    record = catalog.metrics_for(glue_backends[account][REGION].crawlers["glue-test-metrics-a"])
    record.record_crawl(40.0, tables_created=1)
    record.record_crawl(44.0, tables_updated=1)
    record.record_crawl(60.0, tables_updated=2)
    after = glue.get_crawler_metrics(CrawlerNameList=["glue-test-metrics-a"])["CrawlerMetricsList"][0]
    assert (after["LastRuntimeSeconds"], after["MedianRuntimeSeconds"]) == (60.0, 44.0)
    assert (after["TablesCreated"], after["TablesUpdated"], after["TablesDeleted"]) == (0, 2, 0)

    page = glue.get_crawler_metrics(CrawlerNameList=["glue-test-metrics-a", "glue-test-metrics-b"], MaxResults=1)
    assert len(page["CrawlerMetricsList"]) == 1 and page["NextToken"]
    rest = glue.get_crawler_metrics(
        CrawlerNameList=["glue-test-metrics-a", "glue-test-metrics-b"], MaxResults=1, NextToken=page["NextToken"]
    )
    assert rest["CrawlerMetricsList"][0]["CrawlerName"] == "glue-test-metrics-b"
    assert "NextToken" not in rest


def test_last_crawl_reports_the_finished_crawl_in_the_api_enum(glue: Any, account: str) -> None:
    create_crawler(glue, "glue-test-lastcrawl")
    glue.start_crawler(Name="glue-test-lastcrawl")
    running = glue.get_crawler(Name="glue-test-lastcrawl")["Crawler"]
    assert running["State"] == "RUNNING"
    assert "LastCrawl" not in running  # the first crawl has not finished

    # A crawl runner finishes the crawl the way moto records it (ListCrawls vocabulary).
    glue_backends[account][REGION].crawlers["glue-test-lastcrawl"].crawls[-1].status = "COMPLETED"
    finished = glue.get_crawler(Name="glue-test-lastcrawl")["Crawler"]
    assert finished["State"] == "READY"
    assert finished["LastCrawl"]["Status"] == "SUCCEEDED"
    assert finished["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers"


def test_tags_on_crawlers_and_databases(glue: Any, account: str) -> None:
    create_crawler(glue, "glue-test-tags")
    crawler_arn = f"arn:aws:glue:{REGION}:{account}:crawler/glue-test-tags"
    database_arn = f"arn:aws:glue:{REGION}:{account}:database/glue_test_db"
    assert glue.get_tags(ResourceArn=crawler_arn)["Tags"] == {"project": "sales", "env": "test"}
    glue.tag_resource(ResourceArn=crawler_arn, TagsToAdd={"owner": "data"})
    glue.untag_resource(ResourceArn=crawler_arn, TagsToRemove=["env"])
    assert glue.get_tags(ResourceArn=crawler_arn)["Tags"] == {"project": "sales", "owner": "data"}
    assert glue.get_tags(ResourceArn=database_arn)["Tags"] == {"project": "sales"}
    assert "glue-test-tags" in glue.list_crawlers(Tags={"owner": "data"})["CrawlerNames"]

    for arn, code in (
        (f"arn:aws:glue:{REGION}:{account}:crawler/glue-test-nope", "EntityNotFoundException"),
        (f"arn:aws:glue:{REGION}:{account}:database/nope", "EntityNotFoundException"),
        (f"arn:aws:glue:{REGION}:{account}:classifier/glue-test-json", "InvalidInputException"),  # not taggable
    ):
        with pytest.raises(ClientError) as caught:
            glue.tag_resource(ResourceArn=arn, TagsToAdd={"k": "v"})
        assert error_of(caught) == (code, 400)


def test_batch_get_crawlers_names_the_missing(glue: Any) -> None:
    create_crawler(glue, "glue-test-batch")
    reply = glue.batch_get_crawlers(CrawlerNames=["glue-test-batch", "glue-test-nope"])
    assert [c["Name"] for c in reply["Crawlers"]] == ["glue-test-batch"]
    assert reply["CrawlersNotFound"] == ["glue-test-nope"]
    assert reply["Crawlers"][0]["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
