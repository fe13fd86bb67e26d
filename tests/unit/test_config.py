"""PipelineConfig: defaults from the env name, layered overrides, and one error naming every bad field."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sales_pipeline.config import FIELD_NAMES, ConfigError, PipelineConfig, load_config

DESIGN_FIELDS = {
    "env", "region", "table_name", "kinesis_stream_name", "shard_count", "pipe_name", "pipe_batch_size",
    "dlq_name", "delivery_stream_name", "buffer_interval_s", "buffer_size_mb", "transform_function_name",
    "bucket", "data_prefix", "error_prefix", "landing_queue_name", "glue_database", "glue_table",
    "crawler_name", "classifier_name", "athena_workgroup", "results_prefix", "reports_prefix",
    "scan_cutoff_bytes",
}  # fmt: skip


def load(variable: dict | str | None = None, environ: dict[str, str] | None = None, **overrides) -> PipelineConfig:
    raw = json.dumps(variable) if isinstance(variable, dict) else variable
    return load_config(overrides, environ=environ or {}, variable_reader=lambda: raw)


def problems_of(**kwargs) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load(**kwargs)
    return caught.value.problems


def test_has_every_design_field_and_is_frozen() -> None:
    config = load()
    assert set(FIELD_NAMES) >= DESIGN_FIELDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.shard_count = 3  # type: ignore[misc]


def test_defaults_derive_every_name_from_the_env() -> None:
    local, staging = load(), load(environ={"SALES_PIPELINE_ENV": "staging"})
    assert local.env == "local" and staging.env == "staging"
    assert local.table_name == "sales-stream-local-orders"
    assert staging.bucket == "sales-stream-staging-data"
    assert staging.glue_database == "sales_stream_staging"
    assert (local.data_prefix, local.error_prefix, local.results_prefix) == ("sales/", "errors/", "athena-results/")
    name_fields = [f for f in FIELD_NAMES if f.endswith("_name") or f in ("bucket", "athena_workgroup")]
    for field in name_fields:
        assert getattr(local, field) != getattr(staging, field), field
    assert load(environ={"SALES_PIPELINE_ENV": "dev-2"}).glue_database == "sales_stream_dev_2"
    assert local.tags == {"project": "sales-stream", "env": "local"}


def test_precedence_variable_then_environment_then_overrides() -> None:
    variable = {"shard_count": 3, "buffer_size_mb": 8, "pipe_batch_size": 50}
    environ = {"SALES_PIPELINE_SHARD_COUNT": "4", "SALES_PIPELINE_PIPE_BATCH_SIZE": "60"}
    config = load(variable, environ, pipe_batch_size=70, buffer_interval_s=None)
    assert config.buffer_size_mb == 8  # variable only
    assert config.shard_count == 4  # environment beats variable
    assert config.pipe_batch_size == 70  # overrides beat both
    assert config.buffer_interval_s == 60  # None override leaves the default


def test_env_set_in_a_layer_renames_every_default_but_explicit_names_stay() -> None:
    config = load({"env": "qa", "bucket": "my-own-bucket"})
    assert config.table_name == "sales-stream-qa-orders"
    assert config.bucket == "my-own-bucket"


@pytest.mark.parametrize(
    ("field", "value", "range_text"),
    [
        ("shard_count", 0, "between 1 and 500"),
        ("shard_count", 501, "between 1 and 500"),
        ("pipe_batch_size", 0, "between 1 and 10000"),
        ("pipe_batch_size", 10001, "between 1 and 10000"),
        ("buffer_interval_s", 901, "between 0 and 900"),
        ("buffer_interval_s", -1, "between 0 and 900"),
        ("buffer_size_mb", 0, "between 1 and 128"),
        ("pipe_batching_window_s", 301, "between 0 and 300"),
        ("pipe_max_retry_attempts", -1, "between 0 and 10000"),
        ("kinesis_retention_hours", 12, "between 24 and 8760"),
        ("scan_cutoff_bytes", 1000, "between 10000000 and"),
    ],
)
def test_each_range_rule_names_field_and_range(field: str, value: int, range_text: str) -> None:
    problems = problems_of(**{field: value})
    assert list(problems) == [field]
    assert range_text in problems[field] and str(value) in problems[field]


def test_edges_of_ranges_are_accepted() -> None:
    config = load(shard_count=1, pipe_batch_size=10000, buffer_interval_s=0, buffer_size_mb=128)
    assert (config.shard_count, config.pipe_batch_size, config.buffer_interval_s) == (1, 10000, 0)


@pytest.mark.parametrize(
    "bucket",
    ["ab", "a" * 64, "Upper-Case", "under_score", "-leading", "trailing-", "two..dots", "dot.-dash",
     "192.168.1.10", "xn--punycode", "sthree-bucket", "name-s3alias", "name--ol-s3"],
)  # fmt: skip
def test_bucket_names_s3_would_refuse(bucket: str) -> None:
    problems = problems_of(bucket=bucket)
    assert list(problems) == ["bucket"]
    assert "S3 would refuse" in problems["bucket"] and "3-63" in problems["bucket"]


def test_valid_bucket_names() -> None:
    for bucket in ("abc", "a" * 63, "my.bucket-1", "1-sales"):
        assert load(bucket=bucket).bucket == bucket


def test_unknown_keys_are_refused_in_every_layer() -> None:
    assert "shards" in problems_of(variable={"shards": 2})
    problems = problems_of(environ={"SALES_PIPELINE_SHARDS": "2"})
    assert "unknown key in environment" in problems["SALES_PIPELINE_SHARDS"]
    assert "unknown key in overrides" in problems_of(shards=2)["shards"]


def test_one_error_names_every_bad_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            {"shard_count": 0, "pipe_batch_size": 20000},
            {"SALES_PIPELINE_BUFFER_INTERVAL_S": "1000"},
            bucket="Bad_Bucket",
        )
    message = str(caught.value)
    for field in ("shard_count", "pipe_batch_size", "buffer_interval_s", "bucket"):
        assert field in message
    assert "4 problem(s)" in message


def test_types_are_checked() -> None:
    assert "must be an integer" in problems_of(shard_count="two")["shard_count"]
    assert "must be an integer" in problems_of(variable={"shard_count": True})["shard_count"]
    assert "must be a string" in problems_of(variable={"table_name": 5})["table_name"]
    assert load(environ={"SALES_PIPELINE_SHARD_COUNT": " 7 "}).shard_count == 7


@pytest.mark.parametrize("env", ["", "Prod", "1st", "has_underscore", "x" * 21])
def test_env_name_rule(env: str) -> None:
    assert "env" in problems_of(environ={"SALES_PIPELINE_ENV": env})


def test_name_rules() -> None:
    problems = problems_of(glue_database="Sales-DB", pipe_name="x" * 65, dlq_name="has.dot", table_name="ab")
    assert set(problems) == {"glue_database", "pipe_name", "dlq_name", "table_name"}
    assert "lower case" in problems["glue_database"]


def test_prefix_rules() -> None:
    problems = problems_of(data_prefix="/sales/", error_prefix="errors", reports_prefix="reports//")
    assert set(problems) == {"data_prefix", "error_prefix", "reports_prefix"}
    assert "overlap" in problems_of(error_prefix="sales/errors/")["error_prefix"]


def test_region_rule() -> None:
    assert "region" in problems_of(region="moon-1")
    assert load(region="eu-west-2").region == "eu-west-2"


def test_variable_must_be_a_json_object() -> None:
    assert "not valid JSON" in problems_of(variable="{shard_count: 2")["sales_pipeline_config"]
    assert "JSON object" in problems_of(variable="[1, 2]")["sales_pipeline_config"]


def test_variable_is_read_from_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_SALES_PIPELINE_CONFIG", json.dumps({"shard_count": 6}))
    assert load_config(environ={}).shard_count == 6


def test_crawler_update_behavior_rule() -> None:
    assert load(crawler_update_behavior="LOG").crawler_update_behavior == "LOG"
    problems = problems_of(crawler_update_behavior="DELETE")
    assert "UPDATE_IN_DATABASE, LOG" in problems["crawler_update_behavior"]
