"""Run a DAG in this process with ``dag.test()`` and collect what a user would look at: the run's state,
each task's state and return value. Used by ``make demo`` and the integration tests; never by DAGs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@dataclass
class DagRunResult:
    state: str
    task_states: dict[str, str]
    returns: dict[str, Any]
    api_calls: list[str] = field(default_factory=list)


class DagRunner:
    def __init__(self, dags_folder: Path = DAGS_FOLDER) -> None:
        from airflow.dag_processing.dagbag import DagBag

        self.dagbag = DagBag(dag_folder=str(dags_folder))
        if self.dagbag.import_errors:
            raise RuntimeError(f"DAG import errors: {self.dagbag.import_errors}")
        # dag.test() runs tasks in this process, where a run's conf can stay on the shared task objects
        # (a real worker starts each task afresh): passing every Param on each run isolates the runs.
        self.param_defaults = {
            dag_id: {name: dag.params[name] for name in dag.params} for dag_id, dag in self.dagbag.dags.items()
        }

    def run(self, dag_id: str, **conf: Any) -> DagRunResult:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        dag_run = self.dagbag.dags[dag_id].test(run_conf={**self.param_defaults[dag_id], **conf})
        with create_session() as session:
            states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}
            query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id, key="return_value")
            rows: list[Any] = list(session.scalars(query))  # XCom rows (SQLAlchemy types them loosely)
            returns = {row.task_id: row.value for row in rows}
        return DagRunResult(str(dag_run.state), states, returns)
