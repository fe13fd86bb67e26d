"""Lambda Invoke, run in-process: moto stores functions but can only run them in Docker.

Implements ``POST /2015-03-31/functions/{FunctionName}/invocations`` as the Lambda API reference
(Invoke) describes it: invocation types RequestResponse (200), Event (202, run by a background
worker) and DryRun (204); ``X-Amz-Function-Error: Unhandled`` with the Python runtime's error
document when the handler raises; ``X-Amz-Log-Result`` (the last 4 KB of output) with
``LogType=Tail``; ``X-Amz-Executed-Version``; the 6 MB request and response limits.

The stored zip is unpacked once per CodeSha256 and its handler module stays loaded between
invocations, as in a warm Lambda execution environment. Known differences from AWS are listed in
localaws/README.md (one invocation at a time, timeouts reported but not pre-empted, Python only).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, lambda_backends
from werkzeug.wrappers import Request, Response

from localaws.awsrequest import account_of, region_of, rest_json_error, signed_for

log = logging.getLogger("localaws.lambda")

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# Lambda quotas: synchronous request and response payloads (the response limit as Lambda reports it).
MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_SYNC_RESPONSE_BYTES = 6_291_556
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024
LOG_TAIL_BYTES = 4096


class HandlerError(Exception):
    """A failure the Lambda runtime reports as an Unhandled function error."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.document = {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


class LambdaContext:
    """The context object the Python runtime passes as the handler's second argument."""

    def __init__(self, fn: LambdaFunction, request_id: str, invoked_arn: str, client_context: Any) -> None:
        self.function_name: str = fn.function_name
        self.function_version: str = str(fn.version)
        self.invoked_function_arn = invoked_arn
        self.memory_limit_in_mb = int(fn.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[{self.function_version}]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = client_context
        self._deadline = time.monotonic() + float(fn.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaRuntime:
    name = "lambda"
    actions = {"lambda": ["Invoke"]}

    def __init__(self) -> None:
        self._code_root = Path(tempfile.mkdtemp(prefix="localaws-lambda-"))
        self._modules: dict[tuple[str, str], ModuleType] = {}
        # os.environ, sys.path and sys.stdout are process-wide: one invocation at a time keeps
        # each handler's environment its own.
        self._invoke_lock = threading.RLock()
        self._async_worker: ThreadPoolExecutor | None = None
        self._pending: set[Future[Any]] = set()

    # -- extension protocol -------------------------------------------------------------------
    def start(self) -> None:
        self._async_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localaws-lambda-async")

    def stop(self) -> None:
        if self._async_worker is not None:
            self._async_worker.shutdown(wait=True, cancel_futures=False)
            self._async_worker = None
        shutil.rmtree(self._code_root, ignore_errors=True)

    def route(self, request: Request) -> Callable[[Request], Response] | None:
        if request.method == "POST" and _INVOKE_PATH.match(request.path) and signed_for(request, "lambda"):
            return self.invoke
        return None

    # -- Invoke -----------------------------------------------------------------------------------
    def invoke(self, request: Request) -> Response:
        match = _INVOKE_PATH.match(request.path)
        assert match is not None
        name = unquote(match.group("name"))
        qualifier = request.args.get("Qualifier")
        backend = lambda_backends[account_of(request)][region_of(request)]
        try:
            fn = backend.get_function(name, qualifier)
        except LambdaClientError as err:
            return rest_json_error(err.code, err.error_type, err.message)

        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return rest_json_error(
                400, "InvalidParameterValueException", f"Unsupported invocation type: {invocation_type}"
            )
        payload = request.get_data()
        limit = MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else MAX_SYNC_REQUEST_BYTES
        if len(payload) > limit:
            return rest_json_error(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        try:
            event = json.loads(payload) if payload.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return rest_json_error(
                400, "InvalidRequestContentException", f"Could not parse request body into json: {err}"
            )
        if not str(fn.run_time or "").startswith("python"):
            return rest_json_error(
                502,
                "InvalidRuntimeException",
                f"localaws runs Python functions only; {fn.function_name} uses {fn.run_time}",
                error_type="Service",
            )
        version_headers = {"X-Amz-Executed-Version": str(fn.version)}
        if invocation_type == "DryRun":
            return Response(status=204, headers=version_headers)

        client_context = _decode_client_context(request.headers.get("X-Amz-Client-Context"))
        invoked_arn = fn.function_arn if qualifier is None else f"{fn.function_arn}:{qualifier}"
        if invocation_type == "Event":
            assert self._async_worker is not None, "LambdaRuntime.start() was not called"
            future = self._async_worker.submit(self.run, fn, event, invoked_arn, client_context)
            self._pending.add(future)
            future.add_done_callback(self._pending.discard)
            return Response(status=202, headers=version_headers)

        status_headers, body = self.run(fn, event, invoked_arn, client_context)
        headers = {**version_headers, **status_headers}
        if request.headers.get("X-Amz-Log-Type") != "Tail":
            headers.pop("X-Amz-Log-Result", None)
        return Response(body, status=200, content_type="application/json", headers=headers)

    def run(
        self, fn: LambdaFunction, event: Any, invoked_arn: str, client_context: Any = None
    ) -> tuple[dict[str, str], bytes]:
        """Run the handler once; return (response headers, response payload) as Invoke sends them."""
        request_id = str(uuid.uuid4())
        context = LambdaContext(fn, request_id, invoked_arn, client_context)
        headers: dict[str, str] = {}
        output = io.StringIO()
        started = time.monotonic()
        with self._invoke_lock, self._function_environment(fn, context), contextlib.redirect_stdout(output):
            try:
                with contextlib.redirect_stderr(output):
                    result = self._handler(fn)(event, context)
                body = _marshal(result)
            except HandlerError as err:
                headers["X-Amz-Function-Error"] = "Unhandled"
                body = json.dumps({**err.document, "requestId": request_id}).encode()
            except Exception as err:  # the handler's own failure is the function's result, not ours
                headers["X-Amz-Function-Error"] = "Unhandled"
                stack = traceback.format_list(traceback.extract_tb(err.__traceback__)[1:])
                document = {
                    "errorMessage": str(err),
                    "errorType": type(err).__name__,
                    "requestId": request_id,
                    "stackTrace": stack,
                }
                print(f"[ERROR] {type(err).__name__}: {err}")
                body = json.dumps(document).encode()
        elapsed = time.monotonic() - started
        if elapsed > float(fn.timeout):
            # The handler cannot be pre-empted in-process; report the timeout as Lambda would.
            headers["X-Amz-Function-Error"] = "Unhandled"
            message = f"RequestId: {request_id} Error: Task timed out after {float(fn.timeout):.2f} seconds"
            body = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"}).encode()
        elif len(body) > MAX_SYNC_RESPONSE_BYTES:
            headers["X-Amz-Function-Error"] = "Unhandled"
            message = f"Response payload size exceeded maximum allowed payload size ({MAX_SYNC_RESPONSE_BYTES} bytes)."
            body = json.dumps({"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}).encode()
        printed = output.getvalue()
        for line in printed.splitlines():  # what CloudWatch Logs would show, in the server log
            log.info("[%s] %s", fn.function_name, line)
        tail = printed.encode()[-LOG_TAIL_BYTES:]
        headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
        return headers, body

    # -- code loading -----------------------------------------------------------------------------
    def _code_dir(self, fn: LambdaFunction) -> Path:
        target = self._code_root / fn.code_sha_256.replace("/", "_").replace("+", "-")
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=self._code_root))
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        return target

    def _handler(self, fn: LambdaFunction) -> Callable[[Any, LambdaContext], Any]:
        module_path, _, attribute = str(fn.handler).rpartition(".")
        if not module_path or not attribute:
            raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{fn.handler}': not enough values")
        key = (fn.code_sha_256, module_path)
        module = self._modules.get(key)
        if module is None:
            module = self._load_module(self._code_dir(fn), module_path)
            self._modules[key] = module
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise HandlerError("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_path}'")
        return handler

    @staticmethod
    def _load_module(code_dir: Path, module_path: str) -> ModuleType:
        relative = Path(*module_path.split("."))
        source = code_dir / relative.with_suffix(".py")
        if not source.is_file():
            source = code_dir / relative / "__init__.py"
        if not source.is_file():
            raise HandlerError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_path}': No module named '{module_path}'"
            )
        # A private module name: two functions may both ship a module called "app".
        unique_name = f"_localaws_fn_{code_dir.name[:16]}_{module_path.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(unique_name, source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            raise HandlerError("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {err}") from err
        return module

    @contextlib.contextmanager
    def _function_environment(self, fn: LambdaFunction, context: LambdaContext) -> Iterator[None]:
        """The environment variables and import path the Lambda runtime gives a handler."""
        code_dir = str(self._code_dir(fn))
        region = fn.region
        variables = {
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(context.memory_limit_in_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": code_dir,
            "_HANDLER": str(fn.handler),
            **{str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
        }
        saved = {key: os.environ.get(key) for key in variables}
        os.environ.update(variables)
        sys.path.insert(0, code_dir)
        try:
            yield
        finally:
            sys.path.remove(code_dir)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _marshal(result: Any) -> bytes:
    try:
        return json.dumps(result).encode()
    except (TypeError, ValueError) as err:
        raise HandlerError("Runtime.MarshalError", f"Unable to marshal response: {err}") from err


def _decode_client_context(header: str | None) -> Any:
    if not header:
        return None
    try:
        return json.loads(base64.b64decode(header))
    except (ValueError, json.JSONDecodeError):
        return None
