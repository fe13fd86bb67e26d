"""The parts of the catalog refresh that need no AWS: reading S3 notifications and hour folders."""

from __future__ import annotations

import json

from sales_pipeline.catalog import keys_from_notifications, partition_of


def message(*records: dict) -> dict:
    return {"MessageId": "m", "ReceiptHandle": "r", "Body": json.dumps({"Records": list(records)})}


def created(key: str, bucket: str = "b", event: str = "ObjectCreated:Put") -> dict:
    return {"eventName": event, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}}


def test_keys_are_url_decoded_form_style_and_kept_in_order_once() -> None:
    again = created("sales/year=2026/month=11/day=26/hour=10/x.gz")
    messages = [
        message(created("sales/year=2026/month=11/day=26/hour=10/a+b%3D1.gz")),
        message(again, again),
    ]
    assert keys_from_notifications(messages, "b", "sales/") == [
        "sales/year=2026/month=11/day=26/hour=10/a b=1.gz",
        "sales/year=2026/month=11/day=26/hour=10/x.gz",
    ]


def test_test_events_other_buckets_prefixes_and_removals_are_ignored() -> None:
    test_event = {"MessageId": "t", "Body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})}
    messages = [
        test_event,
        {"MessageId": "junk", "Body": "not json"},
        message(created("sales/k.gz", bucket="other")),
        message(created("errors/k.gz")),
        message(created("sales/gone.gz", event="ObjectRemoved:Delete")),
    ]
    assert keys_from_notifications(messages, "b", "sales/") == []


def test_partition_of_reads_hive_hour_folders_only() -> None:
    assert partition_of("sales/year=2026/month=11/day=26/hour=09/f-1.gz", "sales/") == ["2026", "11", "26", "09"]
    assert partition_of("sales/year=2026/month=11/day=26/f.gz", "sales/") is None
    assert partition_of("sales/year=2026/month=11/day=26/hour=09/deeper/f.gz", "sales/") is None
    assert partition_of("errors/year=2026/month=11/day=26/hour=09/f.gz", "sales/") is None
