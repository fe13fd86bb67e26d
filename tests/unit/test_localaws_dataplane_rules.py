"""The pure rules of localaws's data plane: PartitionKey JSONPaths, Firehose prefixes, the fault switch."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from localaws.faults import FaultError, Faults
from localaws.firehose_worker import expand_prefix, java_datetime_format, object_prefixes
from localaws.pipes_worker import PartitionKeyError, compile_partition_key

EVENT = {
    "eventID": "abc",
    "dynamodb": {"Keys": {"orderid": {"S": "o-1"}, "n": {"N": "5"}}, "list": [{"a": "x"}, {"a": "y"}], "size": 26},
    "dashed-key": {"under_score": "ok"},
}
MOMENT = dt.datetime(2024, 3, 8, 7, 5, 9, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("expression", "key"),
    [
        ("$.dynamodb.Keys.orderid.S", "o-1"),
        ("$.eventID", "abc"),
        ("$.dynamodb.list[1].a", "y"),
        ("$.dynamodb.list[*].a", "x"),  # a key is one value: the first match
        ("$.dynamodb['Keys'].orderid.S", "o-1"),
        ("$.dashed-key.under_score", "ok"),
        ("$.dynamodb.size", "26"),
        ("$.dynamodb.Keys.n", '{"N":"5"}'),
        ("fixed-key", "fixed-key"),  # not a $. path: a literal for every record
    ],
)
def test_partition_key_paths(expression: str, key: str) -> None:
    assert compile_partition_key(expression)(EVENT) == key


def test_a_path_that_matches_nothing_fails_the_record() -> None:
    with pytest.raises(PartitionKeyError):
        compile_partition_key("$.dynamodb.Keys.customer.S")(EVENT)
    with pytest.raises(PartitionKeyError):
        compile_partition_key("$.dynamodb.list[5]")(EVENT)


def test_an_unsupported_path_is_refused_when_compiled() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        compile_partition_key("$.a..b")


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyy/MM/dd/HH/", "2024/03/08/07/"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", "2024-03-08T07:05:09.123"),
        ("'year='yyyy'/month='MM", "year=2024/month=03"),
        ("yy M d H m s", "24 3 8 7 5 9"),
        ("MMM MMMM EEE EEEE a", "Mar March Fri Friday AM"),
        ("D", "68"),
        ("'it''s'", "its"),
        ("''yyyy", "'2024"),
    ],
)
def test_java_timestamp_patterns(pattern: str, text: str) -> None:
    assert java_datetime_format(MOMENT, pattern) == text


def test_prefix_expressions() -> None:
    hour_partitions = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    assert expand_prefix(f"sales/{hour_partitions}", MOMENT) == "sales/year=2024/month=03/day=08/hour=07/"
    error = expand_prefix(f"errors/!{{firehose:error-output-type}}/{hour_partitions}", MOMENT, "processing-failed")
    assert error == "errors/processing-failed/year=2024/month=03/day=08/hour=07/"
    first, second = expand_prefix("!{firehose:random-string}/!{firehose:random-string}/", MOMENT).split("/")[:2]
    assert len(first) == len(second) == 11 and first != second
    assert expand_prefix("p/!{partitionKeyFromQuery:id}/", MOMENT) == "p/!{partitionKeyFromQuery:id}/"


@pytest.mark.parametrize(
    ("destination", "prefixes"),
    [
        ({}, ("!{timestamp:yyyy/MM/dd/HH/}", "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}")),
        (
            {"Prefix": "myFirehosePrefix"},
            ("myFirehosePrefix!{timestamp:yyyy/MM/dd/HH/}",
             "myFirehosePrefix/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}"),
        ),
        (
            {"Prefix": "d/!{timestamp:yyyy}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"},
            ("d/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}/"),
        ),
    ],
)  # fmt: skip
def test_default_prefixes(destination: dict[str, str], prefixes: tuple[str, str]) -> None:
    assert object_prefixes(destination) == prefixes


def test_the_fault_switch_is_off_by_default_and_repeatable_with_a_seed() -> None:
    assert Faults.from_environment(environ={}).snapshot()["redelivery_fraction"] == 0.0
    assert not any(Faults().redeliver("pipe", "p") for _ in range(100))
    first = Faults.from_environment(environ={"LOCALAWS_REDELIVERY_FRACTION": "0.5", "LOCALAWS_REDELIVERY_SEED": "7"})
    second = Faults(0.5, seed=7)
    decisions = [first.redeliver("pipe", "p") for _ in range(200)]
    assert decisions == [second.redeliver("pipe", "p") for _ in range(200)]
    assert 60 < sum(decisions) < 140
    assert first.snapshot()["redelivered_batches"] == {"pipe": sum(decisions), "firehose": 0}
    only_firehose = Faults(1.0, stages=["firehose"])
    assert not only_firehose.redeliver("pipe", "p") and only_firehose.redeliver("firehose", "f")


@pytest.mark.parametrize(
    "settings",
    [{"redelivery_fraction": -0.1}, {"redelivery_fraction": 2}, {"redelivery_fraction": True}, {"seed": 1.5},
     {"stages": "pipe"}, {"stages": ["s3"]}],
)  # fmt: skip
def test_the_fault_switch_refuses_bad_settings(settings: dict[str, Any]) -> None:
    with pytest.raises(FaultError):
        Faults().configure(**settings)


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(FaultError, match="LOCALAWS_REDELIVERY_FRACTION"):
        Faults.from_environment(environ={"LOCALAWS_REDELIVERY_FRACTION": "lots"})
