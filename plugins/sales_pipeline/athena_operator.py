"""The provider's AthenaOperator, with ExecutionParameters and Athena's own message on failure.

- Values (the report day) reach Athena as ``ExecutionParameters`` for the SQL's ``?`` placeholders,
  never pasted into the SQL text; the provider's hook has no such argument, so the query is started here.
- A query that ends FAILED or CANCELLED fails the task with Athena's StateChangeReason. Only an error
  Athena marks Retryable is retried: a syntax error or a missing column fails the same way every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

# Most report queries finish in a second or two: look for that before handing the wait to the triggerer,
# which saves a deferral round trip (and sidesteps a trigger that fires before the task has deferred).
QUICK_LOOK_S = 3.0


def finished_within(done: Callable[[], bool], seconds: float | None = None, every_s: float = 0.25) -> bool:
    deadline = time.monotonic() + (QUICK_LOOK_S if seconds is None else seconds)
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)


class AthenaQueryOperator(AthenaOperator):
    template_fields: Sequence[str] = (*AthenaOperator.template_fields, "execution_parameters")

    def __init__(self, *, execution_parameters: Any = None, sleep_time: int = 1, **kwargs: Any) -> None:
        super().__init__(deferrable=True, sleep_time=sleep_time, **kwargs)
        self.execution_parameters = execution_parameters

    def execute(self, context: Any) -> str | None:
        request: dict[str, Any] = {
            "QueryString": self.query,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        if self.execution_parameters:
            request["ExecutionParameters"] = [str(value) for value in self.execution_parameters]
        self.log.info("Running in workgroup %s with ExecutionParameters %s:\n%s",
                      self.workgroup, request.get("ExecutionParameters", []), self.query)  # fmt: skip
        athena: Any = self.hook.get_conn()
        self.query_execution_id = athena.start_query_execution(**request)["QueryExecutionId"]
        self.log.info("QueryExecutionId %s", self.query_execution_id)
        if finished_within(lambda: athena.get_query_execution(QueryExecutionId=self.query_execution_id)
                           ["QueryExecution"]["Status"]["State"] not in ("QUEUED", "RUNNING")):  # fmt: skip
            return self.execute_complete(context, {"status": "success", "value": self.query_execution_id})
        self.defer(
            trigger=AthenaTrigger(
                query_execution_id=self.query_execution_id,
                waiter_delay=self.sleep_time,
                waiter_max_attempts=self.max_polling_attempts,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
        )
        return None  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        query_execution_id = str((event or {}).get("value"))
        athena: Any = self.hook.get_conn()
        execution = athena.get_query_execution(QueryExecutionId=query_execution_id)["QueryExecution"]
        status = execution["Status"]
        if status["State"] in ("QUEUED", "RUNNING"):
            # The wait gave up: stop the query rather than leave it scanning (and billing) unattended.
            athena.stop_query_execution(QueryExecutionId=query_execution_id)
            raise AirflowException(f"Athena query {query_execution_id} still {status['State']} after the wait; "
                                   "stopped it")  # fmt: skip
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason") or (event or {}).get("message", "no reason given")
            retryable = bool(status.get("AthenaError", {}).get("Retryable", False))
            error = AirflowException if retryable else AirflowFailException
            raise error(f"Athena query {query_execution_id} {status['State']}: {reason}")
        statistics = execution.get("Statistics", {})
        self.log.info("SUCCEEDED in %s ms, %s bytes scanned", statistics.get("EngineExecutionTimeInMillis"),
                      statistics.get("DataScannedInBytes"))  # fmt: skip
        self.query_execution_id = query_execution_id
        return query_execution_id
