"""localaws as a user sees it: the health endpoint, moto behind the seam, Lambda Invoke in-process."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS

REPO = Path(__file__).resolve().parents[2]

HANDLER_SOURCE = """
import os
CALLS = 0

def handler(event, context):
    global CALLS
    CALLS += 1
    print("invoked", context.function_name, context.aws_request_id)
    if "boom" in event:
        raise ValueError("bad order: " + event["boom"])
    if "unserialisable" in event:
        return {1, 2}
    if "big" in event:
        return "x" * event["big"]
    return {
        "echo": event,
        "calls": CALLS,
        "colour": os.environ["COLOUR"],
        "memory": context.memory_limit_in_mb,
        "remaining_ms_positive": context.get_remaining_time_in_millis() > 0,
        "arn": context.invoked_function_arn,
    }
"""


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lambda_client(aws_client: Callable[[str], Any]) -> Any:
    iam = aws_client("iam")
    role = iam.create_role(RoleName="localaws-test-fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
    client = aws_client("lambda")
    client.create_function(
        FunctionName="echo",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER_SOURCE})},
        Environment={"Variables": {"COLOUR": "teal"}},
        MemorySize=256,
    )
    return client


def invoke(client: Any, payload: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName="echo", Payload=json.dumps(payload), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def test_health_names_the_services(localaws: LocalAWS) -> None:
    with urllib.request.urlopen(f"{localaws.endpoint_url}/_localaws/health") as reply:
        assert reply.status == 200
        health = json.load(reply)
    assert health["status"] == "running"
    for service in ("s3", "dynamodb", "dynamodbstreams", "kinesis", "pipes", "firehose", "glue", "athena"):
        assert service in health["services"]
    assert health["services"]["lambda"] == {"provider": "moto+localaws", "localaws_actions": ["Invoke"]}


def test_moto_serves_everything_else(aws_client: Callable[[str], Any]) -> None:
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="seam-passthrough")
    s3.put_object(Bucket="seam-passthrough", Key="a/b.json", Body=b'{"x": 1}\n')
    assert s3.get_object(Bucket="seam-passthrough", Key="a/b.json")["Body"].read() == b'{"x": 1}\n'


def test_invoke_returns_the_handler_result(lambda_client: Any) -> None:
    response, body = invoke(lambda_client, {"orderid": "o-1"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert body["echo"] == {"orderid": "o-1"}
    assert body["colour"] == "teal"  # the function's environment variables
    assert body["memory"] == 256
    assert body["remaining_ms_positive"] is True
    assert body["arn"].endswith(":function:echo")
    assert "COLOUR" not in os.environ  # and they do not leak into the host process


def test_module_state_survives_between_invocations_like_a_warm_container(lambda_client: Any) -> None:
    _, first = invoke(lambda_client, {})
    _, second = invoke(lambda_client, {})
    assert second["calls"] == first["calls"] + 1


def test_handler_exception_is_an_unhandled_function_error(lambda_client: Any) -> None:
    response, body = invoke(lambda_client, {"boom": "o-2"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad order: o-2"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["requestId"])
    assert any("app.py" in frame and "in handler" in frame for frame in body["stackTrace"])


def test_unserialisable_result_is_a_marshal_error(lambda_client: Any) -> None:
    response, body = invoke(lambda_client, {"unserialisable": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"].startswith("Unable to marshal response")


def test_response_over_6_mb_is_refused_as_lambda_does(lambda_client: Any) -> None:
    response, body = invoke(lambda_client, {"big": 6_300_000})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


def test_request_over_6_mb_is_refused(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", Payload=json.dumps({"pad": "x" * (6 * 1024 * 1024)}))
    assert caught.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_log_tail_carries_what_the_handler_printed(lambda_client: Any) -> None:
    response, _ = invoke(lambda_client, {}, LogType="Tail")
    assert "invoked echo" in base64.b64decode(response["LogResult"]).decode()
    response, _ = invoke(lambda_client, {})
    assert "LogResult" not in response


def test_event_and_dry_run_invocations(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
    assert response["StatusCode"] == 202
    response = lambda_client.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204


def test_unknown_function_and_bad_payload(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="missing", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_missing_handler_and_module(lambda_client: Any, aws_client: Callable[[str], Any]) -> None:
    role = aws_client("iam").get_role(RoleName="localaws-test-fn")["Role"]["Arn"]
    for name, handler, error_type in (
        ("no-module", "missing.handler", "Runtime.ImportModuleError"),
        ("no-handler", "app.nothing_here", "Runtime.HandlerNotFound"),
    ):
        lambda_client.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler=handler,
            Code={"ZipFile": zip_of({"app.py": "x = 1\n"})},
        )  # fmt: skip
        response = lambda_client.invoke(FunctionName=name, Payload=b"{}")
        assert response["FunctionError"] == "Unhandled"
        assert json.loads(response["Payload"].read())["errorType"] == error_type


def test_no_thread_outlives_exit() -> None:
    before = {t.ident for t in threading.enumerate()}
    with LocalAWS(port=0) as aws:
        assert aws.port > 0
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(stop_signal: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "localaws", "serve", "--port", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", ready)
        assert match, ready
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/_localaws/health") as reply:
            assert reply.status == 200
        process.send_signal(stop_signal)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    with socket.socket() as probe:  # nothing of ours is left listening on the port
        probe.bind(("127.0.0.1", int(match.group(1))))
