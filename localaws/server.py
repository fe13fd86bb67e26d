"""LocalAWS: moto's server plus localaws's extensions, on one loopback endpoint."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from localaws.lambda_runtime import LambdaRuntime
from localaws.seam import Extension, Seam

log = logging.getLogger("localaws")
http_log = logging.getLogger("localaws.http")


class _RequestHandler(MotoRequestHandler):
    """moto's request handler, with the access log at DEBUG instead of on stderr for every call."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        http_log.debug('"%s" %s %s', self.requestline, code, size)


def default_extensions() -> list[Extension]:
    return [LambdaRuntime()]


class LocalAWS:
    """Serve the AWS APIs on ``http://host:port``; ``port=0`` picks a free port.

    >>> with LocalAWS(port=0) as aws:
    ...     boto3.client("s3", endpoint_url=aws.endpoint_url)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        self.host = host
        self.requested_port = port
        self.extensions = default_extensions()
        self.seam = Seam(self.extensions)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalAWS is not running")
        return int(self._server.server_port)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalAWS:
        if self._server is not None:
            raise RuntimeError("LocalAWS is already running")
        for extension in self.extensions:
            extension.start()
        self._server = make_server(
            self.host, self.requested_port, self.seam, threaded=True, request_handler=_RequestHandler
        )
        # daemon_threads: a client that keeps a connection open must not hold up shutdown.
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="localaws-http", daemon=True)
        self._thread.start()
        log.info("localaws serving on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        """Stop accepting requests, then stop every extension's workers; idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        for extension in reversed(self.extensions):
            extension.stop()
        self._server = self._thread = None
        log.info("localaws stopped")

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
