"""
### Tear down the sales CDC pipeline

Deletes every resource of one env, in reverse dependency order, but only when the trigger's
`confirm_env` equals the env name: otherwise nothing is deleted and the run fails saying why.

Ownership is read once, before anything is deleted: only resources tagged `project=sales-stream` and
`env=<env>` are deleted (the Glue classifier, which takes no tags, counts as ours when our tagged
crawler uses it). Anything else with the same name is refused and left untouched; what is already gone
is reported `absent`. The bucket is emptied before it is deleted: **its data is lost**.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from sales_pipeline.dag_support import DEFAULT_ARGS, env_param
from sales_pipeline.pipeline_steps import STEPS, dependents


@dag(
    dag_id="sales_stream_teardown",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sales-stream", "infrastructure"],
    doc_md=__doc__,
    params={
        "env": env_param(),
        "confirm_env": Param(
            "",
            type="string",
            title="confirm_env",
            description="Type the env name to confirm: all its resources and data are deleted.",
        ),
    },
)
def sales_stream_teardown() -> None:
    @task
    def confirm(params: dict[str, Any]) -> dict[str, Any]:
        """Nothing happens unless confirm_env names the env being torn down (checked before any AWS call)."""
        from airflow.sdk.exceptions import AirflowFailException

        from sales_pipeline.config import load_config
        from sales_pipeline.dag_support import settings_from_params

        env = load_config({"env": params.get("env")}).env
        if params.get("confirm_env") != env:
            raise AirflowFailException(
                f"confirm_env is {params.get('confirm_env')!r}, not the env name {env!r}: nothing was deleted"
            )
        return settings_from_params(params, ("env",))

    @task
    def take_inventory(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.pipeline import ownership

        inventory = ownership(*context_from_settings(settings))
        for step_id, items in inventory.items():
            for item in items:
                state = "ours" if item["ours"] else ("NOT ours" if item["exists"] else "absent")
                print(f"{step_id:20} {item['kind']:18} {item['name']:50} {state}")
        return inventory

    @task
    def delete(settings: dict[str, Any], inventory: dict[str, Any], step_id: str) -> list[dict[str, Any]]:
        from sales_pipeline.dag_support import context_from_settings
        from sales_pipeline.pipeline import format_table, teardown_step

        changes = teardown_step(step_id, *context_from_settings(settings), inventory[step_id])
        print(format_table(changes))
        return changes

    @task
    def report(changes: list[list[dict[str, Any]]]) -> dict[str, list[str]]:
        from sales_pipeline.pipeline import format_table

        flat = [change for step_changes in changes for change in step_changes]
        print(format_table(flat))
        summary: dict[str, list[str]] = {}
        for change in flat:
            summary.setdefault(change["outcome"], []).append(f"{change['kind']} {change['name']}")
        return summary

    settings = confirm()
    inventory = take_inventory(settings)
    deleted = {step.id: delete.override(task_id=f"delete_{step.id}")(settings, inventory, step.id) for step in STEPS}
    for step in STEPS:
        for dependent in dependents(step.id):
            deleted[dependent] >> deleted[step.id]
    report(list(deleted.values()))


sales_stream_teardown()
