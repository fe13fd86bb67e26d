"""Firehose: what localaws adds to moto's delivery streams.

- The data plane of ``KinesisStreamAsSource`` streams (``firehose_worker.FirehoseWorker``), run from
  start() to stop().
- ``PutRecord`` / ``PutRecordBatch`` on a ``KinesisStreamAsSource`` stream are refused as AWS refuses
  them (moto wrote the records to S3): 400 ``InvalidArgumentException`` "This operation is not
  permitted on KinesisStreamAsSource delivery stream type." (the text from aws/aws-cli issue #7010).
  On a Direct PUT stream the request goes to moto unchanged.
- ``DescribeDeliveryStream`` shows ``Source.KinesisStreamSourceDescription.DeliveryStartTimestamp``
  (where the worker starts reading), which moto leaves out.
- ``GET /_localaws/firehose`` and ``GET /_localaws/firehose/{name}`` (``?region=`` narrows it): each
  stream's counters, checkpoints and buffers as JSON, for canaries and benchmarks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from moto.firehose.models import firehose_backends
from werkzeug.wrappers import Request, Response

from localaws.awsrequest import account_of, region_of, signed_for
from localaws.faults import Faults
from localaws.firehose_worker import FirehoseWorker
from localaws.lambda_runtime import LambdaRuntime

_TARGET_PREFIX = "Firehose_20150804."
_PUT_ACTIONS = ("PutRecord", "PutRecordBatch")
_STATUS_PATH = re.compile(r"^/_localaws/firehose(?:/(?P<name>[^/]+))?/?$")
KINESIS_SOURCE_REFUSAL = "This operation is not permitted on KinesisStreamAsSource delivery stream type."


class Firehose:
    name = "firehose"
    actions = {"firehose": ["PutRecord", "PutRecordBatch", "DescribeDeliveryStream"]}

    def __init__(self, lambda_runtime: LambdaRuntime, faults: Faults | None = None) -> None:
        self.worker = FirehoseWorker(lambda_runtime, faults or Faults())

    # -- extension protocol -------------------------------------------------------------------
    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def route(self, request: Request) -> Callable[[Request], Response | None] | None:
        if request.method == "GET" and _STATUS_PATH.match(request.path):
            return self.status
        if request.method != "POST" or not signed_for(request, "firehose"):
            return None
        action = request.headers.get("X-Amz-Target", "").removeprefix(_TARGET_PREFIX)
        if action in _PUT_ACTIONS:
            return self.put_record
        if action == "DescribeDeliveryStream":
            return self.describe_delivery_stream
        return None

    # -- handlers ---------------------------------------------------------------------------------
    def put_record(self, request: Request) -> Response | None:
        stream = self._stream(request)
        if stream is None or stream.delivery_stream_type != "KinesisStreamAsSource":
            return None  # moto answers: Direct PUT, or ResourceNotFoundException
        body = {"__type": "InvalidArgumentException", "message": KINESIS_SOURCE_REFUSAL}
        return Response(json.dumps(body), status=400, content_type="application/x-amz-json-1.1")

    def describe_delivery_stream(self, request: Request) -> Response | None:
        stream = self._stream(request)
        kinesis_sourced = stream is not None and stream.delivery_stream_type == "KinesisStreamAsSource"
        if kinesis_sourced and isinstance(stream.source, dict):
            stream.source.setdefault("DeliveryStartTimestamp", stream.create_timestamp)
        return None  # moto answers, now with DeliveryStartTimestamp

    def status(self, request: Request) -> Response:
        match = _STATUS_PATH.match(request.path)
        assert match is not None
        region = request.args.get("region")
        runners = [r for r in self.worker.runners() if region in (None, r.region)]
        if match.group("name") is None:
            document = {"DeliveryStreams": [r.status() for r in runners]}
            return Response(json.dumps(document), content_type="application/json")
        found = [r.status() for r in runners if r.name == match.group("name")]
        if not found:
            message = f"Firehose {match.group('name')} is not a Kinesis-sourced delivery stream localaws serves"
            body = {"__type": "ResourceNotFoundException", "message": message}
            return Response(json.dumps(body), status=404, content_type="application/json")
        return Response(json.dumps(found[0]), content_type="application/json")

    @staticmethod
    def _stream(request: Request) -> Any:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return None
        name = body.get("DeliveryStreamName") if isinstance(body, dict) else None
        if not isinstance(name, str):
            return None
        try:
            backend = firehose_backends[account_of(request)][region_of(request)]
        except Exception:
            return None
        return backend.delivery_streams.get(name)
