"""LocalAWS: moto's server plus localaws's extensions, on one loopback endpoint (HTTP and HTTPS)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import ThreadedWSGIServer

from localaws import tls
from localaws.athena import Athena
from localaws.faults import Faults, FaultSwitch
from localaws.firehose import Firehose
from localaws.glue_catalog import GlueCatalog
from localaws.glue_crawler import GlueCrawler
from localaws.lambda_runtime import LambdaRuntime
from localaws.pipes import Pipes
from localaws.s3_policy import S3BucketPolicies
from localaws.seam import Extension, Seam

log = logging.getLogger("localaws")
http_log = logging.getLogger("localaws.http")


class _RequestHandler(MotoRequestHandler):
    """moto's request handler, with the access log at DEBUG instead of on stderr for every call."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        http_log.debug('"%s" %s %s', self.requestline, code, size)


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, which also ends the connections it serves when it stops.

    A client keeps idle keep-alive connections open (boto3 pools them), and each one holds a handler
    thread; closing them on stop is what lets no thread outlive LocalAWS.
    """

    daemon_threads = True  # a handler that does not end when asked must not hold the process up either
    CONNECTION_JOIN_SECONDS = 5.0
    name = "localaws-http"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name=f"{self.name}-conn", daemon=True
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def close_connections(self) -> None:
        with self._connections_lock:
            open_connections = list(self._connections.items())
        for connection, _ in open_connections:
            # The plain-socket shutdown, also for TLS: the handler blocked in a read sees end of file.
            with contextlib.suppress(OSError):  # already closed by the client
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
        for _, thread in open_connections:
            thread.join(self.CONNECTION_JOIN_SECONDS)


def default_extensions(faults: Faults | None = None) -> list[Extension]:
    # S3BucketPolicies first: it must see every S3 request before anything else answers it.
    # The data-plane workers share one fault switch; Firehose runs its processor on LambdaRuntime, which
    # stop() reaches after Firehose (extensions stop in reverse order).
    faults = faults or Faults()
    lambda_runtime = LambdaRuntime()
    glue_catalog = GlueCatalog()  # GlueCrawler runs crawls with its classifiers and metrics
    return [
        S3BucketPolicies(),
        lambda_runtime,
        Pipes(faults),
        Firehose(lambda_runtime, faults),
        glue_catalog,
        GlueCrawler(glue_catalog),
        Athena(),
        FaultSwitch(faults),
    ]


class LocalAWS:
    """Serve the AWS APIs on ``http://host:port`` and ``https://host:tls_port``; a port of 0 picks a free one.

    Both listeners serve the same APIs and state; only IAM's ``aws:SecureTransport`` differs (true on
    the HTTPS one), so a TLS-only bucket policy behaves as on AWS. ``tls_port=None`` turns HTTPS off.
    The HTTPS certificate is signed by a CA generated at start; clients verify it with ``ca_bundle``.
    ``tls_names`` adds host names or addresses to the certificate (e.g. a docker-compose service
    name); ``tls_dir`` puts the certificate files in a directory of your choice instead of a private
    temporary one (stop() removes the files either way).
    ``redelivery_fraction`` (0..1) re-delivers that fraction of pipe batches and Firehose objects, as
    AWS's at-least-once delivery may (default: ``LOCALAWS_REDELIVERY_FRACTION``, else 0 = off);
    ``redelivery_seed`` makes the choice repeatable. ``POST /_localaws/faults`` changes both at run time.

    >>> with LocalAWS(port=0) as aws:
    ...     boto3.client("s3", endpoint_url=aws.tls_endpoint_url, verify=aws.ca_bundle)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        tls_port: int | None = 0,
        tls_names: Sequence[str] = (),
        tls_dir: str | os.PathLike[str] | None = None,
        redelivery_fraction: float | None = None,
        redelivery_seed: int | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.requested_tls_port = tls_port
        self.tls_names = [*tls_names, *([] if host in ("0.0.0.0", "::", "") else [host])]
        self.tls_dir = tls_dir
        self.faults = Faults.from_environment(redelivery_fraction, redelivery_seed)
        self.extensions = default_extensions(self.faults)
        self.seam = Seam(self.extensions)
        self._server: _Server | None = None
        self._tls_server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._tls: tls.TLSMaterial | None = None
        self._started: list[Extension] = []

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalAWS is not running")
        return int(self._server.server_port)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def tls_port(self) -> int:
        if self._tls_server is None:
            raise RuntimeError("LocalAWS is not serving HTTPS" if self._server else "LocalAWS is not running")
        return int(self._tls_server.server_port)

    @property
    def tls_endpoint_url(self) -> str:
        return f"https://{self._url_host}:{self.tls_port}"

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM file of the CA that signed the HTTPS certificate (boto3's ``verify=``)."""
        if self._tls is None:
            raise RuntimeError("LocalAWS is not serving HTTPS" if self._server else "LocalAWS is not running")
        return str(self._tls.ca_bundle)

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def start(self) -> LocalAWS:
        if self._server is not None:
            raise RuntimeError("LocalAWS is already running")
        try:
            for extension in self.extensions:
                extension.start()
                self._started.append(extension)
            self._server = self._serve(self.requested_port, "localaws-http")
            if self.requested_tls_port is not None:
                self._tls = tls.generate(self.tls_names, self.tls_dir)
                self._tls_server = self._serve(self.requested_tls_port, "localaws-https", self._tls)
        except BaseException:
            self.stop()  # e.g. the TLS port is taken: leave nothing half-started behind
            raise
        log.info("localaws serving on %s", self.endpoint_url)
        if self._tls_server is not None:
            log.info("localaws serving on %s (CA bundle %s)", self.tls_endpoint_url, self.ca_bundle)
        return self

    def _serve(self, port: int, name: str, material: tls.TLSMaterial | None = None) -> _Server:
        server = _Server(self.host, port, self.seam, _RequestHandler)
        server.name = name
        if material is not None:
            try:
                context = material.server_context()
                # The handshake happens on the connection's own thread at its first read, not in the
                # accept loop, so a client that connects and never speaks cannot stall the listener.
                server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
            except BaseException:
                server.server_close()
                raise
            server.ssl_context = context  # werkzeug: wsgi.url_scheme "https", SSL errors logged not raised
        thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return server

    def stop(self) -> None:
        """Stop accepting requests, then stop every extension's workers; idempotent."""
        for server in (self._server, self._tls_server):
            if server is not None:
                server.shutdown()
                server.server_close()
                server.close_connections()
        for thread in self._threads:
            thread.join()
        for extension in reversed(self._started):
            extension.stop()
        if self._tls is not None:
            self._tls.remove()
        was_running = self._server is not None
        self._server = self._tls_server = self._tls = None
        self._threads, self._started = [], []
        if was_running:
            log.info("localaws stopped")

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
