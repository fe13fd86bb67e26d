"""``python -m localaws serve [--host 127.0.0.1] [--port 4566] [--tls-port 4567] [--redelivery-fraction 0.3]``:
serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from localaws.server import LocalAWS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the AWS APIs until SIGINT or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=4566, help="port to listen on, 0 for any free one (default 4566)")
    serve.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="HTTPS port, 0 for any free one (default: --port + 1, i.e. 4567; a free one when --port is 0)",
    )
    serve.add_argument("--no-tls", action="store_true", help="serve plain HTTP only")
    serve.add_argument(
        "--tls-name",
        action="append",
        default=[],
        metavar="NAME",
        help="extra host name or address for the HTTPS certificate, e.g. a compose service name (repeatable)",
    )
    serve.add_argument(
        "--tls-dir", default=None, help="directory for the certificate files (default: a private temporary one)"
    )
    serve.add_argument(
        "--redelivery-fraction",
        type=float,
        default=None,
        metavar="F",
        help="re-deliver this fraction (0..1) of pipe batches and Firehose objects, as AWS's at-least-once "
        "delivery may (default: $LOCALAWS_REDELIVERY_FRACTION, else 0 = off)",
    )
    serve.add_argument(
        "--redelivery-seed", type=int, default=None, metavar="N", help="seed for repeatable re-deliveries"
    )
    args = parser.parse_args(argv)
    if args.redelivery_fraction is not None and not 0.0 <= args.redelivery_fraction <= 1.0:
        parser.error("--redelivery-fraction must be from 0 to 1")

    tls_port: int | None
    if args.no_tls:
        tls_port = None
    elif args.tls_port is not None:
        tls_port = args.tls_port
    else:
        tls_port = args.port + 1 if args.port else 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("localaws").info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    aws = LocalAWS(
        host=args.host,
        port=args.port,
        tls_port=tls_port,
        tls_names=args.tls_name,
        tls_dir=args.tls_dir,
        redelivery_fraction=args.redelivery_fraction,
        redelivery_seed=args.redelivery_seed,
    )
    with aws:
        print(f"localaws ready at {aws.endpoint_url} (health: {aws.endpoint_url}/_localaws/health)", flush=True)
        if tls_port is not None:
            print(f"localaws TLS at {aws.tls_endpoint_url} (CA bundle: {aws.ca_bundle})", flush=True)
        stop_requested.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
