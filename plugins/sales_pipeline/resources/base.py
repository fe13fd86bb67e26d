"""The ensure / verify / delete loop every resource shares.

A resource is a primary object (exists? create, delete) plus sections: pieces of configuration that
each have a desired value (a pure function of the config), a read and a write. Ensure creates what
is missing and writes only the sections that differ, so a second run makes no mutating call; verify
reports the same differences as drift; teardown (``pipeline.ownership``) deletes only what is tagged
as this project's env.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sales_pipeline.aws import error_code

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
WOULD_CREATE, WOULD_UPDATE = "would create", "would update"
DELETED, ABSENT, REFUSED = "deleted", "absent", "refused"


class Exact:
    """A value compared whole (a policy document), not as 'desired keys are a subset of actual'."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return json.dumps(self.value, sort_keys=True)


def unwrap(value: Any) -> Any:
    """The plain API value of a desired-state tree (Exact markers removed)."""
    if isinstance(value, Exact):
        return value.value
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def diff(want: Any, have: Any, path: str = "") -> list[str]:
    """Field-by-field differences; keys AWS adds (defaults, timestamps) are not differences."""
    here = path or "(value)"
    if isinstance(want, Exact):
        return [] if _canonical(want.value) == _canonical(have) else [f"{here}: want {want!r}, have {_show(have)}"]
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{here}: want {_show(unwrap(want))}, have {_show(have)}"]
        out: list[str] = []
        for key, value in want.items():
            sub = f"{path}.{key}" if path else key
            if key not in have:
                out.append(f"{sub}: want {_show(unwrap(value))}, missing")
            else:
                out.extend(diff(value, have[key], sub))
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return [f"{here}: want {_show(unwrap(want))}, have {_show(have)}"]
        return [d for i, (w, h) in enumerate(zip(want, have, strict=True)) for d in diff(w, h, f"{path}[{i}]")]
    return [] if want == have else [f"{here}: want {_show(want)}, have {_show(have)}"]


def _canonical(value: Any) -> str:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # a document sent back as JSON text compares as its value
            value = json.loads(value)
    return json.dumps(value, sort_keys=True, default=str)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class Section:
    """One piece of a resource's configuration: its desired value, how to read it and write it."""

    name: str
    want: Any
    read: Callable[[], Any]
    write: Callable[[Any], None]


@dataclass
class Change:
    """What ensure, verify or delete did (or would do) to one resource; JSON-able for XCom."""

    kind: str
    name: str
    outcome: str
    details: list[str] = field(default_factory=list)
    arn: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "outcome": self.outcome, "details": self.details, "arn": self.arn}


class Resource:
    """Subclasses set ``kind`` and ``name`` and implement the primary object's calls and its sections."""

    kind = "resource"
    name = ""

    # -- primary object -------------------------------------------------------------------------
    def exists(self) -> bool:
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError

    def tags(self) -> dict[str, str]:
        """The tags the resource carries now (teardown reads them before deleting anything)."""
        raise NotImplementedError

    def sections(self) -> list[Section]:
        return []

    def arn(self) -> str:
        return ""

    def creation_plan(self) -> list[str]:
        """What create would set, for a dry run's plan."""
        return [f"{s.name}: {_show(unwrap(s.want))}" for s in self.sections()]

    def health(self) -> list[str]:
        """Problems that make the resource unusable even when configured right (status not ACTIVE...)."""
        return []

    def wait_ready(self, timeout_s: float = 600) -> None:
        wait_until(lambda: not self.health(), f"{self.kind} {self.name} to be ready", timeout_s, self.health)


class OwnedElsewhere(RuntimeError):
    """A resource with our name carries another project's or env's tags: never adopt it."""


def ensure(resource: Resource, *, expected_tags: dict[str, str] | None = None, dry_run: bool = False) -> Change:
    """Bring one resource to its desired state; ``dry_run`` only reads.

    An existing resource tagged for another project or env is refused, not re-tagged: re-tagging would
    hand it to this env's teardown. An untagged one with our name is adopted (and tagged).
    """
    change = Change(resource.kind, resource.name, UNCHANGED)
    exists = resource.exists()
    if exists and expected_tags:
        tags = resource.tags()
        foreign = {k: tags[k] for k, v in expected_tags.items() if k in tags and tags[k] != v}
        if foreign:
            raise OwnedElsewhere(
                f"{resource.kind} {resource.name} is tagged {foreign}, not {expected_tags}: it belongs to "
                "another project or env; choose other names for this env instead of adopting it"
            )
    if not exists:
        if dry_run:
            return Change(resource.kind, resource.name, WOULD_CREATE, resource.creation_plan())
        resource.create()
        change.outcome = CREATED
    for section in resource.sections():
        differences = diff(section.want, section.read(), section.name)
        if not differences:
            continue
        change.details.extend(differences)
        if dry_run:
            change.outcome = WOULD_UPDATE
            continue
        section.write(unwrap(section.want))
        if change.outcome == UNCHANGED:
            change.outcome = UPDATED
    if not dry_run:
        change.arn = resource.arn()
    if change.outcome == CREATED:
        change.details = []  # the sections create could not set are part of creating, not drift
    return change


def verify(resource: Resource) -> list[str]:
    """Every problem with one resource: missing, unhealthy, or drifted from its desired state."""
    label = f"{resource.kind} {resource.name}"
    if not resource.exists():
        return [f"{label}: does not exist"]
    problems = [f"{label}: {p}" for p in resource.health()]
    for section in resource.sections():
        problems.extend(f"{label}: drift in {d}" for d in diff(section.want, section.read(), section.name))
    return problems


def wait_until(
    condition: Callable[[], bool],
    what: str,
    timeout_s: float,
    explain: Callable[[], Iterable[str]] | None = None,
    interval_s: float = 0.5,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            why = "; ".join(explain()) if explain else ""
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}" + (f": {why}" if why else ""))
        time.sleep(interval_s)


def retry_while(codes: set[str], call: Callable[[], Any], timeout_s: float = 90, interval_s: float = 2) -> Any:
    """Retry a create while AWS reports codes that mean 'not yet' (IAM role not yet assumable...)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except ClientError as err:
            if error_code(err) not in codes or time.monotonic() > deadline:
                raise
            time.sleep(interval_s)


def absent_on(codes: set[str], call: Callable[[], Any]) -> Any:
    """The call's result, or None when AWS says the thing does not exist (one of ``codes``)."""
    try:
        return call()
    except ClientError as err:
        if error_code(err) in codes:
            return None
        raise


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: Iterable[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}
