"""The pipeline's provisioning steps and their order, with no AWS code: DAG files import this at parse time.

A step is a group of resources; ``after`` names the steps whose resources it needs. Provisioning runs
the graph forwards (independent steps in parallel), teardown runs it backwards.
"""

from __future__ import annotations

from typing import NamedTuple


class StepSpec(NamedTuple):
    id: str
    after: tuple[str, ...]


STEPS: tuple[StepSpec, ...] = (
    StepSpec("landing_queue", ()),
    StepSpec("dead_letter_queue", ()),
    StepSpec("table", ()),
    StepSpec("kinesis_stream", ()),
    StepSpec("iam_roles", ()),
    StepSpec("log_groups", ()),
    StepSpec("glue_database", ()),
    StepSpec("glue_classifier", ()),
    StepSpec("bucket", ("landing_queue",)),  # S3 checks the queue when the notification is saved
    StepSpec("transform_function", ("iam_roles", "log_groups")),
    StepSpec("crawler", ("glue_database", "glue_classifier", "iam_roles", "bucket")),
    StepSpec("athena_workgroup", ("bucket",)),
    StepSpec("pipe", ("table", "kinesis_stream", "dead_letter_queue", "iam_roles")),
    StepSpec("delivery_stream", ("kinesis_stream", "bucket", "transform_function", "iam_roles", "log_groups")),
)
STEP_IDS = tuple(step.id for step in STEPS)


def dependents(step_id: str) -> tuple[str, ...]:
    """The steps that use this one's resources, so must be torn down first."""
    return tuple(step.id for step in STEPS if step_id in step.after)
