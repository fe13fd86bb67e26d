"""The one seam between clients and moto: a WSGI app that routes the few actions localaws
implements to its extensions and passes every other request to moto's server unchanged.

An extension claims a request by looking only at the method, path and headers, so the body
stream of a request it does not claim reaches moto untouched.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, Protocol

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Request, Response

HEALTH_PATH = "/_localaws/health"

# What moto serves for this project unchanged (DESIGN.md, "What moto gives and what localaws adds").
MOTO_SERVICES = (
    "s3", "sqs", "dynamodb", "dynamodbstreams", "kinesis", "iam", "sts", "kms",
    "lambda", "pipes", "firehose", "glue", "athena", "logs", "cloudwatch",
)  # fmt: skip

# A handler may return None after reading the request: it declines, and moto answers the same bytes.
RequestHandler = Callable[[Request], Response | None]

# The WSGI environ of the request being served, for code that moto calls back into while it handles
# the request (werkzeug serves each connection on its own thread, so each thread sees its own value).
_current_environ: ContextVar[dict[str, Any] | None] = ContextVar("localaws_current_environ", default=None)


def current_environ() -> dict[str, Any] | None:
    """The WSGI environ of the request this thread is serving, or None outside a localaws request."""
    return _current_environ.get()


def came_over_tls(environ: dict[str, Any]) -> bool:
    """Whether the request arrived on the TLS listener (what IAM calls aws:SecureTransport)."""
    return environ.get("wsgi.url_scheme") == "https"


class Extension(Protocol):
    """A localaws service extension: owns its state and its background workers."""

    name: str
    #: the actions it implements on top of moto, e.g. ``{"lambda": ["Invoke"]}``
    actions: dict[str, list[str]]

    def route(self, request: Request) -> RequestHandler | None:
        """The handler for a request this extension implements, or None to leave it to moto."""

    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop every worker; return only when none is left running."""


class Seam:
    def __init__(self, extensions: Iterable[Extension]) -> None:
        self.extensions = list(extensions)
        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def health(self) -> dict[str, Any]:
        services: dict[str, dict[str, Any]] = {name: {"provider": "moto"} for name in MOTO_SERVICES}
        for extension in self.extensions:
            for service, actions in extension.actions.items():
                entry = services.setdefault(service, {"provider": "moto"})
                entry["provider"] = "moto+localaws"
                entry.setdefault("localaws_actions", []).extend(actions)
        return {"status": "running", "services": services}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        token = _current_environ.set(environ)
        try:
            return self._dispatch(environ, start_response)
        finally:
            _current_environ.reset(token)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # Request(...) is lazy: building it reads no body, so moto still gets the whole stream.
        request = Request(environ, shallow=True)
        if request.path == HEALTH_PATH and request.method == "GET":
            response = Response(json.dumps(self.health()), content_type="application/json")
            return response(environ, start_response)
        for extension in self.extensions:
            handler = extension.route(request)
            if handler is not None:
                request = Request(environ)  # the extension reads the body
                answer = handler(request)
                if answer is not None:
                    return answer(environ, start_response)
                # Declined after a look at the body (e.g. Firehose PutRecord on a Direct PUT stream):
                # moto gets the very bytes the client sent.
                body = request.get_data()
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
                break
        return self.moto_app(environ, start_response)
