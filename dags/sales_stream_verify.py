"""
### Verify the sales CDC pipeline

Every hour (and on demand) checks each resource of the env: it exists, it is healthy (table and stream
ACTIVE, function Active, pipe RUNNING, delivery stream ACTIVE, last crawl not FAILED) and it matches
its desired state; any drift is reported field by field (`want ..., have ...`). It invokes the
transformation Lambda with a synthetic DynamoDB change and checks its output line exactly.

The **canary** writes the order `canary-<run id>`, waits (deferred, up to `canary_timeout_s`) for its line
under the data prefix, deletes it and records the end-to-end latency (DynamoDB write to S3 object) in
its log and as the CloudWatch metric `SalesStream/CanaryLatencySeconds` (dimension `Env`). When it does
not arrive it fails naming the stage where it stopped: not in the stream, not in Kinesis, failed in the
Lambda (read from the error prefix), or not delivered. Canary orders never reach a report.

The run fails, naming every problem, when anything is wrong; `sales_stream_provision` puts drift right.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from sales_pipeline.canary_operator import EndToEndCanaryOperator
from sales_pipeline.dag_support import DEFAULT_ARGS, env_param
from sales_pipeline.pipeline_steps import STEPS


@dag(
    dag_id="sales_stream_verify",
    schedule="@hourly",
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sales-stream", "infrastructure", "monitoring"],
    doc_md=__doc__,
    params={
        "env": env_param(),
        "canary_timeout_s": Param(
            None,
            type=["null", "integer"],
            minimum=10,
            maximum=7200,
            title="canary_timeout_s",
            description="How long the canary may take to land (10-7200 s). Empty: buffer interval + 300 s.",
        ),
    },
)
def sales_stream_verify() -> None:
    @task
    def resolve_settings(params: dict[str, Any]) -> dict[str, Any]:
        from sales_pipeline.dag_support import settings_from_params

        return settings_from_params(params, ("env",))

    @task
    def check(settings: dict[str, Any], step_id: str) -> list[str]:
        """Problems with one step's resources; an empty list when all is well."""
        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.pipeline import verify_step

        problems = verify_step(step_id, *context_from_settings(settings))
        for problem in problems:
            print(f"PROBLEM {problem}")
        return problems

    @task
    def check_transform_output(settings: dict[str, Any]) -> list[str]:
        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.pipeline import check_transform_function

        return check_transform_function(*context_from_settings(settings))

    @task
    def report(findings: list[list[str]]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        problems = [problem for step_problems in findings for problem in step_problems]
        if problems:
            # A failed check is a finding, not a transient error: no retry would change it.
            raise AirflowFailException(f"{len(problems)} problem(s):\n" + "\n".join(f"- {p}" for p in problems))
        print("All resources exist, are healthy and match their desired state; the transform output is exact.")
        return {"problems": 0}

    settings = resolve_settings()
    checks = [check.override(task_id=f"check_{step.id}")(settings, step.id) for step in STEPS]
    transform = check_transform_output(settings)
    report([*checks, transform])
    EndToEndCanaryOperator(task_id="canary", settings=settings)


sales_stream_verify()
