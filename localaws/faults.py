"""At-least-once faults on demand: re-deliver a fraction of batches, as AWS may after a retry.

AWS promises at-least-once delivery, not exactly-once: a Pipe whose PutRecords timed out after
Kinesis had stored the records sends the batch again, and Firehose may write an object again after
a retry. Downstream code (``orders_current`` ignores exact duplicates) must survive that, so
localaws can make it happen on purpose:

- ``LocalAWS(redelivery_fraction=0.3, redelivery_seed=7)``, or
- ``LOCALAWS_REDELIVERY_FRACTION=0.3`` (and ``LOCALAWS_REDELIVERY_SEED=7``) in the environment, or
- ``python -m localaws serve --redelivery-fraction 0.3 [--redelivery-seed 7]``, or at run time
- ``POST /_localaws/faults`` with ``{"redelivery_fraction": 0.3, "seed": 7, "stages": ["pipe", "firehose"]}``
  (``GET`` reads the switch and how many batches were re-delivered so far).

Stages: ``pipe`` puts a whole pipe batch into the Kinesis target twice; ``firehose`` writes a whole
data object to S3 twice (under a second object name). Either way every duplicate line is an exact
copy after the Lambda, because the Lambda's output depends only on the stream record. Default off.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

FAULTS_PATH = "/_localaws/faults"
STAGES = ("pipe", "firehose")
ENV_FRACTION = "LOCALAWS_REDELIVERY_FRACTION"
ENV_SEED = "LOCALAWS_REDELIVERY_SEED"


class FaultError(ValueError):
    """A fault setting that cannot be applied; the message says which and why."""


class Faults:
    """The redelivery switch the data-plane workers consult once per batch (thread-safe)."""

    def __init__(
        self, redelivery_fraction: float = 0.0, seed: int | None = None, stages: Iterable[str] = STAGES
    ) -> None:
        self._lock = threading.Lock()
        self._fraction = 0.0
        self._seed: int | None = None
        self._stages: tuple[str, ...] = STAGES
        self._random: dict[tuple[str, str], random.Random] = {}
        self._redelivered = dict.fromkeys(STAGES, 0)
        self.configure(redelivery_fraction=redelivery_fraction, seed=seed, stages=stages)

    @classmethod
    def from_environment(
        cls,
        redelivery_fraction: float | None = None,
        seed: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Faults:
        """Explicit arguments win; otherwise LOCALAWS_REDELIVERY_FRACTION / _SEED; otherwise off."""
        environ = os.environ if environ is None else environ
        if redelivery_fraction is None:
            raw = environ.get(ENV_FRACTION, "").strip()
            try:
                redelivery_fraction = float(raw) if raw else 0.0
            except ValueError:
                raise FaultError(f"{ENV_FRACTION} must be a number from 0 to 1, got {raw!r}") from None
        if seed is None and environ.get(ENV_SEED, "").strip():
            raw = environ[ENV_SEED].strip()
            try:
                seed = int(raw)
            except ValueError:
                raise FaultError(f"{ENV_SEED} must be an integer, got {raw!r}") from None
        return cls(redelivery_fraction, seed)

    def configure(
        self,
        *,
        redelivery_fraction: float | None = None,
        seed: int | None = None,
        stages: Iterable[str] | None = None,
    ) -> None:
        """Change the given settings; a new seed (or fraction) restarts every random sequence."""
        if redelivery_fraction is not None and (
            isinstance(redelivery_fraction, bool)
            or not isinstance(redelivery_fraction, int | float)
            or not 0.0 <= float(redelivery_fraction) <= 1.0
        ):
            raise FaultError(f"redelivery_fraction must be a number from 0 to 1, got {redelivery_fraction!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultError(f"seed must be an integer or null, got {seed!r}")
        chosen: tuple[str, ...] | None = None
        if stages is not None:
            if isinstance(stages, str):
                raise FaultError(f"stages must be a list drawn from {list(STAGES)}, got {stages!r}")
            chosen = tuple(stages)
            unknown = [stage for stage in chosen if stage not in STAGES]
            if unknown:
                raise FaultError(f"unknown stage(s) {unknown}: stages must be drawn from {list(STAGES)}")
        with self._lock:
            if redelivery_fraction is not None:
                self._fraction = float(redelivery_fraction)
            self._seed = seed
            if chosen is not None:
                self._stages = chosen
            self._random.clear()

    def redeliver(self, stage: str, scope: str) -> bool:
        """Whether this batch of ``stage`` (for the pipe or delivery stream ``scope``) goes out twice.

        Each (stage, scope) has its own random sequence from the seed, so one worker's decisions
        do not depend on how the threads of the others happened to interleave.
        """
        with self._lock:
            if self._fraction <= 0.0 or stage not in self._stages:
                return False
            generator = self._random.get((stage, scope))
            if generator is None:
                generator = random.Random(None if self._seed is None else f"{self._seed}:{stage}:{scope}")
                self._random[(stage, scope)] = generator
            chosen = generator.random() < self._fraction
            if chosen:
                self._redelivered[stage] += 1
            return chosen

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "redelivery_fraction": self._fraction,
                "seed": self._seed,
                "stages": list(self._stages),
                "redelivered_batches": dict(self._redelivered),
            }


class FaultSwitch:
    """The extension that serves ``GET|POST /_localaws/faults`` over a shared ``Faults``."""

    name = "faults"
    actions: dict[str, list[str]] = {}

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        if request.path.rstrip("/") != FAULTS_PATH:
            return None
        if request.method == "GET":
            return lambda _request: _json(self.faults.snapshot())
        if request.method == "POST":
            return self._configure
        return None

    def _configure(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _json({"message": "body must be a JSON object"}, 400)
        if not isinstance(body, dict):
            return _json({"message": "body must be a JSON object"}, 400)
        unknown = sorted(set(body) - {"redelivery_fraction", "seed", "stages"})
        if unknown:
            return _json({"message": f"unknown setting(s) {unknown}"}, 400)
        try:
            self.faults.configure(
                redelivery_fraction=body.get("redelivery_fraction"), seed=body.get("seed"), stages=body.get("stages")
            )
        except FaultError as err:
            return _json({"message": str(err)}, 400)
        return _json(self.faults.snapshot())


def _json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json")
