"""PipelineConfig: every name, size and setting of one pipeline environment, validated.

Precedence, lowest to highest (README "Configuration" says the same):

1. defaults derived from the env name (``SALES_PIPELINE_ENV``, default ``local``);
2. the Airflow Variable ``sales_pipeline_config`` (a JSON object of field -> value);
3. environment variables ``SALES_PIPELINE_<FIELD>`` (upper-case field name), as Airflow's own
   ``AIRFLOW_VAR_*`` beat the metastore: what the deployment pins wins over what the UI edits;
4. explicit ``overrides`` passed by the caller (a DAG run's Params).

Any layer may set ``env``; the highest one that does names the env from which the defaults derive.
Every value is checked at load time and all problems are reported in one ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

ENV_PREFIX = "SALES_PIPELINE_"
VARIABLE_NAME = "sales_pipeline_config"
PROJECT_TAG = "sales-stream"

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# S3's safe key characters, without the quote: prefixes are written into SQL string literals (LOCATION '...').
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*()=-]+(/[A-Za-z0-9!_.*()=-]+)*/$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
# AWS resource-name alphabets (API references of each service).
_AWS_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
_GLUE_NAME = re.compile(r"^[a-z0-9_]+$")


class ConfigError(ValueError):
    """One or more config fields are invalid; ``problems`` maps each field to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = "\n".join(f"  - {name}: {why}" for name, why in self.problems.items())
        super().__init__(f"invalid sales pipeline config ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class PipelineConfig:
    env: str
    region: str
    # DynamoDB source
    table_name: str
    # Kinesis
    kinesis_stream_name: str
    shard_count: int
    kinesis_retention_hours: int
    # EventBridge Pipe
    pipe_name: str
    pipe_batch_size: int
    pipe_batching_window_s: int
    pipe_max_retry_attempts: int
    dlq_name: str
    # Firehose and its transformation Lambda
    delivery_stream_name: str
    buffer_interval_s: int
    buffer_size_mb: int
    transform_function_name: str
    # S3 data lake
    bucket: str
    data_prefix: str
    error_prefix: str
    landing_queue_name: str
    # Glue catalog
    glue_database: str
    glue_table: str
    crawler_name: str
    classifier_name: str
    crawler_update_behavior: str
    # Athena and reports
    athena_workgroup: str
    results_prefix: str
    reports_prefix: str
    scan_cutoff_bytes: int

    @property
    def tags(self) -> dict[str, str]:
        """The tags every resource of this env carries; teardown deletes only what has them."""
        return {"project": PROJECT_TAG, "env": self.env}

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELD_NAMES = tuple(f.name for f in fields(PipelineConfig))
_INT_FIELDS = frozenset(f.name for f in fields(PipelineConfig) if f.type == "int")


def default_values(env: str) -> dict[str, Any]:
    """Every field's default for ``env``: resource names are derived from it so envs never collide."""
    base = f"sales-stream-{env}"
    glue_safe = env.replace("-", "_")  # Glue/Athena identifiers allow no hyphen
    return {
        "env": env,
        "region": "us-east-1",
        "table_name": f"{base}-orders",
        "kinesis_stream_name": f"{base}-changes",
        "shard_count": 2,
        "kinesis_retention_hours": 24,
        "pipe_name": f"{base}-orders-to-kinesis",
        "pipe_batch_size": 100,
        "pipe_batching_window_s": 1,
        "pipe_max_retry_attempts": 10,
        "dlq_name": f"{base}-pipe-dlq",
        "delivery_stream_name": f"{base}-to-s3",
        "buffer_interval_s": 60,
        "buffer_size_mb": 5,
        "transform_function_name": f"{base}-transform",
        "bucket": f"{base}-data",
        "data_prefix": "sales/",
        "error_prefix": "errors/",
        "landing_queue_name": f"{base}-landing",
        "glue_database": f"sales_stream_{glue_safe}",
        "glue_table": "sales",
        "crawler_name": f"{base}-crawler",
        "classifier_name": f"{base}-json",
        "crawler_update_behavior": "UPDATE_IN_DATABASE",
        "athena_workgroup": base,
        "results_prefix": "athena-results/",
        "reports_prefix": "reports/",
        "scan_cutoff_bytes": 1024**3,
    }


# Allowed ranges: the AWS API limits of each setting (inclusive).
INT_RANGES: dict[str, tuple[int, int]] = {
    "shard_count": (1, 500),  # Kinesis default per-stream shard quota
    "kinesis_retention_hours": (24, 8760),  # IncreaseStreamRetentionPeriod
    "pipe_batch_size": (1, 10000),  # PipeSourceDynamoDBStreamParameters.BatchSize
    "pipe_batching_window_s": (0, 300),  # MaximumBatchingWindowInSeconds
    "pipe_max_retry_attempts": (0, 10000),  # bounded: -1 (infinite) would never reach the DLQ
    "buffer_interval_s": (0, 900),  # Firehose BufferingHints.IntervalInSeconds
    "buffer_size_mb": (1, 128),  # Firehose BufferingHints.SizeInMBs
    "scan_cutoff_bytes": (10_000_000, 2**63 - 1),  # Athena BytesScannedCutoffPerQuery minimum
}

# Names: (pattern, min length, max length, what the rule is) from each service's API reference.
NAME_RULES: dict[str, tuple[re.Pattern[str], int, int, str]] = {
    "table_name": (_AWS_NAME, 3, 255, "3-255 of a-z A-Z 0-9 _ . -"),
    "kinesis_stream_name": (_AWS_NAME, 1, 128, "1-128 of a-z A-Z 0-9 _ . -"),
    "pipe_name": (re.compile(r"^[.\-_A-Za-z0-9]+$"), 1, 64, "1-64 of a-z A-Z 0-9 _ . -"),
    "dlq_name": (re.compile(r"^[A-Za-z0-9_-]+$"), 1, 80, "1-80 of a-z A-Z 0-9 _ -"),
    "landing_queue_name": (re.compile(r"^[A-Za-z0-9_-]+$"), 1, 80, "1-80 of a-z A-Z 0-9 _ -"),
    "delivery_stream_name": (_AWS_NAME, 1, 64, "1-64 of a-z A-Z 0-9 _ . -"),
    "transform_function_name": (re.compile(r"^[A-Za-z0-9_-]+$"), 1, 64, "1-64 of a-z A-Z 0-9 _ -"),
    "glue_database": (_GLUE_NAME, 1, 255, "1-255 of a-z 0-9 _ (lower case, as Athena needs)"),
    "glue_table": (_GLUE_NAME, 1, 255, "1-255 of a-z 0-9 _ (lower case, as Athena needs)"),
    "crawler_name": (_AWS_NAME, 1, 255, "1-255 of a-z A-Z 0-9 _ . -"),
    "classifier_name": (_AWS_NAME, 1, 255, "1-255 of a-z A-Z 0-9 _ . -"),
    "athena_workgroup": (_AWS_NAME, 1, 128, "1-128 of a-z A-Z 0-9 _ . -"),
}

# Glue SchemaChangePolicy.UpdateBehavior: add new columns to the table, or only log them.
CRAWLER_UPDATE_BEHAVIORS = ("UPDATE_IN_DATABASE", "LOG")

PREFIX_FIELDS = ("data_prefix", "error_prefix", "results_prefix", "reports_prefix")


def _bucket_problem(name: str) -> str | None:
    """Why S3 would refuse this general-purpose bucket name, or None (S3 bucket naming rules)."""
    rule = "3-63 chars of a-z 0-9 . -, starting and ending with a letter or digit, not an IP address"
    if not 3 <= len(name) <= 63 or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        return rule
    if ".." in name or ".-" in name or "-." in name:
        return rule + ", no adjacent periods or period-hyphen pairs"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return rule
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"{rule}, not starting with {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"{rule}, not ending with {suffix!r}"
    return None


def _coerce(name: str, value: Any) -> tuple[Any, str | None]:
    """Bring a layer's raw value (JSON value or env string) to the field's type."""
    if name in _INT_FIELDS:
        if isinstance(value, bool):
            return value, "must be an integer"
        if isinstance(value, int):
            return value, None
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value), None
        return value, f"must be an integer, got {value!r}"
    if not isinstance(value, str):
        return value, f"must be a string, got {value!r}"
    return value, None


def _problems(values: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    env = values["env"]
    if not isinstance(env, str) or not _ENV_NAME.fullmatch(env):
        problems["env"] = f"must be 1-20 of a-z 0-9 -, starting with a letter, got {env!r}"
    if not _REGION.fullmatch(values["region"]):
        problems["region"] = f"must be an AWS region code like us-east-1, got {values['region']!r}"
    for name, (low, high) in INT_RANGES.items():
        value = values[name]
        if not low <= value <= high:
            problems[name] = f"must be between {low} and {high}, got {value}"
    for name, (pattern, low, high, rule) in NAME_RULES.items():
        value = values[name]
        if not (low <= len(value) <= high and pattern.fullmatch(value)):
            problems[name] = f"must be {rule}, got {value!r}"
    if values["crawler_update_behavior"] not in CRAWLER_UPDATE_BEHAVIORS:
        problems["crawler_update_behavior"] = (
            f"must be one of {', '.join(CRAWLER_UPDATE_BEHAVIORS)}, got {values['crawler_update_behavior']!r}"
        )
    bucket_problem = _bucket_problem(values["bucket"])
    if bucket_problem:
        problems["bucket"] = f"S3 would refuse {values['bucket']!r}: must be {bucket_problem}"
    for name in PREFIX_FIELDS:
        value = values[name]
        if not _PREFIX.fullmatch(value):
            problems[name] = (f"must be an S3 key prefix like 'sales/' (letters, digits and !_.*()=- ; no leading "
                              f"'/', ending in '/'), got {value!r}")  # fmt: skip
    prefixes = [values[name] for name in PREFIX_FIELDS]
    for name in PREFIX_FIELDS:
        # Firehose, the crawler and Athena each own their prefix: nesting one in another would mix
        # error records or query results into the table the crawler builds.
        others = [p for p in prefixes if p != values[name]]
        if name not in problems and any(values[name].startswith(o) or o.startswith(values[name]) for o in others):
            problems[name] = f"must not overlap another prefix, got {values[name]!r}"
        if name not in problems and prefixes.count(values[name]) > 1:
            problems[name] = f"must differ from the other prefixes, got {values[name]!r}"
    return problems


def read_airflow_variable() -> str | None:
    """The raw JSON of the Airflow Variable, or None when it is unset (or Airflow is not installed)."""
    try:
        from airflow.sdk import Variable
    except ImportError:  # the library is usable without Airflow (unit tests, scripts)
        return None
    value = Variable.get(VARIABLE_NAME, default=None)
    return None if value is None else str(value)


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    variable_reader: Callable[[], str | None] = read_airflow_variable,
) -> PipelineConfig:
    """Build and validate the config from its layers (see the module docstring for the precedence).

    ``overrides`` entries whose value is None are ignored, so a DAG can pass every Param and leave
    the ones the user did not set to the lower layers.
    """
    environ = os.environ if environ is None else environ
    problems: dict[str, str] = {}

    layers: list[tuple[str, dict[str, Any]]] = []
    raw_variable = variable_reader()
    if raw_variable not in (None, ""):
        try:
            variable = json.loads(str(raw_variable))
        except json.JSONDecodeError as err:
            raise ConfigError({VARIABLE_NAME: f"Airflow Variable is not valid JSON: {err}"}) from err
        if not isinstance(variable, dict):
            raise ConfigError({VARIABLE_NAME: "Airflow Variable must be a JSON object of field: value"})
        layers.append((f"Airflow Variable {VARIABLE_NAME}", variable))
    from_env = {key[len(ENV_PREFIX) :].lower(): value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
    layers.append(("environment", from_env))
    layers.append(("overrides", {k: v for k, v in (overrides or {}).items() if v is not None}))

    merged: dict[str, Any] = {}
    for source, layer in layers:
        for key, raw in layer.items():
            if key not in FIELD_NAMES:
                shown = f"{ENV_PREFIX}{key.upper()}" if source == "environment" else key
                problems[shown] = f"unknown key in {source}; known fields: {', '.join(FIELD_NAMES)}"
                continue
            value, problem = _coerce(key, raw)
            if problem:
                problems[key] = problem
            else:
                merged[key] = value
    if problems:
        raise ConfigError(problems)

    env = merged.get("env", "local")
    values = {**default_values(env if isinstance(env, str) else "local"), **merged}
    problems = _problems(values)
    if problems:
        raise ConfigError(problems)
    return PipelineConfig(**values)
